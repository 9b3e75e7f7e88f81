"""Run the benchmark suite: ``python -m bench.run [--smoke] [--sizes 10k,100k] [--only FIGURES|WORKLOADS] [--e292f98]``.

Figures (each measured against a reference taken in the same run, interleaved, median and spread), for issue 13's
targets:

1. library end-to-end, per workload (every report of every integration, bench/workloads.py): ``unimeter.alist_usage``
   vs the hand-written client (bench/baselines.py, no validation), each in its own process: CPU, wall and peak RSS
   ratios; plus an information row per workload, the client with the engine's row validation vs the client alone
2. (1b) ``unimeter usage`` as a whole process printing compact JSON to /dev/null vs the hand-written client as a
   script printing the same rows: CPU (user + system) and peak RSS ratios, from ``os.wait4``
3. (2) service rows/s through HTTP (uvicorn child), ``unified`` (limit=1000, following next_cursor) and ``stream``:
   wall and CPU (of the service process) as ratios to the hand-written client on the same workload
4. (3) peak RSS of the service process while it streams 100k and 1M Cursor rows in equal vendor pages
5. (4) added latency of the service over the library call, one-page request, p50 and p99
6. (5) start-up: loading and compiling all mappings in a fresh process
7. (6) a year of Cursor data in 30-day windows against a sandbox with added latency: concurrent vs sequential
8. (7) load: 50 and 200 concurrent clients, one-page requests and whole streams: throughput, p50/p99, peak RSS, and
   whether the peak grows with the results (bench/load.py)
9. (8, opt-in: ``--e292f98`` or ``--only e292f98``) one-page requests/s with 50 concurrent clients against commit
   e292f98's service, installed from a worktree into a venv of its own (bench/previous.py)

Prints a table and writes bench/RESULTS.md (with machine, date, command and method). No figure is asserted on:
targets are reported as met or not. ``--smoke`` runs tiny sizes and one repetition, for CI: every figure but 8, and
figure 1b also checks that both processes printed the same result.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

import unimeter
from unimeter.api.limits import MAX_ROWS_ENV
from unimeter.sandbox import SandboxConfig
from unimeter.spec import available_integrations, load_integration

from .baselines import BASELINES
from .load import figure_load
from .previous import figure_previous
from .processes import (
    cpu_seconds,
    env_with_mappings,
    handwritten_command,
    measured,
    side,
    unimeter_usage_command,
    unpaced_mappings,
)
from .sandbox_process import SandboxProcess
from .service_process import ServiceProcess
from .workloads import NOW, WORKLOADS, Workload, make_workload

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
USAGE_PATH = "/unified/usage-metering/usage"
FIGURES = ("library", "cli", "service", "rss", "latency", "startup", "windows", "load")
OPT_IN = ("e292f98",)
"""Figures run only when asked for (``--only e292f98`` or ``--e292f98``)."""


@dataclass
class Report:
    """Lines of the results table, grouped by figure, plus notes."""

    sections: dict[str, list[list[str]]] = field(default_factory=dict)
    headers: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, figure: str, header: list[str], row: list[Any]) -> None:
        self.headers.setdefault(figure, header)
        self.sections.setdefault(figure, []).append([str(cell) for cell in row])
        print("  " + " | ".join(str(cell) for cell in row), flush=True)

    def markdown(self) -> str:
        out = []
        for figure, rows in self.sections.items():
            header = self.headers[figure]
            out += [f"### {figure}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            out += ["| " + " | ".join(row) + " |" for row in rows]
            out.append("")
        if self.notes:
            out += ["### notes", ""] + [f"- {note}" for note in self.notes] + [""]
        return "\n".join(out)


def _size(text: str) -> int:
    text = text.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if scale > 1 else text) * scale)


def _label(size: int) -> str:
    return f"{size // 1_000_000}M" if size >= 1_000_000 else f"{size // 1000}k" if size >= 1000 else str(size)


def _spread(values: list[float], digits: int = 2) -> str:
    """``median [min-max]``."""
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.median(values):.{digits}f} [{min(values):.{digits}f}-{max(values):.{digits}f}]"


def _timed(call: Callable[[], int]) -> tuple[float, float, int]:
    wall, cpu = time.perf_counter(), time.process_time()
    rows = call()
    return time.perf_counter() - wall, time.process_time() - cpu, rows


def _engine_call(workload: Workload, endpoint: dict[str, Any]) -> int:
    async def run() -> int:
        count = 0
        for params in workload.calls:
            count += len(
                (await unimeter.alist_usage(workload.integration, params=params, **workload.engine_options(endpoint)))[
                    "result"
                ]
            )
        return count

    return asyncio.run(run())


def _baseline_call(workload: Workload, endpoint: dict[str, Any]) -> int:
    client = BASELINES[workload.integration]
    return sum(len(client(endpoint, params, NOW)) for params in workload.calls)


# ------------------------------------------------------------------------------------------------ figure 1


def _ratios(engine: list[dict[str, Any]], base: list[dict[str, Any]], key: str) -> list[float]:
    return [e[key] / b[key] for e, b in zip(engine, base, strict=True)]


def _met(values: list[float], limit: float) -> str:
    return "yes" if statistics.median(values) <= limit else "no"


def figure_library(
    report: Report, workloads: list[str], sizes: list[int], reps: int, profiles: Path | None = None
) -> None:
    print("1. library end-to-end (engine vs hand-written client, each in its own process)", flush=True)
    header = [
        "workload",
        "rows",
        "shape",
        "engine rows/s",
        "baseline rows/s",
        "wall ratio",
        "CPU ratio",
        "peak RSS MB engine / baseline",
        "RSS ratio",
        "target CPU and RSS <=1.5x",
    ]
    for size in sizes:
        for name in workloads:
            workload = make_workload(name, size)
            runs: dict[str, list[dict[str, Any]]] = {"engine": [], "baseline": [], "validated": []}
            with SandboxProcess([workload.integration], workload.config) as sandbox:
                endpoint = sandbox.endpoint(workload.integration)
                for _ in range(reps):  # interleaved: A B C A B C ...
                    for mode, results in runs.items():
                        results.append(side(mode, workload, endpoint))
                if profiles is not None:  # one more engine run, under cProfile, not timed
                    profiles.mkdir(parents=True, exist_ok=True)
                    side("engine", workload, endpoint, profile=str(profiles / f"{name}-{_label(size)}"))
            rows = runs["engine"][0]["rows"]
            for mode, results in runs.items():
                if any(r["rows"] != rows for r in results):
                    raise RuntimeError(f"{name}: the engine made {rows} rows, {mode} {[r['rows'] for r in results]}")
            cpus = _ratios(runs["engine"], runs["baseline"], "cpu")
            rss = _ratios(runs["engine"], runs["baseline"], "peak_rss_mb")
            report.add(
                "1. library end-to-end",
                header,
                [
                    name,
                    rows,
                    workload.shape,
                    f"{statistics.median(rows / r['wall'] for r in runs['engine']):,.0f}",
                    f"{statistics.median(rows / r['wall'] for r in runs['baseline']):,.0f}",
                    _spread(_ratios(runs["engine"], runs["baseline"], "wall")),
                    _spread(cpus),
                    f"{statistics.median(r['peak_rss_mb'] for r in runs['engine']):.0f} / "
                    f"{statistics.median(r['peak_rss_mb'] for r in runs['baseline']):.0f}",
                    _spread(rss),
                    "yes" if _met(cpus, 1.5) == _met(rss, 1.5) == "yes" else "no",
                ],
            )
            validated_cpu = _ratios(runs["validated"], runs["baseline"], "cpu")
            report.add(
                "1. library end-to-end",
                header,
                [
                    f"{name}: baseline + validation (information)",
                    rows,
                    "the client + validate_row on every row, vs the client",
                    f"{statistics.median(rows / r['wall'] for r in runs['validated']):,.0f}",
                    f"{statistics.median(rows / r['wall'] for r in runs['baseline']):,.0f}",
                    _spread(_ratios(runs["validated"], runs["baseline"], "wall")),
                    _spread(validated_cpu),
                    f"{statistics.median(r['peak_rss_mb'] for r in runs['validated']):.0f} / "
                    f"{statistics.median(r['peak_rss_mb'] for r in runs['baseline']):.0f}",
                    _spread(_ratios(runs["validated"], runs["baseline"], "peak_rss_mb")),
                    "n/a",
                ],
            )


# ------------------------------------------------------------------------------------------------ figure 1b


def _same_output(cli_file: Path, client_file: Path, name: str) -> None:
    """Smoke check: both processes printed the same rows (parsed: number formatting may differ)."""
    cli = json.loads(cli_file.read_text(encoding="utf-8"))
    client = json.loads(client_file.read_text(encoding="utf-8"))
    if cli != client:
        raise RuntimeError(f"{name}: unimeter usage and the hand-written script printed different results")


def figure_cli(report: Report, workloads: list[str], sizes: list[int], reps: int, scratch: Path, check: bool) -> None:
    print("1b. unimeter usage > /dev/null vs a hand-written script printing the same rows (whole processes)")
    header = [
        "workload",
        "rows",
        "unimeter usage s",
        "script s",
        "CPU ratio",
        "peak RSS MB unimeter / script",
        "RSS ratio",
        "target CPU and RSS <=1.5x",
    ]
    # Unified output of a whole result past 50,000 rows needs a higher UNIMETER_MAX_RESPONSE_ROWS (else the command
    # points to --format stream), as a user asking for it would set.
    env = {**env_with_mappings(unpaced_mappings(scratch / "unpaced")), MAX_ROWS_ENV: "10000000"}
    for size in sizes:
        for name in workloads:
            workload = make_workload(name, size)
            if len(workload.calls) != 1:
                raise RuntimeError(f"{name}: the unimeter usage figure runs one query per workload")
            cli_out = str(scratch / "cli.json") if check else os.devnull
            client_out = str(scratch / "client.json") if check else os.devnull
            cli: list[dict[str, Any]] = []
            client: list[dict[str, Any]] = []
            with SandboxProcess([workload.integration], workload.config) as sandbox:
                endpoint = sandbox.endpoint(workload.integration)
                command = unimeter_usage_command(workload, endpoint, workload.calls[0])
                script = handwritten_command(workload, endpoint)
                for _ in range(reps):  # interleaved: A B A B ...
                    cli.append(measured(command, cli_out, env))
                    client.append(measured(script, client_out))
            if check:
                _same_output(Path(cli_out), Path(client_out), name)
            cpus = _ratios(cli, client, "cpu")
            rss = _ratios(cli, client, "peak_rss_mb")
            report.add(
                "1b. unimeter usage",
                header,
                [
                    name,
                    f"~{_label(size)}",
                    _spread([r["wall"] for r in cli]),
                    _spread([r["wall"] for r in client]),
                    _spread(cpus),
                    f"{statistics.median(r['peak_rss_mb'] for r in cli):.0f} / "
                    f"{statistics.median(r['peak_rss_mb'] for r in client):.0f}",
                    _spread(rss),
                    "yes" if _met(cpus, 1.5) == _met(rss, 1.5) == "yes" else "no",
                ],
            )


# ------------------------------------------------------------------------------------------------ figure 2 and 3


def _get(client: httpx.Client, service: ServiceProcess, params: dict[str, str]) -> httpx.Response:
    response = client.get(
        USAGE_PATH,
        params={"integrated_account_id": service.account_id, **params},
        headers={"authorization": f"Bearer {service.token}"},
    )
    response.raise_for_status()
    return response


def _service_unified(service: ServiceProcess, workload: Workload) -> int:
    rows = 0
    with httpx.Client(base_url=service.url, timeout=600) as client:
        for params in workload.calls:
            cursor: str | None = None
            while True:
                query = {**params, "limit": "1000", **({"next_cursor": cursor} if cursor else {})}
                body = _get(client, service, query).json()
                rows += len(body["result"])
                cursor = body["next_cursor"]
                if not cursor:
                    break
    return rows


def _service_stream(service: ServiceProcess, workload: Workload) -> int:
    rows = 0
    with httpx.Client(base_url=service.url, timeout=600) as client:
        for params in workload.calls:
            query = {"integrated_account_id": service.account_id, **params, "truto_response_format": "stream"}
            with client.stream(
                "GET", USAGE_PATH, params=query, headers={"authorization": f"Bearer {service.token}"}
            ) as response:
                response.raise_for_status()
                for line in response.iter_lines():
                    if line:
                        if line.startswith('{"error"'):
                            raise RuntimeError(f"stream failed: {line[:300]}")
                        if not line.startswith('{"end"'):
                            rows += 1
    return rows


def figure_service(report: Report, workloads: list[str], sizes: list[int], reps: int, env: dict[str, str]) -> None:
    print("2. service through HTTP (ratios: service / hand-written client; CPU of the service process)", flush=True)
    header = [
        "workload",
        "rows",
        "format",
        "service rows/s",
        "baseline rows/s",
        "wall ratio",
        "CPU ratio",
        "target (stream) CPU <=1.3x",
    ]
    for size in sizes:
        for name in workloads:
            workload = make_workload(name, size)
            integration = workload.integration
            with SandboxProcess([integration], workload.config) as sandbox:
                endpoint = sandbox.endpoint(integration)
                with ServiceProcess(integration, endpoint, NOW.isoformat(), env=env) as service:
                    for fmt, call in (("unified", _service_unified), ("stream", _service_stream)):
                        ratios, cpus, rates, base_rates, rows = [], [], [], [], 0
                        # unified re-reads the vendor page holding each 1000-row slice: one repetition at 100k+
                        for _ in range(reps if size < 100_000 else 1):
                            before = cpu_seconds(service.pid)
                            wall, _cpu, rows = _timed(lambda c=call, s=service, w=workload: c(s, w))
                            service_cpu = cpu_seconds(service.pid) - before
                            base_wall, base_cpu, base_rows = _timed(lambda w=workload, e=endpoint: _baseline_call(w, e))
                            if base_rows != rows:
                                raise RuntimeError(f"{name} {fmt}: service gave {rows} rows, the baseline {base_rows}")
                            ratios.append(wall / base_wall)
                            cpus.append(service_cpu / base_cpu)
                            rates.append(rows / wall)
                            base_rates.append(rows / base_wall)
                        report.add(
                            "2. service through HTTP",
                            header,
                            [
                                name,
                                rows,
                                fmt,
                                f"{statistics.median(rates):,.0f}",
                                f"{statistics.median(base_rates):,.0f}",
                                _spread(ratios),
                                _spread(cpus),
                                _met(cpus, 1.3) if fmt == "stream" else "n/a",
                            ],
                        )


RSS_USERS = 1000
"""Users of the peak-RSS workload at every size: two Cursor pages of 500 users x 30 days per window whatever the
size, so the sizes differ in the number of vendor pages only (the target compares equal page sizes)."""


def figure_rss(report: Report, sizes: list[int], env: dict[str, str]) -> None:
    print("3. peak RSS of the service process while streaming (client discards rows)", flush=True)
    header = ["rows", "workload", "service idle RSS MB", "service peak RSS MB", "vs smallest size", "target"]
    first: float | None = None
    for size in sizes:
        users = min(RSS_USERS, size)
        days = max(1, size // users)
        config = SandboxConfig(seed=0, now=NOW, users=users)
        start = (NOW - timedelta(days=days)).date().isoformat()
        end = (NOW - timedelta(days=1)).date().isoformat()
        workload = Workload("cursor", size, config, [{"start_date": start, "end_date": end}])
        shape = f"{users} users x {days} days, vendor pages of {min(users, 500)} users x 30 days"
        with SandboxProcess(["cursor"], workload.config) as sandbox:
            endpoint = sandbox.endpoint("cursor")
            service = ServiceProcess("cursor", endpoint, NOW.isoformat(), env=env)
            try:
                rows = _service_stream(service, workload)
            finally:
                peak = service.stop()
        first = first if first is not None else peak
        growth = peak / first
        target = f"<150 MB: {'yes' if peak < 150 else 'no'}; <1.10x: {'yes' if growth < 1.10 else 'no'}"
        report.add(
            "3. stream peak RSS",
            header,
            [rows, shape, f"{service.idle_maxrss_mb:.0f}", f"{peak:.0f}", f"{growth:.2f}x", target],
        )


# ------------------------------------------------------------------------------------------------ figure 4


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def figure_latency(report: Report, samples: int) -> None:
    print("4. added latency of the service over the library call (one vendor page, 91 rows)", flush=True)
    # Confluent, one week of 13 line items a day: one vendor page. Not Cursor, whose 20 requests a minute the service
    # keeps per account (shared by every query), which would turn this figure into a measure of that budget.
    workload = Workload(
        "confluent",
        91,
        SandboxConfig(seed=0, now=NOW, resources=4, organizations=4),
        [{"start_date": "2026-11-19", "end_date": "2026-11-25"}],
    )
    header = ["request", "library p50 ms", "service p50 ms", "added p50 ms", "added p99 ms", "target p50 <5 ms"]
    with SandboxProcess(["confluent"], workload.config) as sandbox:
        endpoint = sandbox.endpoint("confluent")
        with (
            ServiceProcess("confluent", endpoint, NOW.isoformat()) as service,
            httpx.Client(base_url=service.url, timeout=60) as client,
        ):
            params = {**workload.calls[0], "limit": "100"}
            library, over_http = [], []
            for index in range(samples + 5):
                started = time.perf_counter()
                rows = _engine_call(workload, endpoint)
                lib = time.perf_counter() - started
                started = time.perf_counter()
                body = _get(client, service, params).json()
                http = time.perf_counter() - started
                if len(body["result"]) != rows:
                    raise RuntimeError("service and library disagree on the one-page request")
                if index >= 5:  # warm-up
                    library.append(lib * 1000)
                    over_http.append(http * 1000)
    added = [h - lib for h, lib in zip(over_http, library, strict=True)]
    p50 = statistics.median(added)
    report.add(
        "4. service overhead",
        header,
        [
            f"confluent, {rows} rows, limit=100, n={samples}",
            f"{statistics.median(library):.1f}",
            f"{statistics.median(over_http):.1f}",
            f"{p50:.1f}",
            f"{_percentile(added, 0.99):.1f}",
            "yes" if p50 < 5 else "no",
        ],
    )


# ------------------------------------------------------------------------------------------------ figure 5

_STARTUP = """
import json, time
started = time.perf_counter()
from unimeter.sandbox import SandboxConfig
from unimeter.spec import available_integrations, load_integration
imported = time.perf_counter()
for name in available_integrations():
    load_integration(name)
done = time.perf_counter()
print(json.dumps({"import": imported - started, "load": done - imported}))
"""

# The hand-written clients' import in a process of its own (bench/ on the path, not the bench package, whose
# __init__ imports the engine): httpx, orjson and the module, what a user's script pays before its first request.
_BASELINE_STARTUP = """
import json, sys, time
sys.path.insert(0, "bench")
started = time.perf_counter()
import baselines
print(json.dumps({"import": time.perf_counter() - started}))
"""


def _python_timing(source: str) -> dict[str, float]:
    completed = subprocess.run([sys.executable, "-c", source], capture_output=True, text=True, check=True, cwd=ROOT)
    return dict(json.loads(completed.stdout))


def figure_startup(report: Report, reps: int) -> None:
    print("5. start-up: load and compile all mappings (fresh process each time)", flush=True)
    loads, imports, baseline = [], [], []
    for _ in range(reps):
        timing = _python_timing(_STARTUP)
        loads.append(timing["load"] * 1000)
        imports.append(timing["import"] * 1000)
        baseline.append(_python_timing(_BASELINE_STARTUP)["import"] * 1000)
    header = [
        "mappings",
        "load+compile ms",
        "engine import ms",
        "import + load ms",
        "hand-written client import ms",
        "target load+compile <300 ms",
    ]
    report.add(
        "5. start-up",
        header,
        [
            len(available_integrations()),
            _spread(loads, 0),
            _spread(imports, 0),
            _spread([a + b for a, b in zip(imports, loads, strict=True)], 0),
            _spread(baseline, 0),
            "yes" if statistics.median(loads) < 300 else "no",
        ],
    )


# ------------------------------------------------------------------------------------------------ figure 6


def _concurrency_option() -> str | None:
    """The engine's concurrent-windows option (``partition.concurrency``), when this checkout has it."""
    partition_fields = {f.name for f in dataclasses.fields(load_integration("cursor").partition)}
    return "concurrency" if "concurrency" in partition_fields else None


def _cursor_year(spec: Any, workload: Workload, endpoint: dict[str, Any]) -> int:
    async def run() -> int:
        result = await unimeter.alist_usage(spec, params=workload.calls[0], **workload.engine_options(endpoint))
        return len(result["result"])

    return asyncio.run(run())


def figure_windows(report: Report, latency: float, users: int) -> None:
    print("6. a year of Cursor data in 30-day windows, sandbox latency per request", flush=True)
    header = ["workload", "sequential s", "concurrent s", "speed-up", "rate-limit violations", "target >=3x"]
    config = make_workload("cursor", 100).config.__class__(seed=0, now=NOW, users=users, latency_seconds=latency)
    workload = Workload("cursor", 0, config, [{"start_date": "2025-11-26", "end_date": "2026-11-25"}])
    option = _concurrency_option()
    spec = load_integration("cursor")
    label = f"{users} users x 365 days, 13 windows, {latency * 1000:.0f} ms latency"
    if option is None:
        with SandboxProcess(["cursor"], config) as sandbox:
            sequential, _cpu, rows = _timed(lambda: _cursor_year(spec, workload, sandbox.endpoint("cursor")))
        report.add(
            "6. concurrent windows",
            header,
            [f"{label}, {rows} rows", f"{sequential:.2f}", "not available", "not available", "not measured", "n/a"],
        )
        report.notes.append(
            "Figure 6: this engine has no concurrent-windows option (no partition.concurrency); "
            "windows run one after another."
        )
        return
    declared = getattr(spec.partition, option)
    width = declared if declared > 1 else 4
    one_at_a_time = dataclasses.replace(spec, partition=dataclasses.replace(spec.partition, **{option: 1}))
    concurrent_spec = dataclasses.replace(spec, partition=dataclasses.replace(spec.partition, **{option: width}))
    sequential_runs: list[float] = []
    concurrent_runs: list[float] = []
    violations: list[int | None] = []
    rows = 0
    for _ in range(2):  # interleaved; a fresh sandbox per run, as the vendor's limit spans calls (per team)
        for chosen, runs in ((one_at_a_time, sequential_runs), (concurrent_spec, concurrent_runs)):
            sandbox = SandboxProcess(["cursor"], config, enforce_rate_limits=True)
            try:
                wall, _cpu, count = _timed(lambda c=chosen, s=sandbox: _cursor_year(c, workload, s.endpoint("cursor")))
            finally:
                violations.append(sandbox.stop().get("cursor"))
            if rows and count != rows:
                raise RuntimeError(f"concurrent windows gave {count} rows, sequential {rows}")
            rows = count
            runs.append(wall)
    counted = [v for v in violations if v is not None]
    speedups = [s / c for s, c in zip(sequential_runs, concurrent_runs, strict=True)]
    report.add(
        "6. concurrent windows",
        header,
        [
            f"{label}, {rows} rows, concurrency {width} (mapping: {declared})",
            _spread(sequential_runs),
            _spread(concurrent_runs),
            f"{_spread(speedups, 1)}x",
            str(sum(counted)) if counted else "not counted",
            "yes" if statistics.median(speedups) >= 3 and not sum(counted) else "no",
        ],
    )
    if spec.rate_limit is not None:
        report.notes.append(
            f"Figure 6: the cursor mapping declares a rate limit of {spec.rate_limit.requests} "
            f"requests per {spec.rate_limit.per_seconds:g} s; the sandbox enforces it here."
        )


# ------------------------------------------------------------------------------------------------ main


def _machine() -> str:
    return (
        f"{platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()} "
        f"({platform.python_implementation()})"
    )


def _revision() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, cwd=ROOT).stdout.strip()

    dirty = git("status", "--porcelain", "--", "engine", "mappings", "sandbox")
    return git("rev-parse", "--short", "HEAD") + (
        " + uncommitted changes in engine/, mappings/ or sandbox/" if dirty else ""
    )


def _write(report: Report, command: str, smoke: bool, path: Path, revision: str) -> None:
    header = [
        "# Benchmark results" + (" (smoke run: tiny sizes, not figures)" if smoke else ""),
        "",
        f"- date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {_machine()}",
        f"- command: `{command}`",
        f"- code: {revision} (at the start of the run)",
        *(f"- {note}" for note in METHOD),
        "",
    ]
    path.write_text("\n".join(header) + "\n" + report.markdown(), encoding="utf-8")


METHOD = (
    "ratios are engine / hand-written client (time or memory, so lower is better; 1.5 means 1.5x the client), "
    "measured in the same run, interleaved A B A B, reported as median [min-max]",
    "the hand-written clients (bench/baselines.py) are what a user writes: httpx, orjson and dict building, no "
    'schema validation; the engine validates every row. The information rows "baseline + validation" add the '
    "engine's validate_row to the client, to show what validation alone costs",
    "the sandbox runs in its own process. Figure 1: each side runs in a process of its own (bench/child.py); CPU "
    "and wall time are those of the calls (imports and the mapping's load and compile done before: start-up is "
    "figure 5), peak RSS is the process's VmHWM (imports included). "
    "Figure 1b: whole processes, `unimeter usage INTEGRATION ... > /dev/null` (compact JSON, the default when "
    "stdout is not a terminal) against the hand-written client as a script printing the same result as compact "
    "JSON (orjson); CPU = user + system time and peak RSS = ru_maxrss of the process, from os.wait4 "
    "(bench/spawn.py), start-up included",
    "mappings with a rate_limit (cursor, claude) run unpaced in figures 1, 1b, 2 and 3 (a copy without it, "
    "bench/processes.py): the sandbox does not enforce it and the clients do not keep it; waiting costs neither "
    "CPU nor memory. Figure 1b raises UNIMETER_MAX_RESPONSE_ROWS so a unified result may pass 50,000 rows",
    "figure 2: CPU ratio = CPU time of the service process (/proc/PID/stat) over the hand-written client's for "
    "the same rows; figure 3 streams Cursor with 1,000 users at every size, so every vendor page is 500 users x "
    "30 days and the sizes differ in the number of pages only",
)
"""How the figures are measured: the header of bench/RESULTS.md."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one repetition (CI)")
    parser.add_argument("--sizes", default="10k,100k", help="row counts, e.g. 10k,100k,1m")
    parser.add_argument("--rss-sizes", default="100k,1m", help="row counts streamed for the peak-RSS figure")
    parser.add_argument(
        "--only",
        default="",
        help=f"figures ({','.join(FIGURES + OPT_IN)}) and/or workloads ({','.join(WORKLOADS)}), comma-separated",
    )
    parser.add_argument(
        "--e292f98",
        action="store_true",
        help="add figure 8 (service vs commit e292f98: a worktree and a venv of its own, minutes); never in --smoke",
    )
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="also profile the engine side of figure 1 (cProfile, one untimed run per workload and size) into DIR",
    )
    parser.add_argument("--load-clients", default="50,200", help="concurrent clients of the load figure")
    parser.add_argument("--reps", type=int, default=None, help="interleaved repetitions (default 3, smoke 1)")
    parser.add_argument("--output", default=str(RESULTS), help="where to write the markdown results")
    args = parser.parse_args(argv)
    output = Path(args.output)
    chosen = [item.strip() for item in args.only.split(",") if item.strip()]
    unknown = [item for item in chosen if item not in FIGURES + OPT_IN + WORKLOADS]
    if unknown:
        parser.error(f"--only: unknown {', '.join(unknown)}")
    figures = [f for f in FIGURES + OPT_IN if f in chosen] or list(FIGURES)
    if args.e292f98 and "e292f98" not in figures:
        figures.append("e292f98")
    if args.smoke and "e292f98" in figures:
        parser.error("figure e292f98 is not part of --smoke (it installs another commit)")
    workloads = [w for w in WORKLOADS if w in chosen] or list(WORKLOADS)
    sizes = [300] if args.smoke else [_size(s) for s in args.sizes.split(",")]
    reps = args.reps or (1 if args.smoke else 3)
    report = Report()
    revision = _revision()
    print(f"machine: {_machine()}; code: {revision}", flush=True)
    with tempfile.TemporaryDirectory(prefix="unimeter-bench-") as folder:
        scratch = Path(folder)
        unpaced = env_with_mappings(unpaced_mappings(scratch / "unpaced"))
        if "library" in figures:
            figure_library(report, workloads, sizes, reps, Path(args.profile) if args.profile else None)
        if "cli" in figures:
            figure_cli(report, workloads, sizes, reps, scratch, check=args.smoke)
        if "service" in figures:
            figure_service(
                report,
                workloads if chosen and set(chosen) & set(WORKLOADS) else ["cursor", "claude"],
                [s for s in sizes if s <= 100_000] or sizes[:1],
                reps,
                unpaced,
            )
        if "rss" in figures:
            figure_rss(report, [300, 1000] if args.smoke else [_size(s) for s in args.rss_sizes.split(",")], unpaced)
        if "latency" in figures:
            figure_latency(report, 10 if args.smoke else 200)
        if "startup" in figures:
            figure_startup(report, 1 if args.smoke else 5)
        if "windows" in figures:
            figure_windows(report, 0.0 if args.smoke else 0.2, 5 if args.smoke else 50)
        if "load" in figures:
            clients = [int(n) for n in args.load_clients.split(",")]
            figure_load(report, [4] if args.smoke else clients, 2 if args.smoke else 20, 14 if args.smoke else 90)
        if "e292f98" in figures:
            figure_previous(report, 50, 20, 90, reps)
    command = "python -m bench.run " + " ".join(argv if argv is not None else sys.argv[1:])
    _write(report, command.strip(), args.smoke, output, revision)
    print(f"wrote {output}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Run the benchmark suite: ``python -m bench.run [--smoke] [--sizes 10k,100k,1m] [--only FIGURES|INTEGRATIONS]``.

Figures (each measured against a reference taken in the same run, A and B interleaved, median and spread):

1. library end-to-end rows/s per integration: ``unimeter.alist_usage`` vs the hand-written client (bench/baselines.py);
   wall time and the client process's CPU time (the sandbox runs in its own process, so CPU time is client work only)
2. service rows/s through HTTP (uvicorn child), ``unified`` (limit=1000, following next_cursor) and ``stream``,
   as a ratio to the hand-written client on the same workload
3. peak RSS of the service process while it streams 100k and 1M rows to a client that discards them
4. added latency of the service over the library call, one-page request, p50 and p99
5. start-up: loading and compiling all mappings in a fresh process
6. a year of Cursor data in 30-day windows against a sandbox with added latency: concurrent vs sequential windows
7. load: 50 and 200 concurrent clients, one-page requests and whole streams: throughput, p50/p99, peak RSS, and
   whether the peak grows with the results (bench/load.py)

Prints a table and writes bench/RESULTS.md (with machine, date and command). No figure is asserted on: targets are
reported as met or not. ``--smoke`` runs tiny sizes and one repetition, for CI.
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
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

import unimeter
from unimeter.sandbox import SandboxConfig
from unimeter.spec import available_integrations, load_integration

from .baselines import BASELINES
from .load import figure_load
from .sandbox_process import SandboxProcess
from .service_process import ServiceProcess
from .workloads import INTEGRATIONS, NOW, Workload, make_workload

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
USAGE_PATH = "/unified/usage-metering/usage"
FIGURES = ("library", "service", "rss", "latency", "startup", "windows", "load")


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


def figure_library(report: Report, integrations: list[str], sizes: list[int], reps: int) -> None:
    print("1. library end-to-end (engine vs hand-written client)", flush=True)
    header = [
        "integration",
        "rows",
        "shape",
        "engine rows/s",
        "baseline rows/s",
        "wall ratio",
        "CPU ratio",
        "target <=1.5x (median)",
    ]
    for size in sizes:
        for name in integrations:
            workload = make_workload(name, size)
            with SandboxProcess([name], workload.config) as sandbox:
                endpoint = sandbox.endpoint(name)
                walls: list[float] = []
                cpus: list[float] = []
                engine_rates: list[float] = []
                base_rates: list[float] = []
                rows = 0
                for _ in range(reps):  # interleaved: A B A B ...
                    engine_wall, engine_cpu, rows = _timed(lambda w=workload, e=endpoint: _engine_call(w, e))
                    base_wall, base_cpu, base_rows = _timed(lambda w=workload, e=endpoint: _baseline_call(w, e))
                    if base_rows != rows:
                        raise RuntimeError(f"{name}: engine made {rows} rows, the baseline {base_rows}")
                    walls.append(engine_wall / base_wall)
                    cpus.append(engine_cpu / base_cpu)
                    engine_rates.append(rows / engine_wall)
                    base_rates.append(rows / base_wall)
            met = "yes" if statistics.median(cpus) <= 1.5 else "no"
            report.add(
                "1. library end-to-end",
                header,
                [
                    name,
                    rows,
                    workload.shape,
                    f"{statistics.median(engine_rates):,.0f}",
                    f"{statistics.median(base_rates):,.0f}",
                    _spread(walls),
                    _spread(cpus),
                    met,
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


def figure_service(report: Report, integrations: list[str], sizes: list[int], reps: int) -> None:
    print("2. service rows/s through HTTP (ratio: service time / hand-written client time)", flush=True)
    header = ["integration", "rows", "format", "service rows/s", "baseline rows/s", "wall ratio"]
    for size in sizes:
        for name in integrations:
            workload = make_workload(name, size)
            with SandboxProcess([name], workload.config) as sandbox:
                endpoint = sandbox.endpoint(name)
                with ServiceProcess(name, endpoint, NOW.isoformat()) as service:
                    for fmt, call in (("unified", _service_unified), ("stream", _service_stream)):
                        ratios, rates, base_rates, rows = [], [], [], 0
                        # unified re-reads the vendor page holding each 1000-row slice: one repetition at 100k+
                        for _ in range(reps if size < 100_000 else 1):
                            wall, _cpu, rows = _timed(lambda c=call, s=service, w=workload: c(s, w))
                            base_wall, _cpu, base_rows = _timed(lambda w=workload, e=endpoint: _baseline_call(w, e))
                            if base_rows != rows:
                                raise RuntimeError(f"{name} {fmt}: service gave {rows} rows, the baseline {base_rows}")
                            ratios.append(wall / base_wall)
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
                            ],
                        )


def figure_rss(report: Report, sizes: list[int]) -> None:
    print("3. peak RSS of the service process while streaming (client discards rows)", flush=True)
    header = ["rows", "workload", "service idle RSS MB", "service peak RSS MB", "vs smallest size", "target"]
    first: float | None = None
    for size in sizes:
        workload = make_workload("cursor", size)
        with SandboxProcess(["cursor"], workload.config) as sandbox:
            endpoint = sandbox.endpoint("cursor")
            service = ServiceProcess("cursor", endpoint, NOW.isoformat())
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
            [rows, workload.shape, f"{service.idle_maxrss_mb:.0f}", f"{peak:.0f}", f"{growth:.2f}x", target],
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
started_b = time.perf_counter()
import bench.baselines
done_b = time.perf_counter()
print(json.dumps({"import": imported - started, "load": done - imported, "baseline_import": done_b - started_b}))
"""


def figure_startup(report: Report, reps: int) -> None:
    print("5. start-up: load and compile all mappings (fresh process each time)", flush=True)
    loads, imports, baseline = [], [], []
    for _ in range(reps):
        output = subprocess.run(
            [sys.executable, "-c", _STARTUP], capture_output=True, text=True, check=True, cwd=ROOT
        ).stdout
        timing = json.loads(output)
        loads.append(timing["load"] * 1000)
        imports.append(timing["import"] * 1000)
        baseline.append(timing["baseline_import"] * 1000)
    header = ["mappings", "load+compile ms", "engine import ms", "baseline import ms", "target <300 ms"]
    report.add(
        "5. start-up",
        header,
        [
            len(available_integrations()),
            _spread(loads, 0),
            _spread(imports, 0),
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
        "- ratios are engine / hand-written client (time, so lower is better; 1.5 means 1.5x slower), measured in "
        "the same run, interleaved A B A B, reported as median [min-max]",
        "- the sandbox runs in its own process; CPU ratio = CPU time of the client process only (engine vs "
        "baseline), wall ratio includes waiting for the sandbox to generate the data",
        "- schema validation of every row is on for both sides (unimeter.run.validation.validate_row)",
        "",
    ]
    path.write_text("\n".join(header) + "\n" + report.markdown(), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one repetition (CI)")
    parser.add_argument("--sizes", default="10k,100k", help="row counts, e.g. 10k,100k,1m")
    parser.add_argument("--rss-sizes", default="100k,1m", help="row counts streamed for the peak-RSS figure")
    parser.add_argument(
        "--only",
        default="",
        help="figures (library,service,rss,latency,startup,windows,load) and/or integrations, comma-separated",
    )
    parser.add_argument("--load-clients", default="50,200", help="concurrent clients of the load figure")
    parser.add_argument("--reps", type=int, default=None, help="interleaved repetitions (default 3, smoke 1)")
    parser.add_argument("--output", default=str(RESULTS), help="where to write the markdown results")
    args = parser.parse_args(argv)
    output = Path(args.output)
    chosen = [item.strip() for item in args.only.split(",") if item.strip()]
    figures = [f for f in FIGURES if f in chosen] or list(FIGURES)
    integrations = [i for i in INTEGRATIONS if i in chosen] or list(INTEGRATIONS)
    sizes = [300] if args.smoke else [_size(s) for s in args.sizes.split(",")]
    reps = args.reps or (1 if args.smoke else 3)
    report = Report()
    revision = _revision()
    print(f"machine: {_machine()}; code: {revision}", flush=True)
    if "library" in figures:
        figure_library(report, integrations, sizes, reps)
    if "service" in figures:
        figure_service(
            report,
            integrations if chosen and set(chosen) & set(INTEGRATIONS) else ["cursor", "claude"],
            [s for s in sizes if s <= 100_000] or sizes[:1],
            reps,
        )
    if "rss" in figures:
        figure_rss(report, [300, 1000] if args.smoke else [_size(s) for s in args.rss_sizes.split(",")])
    if "latency" in figures:
        figure_latency(report, 10 if args.smoke else 200)
    if "startup" in figures:
        figure_startup(report, 1 if args.smoke else 5)
    if "windows" in figures:
        figure_windows(report, 0.0 if args.smoke else 0.2, 5 if args.smoke else 50)
    if "load" in figures:
        clients = [int(n) for n in args.load_clients.split(",")]
        figure_load(report, [4] if args.smoke else clients, 2 if args.smoke else 20, 14 if args.smoke else 90)
    command = "python -m bench.run " + " ".join(argv if argv is not None else sys.argv[1:])
    _write(report, command.strip(), args.smoke, output, revision)
    print(f"wrote {output}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

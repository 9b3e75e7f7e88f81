"""Figure 8 (opt-in, slow): the service's one-page throughput against commit e292f98's, measured in the same run.

Issue 13 asks for at least 3x the requests a second of e292f98 with 50 concurrent clients sending one-page
requests. That commit is the same distribution (``unimeter``), so it cannot share this venv: the figure checks it
out as a git worktree in a temporary folder, installs it into a venv of its own (``python -m venv``, ``pip install
<worktree>``: its dependencies from the package registry, the pip cache is used) and starts ITS
``bench/service_process.py`` with ITS interpreter from ITS tree (that commit's engine, mappings and service), beside
the current one, both on one sandbox process. The load is figure 7's one-page scenario (Confluent, ``limit=100``);
the services take turns, A B A B, each turn a fresh burst of every client's requests. A third service, this tree's
``unimeter serve --workers N`` with one worker per core, is an information row: the target is judged on one process,
as e292f98 serves. Everything is removed at
the end, the worktree registration included.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from .load import Scenario, _drive, _workload
from .sandbox_process import SandboxProcess
from .service_process import ServiceProcess
from .workloads import NOW

COMMIT = "e292f98"
ROOT = Path(__file__).resolve().parent.parent


def _run(command: list[str], what: str) -> None:
    completed = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if completed.returncode != 0:
        raise RuntimeError(f"{what} failed ({' '.join(command[:4])} ...):\n{completed.stderr[-3000:]}")


class PreviousCommit:
    """A worktree of :data:`COMMIT` with its own venv, removed on exit."""

    def __init__(self, commit: str = COMMIT) -> None:
        self.commit = commit
        self.folder = Path(tempfile.mkdtemp(prefix=f"unimeter-{commit}-"))
        self.tree = self.folder / "tree"
        self.python = str(self.folder / "venv" / "bin" / "python")

    def __enter__(self) -> PreviousCommit:
        try:
            print(f"   checking out {self.commit} and installing it into its own venv (a minute or two)", flush=True)
            _run(["git", "worktree", "add", "--detach", str(self.tree), self.commit], "git worktree add")
            _run([sys.executable, "-m", "venv", str(self.folder / "venv")], "python -m venv")
            _run([self.python, "-m", "pip", "install", "--quiet", str(self.tree)], f"pip install of {self.commit}")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.tree.exists():
            subprocess.run(["git", "worktree", "remove", "--force", str(self.tree)], capture_output=True, cwd=ROOT)
        subprocess.run(["git", "worktree", "prune"], capture_output=True, cwd=ROOT)
        shutil.rmtree(self.folder, ignore_errors=True)


def _throughput(service: ServiceProcess, params: dict[str, str], scenario: Scenario) -> tuple[float, float, int]:
    """(requests/s, p50 ms, failed requests) of one burst."""
    results, wall = asyncio.run(_drive(service, params, scenario))
    failed = sum(1 for r in results if not r[3])
    return len(results) / wall, statistics.median(r[0] for r in results), failed


def figure_previous(report: Any, clients: int, requests_per_client: int, days: int, reps: int) -> None:
    print(f"8. one-page requests/s with {clients} concurrent clients: this tree vs commit {COMMIT}", flush=True)
    header = [
        "service",
        "clients",
        "requests per turn",
        "req/s",
        "p50 ms",
        "failed",
        f"ratio to {COMMIT}",
        "target >=3x",
    ]
    scenario = Scenario("one-page", clients, requests_per_client, days)
    workload = _workload(days)
    params = workload.calls[0]
    workers = os.cpu_count() or 1
    labels = (COMMIT, "current", "workers") if workers > 1 else (COMMIT, "current")
    rates: dict[str, list[float]] = {label: [] for label in labels}
    p50s: dict[str, list[float]] = {label: [] for label in labels}
    failures = dict.fromkeys(labels, 0)
    with PreviousCommit() as previous, SandboxProcess(["confluent"], workload.config) as sandbox:
        endpoint = sandbox.endpoint("confluent")
        with contextlib.ExitStack() as running:
            services = {
                COMMIT: running.enter_context(
                    ServiceProcess("confluent", endpoint, NOW.isoformat(), python=previous.python, tree=previous.tree)
                ),
                "current": running.enter_context(ServiceProcess("confluent", endpoint, NOW.isoformat())),
            }
            if "workers" in labels:
                services["workers"] = running.enter_context(
                    ServiceProcess("confluent", endpoint, NOW.isoformat(), workers=workers)
                )
            warm = Scenario("one-page", 2, 2, days)
            for service in services.values():
                _throughput(service, params, warm)
            for _ in range(reps):  # interleaved: previous, current, workers, previous, current ...
                for label in labels:
                    rate, p50, failed = _throughput(services[label], params, scenario)
                    rates[label].append(rate)
                    p50s[label].append(p50)
                    failures[label] += failed
    names = {COMMIT: f"commit {COMMIT}", "current": "this tree", "workers": f"this tree, --workers {workers}"}
    for label in labels:
        ratios = [c / o for c, o in zip(rates[label], rates[COMMIT], strict=True)]
        target = ""
        if label == "current":  # the target is judged on one process, as e292f98 serves
            target = "yes" if statistics.median(ratios) >= 3 else "no"
        elif label == "workers":
            target = "information"
        report.add(
            f"8. service vs {COMMIT}",
            header,
            [
                names[label],
                clients,
                clients * requests_per_client,
                _spread(rates[label], 1),
                _spread(p50s[label], 0),
                failures[label],
                f"{_spread(ratios, 2)}x" if label != COMMIT else "1",
                target,
            ],
        )


def _spread(values: list[float], digits: int) -> str:
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.median(values):.{digits}f} [{min(values):.{digits}f}-{max(values):.{digits}f}]"

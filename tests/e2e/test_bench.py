"""The benchmark stays fair and runnable: every hand-written baseline produces exactly the engine's rows, and the
smoke run of ``python -m bench.run`` completes (no timing is asserted)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

import unimeter
from bench.baselines import BASELINES
from bench.sandbox_process import SandboxProcess
from bench.workloads import INTEGRATIONS, NOW, make_workload
from tests.helpers.paths import PROJECT

ROOT = PROJECT


@pytest.mark.parametrize("integration", INTEGRATIONS)
def test_baseline_rows_equal_engine_rows_in_order(integration: str) -> None:
    workload = make_workload(integration, 600)
    with SandboxProcess([integration], workload.config) as sandbox:
        endpoint = sandbox.endpoint(integration)
        engine_rows = []
        baseline_rows = []
        for params in workload.calls:
            result = asyncio.run(unimeter.alist_usage(integration, params=params, **workload.engine_options(endpoint)))
            engine_rows += result["result"]
            baseline_rows += BASELINES[integration](endpoint, params, NOW)
    assert len(engine_rows) > 100
    assert [row["id"] for row in baseline_rows] == [row["id"] for row in engine_rows]
    for baseline_row, engine_row in zip(baseline_rows, engine_rows, strict=True):
        assert baseline_row == engine_row, engine_row["id"]


def test_bench_smoke_run_exits_zero(tmp_path: Path) -> None:
    output = tmp_path / "RESULTS.md"
    completed = subprocess.run(
        [sys.executable, "-m", "bench.run", "--smoke", "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    text = output.read_text(encoding="utf-8")
    for figure in (
        "1. library end-to-end",
        "2. service through HTTP",
        "3. stream peak RSS",
        "4. service overhead",
        "5. start-up",
        "6. concurrent windows",
        "7. load",
    ):
        assert figure in text

"""``unimeter demo --sync`` ends with the sandbox's rows in DuckDB and an example query's result printed."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

import pytest

from tests.sync.sync_helpers import query
from unimeter.demo import DEMO_QUERY, run_demo


def test_demo_ends_with_a_synced_duckdb_and_a_query(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    out, progress = io.StringIO(), io.StringIO()
    target = tmp_path / "demo.duckdb"
    assert run_demo(out=out, progress=progress, sync=True, sync_to=str(target)) == 0, progress.getvalue()
    text = out.getvalue()
    assert f"synced into {target}" in text and "0 failed" in text
    assert f"{DEMO_QUERY};" in text
    bill = query(target, DEMO_QUERY)
    assert len(bill) >= 5
    printed = text.split(f"{DEMO_QUERY};", 1)[1].splitlines()[2 : 2 + len(bill)]
    for (integration, currency, net, count), line in zip(bill, printed, strict=True):
        cells = line.split()
        assert cells[:2] == [integration, currency]
        assert Decimal(cells[2].replace(",", "")) == net and int(cells[3]) == count
    # The synced rows are the demo's own: one account per simulator, each report that its key may read.
    integrations = {row[0] for row in query(target, "SELECT DISTINCT integration FROM unimeter.usage")}
    assert len(integrations) == 7

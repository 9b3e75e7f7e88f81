"""``unimeter sync`` into DuckDB: idempotent re-runs, revisions in place, --since and --full-refresh, an interrupted
run that resumes, failures that stay per account, and money that stays exact.

Expected rows and sums come from the API's own rows (``unimeter.list_usage`` over the same sandbox and clock).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.sync.sync_helpers import NOW, SyncWorld, net_by_integration, no_sleep, query, sync_world
from unimeter.spec.registry import load_integration
from unimeter.sync import SyncOptions, sync
from unimeter.sync.streams import reports_of

FAST = ["confluent", "cursor", "openai", "datadog"]
"""Simulators whose default ranges are a few pages: every report of each is synced in a second or two."""

ROWS_SQL = """
SELECT u.id, u.integration, u.report, u.start_date, u.end_date, u.tokens_input, u.tokens_output, u.code_lines_added,
       u.quantity, u.user_email, u.model_id, u.product_id, CAST(u.remote_data AS VARCHAR)
FROM unimeter.usage u ORDER BY u.id
"""
CHARGES_SQL = "SELECT usage_id, type, amount, currency FROM unimeter.charges ORDER BY usage_id, type"
NET_SQL = """
SELECT u.integration, SUM(c.amount) FROM unimeter.charges c JOIN unimeter.usage u ON u.id = c.usage_id
WHERE c.type = 'net' GROUP BY u.integration ORDER BY u.integration
"""


def _api_rows(world: SyncWorld, integration: str) -> list[dict[str, Any]]:
    """Every report's rows of the integration's default query (what a first sync reads)."""
    rows: list[dict[str, Any]] = []
    for report in reports_of(load_integration(integration)):
        rows += world.api_rows(integration, report.as_params())
    return rows


def test_two_syncs_give_the_same_rows_and_sums_as_the_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with sync_world(tmp_path, monkeypatch, FAST) as world:
        first = world.sync()
        assert not first.failed, first.to_dict()
        db = tmp_path / "usage.duckdb"
        rows, charges = query(db, ROWS_SQL), query(db, CHARGES_SQL)
        second = world.sync()
        assert not second.failed, second.to_dict()
        # The second run starts from each report's re-fetch point (not the default start): it read again.
        assert all(stream.start_date is not None for stream in second.streams)
        assert query(db, ROWS_SQL) == rows
        assert query(db, CHARGES_SQL) == charges
        api = {name: _api_rows(world, name) for name in FAST}
    ids = [row[0] for row in rows]
    assert len(ids) == len(set(ids))
    assert sorted(ids) == sorted(row["id"] for name in FAST for row in api[name])
    # Money: DECIMAL in the destination, Σ net per vendor exactly the API's Σ net (as the JSON text writes it).
    sums = dict(query(db, NET_SQL))
    assert sums == net_by_integration(api)
    assert all(isinstance(amount, Decimal) for amount in sums.values())
    assert set(sums) == {"confluent", "cursor", "openai", "datadog"}
    # Nested fields are columns, charges are rows by type, remote_data is the vendor record.
    one = next(row for row in api["openai"] if "tokens" in row.get("usage", {}))
    stored = next(row for row in rows if row[0] == one["id"])
    assert stored[5] == one["usage"]["tokens"].get("input")
    assert json.loads(stored[12]) == one["remote_data"]


def test_a_revised_day_is_replaced_in_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The vendor restates today and yesterday (inside Confluent's 72 h and Cursor's one day): the next sync has the
    same ids with the new figures, no duplicate."""
    with sync_world(tmp_path, monkeypatch, ["confluent", "cursor"]) as world:
        assert not world.sync(reports=("default", "report_type=daily_usage")).failed
        db = tmp_path / "usage.duckdb"
        before = dict(
            (row[0], row[1:]) for row in query(db, "SELECT id, quantity, code_lines_added FROM unimeter.usage")
        )
        world.sandbox.revise(1)
        report = world.sync(reports=("default", "report_type=daily_usage"))
        assert not report.failed, report.to_dict()
        after = dict(
            (row[0], row[1:]) for row in query(db, "SELECT id, quantity, code_lines_added FROM unimeter.usage")
        )
        api = {"confluent": world.api_rows("confluent"), "cursor": world.api_rows("cursor")}
    assert sorted(after) == sorted(before)  # same ids, nothing added
    assert query(db, "SELECT COUNT(*), COUNT(DISTINCT id) FROM unimeter.usage")[0] == (len(before), len(before))
    changed = {row_id for row_id in before if before[row_id] != after[row_id]}
    revised_days = {"2026-11-17", "2026-11-18"}
    # Exactly the rows of the restated days changed (Confluent usage lines and Cursor's active users' days).
    expected = {
        row["id"]
        for name, rows in api.items()
        for row in rows
        if row["start_date"][:10] in revised_days
        and (row["usage"].get("quantity") if name == "confluent" else row["usage"].get("code", {}).get("lines_added"))
    }
    assert changed == expected and changed
    for row in api["confluent"]:
        if "quantity" in row["usage"]:
            assert after[row["id"]][0] == row["usage"]["quantity"]
    assert dict(query(db, NET_SQL)) == net_by_integration({"confluent": api["confluent"]})


def test_since_and_full_refresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with sync_world(tmp_path, monkeypatch, ["confluent"]) as world:
        db = tmp_path / "usage.duckdb"
        since = NOW.replace(day=10)
        report = world.sync(since=since)
        assert [stream.start_date for stream in report.streams] == ["2026-11-10"]
        days = {row[0] for row in query(db, "SELECT DISTINCT CAST(start_date AS DATE) FROM unimeter.usage")}
        assert min(days).isoformat() == "2026-11-10" and max(days).isoformat() == "2026-11-18"
        # A later --since merges over what is there (days 10..13 stay) ...
        world.sync(since=NOW.replace(day=14))
        assert min(row[0] for row in query(db, "SELECT CAST(start_date AS DATE) FROM unimeter.usage")).day == 10
        # ... a full refresh from day 14 starts over: the earlier days' rows are gone, the state is rewritten.
        refreshed = world.sync(since=NOW.replace(day=14), full_refresh=True)
        assert not refreshed.failed
        days = {row[0].day for row in query(db, "SELECT DISTINCT CAST(start_date AS DATE) FROM unimeter.usage")}
        api = world.api_rows("confluent", {"start_date": "2026-11-14", "end_date": "2026-11-18"})
        ids = {row[0] for row in query(db, "SELECT id FROM unimeter.usage")}
        # A full refresh without --since uses the integration's default start (the 1st of the month).
        default = world.sync(full_refresh=True)
        assert [stream.start_date for stream in default.streams] == [None]
        month = {row[0] for row in query(db, "SELECT id FROM unimeter.usage")}
        default_rows = world.api_rows("confluent")
    assert days == {14, 15, 16, 17, 18}
    assert ids == {row["id"] for row in api}
    assert month == {row["id"] for row in default_rows}
    assert dict(query(db, NET_SQL)) == net_by_integration({"confluent": default_rows})


def test_an_interrupted_sync_resumes_without_doubling(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The vendor fails for good after three pages: those rows stay loaded, and the state says where to go on; the
    next run asks only for the rest and ends with exactly the API's rows."""
    reports = ("report_type=user_usage",)
    with sync_world(tmp_path, monkeypatch, ["claude"]) as world:
        api = world.api_rows("claude", {"report_type": "user_usage"})
        total_pages = world.sandbox.request_count("claude")
        world.sandbox.inject("claude", "server_error", count=20, after=3)
        failed = world.sync(reports=reports, batch_rows=1)
        assert failed.failed and failed.streams[0].pages == 3
        assert "500" in (failed.streams[0].error or "") or "server" in (failed.streams[0].error or "").lower()
        db = tmp_path / "usage.duckdb"
        loaded = query(db, "SELECT COUNT(*) FROM unimeter.usage")[0][0]
        state = query(
            db, "SELECT status, last_error IS NOT NULL, resume IS NOT NULL FROM unimeter._unimeter_sync_state"
        )
        world.sandbox.clear_faults("claude")
        before = world.sandbox.request_count("claude")
        resumed = world.sync(reports=reports, batch_rows=1)
        asked = world.sandbox.request_count("claude") - before
        rows = query(db, "SELECT id FROM unimeter.usage")
        state_after = query(db, "SELECT status, last_error, resume FROM unimeter._unimeter_sync_state")
    assert 0 < loaded < len(api)
    assert state == [("failed", True, True)]
    assert not resumed.failed and resumed.streams[0].resumed
    assert asked == total_pages - 2  # the last loaded page is asked again (its remaining rows skipped)
    assert total_pages > 4
    ids = [row[0] for row in rows]
    assert len(ids) == len(set(ids)) and sorted(ids) == sorted(row["id"] for row in api)
    assert state_after == [("ok", None, None)]


def test_a_failing_account_does_not_stop_the_others(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every request to one vendor is refused: its reports fail with the error recorded (no secret in it), the
    account is marked needs_reauth, and the other account is synced."""
    with sync_world(tmp_path, monkeypatch, ["datadog", "confluent"]) as world:
        world.sandbox.inject("datadog", "unauthorized", count=50)
        report = world.sync()
        db = tmp_path / "usage.duckdb"
        states = query(db, "SELECT integration, status, last_error FROM unimeter._unimeter_sync_state ORDER BY 1")
        counts = dict(query(db, "SELECT integration, COUNT(*) FROM unimeter.usage GROUP BY 1"))
        datadog = world.store.get_account(world.accounts["datadog"].id, environment="test")
        secrets = [str(value) for value in world.accounts["datadog"].credentials.values()]
        confluent_rows = len(world.api_rows("confluent"))
    assert report.failed
    assert [(s.integration, s.status) for s in report.streams] == [("datadog", "failed"), ("confluent", "ok")]
    assert counts == {"confluent": confluent_rows}
    assert states[0][:2] == ("confluent", "ok") and states[1][:2] == ("datadog", "failed")
    assert datadog.status == "needs_reauth"
    for text in [report.streams[0].error or "", states[1][2], json.dumps(report.to_dict())]:
        assert "401" in text or "remote_unauthorized" in text or "unauthor" in text.lower()
        assert not any(secret in text for secret in secrets)


def test_the_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`unimeter sync` as a user runs it: the accounts store and the destination by option, a summary on stdout,
    the exit code; a wrong destination is exit 2 without a traceback."""
    # The command runs on the real clock, so the simulator does too.
    with sync_world(tmp_path, monkeypatch, ["confluent"], now=None):
        destination = tmp_path / "cli.duckdb"
        command = [sys.executable, "-m", "unimeter.cli", "sync", "--database", f"sqlite:///{tmp_path / 'accounts.db'}"]
        env = {"XDG_DATA_HOME": str(tmp_path / "data")}
        done = _run([*command, "--to", str(destination), "--json"], env, tmp_path)
        bad = _run([*command, "--to", "mysql://user:hunter2@host/db"], env, tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
        rows = query(destination, "SELECT COUNT(*), COUNT(DISTINCT id) FROM unimeter.usage")[0]
        again = _run([*command, "--to", str(destination)], env, tmp_path)
        rows_again = query(destination, "SELECT COUNT(*) FROM unimeter.usage")[0][0]
    summary = json.loads(done.stdout)
    assert summary["rows"] == rows[0] == rows[1] > 0 and not summary["failed"]
    assert again.returncode == 0 and rows_again == rows[0]
    assert again.stdout.startswith(f"synced into {destination}") and "0 failed" in again.stdout
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "hunter2" not in bad.stderr
    assert "is not a sync destination" in bad.stderr


def _run(command: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    import os

    environment = {**os.environ, **env}
    return subprocess.run(command, capture_output=True, text=True, env=environment, cwd=cwd, timeout=300, check=False)


def test_usage_does_not_import_dlt() -> None:
    """dlt takes about a second to import: only the sync command may pay for it."""
    code = (
        "import sys\n"
        "from unimeter.cli import main\n"
        "main(['usage', 'cursor', '--credential', 'api_key=k', '--param', 'truto_skip_api_call=true'])\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] in ('dlt', 'duckdb')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_reports_of_an_integration_default_first() -> None:
    """A report is a value of the parameter that chooses the operation; the mapping's default comes first."""
    keys = [report.key for report in reports_of(load_integration("cursor"))]
    assert keys == ["report_type=daily_usage", "report_type=usage_events"]
    assert [report.key for report in reports_of(load_integration("datadog"))] == ["default"]
    assert Counter(r.key for r in reports_of(load_integration("claude")))["report_type=user_cost"] == 1


def test_an_unknown_report_fails_and_progress_shows_on_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    with sync_world(tmp_path, monkeypatch, ["confluent"]) as world:
        report = sync(
            world.store,
            world.duckdb_destination(),
            SyncOptions(now=NOW, sleep=no_sleep, reports=("default", "report_type=nope")),
            progress=terminal,
        )
    assert [(s.integration, s.report, s.status) for s in report.streams] == [
        ("confluent", "default", "ok"),
        ("", "report_type=nope", "failed"),
    ]
    assert "no report 'report_type=nope'" in (report.streams[1].error or "")
    lines = terminal.getvalue().split("\r")
    assert any(line.startswith("[1/1] confluent default (") and "page(s)" in line for line in lines)
    assert terminal.getvalue().rstrip().endswith("rows, ok")

"""The sync destination's FOCUS rows (the ``focus`` view's SQL, and ``export focus --from``) are the live export's.

The sandbox is synced into DuckDB and PostgreSQL by ``unimeter sync``'s own code; the live export over the same
accounts, clock and range is what the destination's rows are held to, every column of every row.
"""

from __future__ import annotations

import asyncio
import csv
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest

from tests.sync.queue_helpers import fresh_database
from unimeter.cli import main
from unimeter.focus import COLUMNS
from unimeter.focus.export import ExportRange, live_focus_rows
from unimeter.focus.synced import SyncSource, focus_row, parse_source, synced_focus_rows
from unimeter.focus.view import SyncTables, focus_view_sql
from unimeter.run.ratelimit import RateLimiter
from unimeter.sandbox import SIMULATORS, SandboxConfig, account_fields, start_sandbox
from unimeter.store import Account, Store, open_store
from unimeter.sync import Destination, SyncOptions, sync

NOW = datetime(2026, 11, 3, 12, tzinfo=UTC)
SINCE = datetime(2026, 11, 1, tzinfo=UTC)
DAYS = ExportRange(date(2026, 11, 1), date(2026, 11, 3))  # holds the month rows that start on the 1st
SMALL = {"users": 6, "organizations": 2, "resources": 3}
UNLIMITED = RateLimiter(1_000_000, 1.0)


async def _no_sleep(_seconds: float) -> None:
    """The sync's rate-limit waits, not waited (the sandbox does not enforce limits)."""


@dataclass
class World:
    folder: Path
    store: Store
    accounts: list[Account]
    duckdb_file: Path
    live: dict[str, dict[str, Any]]
    """The live export's rows by line id."""
    sandbox: Any

    def sync_to(self, destination: Destination) -> None:
        report = sync(self.store, destination, SyncOptions(since=SINCE, now=NOW, sleep=_no_sleep), progress=None)
        failed = [stream for stream in report.streams if stream.status == "failed"]
        assert not failed, failed


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("focus-sync")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_DATA_HOME", str(folder / "data"))
        patch.setenv("DLT_PROJECT_DIR", str(folder / "dlt"))
        patch.setenv("DLT_DATA_DIR", str(folder / "dlt"))
        with start_sandbox(sorted(SIMULATORS), SandboxConfig(now=NOW, **SMALL)) as sandbox:
            store = open_store(f"sqlite:///{folder / 'accounts.db'}")
            accounts = [
                store.create_account(name, environment="test", **account_fields(sandbox.endpoint(name)))
                for name in sorted(SIMULATORS)
            ]

            async def live() -> dict[str, dict[str, Any]]:
                rows: dict[str, dict[str, Any]] = {}
                async for _, lines in live_focus_rows(accounts, DAYS, now=NOW, rate_limiter=UNLIMITED):
                    rows.update((line["x_UnimeterLineId"], line) for line in lines)
                return rows

            made = World(folder, store, accounts, folder / "usage.duckdb", asyncio.run(live()), sandbox)
            made.sync_to(Destination("duckdb", str(made.duckdb_file)))
            yield made


def _same_rows(rows: list[dict[str, Any]], world: World) -> None:
    by_line = {row["x_UnimeterLineId"]: row for row in rows}
    assert len(by_line) == len(rows), "each FOCUS row once"
    assert set(by_line) == set(world.live)
    for line_id, row in by_line.items():
        assert row == world.live[line_id], line_id


def test_the_live_export_has_what_the_view_must_reproduce(world: World) -> None:
    categories = {(row["x_UnimeterIntegration"], row["ChargeCategory"]) for row in world.live.values()}
    assert {name for name, _ in categories} == set(SIMULATORS), "every integration bills something in these days"
    assert ("confluent", "Credit") in categories
    assert any(row["ResourceId"] and row["SubAccountId"] for row in world.live.values())
    # event rows of a millisecond: whole seconds, rounded outwards, in SQL as in Python
    assert any(row["ChargePeriodEnd"] - row["ChargePeriodStart"] == timedelta(seconds=1) for row in world.live.values())


def test_the_duckdb_destination_gives_the_live_rows(world: World) -> None:
    source = SyncSource("duckdb", str(world.duckdb_file))
    _same_rows([row for batch in synced_focus_rows(source, DAYS) for row in batch], world)


def test_the_focus_view_in_duckdb_gives_the_live_rows(world: World) -> None:
    """The view the sync made (no statement run here), queried as a person would."""
    with duckdb.connect(str(world.duckdb_file), read_only=True) as connection:
        cursor = connection.execute(
            """SELECT * FROM unimeter.focus
               WHERE "ChargePeriodStart" >= TIMESTAMPTZ '2026-11-01 00:00:00+00'
                 AND "ChargePeriodStart" < TIMESTAMPTZ '2026-11-04 00:00:00+00'"""
        )
        names = [column[0] for column in cursor.description]
        values = cursor.fetchall()
    assert names == list(COLUMNS)
    _same_rows([focus_row(row) for row in values], world)


def test_the_postgres_destination_gives_the_live_rows(world: World, postgres_url: str) -> None:
    with fresh_database(postgres_url, "unimeter_focus") as url:
        world.sync_to(Destination("postgres", url))
        _same_rows([row for batch in synced_focus_rows(SyncSource("postgres", url), DAYS) for row in batch], world)
        with psycopg.connect(url, autocommit=True) as connection:  # the view the sync made
            found = connection.execute(
                """SELECT COUNT(*), SUM("BilledCost") FROM unimeter.focus
                   WHERE "ChargePeriodStart" >= TIMESTAMPTZ '2026-11-01 00:00:00+00'
                     AND "ChargePeriodStart" < TIMESTAMPTZ '2026-11-04 00:00:00+00'"""
            ).fetchone()
        assert found == (len(world.live), sum(row["BilledCost"] for row in world.live.values()))


def test_export_from_the_destination_writes_the_live_files_rows(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "from-sync.csv"
    args = ["export", "focus", "--from", str(world.duckdb_file), "--start", "2026-11-01", "--end", "2026-11-03"]
    assert main([*args, "--out", str(out)]) == 0, capsys.readouterr().err
    with out.open(encoding="utf-8", newline="") as handle:
        written = list(csv.DictReader(handle))
    assert {row["x_UnimeterLineId"] for row in written} == set(world.live)
    assert f"wrote {len(world.live)} FOCUS 1.0 rows" in capsys.readouterr().out
    # one integration, one account: the same filters as the live export
    confluent = next(account for account in world.accounts if account.integration == "confluent")
    assert main([*args, "--out", str(out), "--account", str(confluent.id)]) == 0
    with out.open(encoding="utf-8", newline="") as handle:
        assert {row["x_UnimeterIntegration"] for row in csv.DictReader(handle)} == {"confluent"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "mysql://db/usage"], "--from 'mysql://db/usage' is not a sync destination"),
        (["--from", "postgresql://u:hunter2@db/x", "--environment", "prod"], "--environment names the accounts"),
        (["--from", "missing.duckdb"], "missing.duckdb: no such DuckDB file"),
    ],
)
def test_a_wrong_source_exits_2(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["export", "focus", "--out", "focus.csv", *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "hunter2" not in err


def test_a_destination_never_synced_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    assert main(["export", "focus", "--from", str(empty), "--out", str(tmp_path / "f.csv")]) == 1
    assert "no synced usage" in capsys.readouterr().err
    assert not (tmp_path / "f.csv").exists()


def test_an_unreachable_postgres_is_an_error_without_its_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "postgresql://focus:s3cret-pw@127.0.0.1:9/usage?connect_timeout=2"
    assert main(["export", "focus", "--from", url, "--out", str(tmp_path / "f.csv")]) == 1
    err = capsys.readouterr().err
    assert "cannot read the sync destination postgresql://focus:***@127.0.0.1:9/usage" in err
    assert "s3cret-pw" not in err


def test_the_view_without_child_tables_is_empty_and_typed() -> None:
    sql = focus_view_sql("duckdb", SyncTables(charges=None, resources=None))
    with duckdb.connect() as connection:
        connection.execute("CREATE SCHEMA unimeter")
        connection.execute(
            "CREATE TABLE unimeter.usage (id TEXT, _dlt_id TEXT, integration TEXT, integrated_account_id TEXT, "
            "start_date TIMESTAMPTZ, end_date TIMESTAMPTZ, product_id TEXT, product_name TEXT, metric_name TEXT, "
            "model_id TEXT, user_id TEXT, user_email TEXT, surface TEXT, quantity DOUBLE, unit TEXT, "
            "organization_id TEXT, organization_name TEXT)"
        )
        connection.execute("INSERT INTO unimeter.usage (id, _dlt_id, integration) VALUES ('a', 'x', 'cursor')")
        cursor = connection.execute(sql)
        assert [column[0] for column in cursor.description] == list(COLUMNS)
        assert cursor.fetchall() == []
    with pytest.raises(ValueError, match="unknown SQL dialect 'mysql'"):
        focus_view_sql("mysql")
    assert parse_source("duckdb:///var/x.duckdb") == SyncSource("duckdb", "/var/x.duckdb")


def test_the_docs_query_of_the_view_gives_the_bill_by_service(world: World) -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "focus.md").read_text(encoding="utf-8")
    [example] = re.findall(r"```sql\n(.*?)```", page, flags=re.DOTALL)
    with duckdb.connect(str(world.duckdb_file), read_only=True) as connection:  # the view the sync made
        result = connection.execute(example).fetchall()
    expected: dict[str, Decimal] = defaultdict(Decimal)
    for row in world.live.values():  # every synced money line is of November, through the clock's Nov 3
        expected[row["ServiceName"]] += row["BilledCost"]
    assert dict(result) == dict(expected)
    assert [billed for _, billed in result] == sorted(expected.values(), reverse=True)

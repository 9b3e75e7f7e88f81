"""The dashboard's HTTP side without a browser: the token guards every figure and scopes it to its environment, bad
filters are named, an unsynced or unreadable destination says what to do, the page's files are the ones committed
and load nothing from elsewhere, and PostgreSQL gives the same figures as DuckDB."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from tests.dashboard.world import World, no_sleep, serve
from unimeter.dashboard.assets import static_dir
from unimeter.service.dashboard_api import _csv_cell
from unimeter.sync import SyncOptions, parse_destination, sync
from unimeter.synced import SyncedDatabase


def get(world: World, path: str, environment: str | None = "prod", **params: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {world.tokens[environment]}"} if environment else {}
    return httpx.get(world.url + path, params=params, headers=headers, timeout=30)


def period(days: int = 30) -> dict[str, str]:
    today = datetime.now(UTC).date()
    return {"from": (today - timedelta(days=days - 1)).isoformat(), "to": today.isoformat()}


@pytest.mark.parametrize(
    "path", ["/dashboard/api/overview", "/dashboard/api/health", "/dashboard/api/rows", "/dashboard/api/rows.csv"]
)
def test_every_data_route_needs_a_valid_token(world: World, path: str) -> None:
    missing = get(world, path, environment=None)
    assert missing.status_code == 401
    assert missing.json()["error"] == "unauthorized"
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = httpx.get(world.url + path, headers={"Authorization": "Bearer nope"}, timeout=30)
    assert wrong.status_code == 401


def test_a_token_sees_only_its_environment(world: World) -> None:
    staging = get(world, "/dashboard/api/overview", "staging", **period()).json()
    assert staging["environment"] == "staging"
    assert staging["choices"]["integrations"] == ["cursor", "openai"]
    rows = get(world, "/dashboard/api/rows", "staging", limit="1000", **period()).json()
    ids = [row[rows["columns"].index("id")] for row in rows["rows"]]
    assert ids and len(ids) == rows["total"]
    placeholders = ", ".join("?" for _ in ids)
    environments = world.sql(f"SELECT DISTINCT environment FROM unimeter.usage WHERE id IN ({placeholders})", *ids)
    assert environments == [("staging",)]
    # The environment is the token's: asking for another one is a named error, not a way in.
    asked = httpx.get(
        world.url + "/dashboard/api/overview",
        params={"environment": "prod"},
        headers={"Authorization": f"Bearer {world.tokens['staging']}"},
        timeout=30,
    )
    assert asked.status_code == 400
    assert asked.json()["details"]["parameter"] == "environment"
    health = get(world, "/dashboard/api/health", "staging").json()
    assert {account["id"] for account in health["accounts"]} == set(world.accounts["staging"].values())


@pytest.mark.parametrize(
    ("params", "parameter", "says"),
    [
        ({"from": "2026-13-01"}, "from", "YYYY-MM-DD"),
        ({"to": "9999-12-31"}, "to", "from 1970-01-01 to 9998-12-31"),
        ({"from": "0001-01-01"}, "from", "from 1970-01-01"),
        ({"from": "2026-11-02", "to": "2026-11-01"}, "from", "is after to"),
        ({"granularity": "week"}, "granularity", "day, month"),
        ({"currency": "usd"}, "currency", "ISO 4217"),
        ({"integration": "../etc"}, "integration", "not an integration name"),
        ({"limit": "0"}, "limit", "from 1 to 1000"),
        ({"offset": "-1"}, "offset", "whole number"),
        ({"colour": "red"}, "colour", "unknown parameter"),
    ],
)
def test_a_bad_filter_is_named(world: World, params: dict[str, str], parameter: str, says: str) -> None:
    answer = get(world, "/dashboard/api/rows", **params)
    assert answer.status_code == 400
    body = answer.json()
    assert body["details"]["parameter"] == parameter
    assert says in body["message"]
    assert "Traceback" not in answer.text


def test_the_csv_has_every_row_and_exact_amounts(world: World) -> None:
    answer = get(world, "/dashboard/api/rows.csv", "prod", integration="confluent", **period())
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    expected = dict(
        world.sql(
            "SELECT u.id, SUM(c.amount) FROM unimeter.usage u JOIN unimeter.charges c ON c.usage_id = u.id "
            "WHERE c.type = 'net' AND u.environment = 'prod' AND u.integration = 'confluent' GROUP BY u.id"
        )
    )
    assert {row["id"]: Decimal(row["net_USD"]) for row in rows if row["net_USD"]} == expected
    assert all(row["integration"] == "confluent" for row in rows)


def test_csv_cells_a_spreadsheet_would_run_are_defused() -> None:
    assert _csv_cell("user", '=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    assert _csv_cell("model", "@SUM(A1)") == "'@SUM(A1)"
    assert _csv_cell("net_USD", "-0.095327") == "-0.095327"  # an amount stays a number
    assert _csv_cell("user", None) == ""


def test_the_page_and_its_files_load_nothing_from_elsewhere(world: World) -> None:
    page = httpx.get(world.url + "/", timeout=30)
    assert page.status_code == 200
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy and "http" not in policy
    assert page.headers["X-Frame-Options"] == "DENY"
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(source.startswith(("/dashboard/static/", "#", "data:")) for source in sources), sources
    script = (static_dir() / "dashboard.js").read_text(encoding="utf-8")
    assert not re.search(r"https?://", script)
    for source in sources:
        if source.startswith("/"):
            answer = httpx.get(world.url + source, timeout=30)
            assert answer.status_code == 200, source
            assert answer.headers["Content-Security-Policy"] == policy


def test_the_chart_library_is_the_release_its_manifest_names() -> None:
    folder = static_dir() / "vendor" / "echarts"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["package"] == "echarts" and manifest["license"] == "Apache-2.0"
    for name, digest in manifest["files_sha256"].items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name
    assert "Apache License" in (folder / "LICENSE").read_text()


def test_nothing_synced_yet_says_how_to_sync(world: World, tmp_path: Path) -> None:
    with serve(world.store, SyncedDatabase("duckdb", str(tmp_path / "never.duckdb"))) as service:
        headers = {"Authorization": f"Bearer {world.tokens['prod']}"}
        overview = httpx.get(service.url + "/dashboard/api/overview", headers=headers, timeout=30).json()
        assert overview["synced"] is False
        assert "unimeter sync --environment prod" in overview["message"]
        assert overview["accounts"] == len(world.accounts["prod"])
        health = httpx.get(service.url + "/dashboard/api/health", headers=headers, timeout=30).json()
        assert all(
            account["advice"].startswith("never synced")
            for account in health["accounts"]
            if account["status"] == "active"
        )


def test_a_destination_being_written_is_a_503_that_says_so(world: World, tmp_path: Path) -> None:
    copy = tmp_path / "busy.duckdb"
    copy.write_bytes(world.duckdb_file.read_bytes())
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('open', flush=True); time.sleep(120)",
            str(copy),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "open"
        with serve(world.store, SyncedDatabase("duckdb", str(copy))) as service:
            headers = {"Authorization": f"Bearer {world.tokens['prod']}"}
            answer = httpx.get(service.url + "/dashboard/api/overview", headers=headers, timeout=30)
            health = httpx.get(service.url + "/dashboard/api/health", headers=headers, timeout=30)
    finally:
        writer.kill()
        writer.wait()
    assert answer.status_code == 503
    body = answer.json()
    assert body["error"] == "sync_destination_unavailable"
    assert "a sync is probably writing it: try again when it ends" in body["message"]
    assert "Traceback" not in answer.text
    # The accounts are in the store, which still answers: health lists them and says why their syncs are unknown.
    assert health.status_code == 200
    assert "cannot read the sync destination" in health.json()["sync_state_error"]
    assert {account["id"] for account in health.json()["accounts"]} == set(world.accounts["prod"].values())
    assert all(account["advice"] is None for account in health.json()["accounts"] if account["status"] == "active")


def fresh_database(server_url: str, name: str) -> str:
    """A new, empty database on the session's server (others sync into its default one), by URL."""
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name}")
        connection.execute(f"CREATE DATABASE {name}")
    parts = urlsplit(server_url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def test_postgresql_gives_the_figures_duckdb_gives(world: World, postgres_url: str) -> None:
    postgres_url = fresh_database(postgres_url, "unimeter_dashboard")
    since = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=6)
    report = sync(world.store, parse_destination(postgres_url), SyncOptions(since=since, sleep=no_sleep), progress=None)
    assert report.rows > 0
    headers = {"Authorization": f"Bearer {world.tokens['prod']}"}
    # Up to yesterday: the sandbox's today grows with the clock, and the two syncs ran minutes apart.
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    days = {"from": (yesterday - timedelta(days=29)).isoformat(), "to": yesterday.isoformat()}
    with serve(world.store, SyncedDatabase("postgres", postgres_url)) as service:
        for path, params in (
            ("/dashboard/api/overview", days),
            ("/dashboard/api/overview", {**days, "granularity": "month", "integration": "claude"}),
            ("/dashboard/api/rows", {**days, "limit": "250", "offset": "50"}),
        ):
            on_postgres = httpx.get(service.url + path, params=params, headers=headers, timeout=60).json()
            on_duckdb = get(world, path, **params).json()
            assert on_postgres["synced"] is True
            for body in (on_postgres, on_duckdb):
                body.pop("choices", None)  # the overview's span ends today
            assert on_postgres == on_duckdb, path


def test_two_currencies_are_never_added_together(world: World, tmp_path: Path) -> None:
    """A copy of the synced file where three rows are billed in EUR as well: the bill tile has each currency apart,
    the charts draw the chosen one, and the table and CSV give each its own column."""
    import duckdb

    copy = tmp_path / "two-currencies.duckdb"
    copy.write_bytes(world.duckdb_file.read_bytes())
    with duckdb.connect(str(copy)) as connection:
        connection.execute(
            "INSERT INTO unimeter.usage__charges SELECT * REPLACE ('EUR' AS currency, amount * 2 AS amount, "
            "_dlt_id || '-eur' AS _dlt_id) FROM unimeter.usage__charges c "
            "WHERE c.type = 'net' AND c._dlt_root_id IN (SELECT _dlt_id FROM unimeter.usage "
            "WHERE environment = 'prod' AND integration = 'datadog') "
        )
        first = datetime.combine(datetime.now(UTC).date() - timedelta(days=29), datetime.min.time(), tzinfo=UTC)
        bills = dict(
            connection.execute(
                "SELECT c.currency, SUM(c.amount) FROM unimeter.usage u JOIN unimeter.charges c "
                "ON c.usage_id = u.id WHERE c.type = 'net' AND u.environment = 'prod' AND u.start_date >= ? "
                "GROUP BY c.currency",
                [first],
            ).fetchall()
        )
    usd, eur = bills["USD"], bills["EUR"]
    headers = {"Authorization": f"Bearer {world.tokens['prod']}"}
    with serve(world.store, SyncedDatabase("duckdb", str(copy))) as service:
        overview = httpx.get(service.url + "/dashboard/api/overview", headers=headers, timeout=30).json()
        totals = {total["currency"]: Decimal(total["net"]) for total in overview["figures"]["totals"]}
        assert totals == {"USD": usd, "EUR": eur}
        assert overview["choices"]["currencies"] == ["EUR", "USD"]
        assert overview["figures"]["currency"] == "USD"  # the largest bill, unless one is asked for
        in_euros = httpx.get(
            service.url + "/dashboard/api/overview", params={"currency": "EUR"}, headers=headers, timeout=30
        ).json()["figures"]
        assert [series["integration"] for series in in_euros["cost_over_time"]["series"]] == ["datadog"]
        drawn = sum(Decimal(value) for value in in_euros["cost_over_time"]["series"][0]["values"] if value)
        assert drawn == eur
        text = httpx.get(service.url + "/dashboard/api/rows.csv", headers=headers, timeout=30).text
        rows = list(csv.DictReader(io.StringIO(text)))
        assert sum(Decimal(row["net_EUR"]) for row in rows if row["net_EUR"]) == eur
        assert sum(Decimal(row["net_USD"]) for row in rows if row["net_USD"]) == usd

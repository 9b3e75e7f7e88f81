"""A sync into PostgreSQL (the test session's server) holds the same rows, charges and state as one into DuckDB, and
the doc's SQL examples give the same results on both."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.sync.queue_helpers import fresh_database
from tests.sync.sync_helpers import query, sync_world
from tests.sync.test_sync_docs import doc_examples
from unimeter.sync import SyncDestinationError, parse_destination

VENDORS = ["confluent", "cursor", "openai", "datadog"]
ROWS = """
SELECT id, integration, report, operation, start_date, end_date, final_at, tokens_input, quantity, user_email,
       remote_data FROM unimeter.usage ORDER BY id
"""
CHARGES = "SELECT usage_id, type, amount, currency FROM unimeter.charges ORDER BY usage_id, type"
STATE = (
    "SELECT stream, status, synced_from, high_water_mark, refetch_from FROM unimeter._unimeter_sync_state ORDER BY 1"
)


def _postgres(url: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as connection:
        return connection.execute(sql).fetchall()


def _json(rows: list[tuple[Any, ...]], column: int) -> list[tuple[Any, ...]]:
    """The JSON column as data (DuckDB returns its text, PostgreSQL a parsed value)."""
    return [
        (*row[:column], json.loads(row[column]) if isinstance(row[column], str) else row[column], *row[column + 1 :])
        for row in rows
    ]


def test_postgres_holds_what_duckdb_holds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres_url: str) -> None:
    with fresh_database(postgres_url, "unimeter_sync") as url, sync_world(tmp_path, monkeypatch, VENDORS) as world:
        on_duckdb = world.sync()
        on_postgres = world.sync(parse_destination(url))
        again = world.sync(parse_destination(url))  # idempotent there too
        assert not on_duckdb.failed and not on_postgres.failed and not again.failed, on_postgres.to_dict()
        db = tmp_path / "usage.duckdb"
        duck = {sql: query(db, sql) for sql in (ROWS, CHARGES, STATE)}
        pg = {sql: _postgres(url, sql) for sql in (ROWS, CHARGES, STATE)}
        examples = {name: (query(db, sql), _postgres(url, sql)) for name, sql in doc_examples().items()}
        columns = _postgres(
            url,
            "SELECT column_name, data_type, numeric_precision, numeric_scale FROM information_schema.columns "
            "WHERE table_schema = 'unimeter' AND table_name = 'usage__charges' AND column_name = 'amount'",
        )
    assert len(duck[ROWS]) > 100
    assert _json(pg[ROWS], 10) == _json(duck[ROWS], 10)
    assert pg[CHARGES] == duck[CHARGES]
    assert all(isinstance(row[2], Decimal) for row in pg[CHARGES])
    assert [row[1:] for row in pg[STATE]] == [row[1:] for row in duck[STATE]]
    assert columns == [("amount", "numeric", 38, 18)]
    for name, (on_duck, on_pg) in examples.items():
        if name != "sync state":
            assert on_pg == on_duck, name


def test_an_unreachable_destination_is_one_error_without_its_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with sync_world(tmp_path, monkeypatch, ["confluent"]) as world:
        destination = parse_destination("postgresql://sync:s3cret-pw@127.0.0.1:1/finops")
        with pytest.raises(SyncDestinationError) as raised:
            world.sync(destination)
    message = str(raised.value)
    assert "s3cret-pw" not in message and "postgresql://sync:***@127.0.0.1:1/finops" in message
    assert destination.shown == "postgresql://sync:***@127.0.0.1:1/finops"

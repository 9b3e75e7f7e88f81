"""Every SQL example of docs/sync.md, run against a DuckDB synced from the whole sandbox, gives what the API's own rows
say: the sums are computed here from ``unimeter.list_usage`` over the same sandbox and clock, with Decimal money."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.paths import PROJECT
from tests.sync.sync_helpers import SyncWorld, query, sync_world
from unimeter.sandbox import SIMULATORS
from unimeter.sync import SyncReport

DOC = PROJECT / "docs" / "sync.md"

Rows = list[dict[str, Any]]


def doc_examples() -> dict[str, str]:
    """The doc's ```sql blocks by the name their first comment gives (``-- NAME: ...`` or ``-- NAME``)."""
    blocks = re.findall(r"```sql\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)
    examples = {}
    for block in blocks:
        first = block.splitlines()[0]
        assert first.startswith("-- "), f"each SQL example starts with a comment naming it: {first!r}"
        examples[first[3:].split(":")[0].strip()] = block
    return examples


def _nets(rows: Rows) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(row, charge) for row in rows for charge in row.get("charges", []) if charge["type"] == "net"]


def _amount(charge: dict[str, Any]) -> Decimal:
    return Decimal(repr(charge["amount"]))


def cost_by_vendor_by_day(rows: Rows) -> list[tuple[Any, ...]]:
    sums: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for row, charge in _nets(rows):
        sums[(row["_integration"], row["start_date"][:10], charge["currency"])] += _amount(charge)
    return sorted((name, day, currency, net) for (name, day, currency), net in sums.items())


def tokens_by_model(rows: Rows) -> list[tuple[Any, ...]]:
    sums: dict[str, list[float | None]] = {}
    for row in rows:
        tokens = row.get("usage", {}).get("tokens", {})
        model = row.get("model", {}).get("id")
        if model is None or ("input" not in tokens and "output" not in tokens):
            continue
        entry = sums.setdefault(model, [None, None])
        for index, key in enumerate(("input", "output")):
            if key in tokens:
                entry[index] = (entry[index] or 0) + tokens[key]
    return sorted((model, *values) for model, values in sums.items())


def top_users_by_cost(rows: Rows) -> list[tuple[Any, ...]]:
    sums: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for row, charge in _nets(rows):
        user = row.get("user", {})
        key = user.get("email") or user.get("id")
        if key is not None:
            sums[(key, charge["currency"])] += _amount(charge)
    ranked = sorted(sums.items(), key=lambda item: (-item[1], item[0][0]))
    return [(key, currency, net) for (key, currency), net in ranked[:10]]


def bill_per_vendor(rows: Rows) -> list[tuple[Any, ...]]:
    sums: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for row, charge in _nets(rows):
        sums[(row["_integration"], charge["currency"])] += _amount(charge)
    return sorted((name, currency, net) for (name, currency), net in sums.items())


EXPECTED: dict[str, Callable[[Rows], list[tuple[Any, ...]]]] = {
    "cost by vendor by day": cost_by_vendor_by_day,
    "tokens by model": tokens_by_model,
    "top users by cost": top_users_by_cost,
    "the bill per vendor": bill_per_vendor,
}


def _normalised(result: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """SQL values as the expectations write them: a date as YYYY-MM-DD, a whole double as an int."""
    out = []
    for row in result:
        values = []
        for value in row:
            if hasattr(value, "isoformat"):
                value = value.isoformat()
            elif isinstance(value, float) and value.is_integer():
                value = int(value)
            values.append(value)
        out.append(tuple(values))
    return out


def api_rows(world: SyncWorld, report: SyncReport) -> Rows:
    """The API's rows of every report the sync read, each tagged with its integration."""
    rows: Rows = []
    for stream in report.streams:
        if stream.status != "ok":
            continue
        params = dict(part.split("=", 1) for part in stream.report.split(",")) if stream.report != "default" else {}
        rows += [{**row, "_integration": stream.integration} for row in world.api_rows(stream.integration, params)]
    return rows


def test_every_example_is_checked() -> None:
    assert set(doc_examples()) == {*EXPECTED, "sync state"}


def test_the_doc_sql_gives_the_api_figures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with sync_world(tmp_path, monkeypatch, list(SIMULATORS)) as world:
        report = world.sync()
        assert not report.failed, report.to_dict()
        rows = api_rows(world, report)
    db = tmp_path / "usage.duckdb"
    examples = doc_examples()
    for name, expected in EXPECTED.items():
        result = _normalised(query(db, examples[name]))
        want = expected(rows)
        assert want, f"{name}: the sandbox gives this example nothing to show"
        if name in ("cost by vendor by day", "the bill per vendor", "tokens by model"):
            assert sorted(result) == want, name
        else:
            assert result == want, name
    days = [row[1] for row in _normalised(query(db, examples["cost by vendor by day"]))]
    assert days == sorted(days)
    state = query(db, examples["sync state"])
    streams = sorted((s.integration, s.report, s.status, s.rows) for s in report.streams)
    assert [(row[0], row[1], row[2], row[5]) for row in state] == streams
    assert all(row[3] is not None and row[4] is not None for row in state if row[2] == "ok")
    # Every vendor with money shows up in the bill, exactly.
    billed = {row[0] for row in query(db, examples["the bill per vendor"])}
    assert billed == {row["_integration"] for row, _ in _nets(rows)} and len(billed) >= 5

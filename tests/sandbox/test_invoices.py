"""Σ net is the bill: every money simulator's own invoice against the rows unimeter makes from its API.

Each simulator with money works out its bill for a range from its own data (``VendorSimulator.invoice``), never
through a mapping, and names the unified queries that cover the range once (``billing_queries``). Summed over those
queries' rows, ``net`` must equal the bill exactly, for closed months, for the month still open (the vendor's
estimate), for a month read before and after the vendor makes it final, and for two overlapping reads upserted by id.
No integration is named here: a new money simulator is covered by adding one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from unimeter.run.pipeline import iter_pages
from unimeter.run.ratelimit import RateLimiter
from unimeter.sandbox import SIMULATORS, SandboxConfig, account_fields, start_sandbox
from unimeter.sandbox.vendors.base import VendorSimulator
from unimeter.spec.registry import load_integration
from unimeter.testing.money import money_problems

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)
SMALL = {"users": 6, "organizations": 2, "resources": 3}  # 6 users: the fifth Codex user is USD-billed
# The simulators serve small pages (a month of a report is hundreds of them); this test is about money, so the
# vendors' request rates are not waited out here (tests/e2e/test_cursor_rate_budget.py holds the engine to them).
UNLIMITED = RateLimiter(1_000_000, 1.0)
MONEY = sorted(name for name, simulator in SIMULATORS.items() if simulator.invoice is not VendorSimulator.invoice)


def _simulator(name: str, now: datetime) -> VendorSimulator:
    return SIMULATORS[name](SandboxConfig(now=now, **SMALL))


@pytest.fixture(
    scope="module", params=[NOW, datetime(2026, 11, 10, 12, tzinfo=UTC), datetime(2026, 12, 20, 12, tzinfo=UTC)]
)
def clock_sandbox(request: pytest.FixtureRequest) -> Iterator[tuple[datetime, Any]]:
    now: datetime = request.param
    with start_sandbox(MONEY, SandboxConfig(now=now, **SMALL)) as sandbox:
        yield now, sandbox


def _rows(name: str, sandbox: Any, now: datetime, start: date, end: date) -> list[dict[str, Any]]:
    queries = SIMULATORS[name].billing_queries(start, end)
    assert queries, f"{name} has an invoice but names no billing queries"

    spec = load_integration(name)
    money = {operation.name: operation.money for operation in spec.operations}

    async def read_all() -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for params in queries:
            async for page in iter_pages(
                spec, **account_fields(sandbox.endpoint(name)), params=params, now=now, rate_limiter=UNLIMITED
            ):
                for row in page.rows:  # every row keeps the money contract, not only the sum
                    assert money_problems(row, money[page.operation], page.operation) == []
                rows.extend(page.rows)
        return rows

    return asyncio.run(read_all())


def _net(rows: list[dict[str, Any]]) -> Decimal:
    nets = [c for row in rows for c in row.get("charges", []) if c["type"] == "net"]
    return sum(
        (Decimal(repr(c["amount"])) if isinstance(c["amount"], float) else Decimal(c["amount"]) for c in nets),
        Decimal(0),
    )


def test_there_are_money_simulators_to_check() -> None:
    assert len(MONEY) >= 4, MONEY


def _month(now: datetime, back: int) -> tuple[date, date]:
    """The calendar month ``back`` months before ``now``'s, as [1st, 1st of the next)."""
    index = now.year * 12 + now.month - 1 - back
    start = date(index // 12, index % 12 + 1, 1)
    return start, date((index + 1) // 12, (index + 1) % 12 + 1, 1)


@pytest.mark.parametrize("name", MONEY)
@pytest.mark.parametrize("back", [2, 1])
def test_a_closed_month_sums_to_the_invoice(name: str, back: int, clock_sandbox: tuple[datetime, Any]) -> None:
    now, sandbox = clock_sandbox
    start, end = _month(now, back)  # within every vendor's lookback (Codex: 90 days)
    invoice = _simulator(name, now).invoice(start, end)
    rows = _rows(name, sandbox, now, start, end)
    assert invoice is not None and invoice > 0, "a month of sandbox usage costs something"
    assert _net(rows) == invoice
    assert len({row["id"] for row in rows}) == len(rows), "a month's rows have distinct ids"


@pytest.mark.parametrize("name", MONEY)
def test_the_open_month_sums_to_the_vendors_estimate_so_far(name: str, clock_sandbox: tuple[datetime, Any]) -> None:
    now, sandbox = clock_sandbox
    start, end = now.date().replace(day=1), date.fromordinal(now.date().toordinal() + 1)
    invoice = _simulator(name, now).invoice(start, end)
    assert _net(_rows(name, sandbox, now, start, end)) == invoice
    # nothing after today is billed: a range reaching into the future costs what the range through today costs
    assert _simulator(name, now).invoice(start, date(2027, 1, 1)) == invoice


@pytest.mark.parametrize("name", MONEY)
def test_overlapping_reads_upserted_by_id_give_the_bill_once(name: str, clock_sandbox: tuple[datetime, Any]) -> None:
    now, sandbox = clock_sandbox
    first = _rows(name, sandbox, now, date(2026, 10, 1), date(2026, 10, 21))
    second = _rows(name, sandbox, now, date(2026, 10, 11), date(2026, 11, 1))
    upserted = {row["id"]: row for row in first} | {row["id"]: row for row in second}
    overlap = set(row["id"] for row in first) & set(row["id"] for row in second)
    assert overlap, "the two reads share the days Oct 11-20"
    assert _net(list(upserted.values())) == _simulator(name, now).invoice(date(2026, 10, 1), date(2026, 11, 1))


@pytest.mark.parametrize("name", MONEY)
def test_a_month_read_before_and_after_it_is_final_keeps_its_ids(name: str) -> None:
    october = (date(2026, 10, 1), date(2026, 11, 1))
    reads = {}
    for now in (datetime(2026, 11, 10, 12, tzinfo=UTC), datetime(2026, 12, 20, 12, tzinfo=UTC)):
        with start_sandbox([name], SandboxConfig(now=now, **SMALL)) as sandbox:
            rows = _rows(name, sandbox, now, *october)
        assert _net(rows) == _simulator(name, now).invoice(*october)
        reads[now] = rows
    early, late = reads.values()
    assert {row["id"] for row in early} <= {row["id"] for row in late} or {row["id"] for row in late} <= {
        row["id"] for row in early
    }, "the same measurements keep their ids whichever endpoint or day they are read on"

"""A month of every simulator exported as FOCUS: Σ BilledCost is each vendor's bill, and the CSV and Parquet files
pass the FinOps Foundation's validator.

The bill comes from the simulators themselves: the queries each names as covering a range once
(``billing_queries``, independent of the mappings' ``focus.queries``) and, where it states one, its own invoice. No
integration is named here: a new simulator with money is covered by being one.
"""

from __future__ import annotations

import asyncio
import csv
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.focus import validator
from unimeter.focus import COLUMNS, write_focus
from unimeter.focus.export import ExportRange, live_focus_rows
from unimeter.focus.mapping import to_decimal
from unimeter.run.pipeline import iter_pages
from unimeter.run.ratelimit import RateLimiter
from unimeter.sandbox import SIMULATORS, SandboxConfig, account_fields, start_sandbox
from unimeter.store import Account, open_store

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)
OCTOBER = ExportRange(date(2026, 10, 1), date(2026, 10, 31))
SMALL = {"users": 6, "organizations": 2, "resources": 3}  # 6 users: the fifth Codex user is USD-billed
# The simulators serve small pages; this test is about the rows, not the vendors' request rates.
UNLIMITED = RateLimiter(1_000_000, 1.0)
NAMES = sorted(SIMULATORS)


@dataclass(frozen=True)
class Exported:
    accounts: dict[str, Account]
    rows: list[dict[str, Any]]
    bills: dict[str, Decimal]
    """Σ net of each simulator's own billing queries over the range."""


def _net(rows: list[dict[str, Any]]) -> Decimal:
    return sum(
        (to_decimal(c["amount"]) for row in rows for c in row.get("charges", []) if c["type"] == "net"), Decimal(0)
    )


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exported]:
    folder = tmp_path_factory.mktemp("focus-store")
    store = open_store(f"sqlite:///{folder / 'store.db'}", key_file=folder / "secret.key")
    with start_sandbox(NAMES, SandboxConfig(now=NOW, **SMALL)) as sandbox:
        accounts = {
            name: store.create_account(name, environment="test", **account_fields(sandbox.endpoint(name)))
            for name in NAMES
        }

        async def read() -> tuple[list[dict[str, Any]], dict[str, Decimal]]:
            rows: list[dict[str, Any]] = []
            async for _, lines in live_focus_rows(list(accounts.values()), OCTOBER, now=NOW, rate_limiter=UNLIMITED):
                rows.extend(lines)
            bills: dict[str, Decimal] = {}
            for name in accounts:
                unified: list[dict[str, Any]] = []
                after = OCTOBER.end + timedelta(days=1)
                for params in SIMULATORS[name].billing_queries(OCTOBER.start, after):
                    async for page in iter_pages(
                        name, **account_fields(sandbox.endpoint(name)), params=params, now=NOW, rate_limiter=UNLIMITED
                    ):
                        unified.extend(page.rows)
                bills[name] = _net(unified)
            return rows, bills

        rows, bills = asyncio.run(read())
    yield Exported(accounts, rows, bills)


@pytest.mark.parametrize("name", NAMES)
def test_billed_cost_sums_to_the_bill_of_every_integration(name: str, exported: Exported) -> None:
    account = str(exported.accounts[name].id)
    lines = [line for line in exported.rows if line["BillingAccountId"] == account]
    assert lines, f"{name}: a month of sandbox money makes FOCUS rows"
    assert {line["x_UnimeterIntegration"] for line in lines} == {name}
    billed = sum((line["BilledCost"] for line in lines), Decimal(0))
    assert billed == exported.bills[name]
    simulator = SIMULATORS[name](SandboxConfig(now=NOW, **SMALL))
    invoice = simulator.invoice(OCTOBER.start, OCTOBER.end + timedelta(days=1))
    if invoice is not None:
        assert billed == invoice
    # never a concept twice: Σ EffectiveCost is the bill too (no amortized purchases), and each line is one meter
    assert sum((line["EffectiveCost"] for line in lines), Decimal(0)) == billed
    assert len({line["x_UnimeterLineId"] for line in lines}) == len(lines)
    assert all(OCTOBER.holds(line["ChargePeriodStart"]) for line in lines)


def test_the_export_has_every_charge_category_the_sandbox_bills(exported: Exported) -> None:
    # the sandbox's Confluent promotional credits are credit lines; everything else is usage
    assert {line["ChargeCategory"] for line in exported.rows} == {"Usage", "Credit"}
    listed = [line for line in exported.rows if line["ListCost"] != line["BilledCost"]]
    assert listed, "rows with a stated gross and a discount are listed at the gross"
    assert all(line["ListCost"] > line["BilledCost"] for line in listed)


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    python = validator.validator_python()
    return python, validator.corrected_rules(python, tmp_path_factory.mktemp("focus-rules"))


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_the_export_passes_the_focus_validator(
    suffix: str, exported: Exported, rules: tuple[Path, Path], tmp_path: Path
) -> None:
    target = tmp_path / f"focus{suffix}"
    assert write_focus(exported.rows, target) == len(exported.rows)
    python, rule_set = rules
    report = validator.validate(python, rule_set, target, tmp_path)
    assert report.failed == {}
    assert report.checks >= 130  # the validator's FOCUS 1.0 rule set: 133 checks when this was written


def test_the_validator_fails_a_file_that_breaks_focus(
    exported: Exported, rules: tuple[Path, Path], tmp_path: Path
) -> None:
    """The harness can fail: the same export with one unknown ServiceCategory and one missing BilledCost."""
    target = tmp_path / "broken.csv"
    write_focus(exported.rows, target)
    with target.open(encoding="utf-8", newline="") as handle:
        table = list(csv.reader(handle))
    header = table[0]
    table[1][header.index("ServiceCategory")] = "Spaceships"
    table[2][header.index("BilledCost")] = ""
    with target.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(table)
    python, rule_set = rules
    report = validator.validate(python, rule_set, target, tmp_path)
    assert set(report.failed) >= {"ServiceCategory_Enum :: ValueInCheck", "BilledCost_NotNull :: AllowNullsCheck"}


def test_csv_and_parquet_hold_the_same_rows(exported: Exported, tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    write_focus(exported.rows, tmp_path / "focus.csv")
    write_focus(exported.rows, tmp_path / "focus.parquet")
    with (tmp_path / "focus.csv").open(encoding="utf-8", newline="") as handle:
        from_csv = list(csv.DictReader(handle))
    table = pq.read_table(tmp_path / "focus.parquet")
    assert table.column_names == list(COLUMNS) == list(from_csv[0])
    from_parquet = table.to_pylist()
    assert len(from_csv) == len(from_parquet) == len(exported.rows)
    by_integration: dict[str, Decimal] = defaultdict(Decimal)
    for text_row, typed_row, line in zip(from_csv, from_parquet, exported.rows, strict=True):
        assert text_row["x_UnimeterLineId"] == typed_row["x_UnimeterLineId"] == line["x_UnimeterLineId"]
        assert Decimal(text_row["BilledCost"]) == line["BilledCost"]  # CSV: exact
        assert typed_row["BilledCost"] == float(line["BilledCost"])  # Parquet: the nearest double
        assert typed_row["ChargePeriodStart"] == line["ChargePeriodStart"]
        assert text_row["ChargePeriodStart"] == line["ChargePeriodStart"].strftime("%Y-%m-%dT%H:%M:%SZ")
        by_integration[text_row["x_UnimeterIntegration"]] += Decimal(text_row["BilledCost"])
    assert dict(by_integration) == exported.bills

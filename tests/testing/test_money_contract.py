"""The money contract checker that ``unimeter check`` runs on every case (docs/money.md).

Each rule is shown breaking on a row made by hand, and a mapping whose rows break it fails its own fixture case even
when expected.json agrees with the rows: the contract is the mapping's, not the fixture's.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.specs import demo_spec
from unimeter.spec import MAPPINGS_PATH_ENV
from unimeter.testing.fixtures import FixtureCase, run_case
from unimeter.testing.money import money_problems


def usd(kind: str, amount: float | int) -> dict[str, Any]:
    return {"type": kind, "amount": amount, "currency": "USD"}


def row(*charges: dict[str, Any]) -> dict[str, Any]:
    return {"id": "r1", "charges": list(charges)}


def test_a_row_that_adds_up_has_no_problem() -> None:
    # 0.1 + 0.2 = 0.3 only in decimal arithmetic: the check must not use floats
    good = row(usd("total", 0.3), usd("discount", -0.1), usd("credit", -0.1), usd("tax", 0), usd("net", 0.1))
    assert money_problems(good, "billed", "op") == []
    assert money_problems(row(usd("committed", 0.1), usd("on_demand", 0.2), usd("net", 0.3)), "estimated", "op") == []
    assert money_problems(row(usd("net", 5)), "billed", "op") == []  # net alone: the vendor gave only the bill
    assert money_problems({"id": "r1"}, "none", "op") == []


@pytest.mark.parametrize(
    ("bad", "money", "says"),
    [
        (row(usd("total", 10), usd("discount", 2), usd("net", 8)), "billed", "discount 2 is positive"),
        (row(usd("credit", 3), usd("net", 3)), "billed", "credit 3 is positive"),
        (row(usd("total", 10), usd("discount", -2), usd("net", 9)), "billed", "= 8, but net is 9"),
        (row(usd("total", 10)), "billed", "no 'net'"),
        (row(usd("usage_based", 10)), "estimated", "no 'net'"),
        (row(usd("net", 1), usd("net", 2)), "billed", "2 'net' charges"),
        (row(usd("net", 1), {"type": "total", "amount": 1, "currency": "EUR"}), "billed", "mixes currencies"),
        (row(usd("net", 1)), "none", "declares no money"),
        (row(usd("total", 1), usd("net", 1)), "list_price", "has no 'net' charge"),
    ],
)
def test_each_rule_catches_its_breach(bad: dict[str, Any], money: str, says: str) -> None:
    problems = money_problems(bad, money, "op")
    assert any(says in problem for problem in problems), problems
    assert all("'r1'" in problem and "operation op" in problem for problem in problems)


def _case_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, money_line: str, charges: str) -> FixtureCase:
    mappings, fixtures = tmp_path / "mappings", tmp_path / "fixtures" / "moneyco" / "one-day"
    mappings.mkdir()
    fixtures.mkdir(parents=True)
    transform = (
        "{jsonata: \"{'id': 'moneyco:' & id, 'start_date': '2026-10-01T00:00:00Z', "
        f"'end_date': '2026-10-02T00:00:00Z', 'charges': {charges}}}\"}}"
    )
    operation = (
        f"  - name: costs\n{money_line}    request: {{method: GET, path: /costs}}\n"
        f"    records: {{jsonata: data}}\n    transform: {transform}\n"
    )
    (mappings / "moneyco.yaml").write_text(
        demo_spec(operation, name="moneyco", fills="[id, charges, start_date, end_date, remote_data]"), "utf-8"
    )
    record = {"id": "a"}
    (fixtures / "case.yaml").write_text("description: one record\nnow: '2026-11-26T12:00:00Z'\n", "utf-8")
    exchanges = [{"request": {"method": "GET", "url": "https://api.example.com/costs"},
                  "response": {"status": 200, "body": {"data": [record]}}}]  # fmt: skip
    (fixtures / "exchanges.json").write_text(json.dumps(exchanges), "utf-8")
    expected_row = {
        "id": "moneyco:a",
        "start_date": "2026-10-01T00:00:00Z",
        "end_date": "2026-10-02T00:00:00Z",
        "charges": json.loads(charges.replace("'", '"')),
        "remote_data": record,
    }
    (fixtures / "expected.json").write_text(json.dumps({"result": [expected_row], "next_cursor": None}), "utf-8")
    monkeypatch.setenv(MAPPINGS_PATH_ENV, str(mappings))
    return FixtureCase("moneyco", "one-day", fixtures)


def test_a_case_whose_rows_break_the_contract_fails_though_expected_json_agrees(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = _case_folder(tmp_path, monkeypatch, "", "[{'type': 'net', 'amount': 4, 'currency': 'USD'}]")
    problems = asyncio.run(run_case(case)).problems
    assert problems and "declares no money" in problems[0]


def test_the_same_case_passes_once_the_operation_declares_its_money(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = _case_folder(
        tmp_path, monkeypatch, "    money: billed\n", "[{'type': 'net', 'amount': 4, 'currency': 'USD'}]"
    )
    assert asyncio.run(run_case(case)).problems == []

"""``unimeter export focus`` as a user runs it: against the store's accounts on the sandbox, and every mistake a
command line can make, each refused with what is wrong and no file left behind."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from unimeter.cli import main
from unimeter.focus.export import export_range
from unimeter.focus.mapping import to_decimal
from unimeter.run.pipeline import list_usage
from unimeter.sandbox import SandboxConfig, account_fields, parse_fault, start_sandbox
from unimeter.store import Store, open_store

DAYS = ["--start", "2026-10-01", "--end", "2026-10-02"]


@pytest.fixture
def store_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Store]:
    """A store file whose key the command finds as the service would (UNIMETER_SECRET_KEY)."""
    monkeypatch.setenv("UNIMETER_SECRET_KEY", Fernet.generate_key().decode())
    url = f"sqlite:///{tmp_path / 'store.db'}"
    return url, open_store(url)


@pytest.fixture
def sandbox() -> Iterator[Any]:
    with start_sandbox(["confluent", "datadog", "claude"], SandboxConfig()) as running:
        yield running


def _export(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["export", "focus", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_an_export_of_two_days_holds_each_accounts_bill(
    store_file: tuple[str, Store],
    sandbox: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, store = store_file
    accounts = {
        name: store.create_account(name, environment="test", **account_fields(sandbox.endpoint(name)))
        for name in ("confluent", "datadog")
    }
    out = tmp_path / "focus.csv"
    code, stdout, stderr = _export(["--database", url, "--out", str(out), *DAYS], capsys)
    assert code == 0, stderr
    rows = _read(out)
    assert stdout.strip() == f"wrote {len(rows)} FOCUS 1.0 rows (2026-10-01 to 2026-10-02) to {out}"
    for name, account in accounts.items():
        mine = [row for row in rows if row["BillingAccountId"] == str(account.id)]
        assert {row["x_UnimeterIntegration"] for row in mine} == {name}
        assert f"{name} {account.id}: {len(mine)} FOCUS rows" in stderr
        result = list_usage(
            name, **account_fields(sandbox.endpoint(name)), params={"start_date": DAYS[1], "end_date": DAYS[3]}
        )["result"]
        net = sum(
            (to_decimal(c["amount"]) for row in result for c in row.get("charges", []) if c["type"] == "net"),
            Decimal(0),
        )
        assert sum((Decimal(row["BilledCost"]) for row in mine), Decimal(0)) == net

    # --account picks one account, --integration every account of one integration
    only = tmp_path / "datadog.parquet"
    code, _, stderr = _export(
        ["--database", url, "--out", str(only), "--account", str(accounts["datadog"].id), *DAYS], capsys
    )
    assert code == 0, stderr
    pq = pytest.importorskip("pyarrow.parquet")
    table = pq.read_table(only)
    assert set(table.column("x_UnimeterIntegration").to_pylist()) == {"datadog"}
    code, _, _ = _export(["--database", url, "--out", str(out), "--integration", "confluent", *DAYS], capsys)
    assert code == 0
    assert {row["x_UnimeterIntegration"] for row in _read(out)} == {"confluent"}


def test_a_vendor_failing_part_way_leaves_no_file(
    store_file: tuple[str, Store], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, store = store_file
    # claude's two days are 19 pages; the third request on is refused
    with start_sandbox(["claude"], SandboxConfig(), [parse_fault("claude=unauthorized:100@2")]) as running:
        store.create_account("claude", environment="test", **account_fields(running.endpoint("claude")))
        out = tmp_path / "focus.csv"
        code, stdout, stderr = _export(["--database", url, "--out", str(out), *DAYS], capsys)
    assert code == 1
    assert re.search(r"claude \S+: [1-9]\d* FOCUS rows", stderr), "rows were read before the failure"
    assert json.loads(stderr[stderr.index("{") :])["error"] == "remote_unauthorized"
    assert stdout == ""
    assert not [path.name for path in tmp_path.iterdir() if not path.name.startswith("store.db")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--out", "focus.json"], "focus.json: .json is not an export format; name a .csv or .parquet file"),
        (["--out", "focus"], "focus: no extension is not an export format"),
        (["--out", "missing/focus.csv"], "the folder missing does not exist"),
        (["--out", "focus.csv", "--start", "2026-13-01"], "--start '2026-13-01' is not a date"),
        (["--out", "focus.csv", "--end", "10/31/2026"], "--end '10/31/2026' is not a date (YYYY-MM-DD)"),
        (["--out", "focus.csv", "--start", "2026-10-05", "--end", "2026-10-01"], "is after --end 2026-10-01"),
        (["--out", "focus.csv", "--integration", "nope"], "unknown integration 'nope'; available: "),
    ],
)
def test_a_wrong_command_line_exits_2_naming_the_mistake(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, stdout, stderr = _export(["--database", f"sqlite:///{tmp_path / 'store.db'}", *args], capsys)
    assert code == 2
    assert message in stderr
    assert stderr.startswith("unimeter export focus: ")
    assert stdout == ""
    assert list(tmp_path.iterdir()) == []  # refused before the store is even opened


def test_integration_and_account_cannot_be_combined(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["export", "focus", "--out", "f.csv", "--integration", "cursor", "--account", "x"])
    assert exited.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        ([], "account_not_found", "no integrated accounts to export"),
        (["--environment", "prod"], "account_not_found", "no integrated accounts in environment 'prod' to export"),
        (["--account", "4b1e1c4e-0000-4000-8000-000000000000"], "account_not_found", "no account '4b1e1c4e"),
    ],
)
def test_nothing_to_export_is_an_error_not_an_empty_file(
    args: list[str],
    code: str,
    message: str,
    store_file: tuple[str, Store],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, _ = store_file
    out = tmp_path / "focus.csv"
    status, _, stderr = _export(["--database", url, "--out", str(out), *args], capsys)
    assert status == 1
    envelope = json.loads(stderr)
    assert envelope["error"] == code
    assert message in envelope["message"]
    assert not out.exists()


def test_the_default_range_is_the_current_month_through_today() -> None:
    today = date(2026, 11, 26)
    assert export_range(None, None, today) == export_range("2026-11-01", "2026-11-26", today)
    assert export_range(None, "2026-10-15", today).start == date(2026, 10, 1)  # the month of --end
    with pytest.raises(ValueError, match="is after today"):
        export_range("2026-12-01", None, today)

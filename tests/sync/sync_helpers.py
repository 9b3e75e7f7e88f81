"""A sandbox with one integrated account per simulator, a store, and a DuckDB destination, on a pinned clock.

The API's own rows (``unimeter.list_usage`` over the same sandbox, clock and range) are what every sync test holds
the destination to: sums are computed here from those rows with Decimal, never read back from the sync's code.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

import unimeter
from unimeter.sandbox import Sandbox, SandboxConfig, start_sandbox
from unimeter.store import Account, Store, open_store
from unimeter.sync import Destination, SyncOptions, SyncReport, parse_destination, sync

NOW = datetime(2026, 11, 18, 9, 30, tzinfo=UTC)
"""Mid-month: the default ranges (from the 1st) span several days, and the days inside each lateness window too."""


async def no_sleep(_seconds: float) -> None:
    """Retries and rate-limit waits without waiting (the sandbox does not enforce limits unless asked)."""


@dataclass
class SyncWorld:
    sandbox: Sandbox
    store: Store
    accounts: dict[str, Account]
    folder: Path

    def duckdb_destination(self, name: str = "usage.duckdb") -> Destination:
        return parse_destination(str(self.folder / name))

    def sync(self, destination: Destination | None = None, **options: Any) -> SyncReport:
        fields = {"now": NOW, "sleep": no_sleep, **options}
        return sync(self.store, destination or self.duckdb_destination(), SyncOptions(**fields), progress=None)

    def api_rows(self, integration: str, params: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """The unified rows the API returns for one query of the account of ``integration``."""
        account = self.accounts[integration]
        result = unimeter.list_usage(
            integration,
            credentials=account.credentials,
            context=account.context,
            params=params or {},
            now=NOW,
            sleep=no_sleep,
        )
        rows: list[dict[str, Any]] = result["result"]
        return rows


@contextmanager
def sync_world(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, vendors: list[str], **config: Any
) -> Iterator[SyncWorld]:
    """Simulators ``vendors`` on a clock pinned to :data:`NOW`, one account each, the data directory in tmp_path."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("DLT_PROJECT_DIR", str(tmp_path / "dlt"))
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt"))
    sandbox_config = replace(SandboxConfig(now=NOW), **config)
    with start_sandbox(vendors, sandbox_config) as sandbox:
        # The key file where the command line looks for it too (beside the default database, in the data directory).
        store = open_store(f"sqlite:///{tmp_path / 'accounts.db'}")
        accounts = {name: store.create_account(name, environment="test", **sandbox.account(name)) for name in vendors}
        yield SyncWorld(sandbox, store, accounts, tmp_path)


def query(path: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows of one query against a DuckDB file (opened read-only, closed before the next sync writes)."""
    with duckdb.connect(str(path), read_only=True) as connection:
        return connection.execute(sql, list(params)).fetchall()


def net_by_integration(rows_by_integration: dict[str, list[dict[str, Any]]]) -> dict[str, Decimal]:
    """Σ net of the API's rows per integration, each amount as its JSON text (what the API sends)."""
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for integration, rows in rows_by_integration.items():
        for row in rows:
            for charge in row.get("charges", []):
                if charge["type"] == "net":
                    sums[integration] += Decimal(repr(charge["amount"]))
    return dict(sums)

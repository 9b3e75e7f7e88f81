"""``unimeter export focus``: FOCUS rows of a range to a CSV or Parquet file.

The rows come from a live query over the store's integrated accounts (every account, those of ``--integration``,
or those named by ``--account``), or with ``--from`` from a sync destination (synced.py), the same rows for the same
data. A wrong command line (a bad date, an extension that is neither .csv nor .parquet,
a folder that does not exist) exits 2 before any vendor call; an error while reading exits 1 with the error envelope
on stderr, and no file is left under the name asked for. A progress line per account goes to stderr, the summary
to stdout.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TextIO

from ..api.envelope import error_envelope
from ..errors import UnimeterError
from ..spec import available_integrations
from ..store import open_store
from .columns import FOCUS_VERSION
from .export import ExportRange, export_range, live_focus_rows, select_accounts
from .synced import SyncSource, parse_source, synced_focus_rows
from .writer import FocusWriter, output_format

PROG = "unimeter export focus"


@dataclass
class ExportCommand:
    out: str
    start: str | None = None
    end: str | None = None
    integrations: list[str] = field(default_factory=list)
    account_ids: list[str] = field(default_factory=list)
    environment: str | None = None
    database: str | None = None
    source: str | None = None
    """``--from``: a sync destination (DuckDB file or PostgreSQL URL) instead of a live query."""
    today: date | None = None

    def run(self, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
        stdout = stdout or sys.stdout
        stderr = stderr or sys.stderr
        try:
            span = export_range(self.start, self.end, self.today or datetime.now(UTC).date())
            target = Path(self.out)
            output_format(target)
            if not target.parent.is_dir():
                raise ValueError(f"--out {self.out}: the folder {target.parent} does not exist")
            if target.is_dir():
                raise ValueError(f"--out {self.out} is a folder; name a .csv or .parquet file")
            synced = self._source()
            unknown = sorted(set(self.integrations) - set(available_integrations()))
            if unknown:
                raise ValueError(
                    f"unknown integration {unknown[0]!r}; available: {', '.join(available_integrations())}"
                )
        except ValueError as error:
            print(f"{PROG}: {error}", file=stderr)
            return 2
        try:
            count = self._synced(synced, span, target) if synced is not None else self._live(span, target, stderr)
        except UnimeterError as error:
            print(json.dumps(error_envelope(error), indent=2), file=stderr)
            return 1
        days = f"{span.start.isoformat()} to {span.end.isoformat()}"
        print(f"wrote {count} FOCUS {FOCUS_VERSION} rows ({days}) to {target}", file=stdout)
        return 0

    def _source(self) -> SyncSource | None:
        if self.source is None:
            return None
        if self.environment is not None or self.database is not None:
            option = "--environment" if self.environment is not None else "--database"
            raise ValueError(f"{option} names the accounts store of a live export; --from reads a sync destination")
        source = parse_source(self.source)
        if source.kind == "duckdb" and not Path(source.target).is_file():
            raise ValueError(f"--from {self.source}: no such DuckDB file (unimeter sync --to makes it)")
        return source

    def _synced(self, source: SyncSource, span: ExportRange, target: Path) -> int:
        with FocusWriter(target) as writer:
            for batch in synced_focus_rows(source, span, integrations=self.integrations, account_ids=self.account_ids):
                writer.write(batch)
        return writer.count

    def _live(self, span: ExportRange, target: Path, stderr: TextIO) -> int:
        store = open_store(self.database)
        accounts = select_accounts(
            store, integrations=self.integrations, account_ids=self.account_ids, environment=self.environment
        )

        async def copy(writer: FocusWriter) -> None:
            label, rows = None, 0
            async for account, lines in live_focus_rows(accounts, span):
                writer.write(lines)
                current = f"{account.integration} {account.id}"
                if current != label:
                    if label is not None:
                        print(file=stderr)
                    label, rows = current, 0
                rows += len(lines)
                print(f"\r{label}: {rows} FOCUS rows", end="", file=stderr, flush=True)
            if label is not None:
                print(file=stderr)

        with FocusWriter(target) as writer:
            asyncio.run(copy(writer))
        return writer.count

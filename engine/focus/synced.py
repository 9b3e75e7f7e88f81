"""``export focus --from URL``: the FOCUS rows of a sync destination, through the SQL of its ``focus`` view.

The destination is named as ``unimeter sync --to`` names it: a DuckDB file (``PATH.duckdb``, ``PATH.db`` or
``duckdb:///ABSOLUTE/PATH``) or a PostgreSQL URL. The export runs the view's SQL itself (:func:`.view.focus_view_sql`
with the mappings of this run), so it needs no view in the destination and never disagrees with the live export
about the mappings; the range and the account or integration filter are a WHERE on the charge period's start, in
UTC, as the live export's. A FOCUS row missing what FOCUS requires (a money row synced without its period or its
currency) is an error naming it, as it is in the live export.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import ConfigurationError, MappingError, UnimeterError
from ..redaction import redact_text
from .columns import COLUMNS
from .export import ExportRange
from .mapping import to_decimal
from .view import SyncTables, focus_view_sql, literal, quote

BATCH_ROWS = 10_000
REQUIRED = ("BillingCurrency", "ChargePeriodStart", "ChargePeriodEnd", "BilledCost")


class SyncSourceError(UnimeterError):
    """The sync destination cannot be opened or read (a password in its URL is never in the message)."""

    code = "sync_source_error"
    http_status = 503


@dataclass(frozen=True)
class SyncSource:
    kind: str
    """``duckdb`` (``target`` a file path) or ``postgres`` (``target`` a URL)."""
    target: str

    @property
    def dialect(self) -> str:
        return self.kind

    @property
    def shown(self) -> str:
        """As messages show it: the path, or the URL without its password."""
        if self.kind == "duckdb":
            return self.target
        parts = urlsplit(self.target)
        if parts.password is None:
            return self.target
        netloc = f"{parts.username}:***@{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))

    @property
    def secrets(self) -> tuple[str, ...]:
        password = urlsplit(self.target).password if self.kind == "postgres" else None
        return (password,) if password else ()


def parse_source(text: str) -> SyncSource:
    """``--from``: a DuckDB file or a PostgreSQL URL; a ValueError saying what is accepted otherwise."""
    if text.startswith(("postgresql://", "postgres://")):
        return SyncSource("postgres", text)
    if text.startswith("duckdb:///"):
        return SyncSource("duckdb", "/" + text.removeprefix("duckdb:///").lstrip("/"))
    if "://" not in text and text.endswith((".duckdb", ".db")):
        return SyncSource("duckdb", str(Path(text).expanduser().resolve()))
    shown = text
    with contextlib.suppress(ValueError):
        password = urlsplit(text).password
        if password:
            shown = redact_text(text, (password,))
    raise ValueError(
        f"--from {shown!r} is not a sync destination: give a DuckDB file (PATH.duckdb or duckdb:///ABSOLUTE/PATH) "
        "or a PostgreSQL URL (postgresql://user@host/db)"
    )


def export_query(
    source: SyncSource,
    tables: SyncTables,
    span: ExportRange,
    *,
    integrations: Sequence[str] = (),
    account_ids: Sequence[str] = (),
) -> str:
    """The FOCUS rows of the range (and the integrations or accounts asked for), in a stable order."""
    start = datetime.combine(span.start, time.min, tzinfo=UTC)
    after = start + timedelta(days=(span.end - span.start).days + 1)
    conditions = [
        f'"ChargePeriodStart" >= {_instant(start)}',
        f'"ChargePeriodStart" < {_instant(after)}',
    ]
    if integrations:
        conditions.append(f'"x_UnimeterIntegration" IN ({", ".join(literal(name) for name in integrations)})')
    if account_ids:
        conditions.append(f'"BillingAccountId" IN ({", ".join(literal(name) for name in account_ids)})')
    return (
        f"SELECT * FROM (\n{focus_view_sql(source.dialect, tables)}\n) AS focus_rows\n"
        f"WHERE {' AND '.join(conditions)}\n"
        'ORDER BY "BillingAccountId", "ChargePeriodStart", "x_UnimeterLineId"'
    )


def _instant(moment: datetime) -> str:
    return f"CAST('{moment.strftime('%Y-%m-%d %H:%M:%S')}+00:00' AS TIMESTAMPTZ)"


def focus_row(values: Sequence[Any]) -> dict[str, Any]:
    """One row of the view's SQL as the mapping gives it: exact decimals, UTC date-times, what FOCUS requires."""
    row = dict(zip(COLUMNS, values, strict=True))
    for name, kind in COLUMNS.items():
        value = row[name]
        if value is None:
            continue
        if kind == "decimal":
            row[name] = to_decimal(value)
        elif kind == "datetime":
            row[name] = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    missing = [name for name in REQUIRED if row[name] is None]
    if missing:
        raise MappingError(
            f"synced row {row['x_UnimeterId']!r} has money but no {missing[0]}: a FOCUS row needs it",
            row_id=row["x_UnimeterId"],
        )
    return row


class _Reader:
    """One connection to the destination, DuckDB or PostgreSQL, behind the three calls an export needs."""

    def __init__(self, source: SyncSource) -> None:
        self.source = source
        if source.kind == "duckdb":
            if not Path(source.target).is_file():
                raise ConfigurationError(f"--from {source.target}: no such DuckDB file (run unimeter sync first)")
            import duckdb

            self.connection: Any = duckdb.connect(source.target, read_only=True)
            self.cursor: Any = self.connection
        else:
            import psycopg

            self.connection = psycopg.connect(source.target)
            self.cursor = self.connection.cursor()

    def tables(self, schema: str) -> set[str]:
        self.cursor.execute(f"SELECT table_name FROM information_schema.tables WHERE table_schema = {literal(schema)}")
        return {str(name) for (name,) in self.cursor.fetchall()}

    def rows(self, query: str) -> Iterator[list[Any]]:
        self.cursor.execute(query)
        while batch := self.cursor.fetchmany(BATCH_ROWS):
            yield batch

    def close(self) -> None:
        self.connection.close()


@contextlib.contextmanager
def _reading(source: SyncSource) -> Iterator[_Reader]:
    reader: _Reader | None = None
    try:
        reader = _Reader(source)
        yield reader
    except UnimeterError:
        raise
    except Exception as error:  # the database drivers' own errors, named, without a password
        message = redact_text(f"{type(error).__name__}: {error}".strip(), source.secrets).splitlines()[0]
        raise SyncSourceError(f"cannot read the sync destination {source.shown}: {message}") from None
    finally:
        if reader is not None:
            reader.close()


def synced_focus_rows(
    source: SyncSource,
    span: ExportRange,
    *,
    integrations: Sequence[str] = (),
    account_ids: Sequence[str] = (),
    schema: str = "unimeter",
) -> Iterator[list[dict[str, Any]]]:
    """The destination's FOCUS rows of the range, a batch at a time."""
    with _reading(source) as reader:
        present = reader.tables(schema)
        if "usage" not in present:
            raise ConfigurationError(
                f"--from {source.shown}: no synced usage in schema {quote(schema)} (run unimeter sync first)"
            )
        tables = SyncTables(
            schema=schema,
            charges="usage__charges" if "usage__charges" in present else None,
            resources="usage__resources" if "usage__resources" in present else None,
        )
        query = export_query(source, tables, span, integrations=integrations, account_ids=account_ids)
        for batch in reader.rows(query):
            yield [focus_row(values) for values in batch]

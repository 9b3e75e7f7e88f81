"""``export focus --from URL``: the FOCUS rows of a sync destination, through the SQL of its ``focus`` view.

The destination is named as ``unimeter sync --to`` names it: a DuckDB file (``PATH.duckdb``, ``PATH.db`` or
``duckdb:///ABSOLUTE/PATH``) or a PostgreSQL URL. The export runs the view's SQL itself (:func:`.view.focus_view_sql`
with the mappings of this run), so it needs no view in the destination and never disagrees with the live export
about the mappings; the range and the account or integration filter are a WHERE on the charge period's start, in
UTC, as the live export's. A FOCUS row missing what FOCUS requires (a money row synced without its period or its
currency) is an error naming it, as it is in the live export.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError, MappingError, UnimeterError
from ..synced import SyncedDatabase, parse_synced_database, reading
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


SyncSource = SyncedDatabase
"""A sync destination, as ``--from`` names it (the same class ``unimeter sync --to`` and the dashboard use)."""


def parse_source(text: str) -> SyncSource:
    """``--from``: a DuckDB file or a PostgreSQL URL; a ValueError saying what is accepted otherwise."""
    return parse_synced_database(text, option="--from")


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


def synced_focus_rows(
    source: SyncSource,
    span: ExportRange,
    *,
    integrations: Sequence[str] = (),
    account_ids: Sequence[str] = (),
    schema: str = "unimeter",
) -> Iterator[list[dict[str, Any]]]:
    """The destination's FOCUS rows of the range, a batch at a time."""
    if source.kind == "duckdb" and not Path(source.target).is_file():
        raise ConfigurationError(f"--from {source.target}: no such DuckDB file (run unimeter sync first)")
    with reading(source, SyncSourceError, "cannot read the sync destination") as reader:
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
        for batch in reader.batches(query, size=BATCH_ROWS):
            yield [focus_row(values) for values in batch]

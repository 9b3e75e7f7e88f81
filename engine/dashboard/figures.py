"""The dashboard's figures: SQL over the synced tables (docs/sync.md), one query per figure, on DuckDB and PostgreSQL.

Why SQL over the synced tables and not the live API: the figures must equal what a person gets from the same tables
(docs/dashboard.md prints every query), and a chart over months of usage must not call every vendor on each click.

Money is ``SUM`` over ``charges.amount`` of type ``net`` (the bill, docs/money.md), exact (``DECIMAL``) and sent as a
string, never a float; it is never summed across currencies. Tokens are sums of the ``tokens_*`` columns, whole
numbers. A filter is a WHERE on the token's environment, the period's UTC days (on the row's ``start_date``) and the
integrations asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from ..synced import SCHEMA, SyncedReader
from .filters import Filters

TOP = 10
"""Users in each top-users chart."""
MODELS = 12
"""Models in the tokens chart (the largest by tokens); the response says how many more there are."""

USAGE = f"{SCHEMA}.usage"
CHARGES = f"{SCHEMA}.charges"

_BUCKET = {
    "day": "CAST(u.start_date AT TIME ZONE 'UTC' AS DATE)",
    "month": "CAST(date_trunc('month', u.start_date AT TIME ZONE 'UTC') AS DATE)",
}
USER = "COALESCE(u.user_email, u.user_id)"
"""Who a row is about: the email when the vendor gives one, else its user id."""
TOKENS = (
    "COALESCE(u.tokens_total, COALESCE(u.tokens_input, 0) + COALESCE(u.tokens_output, 0)"
    " + COALESCE(u.tokens_cache_read, 0) + COALESCE(u.tokens_cache_write, 0))"
)
"""A row's tokens: its total when the vendor reports one, else the sum of the parts it reports."""
HAS_TOKENS = (
    "(u.tokens_total IS NOT NULL OR u.tokens_input IS NOT NULL OR u.tokens_output IS NOT NULL"
    " OR u.tokens_cache_read IS NOT NULL OR u.tokens_cache_write IS NOT NULL)"
)


def where(filters: Filters) -> tuple[str, list[Any]]:
    """The WHERE of every figure (over ``usage u``) and its parameters."""
    clauses = ["u.environment = ?", "u.start_date >= ?", "u.start_date < ?"]
    params: list[Any] = [filters.environment, filters.start_instant, filters.after_instant]
    if filters.integrations:
        clauses.append(f"u.integration IN ({', '.join('?' for _ in filters.integrations)})")
        params.extend(filters.integrations)
    return " AND ".join(clauses), params


def money(value: Any) -> str:
    """An exact amount as text: every significant digit, no exponent, no trailing zeros (``12.5``, ``-0.095327``)."""
    amount = value if isinstance(value, Decimal) else Decimal(str(value))
    text = format(amount.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def instant(value: datetime) -> str:
    """An instant read back from the destination as RFC 3339 in UTC (``...Z``), whatever zone the driver gave it in
    (DuckDB answers in the session's time zone, the machine's by default)."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def count(value: Any) -> int | float | None:
    """A summed count as JSON: a whole number when it is one (DOUBLE columns hold exact whole numbers to 2^53)."""
    if value is None:
        return None
    number = float(value)
    return int(number) if number.is_integer() else number


def period_buckets(filters: Filters) -> list[date]:
    """Every day (or first day of a month) of the period, so a day without charges shows as a gap, not as nothing."""
    if filters.granularity == "day":
        return [filters.start + timedelta(days=offset) for offset in range((filters.end - filters.start).days + 1)]
    months = []
    month = filters.start.replace(day=1)
    while month <= filters.end:
        months.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return months


def totals(reader: SyncedReader, filters: Filters) -> list[dict[str, Any]]:
    """Σ net per currency over the filtered rows: the bill of the period."""
    clause, params = where(filters)
    _, rows = reader.execute(
        f"SELECT c.currency, SUM(c.amount) FROM {USAGE} u JOIN {CHARGES} c ON c.usage_id = u.id "
        f"WHERE c.type = 'net' AND {clause} GROUP BY c.currency ORDER BY SUM(c.amount) DESC, c.currency",
        params,
    )
    return [{"currency": currency, "net": money(net)} for currency, net in rows]


def row_count(reader: SyncedReader, filters: Filters) -> int:
    clause, params = where(filters)
    _, rows = reader.execute(f"SELECT COUNT(*) FROM {USAGE} u WHERE {clause}", params)
    return int(rows[0][0])


def cost_over_time(reader: SyncedReader, filters: Filters, currency: str) -> dict[str, Any]:
    """Σ net per bucket (UTC day or month the row's period starts) and integration, in one currency."""
    clause, params = where(filters)
    bucket = _BUCKET[filters.granularity]
    _, rows = reader.execute(
        f"SELECT {bucket} AS bucket, u.integration, SUM(c.amount) FROM {USAGE} u "
        f"JOIN {CHARGES} c ON c.usage_id = u.id WHERE c.type = 'net' AND c.currency = ? AND {clause} "
        f"GROUP BY {bucket}, u.integration ORDER BY bucket, u.integration",
        [currency, *params],
    )
    buckets = [day.isoformat() for day in period_buckets(filters)]
    series: dict[str, dict[str, str]] = {}
    for day, integration, net in rows:
        series.setdefault(integration, {})[day.isoformat()] = money(net)
    return {
        "currency": currency,
        "buckets": buckets,
        "series": [
            {"integration": name, "values": [values.get(bucket) for bucket in buckets]}
            for name, values in sorted(series.items())
        ],
    }


def tokens_by_model(reader: SyncedReader, filters: Filters) -> dict[str, Any]:
    """Input, output, cache-read and cache-write tokens per model, the largest ``MODELS`` models first."""
    clause, params = where(filters)
    _, rows = reader.execute(
        "SELECT u.model_id, SUM(u.tokens_input), SUM(u.tokens_output), SUM(u.tokens_cache_read), "
        f"SUM(u.tokens_cache_write), SUM({TOKENS}) AS tokens FROM {USAGE} u "
        f"WHERE u.model_id IS NOT NULL AND {HAS_TOKENS} AND {clause} "
        "GROUP BY u.model_id ORDER BY tokens DESC, u.model_id",
        params,
    )
    models = [
        {
            "model": model,
            "input": count(input_) or 0,
            "output": count(output) or 0,
            "cache_read": count(cache_read) or 0,
            "cache_write": count(cache_write) or 0,
            "tokens": count(tokens) or 0,
        }
        for model, input_, output, cache_read, cache_write, tokens in rows
    ]
    return {"models": models[:MODELS], "more_models": max(0, len(models) - MODELS)}


def top_users_by_cost(reader: SyncedReader, filters: Filters, currency: str) -> list[dict[str, Any]]:
    clause, params = where(filters)
    _, rows = reader.execute(
        f"SELECT {USER} AS user_key, SUM(c.amount) AS net FROM {USAGE} u JOIN {CHARGES} c ON c.usage_id = u.id "
        f"WHERE c.type = 'net' AND c.currency = ? AND {USER} IS NOT NULL AND {clause} "
        f"GROUP BY {USER} ORDER BY net DESC, user_key LIMIT {TOP}",
        [currency, *params],
    )
    return [{"user": user, "net": money(net)} for user, net in rows]


def top_users_by_tokens(reader: SyncedReader, filters: Filters) -> list[dict[str, Any]]:
    clause, params = where(filters)
    _, rows = reader.execute(
        f"SELECT {USER} AS user_key, SUM({TOKENS}) AS tokens FROM {USAGE} u "
        f"WHERE {HAS_TOKENS} AND {USER} IS NOT NULL AND {clause} "
        f"GROUP BY {USER} ORDER BY tokens DESC, user_key LIMIT {TOP}",
        params,
    )
    return [{"user": user, "tokens": count(tokens) or 0} for user, tokens in rows]


def currencies(reader: SyncedReader, environment: str) -> list[str]:
    """The currencies the environment's net charges are in: the table's ``net_<CURRENCY>`` columns."""
    _, rows = reader.execute(
        f"SELECT DISTINCT c.currency FROM {USAGE} u JOIN {CHARGES} c ON c.usage_id = u.id "
        "WHERE c.type = 'net' AND u.environment = ? ORDER BY c.currency",
        [environment],
    )
    return [currency for (currency,) in rows if currency]


def choices(reader: SyncedReader, environment: str) -> dict[str, Any]:
    """What the filters can offer in this environment: its synced integrations and currencies, and the span of days
    its rows cover (so an empty period can say where the data is)."""
    _, integrations = reader.execute(
        f"SELECT DISTINCT u.integration FROM {USAGE} u WHERE u.environment = ? ORDER BY u.integration", [environment]
    )
    _, span = reader.execute(
        "SELECT MIN(CAST(u.start_date AT TIME ZONE 'UTC' AS DATE)), MAX(CAST(u.start_date AT TIME ZONE 'UTC' AS DATE)) "
        f"FROM {USAGE} u WHERE u.environment = ?",
        [environment],
    )
    first, last = span[0]
    return {
        "integrations": [name for (name,) in integrations],
        "currencies": currencies(reader, environment),
        "first_day": first.isoformat() if first else None,
        "last_day": last.isoformat() if last else None,
    }


def overview(reader: SyncedReader, filters: Filters) -> dict[str, Any]:
    """Every figure of the charts view for ``filters``."""
    bills = totals(reader, filters)
    currency = filters.currency or (bills[0]["currency"] if bills else "USD")
    return {
        "currency": currency,
        "totals": bills,
        "rows": row_count(reader, filters),
        "cost_over_time": cost_over_time(reader, filters, currency),
        "tokens_by_model": tokens_by_model(reader, filters),
        "top_users_by_cost": top_users_by_cost(reader, filters, currency),
        "top_users_by_tokens": top_users_by_tokens(reader, filters),
    }


ROW_COLUMNS = (
    ("start_date", "u.start_date"),
    ("end_date", "u.end_date"),
    ("integration", "u.integration"),
    ("report", "u.report"),
    ("product", "u.product_name"),
    ("metric", "u.metric_name"),
    ("user", USER),
    ("model", "u.model_id"),
    ("quantity", "u.quantity"),
    ("unit", "u.unit"),
    ("tokens_input", "u.tokens_input"),
    ("tokens_output", "u.tokens_output"),
    ("tokens_cache_read", "u.tokens_cache_read"),
    ("tokens_cache_write", "u.tokens_cache_write"),
    ("tokens_total", "u.tokens_total"),
    ("integrated_account_id", "u.integrated_account_id"),
    ("id", "u.id"),
)
"""The table view's columns, then one ``net_<CURRENCY>`` column per currency of the environment."""


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return instant(value)
    if isinstance(value, float):
        return count(value)
    return value


def rows_query(filters: Filters, currencies: Sequence[str]) -> tuple[str, list[Any]]:
    """The table view's rows in a stable order (newest period first): one line per usage row, its Σ net per
    currency in a column each, so no row is repeated and no two currencies are added."""
    clause, params = where(filters)
    net_columns = "".join(
        f", SUM(CASE WHEN c.currency = ? THEN c.amount END) AS net_{index}" for index in range(len(currencies))
    )
    select = ", ".join(f"{expression} AS {name}" for name, expression in ROW_COLUMNS)
    nets = "".join(f", n.net_{index}" for index in range(len(currencies)))
    query = (
        f"SELECT {select}{nets} FROM {USAGE} u LEFT JOIN ("
        f"SELECT c.usage_id{net_columns} FROM {CHARGES} c WHERE c.type = 'net' GROUP BY c.usage_id"
        f") n ON n.usage_id = u.id WHERE {clause} ORDER BY u.start_date DESC, u.integration, u.id"
    )
    return query, [*currencies, *params]


def row_names(currencies: Sequence[str]) -> list[str]:
    return [name for name, _ in ROW_COLUMNS] + [f"net_{currency}" for currency in currencies]


def row_values(values: Sequence[Any], currencies: Sequence[str]) -> list[Any]:
    """One table row as JSON values: instants as RFC 3339 UTC, counts as numbers, amounts as exact strings."""
    plain = len(ROW_COLUMNS)
    return [_cell(value) for value in values[:plain]] + [
        None if value is None else money(value) for value in values[plain : plain + len(currencies)]
    ]


def rows_page(
    reader: SyncedReader, filters: Filters, currencies: Sequence[str], offset: int, limit: int
) -> dict[str, Any]:
    query, params = rows_query(filters, currencies)
    _, rows = reader.execute(f"{query} LIMIT {int(limit)} OFFSET {int(offset)}", params)
    return {
        "columns": row_names(currencies),
        "rows": [row_values(row, currencies) for row in rows],
        "offset": offset,
        "limit": limit,
        "total": row_count(reader, filters),
    }

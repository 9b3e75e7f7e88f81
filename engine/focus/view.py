"""The ``focus`` view of a sync destination: the FOCUS rows of the synced tables, computed in SQL.

It states in SQL what :func:`unimeter.focus.mapping.focus_rows` does in Python, column for column, over the tables
``unimeter sync`` writes (docs/sync.md): ``usage`` (one row per unified row, its nested fields as columns, the
account it was read through in ``integrated_account_id``), ``usage__charges`` (one row per charge, ``amount`` an
exact DECIMAL, linked by ``_dlt_root_id`` to the usage row's ``_dlt_id``) and ``usage__resources`` (one row per
resource, in list order ``_dlt_list_idx``). Each integration's ``focus:`` block is inlined as a VALUES list, read from
the mappings when the SQL is made, so the view is made again when the mappings change (the sync remakes its views
on every load that changes the tables).

The same text runs on DuckDB and PostgreSQL: date-times are worked in UTC (``AT TIME ZONE 'UTC'``, whatever the
session's time zone), money in NUMERIC(38, 18), aggregates with ``FILTER``. Quantities stay DOUBLE PRECISION, as
the sync stores them; an export reads them back to exact decimals through their shortest text, as it reads the
unified rows' JSON numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..spec import available_integrations
from ..spec.model import FocusSpec
from ..spec.registry import load_integration
from .columns import COLUMNS, Kind
from .mapping import default_focus

DIALECTS = ("duckdb", "postgres")
VIEW_NAME = "focus"
_TYPES: dict[Kind, str] = {"string": "TEXT", "decimal": "NUMERIC(38, 18)", "datetime": "TIMESTAMPTZ"}
_QUANTITY_TYPE = "DOUBLE PRECISION"


@dataclass(frozen=True)
class SyncTables:
    """Where the synced rows are: the schema (dataset) and its tables' names."""

    schema: str = "unimeter"
    usage: str = "usage"
    charges: str | None = "usage__charges"
    """None while no synced row has had a charge (dlt makes a child table with its first row): the view is empty."""
    resources: str | None = "usage__resources"
    """None while no synced row has had a resource."""


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(value: str | None) -> str:
    return "NULL" if value is None else "'" + value.replace("'", "''") + "'"


def _meta_rows(blocks: Iterable[tuple[str, FocusSpec]]) -> str:
    rows = [
        "("
        + ", ".join(
            literal(value)
            for value in (
                name,
                focus.provider,
                focus.publisher,
                focus.invoice_issuer,
                focus.service_name,
                focus.service_category,
                focus.resource_type,
            )
        )
        + ")"
        for name, focus in blocks
    ]
    # a typed row that matches nothing, so the columns have types even when no integration is known
    rows.append("(" + ", ".join(["CAST(NULL AS TEXT)"] * 7) + ")")
    return ",\n    ".join(rows)


def focus_blocks(integrations: Sequence[str] | None = None) -> list[tuple[str, FocusSpec]]:
    """Each integration's ``focus:`` block (its default when it has none), for every integration on the search path
    unless named."""
    names = available_integrations() if integrations is None else list(integrations)
    return [(name, default_focus(load_integration(name))) for name in names]


def focus_view_sql(
    dialect: str,
    tables: SyncTables | None = None,
    blocks: Sequence[tuple[str, FocusSpec]] | None = None,
) -> str:
    """The ``SELECT`` that gives the FOCUS rows of the synced tables (the view's body; an export runs it too).

    ``blocks``: the integrations' ``focus:`` blocks (default: every integration on the search path). A synced row of
    an integration not among them is still a row, its provider, publisher, invoice issuer and service its
    integration's name and its category Other.
    """
    if dialect not in DIALECTS:
        raise ValueError(f"unknown SQL dialect {dialect!r}; one of {', '.join(DIALECTS)}")
    tables = tables or SyncTables()
    blocks = focus_blocks() if blocks is None else blocks

    def table(name: str) -> str:
        return f"{quote(tables.schema)}.{quote(name)}"

    if tables.resources is not None:
        resources = f"""
  resource AS (
    SELECT root, id, name FROM (
      SELECT _dlt_root_id AS root, id, name,
             ROW_NUMBER() OVER (PARTITION BY _dlt_root_id ORDER BY _dlt_list_idx) AS place
      FROM {table(tables.resources)}
      WHERE NULLIF(id, '') IS NOT NULL AND (workspace_id IS NULL OR id <> workspace_id)
    ) AS first_resource WHERE place = 1
  ),
  workspace AS (
    SELECT root, workspace_id, workspace_name FROM (
      SELECT _dlt_root_id AS root, workspace_id, workspace_name,
             ROW_NUMBER() OVER (PARTITION BY _dlt_root_id ORDER BY _dlt_list_idx) AS place
      FROM {table(tables.resources)}
      WHERE workspace_id IS NOT NULL OR workspace_name IS NOT NULL
    ) AS first_workspace WHERE place = 1
  ),"""
    else:
        resources = """
  resource AS (SELECT CAST(NULL AS TEXT) AS root, CAST(NULL AS TEXT) AS id, CAST(NULL AS TEXT) AS name WHERE 1 = 0),
  workspace AS (
    SELECT CAST(NULL AS TEXT) AS root, CAST(NULL AS TEXT) AS workspace_id, CAST(NULL AS TEXT) AS workspace_name
    WHERE 1 = 0
  ),"""
    money = _TYPES["decimal"]
    if tables.charges is not None:
        charges = f"""
  money AS (
    SELECT _dlt_root_id AS root,
           MAX(amount) FILTER (WHERE type = 'net') AS net,
           MAX(amount) FILTER (WHERE type = 'total') AS total,
           COALESCE(MAX(amount) FILTER (WHERE type = 'credit'), 0) AS credit,
           COALESCE(MAX(amount) FILTER (WHERE type = 'tax'), 0) AS tax,
           MAX(currency) AS currency
    FROM {table(tables.charges)}
    GROUP BY _dlt_root_id
  ),"""
    else:
        empty = ", ".join(f"CAST(NULL AS {money}) AS {name}" for name in ("net", "total", "credit", "tax"))
        charges = f"""
  money AS (SELECT CAST(NULL AS TEXT) AS root, {empty}, CAST(NULL AS TEXT) AS currency WHERE 1 = 0),"""
    base = f"""WITH
  meta (integration, provider, publisher, invoice_issuer, service_name, service_category, resource_type) AS (
    VALUES
    {_meta_rows(blocks)}
  ),{charges}{resources}
  row_times AS (
    SELECT u.*, u.start_date AT TIME ZONE 'UTC' AS start_utc, u.end_date AT TIME ZONE 'UTC' AS end_utc
    FROM {table(tables.usage)} AS u
  ),
  base AS (
    SELECT
      u.id, u.integration, u.integrated_account_id,
      CAST(m.net AS {money}) AS net,
      CAST(m.total AS {money}) AS total,
      CAST(m.credit AS {money}) AS credit,
      CAST(m.tax AS {money}) AS tax,
      CAST(m.net - m.credit - m.tax AS {money}) AS usage_cost,
      m.currency,
      date_trunc('second', u.start_utc) AS start_utc,
      CASE WHEN date_trunc('second', u.end_utc) = u.end_utc THEN u.end_utc
           ELSE date_trunc('second', u.end_utc) + INTERVAL '1 second' END AS end_utc,
      COALESCE(NULLIF(u.product_name, ''), meta.service_name, u.integration) AS service_name,
      NULLIF(u.product_id, '') AS product_id,
      NULLIF(u.product_name, '') AS product_name,
      NULLIF(u.metric_name, '') AS metric_name,
      NULLIF(u.model_id, '') AS model_id,
      NULLIF(u.user_id, '') AS user_id,
      NULLIF(u.user_email, '') AS user_email,
      NULLIF(u.surface, '') AS surface,
      CASE WHEN u.quantity IS NOT NULL AND NULLIF(u.unit, '') IS NOT NULL THEN CAST(u.quantity AS {_QUANTITY_TYPE})
           END AS quantity,
      CASE WHEN u.quantity IS NOT NULL THEN NULLIF(u.unit, '') END AS unit,
      r.id AS resource_id,
      NULLIF(NULLIF(r.name, ''), r.id) AS resource_name,
      CASE WHEN w.root IS NOT NULL THEN NULLIF(w.workspace_id, '') ELSE NULLIF(u.organization_id, '') END
        AS sub_account_id,
      CASE WHEN w.root IS NOT NULL THEN NULLIF(w.workspace_name, '') ELSE NULLIF(u.organization_name, '') END
        AS sub_account_name,
      COALESCE(meta.provider, u.integration) AS provider,
      COALESCE(meta.publisher, u.integration) AS publisher,
      COALESCE(meta.invoice_issuer, u.integration) AS invoice_issuer,
      COALESCE(meta.service_category, 'Other') AS service_category,
      meta.resource_type
    FROM row_times AS u
    JOIN money AS m ON m.root = u._dlt_id AND m.net IS NOT NULL
    LEFT JOIN meta ON meta.integration = u.integration
    LEFT JOIN resource AS r ON r.root = u._dlt_id
    LEFT JOIN workspace AS w ON w.root = u._dlt_id
  )"""
    parts = [
        _select("usage", "Usage", "'Usage-Based'", "total IS NOT NULL OR usage_cost <> 0 OR (credit = 0 AND tax = 0)"),
        _select("credit", "Credit", "'One-Time'", "credit <> 0"),
        _select("tax", "Tax", "'Usage-Based'", "tax <> 0"),
    ]
    return base + "\n" + "\nUNION ALL\n".join(parts)


def _select(line: str, category: str, frequency: str, where: str) -> str:
    """One kind of line's SELECT: every column of :data:`COLUMNS`, in order, typed."""
    usage = line == "usage"
    cost = "usage_cost" if usage else line
    prefix = "NULL" if usage else literal(f"{category}:")
    sku = "CONCAT_WS('/', COALESCE(product_id, integration), metric_name, model_id)" if usage else None
    values: dict[str, str | None] = dict.fromkeys(COLUMNS)
    values.update(
        BilledCost=cost,
        EffectiveCost=cost,
        ContractedCost=cost,
        ListCost="COALESCE(total, usage_cost)" if usage else cost,
        BillingAccountId="integrated_account_id",
        BillingCurrency="currency",
        BillingPeriodStart="date_trunc('month', start_utc) AT TIME ZONE 'UTC'",
        BillingPeriodEnd="(date_trunc('month', start_utc) + INTERVAL '1 month') AT TIME ZONE 'UTC'",
        ChargePeriodStart="start_utc AT TIME ZONE 'UTC'",
        ChargePeriodEnd="end_utc AT TIME ZONE 'UTC'",
        ChargeCategory=literal(category),
        ChargeFrequency=frequency,
        ChargeDescription=(
            f"CONCAT_WS(' ', {prefix}, service_name, "
            "CASE WHEN metric_name IS DISTINCT FROM service_name THEN metric_name END, model_id)"
        ),
        PricingCategory="'Standard'" if usage else None,
        ConsumedQuantity="quantity" if usage else None,
        ConsumedUnit="CASE WHEN quantity IS NOT NULL THEN unit END" if usage else None,
        PricingQuantity="quantity" if usage else None,
        PricingUnit="CASE WHEN quantity IS NOT NULL THEN unit END" if usage else None,
        SkuId=sku,
        SkuPriceId=sku,
        InvoiceIssuerName="invoice_issuer",
        ProviderName="provider",
        PublisherName="publisher",
        ServiceCategory="service_category",
        ServiceName="service_name",
        ResourceId="resource_id",
        ResourceName="resource_name",
        ResourceType="CASE WHEN resource_id IS NOT NULL THEN COALESCE(resource_type, product_name, service_name) END",
        SubAccountId="sub_account_id",
        SubAccountName="sub_account_name",
        x_UnimeterId="id",
        x_UnimeterLineId=f"id || {literal('#' + line)}",
        x_UnimeterIntegration="integration",
        x_MetricName="metric_name",
        x_ModelId="model_id",
        x_UserId="user_id",
        x_UserEmail="user_email",
        x_Surface="surface",
    )
    columns = []
    for name, kind in COLUMNS.items():
        expression = values[name]
        sql_type = _QUANTITY_TYPE if name in ("ConsumedQuantity", "PricingQuantity") else _TYPES[kind]
        columns.append(f"  CAST({expression or 'NULL'} AS {sql_type}) AS {quote(name)}")
    return "SELECT\n" + ",\n".join(columns) + f"\nFROM base\nWHERE {where}"


def create_focus_view_statements(
    dialect: str, tables: SyncTables | None = None, blocks: Sequence[tuple[str, FocusSpec]] | None = None
) -> list[str]:
    """The statements that (re)make ``<schema>.focus``: dropped and created, since PostgreSQL refuses to change a
    view's columns in place."""
    tables = tables or SyncTables()
    name = f"{quote(tables.schema)}.{quote(VIEW_NAME)}"
    return [f"DROP VIEW IF EXISTS {name}", f"CREATE VIEW {name} AS\n{focus_view_sql(dialect, tables, blocks)}"]

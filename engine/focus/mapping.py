"""Unified Usage rows to FOCUS 1.0 rows: one FOCUS row per priced meter, and Σ BilledCost is Σ net.

A unified row with money has exactly one ``net``: what it adds to the vendor's invoice (docs/money.md). Its FOCUS
rows split that net by what FOCUS keeps apart, and nothing else:

- a **Usage** row for the metered charge: BilledCost = EffectiveCost = ContractedCost = net - credit - tax (the
  row's own price after its discount, which is ``total + discount``), ListCost = ``total`` when the vendor states a
  gross, else the billed figure (FOCUS: the list cost defaults to what was billed when no list price is known);
- a **Credit** row for a ``credit`` charge (FOCUS: credits applied after the fact are their own ChargeCategory), and
  a **Tax** row for a ``tax`` charge, each with every cost column equal to that amount.

So BilledCost over a row's FOCUS rows is ``(net - credit - tax) + credit + tax = net`` exactly. ``discount`` is never
a row of its own: FOCUS applies discounts to the row they pertain to, and it is the gap between ListCost and
BilledCost. The parts of net (committed, on_demand, included, usage_based, platform_fee) say what net is made of and
are never rows: a row for each would count its money twice. A unified line that is only a credit (or only a tax)
makes only that row. Rows without ``net`` make no FOCUS row: a ``list_price`` illustration is billed elsewhere (or
not at all), and exporting it would put spend in a FinOps tool that no invoice has.

Purchase and Adjustment are never produced: no unified charge type is an upfront purchase or an unclassified
adjustment (seat fees are not in the vendors' usage APIs). ChargeClass stays null: a revised figure replaces the
earlier one under the same id instead of arriving as a correction.

The mapping is pure: the row and its :class:`FocusSource` (the integration's ``focus:`` block and the billing
account) decide every value, so the sync destination's ``focus`` view computes the same rows in SQL (view.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Context, Decimal, localcontext
from typing import Any

from ..errors import MappingError
from ..spec.model import FocusSpec, IntegrationSpec
from .columns import COLUMNS

DEFAULT_SERVICE_CATEGORY = "Other"
EXACT = Context(prec=80)
"""Enough digits that no difference of two stored amounts (38 digits at most) is ever rounded."""


@dataclass(frozen=True)
class FocusSource:
    """What a unified row's FOCUS rows need besides the row: its integration and the billing account it is read
    through (an integrated account: Σ net over its rows is that account's bill, which FOCUS asks of BilledCost per
    billing account and billing period)."""

    integration: str
    focus: FocusSpec
    billing_account_id: str
    billing_account_name: str | None = None


def default_focus(spec: IntegrationSpec) -> FocusSpec:
    """An integration's ``focus:`` block, or for a mapping without one: its label as provider, publisher, invoice
    issuer and service, in the service category Other."""
    if spec.focus is not None:
        return spec.focus
    return FocusSpec(
        provider=spec.label,
        publisher=spec.label,
        invoice_issuer=spec.label,
        service_name=spec.label,
        service_category=DEFAULT_SERVICE_CATEGORY,
    )


def focus_source(
    spec: IntegrationSpec, billing_account_id: str, billing_account_name: str | None = None
) -> FocusSource:
    return FocusSource(spec.name, default_focus(spec), billing_account_id, billing_account_name)


def to_decimal(value: Any) -> Decimal:
    """An amount or quantity as an exact decimal: a float through its shortest repr (``0.1`` is ``Decimal('0.1')``,
    not the binary expansion), as the money contract reads amounts (engine/testing/money.py)."""
    if isinstance(value, bool):
        raise TypeError(f"{value!r} is not a number")
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, int | str):
        return Decimal(value)
    raise TypeError(f"{value!r} is not a number")


def parse_instant(text: Any, row_id: str, field: str) -> datetime:
    """An RFC 3339 date-time of a row, in UTC."""
    if not isinstance(text, str):
        raise MappingError(
            f"row {row_id!r} has money but no {field}: a FOCUS row needs its charge period", row_id=row_id
        )
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise MappingError(f"row {row_id!r}: {field} {text!r} is not an RFC 3339 date-time", row_id=row_id) from None
    if moment.tzinfo is None:
        raise MappingError(f"row {row_id!r}: {field} {text!r} has no time zone", row_id=row_id)
    return moment.astimezone(UTC)


def floor_second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def ceil_second(moment: datetime) -> datetime:
    """FOCUS date-times have whole seconds; an exclusive end rounds up so the period still holds the charge."""
    floored = moment.replace(microsecond=0)
    return floored if floored == moment else floored + timedelta(seconds=1)


def month_of(moment: datetime) -> tuple[datetime, datetime]:
    """The calendar month (UTC) holding ``moment``: FOCUS's billing period, ``[1st, 1st of the next month)``."""
    start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = (
        start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
    )
    return start, following


def _charges(row: Mapping[str, Any], row_id: str) -> tuple[dict[str, Decimal], str | None]:
    amounts: dict[str, Decimal] = {}
    currencies: set[str] = set()
    for charge in row.get("charges") or []:
        kind = charge.get("type")
        if kind is None or charge.get("amount") is None:
            continue
        if kind in amounts:
            raise MappingError(f"row {row_id!r} has two {kind!r} charges: one per type", row_id=row_id)
        try:
            amounts[kind] = to_decimal(charge["amount"])
        except (TypeError, ArithmeticError):
            raise MappingError(
                f"row {row_id!r}: {kind} amount {charge['amount']!r} is not a number", row_id=row_id
            ) from None
        if charge.get("currency"):
            currencies.add(charge["currency"])
    if len(currencies) > 1:
        raise MappingError(f"row {row_id!r} mixes currencies {sorted(currencies)}: one currency per row", row_id=row_id)
    return amounts, next(iter(currencies), None)


def _text(value: Any) -> str | None:
    """A string value, or None: FOCUS uses null, never an empty string, for a missing value (Null Handling)."""
    return value if isinstance(value, str) and value != "" else None


def _resource(row: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The row's resource: the first one with an id that is not its own workspace's (a project that is also the
    workspace is the sub account, not a resource)."""
    for resource in row.get("resources") or []:
        resource_id = _text(resource.get("id"))
        if resource_id is not None and resource_id != (resource.get("workspace") or {}).get("id"):
            return dict(resource)
    return None


def _sub_account(row: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """SubAccount: the workspace (project, environment) of the row's first resource that has one, else the vendor
    organization the row belongs to."""
    for resource in row.get("resources") or []:
        workspace = resource.get("workspace")
        if workspace:
            return _text(workspace.get("id")), _text(workspace.get("name"))
    organization = row.get("organization") or {}
    return _text(organization.get("id")), _text(organization.get("name"))


def focus_rows(row: Mapping[str, Any], source: FocusSource) -> list[dict[str, Any]]:
    """The FOCUS rows of one unified row (none when it has no ``net``): values keyed by column, every column of
    :data:`COLUMNS` present; decimals are :class:`~decimal.Decimal`, date-times aware UTC datetimes, the rest str or
    None."""
    row_id = str(row.get("id"))
    amounts, currency = _charges(row, row_id)
    if "net" not in amounts:
        return []
    if currency is None:
        raise MappingError(f"row {row_id!r} has a net charge without a currency", row_id=row_id)
    net = amounts["net"]
    credit = amounts.get("credit", Decimal(0))
    tax = amounts.get("tax", Decimal(0))
    total = amounts.get("total")
    with localcontext(EXACT):
        usage_cost = net - credit - tax

    start = floor_second(parse_instant(row.get("start_date"), row_id, "start_date"))
    end = ceil_second(parse_instant(row.get("end_date"), row_id, "end_date"))
    billing_start, billing_end = month_of(start)
    focus = source.focus
    product = row.get("product") or {}
    model = row.get("model") or {}
    user = row.get("user") or {}
    metric = _text(row.get("metric_name"))
    service_name = _text(product.get("name")) or focus.service_name
    resource = _resource(row)
    resource_id = _text(resource.get("id")) if resource else None
    resource_name = _text(resource.get("name")) if resource else None
    sub_account_id, sub_account_name = _sub_account(row)
    usage = row.get("usage") or {}
    quantity = usage.get("quantity")
    unit = _text(usage.get("unit"))
    measured = quantity is not None and unit is not None

    common: dict[str, Any] = dict.fromkeys(COLUMNS)
    common.update(
        BillingAccountId=source.billing_account_id,
        BillingAccountName=source.billing_account_name,
        BillingCurrency=currency,
        BillingPeriodStart=billing_start,
        BillingPeriodEnd=billing_end,
        ChargePeriodStart=start,
        ChargePeriodEnd=end,
        InvoiceIssuerName=focus.invoice_issuer,
        ProviderName=focus.provider,
        PublisherName=focus.publisher,
        ServiceCategory=focus.service_category,
        ServiceName=service_name,
        ResourceId=resource_id,
        ResourceName=resource_name if resource_name != resource_id else None,
        ResourceType=(focus.resource_type or _text(product.get("name")) or focus.service_name) if resource_id else None,
        SubAccountId=sub_account_id,
        SubAccountName=sub_account_name,
        x_UnimeterId=row_id,
        x_UnimeterIntegration=source.integration,
        x_MetricName=metric,
        x_ModelId=_text(model.get("id")),
        x_UserId=_text(user.get("id")),
        x_UserEmail=_text(user.get("email")),
        x_Surface=_text(row.get("surface")),
    )

    def description(prefix: str | None) -> str:
        parts = [prefix, service_name, metric if metric != service_name else None, common["x_ModelId"]]
        return " ".join(part for part in parts if part)

    lines: list[dict[str, Any]] = []
    if total is not None or usage_cost != 0 or (credit == 0 and tax == 0):
        sku = "/".join(
            part for part in (_text(product.get("id")) or source.integration, metric, common["x_ModelId"]) if part
        )
        lines.append(
            {
                **common,
                "x_UnimeterLineId": f"{row_id}#usage",
                "ChargeCategory": "Usage",
                "ChargeFrequency": "Usage-Based",
                "ChargeDescription": description(None),
                "PricingCategory": "Standard",
                "BilledCost": usage_cost,
                "EffectiveCost": usage_cost,
                "ContractedCost": usage_cost,
                "ListCost": total if total is not None else usage_cost,
                "ConsumedQuantity": to_decimal(quantity) if measured else None,
                "ConsumedUnit": unit if measured else None,
                "PricingQuantity": to_decimal(quantity) if measured else None,
                "PricingUnit": unit if measured else None,
                "SkuId": sku,
                "SkuPriceId": sku,
            }
        )
    for category, amount, frequency in (("Credit", credit, "One-Time"), ("Tax", tax, "Usage-Based")):
        if amount != 0:
            lines.append(
                {
                    **common,
                    "x_UnimeterLineId": f"{row_id}#{category.lower()}",
                    "ChargeCategory": category,
                    "ChargeFrequency": frequency,
                    "ChargeDescription": description(f"{category}:"),
                    "BilledCost": amount,
                    "EffectiveCost": amount,
                    "ContractedCost": amount,
                    "ListCost": amount,
                }
            )
    return lines

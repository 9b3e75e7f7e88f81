"""Unified rows to FOCUS rows, checked by hand: each charge type, billed and list-price rows, the periods, the
account columns, and the rows that are refused.

Every expected value below was worked out from the row and docs/focus.md, not copied from the code's output.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from unimeter.errors import MappingError
from unimeter.focus import COLUMNS, FocusSource, default_focus, focus_rows
from unimeter.spec.model import FocusSpec
from unimeter.spec.registry import load_integration

FOCUS = FocusSpec(
    provider="Acme Cloud",
    publisher="Acme Labs",
    invoice_issuer="Acme Billing",
    service_name="Acme",
    service_category="AI and Machine Learning",
)
SOURCE = FocusSource("acme", FOCUS, billing_account_id="acct-1", billing_account_name="Acme prod")


def _charge(kind: str, amount: Any, currency: str = "USD") -> dict[str, Any]:
    return {"type": kind, "amount": amount, "currency": currency}


def _row(**fields: Any) -> dict[str, Any]:
    row = {
        "id": "acme:2026-10-01:u1",
        "start_date": "2026-10-01T00:00:00Z",
        "end_date": "2026-10-02T00:00:00Z",
    }
    row.update(fields)
    return row


def _day(day: int, month: int = 10, second: int = 0) -> datetime:
    return datetime(2026, month, day, 0, 0, second, tzinfo=UTC)


def test_a_billed_row_with_a_gross_and_a_discount_is_one_usage_row_listed_at_its_gross() -> None:
    row = _row(
        product={"id": "chat", "name": "Acme Chat"},
        metric_name="cost",
        model={"id": "m-large", "provider": "acme"},
        user={"id": "u1", "email": "u1@example.com"},
        organization={"id": "org-9", "name": "Org Nine"},
        surface="chat",
        usage={"quantity": 154, "unit": "requests"},
        charges=[_charge("total", 0.4935843), _charge("discount", -0.04935843), _charge("net", 0.44422587)],
    )
    [line] = focus_rows(row, SOURCE)
    assert set(line) == set(COLUMNS)
    expected = {
        "ChargeCategory": "Usage",
        "ChargeClass": None,
        "ChargeFrequency": "Usage-Based",
        "PricingCategory": "Standard",
        # the discount is applied on the row (FOCUS Discount Handling): billed = total + discount
        "BilledCost": Decimal("0.44422587"),
        "EffectiveCost": Decimal("0.44422587"),
        "ContractedCost": Decimal("0.44422587"),
        "ListCost": Decimal("0.4935843"),
        "ListUnitPrice": None,
        "ContractedUnitPrice": None,
        "BillingCurrency": "USD",
        "ChargePeriodStart": _day(1),
        "ChargePeriodEnd": _day(2),
        "BillingPeriodStart": _day(1),
        "BillingPeriodEnd": _day(1, month=11),
        "BillingAccountId": "acct-1",
        "BillingAccountName": "Acme prod",
        "ProviderName": "Acme Cloud",
        "PublisherName": "Acme Labs",
        "InvoiceIssuerName": "Acme Billing",
        "ServiceName": "Acme Chat",  # the row's product, before the block's service name
        "ServiceCategory": "AI and Machine Learning",
        "ChargeDescription": "Acme Chat cost m-large",
        "ConsumedQuantity": Decimal("154"),
        "ConsumedUnit": "requests",
        "PricingQuantity": Decimal("154"),
        "PricingUnit": "requests",
        "SkuId": "chat/cost/m-large",
        "SkuPriceId": "chat/cost/m-large",
        "SubAccountId": "org-9",  # no workspace: the vendor organization
        "SubAccountName": "Org Nine",
        "ResourceId": None,
        "ResourceName": None,
        "ResourceType": None,
        "Tags": None,
        "RegionId": None,
        "AvailabilityZone": None,
        "CommitmentDiscountId": None,
        "x_UnimeterId": "acme:2026-10-01:u1",
        "x_UnimeterLineId": "acme:2026-10-01:u1#usage",
        "x_UnimeterIntegration": "acme",
        "x_MetricName": "cost",
        "x_ModelId": "m-large",
        "x_UserId": "u1",
        "x_UserEmail": "u1@example.com",
        "x_Surface": "chat",
    }
    assert {key: line[key] for key in expected} == expected


def test_a_credit_line_is_one_credit_row_whose_every_cost_is_the_credit() -> None:
    row = _row(metric_name="PROMO_CREDIT", charges=[_charge("credit", -18.44), _charge("net", -18.44)])
    [line] = focus_rows(row, SOURCE)
    assert line["ChargeCategory"] == "Credit"
    assert line["ChargeFrequency"] == "One-Time"
    for column in ("BilledCost", "EffectiveCost", "ContractedCost", "ListCost"):
        assert line[column] == Decimal("-18.44"), column
    # no product: the block's service name; credits carry no SKU, quantity or pricing category
    assert line["ServiceName"] == "Acme"
    assert line["ChargeDescription"] == "Credit: Acme PROMO_CREDIT"
    assert (line["SkuId"], line["PricingQuantity"], line["PricingUnit"], line["PricingCategory"]) == (None,) * 4
    assert line["x_UnimeterLineId"] == "acme:2026-10-01:u1#credit"


def test_credit_and_tax_on_a_usage_row_are_rows_of_their_own_and_billed_cost_still_sums_to_net() -> None:
    # total 100 + discount -10 + credit -25 + tax 6.5 = net 71.5 (docs/money.md rule 4)
    row = _row(
        product={"id": "api", "name": "Acme API"},
        metric_name="tokens",
        usage={"quantity": 2_000_000, "unit": "tokens"},
        charges=[
            _charge("total", 100),
            _charge("discount", -10),
            _charge("credit", -25),
            _charge("tax", 6.5),
            _charge("net", 71.5),
        ],
    )
    usage, credit, tax = focus_rows(row, SOURCE)
    assert (usage["ChargeCategory"], credit["ChargeCategory"], tax["ChargeCategory"]) == ("Usage", "Credit", "Tax")
    assert usage["BilledCost"] == Decimal("90")  # 71.5 - (-25) - 6.5: the row's price after its discount
    assert usage["ListCost"] == Decimal("100")
    assert usage["ContractedCost"] == usage["EffectiveCost"] == Decimal("90")
    assert credit["BilledCost"] == credit["ListCost"] == Decimal("-25")
    assert tax["BilledCost"] == tax["ListCost"] == tax["EffectiveCost"] == Decimal("6.5")
    assert usage["BilledCost"] + credit["BilledCost"] + tax["BilledCost"] == Decimal("71.5")
    # FOCUS: a tax row has no pricing quantity, unit, SKU or pricing category
    assert (tax["PricingQuantity"], tax["PricingUnit"], tax["SkuPriceId"], tax["PricingCategory"]) == (None,) * 4
    assert tax["ChargeDescription"] == "Tax: Acme API tokens"
    assert [line["x_UnimeterLineId"] for line in (usage, credit, tax)] == [
        "acme:2026-10-01:u1#usage",
        "acme:2026-10-01:u1#credit",
        "acme:2026-10-01:u1#tax",
    ]


def test_the_parts_of_net_are_never_rows() -> None:
    # committed + on_demand = net: the parts say what net is made of; a row for each would bill it twice
    row = _row(
        product={"id": "infra_host", "name": "infra_host"},
        metric_name="infra_host",
        start_date="2026-10-01T00:00:00Z",
        end_date="2026-11-01T00:00:00Z",
        charges=[_charge("committed", 2273.67), _charge("on_demand", 507.92), _charge("net", 2781.59)],
    )
    [line] = focus_rows(row, SOURCE)
    assert line["BilledCost"] == line["ListCost"] == Decimal("2781.59")  # no gross stated: listed at what it bills
    assert line["ChargePeriodEnd"] == _day(1, month=11)
    assert line["ChargeDescription"] == "infra_host"  # the metric is not repeated after a service of the same name
    assert line["SkuId"] == "infra_host/infra_host"


def test_included_usage_is_a_usage_row_that_bills_nothing() -> None:
    row = _row(
        metric_name="model_request",
        usage={"quantity": 2, "unit": "request_units"},
        charges=[_charge("net", 0), _charge("included", 0.43408)],
    )
    [line] = focus_rows(row, SOURCE)
    assert (line["ChargeCategory"], line["BilledCost"], line["ListCost"]) == ("Usage", Decimal(0), Decimal(0))
    assert line["SkuId"] == "acme/model_request"  # no product: the integration names the SKU


@pytest.mark.parametrize(
    "charges",
    [
        [_charge("total", 12.5)],  # a list-price illustration: billed elsewhere, never a FOCUS row
        [],
        None,
    ],
)
def test_a_row_without_net_makes_no_focus_row(charges: list[dict[str, Any]] | None) -> None:
    row = _row(charges=charges) if charges is not None else _row()
    assert focus_rows(row, SOURCE) == []


def test_charge_periods_have_whole_seconds_that_still_hold_the_charge() -> None:
    row = _row(
        start_date="2026-12-31T23:59:59.745Z",
        end_date="2026-12-31T23:59:59.746Z",
        charges=[_charge("net", 0.08025)],
    )
    [line] = focus_rows(row, SOURCE)
    assert line["ChargePeriodStart"] == datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)  # floored
    assert line["ChargePeriodEnd"] == datetime(2027, 1, 1, tzinfo=UTC)  # an exclusive end rounds up
    # the billing period is the calendar month the charge starts in
    assert (line["BillingPeriodStart"], line["BillingPeriodEnd"]) == (
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )


def test_an_offset_date_time_is_read_in_utc() -> None:
    row = _row(start_date="2026-10-01T02:00:00+02:00", end_date="2026-10-02T02:00:00+02:00")
    row["charges"] = [_charge("net", 1)]
    [line] = focus_rows(row, SOURCE)
    assert line["ChargePeriodStart"] == _day(1)
    assert line["BillingPeriodStart"] == _day(1)


def test_the_resource_is_the_first_that_is_not_its_own_workspace_and_the_workspace_is_the_sub_account() -> None:
    project = {"id": "proj_1", "workspace": {"id": "proj_1"}}
    key = {"id": "key_9", "name": "key_9", "workspace": {"id": "proj_1"}}
    row = _row(
        product={"id": "api", "name": "Acme API"},
        organization={"id": "org-9"},
        resources=[project, key],
        charges=[_charge("net", 1.25)],
    )
    [line] = focus_rows(row, SOURCE)
    assert (line["SubAccountId"], line["SubAccountName"]) == ("proj_1", None)
    assert line["ResourceId"] == "key_9"
    assert line["ResourceName"] is None  # a name that only repeats the id is not a name (FOCUS ResourceName)
    assert line["ResourceType"] == "Acme API"  # no resource_type declared: the product's name

    typed = FocusSource("acme", dataclasses.replace(FOCUS, resource_type="API Key"), "acct-1")
    assert focus_rows(row, typed)[0]["ResourceType"] == "API Key"


def test_a_workspace_known_only_by_name_names_the_sub_account() -> None:
    row = _row(resources=[{"workspace": {"name": "Default"}}], charges=[_charge("net", 0.14)])
    [line] = focus_rows(row, SOURCE)
    assert (line["SubAccountId"], line["SubAccountName"], line["ResourceId"]) == (None, "Default", None)


def test_exact_decimals_from_amounts_of_every_json_form() -> None:
    # a float reads through its shortest repr (0.1 is 0.1, not its binary expansion); strings and ints exactly
    row = _row(charges=[_charge("total", 0.3), _charge("discount", "-0.1"), _charge("net", 0.2)])
    [line] = focus_rows(row, SOURCE)
    assert (line["ListCost"], line["BilledCost"]) == (Decimal("0.3"), Decimal("0.2"))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"start_date": None}, "has money but no start_date"),
        ({"end_date": "yesterday"}, "end_date 'yesterday' is not an RFC 3339 date-time"),
        ({"end_date": "2026-10-02T00:00:00"}, "has no time zone"),
        ({"charges": [_charge("total", 1, "EUR"), _charge("net", 1)]}, "mixes currencies ['EUR', 'USD']"),
        ({"charges": [_charge("net", 1), _charge("net", 2)]}, "two 'net' charges"),
        ({"charges": [{"type": "net", "amount": 1}]}, "net charge without a currency"),
        ({"charges": [_charge("net", True)]}, "net amount True is not a number"),
    ],
)
def test_a_row_that_cannot_be_a_focus_row_is_an_error_naming_it(fields: dict[str, Any], message: str) -> None:
    row = _row(charges=[_charge("net", 1)])
    row.update(fields)
    row = {key: value for key, value in row.items() if value is not None}
    with pytest.raises(MappingError) as caught:
        focus_rows(row, SOURCE)
    assert message in caught.value.message
    assert "acme:2026-10-01:u1" in caught.value.message


def test_a_mapping_without_a_focus_block_is_its_own_provider_in_category_other() -> None:
    spec = load_integration("cursor")
    assert spec.focus is not None  # every shipped mapping declares its block
    focus = default_focus(dataclasses.replace(spec, focus=None))
    assert (focus.provider, focus.publisher, focus.invoice_issuer, focus.service_name) == (spec.label,) * 4
    assert focus.service_category == "Other"
    assert focus.queries == ({},)

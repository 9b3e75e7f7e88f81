"""The Datadog simulator: schema-valid cost responses, the engine's month routing over it, auth, limits, determinism."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator, FormatChecker

from tests.helpers.paths import PROJECT, VENDOR_SCHEMAS
from unimeter.errors import VendorAuthError
from unimeter.run.pipeline import alist_usage
from unimeter.sandbox import SandboxConfig, account_fields, start_sandbox
from unimeter.sandbox.vendors.datadog import DatadogSimulator

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)
ROW_VALIDATOR = Draft202012Validator(
    json.loads((PROJECT / "schemas" / "usage.schema.json").read_text()), format_checker=FormatChecker()
)
PRODUCTS = {"infra_host", "apm_host", "logs_indexed_15day", "timeseries", "synthetics_api_tests", "siem"}
ESTIMATED = "/api/v2/usage/estimated_cost"
HISTORICAL = "/api/v2/usage/historical_cost"
CONFIG = SandboxConfig(seed=11, organizations=4)


def _schema(name: str) -> Draft202012Validator:
    path = VENDOR_SCHEMAS / f"datadog-{name}.json"
    if not path.exists():
        pytest.skip(f"vendor schema {path} is not available")
    return Draft202012Validator(json.loads(path.read_text()), format_checker=FormatChecker())


def _error_schema() -> Draft202012Validator:
    """The spec's APIErrorResponse ({"errors": [string]}, the body of 400, 403 and 429)."""
    path = VENDOR_SCHEMAS / "datadog-estimated-cost.json"
    if not path.exists():
        pytest.skip(f"vendor schema {path} is not available")
    defs = json.loads(path.read_text())["$defs"]
    return Draft202012Validator({"$ref": "#/$defs/APIErrorResponse", "$defs": defs})


@pytest.fixture(autouse=True)
def pinned_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(DatadogSimulator, "clock", NOW)


@pytest.fixture
def sandbox() -> Iterator[Any]:
    with start_sandbox(["datadog"], CONFIG) as running:
        yield running


def _get(sandbox: Any, path: str, params: dict[str, str], keys: dict[str, str] | None = None) -> httpx.Response:
    endpoint = sandbox.endpoint("datadog")
    credentials = endpoint["credentials"]
    headers = (
        keys
        if keys is not None
        else {"DD-API-KEY": credentials["api_key"], "DD-APPLICATION-KEY": credentials["application_key"]}
    )
    return httpx.get(endpoint["base_url"] + path, params=params, headers=headers)


def _usage(
    sandbox: Any, params: dict[str, str], config_credentials: dict[str, str] | None = None, view: str = "sub-org"
) -> list[dict[str, Any]]:
    endpoint = sandbox.endpoint("datadog")
    response = asyncio.run(
        alist_usage(
            "datadog",
            credentials=config_credentials or endpoint["credentials"],
            context={**account_fields(endpoint)["context"], "view": view},
            params=params,
            now=NOW,
        )
    )
    rows: list[dict[str, Any]] = response["result"]
    return rows


@pytest.mark.parametrize(
    ("path", "schema", "params", "items"),
    [
        (ESTIMATED, "estimated-cost", {"view": "sub-org", "start_month": "2026-10", "end_month": "2026-11"}, 2 * 4),
        (ESTIMATED, "estimated-cost", {"start_month": "2026-11"}, 1),
        (ESTIMATED, "estimated-cost", {"view": "sub-org", "start_date": "2026-10-30", "end_date": "2026-11-02"}, 4 * 4),
        (ESTIMATED, "estimated-cost", {"view": "sub-org", "start_month": "2026-10-01T00:00:00Z"}, 2 * 4),
        (ESTIMATED, "estimated-cost", {"view": "summary", "start_month": "2026-12", "end_month": "2027-01"}, 0),
        (HISTORICAL, "historical-cost", {"view": "sub-org", "start_month": "2026-01", "end_month": "2026-03"}, 3 * 4),
        (HISTORICAL, "historical-cost", {"view": "summary", "start_month": "2025-08"}, 15),
        (HISTORICAL, "historical-cost", {"view": "sub-org", "start_month": "2026-11", "end_month": "2026-11"}, 0),
    ],
)
def test_responses_validate_against_the_vendor_schema(
    sandbox: Any, path: str, schema: str, params: dict[str, str], items: int
) -> None:
    response = _get(sandbox, path, params)
    assert response.status_code == 200, response.text
    body = response.json()
    _schema(schema).validate(body)
    assert len(body["data"]) == items
    for item in body["data"]:
        charges = item["attributes"]["charges"]
        assert {charge["product_name"] for charge in charges} == PRODUCTS
        by_type: dict[tuple[str, str], Decimal] = {
            (c["product_name"], c["charge_type"]): Decimal(str(c["cost"])) for c in charges
        }
        for product in PRODUCTS:
            assert by_type[product, "total"] == by_type[product, "committed"] + by_type[product, "on_demand"]
        assert Decimal(str(item["attributes"]["total_cost"])) == sum(by_type[p, "total"] for p in PRODUCTS)
        assert len(item["id"]) == 64


def test_summary_is_the_sum_of_the_sub_orgs(sandbox: Any) -> None:
    query = {"start_month": "2026-06", "end_month": "2026-06"}
    summary = _get(sandbox, HISTORICAL, {**query, "view": "summary"}).json()["data"]
    sub_orgs = _get(sandbox, HISTORICAL, {**query, "view": "sub-org"}).json()["data"]
    assert len(summary) == 1 and len(sub_orgs) == CONFIG.organizations
    assert summary[0]["attributes"]["public_id"] == sub_orgs[0]["attributes"]["public_id"]
    total = sum(Decimal(str(item["attributes"]["total_cost"])) for item in sub_orgs)
    assert Decimal(str(summary[0]["attributes"]["total_cost"])) == total


def test_daily_estimated_cost_is_month_to_date_cumulative(sandbox: Any) -> None:
    days = _get(sandbox, ESTIMATED, {"view": "summary", "start_date": "2026-10-01", "end_date": "2026-12-05"})
    data = days.json()["data"]
    assert [item["attributes"]["date"][:10] for item in data][-1] == "2026-11-26", "no days after the clock"
    assert len(data) == 31 + 26
    totals = [Decimal(str(item["attributes"]["total_cost"])) for item in data]
    assert totals[:31] == sorted(totals[:31]) and totals[31:] == sorted(totals[31:])
    october = _get(sandbox, ESTIMATED, {"view": "summary", "start_month": "2026-10", "end_month": "2026-10"})
    assert Decimal(str(october.json()["data"][0]["attributes"]["total_cost"])) == totals[30]


def test_a_final_month_is_its_estimate_plus_a_late_on_demand_true_up(sandbox: Any) -> None:
    query = {"view": "sub-org", "start_month": "2026-10", "end_month": "2026-10"}
    estimated = _get(sandbox, ESTIMATED, query).json()["data"]
    historical = _get(sandbox, HISTORICAL, query).json()["data"]

    def costs(items: list[dict[str, Any]]) -> dict[tuple[str, str, str], Decimal]:
        return {
            (item["attributes"]["public_id"], c["product_name"], c["charge_type"]): Decimal(str(c["cost"]))
            for item in items
            for c in item["attributes"]["charges"]
        }

    before, after = costs(estimated), costs(historical)
    assert before.keys() == after.keys()
    late = [key for key in before if key[2] == "on_demand" and after[key] > before[key]]
    assert late, "some on-demand usage reaches Datadog after the estimate"
    for key, amount in before.items():
        if key[2] == "committed":
            assert after[key] == amount
        else:
            assert amount <= after[key] <= amount * Decimal("1.03") + Decimal("0.01")


def test_the_previous_month_is_historical_only_from_the_16th(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(DatadogSimulator, "clock", datetime(2026, 11, 15, 23, tzinfo=UTC))
    assert _get(sandbox, HISTORICAL, {"start_month": "2026-10"}).json() == {"data": []}
    monkeypatch.setattr(DatadogSimulator, "clock", datetime(2026, 11, 16, tzinfo=UTC))
    assert len(_get(sandbox, HISTORICAL, {"start_month": "2026-10"}).json()["data"]) == 1


def test_engine_reads_every_month_through_both_endpoints(sandbox: Any) -> None:
    params = DatadogSimulator.sample_params(NOW)
    assert params == {"start_date": "2026-07-01", "end_date": "2026-11-30"}
    rows = _usage(sandbox, params)
    months, products = 5, len(PRODUCTS)
    assert len(rows) == months * CONFIG.organizations * products
    assert sandbox.request_count("datadog") == months
    for row in rows:
        ROW_VALIDATOR.validate(row)
        charges = {charge["type"]: Decimal(str(charge["amount"])) for charge in row["charges"]}
        assert charges["net"] == charges["committed"] + charges["on_demand"]
    assert {row["start_date"][:7] for row in rows} == {"2026-07", "2026-08", "2026-09", "2026-10", "2026-11"}
    assert not [row["id"] for row in rows if "estimated" in row["id"] or "historical" in row["id"]]
    assert len({row["organization"]["id"] for row in rows}) == CONFIG.organizations


def test_a_month_read_as_an_estimate_and_later_as_final_keeps_its_ids(
    sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # October on November 10 comes from estimated_cost; on December 20 from historical_cost. Same measurement, same
    # ids: upserting the second read replaces the estimate instead of adding a second October.
    endpoint = sandbox.endpoint("datadog")
    october = {"start_date": "2026-10-01", "end_date": "2026-10-31"}
    reads = []
    for moment in (datetime(2026, 11, 10, 12, tzinfo=UTC), datetime(2026, 12, 20, 12, tzinfo=UTC)):
        monkeypatch.setattr(DatadogSimulator, "clock", moment)
        before = sandbox.request_count("datadog")
        response = asyncio.run(
            alist_usage(
                "datadog",
                **account_fields(endpoint),
                params=october,
                now=moment,
            )
        )
        assert sandbox.request_count("datadog") - before == 1
        reads.append(response["result"])
    estimated, final = reads
    assert estimated and [row["id"] for row in estimated] == [row["id"] for row in final]
    upserted = {row["id"]: row for row in estimated} | {row["id"]: row for row in final}
    assert len(upserted) == len(final)


def test_summary_view_through_the_engine_gives_one_organization(sandbox: Any) -> None:
    rows = _usage(sandbox, {"start_date": "2026-10-01", "end_date": "2026-11-30"}, view="summary")
    assert len(rows) == 2 * len(PRODUCTS)
    assert len({row["organization"]["id"] for row in rows}) == 1


@pytest.mark.parametrize(
    "keys",
    [
        {},
        {"DD-API-KEY": "dd_api_key_sandbox"},
        {"DD-APPLICATION-KEY": "dd_app_key_sandbox"},
        {"DD-API-KEY": "dd_api_key_sandbox", "DD-APPLICATION-KEY": "wrong"},
        {"DD-API-KEY": "wrong", "DD-APPLICATION-KEY": "dd_app_key_sandbox"},
    ],
)
def test_missing_or_wrong_keys_answer_403_forbidden(sandbox: Any, keys: dict[str, str]) -> None:
    for path in (ESTIMATED, HISTORICAL):
        response = _get(sandbox, path, {"start_month": "2026-10"}, keys)
        assert response.status_code == 403
        assert response.json() == {"errors": ["Forbidden"]}
        _error_schema().validate(response.json())


def test_engine_with_wrong_keys_raises_an_auth_error(sandbox: Any) -> None:
    with pytest.raises(VendorAuthError) as caught:
        _usage(sandbox, {"start_date": "2026-11-01"}, {"api_key": "nope", "application_key": "nope"})
    assert caught.value.status == 403
    assert "Forbidden" in str(caught.value)


@pytest.mark.parametrize(
    ("path", "params", "message"),
    [
        (ESTIMATED, {"start_month": "2026-09"}, "start_month must not be before 2026-10"),
        (ESTIMATED, {"start_date": "2026-09-30"}, "start_date must not be before 2026-10-01"),
        (ESTIMATED, {"start_month": "2026-10", "start_date": "2026-10-01"}, "not both"),
        (ESTIMATED, {}, "Either start_month or start_date is required"),
        (ESTIMATED, {"start_month": "2026-11", "end_month": "2026-10"}, "end_month must not be before start_month"),
        (ESTIMATED, {"start_month": "October"}, "start_month must be a month"),
        (ESTIMATED, {"start_month": "2026-11", "view": "everything"}, "Invalid view"),
        (HISTORICAL, {"start_month": "2025-07"}, "start_month must not be before 2025-08"),
        (HISTORICAL, {"end_month": "2026-10"}, "start_month is required"),
    ],
)
def test_out_of_range_or_malformed_queries_answer_400_in_the_vendor_shape(
    sandbox: Any, path: str, params: dict[str, str], message: str
) -> None:
    response = _get(sandbox, path, params)
    assert response.status_code == 400
    body = response.json()
    _error_schema().validate(body)
    assert list(body) == ["errors"] and len(body["errors"]) == 1
    assert message in body["errors"][0]


def test_unknown_paths_answer_404_in_the_vendor_shape(sandbox: Any) -> None:
    response = _get(sandbox, "/api/v2/usage/cost_by_org", {"start_month": "2026-10"})
    assert response.status_code == 404 and response.json() == {"errors": ["Not found"]}


def test_same_seed_same_rows_other_seed_other_rows(sandbox: Any) -> None:
    params = DatadogSimulator.sample_params(NOW)
    first = _usage(sandbox, params)
    with start_sandbox(["datadog"], CONFIG) as again:
        assert _usage(again, params) == first
    with start_sandbox(["datadog"], SandboxConfig(seed=12, organizations=4)) as other:
        other_rows = _usage(other, params)
    assert len(other_rows) == len(first)
    assert [row["charges"] for row in other_rows] != [row["charges"] for row in first]
    assert {row["organization"]["id"] for row in other_rows}.isdisjoint({row["organization"]["id"] for row in first})


def test_rate_limit_answers_429_with_the_documented_x_ratelimit_headers() -> None:
    with start_sandbox(["datadog"], SandboxConfig(retry_after_seconds=2), [("datadog", "rate_limit", 1)]) as running:
        response = _get(running, ESTIMATED, {"start_month": "2026-11"})
    assert response.status_code == 429
    assert response.json() == {"errors": ["Too many requests"]}
    assert response.headers["x-ratelimit-reset"] == "2"
    assert "retry-after" not in response.headers


def test_the_real_clock_is_used_when_none_is_pinned(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(DatadogSimulator, "clock", None)
    before = datetime.now(UTC)
    assert before <= DatadogSimulator(CONFIG).now() <= datetime.now(UTC)


@pytest.mark.parametrize(
    ("path", "params"),
    [
        (ESTIMATED, {"start_month": "2026-12"}),
        (ESTIMATED, {"start_date": "2026-11-27"}),
        (HISTORICAL, {"start_month": "2026-11"}),
    ],
)
def test_a_start_after_the_latest_reported_period_without_an_end_gives_no_data(
    sandbox: Any, path: str, params: dict[str, str]
) -> None:
    response = _get(sandbox, path, params)
    assert response.status_code == 200 and response.json() == {"data": []}

"""The Cursor simulator's usage events against the vendor doc, the vendor's response schema and the real engine.

The simulator's clock and the engine's are pinned to the same instant (the middle of a month), so the open month's
bill is the vendor's running total and a closed month's is final.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from tests.helpers.paths import PROJECT, VENDOR_SCHEMAS
from unimeter.errors import VendorAuthError
from unimeter.run.pipeline import alist_usage
from unimeter.sandbox import SIMULATORS, SandboxConfig, account_fields, start_sandbox

EVENTS = Draft202012Validator(json.loads((VENDOR_SCHEMAS / "cursor-filtered-usage-events.json").read_text()))
USAGE = Draft202012Validator(json.loads((PROJECT / "schemas" / "usage.schema.json").read_text()))
ERROR = Draft202012Validator(
    {
        "type": "object",
        "required": ["error", "message"],
        "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
    }
)

NOW = datetime(2026, 11, 16, 12, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
CONFIG = SandboxConfig(seed=5, users=12, now=NOW)
DAY_MS = 86_400_000
PATH = "/teams/filtered-usage-events"
OCTOBER = (date(2026, 10, 1), date(2026, 11, 1))
NOVEMBER = (date(2026, 11, 1), date(2026, 12, 1))


def _ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


@pytest.fixture(scope="module")
def sandbox() -> Any:
    with start_sandbox(["cursor"], CONFIG) as running:
        yield running


@pytest.fixture(scope="module")
def endpoint(sandbox: Any) -> dict[str, Any]:
    endpoint: dict[str, Any] = sandbox.endpoint("cursor")
    return endpoint


def _client(endpoint: dict[str, Any], auth: tuple[str, str] | None = None) -> httpx.Client:
    key = endpoint["credentials"]["api_key"]
    return httpx.Client(base_url=endpoint["base_url"], timeout=10, auth=auth or (key, ""))


def _events(client: httpx.Client, **body: Any) -> dict[str, Any]:
    response = client.post(PATH, json=body)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    EVENTS.validate(page)
    return page


def _all_pages(client: httpx.Client, start: int, end: int, size: int) -> list[list[dict[str, Any]]]:
    pages, page = [], 1
    while True:
        body = _events(client, startDate=start, endDate=end, page=page, pageSize=size)
        pages.append(body["usageEvents"])
        if not body["pagination"]["hasNextPage"]:
            return pages
        page += 1


def _error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    ERROR.validate(body)
    return body


def _usage(endpoint: dict[str, Any], params: dict[str, str]) -> list[dict[str, Any]]:
    response = asyncio.run(alist_usage("cursor", **account_fields(endpoint), params=params, now=NOW))
    rows: list[dict[str, Any]] = response["result"]
    return rows


def test_pages_validate_hold_the_range_newest_first_and_never_pass_now(endpoint: dict[str, Any]) -> None:
    start, end = _ms(date(2026, 11, 10)), NOW_MS + 5 * DAY_MS
    with _client(endpoint) as client:
        pages = _all_pages(client, start, end, 50)
    events = [event for page in pages for event in page]
    assert len(pages) >= 3 and all(len(page) == 50 for page in pages[:-1])
    stamps = [int(event["timestamp"]) for event in events]
    assert stamps == sorted(stamps, reverse=True)
    assert min(stamps) >= start and max(stamps) <= NOW_MS
    assert len({json.dumps(event, sort_keys=True) for event in events}) == len(events)


def test_page_size_defaults_to_10_and_is_served_as_at_most_1000(endpoint: dict[str, Any]) -> None:
    start, end = _ms(date(2026, 10, 1)), _ms(date(2026, 10, 31)) - 1
    with _client(endpoint) as client:
        default = _events(client, startDate=start, endDate=end)
        capped = _events(client, startDate=start, endDate=end, pageSize=5000)
    assert default["totalUsageEventsCount"] > 1000
    assert len(default["usageEvents"]) == default["pagination"]["pageSize"] == 10
    assert default["pagination"]["numPages"] == -(-default["totalUsageEventsCount"] // 10)
    assert len(capped["usageEvents"]) == capped["pagination"]["pageSize"] == 1000
    assert capped["pagination"]["hasNextPage"] is True and capped["pagination"]["hasPreviousPage"] is False


def test_chargeable_events_are_the_usage_based_ones_and_charged_cents_follow_the_documented_sum(
    endpoint: dict[str, Any],
) -> None:
    with _client(endpoint) as client:
        events = [e for p in _all_pages(client, _ms(date(2026, 10, 1)), _ms(date(2026, 10, 20)), 1000) for e in p]
    kinds = {event["kind"] for event in events}
    assert kinds == {"Included in Business", "Usage-based", "Errored, Not Charged"}
    for event in events:
        assert event["isChargeable"] is (event["kind"] == "Usage-based")
        usage = event["tokenUsage"]
        off = Decimal(usage.get("discountPercentOff", 0))
        model = (Decimal(str(usage["totalCents"])) * (100 - off) / 100).quantize(Decimal("0.001"), ROUND_HALF_UP)
        expected = model + Decimal(str(event.get("cursorTokenFee", 0)))
        assert Decimal(str(event["chargedCents"])) == expected, event
    included = [event for event in events if event["kind"] == "Included in Business"]
    assert included and all(event["chargedCents"] > 0 for event in included)  # priced, yet not billed
    assert any("discountPercentOff" in event["tokenUsage"] for event in events)


def test_some_events_share_user_model_and_millisecond(endpoint: dict[str, Any]) -> None:
    with _client(endpoint) as client:
        events = [e for p in _all_pages(client, _ms(date(2026, 10, 1)), _ms(date(2026, 10, 20)), 1000) for e in p]
    keys = [(event["timestamp"], event["userEmail"], event["model"]) for event in events]
    assert len(set(keys)) < len(keys)


@pytest.mark.parametrize(
    "auth", [("key_sandbox_cursor", "password"), ("key_other", ""), None], ids=["password", "key", "none"]
)
def test_anything_but_the_key_with_an_empty_password_is_the_documented_401(
    endpoint: dict[str, Any], auth: tuple[str, str] | None
) -> None:
    body = {"startDate": _ms(date(2026, 10, 1)), "endDate": _ms(date(2026, 10, 2))}
    if auth is None:
        response = httpx.post(endpoint["base_url"] + PATH, json=body, timeout=10)
    else:
        with _client(endpoint, auth) as client:
            response = client.post(PATH, json=body)
    assert _error(response, 401) == {"error": "Unauthorized", "message": "Invalid API key"}


@pytest.mark.parametrize(
    "body",
    [
        {"startDate": _ms(date(2026, 9, 1)), "endDate": _ms(date(2026, 10, 1)) + 1},
        {"startDate": _ms(date(2026, 10, 2)), "endDate": _ms(date(2026, 10, 1))},
        {"startDate": "2026-10-01", "endDate": _ms(date(2026, 10, 2))},
        {"startDate": _ms(date(2026, 10, 1)), "endDate": _ms(date(2026, 10, 2)), "pageSize": 0},
    ],
    ids=["over-30-days", "start-after-end", "not-epoch-ms", "page-size-0"],
)
def test_bad_ranges_and_pages_are_a_400(endpoint: dict[str, Any], body: dict[str, Any]) -> None:
    with _client(endpoint) as client:
        assert _error(client.post(PATH, json=body), 400)["error"] == "Bad Request"


def test_exactly_30_days_is_accepted_and_no_dates_mean_the_last_30_days(endpoint: dict[str, Any]) -> None:
    with _client(endpoint) as client:
        _events(client, startDate=_ms(date(2026, 9, 1)), endDate=_ms(date(2026, 10, 1)))
        undated = _events(client, pageSize=1000)
    assert undated["period"] == {"startDate": NOW_MS - 30 * DAY_MS, "endDate": NOW_MS}


def test_other_paths_are_the_documented_404(endpoint: dict[str, Any]) -> None:
    with _client(endpoint) as client:
        assert _error(client.post("/teams/spend", json={}), 404)["message"] == "Resource not found"
        assert _error(client.get(PATH), 404)["error"] == "Not Found"


@pytest.mark.parametrize("month", [OCTOBER, NOVEMBER], ids=["closed", "open"])
def test_sum_of_net_over_the_billing_queries_is_the_invoice(endpoint: dict[str, Any], month: tuple[date, date]) -> None:
    simulator = SIMULATORS["cursor"](CONFIG)
    rows = [row for query in simulator.billing_queries(*month) for row in _usage(endpoint, query)]
    nets = []
    for row in rows:
        USAGE.validate(row)
        (net,) = [charge for charge in row["charges"] if charge["type"] == "net"]
        nets.append(Decimal(str(net["amount"])))
        parts = {charge["type"]: Decimal(str(charge["amount"])) for charge in row["charges"]}
        if "total" in parts:
            assert parts["total"] + parts.get("discount", Decimal(0)) == parts["net"], row
        assert month[0].isoformat() <= row["start_date"][:10] < month[1].isoformat()
    invoice = simulator.invoice(*month)
    assert invoice is not None and invoice > 0
    assert sum(nets, Decimal(0)) == invoice
    assert len({row["id"] for row in rows}) == len(rows)
    assert any(row["charges"][0]["amount"] == 0 for row in rows)  # included and errored events add nothing


def test_a_month_that_has_not_begun_bills_nothing() -> None:
    assert SIMULATORS["cursor"](CONFIG).invoice(date(2026, 12, 1), date(2027, 1, 1)) == 0


def test_same_millisecond_events_become_distinct_rows(endpoint: dict[str, Any]) -> None:
    rows = _usage(endpoint, {"report_type": "usage_events", "start_date": "2026-10-01", "end_date": "2026-10-20"})
    keys = [(row["start_date"], row["user"]["email"], row["model"]["id"]) for row in rows]
    assert len(set(keys)) < len(keys)
    assert len({row["id"] for row in rows}) == len(rows)


def test_the_engine_reads_several_pages_per_window(sandbox: Any, endpoint: dict[str, Any]) -> None:
    before = sandbox.request_count("cursor")
    rows = _usage(endpoint, {"report_type": "usage_events", "start_date": "2026-09-01", "end_date": "2026-10-15"})
    requests = sandbox.request_count("cursor") - before
    assert len(rows) > 1000 and requests >= 3  # two windows, the first over 1000 events


def test_the_default_report_is_still_daily_usage(endpoint: dict[str, Any]) -> None:
    rows = _usage(endpoint, {"start_date": "2026-10-01", "end_date": "2026-10-02"})
    assert {row["metric_name"] for row in rows} == {"daily_activity"}
    assert len(rows) == 2 * CONFIG.users and not any("charges" in row for row in rows)


def test_the_demo_runs_the_money_report() -> None:
    assert {"report_type": "usage_events"} in SIMULATORS["cursor"].demo_queries


def test_the_engine_turns_a_wrong_key_into_an_auth_error(endpoint: dict[str, Any]) -> None:
    with pytest.raises(VendorAuthError) as raised:
        asyncio.run(
            alist_usage(
                "cursor",
                credentials={"api_key": "nope"},
                context={"base_url": endpoint["base_url"]},
                params={"report_type": "usage_events", "start_date": "2026-10-01", "end_date": "2026-10-01"},
                now=NOW,
            )
        )
    assert raised.value.status == 401


def _one_page(seed: int) -> list[Any]:
    config = SandboxConfig(seed=seed, users=3, now=NOW)
    with start_sandbox(["cursor"], config) as sandbox, _client(sandbox.endpoint("cursor")) as client:
        body = _events(client, startDate=_ms(date(2026, 10, 1)), endDate=_ms(date(2026, 10, 5)), pageSize=1000)
    events: list[Any] = body["usageEvents"]
    return events


def test_events_are_determined_by_the_seed() -> None:
    assert _one_page(5) == _one_page(5)
    assert _one_page(5) != _one_page(6)

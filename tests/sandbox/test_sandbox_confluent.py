"""The Confluent simulator against the vendor doc, the vendor's response schema and the real engine over HTTP.

Dates are taken relative to the real UTC day because the simulator, like the vendor, checks the one-year look-back
against its own clock; the engine's clock is pinned to noon of that day.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from jsonschema import Draft202012Validator

from tests.helpers.paths import PROJECT, VENDOR_SCHEMAS
from unimeter.errors import VendorAuthError
from unimeter.run.pipeline import alist_usage
from unimeter.sandbox import SIMULATORS, SandboxConfig, account_fields, start_sandbox

ROOT = PROJECT
VENDOR_SCHEMA = json.loads((VENDOR_SCHEMAS / "confluent-billing-costs.json").read_text())
COSTS = Draft202012Validator(VENDOR_SCHEMA)
FAILURE = Draft202012Validator({"$ref": "#/$defs/Failure", "$defs": VENDOR_SCHEMA["$defs"]})
USAGE = Draft202012Validator(json.loads((ROOT / "schemas" / "usage.schema.json").read_text()))

CONFIG = SandboxConfig(seed=11, resources=5, organizations=2)
ROWS_PER_DAY = CONFIG.resources * 3 + 1  # three line types per resource, one promo credit per day
WEEK_OF_ROWS = 7 * ROWS_PER_DAY  # the sandbox's page cap
TODAY = datetime.now(UTC).date()
NOW = datetime(TODAY.year, TODAY.month, TODAY.day, 12, tzinfo=UTC)
PATH = "/billing/v1/costs"


def _first_of_month(day: date, months_back: int) -> date:
    index = day.year * 12 + day.month - 1 - months_back
    return date(index // 12, index % 12 + 1, 1)


MONTH = _first_of_month(TODAY, 3)  # a whole month well inside the one-year look-back
NEXT_MONTH = _first_of_month(TODAY, 2)


@pytest.fixture(scope="module")
def endpoint() -> Iterator[dict[str, Any]]:
    with start_sandbox(["confluent"], CONFIG) as sandbox:
        yield sandbox.endpoint("confluent")


def _client(endpoint: dict[str, Any], auth: tuple[str, str] | None = None) -> httpx.Client:
    credentials = endpoint["credentials"]
    return httpx.Client(
        base_url=endpoint["base_url"], timeout=10, auth=auth or (credentials["api_key"], credentials["api_secret"])
    )


def _costs(client: httpx.Client, **params: Any) -> dict[str, Any]:
    response = client.get(PATH, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    COSTS.validate(body)
    return body


def _token(next_url: str) -> str:
    query = parse_qs(urlsplit(next_url).query)
    assert set(query) == {"page_token"}, next_url
    return query["page_token"][0]


def _all_pages(client: httpx.Client, start: date, end: date, page_size: int | None = None) -> list[list[Any]]:
    """Every page of one query, following metadata.next as the mapping does (token plus the dates again)."""
    params: dict[str, Any] = {"start_date": start.isoformat(), "end_date": end.isoformat()}
    body = _costs(client, **params, **({"page_size": page_size} if page_size else {}))
    pages = [body["data"]]
    while body["metadata"].get("next"):
        body = _costs(client, **params, page_token=_token(body["metadata"]["next"]))
        pages.append(body["data"])
    return pages


def _assert_failure(response: httpx.Response, status: int, parameter: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    FAILURE.validate(body)
    (error,) = body["errors"]
    assert isinstance(error, dict)
    assert error["status"] == str(status)
    if parameter:
        assert error["source"] == {"parameter": parameter}
    return error


def test_every_page_validates_and_holds_days_times_lines_with_start_inclusive_end_exclusive(endpoint: Any) -> None:
    end = MONTH + timedelta(days=10)
    with _client(endpoint) as client:
        pages = _all_pages(client, MONTH, end)
    rows = [row for page in pages for row in page]
    assert len(rows) == 10 * ROWS_PER_DAY
    assert [len(page) for page in pages] == [WEEK_OF_ROWS, 3 * ROWS_PER_DAY]
    assert {row["start_date"] for row in rows} == {(MONTH + timedelta(days=d)).isoformat() for d in range(10)}
    for row in rows:
        assert date.fromisoformat(row["end_date"]) == date.fromisoformat(row["start_date"]) + timedelta(days=1)


def test_amounts_are_whole_cents_and_net_is_gross_minus_discount(endpoint: Any) -> None:
    with _client(endpoint) as client:
        rows = [row for page in _all_pages(client, MONTH, MONTH + timedelta(days=7)) for row in page]
    for row in rows:
        original, discount, amount = (Decimal(str(row[k])) for k in ("original_amount", "discount_amount", "amount"))
        assert all(value == value.quantize(Decimal("0.01")) for value in (original, discount, amount)), row
        assert amount == original - discount, row
    costs = [row for row in rows if row["line_type"] != "PROMO_CREDIT"]
    assert any(row["discount_amount"] > 0 for row in costs)
    assert {row["product"] for row in costs} == {"KAFKA", "CONNECT", "STREAM_GOVERNANCE"}
    assert all(row["resource"]["environment"]["id"].startswith("env-") for row in costs)
    assert len({row["resource"]["environment"]["id"] for row in costs}) == CONFIG.organizations


def test_promo_credit_rows_are_negative_and_have_no_product_or_resource(endpoint: Any) -> None:
    with _client(endpoint) as client:
        rows = _costs(client, start_date=MONTH.isoformat(), end_date=(MONTH + timedelta(days=2)).isoformat())["data"]
    promos = [row for row in rows if row["line_type"] == "PROMO_CREDIT"]
    assert len(promos) == 2
    for row in promos:
        assert row["amount"] < 0 and row["amount"] == row["original_amount"] and row["discount_amount"] == 0
        assert not {"product", "resource", "price", "quantity"} & set(row)


def test_next_is_a_full_url_with_only_page_token_that_also_works_verbatim(endpoint: Any) -> None:
    with _client(endpoint) as client:
        first = _costs(client, start_date=MONTH.isoformat(), end_date=NEXT_MONTH.isoformat())
        next_url = first["metadata"]["next"]
        assert next_url.startswith(endpoint["base_url"] + PATH + "?page_token=")
        verbatim = client.get(next_url)
        resent = _costs(
            client, start_date=MONTH.isoformat(), end_date=NEXT_MONTH.isoformat(), page_token=_token(next_url)
        )
    assert verbatim.status_code == 200
    COSTS.validate(verbatim.json())
    assert verbatim.json()["data"] == resent["data"]
    assert resent["data"][0]["start_date"] == (MONTH + timedelta(days=7)).isoformat()


def test_page_size_is_honoured_below_the_cap_and_only_read_on_the_first_request(endpoint: Any) -> None:
    end = MONTH + timedelta(days=2)
    with _client(endpoint) as client:
        pages = _all_pages(client, MONTH, end, page_size=5)
        first = _costs(client, start_date=MONTH.isoformat(), end_date=end.isoformat(), page_size=4)
        ignored = _costs(
            client,
            start_date=MONTH.isoformat(),
            end_date=end.isoformat(),
            page_size=10000,
            page_token=_token(first["metadata"]["next"]),
        )
        at_max = _costs(client, start_date=MONTH.isoformat(), end_date=NEXT_MONTH.isoformat(), page_size=10000)
        default = _costs(client, start_date=MONTH.isoformat(), end_date=NEXT_MONTH.isoformat())
    assert 2 * ROWS_PER_DAY % 5 != 0
    assert [len(page) for page in pages] == [5] * (2 * ROWS_PER_DAY // 5) + [2 * ROWS_PER_DAY % 5]
    assert len(ignored["data"]) == 4
    assert len(at_max["data"]) == len(default["data"]) == WEEK_OF_ROWS


@pytest.mark.parametrize("page_size", ["0", "10001", "ten"])
def test_page_size_outside_1_to_10000_is_a_400(endpoint: Any, page_size: str) -> None:
    with _client(endpoint) as client:
        response = client.get(
            PATH, params={"start_date": MONTH.isoformat(), "end_date": NEXT_MONTH.isoformat(), "page_size": page_size}
        )
    _assert_failure(response, 400, "page_size")


def test_a_forged_token_or_one_resent_with_other_dates_is_a_400(endpoint: Any) -> None:
    with _client(endpoint) as client:
        first = _costs(client, start_date=MONTH.isoformat(), end_date=NEXT_MONTH.isoformat())
        token = _token(first["metadata"]["next"])
        other = client.get(
            PATH,
            params={
                "start_date": (MONTH + timedelta(days=1)).isoformat(),
                "end_date": NEXT_MONTH.isoformat(),
                "page_token": token,
            },
        )
        forged = client.get(PATH, params={"page_token": token[:-2] + "AA"})
    _assert_failure(other, 400, "start_date")
    _assert_failure(forged, 400, "page_token")


@pytest.mark.parametrize("auth", [("SANDBOXCFLTKEY01", "wrong"), ("OTHERKEY", "sandbox-confluent-cloud-api-secret")])
def test_wrong_credentials_get_the_401_failure_shape(endpoint: Any, auth: tuple[str, str]) -> None:
    with _client(endpoint, auth) as client:
        response = client.get(PATH, params={"start_date": MONTH.isoformat(), "end_date": NEXT_MONTH.isoformat()})
    error = _assert_failure(response, 401)
    assert error["code"] == "user_unauthenticated"
    assert response.headers["www-authenticate"].startswith('Basic error="invalid_key"')
    missing = httpx.get(endpoint["base_url"] + PATH, params={"start_date": MONTH.isoformat()})
    _assert_failure(missing, 401)


def test_the_engine_turns_wrong_credentials_into_an_auth_error(endpoint: Any) -> None:
    with pytest.raises(VendorAuthError) as raised:
        asyncio.run(
            alist_usage(
                "confluent",
                credentials={"api_key": "nope", "api_secret": "nope"},
                context={"base_url": endpoint["base_url"]},
                params=SIMULATORS["confluent"].sample_params(NOW),
                now=NOW,
            )
        )
    assert raised.value.status == 401


def _year_back(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February: Go's AddDate rolls over to 1 March
        return date(day.year - 1, 3, 1)


@pytest.mark.parametrize(
    ("start", "end", "parameter"),
    [
        (_year_back(TODAY) - timedelta(days=2), _year_back(TODAY) + timedelta(days=5), "start_date"),
        (MONTH, NEXT_MONTH + timedelta(days=1), "end_date"),
        (MONTH, MONTH, "end_date"),
        (MONTH + timedelta(days=3), MONTH, "end_date"),
    ],
)
def test_out_of_range_dates_get_the_400_failure_shape(endpoint: Any, start: date, end: date, parameter: str) -> None:
    with _client(endpoint) as client:
        response = client.get(PATH, params={"start_date": start.isoformat(), "end_date": end.isoformat()})
    _assert_failure(response, 400, parameter)


@pytest.mark.parametrize(
    "params",
    [
        {"start_date": "2026-1-01", "end_date": "2026-02-01"},
        {"end_date": "2026-02-01"},
        {"start_date": "20260101", "end_date": "2026-02-01"},
    ],
)
def test_missing_or_malformed_dates_get_a_400(endpoint: Any, params: dict[str, str]) -> None:
    with _client(endpoint) as client:
        _assert_failure(client.get(PATH, params=params), 400, "start_date")


def test_the_edges_of_the_limits_are_accepted(endpoint: Any) -> None:
    oldest = _year_back(TODAY) + timedelta(days=1)
    with _client(endpoint) as client:
        _costs(client, start_date=oldest.isoformat(), end_date=(oldest + timedelta(days=1)).isoformat())
        _costs(client, start_date=MONTH.isoformat(), end_date=NEXT_MONTH.isoformat())
        future = TODAY + timedelta(days=5)
        _costs(client, start_date=TODAY.isoformat(), end_date=future.isoformat())


def test_other_paths_are_a_404_failure(endpoint: Any) -> None:
    with _client(endpoint) as client:
        _assert_failure(client.get("/billing/v1/invoices"), 404)


def _month_windows(start: date, end_exclusive: date) -> list[tuple[date, date]]:
    windows, cursor = [], start
    while cursor < end_exclusive:
        following = _first_of_month(cursor, -1)
        windows.append((cursor, min(following, end_exclusive)))
        cursor = following
    return windows


def test_the_engine_reads_several_pages_per_month_and_returns_every_row() -> None:
    params = SIMULATORS["confluent"].sample_params(NOW)
    start, last = date.fromisoformat(params["start_date"]), date.fromisoformat(params["end_date"])
    windows = _month_windows(start, last + timedelta(days=1))
    assert len(windows) == 2
    pages = sum(-(-(b - a).days * ROWS_PER_DAY // WEEK_OF_ROWS) for a, b in windows)
    with start_sandbox(["confluent"], CONFIG) as sandbox:
        endpoint = sandbox.endpoint("confluent")
        result = asyncio.run(
            alist_usage(
                "confluent",
                **account_fields(endpoint),
                params=params,
                now=NOW,
            )
        )["result"]
        requests = sandbox.request_count("confluent")
    assert len(result) == ((last - start).days + 1) * ROWS_PER_DAY
    assert requests == pages and pages >= 2 * len(windows)
    assert len({row["id"] for row in result}) == len(result)
    for row in result:
        USAGE.validate(row)
    credits = [row for row in result if row["metric_name"] == "PROMO_CREDIT"]
    assert len(credits) == (last - start).days + 1
    assert all(row["charges"][0]["type"] == "credit" for row in credits)


def _one_page(seed: int) -> list[Any]:
    config = SandboxConfig(seed=seed, resources=CONFIG.resources, organizations=CONFIG.organizations)
    with start_sandbox(["confluent"], config) as sandbox, _client(sandbox.endpoint("confluent")) as client:
        return list(_costs(client, start_date=MONTH.isoformat(), end_date=NEXT_MONTH.isoformat())["data"])


def test_rows_are_determined_by_the_seed() -> None:
    assert _one_page(5) == _one_page(5)
    assert _one_page(5) != _one_page(6)

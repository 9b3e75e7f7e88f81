"""The Claude Console simulator: schema-valid pages of the Admin API cost and messages usage reports, auth, range and
bucket limits, page tokens, and the money contract (Σnet of the mapping's rows over billing_queries is the invoice)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator, FormatChecker

from tests.helpers.paths import PROJECT, VENDOR_SCHEMAS
from unimeter.errors import VendorAuthError
from unimeter.run.pipeline import alist_usage
from unimeter.sandbox import SandboxConfig, account_fields, start_sandbox
from unimeter.sandbox.vendors.claude_console import (
    COST_PATH,
    FAST_MODE_BETA,
    PAGE_BUCKETS,
    PRICES,
    TOKEN_TYPES,
    USAGE_PATH,
    ClaudeConsoleSimulator,
)

NAME = "claude-console"
NOW = datetime(2026, 11, 26, 12, 30, tzinfo=UTC)
CONFIG = SandboxConfig(seed=11, organizations=2, resources=5, now=NOW)
ROW_VALIDATOR = Draft202012Validator(
    json.loads((PROJECT / "schemas" / "usage.schema.json").read_text()), format_checker=FormatChecker()
)
SCHEMA_OF = {COST_PATH: "claude-admin-cost-report", USAGE_PATH: "claude-admin-messages-usage-report"}
OCTOBER = [("starting_at", "2026-10-01T00:00:00Z"), ("ending_at", "2026-11-01T00:00:00Z")]


def _validator(path: str, error: bool = False) -> Draft202012Validator:
    file = VENDOR_SCHEMAS / f"{SCHEMA_OF[path]}.json"
    schema = json.loads(file.read_text())
    if error:
        schema = {"$ref": "#/$defs/ErrorResponse", "$defs": schema["$defs"]}
    return Draft202012Validator(schema, format_checker=FormatChecker())


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Any]:
    with start_sandbox([NAME], CONFIG) as running:
        yield running


def _simulator(sandbox: Any) -> ClaudeConsoleSimulator:
    simulator = sandbox.servers[NAME].simulator
    assert isinstance(simulator, ClaudeConsoleSimulator)
    return simulator


def _get(
    sandbox: Any,
    path: str,
    params: list[tuple[str, str]],
    key: str | None = None,
    version: str | None = "2023-06-01",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    endpoint = sandbox.endpoint(NAME)
    sent = {"x-api-key": key or endpoint["credentials"]["api_key"], **(headers or {})}
    if version:
        sent["anthropic-version"] = version
    return httpx.get(endpoint["base_url"] + path, params=params, headers=sent)


def _pages(sandbox: Any, path: str, params: list[tuple[str, str]], **kwargs: Any) -> list[dict[str, Any]]:
    """Every page of a query, read by hand (no engine), each checked against the vendor schema."""
    validator = _validator(path)
    pages: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        response = _get(sandbox, path, params + ([("page", token)] if token else []), **kwargs)
        assert response.status_code == 200, response.text
        body = response.json()
        validator.validate(body)
        pages.append(body)
        assert (body["next_page"] is not None) == body["has_more"]
        token = body["next_page"]
        if not body["has_more"]:
            return pages
        assert len(pages) < 50


def _buckets(pages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [bucket for page in pages for bucket in page["data"]]


def _usage(sandbox: Any, params: dict[str, str], key: str | None = None) -> list[dict[str, Any]]:
    endpoint = sandbox.endpoint(NAME)
    fields = account_fields(endpoint)
    if key:
        fields["credentials"] = {"api_key": key}
    response = asyncio.run(alist_usage(NAME, **fields, params=params, now=NOW))
    rows: list[dict[str, Any]] = response["result"]
    for row in rows:
        ROW_VALIDATOR.validate(row)
    assert len({row["id"] for row in rows}) == len(rows)
    return rows


def _cents(text: str) -> Decimal:
    return Decimal(text)


@pytest.mark.parametrize(
    ("path", "params"),
    [
        (COST_PATH, [*OCTOBER, ("group_by[]", "workspace_id"), ("group_by[]", "description"), ("limit", "31")]),
        (COST_PATH, [*OCTOBER, ("bucket_width", "1d")]),
        (COST_PATH, [*OCTOBER, ("group_by[]", "description")]),
        (
            USAGE_PATH,
            [*OCTOBER, *[("group_by[]", g) for g in ("workspace_id", "api_key_id", "model", "service_tier")]],
        ),
        (USAGE_PATH, [*OCTOBER, ("group_by[]", "context_window"), ("group_by[]", "inference_geo"), ("limit", "31")]),
        (USAGE_PATH, [*OCTOBER, ("models[]", "claude-haiku-4-5"), ("service_tiers[]", "batch")]),
    ],
)
def test_every_page_validates_and_buckets_are_whole_days_oldest_first(
    sandbox: Any, path: str, params: list[tuple[str, str]]
) -> None:
    pages = _pages(sandbox, path, params)
    buckets = _buckets(pages)
    assert len(pages) == -(-31 // PAGE_BUCKETS) > 1
    assert all(len(page["data"]) <= PAGE_BUCKETS for page in pages)
    assert [b["starting_at"] for b in buckets] == [f"2026-10-{d:02d}T00:00:00Z" for d in range(1, 32)]
    assert [b["ending_at"] for b in buckets[:-1]] == [b["starting_at"] for b in buckets[1:]]
    assert sum(len(b["results"]) for b in buckets) > 0
    assert all("e" not in r.get("amount", "").lower() for b in buckets for r in b["results"])


def test_the_default_limit_is_seven_buckets_and_limit_is_a_maximum(sandbox: Any) -> None:
    first = _get(sandbox, COST_PATH, [("starting_at", "2026-10-01T00:00:00Z")]).json()
    assert len(first["data"]) == 7 and first["has_more"] is False  # no ending_at: limit buckets from starting_at
    three = _get(sandbox, COST_PATH, [*OCTOBER, ("limit", "3")]).json()
    assert [b["starting_at"][:10] for b in three["data"]] == ["2026-10-01", "2026-10-02", "2026-10-03"]
    assert three["has_more"] is True


def test_no_bucket_after_today_and_today_is_the_day_so_far(sandbox: Any) -> None:
    pages = _pages(sandbox, COST_PATH, [("starting_at", "2026-11-20T00:00:00Z"), ("ending_at", "2027-01-01T00:00:00Z")])
    buckets = _buckets(pages)
    assert buckets[-1]["starting_at"] == "2026-11-26T00:00:00Z"
    simulator = _simulator(sandbox)
    full_day = ClaudeConsoleSimulator(SandboxConfig(seed=11, organizations=2, resources=5, now=NOW + timedelta(days=2)))
    so_far = sum(line["amount"] for line in simulator.cost_lines(date(2026, 11, 26)))
    whole = sum(line["amount"] for line in full_day.cost_lines(date(2026, 11, 26)))
    assert 0 < so_far < whole
    assert simulator.cost_lines(date(2026, 11, 27)) == [] and simulator.usage(date(2026, 11, 27)) == []


def test_cost_groupings_add_up_to_the_ungrouped_day_total(sandbox: Any) -> None:
    week = [("starting_at", "2026-10-05T00:00:00Z"), ("ending_at", "2026-10-12T00:00:00Z")]

    def totals(groups: list[str]) -> dict[str, Decimal]:
        query = week + [("group_by[]", group) for group in groups]
        out: dict[str, Decimal] = {}
        for bucket in _buckets(_pages(sandbox, COST_PATH, query)):
            out[bucket["starting_at"]] = sum((_cents(r["amount"]) for r in bucket["results"]), Decimal(0))
        return out

    plain = totals([])
    assert plain == totals(["workspace_id"]) == totals(["description"]) == totals(["workspace_id", "description"])
    assert all(amount > 0 for amount in plain.values())
    one = _get(sandbox, COST_PATH, week).json()["data"][0]["results"]
    assert len(one) == 1 and one[0]["workspace_id"] is None and one[0]["description"] is None


def test_token_costs_are_the_usage_priced(sandbox: Any) -> None:
    day = [("starting_at", "2026-10-07T00:00:00Z"), ("ending_at", "2026-10-08T00:00:00Z")]
    usage = _get(
        sandbox,
        USAGE_PATH,
        [*day, ("group_by[]", "model"), ("service_tiers[]", "standard"), ("context_window[]", "0-200k")],
    ).json()
    costs = _get(sandbox, COST_PATH, [*day, ("group_by[]", "description")]).json()
    lines = [r for r in costs["data"][0]["results"] if r["cost_type"] == "tokens"]
    assert usage["data"][0]["results"]
    for result in usage["data"][0]["results"]:
        counts = {
            "uncached_input_tokens": result["uncached_input_tokens"],
            "cache_creation.ephemeral_5m_input_tokens": result["cache_creation"]["ephemeral_5m_input_tokens"],
            "cache_creation.ephemeral_1h_input_tokens": result["cache_creation"]["ephemeral_1h_input_tokens"],
            "cache_read_input_tokens": result["cache_read_input_tokens"],
            "output_tokens": result["output_tokens"],
        }
        for position, token_type in enumerate(TOKEN_TYPES):
            line = [
                r
                for r in lines
                if (r["model"], r["token_type"], r["service_tier"], r["context_window"])
                == (result["model"], token_type, "standard", "0-200k")
            ]
            expected = Decimal(counts[token_type]) * PRICES[result["model"]][position] / 1_000_000
            assert sum((_cents(r["amount"]) for r in line), Decimal(0)) == expected


def test_a_wrong_or_missing_key_and_version_get_the_vendor_error_shape(sandbox: Any) -> None:
    for path in (COST_PATH, USAGE_PATH):
        refused = _get(sandbox, path, OCTOBER, key="sk-ant-api01-not-an-admin-key")
        assert refused.status_code == 401
        assert refused.json()["error"]["type"] == "authentication_error"
        _validator(path, error=True).validate(refused.json())
        no_version = _get(sandbox, path, OCTOBER, version=None)
        assert no_version.status_code == 400 and "anthropic-version" in no_version.json()["error"]["message"]
    with pytest.raises(VendorAuthError) as raised:
        _usage(sandbox, {"start_date": "2026-11-02", "end_date": "2026-11-02"}, key="sk-ant-api01-wrong")
    assert raised.value.status == 401


@pytest.mark.parametrize(
    ("path", "params", "message"),
    [
        (COST_PATH, [*OCTOBER, ("limit", "32")], "limit"),
        (COST_PATH, [*OCTOBER, ("limit", "0")], "limit"),
        (COST_PATH, [*OCTOBER, ("bucket_width", "1h")], "bucket_width"),
        (COST_PATH, [*OCTOBER, ("group_by[]", "api_key_id")], "group_by[]"),
        (USAGE_PATH, [*OCTOBER, ("group_by[]", "description")], "group_by[]"),
        (USAGE_PATH, [*OCTOBER, ("group_by[]", "speed")], FAST_MODE_BETA),
        (COST_PATH, [("ending_at", "2026-11-01T00:00:00Z")], "starting_at"),
        (COST_PATH, [("starting_at", "2026-10-01"), ("ending_at", "2026-11-01T00:00:00Z")], "starting_at"),
        (COST_PATH, [("starting_at", "2026-10-05T00:00:00Z"), ("ending_at", "2026-10-05T00:00:00Z")], "ending_at"),
        (COST_PATH, [*OCTOBER, ("page", "page_bm90LWEtdG9rZW4")], "page"),
    ],
)
def test_documented_limits_are_a_400_invalid_request_error(
    sandbox: Any, path: str, params: list[tuple[str, str]], message: str
) -> None:
    response = _get(sandbox, path, params)
    assert response.status_code == 400, response.text
    body = response.json()
    _validator(path, error=True).validate(body)
    assert body["error"]["type"] == "invalid_request_error" and message in body["error"]["message"]


def test_speed_needs_the_fast_mode_beta_header(sandbox: Any) -> None:
    query = [*OCTOBER, ("group_by[]", "speed"), ("limit", "1")]
    answer = _get(sandbox, USAGE_PATH, query, headers={"anthropic-beta": FAST_MODE_BETA})
    assert answer.status_code == 200
    assert {r["speed"] for r in answer.json()["data"][0]["results"]} == {"standard"}
    plain = _get(sandbox, USAGE_PATH, [*OCTOBER, ("limit", "1")]).json()
    assert all("speed" not in r for r in plain["data"][0]["results"])


def test_a_page_token_belongs_to_its_query(sandbox: Any) -> None:
    first = _get(sandbox, COST_PATH, OCTOBER).json()
    assert first["has_more"] and first["next_page"].startswith("page_")
    again = _get(sandbox, COST_PATH, [*OCTOBER, ("page", first["next_page"])])
    assert again.status_code == 200 and again.json()["data"][0]["starting_at"] == "2026-10-08T00:00:00Z"
    other = _get(sandbox, COST_PATH, [*OCTOBER, ("group_by[]", "workspace_id"), ("page", first["next_page"])])
    assert other.status_code == 400 and "does not belong" in other.json()["error"]["message"]


def test_cost_rows_over_several_pages_and_windows_keep_every_line_once(sandbox: Any) -> None:
    query = [("group_by[]", "workspace_id"), ("group_by[]", "description")]
    raw = [
        result
        for window in (
            [("starting_at", "2026-10-20T00:00:00Z"), ("ending_at", "2026-11-01T00:00:00Z")],
            [("starting_at", "2026-11-01T00:00:00Z"), ("ending_at", "2026-11-04T00:00:00Z")],
        )
        for bucket in _buckets(_pages(sandbox, COST_PATH, window + query))
        for result in bucket["results"]
    ]
    before = sandbox.request_count(NAME)
    rows = _usage(sandbox, {"start_date": "2026-10-20", "end_date": "2026-11-03"})
    assert sandbox.request_count(NAME) - before == 2 + 1  # October: 12 buckets in two pages; November: one page
    assert len(rows) == len(raw) > 0
    assert sum((Decimal(str(row["charges"][0]["amount"])) for row in rows), Decimal(0)) * 100 == sum(
        (_cents(r["amount"]) for r in raw), Decimal(0)
    )
    assert all([charge["type"] for charge in row["charges"]] == ["net"] for row in rows)
    assert {row["resources"][0]["workspace"].get("name") for row in rows} == {"Default", None}
    assert any("model" not in row and row["metric_name"] == "web_search" for row in rows)


def test_usage_rows_carry_the_tokens_and_no_money(sandbox: Any) -> None:
    groups = ("workspace_id", "api_key_id", "model", "service_tier", "context_window", "inference_geo")
    window = [("starting_at", "2026-11-10T00:00:00Z"), ("ending_at", "2026-11-13T00:00:00Z")]
    raw = [
        r
        for b in _buckets(_pages(sandbox, USAGE_PATH, window + [("group_by[]", g) for g in groups]))
        for r in b["results"]
    ]
    rows = _usage(sandbox, {"report_type": "usage", "start_date": "2026-11-10", "end_date": "2026-11-12"})
    assert len(rows) == len(raw) > 0
    assert all("charges" not in row and row["metric_name"] == "tokens" for row in rows)
    assert sum(row["usage"]["tokens"]["input"] for row in rows) == sum(r["uncached_input_tokens"] for r in raw)
    assert sum(row["usage"]["tools"]["web_search_count"] for row in rows) == sum(
        r["server_tool_use"]["web_search_requests"] for r in raw
    )
    for row in rows:
        tokens = row["usage"]["tokens"]
        assert (
            tokens["total"]
            == (tokens["input"] + tokens["output"] + tokens["cache_read"] + tokens["cache_write_ephemeral_5m"])
            + tokens["cache_write_ephemeral_1h"]
        )
    workbench = [row for row in rows if "id" not in row["resources"][0]]
    assert workbench and all(row["resources"][0]["workspace"] == {"name": "Default"} for row in workbench)


@pytest.mark.parametrize(
    ("start", "end"),
    [(date(2026, 10, 1), date(2026, 11, 1)), (date(2026, 11, 1), date(2026, 11, 27))],
    ids=["closed-month", "open-month"],
)
def test_net_over_the_billing_queries_is_the_invoice(sandbox: Any, start: date, end: date) -> None:
    simulator = _simulator(sandbox)
    invoice = simulator.invoice(start, end)
    assert invoice is not None and invoice > 0
    queries = ClaudeConsoleSimulator.billing_queries(start, end)
    assert queries
    net = Decimal(0)
    for params in queries:
        for row in _usage(sandbox, params):
            nets = [c for c in row["charges"] if c["type"] == "net"]
            assert len(nets) == 1 and nets[0]["currency"] == "USD"
            net += Decimal(repr(nets[0]["amount"]))
    assert net == invoice
    assert simulator.invoice(date(2026, 11, 27), date(2026, 12, 5)) == 0  # nothing after today is billed

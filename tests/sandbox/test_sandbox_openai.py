"""The OpenAI simulator serves the organization Costs and completions Usage endpoints as openai/openai-openapi
(info.version 2.3.0) documents them: Admin-key Bearer auth, ``start_time`` inclusive / ``end_time`` exclusive Unix
seconds, daily buckets listed even when empty, ``group_by`` (any combination) and filters, ``limit`` counted in
buckets (costs at most 180, completions at most 31 daily), ``has_more`` / ``next_page`` pages and OpenAI's
``{"error": {message, type, param, code}}`` bodies. Every page is held to schemas/vendors/openai-costs.json and
schemas/vendors/openai-usage-completions.json (assembled from the spec), every error to their ``ErrorResponse``.

The money test holds the mapping's Σnet over the simulator's billing queries to the simulator's own invoice, for a
closed month and for the open one.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator, FormatChecker

from tests.helpers.paths import SCHEMAS, VENDOR_SCHEMAS
from unimeter.errors import VendorAuthError
from unimeter.run.pipeline import alist_usage
from unimeter.sandbox import SIMULATORS, Sandbox, SandboxConfig, account_fields, start_sandbox

NAME = "openai"
NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)
DAY = 86_400
CONFIG = SandboxConfig(seed=5, users=6, resources=4, now=NOW)
PAGE_BUCKETS = 7  # the documented sandbox page cap
COSTS = "/v1/organization/costs"
COMPLETIONS = "/v1/organization/usage/completions"
SCHEMA = {
    COSTS: json.loads((VENDOR_SCHEMAS / "openai-costs.json").read_text()),
    COMPLETIONS: json.loads((VENDOR_SCHEMAS / "openai-usage-completions.json").read_text()),
}
ERROR_SCHEMA = {**SCHEMA[COSTS], "$ref": "#/$defs/ErrorResponse"}
USAGE_SCHEMA = json.loads((SCHEMAS / "usage.schema.json").read_text())


def _epoch(day: str) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp())


def _check(schema: dict[str, Any], instance: Any) -> None:
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in Draft202012Validator(schema).iter_errors(instance)]
    assert errors == []


@contextmanager
def _sandbox(config: SandboxConfig = CONFIG) -> Iterator[Sandbox]:
    with start_sandbox([NAME], config) as sandbox:
        yield sandbox


def _get(sandbox: Sandbox, path: str, params: Any, *, key: str | None = None) -> httpx.Response:
    endpoint = sandbox.endpoint(NAME)
    token = endpoint["credentials"]["api_key"] if key is None else key
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(endpoint["base_url"] + path, params=params, headers=headers)


def _pages(sandbox: Sandbox, path: str, params: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    pages, token = [], None
    while True:
        response = _get(sandbox, path, [*params, *([("page", token)] if token else [])])
        assert response.status_code == 200, response.text
        body = response.json()
        _check(SCHEMA[path], body)
        pages.append(body)
        assert body["has_more"] == (body["next_page"] is not None)
        if not body["has_more"]:
            return pages
        token = body["next_page"]


def _buckets(pages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [bucket for page in pages for bucket in page["data"]]


def _results(pages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [result for bucket in _buckets(pages) for result in bucket["results"]]


def _range(start: str, end: str) -> list[tuple[str, Any]]:
    return [("start_time", _epoch(start)), ("end_time", _epoch(end))]


def _amount(result: dict[str, Any]) -> Decimal:
    return Decimal(repr(result["amount"]["value"]))


ALL_COSTS = [("group_by[]", g) for g in ("project_id", "line_item", "api_key_id")]
ALL_USAGE = [("group_by[]", g) for g in ("project_id", "user_id", "api_key_id", "model", "batch", "service_tier")]


@pytest.mark.parametrize(
    ("path", "params", "buckets"),
    [
        (COSTS, [*_range("2026-10-01", "2026-11-01"), *ALL_COSTS, ("limit", 180)], 31),
        (COSTS, [*_range("2026-11-20", "2026-11-23"), ("group_by", "line_item"), ("limit", 1)], 3),
        (COSTS, _range("2026-11-01", "2026-11-05"), 4),  # no group_by: one result per bucket
        (COMPLETIONS, [*_range("2026-11-01", "2026-11-30"), *ALL_USAGE, ("limit", 31)], 26),  # cut at now
        (COMPLETIONS, [*_range("2026-11-10", "2026-11-12"), ("group_by", "model"), ("group_by", "batch")], 2),
        (COMPLETIONS, [("start_time", _epoch("2026-11-24"))], 3),  # end_time omitted: up to now
    ],
)
def test_every_page_of_several_queries_matches_the_vendor_schema(
    path: str, params: list[tuple[str, Any]], buckets: int
) -> None:
    with _sandbox() as sandbox:
        pages = _pages(sandbox, path, params)
    found = _buckets(pages)
    limit = dict(params).get("limit", 7)
    assert all(len(page["data"]) <= min(limit, PAGE_BUCKETS) for page in pages)
    assert len(found) == buckets
    starts = [bucket["start_time"] for bucket in found]
    assert starts == list(range(starts[0], starts[0] + buckets * DAY, DAY))  # whole UTC days, in order, no gaps
    assert all(bucket["end_time"] == bucket["start_time"] + DAY for bucket in found)
    assert starts[-1] < NOW.timestamp()  # no bucket that has not started
    grouped = {value for name, value in params if name.startswith("group_by")}
    for result in _results(pages):
        for dimension in ("project_id", "line_item", "api_key_id", "user_id", "model", "batch", "service_tier"):
            if dimension not in grouped and dimension in result:
                assert result[dimension] is None, f"{dimension} is not grouped by but set"


def test_start_time_is_inclusive_and_end_time_exclusive() -> None:
    day = _epoch("2026-11-10")
    with _sandbox() as sandbox:

        def starts(start: int, end: int) -> list[int]:
            pages = _pages(sandbox, COSTS, [("start_time", start), ("end_time", end)])
            return [bucket["start_time"] for bucket in _buckets(pages)]

        assert starts(day, day + DAY) == [day]
        assert starts(day, day + DAY + 1) == [day, day + DAY]
        assert starts(day + DAY - 1, day + DAY) == [day]


def test_grouped_results_sum_exactly_to_the_ungrouped_ones() -> None:
    window = _range("2026-11-02", "2026-11-05")
    with _sandbox() as sandbox:
        whole = _buckets(_pages(sandbox, COSTS, window))
        fine = _buckets(_pages(sandbox, COSTS, [*window, *ALL_COSTS]))
        usage_whole = _buckets(_pages(sandbox, COMPLETIONS, window))
        usage_fine = _buckets(_pages(sandbox, COMPLETIONS, [*window, *ALL_USAGE]))
    for total, parts in zip(whole, fine, strict=True):
        assert len(total["results"]) == 1 and len(parts["results"]) > 3
        assert _amount(total["results"][0]) == sum(map(_amount, parts["results"]), Decimal(0))
        keys = [(r["project_id"], r["line_item"], r["api_key_id"]) for r in parts["results"]]
        assert len(keys) == len(set(keys))  # one result per combination
        assert any(r["project_id"] is None for r in parts["results"])  # the org-level line
        assert any(r["project_id"] and r["api_key_id"] is None for r in parts["results"])  # key-less storage
    for total, parts in zip(usage_whole, usage_fine, strict=True):
        for field in ("input_tokens", "output_tokens", "input_cached_tokens", "num_model_requests"):
            assert total["results"][0][field] == sum(r[field] for r in parts["results"])
        for r in parts["results"]:
            assert r["input_tokens"] == (
                r["input_uncached_tokens"] + r["input_cached_tokens"] + r["input_cache_write_tokens"]
            )
            assert (
                r["input_uncached_tokens"] == r["input_text_tokens"] + r["input_audio_tokens"] + r["input_image_tokens"]
            )
        assert any(r["user_id"] is None for r in parts["results"])  # service-account keys
        assert any(r["batch"] for r in parts["results"])


def test_filters_keep_only_the_named_dimensions() -> None:
    window = _range("2026-11-02", "2026-11-04")
    with _sandbox() as sandbox:
        everything = _results(_pages(sandbox, COMPLETIONS, [*window, *ALL_USAGE]))
        project, model = everything[0]["project_id"], everything[0]["model"]
        some = _results(
            _pages(sandbox, COMPLETIONS, [*window, *ALL_USAGE, ("project_ids[]", project), ("models[]", model)])
        )
        batch = _results(_pages(sandbox, COMPLETIONS, [*window, *ALL_USAGE, ("batch", "true")]))
        costs = _results(_pages(sandbox, COSTS, [*window, *ALL_COSTS, ("project_ids", project)]))
    assert some == [r for r in everything if r["project_id"] == project and r["model"] == model]
    assert batch and batch == [r for r in everything if r["batch"]]
    assert costs and {r["project_id"] for r in costs} == {project}


def test_pages_are_cut_at_the_cap_and_resume_exactly() -> None:
    window = _range("2026-10-01", "2026-11-01")
    with _sandbox() as sandbox:
        by_one = _pages(sandbox, COSTS, [*window, *ALL_COSTS, ("limit", 1)])
        by_max = _pages(sandbox, COSTS, [*window, *ALL_COSTS, ("limit", 180)])
        by_default = _pages(sandbox, COSTS, [*window, *ALL_COSTS])
    assert len(by_one) == 31
    assert len(by_max) == len(by_default) == -(-31 // PAGE_BUCKETS)
    assert _buckets(by_one) == _buckets(by_max) == _buckets(by_default)


def test_a_wrong_key_a_project_key_or_none_is_401_and_an_unknown_path_404() -> None:
    window = _range("2026-11-02", "2026-11-03")
    with _sandbox() as sandbox:
        wrong = _get(sandbox, COSTS, window, key="sk-admin-not-the-key")
        project_key = _get(sandbox, COMPLETIONS, window, key="sk-proj-sandbox-openai-not-an-admin-key")
        no_key = _get(sandbox, COSTS, window, key="")
        unknown = _get(sandbox, "/v1/organization/usage/nothing", window)
        endpoint = sandbox.endpoint(NAME)
        with pytest.raises(VendorAuthError) as raised:
            asyncio.run(
                alist_usage(
                    NAME,
                    credentials={"api_key": "sk-admin-wrong"},
                    context=account_fields(endpoint)["context"],
                    now=NOW,
                )
            )
    for response, status in [(wrong, 401), (project_key, 401), (no_key, 401), (unknown, 404)]:
        assert response.status_code == status
        _check(ERROR_SCHEMA, response.json())
    assert wrong.json()["error"]["code"] == "invalid_api_key"
    assert "Missing scopes: api.usage.read" in project_key.json()["error"]["message"]
    assert unknown.json()["error"]["message"] == "Invalid URL (GET /v1/organization/usage/nothing)"
    assert raised.value.status == 401
    assert "sk-admin-wrong" not in str(raised.value)


@pytest.mark.parametrize(
    ("path", "params", "param"),
    [
        (COSTS, [("end_time", _epoch("2026-11-03"))], "start_time"),
        (COSTS, [*_range("2026-11-02", "2026-11-03"), ("limit", 0)], "limit"),
        (COSTS, [*_range("2026-11-02", "2026-11-03"), ("limit", 181)], "limit"),
        (COMPLETIONS, [*_range("2026-11-02", "2026-11-03"), ("limit", 32)], "limit"),
        (COSTS, [*_range("2026-11-02", "2026-11-03"), ("group_by[]", "user_id")], "group_by"),
        (COSTS, [*_range("2026-11-02", "2026-11-03"), ("bucket_width", "1h")], "bucket_width"),
        (COSTS, [("start_time", "yesterday")], "start_time"),
        (COSTS, [*_range("2026-11-03", "2026-11-02")], "end_time"),
        (COMPLETIONS, [*_range("2026-11-02", "2026-11-03"), ("batch", "maybe")], "batch"),
        (COSTS, [*_range("2026-11-02", "2026-11-03"), ("page", "page_bm90LWEtdG9rZW4=")], "page"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(path: str, params: list[tuple[str, Any]], param: str) -> None:
    with _sandbox() as sandbox:
        response = _get(sandbox, path, params)
    assert response.status_code == 400, response.text
    _check(ERROR_SCHEMA, response.json())
    assert response.json()["error"]["param"] == param


def test_a_page_token_of_another_query_is_refused() -> None:
    with _sandbox() as sandbox:
        first = _get(sandbox, COSTS, [*_range("2026-10-01", "2026-11-01"), ("limit", 1)]).json()
        other = _get(sandbox, COSTS, [*_range("2026-10-02", "2026-11-01"), ("limit", 1), ("page", first["next_page"])])
        same = _get(sandbox, COSTS, [*_range("2026-10-01", "2026-11-01"), ("limit", 1), ("page", first["next_page"])])
    assert first["next_page"].startswith("page_")
    assert other.status_code == 400
    assert same.status_code == 200 and same.json()["data"][0]["start_time"] == _epoch("2026-10-02")


def _rows(sandbox: Sandbox, params: dict[str, str]) -> list[dict[str, Any]]:
    response = asyncio.run(alist_usage(NAME, **account_fields(sandbox.endpoint(NAME)), params=params, now=NOW))
    rows: list[dict[str, Any]] = response["result"]
    return rows


def test_the_engine_reads_every_page_of_the_sample_query_into_schema_valid_rows() -> None:
    params = SIMULATORS[NAME].sample_params(NOW)
    with _sandbox() as sandbox:
        rows = _rows(sandbox, params)
        requests = sandbox.request_count(NAME)
        usage = _rows(sandbox, {**params, "report_type": "completions"})
    assert params == {"start_date": "2026-10-01", "end_date": "2026-11-25"}
    assert requests == -(-31 // PAGE_BUCKETS) + -(-25 // PAGE_BUCKETS)  # two month windows of several pages
    validator = Draft202012Validator(USAGE_SCHEMA, format_checker=FormatChecker())
    for row in rows + usage:
        assert list(validator.iter_errors(row)) == []
        assert row["organization"] == {"id": sandbox.endpoint(NAME)["context"]["organization_id"]}
        assert "2026-10-01T00:00:00Z" <= row["start_date"] < "2026-11-26T00:00:00Z"
    assert len({row["id"] for row in rows}) == len(rows) and len({row["id"] for row in usage}) == len(usage)
    assert all([c["type"] for c in row["charges"]] == ["net"] for row in rows)
    assert all("charges" not in row for row in usage)
    for row in usage:
        tokens = row["usage"]["tokens"]
        assert tokens["input"] + tokens["cache_read"] + tokens["cache_write"] + tokens["output"] == tokens["total"]


def test_overlapping_queries_give_the_same_ids_to_the_same_days() -> None:
    with _sandbox() as sandbox:
        early = _rows(sandbox, {"start_date": "2026-10-28", "end_date": "2026-11-03"})
        late = _rows(sandbox, {"start_date": "2026-11-01", "end_date": "2026-11-05"})
    shared = [row for row in early if row["start_date"] >= "2026-11-01"]
    assert shared
    assert shared == [row for row in late if row["start_date"] < "2026-11-04"]


def _sum_net(rows: list[dict[str, Any]]) -> Decimal:
    return sum(
        (Decimal(repr(c["amount"])) for row in rows for c in row.get("charges", []) if c["type"] == "net"), Decimal(0)
    )


@pytest.mark.parametrize(
    ("start", "end"),
    [(date(2026, 10, 1), date(2026, 11, 1)), (date(2026, 11, 1), date(2026, 12, 1))],
    ids=["closed-october", "open-november"],
)
def test_the_sum_of_net_over_the_billing_queries_is_the_invoice(start: date, end: date) -> None:
    simulator = SIMULATORS[NAME]
    with _sandbox() as sandbox:
        invoice = sandbox.servers[NAME].simulator.invoice(start, end)
        rows = [row for query in simulator.billing_queries(start, end) for row in _rows(sandbox, query)]
        vendor = _results(_pages(sandbox, COSTS, [("start_time", _epoch(start.isoformat())), ("limit", 180)]))
    assert invoice is not None and invoice > 0
    assert _sum_net(rows) == invoice
    if end > NOW.date():  # the open month: the spend so far, the Costs endpoint's own figure up to now
        assert sum(map(_amount, vendor), Decimal(0)) == invoice
        assert max(row["start_date"] for row in rows) == "2026-11-26T00:00:00Z"


def test_the_same_seed_gives_the_same_data_and_another_seed_other_data() -> None:
    window = [*_range("2026-11-02", "2026-11-04"), *ALL_COSTS]
    with _sandbox() as sandbox:
        first = _results(_pages(sandbox, COSTS, window))
    with _sandbox() as sandbox:
        again = _results(_pages(sandbox, COSTS, window))
    with _sandbox(SandboxConfig(seed=CONFIG.seed + 1, users=CONFIG.users, resources=CONFIG.resources, now=NOW)) as sb:
        other = _results(_pages(sb, COSTS, window))
    assert first == again
    assert {r["project_id"] for r in other if r["project_id"]}.isdisjoint({r["project_id"] for r in first})

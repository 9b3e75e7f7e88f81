"""The OpenAI Codex simulator serves the Codex Enterprise Analytics ``/usage`` endpoint as OpenAI documents it
(https://developers.openai.com/codex/enterprise/governance): Bearer auth scoped to one workspace, ``start_time``
inclusive / ``end_time`` exclusive Unix seconds, a 90-day lookback, ``has_more`` / ``next_page`` pages, one row per
user per day bucket.

OpenAI publishes no schema for this endpoint (its reference sits behind a ChatGPT login, so schemas/vendors/ has none),
so CODEX_USAGE_PAGE below is written by hand: the ``page`` envelope as the governance page describes it and the row
fields under the exact names public clients use (e.g. https://docs.getdx.com/connectors/codex-enterprise/), closed
(``additionalProperties: false``) so the simulator cannot invent fields. The 422 body is FastAPI style, as public
clients report it; other error bodies are unpublished and the simulator uses FastAPI's ``{"detail": "..."}``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator, FormatChecker

from tests.helpers.paths import SCHEMAS
from unimeter.errors import VendorAuthError
from unimeter.run.pipeline import alist_usage
from unimeter.sandbox import SIMULATORS, Sandbox, SandboxConfig, account_fields, start_sandbox

NAME = "openai-codex"
NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)
TODAY = int(datetime(2026, 11, 26, tzinfo=UTC).timestamp())
DAY = 86_400
CONFIG = SandboxConfig(seed=3, users=10)
PAGE_CAP = max(1, CONFIG.users // 3)  # the documented sandbox page cap: min(limit, max(1, users // 3))

_NUMBER_OR_NULL = {"type": ["number", "null"]}
_INT_OR_NULL = {"type": ["integer", "null"]}
_BILLING = {
    "credits": {"type": "number"},
    "cost_usd": _NUMBER_OR_NULL,
    "estimated_cost_usd": _NUMBER_OR_NULL,
    "uncached_text_input_tokens": _INT_OR_NULL,
    "cached_text_input_tokens": _INT_OR_NULL,
    "text_output_tokens": _INT_OR_NULL,
    "text_total_tokens": _INT_OR_NULL,
}
_COUNTS = {"threads": {"type": "number"}, "turns": {"type": "number"}, **_BILLING}
CODEX_USAGE_PAGE: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$comment": "Hand-written from OpenAI's governance page and public client schemas; no vendor schema is public.",
    "type": "object",
    "required": ["object", "data", "has_more", "next_page"],
    "additionalProperties": False,
    "properties": {
        "object": {"const": "page"},
        "has_more": {"type": "boolean"},
        "next_page": {"type": ["string", "null"]},
        "data": {"type": "array", "items": {"$ref": "#/$defs/row"}},
    },
    "$defs": {
        "row": {
            "type": "object",
            "required": ["object", "start_time", "end_time", "user_id", "totals"],
            "additionalProperties": False,
            "properties": {
                "object": {"type": "string"},
                "start_time": {"type": "integer"},
                "end_time": {"type": "integer"},
                "user_id": {"type": ["string", "null"]},
                "actor": {
                    "oneOf": [
                        {"type": "null"},
                        {
                            "type": "object",
                            "required": ["type", "user_id"],
                            "additionalProperties": False,
                            "properties": {
                                "type": {"type": "string"},
                                "user_id": {"type": "string"},
                                "email": {"type": ["string", "null"]},
                            },
                        },
                    ]
                },
                "email": {"type": ["string", "null"]},
                "totals": {
                    "type": "object",
                    "required": ["threads", "turns", "credits"],
                    "additionalProperties": False,
                    "properties": _COUNTS,
                },
                "clients": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["client_id"],
                        "additionalProperties": False,
                        "properties": {"client_id": {"type": "string", "pattern": "^CODEX_[A-Z_]+$"}, **_COUNTS},
                    },
                },
                "models": {
                    "oneOf": [
                        {"type": "null"},
                        {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["model"],
                                "additionalProperties": False,
                                "properties": {
                                    "model": {"type": "string"},
                                    "speed": {"enum": ["standard", "fast", None]},
                                    **_BILLING,
                                },
                            },
                        },
                    ]
                },
                "code_attribution": {
                    "oneOf": [
                        {"type": "null"},
                        {
                            "type": "object",
                            "required": ["lines_added"],
                            "properties": {"lines_added": {"type": "integer"}, "lines_removed": _INT_OR_NULL},
                        },
                    ]
                },
            },
        },
    },
}
FASTAPI_422: dict[str, Any] = {
    "type": "object",
    "required": ["detail"],
    "additionalProperties": False,
    "properties": {
        "detail": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["loc", "msg", "type"],
                "properties": {"loc": {"type": "array"}, "msg": {"type": "string"}, "type": {"type": "string"}},
            },
        }
    },
}
DETAIL_MESSAGE: dict[str, Any] = {
    "type": "object",
    "required": ["detail"],
    "additionalProperties": False,
    "properties": {"detail": {"type": "string", "minLength": 1}},
}
USAGE_SCHEMA = json.loads((SCHEMAS / "usage.schema.json").read_text())


def _check(schema: dict[str, Any], instance: Any) -> None:
    Draft202012Validator.check_schema(schema)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in Draft202012Validator(schema).iter_errors(instance)]
    assert errors == []


@contextmanager
def _sandbox(config: SandboxConfig = CONFIG) -> Iterator[Sandbox]:
    with start_sandbox([NAME], config) as sandbox:
        sandbox.servers[NAME].simulator.clock = lambda: NOW.timestamp()  # type: ignore[attr-defined]
        yield sandbox


def _get(
    sandbox: Sandbox, params: dict[str, Any], *, key: str | None = None, workspace: str | None = None
) -> httpx.Response:
    endpoint = sandbox.endpoint(NAME)
    workspace = workspace or endpoint["context"]["workspace_id"]
    headers = {"Authorization": f"Bearer {key or endpoint['credentials']['api_key']}"}
    url = f"{endpoint['base_url']}/v1/analytics/codex/workspaces/{workspace}/usage"
    return httpx.get(url, params=params, headers=headers)


def _all_pages(sandbox: Sandbox, params: dict[str, Any]) -> list[dict[str, Any]]:
    pages, page = [], None
    while True:
        response = _get(sandbox, {**params, **({"page": page} if page else {})})
        assert response.status_code == 200, response.text
        body = response.json()
        _check(CODEX_USAGE_PAGE, body)
        pages.append(body)
        assert body["has_more"] == (body["next_page"] is not None)
        if not body["has_more"]:
            return pages
        page = body["next_page"]


def _rows(pages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [row for page in pages for row in page["data"]]


@pytest.mark.parametrize(
    "params, buckets, per_bucket",
    [
        ({"start_time": TODAY - DAY, "end_time": TODAY, "group_by": "day", "limit": 1000}, 1, CONFIG.users),
        ({"start_time": TODAY - 3 * DAY, "end_time": TODAY, "group_by": "day", "limit": 2}, 3, CONFIG.users),
        ({"start_time": TODAY - 20 * DAY, "end_time": TODAY - 6 * DAY, "group_by": "week"}, 3, CONFIG.users),
        ({"start_time": TODAY - 5 * DAY, "end_time": TODAY + DAY, "group": "workspace"}, 6, 1),
        ({"group": "workspace"}, 30, 1),  # dates omitted: the last 30 calendar days ending today (per user: 100 pages)
    ],
)
def test_every_page_of_several_queries_matches_the_documented_shape(
    params: dict[str, Any], buckets: int, per_bucket: int
) -> None:
    with _sandbox() as sandbox:
        pages = _all_pages(sandbox, params)
    rows = _rows(pages)
    assert len(rows) == buckets * per_bucket
    assert all(len(page["data"]) <= min(params.get("limit", 1000), PAGE_CAP) for page in pages)
    starts = [row["start_time"] for row in rows]
    assert starts == sorted(starts)  # time-ordered
    assert len(set(starts)) == buckets
    if per_bucket > 1:
        assert len({row["user_id"] for row in rows}) == CONFIG.users
        assert all(row["actor"]["user_id"] == row["user_id"] for row in rows)
    else:
        assert all(row["user_id"] is None and row["actor"] is None for row in rows)


def test_start_time_is_inclusive_and_end_time_exclusive() -> None:
    day = TODAY - 2 * DAY
    with _sandbox() as sandbox:

        def buckets(start: int, end: int) -> list[int]:
            return sorted({r["start_time"] for r in _rows(_all_pages(sandbox, {"start_time": start, "end_time": end}))})

        assert buckets(day, day + DAY) == [day]
        assert buckets(day, day + DAY + 1) == [day, day + DAY]
        assert buckets(day - 1, day + DAY) == [day - DAY, day]
        assert buckets(day + DAY - 1, day + DAY) == [day]


def test_week_rows_sum_the_days_of_the_window_in_that_week() -> None:
    monday = int(datetime(2026, 11, 16, tzinfo=UTC).timestamp())
    with _sandbox() as sandbox:
        days = _rows(_all_pages(sandbox, {"start_time": monday + DAY, "end_time": monday + 4 * DAY}))
        weeks = _rows(
            _all_pages(sandbox, {"start_time": monday + DAY, "end_time": monday + 4 * DAY, "group_by": "week"})
        )
    assert {(w["start_time"], w["end_time"]) for w in weeks} == {(monday, monday + 7 * DAY)}
    for week in weeks:
        mine = [d for d in days if d["user_id"] == week["user_id"]]
        assert len(mine) == 3
        assert week["totals"]["turns"] == sum(d["totals"]["turns"] for d in mine)
        assert round(week["totals"]["credits"], 1) == round(sum(d["totals"]["credits"] for d in mine), 1)


def test_row_figures_are_consistent_the_way_the_doc_describes() -> None:
    with _sandbox() as sandbox:
        rows = _rows(_all_pages(sandbox, {"start_time": TODAY - 5 * DAY, "end_time": TODAY}))
    active = [r for r in rows if r["totals"]["threads"] > 0]
    assert 0 < len(active) < len(rows)
    for row in active:
        totals = row["totals"]
        assert totals["turns"] >= totals["threads"]
        assert round(sum(m["credits"] for m in row["models"]), 1) == round(totals["credits"], 1)
        assert round(sum(c["credits"] for c in row["clients"]), 1) == round(totals["credits"], 1)
        assert totals["estimated_cost_usd"] == pytest.approx(totals["credits"] * 0.04, abs=0.006)
        if totals["text_total_tokens"] is not None:
            assert totals["text_total_tokens"] == (
                totals["uncached_text_input_tokens"] + totals["cached_text_input_tokens"] + totals["text_output_tokens"]
            )
    assert any(r["totals"]["cost_usd"] is not None for r in active)
    assert any(r["totals"]["cost_usd"] is None for r in active)
    assert any(r["totals"]["text_total_tokens"] is None for r in active)  # absent, not zero


def test_pages_are_cut_at_min_limit_users_over_three_and_resume_exactly() -> None:
    params = {"start_time": TODAY - 2 * DAY, "end_time": TODAY}
    with _sandbox() as sandbox:
        by_one = _all_pages(sandbox, {**params, "limit": 1})
        by_cap = _all_pages(sandbox, {**params, "limit": 30000})
    assert len(by_one) == 2 * CONFIG.users
    assert len(by_cap) == -(-2 * CONFIG.users // PAGE_CAP)
    assert _rows(by_one) == _rows(by_cap)


def test_the_engine_reads_every_page_of_the_sample_query_into_schema_valid_rows() -> None:
    params = SIMULATORS[NAME].sample_params(NOW)
    with _sandbox() as sandbox:
        endpoint = sandbox.endpoint(NAME)
        result = asyncio.run(
            alist_usage(
                NAME,
                **account_fields(endpoint),
                params=params,
                now=NOW,
            )
        )["result"]
        requests = sandbox.request_count(NAME)
    assert params == {"date": "2026-11-25"}
    users = [row for row in result if row["metric_name"] == "codex_usage"]
    assert len(users) == CONFIG.users  # one row per user for the one day
    assert requests == -(-CONFIG.users // PAGE_CAP) > 1
    validator = Draft202012Validator(USAGE_SCHEMA, format_checker=FormatChecker())
    for row in result:
        assert list(validator.iter_errors(row)) == []
        assert row["start_date"] == "2026-11-25T00:00:00Z" and row["end_date"] == "2026-11-26T00:00:00Z"
    assert len({row["id"] for row in result}) == len(result)
    # The simulator's model entries add up to totals: every active user's tokens and credits are on model rows, one
    # per (model, speed) the vendor reports, and no figure is on two rows.
    models = [row for row in result if row["metric_name"] == "codex_model_usage"]
    assert models and all("model" in row or ":other:" in row["id"] for row in models)  # "other": no model
    for user in users:
        mine = [row for row in models if row["id"].startswith(user["id"] + ":")]
        if mine:
            assert "tokens" not in user["usage"] and "quantity" not in user["usage"]
            record = user["remote_data"]
            assert sum(row["usage"]["quantity"] for row in mine) == pytest.approx(record["totals"]["credits"])
            assert len(mine) == len(record["models"])


def test_a_wrong_or_missing_key_is_401_and_another_workspace_403() -> None:
    with _sandbox() as sandbox:
        wrong_key = _get(sandbox, {}, key="sk-not-the-key")
        no_key = httpx.get(
            f"{sandbox.endpoint(NAME)['base_url']}/v1/analytics/codex/workspaces/"
            f"{sandbox.endpoint(NAME)['context']['workspace_id']}/usage"
        )
        other_workspace = _get(sandbox, {}, workspace="00000000-0000-4000-8000-000000000000")
        unknown_path = _get(sandbox, {}, workspace="x/y")
        endpoint = sandbox.endpoint(NAME)
        with pytest.raises(VendorAuthError) as raised:
            asyncio.run(
                alist_usage(
                    NAME,
                    credentials={"api_key": "sk-wrong"},
                    context=account_fields(endpoint)["context"],
                    now=NOW,
                )
            )
    for response, status in [(wrong_key, 401), (no_key, 401), (other_workspace, 403), (unknown_path, 404)]:
        assert response.status_code == status
        _check(DETAIL_MESSAGE, response.json())
    assert raised.value.status == 401
    assert "sk-wrong" not in str(raised.value)


def test_more_than_90_days_back_is_the_vendors_400_and_bad_values_422() -> None:
    now = int(NOW.timestamp())
    with _sandbox() as sandbox:
        too_old = _get(sandbox, {"start_time": now - 90 * DAY - 1, "end_time": now})
        oldest = _get(sandbox, {"start_time": now - 90 * DAY, "end_time": now - 89 * DAY})
        reversed_window = _get(sandbox, {"start_time": TODAY, "end_time": TODAY})
        bad = [
            _get(sandbox, params)
            for params in (
                {"start_time": "yesterday"},
                {"limit": 0},
                {"limit": 30001},
                {"group_by": "month"},
                {"group": "user"},
            )
        ]
        foreign_page = _get(
            sandbox, {"start_time": TODAY - DAY, "end_time": TODAY, "page": _get(sandbox, {}).json()["next_page"]}
        )
    for response in (too_old, reversed_window, foreign_page):
        assert response.status_code == 400
        _check(DETAIL_MESSAGE, response.json())
    assert "90 days" in too_old.json()["detail"]
    assert oldest.status_code == 200 and len(oldest.json()["data"]) == PAGE_CAP
    for response in bad:
        assert response.status_code == 422
        _check(FASTAPI_422, response.json())


def _day_rows(config: SandboxConfig) -> list[dict[str, Any]]:
    with _sandbox(config) as sandbox:
        return _rows(_all_pages(sandbox, {"start_time": TODAY - 3 * DAY, "end_time": TODAY}))


def test_the_same_seed_gives_the_same_rows_and_another_seed_others() -> None:
    first = _day_rows(CONFIG)
    assert first == _day_rows(CONFIG)
    other = _day_rows(SandboxConfig(seed=CONFIG.seed + 1, users=CONFIG.users))
    assert len(other) == len(first)
    assert [r["totals"] for r in other] != [r["totals"] for r in first]
    assert {r["user_id"] for r in other}.isdisjoint({r["user_id"] for r in first})


def test_the_real_clock_bounds_the_lookback_when_not_pinned() -> None:
    with start_sandbox([NAME], CONFIG) as sandbox:
        now = int(datetime.now(UTC).timestamp())
        assert _get(sandbox, {"start_time": now - 91 * DAY, "end_time": now}).status_code == 400
        recent = _get(sandbox, {"start_time": now - now % DAY - DAY, "end_time": now - now % DAY})
        assert recent.status_code == 200 and recent.json()["data"]
    assert (datetime.now(UTC) - timedelta(days=1)).date().isoformat() == SIMULATORS[NAME].sample_params(
        datetime.now(UTC)
    )["date"]

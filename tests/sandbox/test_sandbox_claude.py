"""The Claude simulator: schema-valid pages of its four reports, the engine over many pages, auth, limits, cursors."""

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
from unimeter.errors import PaginationLoopError, VendorAuthError
from unimeter.run.pipeline import alist_usage
from unimeter.sandbox import SandboxConfig, account_fields, start_sandbox
from unimeter.sandbox.vendors.claude import (
    ADMIN_API_KEY,
    CLAUDE_CODE_PATH,
    COST_PATH,
    USAGE_PATH,
    USERS_PATH,
    ClaudeSimulator,
)

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)
DAY = "2026-11-20"
ROW_VALIDATOR = Draft202012Validator(
    json.loads((PROJECT / "schemas" / "usage.schema.json").read_text()), format_checker=FormatChecker()
)
CONFIG = SandboxConfig(seed=5, users=12, resources=4)
SCHEMA_OF = {
    USERS_PATH: "claude-analytics-users",
    USAGE_PATH: "claude-analytics-user-usage-report",
    COST_PATH: "claude-analytics-user-cost-report",
    CLAUDE_CODE_PATH: "claude-admin-claude-code-usage-report",
}
BLOCKS = (
    "chat_metrics",
    "claude_code_metrics",
    "cowork_metrics",
    "office_metrics",
    "design_metrics",
    "science_metrics",
)


def _validator(path: str, error: bool = False) -> Draft202012Validator:
    file = VENDOR_SCHEMAS / f"{SCHEMA_OF[path]}.json"
    if not file.exists():
        pytest.skip(f"vendor schema {file} is not available")
    schema = json.loads(file.read_text())
    if error:
        schema = {"$ref": "#/$defs/ErrorResponse", "$defs": schema["$defs"]}
    return Draft202012Validator(schema, format_checker=FormatChecker())


@pytest.fixture
def sandbox() -> Iterator[Any]:
    with start_sandbox(["claude"], CONFIG) as running:
        running.servers["claude"].simulator.clock = lambda: NOW
        yield running


def _get(
    sandbox: Any, path: str, params: list[tuple[str, str]], key: str | None = None, version: str | None = "2023-06-01"
) -> httpx.Response:
    endpoint = sandbox.endpoint("claude")
    headers = {"x-api-key": key or endpoint["credentials"]["api_key"]}
    if version:
        headers["anthropic-version"] = version
    return httpx.get(endpoint["base_url"] + path, params=params, headers=headers)


def _all_pages(sandbox: Any, path: str, params: list[tuple[str, str]], key: str | None = None) -> list[dict[str, Any]]:
    """Every page of a query, read by hand (no engine), each checked against the vendor schema."""
    validator = _validator(path)
    pages: list[dict[str, Any]] = []
    page: str | None = None
    while True:
        response = _get(sandbox, path, params + ([("page", page)] if page else []), key)
        assert response.status_code == 200, response.text
        body = response.json()
        validator.validate(body)
        pages.append(body)
        if path == USERS_PATH:
            assert "has_more" not in body
            page = body["next_page"]
        else:
            page = body["next_page"] if body["has_more"] else None
        if not page:
            return pages
        assert len(pages) < 100


def _usage(sandbox: Any, params: dict[str, str], key: str | None = None) -> list[dict[str, Any]]:
    endpoint = sandbox.endpoint("claude")
    credentials = {"api_key": key} if key else endpoint["credentials"]
    response = asyncio.run(
        alist_usage(
            "claude",
            credentials=credentials,
            context=account_fields(endpoint)["context"],
            params=params,
            now=NOW,
        )
    )
    rows: list[dict[str, Any]] = response["result"]
    for row in rows:
        ROW_VALIDATOR.validate(row)
    return rows


def _active(block: Any) -> bool:
    if isinstance(block, dict):
        return any(_active(value) for value in block.values())
    return isinstance(block, int) and block > 0


REPORT = [("starting_at", f"{DAY}T00:00:00Z"), ("ending_at", "2026-11-21T00:00:00Z")]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        (USERS_PATH, [("date", DAY), ("limit", "1000")]),
        (USERS_PATH, [("starting_date", "2026-11-01"), ("ending_date", "2026-11-08"), ("order", "desc")]),
        (USAGE_PATH, [*REPORT, ("group_by[]", "product"), ("group_by[]", "model"), ("limit", "1000")]),
        (
            USAGE_PATH,
            [
                ("starting_at", "2026-11-01T00:00:00Z"),
                ("ending_at", "2026-11-08T00:00:00Z"),
                ("bucket_width", "1d"),
                ("group_by[]", "context_window"),
            ],
        ),
        (
            USAGE_PATH,
            [
                ("starting_at", "2026-11-20T06:30:00+02:00"),
                ("ending_at", "2026-11-20T12:00:00Z"),
                ("bucket_width", "1h"),
                ("products[]", "chat"),
            ],
        ),
        (COST_PATH, [*REPORT, ("group_by[]", "product"), ("group_by[]", "model")]),
        (COST_PATH, [*REPORT, ("group_by[]", "token_type"), ("group_by[]", "cost_type")]),
        (CLAUDE_CODE_PATH, [("starting_at", DAY), ("limit", "1000")]),
    ],
)
def test_every_page_validates_against_the_vendor_schema(sandbox: Any, path: str, params: list[tuple[str, str]]) -> None:
    key = ADMIN_API_KEY if path == CLAUDE_CODE_PATH else None
    pages = _all_pages(sandbox, path, params, key)
    assert len(pages) > 1
    assert sum(len(page["data"]) for page in pages) > len(pages) - 1


def test_activity_rows_are_one_per_user_plus_one_per_active_surface_over_several_pages(sandbox: Any) -> None:
    records = [
        row for page in _all_pages(sandbox, USERS_PATH, [("date", DAY), ("limit", "1000")]) for row in page["data"]
    ]
    assert [r["user"]["email_address"] for r in records] == sorted(r["user"]["email_address"] for r in records)
    assert len(records) == CONFIG.users
    expected = sum(1 + sum(_active(record[block]) for block in BLOCKS) for record in records)
    before = sandbox.request_count("claude")
    rows = _usage(sandbox, {"date": DAY})
    assert sandbox.request_count("claude") - before == -(-CONFIG.users // (CONFIG.users // 3)) > 1
    assert len(rows) == expected > 2 * CONFIG.users
    assert sum(1 for row in rows if "surface" not in row) == CONFIG.users
    assert len({row["id"] for row in rows}) == len(rows)


def test_token_and_cost_reports_give_one_row_per_user_product_model(sandbox: Any) -> None:
    query = [*REPORT, ("group_by[]", "product"), ("group_by[]", "model"), ("limit", "1000")]
    records = [row for page in _all_pages(sandbox, USAGE_PATH, query) for row in page["data"]]
    keys = {(r["actor"]["user_id"], r["product"], r["model"]) for r in records}
    assert len(keys) == len(records)
    before = sandbox.request_count("claude")
    tokens = _usage(sandbox, {"date": DAY, "report_type": "user_usage"})
    assert sandbox.request_count("claude") - before > 1
    assert len(tokens) == len(records)
    assert sum(row["usage"]["tokens"]["total"] for row in tokens) == sum(r["total_tokens"] for r in records)
    costs = _usage(sandbox, {"date": DAY, "report_type": "user_cost"})
    assert {row["id"].split(":", 3)[3] for row in costs} == {row["id"].split(":", 3)[3] for row in tokens}
    for row in costs:
        charges = {charge["type"]: Decimal(str(charge["amount"])) for charge in row["charges"]}
        assert charges["net"] <= charges["total"]


def test_report_ranges_are_half_open_and_buckets_add_up(sandbox: Any) -> None:
    def total(params: list[tuple[str, str]]) -> int:
        pages = _all_pages(sandbox, USAGE_PATH, [*params, ("limit", "1000")])
        return sum(row["total_tokens"] for page in pages for row in page["data"])

    whole = total(REPORT)
    hourly = total([*REPORT, ("bucket_width", "1h")])
    halves = total([("starting_at", f"{DAY}T00:00:00Z"), ("ending_at", f"{DAY}T13:00:00Z")]) + total(
        [("starting_at", f"{DAY}T15:00:00+02:00"), ("ending_at", "2026-11-21T00:00:00Z")]
    )
    assert whole == hourly == halves > 0


def test_users_rollup_sums_the_days_and_ending_date_is_exclusive(sandbox: Any) -> None:
    def messages(params: list[tuple[str, str]]) -> int:
        pages = _all_pages(sandbox, USERS_PATH, params)
        return sum(row["chat_metrics"]["message_count"] for page in pages for row in page["data"])

    days = ["2026-11-10", "2026-11-11", "2026-11-12"]
    rollup = messages([("starting_date", days[0]), ("ending_date", "2026-11-13")])
    assert rollup == sum(messages([("date", day)]) for day in days) > 0


def test_claude_code_report_needs_the_admin_key(sandbox: Any) -> None:
    refused = _get(sandbox, CLAUDE_CODE_PATH, [("starting_at", DAY)])
    assert refused.status_code == 401
    _validator(CLAUDE_CODE_PATH, error=True).validate(refused.json())
    rows = _usage(sandbox, {"date": DAY, "report_type": "claude_code"}, key=ADMIN_API_KEY)
    records = [
        row
        for page in _all_pages(sandbox, CLAUDE_CODE_PATH, [("starting_at", DAY)], ADMIN_API_KEY)
        for row in page["data"]
    ]
    assert len(rows) == sum(1 + len(record["model_breakdown"]) for record in records) > 0


@pytest.mark.parametrize(
    ("path", "status", "kind"),
    [
        (USERS_PATH, 404, "not_found_error"),
        (USAGE_PATH, 401, "authentication_error"),
        (COST_PATH, 401, "authentication_error"),
    ],
)
def test_a_wrong_key_gets_the_vendor_error_shape(sandbox: Any, path: str, status: int, kind: str) -> None:
    params = [("date", DAY)] if path == USERS_PATH else REPORT
    response = _get(sandbox, path, params, key="sk-ant-wrong")
    assert response.status_code == status
    assert response.json()["type"] == "error" and response.json()["error"]["type"] == kind
    _validator(path, error=True).validate(response.json())
    with pytest.raises(VendorAuthError) as raised:
        _usage(
            sandbox,
            {"date": DAY, "report_type": "activity" if path == USERS_PATH else "user_usage"},
            key="sk-ant-wrong",
        )
    assert raised.value.status == status


def test_anthropic_version_is_required(sandbox: Any) -> None:
    for version in (None, "2020-01-01"):
        response = _get(sandbox, USAGE_PATH, REPORT, version=version)
        assert response.status_code == 400
        assert response.json()["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("path", "params", "words"),
    [
        (USERS_PATH, [("date", "2025-12-31")], "before 2026-01-01"),
        (USERS_PATH, [("date", "2026-11-25")], "latest available date is 2026-11-24"),
        (USERS_PATH, [("date", DAY), ("starting_date", DAY)], "cannot be combined"),
        (USERS_PATH, [("starting_date", "2026-01-01"), ("ending_date", "2027-01-03")], "366 days"),
        (USERS_PATH, [("date", DAY), ("limit", "1001")], "between 1 and 1000"),
        (USAGE_PATH, [("starting_at", "2025-12-31T00:00:00Z"), ("ending_at", "2026-01-02T00:00:00Z")], "2026-01-01"),
        (USAGE_PATH, [("starting_at", "2026-10-01T00:00:00Z"), ("ending_at", "2026-11-02T00:00:00Z")], "31 days"),
        (USAGE_PATH, [("starting_at", f"{DAY}T00:00:00Z"), ("ending_at", f"{DAY}T00:00:00Z")], "after"),
        (USAGE_PATH, [("starting_at", DAY)], "RFC 3339"),
        (USAGE_PATH, [*REPORT[:1], ("ending_at", "2026-11-22T00:00:00Z"), ("bucket_width", "1m")], "24 hours"),
        (COST_PATH, [*REPORT, ("group_by[]", "color")], "group_by[]"),
        (CLAUDE_CODE_PATH, [("starting_at", f"{DAY}T00:00:00Z")], "YYYY-MM-DD"),
    ],
)
def test_out_of_range_queries_get_the_vendor_400(
    sandbox: Any, path: str, params: list[tuple[str, str]], words: str
) -> None:
    response = _get(sandbox, path, params, ADMIN_API_KEY if path == CLAUDE_CODE_PATH else None)
    assert response.status_code == 400, response.text
    body = response.json()
    _validator(path, error=True).validate(body)
    assert body["error"]["type"] == "invalid_request_error" and words in body["error"]["message"]


def test_a_report_cursor_is_bound_to_its_query(sandbox: Any) -> None:
    first = _get(sandbox, USAGE_PATH, REPORT).json()
    assert first["has_more"]
    again = _get(sandbox, USAGE_PATH, [*REPORT, ("page", first["next_page"])])
    assert again.status_code == 200 and again.json()["data"] != first["data"]
    changed = _get(sandbox, USAGE_PATH, [*REPORT, ("products[]", "chat"), ("page", first["next_page"])])
    assert changed.status_code == 400 and "cursor" in changed.json()["error"]["message"]
    assert _get(sandbox, USAGE_PATH, [*REPORT, ("page", "page_garbage")]).status_code == 400


def test_expired_report_cursor_answers_410_and_activity_cursors_do_not_expire() -> None:
    assert ClaudeSimulator.has_expiring_cursors
    with start_sandbox(["claude"], CONFIG, [("claude", "expired_cursor", 1)]) as running:
        first = _get(running, USAGE_PATH, REPORT).json()
        expired = _get(running, USAGE_PATH, [*REPORT, ("page", first["next_page"])])
        assert expired.status_code == 410
        _validator(USAGE_PATH, error=True).validate(expired.json())
        assert "no longer valid" in expired.json()["error"]["message"]
    with start_sandbox(["claude"], CONFIG, [("claude", "expired_cursor", 3)]) as running:
        running.servers["claude"].simulator.clock = lambda: NOW
        assert len(_usage(running, {"date": DAY})) > CONFIG.users


def test_loop_cursor_on_the_default_activity_report_is_caught() -> None:
    with start_sandbox(["claude"], CONFIG, [("claude", "loop_cursor", 2 + 3)]) as running:
        running.servers["claude"].simulator.clock = lambda: NOW
        first = _get(running, USERS_PATH, [("date", DAY)]).json()
        assert (
            _get(running, USERS_PATH, [("date", DAY), ("page", first["next_page"])]).json()["next_page"]
            == first["next_page"]
        )
        with pytest.raises(PaginationLoopError):
            _usage(running, {"date": DAY})


def test_same_seed_same_rows_other_seed_other_rows() -> None:
    def rows(seed: int) -> list[dict[str, Any]]:
        with start_sandbox(["claude"], SandboxConfig(seed=seed, users=6)) as running:
            running.servers["claude"].simulator.clock = lambda: NOW
            return _usage(running, {"date": DAY}) + _usage(running, {"date": DAY, "report_type": "user_cost"})

    assert rows(1) == rows(1)
    assert rows(1) != rows(2)

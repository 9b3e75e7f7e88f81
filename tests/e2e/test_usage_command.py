"""End to end: `python -m unimeter.cli usage` against a plain local HTTP server playing each vendor's documented
example.

For every integration the real CLI runs as a subprocess with `--context base_url=http://127.0.0.1:<port>` and a pinned
`--now`, once with the reference's defaults (no params) and once or more with explicit params. The server
(tests/helpers/plain_vendor_server.py) serves the example payloads of the vendors' public API docs verbatim. Each run
checks: exit 0; the response envelope and every row against the JSON Schemas; every row FIELD BY FIELD against values
written here by hand from the payload (never computed by the engine); the auth headers and the date parameters the
server received.

Then parity with the HTTP endpoint (the CLI goes through the same query parser and use case): every format prints what
the real app answers for the same query, truto_* and remote_query[...] work, truto_skip_api_call calls no vendor,
limit and next_cursor page across runs, a stream failing mid-way prints its error line; a wrong command line (a
repeated non-list parameter, credential or context) exits 2 and sends nothing, while a list parameter of a user's
YAML mapping keeps every value (in usage and record); JSON is compact when piped, indented on a terminal.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import itertools
import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

from tests.helpers.ndjson import stream_lines
from tests.helpers.paths import PROJECT
from tests.helpers.plain_vendor_server import (
    CLAUDE_401,
    CLAUDE_ANALYTICS_USERS,
    CLAUDE_CODE_LAST_PAGE,
    CLAUDE_CODE_NEXT_PAGE_TOKEN,
    CLAUDE_CODE_USAGE_REPORT,
    CLAUDE_USER_USAGE_REPORT,
    CLAUDE_USERS_LAST_PAGE,
    CLAUDE_USERS_NEXT_PAGE_TOKEN,
    CODEX_401,
    CODEX_USAGE,
    CONFLUENT_401,
    CONFLUENT_COSTS,
    CONFLUENT_LAST_PAGE,
    CONFLUENT_NEXT_PAGE_TOKEN,
    CURSOR_401,
    CURSOR_DAILY_USAGE_DATA,
    DATADOG_401,
    DATADOG_ESTIMATED_COST,
    RecordedRequest,
    VendorServer,
)
from unimeter.api.cursor import CURSOR_KEY_ENV
from unimeter.cli import main
from unimeter.service import UsageService, create_app
from unimeter.spec.functions import parse_instant
from unimeter.store import open_store

USAGE_SCHEMA: dict[str, Any] = json.loads((PROJECT / "schemas" / "usage.schema.json").read_text())
LIST_SCHEMA: dict[str, Any] = json.loads((PROJECT / "schemas" / "list-response.schema.json").read_text())
ROW_VALIDATOR = Draft202012Validator(USAGE_SCHEMA, format_checker=FormatChecker())
LIST_VALIDATOR = Draft202012Validator(
    LIST_SCHEMA,
    format_checker=FormatChecker(),
    registry=Registry().with_resource(USAGE_SCHEMA["$id"], Resource.from_contents(USAGE_SCHEMA)),
)

# Fake credentials: distinctive values, so a leak into the output is easy to spot.
CURSOR_CREDENTIALS = {"api_key": "key_FAKEcursorSECRET0001"}
DATADOG_CREDENTIALS = {"api_key": "ddFAKEapiSECRET0002", "application_key": "ddFAKEappSECRET0003"}
CONFLUENT_CREDENTIALS = {"api_key": "CFLTFAKEKEYID0004", "api_secret": "cfltFAKEapiSECRET0005"}
CODEX_CREDENTIALS = {"api_key": "sk-FAKEcodexSECRET0006"}
CLAUDE_CREDENTIALS = {"api_key": "sk-ant-admin01-FAKEclaudeSECRET0007"}
WORKSPACE_ID = "5f0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"

CURSOR_PATH = "/teams/daily-usage-data"
DATADOG_ESTIMATED_PATH = "/api/v2/usage/estimated_cost"
DATADOG_HISTORICAL_PATH = "/api/v2/usage/historical_cost"
CONFLUENT_PATH = "/billing/v1/costs"
CODEX_PATH = f"/v1/analytics/codex/workspaces/{WORKSPACE_ID}/usage"
CLAUDE_USERS_PATH = "/v1/organizations/analytics/users"
CLAUDE_USER_USAGE_PATH = "/v1/organizations/analytics/user_usage_report"
CLAUDE_CODE_PATH = "/v1/organizations/usage_report/claude_code"


# ---------------------------------------------------------------------------------------------------------------------
# Harness
# ---------------------------------------------------------------------------------------------------------------------


@pytest.fixture
def vendor() -> Iterator[VendorServer]:
    server = VendorServer().start()
    try:
        yield server
    finally:
        server.stop()


def _env() -> dict[str, str]:
    """The subprocess environment without proxies: the CLI must reach 127.0.0.1 directly."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in {"http_proxy", "https_proxy", "all_proxy"}}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


def run_usage(
    server: VendorServer,
    integration: str,
    *,
    credentials: dict[str, str],
    now: str,
    context: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable,
        "-m",
        "unimeter.cli",
        "usage",
        integration,
        "--context",
        f"base_url={server.url}",
        "--now",
        now,
    ]
    for option, pairs in (("--credential", credentials), ("--context", context or {}), ("--param", params or {})):
        for key, value in pairs.items():
            command += [option, f"{key}={value}"]
    return subprocess.run(command, cwd=PROJECT, env=_env(), capture_output=True, text=True, timeout=120, check=False)


def ok_rows(completed: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    """The rows of a successful run, after checking the exit code, the envelope and every row's schema."""
    assert completed.returncode == 0, (
        f"exit {completed.returncode}\nstdout:\n{completed.stdout}\nstderr:\n{completed.stderr}"
    )
    response = json.loads(completed.stdout)
    assert set(response) == {"result", "next_cursor"}
    assert response["next_cursor"] is None
    assert not list(LIST_VALIDATOR.iter_errors(response)), [e.message for e in LIST_VALIDATOR.iter_errors(response)]
    rows: list[dict[str, Any]] = response["result"]
    for index, row in enumerate(rows):
        problems = [f"{list(e.absolute_path)}: {e.message}" for e in ROW_VALIDATOR.iter_errors(row)]
        assert not problems, f"row {index} is not a valid Usage row: {problems}"
    ids = [row["id"] for row in rows]
    assert len(ids) == len(set(ids)), f"duplicate row ids: {ids}"
    return rows


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list) and value:
        out = {}
        for index, item in enumerate(value):
            out.update(_flatten(item, f"{prefix}[{index}]"))
        return out
    return {prefix: value}


def _same(a: Any, b: Any) -> bool:
    # A JSON number compares by value (150.5 == 150.5, 900.0 == 900) but a bool is never a number.
    return type(a) is type(b) and a == b if isinstance(a, bool) or isinstance(b, bool) else a == b


def assert_rows(actual: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    """Field-by-field comparison: every leaf of every expected row, and no field the expectation does not name."""
    assert [r.get("id") for r in actual] == [r["id"] for r in expected]
    for got, want in zip(actual, expected, strict=True):
        flat_got, flat_want = _flatten(got), _flatten(want)
        missing = sorted(set(flat_want) - set(flat_got))
        extra = sorted(set(flat_got) - set(flat_want))
        wrong = {
            k: (flat_got[k], flat_want[k]) for k in flat_want if k in flat_got and not _same(flat_got[k], flat_want[k])
        }
        assert not (missing or extra or wrong), (
            f"row {want['id']}:\n  missing fields: {missing}\n  unexpected fields: {extra}\n"
            f"  wrong values (got, expected): {wrong}"
        )


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def single(request: RecordedRequest) -> dict[str, str]:
    """The query as a plain dict, checking no parameter was sent twice."""
    assert all(len(v) == 1 for v in request.query.values()), request.query
    return {k: v[0] for k, v in request.query.items()}


# ---------------------------------------------------------------------------------------------------------------------
# Cursor: POST /teams/daily-usage-data, docs example (https://cursor.com/docs/account/teams/admin-api)
# ---------------------------------------------------------------------------------------------------------------------

CURSOR_RECORDS = json.loads(CURSOR_DAILY_USAGE_DATA)["data"]


def cursor_expected() -> list[dict[str, Any]]:
    return [
        {
            "id": "cursor:2024-03-18:12345",
            "product": {"id": "cursor", "name": "Cursor"},
            "metric_name": "daily_activity",
            "user": {"id": "12345", "email": "developer@company.com"},
            "model": {"id": "gpt-5", "provider": "openai"},
            "usage": {
                "requests": {
                    "total": 252,  # chat 128 + agent 12 + composer 45 + cmdk 67
                    "chat": 128,
                    "agent": 12,
                    "composer": 45,
                    "cmdk": 67,
                    "tab_shown": 342,
                    "tab_accepted": 289,
                    "api_key": 0,
                    "included": 180,
                    "usage_based": 5,
                    "bugbot": 3,
                },
                "code": {
                    "lines_added": 1543,
                    "lines_removed": 892,
                    "lines_accepted_added": 1102,
                    "lines_accepted_removed": 645,
                    "applies": 87,
                    "accepts": 73,
                    "rejects": 14,
                    "apply_most_used": ".tsx",
                    "tab_most_used": ".ts",
                },
                "activity": {"is_active": True, "client_version": "0.25.1"},
            },
            "start_date": "2024-03-18T00:00:00Z",
            "end_date": "2024-03-19T00:00:00Z",
            "remote_data": CURSOR_RECORDS[0],
        },
        {
            # The inactive user: reported zeros stay 0; null mostUsedModel, extensions, clientVersion are absent.
            "id": "cursor:2024-03-18:12346",
            "product": {"id": "cursor", "name": "Cursor"},
            "metric_name": "daily_activity",
            "user": {"id": "12346", "email": "inactive-user@company.com"},
            "usage": {
                "requests": {
                    "total": 0,
                    "chat": 0,
                    "agent": 0,
                    "composer": 0,
                    "cmdk": 0,
                    "tab_shown": 0,
                    "tab_accepted": 0,
                    "api_key": 0,
                    "included": 0,
                    "usage_based": 0,
                    "bugbot": 0,
                },
                "code": {
                    "lines_added": 0,
                    "lines_removed": 0,
                    "lines_accepted_added": 0,
                    "lines_accepted_removed": 0,
                    "applies": 0,
                    "accepts": 0,
                    "rejects": 0,
                },
                "activity": {"is_active": False},
            },
            "start_date": "2024-03-18T00:00:00Z",
            "end_date": "2024-03-19T00:00:00Z",
            "remote_data": CURSOR_RECORDS[1],
        },
    ]


def check_cursor_request(request: RecordedRequest, start_ms: int, end_ms: int) -> None:
    assert (request.method, request.path) == ("POST", CURSOR_PATH)
    # Basic auth: the key as username, empty password.
    assert request.headers["authorization"] == basic(CURSOR_CREDENTIALS["api_key"], "")
    assert request.headers["content-type"].startswith("application/json")
    assert request.query == {}
    assert set(request.body) == {"startDate", "endDate", "page", "pageSize"}
    assert request.body["startDate"] == start_ms
    assert request.body["endDate"] == end_ms
    # Always paginate: without page and pageSize Cursor returns active users only.
    assert request.body["page"] == 1
    assert isinstance(request.body["pageSize"], int) and request.body["pageSize"] > 0


def test_cursor_defaults(vendor: VendorServer) -> None:
    vendor.route("POST", CURSOR_PATH, CURSOR_DAILY_USAGE_DATA)
    rows = ok_rows(run_usage(vendor, "cursor", credentials=CURSOR_CREDENTIALS, now="2024-03-20T12:00:00Z"))
    assert_rows(rows, cursor_expected())
    # Defaults: start of the current month (2024-03-01T00:00:00Z = 1709251200000) to now, both inclusive
    # (2024-03-20T12:00:00Z = 1710936000000); 20 days, one request.
    assert len(vendor.requests) == 1
    check_cursor_request(vendor.requests[0], 1709251200000, 1710936000000)


@pytest.mark.parametrize(
    ("params", "start_ms", "end_ms"),
    [
        # Dates, end inclusive: 2024-03-18T00:00:00Z .. 2024-03-19T23:59:59.999Z (the docs' own request window, whose
        # endDate 1710892800000 is the next midnight).
        ({"start_date": "2024-03-18", "end_date": "2024-03-19"}, 1710720000000, 1710892799999),
        # Date-times: sent as those instants.
        ({"start_date": "2024-03-18T00:00:00Z", "end_date": "2024-03-18T23:59:59Z"}, 1710720000000, 1710806399000),
    ],
    ids=["dates", "date-times"],
)
def test_cursor_explicit_range(vendor: VendorServer, params: dict[str, str], start_ms: int, end_ms: int) -> None:
    vendor.route("POST", CURSOR_PATH, CURSOR_DAILY_USAGE_DATA)
    rows = ok_rows(
        run_usage(vendor, "cursor", credentials=CURSOR_CREDENTIALS, now="2024-03-25T00:00:00Z", params=params)
    )
    assert_rows(rows, cursor_expected())
    assert len(vendor.requests) == 1
    check_cursor_request(vendor.requests[0], start_ms, end_ms)


# ---------------------------------------------------------------------------------------------------------------------
# Datadog: GET /api/v2/usage/{estimated,historical}_cost, assembled example
# (https://docs.datadoghq.com/api/latest/usage-metering/get-estimated-cost-across-your-account/)
# ---------------------------------------------------------------------------------------------------------------------

DATADOG_ITEM = json.loads(DATADOG_ESTIMATED_COST)["data"][0]


def datadog_expected() -> list[dict[str, Any]]:
    """The same rows whichever endpoint served the month: ids name what was measured, not the endpoint."""
    organization = {"id": "abcd1234efgh5678", "name": "Acme Prod"}
    return [
        {
            "id": "datadog:abcd1234efgh5678:2026-10:infra_host",
            "product": {"id": "infra_host", "name": "infra_host"},
            "metric_name": "infra_host",
            "organization": organization,
            "charges": [
                {"type": "committed", "amount": 900.0, "currency": "USD"},
                {"type": "on_demand", "amount": 150.5, "currency": "USD"},
                {"type": "net", "amount": 1050.5, "currency": "USD"},  # the product's total line: what Datadog bills
            ],
            "start_date": "2026-10-01T00:00:00Z",
            "end_date": "2026-11-01T00:00:00Z",
            "remote_data": DATADOG_ITEM,
        },
        {
            "id": "datadog:abcd1234efgh5678:2026-10:logs_indexed_15day",
            "product": {"id": "logs_indexed_15day", "name": "logs_indexed_15day"},
            "metric_name": "logs_indexed_15day",
            "organization": organization,
            "charges": [
                {"type": "on_demand", "amount": 200.0, "currency": "USD"},
                {"type": "net", "amount": 200.0, "currency": "USD"},
            ],
            "start_date": "2026-10-01T00:00:00Z",
            "end_date": "2026-11-01T00:00:00Z",
            "remote_data": DATADOG_ITEM,
        },
    ]


def check_datadog_request(request: RecordedRequest, path: str, view: str, month: str) -> None:
    assert (request.method, request.path) == ("GET", path)
    assert request.headers["dd-api-key"] == DATADOG_CREDENTIALS["api_key"]
    assert request.headers["dd-application-key"] == DATADOG_CREDENTIALS["application_key"]
    assert "application/json" in request.headers["accept"]
    assert "authorization" not in request.headers
    assert single(request) == {"view": view, "start_month": month, "end_month": month}


def test_datadog_defaults(vendor: VendorServer) -> None:
    vendor.route("GET", DATADOG_ESTIMATED_PATH, DATADOG_ESTIMATED_COST)
    rows = ok_rows(run_usage(vendor, "datadog", credentials=DATADOG_CREDENTIALS, now="2026-10-15T12:00:00Z"))
    assert_rows(rows, datadog_expected())
    # Defaults: the current month, 2026-10 (start of month .. end of month), from estimated_cost, sub-org view.
    assert len(vendor.requests) == 1
    check_datadog_request(vendor.requests[0], DATADOG_ESTIMATED_PATH, "sub-org", "2026-10")


@pytest.mark.parametrize(
    ("now", "params", "context", "path", "view"),
    [
        # October is the previous month on 2026-11-05: still estimated.
        (
            "2026-11-05T08:00:00Z",
            {"start_date": "2026-10-01T00:00:00Z", "end_date": "2026-10-31T23:59:59Z"},
            {},
            DATADOG_ESTIMATED_PATH,
            "sub-org",
        ),
        # October is two months back on 2026-12-20: final, from historical_cost; the summary view is passed through.
        (
            "2026-12-20T00:00:00Z",
            {"start_date": "2026-10-01", "end_date": "2026-10-31"},
            {"view": "summary"},
            DATADOG_HISTORICAL_PATH,
            "summary",
        ),
    ],
    ids=["estimated-previous-month", "historical-summary"],
)
def test_datadog_explicit_range(
    vendor: VendorServer,
    now: str,
    params: dict[str, str],
    context: dict[str, str],
    path: str,
    view: str,
) -> None:
    # The two endpoints share the CostByOrgResponse shape; both serve the documented example.
    vendor.route("GET", DATADOG_ESTIMATED_PATH, DATADOG_ESTIMATED_COST)
    vendor.route("GET", DATADOG_HISTORICAL_PATH, DATADOG_ESTIMATED_COST)
    rows = ok_rows(
        run_usage(vendor, "datadog", credentials=DATADOG_CREDENTIALS, now=now, params=params, context=context)
    )
    assert_rows(rows, datadog_expected())
    assert len(vendor.requests) == 1
    check_datadog_request(vendor.requests[0], path, view, "2026-10")


# ---------------------------------------------------------------------------------------------------------------------
# Confluent: GET /billing/v1/costs, assembled example
# (https://docs.confluent.io/cloud/current/ccloud/list-billing-v-1-costs/)
# ---------------------------------------------------------------------------------------------------------------------

CONFLUENT_RECORD = json.loads(CONFLUENT_COSTS)["data"][0]
# The row id recipe of mappings/confluent.yaml, filled in by hand from the example row.
CONFLUENT_KEY = (
    "confluent|2022-10-12T00:00:00Z|2022-10-15T00:00:00Z|env-123|lkc-12345|KAFKA|KAFKA_NUM_CKUS|INTERNET"
    "|GB|1.5|KAFKA101|connector_type=BigQuerySink,provider=aws,region=us-east-1"
)


def confluent_expected() -> list[dict[str, Any]]:
    return [
        {
            "id": "confluent:2022-10-12:KAFKA_NUM_CKUS:lkc-12345:"
            + hashlib.sha256(CONFLUENT_KEY.encode()).hexdigest()[:16],
            "product": {"id": "KAFKA", "name": "Kafka"},
            "metric_name": "KAFKA_NUM_CKUS",
            "resources": [{"id": "lkc-12345", "name": "prod-kafka-cluster", "workspace": {"id": "env-123"}}],
            "charges": [
                {"type": "total", "amount": 149.85, "currency": "USD"},  # original_amount
                {"type": "discount", "amount": -20.85, "currency": "USD"},  # discount_amount, taken off the bill
                {"type": "net", "amount": 129.0, "currency": "USD"},  # amount
            ],
            "usage": {"quantity": 99.9, "unit": "GB"},
            "start_date": "2022-10-12T00:00:00Z",
            "end_date": "2022-10-15T00:00:00Z",
            "remote_data": CONFLUENT_RECORD,
        }
    ]


def check_confluent_requests(requests: list[RecordedRequest], start: str, end: str) -> None:
    # The documented example announces a next page; the engine follows it with the token and the same dates.
    assert len(requests) == 2
    first, second = requests
    for request in requests:
        assert (request.method, request.path) == ("GET", CONFLUENT_PATH)
        assert request.headers["authorization"] == basic(
            CONFLUENT_CREDENTIALS["api_key"], CONFLUENT_CREDENTIALS["api_secret"]
        )
    first_query = single(first)
    assert set(first_query) == {"start_date", "end_date", "page_size"}
    assert (first_query["start_date"], first_query["end_date"]) == (start, end)
    assert 1 <= int(first_query["page_size"]) <= 10000  # the documented maximum
    # page_size is "only valid on the first request".
    assert single(second) == {"start_date": start, "end_date": end, "page_token": CONFLUENT_NEXT_PAGE_TOKEN}


def route_confluent(vendor: VendorServer) -> None:
    vendor.route("GET", CONFLUENT_PATH, CONFLUENT_COSTS, pages={CONFLUENT_NEXT_PAGE_TOKEN: CONFLUENT_LAST_PAGE})


def test_confluent_defaults(vendor: VendorServer) -> None:
    route_confluent(vendor)
    rows = ok_rows(run_usage(vendor, "confluent", credentials=CONFLUENT_CREDENTIALS, now="2022-10-20T12:00:00Z"))
    assert_rows(rows, confluent_expected())
    # Defaults: start of the current month to now, never past it (the rest of the month has not happened), through
    # the end of today: the vendor's end_date is exclusive, so the day after now's.
    check_confluent_requests(vendor.requests, "2022-10-01", "2022-10-21")


def test_confluent_explicit_range(vendor: VendorServer) -> None:
    route_confluent(vendor)
    rows = ok_rows(
        run_usage(
            vendor,
            "confluent",
            credentials=CONFLUENT_CREDENTIALS,
            now="2022-10-20T12:00:00Z",
            params={"start_date": "2022-10-12", "end_date": "2022-10-14"},
        )
    )
    assert_rows(rows, confluent_expected())
    # A date end_date includes that whole day: the docs' own request start_date=2022-10-12&end_date=2022-10-15.
    check_confluent_requests(vendor.requests, "2022-10-12", "2022-10-15")


# ---------------------------------------------------------------------------------------------------------------------
# OpenAI Codex: GET /v1/analytics/codex/workspaces/{workspace_id}/usage, assembled example
# (https://developers.openai.com/codex/enterprise/governance)
# ---------------------------------------------------------------------------------------------------------------------

CODEX_RECORD = json.loads(CODEX_USAGE)["data"][0]


def codex_expected() -> list[dict[str, Any]]:
    # The one models[] entry reports credits and every token field, equal to totals: those figures go on the model's
    # row; the user's row keeps threads, turns and lines. cost_usd is null: nothing billed in USD, so no charge;
    # estimated_cost_usd 49.38 is an illustration (credits x list rate) and stays in remote_data.
    base = {
        "product": {"id": "codex", "name": "Codex"},
        "resources": [{"id": WORKSPACE_ID, "workspace": {"id": WORKSPACE_ID}}],
        "organization": {"id": WORKSPACE_ID},  # no organization_id in the context: the workspace
        "user": {"id": "user-AbC123xyz", "email": "dev@example.com"},
        "start_date": "2026-03-05T00:00:00Z",
        "end_date": "2026-03-06T00:00:00Z",
        "surface": "codex",
        "remote_data": CODEX_RECORD,
    }
    user_row = f"openai-codex:{WORKSPACE_ID}:2026-03-05:user-AbC123xyz"  # start_time 1772668800 = 2026-03-05
    return [
        {
            "id": user_row,
            **base,
            "metric_name": "codex_usage",
            "usage": {
                "conversations": {"thread_count": 12, "turn_count": 48},
                "code": {"lines_added": 420, "lines_removed": 95},
                "activity": {"is_active": True},
            },
        },
        {
            "id": f"{user_row}:gpt-5.5:standard",
            **base,
            "metric_name": "codex_model_usage",
            "model": {"id": "gpt-5.5", "provider": "openai"},
            "usage": {
                "quantity": 1234.5,
                "unit": "credits",
                "tokens": {"input": 100000, "cache_read": 2000000, "output": 50000, "total": 2150000},
            },
        },
    ]


def check_codex_request(request: RecordedRequest) -> None:
    assert (request.method, request.path) == ("GET", CODEX_PATH)
    assert request.headers["authorization"] == "Bearer " + CODEX_CREDENTIALS["api_key"]
    query = single(request)
    # The day 2026-03-05 UTC: start_time inclusive, end_time exclusive, Unix seconds; per-user rows (no `group`).
    assert (query["start_time"], query["end_time"]) == ("1772668800", "1772755200")
    assert query["group_by"] == "day"
    assert "group" not in query and "page" not in query
    assert set(query) <= {"start_time", "end_time", "group_by", "limit"}


def test_openai_codex_defaults(vendor: VendorServer) -> None:
    vendor.route("GET", CODEX_PATH, CODEX_USAGE)
    rows = ok_rows(
        run_usage(
            vendor,
            "openai-codex",
            credentials=CODEX_CREDENTIALS,
            now="2026-03-06T12:00:00Z",
            context={"workspace_id": WORKSPACE_ID},
        )
    )
    assert_rows(rows, codex_expected())
    # Default date: yesterday (UTC) = 2026-03-05.
    assert len(vendor.requests) == 1
    check_codex_request(vendor.requests[0])


@pytest.mark.parametrize(
    "params",
    [
        {"date": "2026-03-05"},
        {"date": "2026-03-05", "user_id": "user-AbC123xyz"},
        {"start_date": "2026-03-05T18:45:00Z"},  # alias of date: only the day is used
    ],
    ids=["date", "date-and-user-id", "start-date-alias"],
)
def test_openai_codex_explicit_params(vendor: VendorServer, params: dict[str, str]) -> None:
    vendor.route("GET", CODEX_PATH, CODEX_USAGE)
    rows = ok_rows(
        run_usage(
            vendor,
            "openai-codex",
            credentials=CODEX_CREDENTIALS,
            now="2026-03-10T09:00:00Z",
            context={"workspace_id": WORKSPACE_ID},
            params=params,
        )
    )
    assert_rows(rows, codex_expected())
    assert len(vendor.requests) == 1
    check_codex_request(vendor.requests[0])


def test_openai_codex_user_id_filters_client_side(vendor: VendorServer) -> None:
    vendor.route("GET", CODEX_PATH, CODEX_USAGE)
    rows = ok_rows(
        run_usage(
            vendor,
            "openai-codex",
            credentials=CODEX_CREDENTIALS,
            now="2026-03-10T09:00:00Z",
            context={"workspace_id": WORKSPACE_ID},
            params={"date": "2026-03-05", "user_id": "user-SomeoneElse"},
        )
    )
    assert rows == []
    assert len(vendor.requests) == 1
    check_codex_request(vendor.requests[0])  # the vendor has no user filter: nothing extra is sent


# ---------------------------------------------------------------------------------------------------------------------
# Claude: Enterprise Analytics /analytics/users (verbatim docs example), /analytics/user_usage_report (assembled),
# Admin API /usage_report/claude_code (verbatim docs example); docs:
# https://platform.claude.com/docs/en/api/admin/analytics/users and
# https://docs.anthropic.com/en/api/admin-api/claude-code/get-claude-code-usage-report
# ---------------------------------------------------------------------------------------------------------------------

CLAUDE_USERS_RECORD = json.loads(CLAUDE_ANALYTICS_USERS)["data"][0]
CLAUDE_USER_USAGE_RECORD = json.loads(CLAUDE_USER_USAGE_REPORT)["data"][0]
CLAUDE_CODE_RECORD = json.loads(CLAUDE_CODE_USAGE_REPORT)["data"][0]
CLAUDE_PRODUCT = {"id": "claude", "name": "Claude"}


def check_claude_headers(request: RecordedRequest) -> None:
    assert request.method == "GET"
    assert request.headers["x-api-key"] == CLAUDE_CREDENTIALS["api_key"]
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in request.headers


def claude_activity_expected(day: str, next_day: str) -> list[dict[str, Any]]:
    # Every counter of the docs example is 0: no surface has activity, so only the user row, inactive, with the
    # reported web_search_count 0.
    return [
        {
            "id": f"claude:activity:{day}:id",
            "product": CLAUDE_PRODUCT,
            "metric_name": "activity",
            "user": {"id": "id", "email": "email_address"},
            "usage": {"tools": {"web_search_count": 0}, "activity": {"is_active": False}},
            "start_date": f"{day}T00:00:00Z",
            "end_date": f"{next_day}T00:00:00Z",
            "remote_data": CLAUDE_USERS_RECORD,
        }
    ]


def check_claude_activity_requests(requests: list[RecordedRequest], day: str) -> None:
    # The docs example has next_page "next_page": followed once, with the same date.
    assert len(requests) == 2
    for request in requests:
        check_claude_headers(request)
        assert request.path == CLAUDE_USERS_PATH
    first, second = single(requests[0]), single(requests[1])
    assert first["date"] == day and "page" not in first
    assert set(first) <= {"date", "limit"}
    assert second == {**first, "page": CLAUDE_USERS_NEXT_PAGE_TOKEN}


def route_claude_users(vendor: VendorServer) -> None:
    vendor.route(
        "GET", CLAUDE_USERS_PATH, CLAUDE_ANALYTICS_USERS, pages={CLAUDE_USERS_NEXT_PAGE_TOKEN: CLAUDE_USERS_LAST_PAGE}
    )


def test_claude_defaults(vendor: VendorServer) -> None:
    route_claude_users(vendor)
    rows = ok_rows(run_usage(vendor, "claude", credentials=CLAUDE_CREDENTIALS, now="2026-01-10T12:00:00Z"))
    # Defaults: report_type activity, date = 3 days ago (UTC) = 2026-01-07.
    assert_rows(rows, claude_activity_expected("2026-01-07", "2026-01-08"))
    check_claude_activity_requests(vendor.requests, "2026-01-07")


def test_claude_explicit_activity_date(vendor: VendorServer) -> None:
    route_claude_users(vendor)
    rows = ok_rows(
        run_usage(
            vendor,
            "claude",
            credentials=CLAUDE_CREDENTIALS,
            now="2026-02-01T00:00:00Z",
            params={"date": "2026-01-31", "report_type": "activity"},
        )
    )
    assert_rows(rows, claude_activity_expected("2026-01-31", "2026-02-01"))
    check_claude_activity_requests(vendor.requests, "2026-01-31")


def test_claude_user_usage_report(vendor: VendorServer) -> None:
    vendor.route("GET", CLAUDE_USER_USAGE_PATH, CLAUDE_USER_USAGE_REPORT)
    rows = ok_rows(
        run_usage(
            vendor,
            "claude",
            credentials=CLAUDE_CREDENTIALS,
            now="2026-03-06T00:00:00Z",
            params={"date": "2026-03-03", "report_type": "user_usage"},
        )
    )
    assert_rows(
        rows,
        [
            {
                "id": "claude:user_usage:2026-03-03:user_01AbCdEfGhJkLmNoPq:claude_code:claude-opus-4-6",
                "product": CLAUDE_PRODUCT,
                "metric_name": "tokens",
                "organization": {"id": "3f1e7a0c-1234-5678-9abc-def012345678"},  # the envelope's organization_id
                "updated_at": "2026-03-04T08:00:00Z",  # the envelope's data_refreshed_at
                "user": {"id": "user_01AbCdEfGhJkLmNoPq", "email": "jane@example.com", "name": "Jane Smith"},
                "model": {"id": "claude-opus-4-6", "provider": "anthropic"},
                "surface": "claude_code",
                "usage": {
                    "quantity": 2484184,
                    "unit": "tokens",
                    "requests": {"total": 412},
                    "tokens": {
                        "input": 182340,
                        "output": 51234,
                        "cache_read": 2210400,
                        "cache_write": 40210,  # 5m 40210 + 1h 0
                        "cache_write_ephemeral_5m": 40210,
                        "cache_write_ephemeral_1h": 0,
                        "total": 2484184,
                    },
                    "tools": {"web_search_count": 3},
                },
                # starting_at / ending_at are null (no bucket_width): the day asked.
                "start_date": "2026-03-03T00:00:00Z",
                "end_date": "2026-03-04T00:00:00Z",
                "remote_data": CLAUDE_USER_USAGE_RECORD,
            }
        ],
    )
    assert len(vendor.requests) == 1  # has_more false
    request = vendor.requests[0]
    check_claude_headers(request)
    assert request.path == CLAUDE_USER_USAGE_PATH
    # RFC 3339, starting_at inclusive, ending_at exclusive; grouped per product and model.
    assert request.query["starting_at"] == ["2026-03-03T00:00:00Z"]
    assert request.query["ending_at"] == ["2026-03-04T00:00:00Z"]
    assert sorted(request.query["group_by[]"]) == ["model", "product"]
    assert "page" not in request.query


def test_claude_code_report(vendor: VendorServer) -> None:
    vendor.route(
        "GET", CLAUDE_CODE_PATH, CLAUDE_CODE_USAGE_REPORT, pages={CLAUDE_CODE_NEXT_PAGE_TOKEN: CLAUDE_CODE_LAST_PAGE}
    )
    rows = ok_rows(
        run_usage(
            vendor,
            "claude",
            credentials=CLAUDE_CREDENTIALS,
            now="2025-08-11T00:00:00Z",
            params={"date": "2025-08-08", "report_type": "claude_code"},
        )
    )
    # the docs example is one user actor: terminal, customer and subscription type are its dimensions
    key = "claude:claude_code:2025-08-08:user@emaildomain.com:iTerm.app:api:enterprise"
    base = {
        "product": CLAUDE_PRODUCT,
        "organization": {"id": "12345678-1234-5678-1234-567812345678"},
        "user": {"email": "user@emaildomain.com"},
        "surface": "claude_code",
        "start_date": "2025-08-08T00:00:00Z",
        "end_date": "2025-08-09T00:00:00Z",
        "remote_data": CLAUDE_CODE_RECORD,
    }
    assert_rows(
        rows,
        [
            {
                **base,
                "id": key,
                "metric_name": "activity",
                "usage": {
                    "sessions": {"distinct": 15},
                    "code": {
                        "lines_added": 342,
                        "lines_removed": 128,
                        "commits": 8,
                        "pull_requests": 2,
                        "accepts": 50,  # 25 + 12 + 5 + 8
                        "rejects": 6,  # 3 + 1 + 2 + 0
                        "tool_actions": {
                            "edit_tool": {"accepted": 25, "rejected": 3},
                            "multi_edit_tool": {"accepted": 12, "rejected": 1},
                            "notebook_edit_tool": {"accepted": 5, "rejected": 2},
                            "write_tool": {"accepted": 8, "rejected": 0},
                        },
                    },
                    "activity": {"is_active": True},
                },
            },
            {
                **base,
                "id": key + ":claude-sonnet-4-20250514",
                "metric_name": "tokens",
                "model": {"id": "claude-sonnet-4-20250514", "provider": "anthropic"},
                "charges": [{"type": "total", "amount": 1.86, "currency": "USD"}],  # 186 cents
                "usage": {"tokens": {"input": 45230, "output": 12450, "cache_read": 8790, "cache_write": 2340}},
            },
            {
                **base,
                "id": key + ":claude-3-5-haiku-20241022",
                "metric_name": "tokens",
                "model": {"id": "claude-3-5-haiku-20241022", "provider": "anthropic"},
                "charges": [{"type": "total", "amount": 0.42, "currency": "USD"}],  # 42 cents
                "usage": {"tokens": {"input": 23100, "output": 5680, "cache_read": 3420, "cache_write": 890}},
            },
        ],
    )
    # has_more true with a next_page in the docs example: followed once with the same query.
    assert len(vendor.requests) == 2
    for request in vendor.requests:
        check_claude_headers(request)
        assert request.path == CLAUDE_CODE_PATH
    first, second = single(vendor.requests[0]), single(vendor.requests[1])
    assert first["starting_at"] == "2025-08-08"  # one day, YYYY-MM-DD, as in the docs' request example
    assert set(first) <= {"starting_at", "limit"}
    assert second == {**first, "page": CLAUDE_CODE_NEXT_PAGE_TOKEN}


# ---------------------------------------------------------------------------------------------------------------------
# A vendor 401: exit 1, a JSON error envelope on stderr, no secret anywhere
# ---------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("integration", "method", "path", "body", "vendor_message", "credentials", "context"),
    [
        ("cursor", "POST", CURSOR_PATH, CURSOR_401, "Invalid API key", CURSOR_CREDENTIALS, {}),
        ("datadog", "GET", DATADOG_ESTIMATED_PATH, DATADOG_401, "Unauthorized", DATADOG_CREDENTIALS, {}),
        (
            "confluent",
            "GET",
            CONFLUENT_PATH,
            CONFLUENT_401,
            "Valid authentication credentials must be provided",
            CONFLUENT_CREDENTIALS,
            {},
        ),
        (
            "openai-codex",
            "GET",
            CODEX_PATH,
            CODEX_401,
            "Invalid API key",
            CODEX_CREDENTIALS,
            {"workspace_id": WORKSPACE_ID},
        ),
        ("claude", "GET", CLAUDE_USERS_PATH, CLAUDE_401, "invalid x-api-key", CLAUDE_CREDENTIALS, {}),
    ],
    ids=["cursor", "datadog", "confluent", "openai-codex", "claude"],
)
def test_vendor_401_is_a_remote_error_envelope_without_secrets(
    vendor: VendorServer,
    integration: str,
    method: str,
    path: str,
    body: str,
    vendor_message: str,
    credentials: dict[str, str],
    context: dict[str, str],
) -> None:
    vendor.route(
        method,
        path,
        body,
        status=401,
        headers={"WWW-Authenticate": 'Basic error="invalid_key"'} if integration == "confluent" else None,
    )
    # Pinned clocks whose default query the vendor serves (see the per-integration tests above).
    now = {
        "cursor": "2024-03-20T12:00:00Z",
        "datadog": "2026-10-15T12:00:00Z",
        "confluent": "2022-10-20T12:00:00Z",
        "openai-codex": "2026-03-06T12:00:00Z",
        "claude": "2026-01-10T12:00:00Z",
    }[integration]
    completed = run_usage(vendor, integration, credentials=credentials, now=now, context=context)

    assert completed.returncode == 1, completed.stderr
    assert completed.stdout == ""
    envelope = json.loads(completed.stderr)
    assert envelope["is_remote_error"] is True
    assert envelope["remote_status"] == 401
    assert envelope["remote_message"] == vendor_message
    assert envelope["error"] == "remote_unauthorized"
    assert isinstance(envelope["status"], int) and envelope["status"] >= 400
    assert isinstance(envelope["message"], str) and envelope["message"]
    assert isinstance(envelope["details"], dict)
    # A 401 is not retried.
    assert len(vendor.requests) == 1
    # No secret, in clear or inside a Basic header, reaches stdout or stderr.
    secrets = list(credentials.values())
    secrets += [
        base64.b64encode(f"{a}:{b}".encode()).decode()
        for a in credentials.values()
        for b in [*credentials.values(), ""]
    ]
    for secret in secrets:
        assert secret not in completed.stdout
        assert secret not in completed.stderr


# ---------------------------------------------------------------------------------------------------------------------
# Parity with GET /unified/usage-metering/usage: the CLI parses the same query string and calls the same use case, so
# for the same query it prints what the HTTP endpoint answers. The HTTP side here is the real app (create_app over a
# real SQLite store) reached over ASGI, its vendor the same loopback server as the CLI's.
# ---------------------------------------------------------------------------------------------------------------------

FORMATS = ["unified", "raw", "normalized", "stream", "debug"]
CLAUDE_CODE_NOW = "2025-08-11T00:00:00Z"
CLAUDE_CODE_PARAMS = ["--param", "date=2025-08-08", "--param", "report_type=claude_code"]
CLAUDE_CODE_IDS = [
    "claude:claude_code:2025-08-08:user@emaildomain.com:iTerm.app:api:enterprise",
    "claude:claude_code:2025-08-08:user@emaildomain.com:iTerm.app:api:enterprise:claude-sonnet-4-20250514",
    "claude:claude_code:2025-08-08:user@emaildomain.com:iTerm.app:api:enterprise:claude-3-5-haiku-20241022",
]
HTTP_CURSOR_KEY = b"http-side-cursor-key-of-the-parity-tests"


def route_claude_code(vendor: VendorServer, last_page: str = CLAUDE_CODE_LAST_PAGE) -> None:
    """The docs example (three rows, has_more) then ``last_page`` for its next_page token."""
    vendor.route("GET", CLAUDE_CODE_PATH, CLAUDE_CODE_USAGE_REPORT, pages={CLAUDE_CODE_NEXT_PAGE_TOKEN: last_page})


def cli(
    server: VendorServer,
    integration: str,
    *options: str,
    credentials: dict[str, str],
    now: str,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``unimeter usage INTEGRATION`` with the server's base URL, ``credentials`` and ``options`` as given (so an
    option may repeat, unlike :func:`run_usage`)."""
    command = [sys.executable, "-m", "unimeter.cli", "usage", integration, "--context", f"base_url={server.url}"]
    command += ["--now", now, *(f"--credential={k}={v}" for k, v in credentials.items()), *options]
    return subprocess.run(
        command, cwd=PROJECT, env=env or _env(), capture_output=True, text=True, timeout=120, check=False
    )


def key_env(tmp_path: Path) -> dict[str, str]:
    """No UNIMETER_CURSOR_KEY: the key file under a data directory of the test's own (XDG_DATA_HOME)."""
    env = {k: v for k, v in _env().items() if k != CURSOR_KEY_ENV}
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    return env


def params_of(options: list[str]) -> list[tuple[str, str]]:
    """The ``--param`` pairs (and ``--format`` as truto_response_format) of a CLI option list, as the query string
    the HTTP endpoint gets."""
    items = []
    for option, value in itertools.pairwise(options):
        if option == "--param":
            items.append((value.partition("=")[0], value.partition("=")[2]))
        elif option == "--format":
            items.append(("truto_response_format", value))
    return items


@pytest.fixture
def http(tmp_path: Path) -> Callable[..., httpx.Response]:
    """GET /unified/usage-metering/usage on the real app, for one stored account of ``integration``."""
    store = open_store(f"sqlite://{tmp_path / 'accounts.db'}", key_file=tmp_path / "secret.key")
    token = store.create_token(environment="prod")
    accounts: dict[str, Any] = {}

    def get(
        server: VendorServer, integration: str, items: list[tuple[str, str]], *, credentials: dict[str, str], now: str
    ) -> httpx.Response:
        # One account per integration and credentials, so that a cursor resumes on the account that issued it.
        known = json.dumps([integration, credentials, server.url], sort_keys=True)
        if known not in accounts:
            accounts[known] = store.create_account(
                integration, environment="prod", credentials=credentials, context={"base_url": server.url}
            ).id
        account_id = accounts[known]
        service = UsageService(store, HTTP_CURSOR_KEY, now=parse_instant(now))

        async def main() -> httpx.Response:
            try:
                async with httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=create_app(service)),
                    base_url="http://test",
                    headers={"authorization": f"Bearer {token}"},
                ) as client:
                    query = [("integrated_account_id", str(account_id)), *items]
                    response = await client.get("/unified/usage-metering/usage", params=query)
                    await response.aread()
                    return response
            finally:
                await service.aclose()

        return asyncio.run(main())

    return get


def comparable(value: Any) -> Any:
    """A response with what differs between two runs of one query neutralised: a cursor is signed with each side's
    key for each side's account (compare that there is one, not its bytes), and a vendor's Date header ticks."""
    if isinstance(value, list):
        return [comparable(item) for item in value]
    if not isinstance(value, dict):
        return value
    result: dict[str, Any] = {}
    for key, item in value.items():
        if key in {"next_cursor", "nextCursor"} and isinstance(item, str):
            result[key] = "<cursor>"
        elif key == "responseHeaders" and isinstance(item, dict):
            result[key] = {k: v for k, v in item.items() if k.lower() != "date"}
        else:
            result[key] = comparable(item)
    return result


def printed(completed: subprocess.CompletedProcess[str], response_format: str) -> Any:
    """What a successful run printed: one JSON document (one line: piped), or for stream its NDJSON lines."""
    assert completed.returncode == 0, f"exit {completed.returncode}\n{completed.stdout}\n{completed.stderr}"
    assert completed.stderr == ""
    if response_format == "stream":
        return [json.loads(line) for line in completed.stdout.splitlines()]
    assert completed.stdout.count("\n") == 1, "piped output is one line of JSON"
    return json.loads(completed.stdout)


def answered(response: httpx.Response, response_format: str) -> Any:
    assert response.status_code == 200, response.text
    if response_format == "stream":
        return [json.loads(line) for line in response.text.splitlines()]
    return response.json()


@pytest.mark.parametrize("response_format", FORMATS)
def test_every_format_prints_what_the_http_endpoint_answers(
    vendor: VendorServer, http: Callable[..., httpx.Response], response_format: str
) -> None:
    route_claude_code(vendor)
    options = [*CLAUDE_CODE_PARAMS, "--format", response_format]
    shorthand = printed(
        cli(vendor, "claude", *options, credentials=CLAUDE_CREDENTIALS, now=CLAUDE_CODE_NOW), response_format
    )
    assert len(vendor.requests) == 2  # the whole result: both pages
    long_form = [*CLAUDE_CODE_PARAMS, "--param", f"truto_response_format={response_format}"]
    completed = cli(vendor, "claude", *long_form, credentials=CLAUDE_CREDENTIALS, now=CLAUDE_CODE_NOW)
    got = printed(completed, response_format)
    # The CLI's default is the whole result: the HTTP query that says so is truto_ignore_limit=true.
    items = [*params_of(long_form), ("truto_ignore_limit", "true")]
    want = answered(http(vendor, "claude", items, credentials=CLAUDE_CREDENTIALS, now=CLAUDE_CODE_NOW), response_format)
    if response_format == "stream":
        assert shorthand == got  # --format F is --param truto_response_format=F
        assert got == want
        assert [row["id"] for row in got[:-1]] == CLAUDE_CODE_IDS
        assert got[-1] == {"end": {"rows": 3}}
        return
    assert comparable(shorthand) == comparable(got)
    assert comparable(got) == comparable(want)
    assert got["next_cursor"] is None
    if response_format == "raw":
        assert got["result"] == [json.loads(CLAUDE_CODE_USAGE_REPORT), json.loads(CLAUDE_CODE_LAST_PAGE)]
    elif response_format == "normalized":
        assert [row["id"] for row in got["result"]] == CLAUDE_CODE_IDS
        assert got["result"][0]["usage.sessions.distinct"] == 15
    else:
        assert [row["id"] for row in got["result"]] == CLAUDE_CODE_IDS
    if response_format == "debug":
        assert len(got["debug"]["requests"]) == 2 and got["debug"]["resultCount"] == 3
        assert CLAUDE_CREDENTIALS["api_key"] not in completed.stdout
    else:
        assert "debug" not in got


def test_truto_options_and_remote_query_are_accepted(vendor: VendorServer, http: Callable[..., httpx.Response]) -> None:
    route_claude_code(vendor)
    options = [
        *CLAUDE_CODE_PARAMS,
        "--param",
        "truto_key_by=id",
        "--param",
        "truto_exclude_fields=remote_data,organization",
        "--param",
        "remote_query[foo]=bar",
        "--param",
        "truto_ignore_remote_data=true",
    ]
    got = printed(cli(vendor, "claude", *options, credentials=CLAUDE_CREDENTIALS, now=CLAUDE_CODE_NOW), "unified")
    assert list(got["result"]) == CLAUDE_CODE_IDS  # keyed by id, in order
    for row_id, row in got["result"].items():
        assert row["id"] == row_id
        assert "remote_data" not in row and "organization" not in row
    # remote_query[foo]=bar reaches the vendor on every request, the next page's too.
    assert len(vendor.requests) == 2
    assert all(request.query["foo"] == ["bar"] for request in vendor.requests)
    items = [*params_of(options), ("truto_ignore_limit", "true")]
    want = answered(http(vendor, "claude", items, credentials=CLAUDE_CREDENTIALS, now=CLAUDE_CODE_NOW), "unified")
    assert got == want


@pytest.mark.parametrize(
    ("response_format", "expected"),
    [
        ("unified", '{"result":[],"next_cursor":null}\n'),
        ("debug", '{"result":[],"next_cursor":null,"debug":null}\n'),
        ("stream", '{"end":{"rows":0}}\n'),
    ],
)
def test_skip_api_call_checks_the_query_and_calls_no_vendor(
    vendor: VendorServer, response_format: str, expected: str
) -> None:
    route_claude_code(vendor)
    options = [*CLAUDE_CODE_PARAMS, "--param", "truto_skip_api_call=true", "--format", response_format]
    completed = cli(vendor, "claude", *options, credentials=CLAUDE_CREDENTIALS, now=CLAUDE_CODE_NOW)
    assert (completed.returncode, completed.stdout, completed.stderr) == (0, expected, "")
    assert vendor.requests == []
    # Still checked: a bad parameter is the 400 it always is, and still nothing is sent.
    bad = ["--param", "date=not-a-date", "--param", "truto_skip_api_call=true", "--format", response_format]
    completed = cli(vendor, "claude", *bad, credentials=CLAUDE_CREDENTIALS, now=CLAUDE_CODE_NOW)
    assert completed.returncode == 1 and completed.stdout == ""
    envelope = json.loads(completed.stderr)
    assert (envelope["status"], envelope["error"], envelope["details"]["parameter"]) == (
        400,
        "invalid_parameter",
        "date",
    )
    assert vendor.requests == []


@pytest.mark.parametrize(
    ("options", "names"),
    [
        (["--param", "date=2025-08-08", "--param", "date=2025-08-09"], ["--param date", "'date'", "takes one value"]),
        (["--param", "date[]=2025-08-08"], ["--param date", "'date'"]),
        (["--param", "report_type=claude_code", "--param", "report_type=activity"], ["report_type"]),
        (["--param", "truto_key_by=id", "--param", "truto_key_by=user.email"], ["truto_key_by", "more than once"]),
        (["--param", "remote_query[a]=1", "--param", "remote_query[a]=2"], ["remote_query[a]"]),
        (["--param", "truto_response_format=csv"], ["truto_response_format", "unified, raw, normalized"]),
        (["--param", "truto_everything=true"], ["truto_everything", "truto_key_by"]),
        (["--param", "limit=0"], ["limit"]),
        (["--format", "raw", "--param", "truto_response_format=debug"], ["--format raw", "disagree"]),
        (["--param", f"integrated_account_id={WORKSPACE_ID}"], ["integrated_account_id", "--credential"]),
        (["--param", "date"], ["--param expects KEY=VALUE", "'date'"]),
        (["--credential", "api_key=sk-ant-admin01-other"], ["--credential api_key", "more than once"]),
        (["--context", "base_url=http://127.0.0.1:9"], ["--context base_url", "more than once"]),
        (["--pretty", "--compact"], ["not allowed with"]),
    ],
    ids=lambda value: "-".join(value).replace("--", "") if isinstance(value, list) else None,
)
def test_a_wrong_command_line_exits_2_naming_the_option_and_sends_nothing(
    vendor: VendorServer, options: list[str], names: list[str]
) -> None:
    route_claude_code(vendor)
    completed = cli(vendor, "claude", *options, credentials=CLAUDE_CREDENTIALS, now=CLAUDE_CODE_NOW)
    assert completed.returncode == 2, completed.stderr
    assert completed.stdout == ""
    for name in names:
        assert name in completed.stderr, completed.stderr
    assert "Traceback" not in completed.stderr
    assert vendor.requests == []


def test_a_credential_given_without_its_key_is_not_echoed(vendor: VendorServer) -> None:
    secret = CLAUDE_CREDENTIALS["api_key"]
    completed = cli(vendor, "claude", "--credential", secret, credentials={}, now=CLAUDE_CODE_NOW)
    assert completed.returncode == 2
    assert "--credential expects KEY=VALUE" in completed.stderr
    assert secret not in completed.stderr and secret[:12] not in completed.stderr


def test_a_password_in_a_context_url_is_not_echoed(vendor: VendorServer) -> None:
    # The base URL check refuses a user name and password, quoting the URL it refuses: not with the password in it.
    password = "FAKEurlPASSWORD0010"
    url = f"http://user:{password}@127.0.0.1:9"
    command = [sys.executable, "-m", "unimeter.cli", "usage", "claude", "--context", f"base_url={url}"]
    command += [f"--credential=api_key={CLAUDE_CREDENTIALS['api_key']}"]
    completed = subprocess.run(
        command, cwd=PROJECT, env=_env(), capture_output=True, text=True, timeout=60, check=False
    )
    assert completed.returncode == 1 and completed.stdout == ""
    envelope = json.loads(completed.stderr)
    assert envelope["error"] == "invalid_account_configuration" and "user name or password" in envelope["message"]
    assert password not in completed.stderr
    assert vendor.requests == []


def test_limit_and_next_cursor_page_across_runs_like_the_service(
    vendor: VendorServer, http: Callable[..., httpx.Response], tmp_path: Path
) -> None:
    route_claude_code(vendor)
    env = key_env(tmp_path)
    key_file = tmp_path / "data" / "unimeter" / "cursor.key"
    # A query that can neither print nor read a cursor never creates the key file.
    printed(
        cli(vendor, "claude", *CLAUDE_CODE_PARAMS, credentials=CLAUDE_CREDENTIALS, now=CLAUDE_CODE_NOW, env=env),
        "unified",
    )
    assert not key_file.exists()

    pages: list[dict[str, Any]] = []
    cursor: str | None = None
    while len(pages) < 5:
        options = [*CLAUDE_CODE_PARAMS, "--param", "limit=1"] + (["--param", f"next_cursor={cursor}"] if cursor else [])
        pages.append(
            printed(
                cli(vendor, "claude", *options, credentials=CLAUDE_CREDENTIALS, now=CLAUDE_CODE_NOW, env=env), "unified"
            )
        )
        cursor = pages[-1]["next_cursor"]
        if cursor is None:
            break
    # Every row once, in order, one per run; the key that signed the cursors is a file of mode 0600.
    assert [[row["id"] for row in page["result"]] for page in pages] == [[row_id] for row_id in CLAUDE_CODE_IDS]
    assert key_file.is_file() and stat.S_IMODE(key_file.stat().st_mode) == 0o600

    # The service pages the same query the same way.
    served: list[dict[str, Any]] = []
    http_cursor: str | None = None
    while len(served) < 5:
        items = [*params_of(CLAUDE_CODE_PARAMS), ("limit", "1")] + (
            [("next_cursor", http_cursor)] if http_cursor else []
        )
        served.append(
            answered(http(vendor, "claude", items, credentials=CLAUDE_CREDENTIALS, now=CLAUDE_CODE_NOW), "unified")
        )
        http_cursor = served[-1]["next_cursor"]
        if http_cursor is None:
            break
    assert comparable(served) == comparable(pages)

    first_cursor = pages[0]["next_cursor"]
    # A cursor given without limit continues with the CLI's default: everything from there.
    rest = [*CLAUDE_CODE_PARAMS, "--param", f"next_cursor={first_cursor}"]
    got = printed(cli(vendor, "claude", *rest, credentials=CLAUDE_CREDENTIALS, now=CLAUDE_CODE_NOW, env=env), "unified")
    assert [row["id"] for row in got["result"]] == CLAUDE_CODE_IDS[1:]
    # It resumes only the query (and the account) it came from, checked before any vendor call.
    sent = len(vendor.requests)
    for other, credentials in (
        (["--param", "date=2025-08-07", "--param", "report_type=claude_code"], CLAUDE_CREDENTIALS),
        (CLAUDE_CODE_PARAMS, {"api_key": "sk-ant-admin01-FAKEotherSECRET0008"}),
    ):
        options = [*other, "--param", f"next_cursor={first_cursor}"]
        completed = cli(vendor, "claude", *options, credentials=credentials, now=CLAUDE_CODE_NOW, env=env)
        assert completed.returncode == 1 and completed.stdout == ""
        assert json.loads(completed.stderr)["error"] == "invalid_cursor"
    assert len(vendor.requests) == sent
    # The key itself is never printed.
    assert key_file.read_bytes().hex() not in json.dumps(pages)


def test_a_stream_failing_midway_prints_its_error_line_and_its_cursor_resumes_the_next_run(
    vendor: VendorServer, http: Callable[..., httpx.Response], tmp_path: Path
) -> None:
    route_claude_code(vendor, last_page="not json")
    env = key_env(tmp_path)
    options = [*CLAUDE_CODE_PARAMS, "--format", "stream"]
    completed = cli(vendor, "claude", *options, credentials=CLAUDE_CREDENTIALS, now=CLAUDE_CODE_NOW, env=env)
    assert completed.returncode == 1, completed.stderr
    assert completed.stderr == ""
    rows, last = stream_lines(completed.stdout)
    assert [row["id"] for row in rows] == CLAUDE_CODE_IDS
    assert last["error"]["error"] == "remote_invalid_response" and last["rows"] == 3
    assert isinstance(last["next_cursor"], str)
    served = http(vendor, "claude", params_of(options), credentials=CLAUDE_CREDENTIALS, now=CLAUDE_CODE_NOW)
    assert comparable([json.loads(line) for line in served.text.splitlines()]) == comparable([*rows, last])

    # The next run, the vendor fixed, resumes after the last row printed: nothing twice.
    route_claude_code(vendor)
    resumed = [*options, "--param", f"next_cursor={last['next_cursor']}"]
    completed = cli(vendor, "claude", *resumed, credentials=CLAUDE_CREDENTIALS, now=CLAUDE_CODE_NOW, env=env)
    assert (completed.returncode, completed.stdout) == (0, '{"end":{"rows":0}}\n'), completed.stderr


# ---------------------------------------------------------------------------------------------------------------------
# List parameters: a user's YAML integration whose `project_ids` is `list: true`
# ---------------------------------------------------------------------------------------------------------------------

TALLY_PATH = "/v1/usage"
TALLY_KEY = "tally_FAKEkeySECRET0009"
TALLY_BODY = json.dumps(
    {"data": [{"day": "2026-05-01", "project": "p1", "count": 3}, {"day": "2026-05-01", "project": "p2", "count": 4}]}
)
TALLY_SPEC = """\
name: tally
label: Tally
docs_url: https://docs.tally.example/api/usage
fills: [id, product, metric_name, usage.quantity, start_date, end_date, remote_data]
credentials:
  api_key:
    secret: true
    required: true
    description: Tally API key, sent as a Bearer token.
base_url: https://api.tally.example
auth:
  kind: headers
  headers:
    Authorization: {jsonata: "'Bearer ' & $credentials.api_key"}
params:
  day:
    type: date
    default: {jsonata: "$formatDate($now(), 'date')"}
    note: The day reported. Defaults to today.
  project_ids:
    type: string
    list: true
    note: Only these projects; repeat the parameter for several.
operations:
  - name: daily
    request:
      method: GET
      path: /v1/usage
      query:
        day: {jsonata: "$params.day"}
        project_id: {jsonata: "$params.project_ids"}
    records: {jsonata: "data"}
    transform:
      jsonata: |
        {
          "id": "tally:" & day & ":" & project,
          "product": {"id": "tally", "name": "Tally"},
          "metric_name": "requests",
          "usage": {"quantity": count},
          "start_date": $toInstant(day),
          "end_date": $addDays(day, 1)
        }
"""


@pytest.fixture
def tally(tmp_path: Path, vendor: VendorServer) -> Path:
    """The tally mapping in a folder of its own (given with --mappings), its API on the loopback server."""
    folder = tmp_path / "mappings"
    folder.mkdir()
    (folder / "tally.yaml").write_text(TALLY_SPEC, encoding="utf-8")
    vendor.route("GET", TALLY_PATH, TALLY_BODY)
    return folder


def tally_cli(vendor: VendorServer, tally: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return cli(
        vendor,
        "tally",
        "--mappings",
        str(tally),
        *options,
        credentials={"api_key": TALLY_KEY},
        now="2026-05-02T00:00:00Z",
    )


@pytest.mark.parametrize(
    "options",
    [
        ["--param", "project_ids=p1", "--param", "project_ids=p2"],
        ["--param", "project_ids[]=p1", "--param", "project_ids[]=p2"],
    ],
    ids=["repeated", "brackets"],
)
def test_a_repeated_list_param_is_sent_as_every_value_in_order(
    vendor: VendorServer, tally: Path, options: list[str]
) -> None:
    got = printed(tally_cli(vendor, tally, "--param", "day=2026-05-01", *options), "unified")
    assert [row["id"] for row in got["result"]] == ["tally:2026-05-01:p1", "tally:2026-05-01:p2"]
    assert len(vendor.requests) == 1
    assert vendor.requests[0].query == {"day": ["2026-05-01"], "project_id": ["p1", "p2"]}


def test_a_repeated_param_of_a_mapping_with_lists_names_them(vendor: VendorServer, tally: Path) -> None:
    completed = tally_cli(vendor, tally, "--param", "day=2026-05-01", "--param", "day=2026-05-02")
    assert completed.returncode == 2 and completed.stdout == ""
    assert "--param day is given 2 times; tally takes one value for 'day' (its list parameters are project_ids)" in (
        completed.stderr
    )
    assert vendor.requests == []


def record(
    vendor: VendorServer, tally: Path, fixtures: Path, case: str, *options: str
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "unimeter.cli", "record", "tally", case, "--mappings", str(tally)]
    command += [
        "--fixtures",
        str(fixtures),
        "--credential",
        f"api_key={TALLY_KEY}",
        "--context",
        f"base_url={vendor.url}",
    ]
    command += ["--now", "2026-05-02T00:00:00Z", *options]
    return subprocess.run(command, cwd=PROJECT, env=_env(), capture_output=True, text=True, timeout=120, check=False)


def test_record_keeps_every_value_of_a_list_param_and_refuses_a_repeated_other_one(
    vendor: VendorServer, tally: Path, tmp_path: Path
) -> None:
    fixtures = tmp_path / "fixtures"
    listed = ["--param", "day=2026-05-01", "--param", "project_ids=p1", "--param", "project_ids=p2"]
    completed = record(vendor, tally, fixtures, "two-projects", *listed)
    assert completed.returncode == 0, completed.stderr
    case = yaml.safe_load((fixtures / "tally" / "two-projects" / "case.yaml").read_text(encoding="utf-8"))
    assert case["params"] == {"day": "2026-05-01", "project_ids": ["p1", "p2"]}
    assert vendor.requests[0].query["project_id"] == ["p1", "p2"]
    # The case replays: the list reaches the recorded request again.
    check = subprocess.run(
        [sys.executable, "-m", "unimeter.cli", "check", "tally", "--mappings", str(tally), "--fixtures", str(fixtures)],
        cwd=PROJECT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "ok    tally/two-projects" in check.stdout

    sent = len(vendor.requests)
    for options, name in (
        (["--param", "day=2026-05-01", "--param", "day=2026-05-02"], "--param day"),
        (["--credential", "api_key=other"], "--credential api_key"),
        (["--context", "base_url=http://127.0.0.1:9"], "--context base_url"),
    ):
        completed = record(vendor, tally, fixtures, "refused", *options)
        assert completed.returncode == 2, completed.stderr
        assert name in completed.stderr
        assert not (fixtures / "tally" / "refused").exists()
    assert len(vendor.requests) == sent


# ---------------------------------------------------------------------------------------------------------------------
# Output: compact JSON when stdout is not a terminal, indented when it is; --pretty / --compact choose
# ---------------------------------------------------------------------------------------------------------------------


class Terminal(io.StringIO):
    """A captured stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_json_is_compact_when_piped_and_indented_with_pretty(vendor: VendorServer) -> None:
    route_claude_code(vendor)
    piped = cli(vendor, "claude", *CLAUDE_CODE_PARAMS, credentials=CLAUDE_CREDENTIALS, now=CLAUDE_CODE_NOW)
    body = json.loads(piped.stdout)
    assert piped.stdout == json.dumps(body, separators=(",", ":"), ensure_ascii=False) + "\n"
    pretty = cli(vendor, "claude", *CLAUDE_CODE_PARAMS, "--pretty", credentials=CLAUDE_CREDENTIALS, now=CLAUDE_CODE_NOW)
    assert pretty.stdout == json.dumps(body, indent=2, ensure_ascii=False) + "\n"
    compact = cli(
        vendor, "claude", *CLAUDE_CODE_PARAMS, "--compact", credentials=CLAUDE_CREDENTIALS, now=CLAUDE_CODE_NOW
    )
    assert compact.stdout == piped.stdout
    # The error envelope on stderr follows the same rule.
    vendor.route("GET", CLAUDE_CODE_PATH, CLAUDE_401, status=401)
    for layout, lines in (([], 1), (["--pretty"], 2)):
        failed = cli(
            vendor, "claude", *CLAUDE_CODE_PARAMS, *layout, credentials=CLAUDE_CREDENTIALS, now=CLAUDE_CODE_NOW
        )
        assert failed.returncode == 1 and failed.stdout == ""
        assert json.loads(failed.stderr)["error"] == "remote_unauthorized"
        assert (failed.stderr.count("\n") > 1) == (lines == 2)


def test_json_is_indented_on_a_terminal_unless_compact(vendor: VendorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    route_claude_code(vendor)
    arguments = ["usage", "claude", "--context", f"base_url={vendor.url}", "--now", CLAUDE_CODE_NOW]
    arguments += [f"--credential=api_key={CLAUDE_CREDENTIALS['api_key']}", *CLAUDE_CODE_PARAMS]
    for extra, indented in (([], True), (["--compact"], False)):
        stdout, stderr = Terminal(), Terminal()
        monkeypatch.setattr(sys, "stdout", stdout)
        monkeypatch.setattr(sys, "stderr", stderr)
        assert main([*arguments, *extra]) == 0, stderr.getvalue()
        body = json.loads(stdout.getvalue())
        assert [row["id"] for row in body["result"]] == CLAUDE_CODE_IDS
        layout: dict[str, Any] = {"indent": 2} if indented else {"separators": (",", ":")}
        assert stdout.getvalue() == json.dumps(body, ensure_ascii=False, **layout) + "\n"
    # An error on a terminal's stderr is indented too.
    vendor.route("GET", CLAUDE_CODE_PATH, CLAUDE_401, status=401)
    stdout, stderr = Terminal(), Terminal()
    monkeypatch.setattr(sys, "stdout", stdout)
    monkeypatch.setattr(sys, "stderr", stderr)
    assert main(arguments) == 1
    envelope = json.loads(stderr.getvalue())
    assert stderr.getvalue() == json.dumps(envelope, indent=2, ensure_ascii=False) + "\n"
    assert stdout.getvalue() == ""


@pytest.mark.parametrize("response_format", ["stream", "unified"])
def test_a_reader_that_goes_away_stops_the_command_quietly(vendor: VendorServer, response_format: str) -> None:
    """``unimeter usage ... | head``: a closed pipe ends the run with SIGPIPE's status and no traceback."""
    vendor.route("POST", CURSOR_PATH, CURSOR_DAILY_USAGE_DATA)
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before anything is written
    command = [sys.executable, "-m", "unimeter.cli", "usage", "cursor", "--context", f"base_url={vendor.url}"]
    command += ["--now", "2024-03-20T12:00:00Z", "--format", response_format]
    command += [f"--credential={k}={v}" for k, v in CURSOR_CREDENTIALS.items()]
    try:
        done = subprocess.run(
            command, cwd=PROJECT, env=_env(), stdout=write_end, stderr=subprocess.PIPE, timeout=120, check=False
        )
    finally:
        os.close(write_end)
    assert done.returncode == 141, done.stderr.decode()
    assert b"Traceback" not in done.stderr and b"BrokenPipe" not in done.stderr


def test_the_whole_result_is_written_as_it_comes_without_a_row_cap(vendor: VendorServer) -> None:
    """Piped, the default (no limit) unified body is written page by page: more rows than one response may hold."""
    route_claude_code(vendor)
    env = {**_env(), "UNIMETER_MAX_RESPONSE_ROWS": "2"}
    completed = cli(vendor, "claude", *CLAUDE_CODE_PARAMS, credentials=CLAUDE_CREDENTIALS, now=CLAUDE_CODE_NOW, env=env)
    assert completed.returncode == 0, completed.stderr
    body = json.loads(completed.stdout)
    assert [row["id"] for row in body["result"]] == CLAUDE_CODE_IDS and body["next_cursor"] is None
    assert completed.stdout.count("\n") == 1  # one compact line


def test_a_failure_part_way_leaves_the_document_unfinished_and_says_why(vendor: VendorServer) -> None:
    route_claude_code(vendor, last_page="not json")
    completed = cli(vendor, "claude", *CLAUDE_CODE_PARAMS, credentials=CLAUDE_CREDENTIALS, now=CLAUDE_CODE_NOW)
    assert completed.returncode == 1
    assert completed.stdout.startswith('{"result":[{') and '"next_cursor"' not in completed.stdout
    with pytest.raises(json.JSONDecodeError):
        json.loads(completed.stdout)  # no reader takes it for a complete result
    assert json.loads(completed.stderr)["error"] == "remote_invalid_response"

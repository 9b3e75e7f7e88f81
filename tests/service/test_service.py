"""The HTTP service end to end: a real HTTP client (httpx over ASGI) against create_app(UsageService(...)).

Accounts and API tokens live in engine/store.py's SQLite store in tmp_path; vendors are served from the recorded
fixtures by request (tests/service_helpers.py). Every response body of every test is scanned for the test credentials.
The service clock is pinned to each case's recorded ``now`` (``_query`` does it), so no test depends on today's date.
"""

from __future__ import annotations

import base64
import json
import tempfile
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from service_helpers import (
    OTHER_ENVIRONMENT,
    SECRETS,
    USAGE,
    Case,
    FixtureTransport,
    Harness,
    assert_no_secrets,
    load_case,
    make_harness,
    secret_strings,
)

from unimeter.service.openapi import openapi_document
from unimeter.run.validation import validate_row

CURSOR = load_case("cursor", "several-pages")          # 2 vendor pages, 3 rows
CLAUDE = load_case("claude", "several-pages")          # 3 vendor pages, 5 rows
CONFLUENT = load_case("confluent", "several-pages")    # 3 vendor pages, 3 rows
DATADOG = load_case("datadog", "split-range")          # 5 monthly windows, 5 rows
OPENAI = load_case("openai-codex", "several-pages")    # 3 vendor pages, recorded on another day than the others
CURSOR_EMPTY = load_case("cursor", "empty-result")
CURSOR_401 = load_case("cursor", "unauthorized")
PAGED = [CURSOR, CLAUDE, CONFLUENT, DATADOG, OPENAI]


def _transport() -> FixtureTransport:
    transport = FixtureTransport(ignore_query={"foo"})
    for case in [*PAGED, CURSOR_EMPTY]:
        transport.add(case.exchanges)
    return transport


def _setup(path: Path) -> Harness:
    h = make_harness(path, _transport(), now=CURSOR.clock)
    for case in PAGED:
        h.add_account(case.integration, context=case.context)
    h.add_account("cursor", label="cursor-2")
    h.add_account("cursor", environment=OTHER_ENVIRONMENT, label="cursor-staging")
    return h


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    return _setup(tmp_path)


def _query(h: Harness, case: Case, label: str | None = None, **extra: Any) -> dict[str, Any]:
    """The case's query on the account ``label`` (default: the case's integration), with the clock at its ``now``."""
    h.pin_clock(case)
    return {"integrated_account_id": h.accounts[label or case.integration], **case.params, **extra}


async def _get(client: httpx.AsyncClient, params: Any, **kwargs: Any) -> httpx.Response:
    response = await client.get(USAGE, params=params, **kwargs)
    assert_no_secrets(response.text, f"(GET {response.request.url})")
    return response


def call(h: Harness, params: Any, **kwargs: Any) -> httpx.Response:
    async def scenario(client: httpx.AsyncClient) -> httpx.Response:
        return await _get(client, params, **kwargs)
    response: httpx.Response = h.run(scenario)
    return response


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert set(body) >= {"status", "error", "message", "details"}
    if code is not None:
        assert body["error"] == code, body
    assert "Traceback" not in response.text
    return body


def read_all(h: Harness, params: dict[str, Any], limit: int | None) -> tuple[list[dict[str, Any]], int]:
    """Every row of a query, following next_cursor; and how many responses it took."""
    async def scenario(client: httpx.AsyncClient) -> tuple[list[dict[str, Any]], int]:
        rows: list[dict[str, Any]] = []
        cursor: str | None = None
        responses = 0
        while True:
            query = {**params, **({"limit": str(limit)} if limit else {}),
                     **({"next_cursor": cursor} if cursor else {})}
            response = await _get(client, query)
            assert response.status_code == 200, response.text
            body = response.json()
            responses += 1
            if limit is not None:
                assert len(body["result"]) <= limit
            rows.extend(body["result"])
            cursor = body["next_cursor"]
            if cursor is None:
                return rows, responses
            assert isinstance(cursor, str) and cursor
            assert responses < 100, "next_cursor never ends"
    result: tuple[list[dict[str, Any]], int] = h.run(scenario)
    return result


# ------------------------------------------------------------------------------------------------ health, openapi

def test_health(h: Harness) -> None:
    async def scenario(client: httpx.AsyncClient) -> httpx.Response:
        return await client.get("/health", headers={"authorization": ""})
    response = h.run(scenario)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_openapi_document_is_openapi_3_1_and_lists_the_usage_path_and_its_parameters(h: Harness) -> None:
    async def scenario(client: httpx.AsyncClient) -> httpx.Response:
        return await client.get("/openapi.json")
    response = h.run(scenario)
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.1")
    assert {"title", "version"} <= set(document["info"])
    operation = document["paths"]["/unified/usage-metering/usage"]["get"]
    names = {p["name"]: p for p in operation["parameters"]}
    for name in ["integrated_account_id", "truto_response_format", "truto_key_by", "truto_ignore_limit",
                 "truto_ignore_remote_data", "remote_query", "limit", "next_cursor", "date", "start_date",
                 "end_date", "user_id"]:
        assert name in names, f"{name} is not documented"
    assert any(name.startswith("truto_exclude_fields") for name in names)
    assert names["integrated_account_id"]["required"] is True
    assert set(names["truto_response_format"]["schema"]["enum"]) == {"unified", "raw", "normalized", "stream",
                                                                     "debug"}
    for parameter in operation["parameters"]:
        assert parameter["in"] == "query" and "schema" in parameter
    assert "200" in operation["responses"]
    for code in ["400", "401", "404", "429", "502"]:
        assert code in operation["responses"]
    assert _dangling_refs(document) == [], "$ref targets missing from the OpenAPI document"


def _dangling_refs(document: dict[str, Any]) -> list[str]:
    """Every $ref must be local and resolve against the document root (OpenAPI 3.1 / JSON Schema 2020-12 base URI)."""
    text = json.dumps(document)
    dangling = []
    for ref in sorted({part.split('"')[0] for part in text.split('"$ref": "')[1:]}):
        node: Any = document
        for key in ref.removeprefix("#/").split("/"):
            if not isinstance(node, dict) or key not in node:
                dangling.append(ref)
                break
            node = node[key]
    return dangling


def test_openapi_refs_resolve_after_rows_were_validated() -> None:
    """The row validator rewrites the shared Usage schema's refs to absolute ones; the document must not care."""
    row = CURSOR.expected["result"][0]
    validate_row(row, integration="cursor", file="cursor.yaml", operation="daily", record_index=0)
    openapi_document.cache_clear()
    try:
        assert _dangling_refs(openapi_document()) == []
    finally:
        openapi_document.cache_clear()


# ------------------------------------------------------------------------------------------------ authentication

@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Bearer wrong-token", "Basic abc", "umt_nope"])
def test_missing_or_wrong_bearer_token_is_401(h: Harness, header: str | None) -> None:
    headers = {"authorization": header} if header is not None else {}

    async def scenario(client: httpx.AsyncClient) -> httpx.Response:
        if header is None:
            del client.headers["authorization"]
        return await _get(client, _query(h, CURSOR), headers=headers)
    body = assert_error(h.run(scenario), 401, "unauthorized")
    assert h.transport.requests == []
    assert "Bearer" in body["message"] or "token" in body["message"]


def test_token_of_another_environment_sees_only_its_own_accounts(h: Harness) -> None:
    staging = {"integrated_account_id": h.accounts["cursor-staging"], **CURSOR.params}
    response = call(h, staging, headers={"authorization": f"Bearer {h.other_token}"})
    assert response.status_code == 200, response.text
    assert response.json()["result"] == CURSOR.expected["result"]


# ------------------------------------------------------------------------------------------------ integrated_account_id

def test_missing_integrated_account_id_is_400_naming_it(h: Harness) -> None:
    body = assert_error(call(h, CURSOR.params), 400)
    assert "integrated_account_id" in body["message"]
    assert h.transport.requests == []


@pytest.mark.parametrize("value", ["not-a-uuid", "123", "62f44730-dd91-461e-bd6a", "' OR 1=1 --"])
def test_integrated_account_id_not_a_uuid_is_400(h: Harness, value: str) -> None:
    body = assert_error(call(h, {"integrated_account_id": value}), 400)
    assert "integrated_account_id" in body["message"]


def test_unknown_account_is_404(h: Harness) -> None:
    assert_error(call(h, {"integrated_account_id": str(uuid4()), **CURSOR.params}), 404)
    assert h.transport.requests == []


def test_account_of_another_environment_is_404_exactly_like_a_missing_one(h: Harness) -> None:
    foreign = h.accounts["cursor-staging"]
    missing = str(uuid4())
    foreign_response = call(h, {"integrated_account_id": foreign, **CURSOR.params})
    missing_response = call(h, {"integrated_account_id": missing, **CURSOR.params})
    assert_error(foreign_response, 404)
    assert_error(missing_response, 404)
    assert foreign_response.text.replace(foreign, "ID") == missing_response.text.replace(missing, "ID")
    assert OTHER_ENVIRONMENT not in foreign_response.text
    assert h.transport.requests == []


# ------------------------------------------------------------------------------------------------ unified and formats

@pytest.mark.parametrize("case", PAGED, ids=lambda c: f"{c.integration}/{c.name}")
def test_unified_is_the_hand_computed_result(h: Harness, case: Case) -> None:
    for response_format in [None, "unified"]:
        extra = {"truto_response_format": response_format} if response_format else {}
        response = call(h, _query(h, case, **extra))
        assert response.status_code == 200, response.text
        assert response.json() == {"result": case.expected["result"], "next_cursor": None}
    assert h.transport.unmatched == []
    assert h.status(h.accounts[case.integration]) == "active"


def test_the_vendor_receives_the_accounts_credentials(h: Harness) -> None:
    assert call(h, _query(h, CURSOR)).status_code == 200
    call(h, _query(h, DATADOG))
    cursor_auth = "Basic " + base64.b64encode(f"{SECRETS['cursor']['api_key']}:".encode()).decode()
    cursor_requests = [r for r in h.transport.requests if r.url.host == "api.cursor.com"]
    assert cursor_requests and all(r.headers["authorization"] == cursor_auth for r in cursor_requests)
    datadog_requests = [r for r in h.transport.requests if "datadoghq" in r.url.host]
    assert datadog_requests
    assert all(r.headers["dd-api-key"] == SECRETS["datadog"]["api_key"] for r in datadog_requests)
    assert all(r.headers["dd-application-key"] == SECRETS["datadog"]["application_key"] for r in datadog_requests)


def test_unknown_response_format_is_400(h: Harness) -> None:
    body = assert_error(call(h, _query(h, CURSOR, truto_response_format="csv")), 400)
    assert "truto_response_format" in body["message"]


@pytest.mark.parametrize("case", PAGED, ids=lambda c: f"{c.integration}/{c.name}")
def test_raw_returns_the_vendor_bodies_untouched(h: Harness, case: Case) -> None:
    response = call(h, _query(h, case, truto_response_format="raw"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["result"] == [exchange["response"]["body"] for exchange in case.exchanges]
    assert body["next_cursor"] is None


def _flatten(value: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(item, dict) and item and key != "remote_data":
            out.update(_flatten(item, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = item
    return out


def test_normalized_flattens_to_dotted_keys_and_keeps_arrays(h: Harness) -> None:
    response = call(h, _query(h, CURSOR, truto_response_format="normalized"))
    assert response.status_code == 200, response.text
    rows = response.json()["result"]
    assert rows == [_flatten(row) for row in CURSOR.expected["result"]]
    first = rows[0]
    assert first["usage.requests.chat"] == 3
    assert first["usage.code.lines_added"] == 5
    assert first["product.id"] == "cursor"
    assert first["user.email"] == "dave@example.com"
    for row in rows:
        assert not any(isinstance(v, dict) for k, v in row.items() if k != "remote_data")

    response = call(h, _query(h, DATADOG, truto_response_format="normalized"))
    rows = response.json()["result"]
    unified = DATADOG.expected["result"]
    assert [row["charges"] for row in rows] == [row["charges"] for row in unified]
    assert isinstance(rows[0]["charges"], list) and rows[0]["organization.id"] == "abcd1234efgh5678"


@pytest.mark.parametrize("case", PAGED, ids=lambda c: f"{c.integration}/{c.name}")
def test_stream_is_ndjson_one_row_per_line(h: Harness, case: Case) -> None:
    response = call(h, _query(h, case, truto_response_format="stream"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    assert response.text.endswith("\n")
    lines = response.text.splitlines()
    assert [json.loads(line) for line in lines] == case.expected["result"]
    assert h.status(h.accounts[case.integration]) == "active"


def test_debug_has_the_result_and_the_redacted_vendor_exchange(h: Harness) -> None:
    response = call(h, _query(h, CURSOR, truto_response_format="debug"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["result"] == CURSOR.expected["result"]
    assert body["next_cursor"] is None
    debug = body["debug"]
    for key in ["requestUrl", "requestOptions", "data", "responseHeaders", "nextCursor", "isLooping",
                "isEmptyResult", "resultCount"]:
        assert key in debug, key
    last = CURSOR.exchanges[-1]
    assert debug["requestUrl"] == last["request"]["url"]
    assert debug["requestOptions"]["method"] == "POST"
    assert debug["requestOptions"]["body"] == last["request"]["body"]
    assert debug["requestOptions"]["headers"]["authorization"] == "[REDACTED]"
    assert debug["data"] == last["response"]["body"]
    assert isinstance(debug["responseHeaders"], dict)
    assert debug["responseHeaders"].get("content-type", "").startswith("application/json")
    assert debug["nextCursor"] is None
    assert debug["isLooping"] is False
    assert debug["isEmptyResult"] is False
    assert debug["resultCount"] == 3

    # a limited page: nextCursor is the response's next_cursor
    body = call(h, _query(h, CURSOR, truto_response_format="debug", limit="1")).json()
    assert body["debug"]["nextCursor"] == body["next_cursor"] is not None
    assert body["debug"]["resultCount"] == 1

    # datadog puts both keys in headers whose names hold no "authorization"
    body = call(h, _query(h, DATADOG, truto_response_format="debug")).json()
    headers = {k.lower(): v for k, v in body["debug"]["requestOptions"]["headers"].items()}
    assert headers["dd-api-key"] == "[REDACTED]" and headers["dd-application-key"] == "[REDACTED]"


def test_debug_of_an_empty_result(h: Harness) -> None:
    h.add_account("cursor", label="empty")
    response = call(h, _query(h, CURSOR_EMPTY, label="empty", truto_response_format="debug"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["result"] == [] and body["next_cursor"] is None
    assert body["debug"]["isEmptyResult"] is True and body["debug"]["resultCount"] == 0


# ------------------------------------------------------------------------------------------------ shaping options

def test_key_by_returns_an_object_keyed_by_the_field(h: Harness) -> None:
    response = call(h, _query(h, CURSOR, truto_key_by="id"))
    assert response.status_code == 200, response.text
    rows = CURSOR.expected["result"]
    assert response.json()["result"] == {row["id"]: row for row in rows}

    response = call(h, _query(h, CURSOR, truto_key_by="user.email"))
    assert response.json()["result"] == {row["user"]["email"]: row for row in rows}


@pytest.mark.parametrize("field", ["no_such_field", "usage.tokens.input", "product"])
def test_key_by_a_missing_or_non_scalar_field_is_400(h: Harness, field: str) -> None:
    body = assert_error(call(h, _query(h, CURSOR, truto_key_by=field)), 400)
    assert "truto_key_by" in body["message"]


def test_key_by_a_duplicate_key_is_400(h: Harness) -> None:
    body = assert_error(call(h, _query(h, CURSOR, truto_key_by="product.id")), 400)
    assert "truto_key_by" in body["message"] and "cursor" in body["message"]


def test_ignore_limit_returns_everything_in_one_response(h: Harness) -> None:
    for value in ["true", "1"]:
        response = call(h, _query(h, CLAUDE, limit="1", truto_ignore_limit=value))
        assert response.status_code == 200, response.text
        assert response.json() == {"result": CLAUDE.expected["result"], "next_cursor": None}
    limited = call(h, _query(h, CLAUDE, limit="1", truto_ignore_limit="false")).json()
    assert len(limited["result"]) == 1 and limited["next_cursor"]
    assert_error(call(h, _query(h, CLAUDE, truto_ignore_limit="maybe")), 400)


def test_ignore_remote_data_drops_remote_data_only(h: Harness) -> None:
    response = call(h, _query(h, CONFLUENT, truto_ignore_remote_data="true"))
    assert response.status_code == 200, response.text
    rows = response.json()["result"]
    expected = [{k: v for k, v in row.items() if k != "remote_data"} for row in CONFLUENT.expected["result"]]
    assert rows == expected
    assert all("remote_data" in row for row in CONFLUENT.expected["result"])


def test_exclude_fields_removes_dotted_paths(h: Harness) -> None:
    response = call(h, [("integrated_account_id", h.accounts["cursor"]), *CURSOR.params.items(),
                        ("truto_exclude_fields[]", "remote_data"),
                        ("truto_exclude_fields[]", "usage.requests.chat"),
                        ("truto_exclude_fields[]", "user.email")])
    assert response.status_code == 200, response.text
    rows = response.json()["result"]
    assert len(rows) == len(CURSOR.expected["result"])
    for row, full in zip(rows, CURSOR.expected["result"], strict=True):
        assert "remote_data" not in row
        assert "chat" not in row["usage"]["requests"]
        assert "email" not in row.get("user", {})
        expected = json.loads(json.dumps(full))
        del expected["remote_data"]
        del expected["usage"]["requests"]["chat"]
        del expected["user"]["email"]
        if not expected["user"]:
            del expected["user"]
        assert row == expected


def test_exclude_fields_applies_to_normalized_and_stream(h: Harness) -> None:
    base = [("integrated_account_id", h.accounts["cursor"]), *CURSOR.params.items(),
            ("truto_exclude_fields[]", "remote_data"), ("truto_exclude_fields[]", "usage.code")]
    rows = call(h, [*base, ("truto_response_format", "normalized")]).json()["result"]
    assert rows and all(not k.startswith(("usage.code", "remote_data")) for row in rows for k in row)
    lines = call(h, [*base, ("truto_response_format", "stream")]).text.splitlines()
    assert lines and all("code" not in json.loads(line)["usage"] and "remote_data" not in json.loads(line)
                         for line in lines)


def test_remote_query_reaches_the_vendor_request(h: Harness) -> None:
    response = call(h, _query(h, CLAUDE, **{"remote_query[foo]": "bar"}))
    assert response.status_code == 200, response.text
    assert response.json()["result"] == CLAUDE.expected["result"]
    sent = [r for r in h.transport.requests if r.url.host == "api.anthropic.com"]
    assert len(sent) == len(CLAUDE.exchanges)
    assert all(r.url.params.get_list("foo") == ["bar"] for r in sent)


# ------------------------------------------------------------------------------------------------ limit and next_cursor

@pytest.mark.parametrize("value", ["0", "-1", "abc", "1.5", "1001", "99999999999999999999", " 5", "\u00b2", "00",
                                   "9" * 5000])
def test_bad_limit_is_400(h: Harness, value: str) -> None:
    body = assert_error(call(h, _query(h, CURSOR, limit=value)), 400)
    assert "limit" in body["message"]


@pytest.mark.parametrize("case", PAGED, ids=lambda c: f"{c.integration}/{c.name}")
def test_every_limit_pages_to_exactly_the_unlimited_rows(h: Harness, case: Case) -> None:
    everything, responses = read_all(h, _query(h, case), None)
    assert responses == 1
    assert everything == case.expected["result"]
    total = len(everything)
    for limit in range(1, total + 2):
        rows, responses = read_all(h, _query(h, case), limit)
        assert rows == everything, f"limit {limit}"
        assert responses == max(1, -(-total // limit)), f"limit {limit}: next_cursor must be null at the end"
    assert h.transport.unmatched == []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=st.sampled_from(PAGED), limit=st.integers(min_value=1, max_value=8),
       response_format=st.sampled_from(["unified", "normalized", "debug"]))
def test_property_paging_loses_and_repeats_nothing(case: Case, limit: int, response_format: str) -> None:
    with tempfile.TemporaryDirectory() as directory:
        h = _setup(Path(directory))
        params = _query(h, case, truto_response_format=response_format)
        everything, _ = read_all(h, params, None)
        rows, _ = read_all(h, params, limit)
        assert rows == everything
        ids = [row["id"] for row in rows]
        assert len(ids) == len(set(ids)) == len(case.expected["result"])


def test_next_cursor_is_null_at_the_end_and_a_string_before(h: Harness) -> None:
    first = call(h, _query(h, CURSOR, limit="2")).json()
    assert len(first["result"]) == 2 and isinstance(first["next_cursor"], str)
    last = call(h, _query(h, CURSOR, limit="2", next_cursor=first["next_cursor"])).json()
    assert len(last["result"]) == 1 and last["next_cursor"] is None
    exact = call(h, _query(h, CURSOR, limit="3")).json()
    assert len(exact["result"]) == 3 and exact["next_cursor"] is None


def test_a_cursor_can_change_limit_and_format(h: Harness) -> None:
    first = call(h, _query(h, CLAUDE, limit="2")).json()
    rest = call(h, _query(h, CLAUDE, limit="10", truto_response_format="normalized",
                          next_cursor=first["next_cursor"])).json()
    assert rest["result"] == [_flatten(row) for row in CLAUDE.expected["result"][2:]]
    assert rest["next_cursor"] is None


@pytest.mark.parametrize("case", PAGED, ids=lambda c: f"{c.integration}/{c.name}")
def test_stream_ignores_limit_and_starts_at_next_cursor(h: Harness, case: Case) -> None:
    everything = case.expected["result"]
    unlimited = call(h, _query(h, case, truto_response_format="stream", limit="1"))
    assert unlimited.status_code == 200, unlimited.text
    assert [json.loads(line) for line in unlimited.text.splitlines()] == everything
    for taken in range(1, len(everything)):
        first = call(h, _query(h, case, limit=str(taken))).json()
        assert first["next_cursor"], f"limit {taken}"
        rest = call(h, _query(h, case, truto_response_format="stream", limit="1", next_cursor=first["next_cursor"]))
        assert rest.status_code == 200, rest.text
        assert [json.loads(line) for line in rest.text.splitlines()] == everything[taken:], f"after {taken}"
    assert h.transport.unmatched == []


def _tampered(cursor: str) -> list[str]:
    body, _, signature = cursor.partition(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["p"]["skip_rows"] = payload["p"].get("skip_rows", 0) + 1
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    return [f"{forged}.{signature}", f"{body}.{flipped}", body, f"{body}.", "garbage", "!!!.???", cursor[:-3],
            "e30.e30", f"{body}.\u00e9{signature[1:]}", ".\x80", "\u00e9.\u00e9"]


def test_tampered_cursor_is_400(h: Harness) -> None:
    cursor = call(h, _query(h, CURSOR, limit="1")).json()["next_cursor"]
    assert cursor
    for bad in _tampered(cursor):
        body = assert_error(call(h, _query(h, CURSOR, limit="1", next_cursor=bad)), 400)
        assert "next_cursor" in body["message"], bad


def test_cursor_replayed_with_another_query_is_400(h: Harness) -> None:
    cursor = call(h, _query(h, CURSOR, limit="1")).json()["next_cursor"]
    other_range = {"integrated_account_id": h.accounts["cursor"], "start_date": "2026-10-01",
                   "end_date": "2026-10-30", "next_cursor": cursor}
    assert_error(call(h, other_range), 400, "invalid_cursor")
    with_remote = _query(h, CURSOR, next_cursor=cursor, **{"remote_query[foo]": "bar"})
    assert_error(call(h, with_remote), 400, "invalid_cursor")


def test_cursor_replayed_with_another_account_is_400(h: Harness) -> None:
    cursor = call(h, _query(h, CURSOR, limit="1")).json()["next_cursor"]
    body = assert_error(call(h, _query(h, CURSOR, label="cursor-2", next_cursor=cursor)), 400, "invalid_cursor")
    assert "next_cursor" in body["message"]
    # a cursor of another integration's query, too
    claude_cursor = call(h, _query(h, CLAUDE, limit="1")).json()["next_cursor"]
    assert_error(call(h, _query(h, CURSOR, next_cursor=claude_cursor)), 400, "invalid_cursor")


# ------------------------------------------------------------------------------------------------ integration params

def test_unsupported_integration_parameter_is_400_listing_the_supported_ones(h: Harness) -> None:
    body = assert_error(call(h, _query(h, CURSOR, date="2026-10-01")), 400)
    assert "'date'" in body["message"].split("supports")[0]
    supported = body["message"].split("supports")[-1]
    assert "start_date" in supported and "end_date" in supported
    body = assert_error(call(h, _query(h, CLAUDE, user_id="u1")), 400)
    assert "user_id" in body["message"] and "date" in body["message"].split("supports")[-1]
    assert h.transport.requests == []


def test_malformed_integration_parameter_is_400_naming_it(h: Harness) -> None:
    query = {"integrated_account_id": h.accounts["cursor"], "start_date": "October", "end_date": "2026-10-01"}
    body = assert_error(call(h, query), 400)
    assert "start_date" in body["message"]


def test_repeated_single_parameter_is_400(h: Harness) -> None:
    account = h.accounts["cursor"]
    response = call(h, [("integrated_account_id", account), ("integrated_account_id", account),
                        *CURSOR.params.items()])
    assert_error(response, 400)


# ------------------------------------------------------------------------------------------------ vendor failures

def test_vendor_401_is_a_remote_error_and_marks_the_account_needs_reauth(h: Harness) -> None:
    account = h.accounts["cursor"]
    h.transport.replace(CURSOR_401.exchanges[0]["request"], CURSOR_401.exchanges[0]["response"])
    response = call(h, _query(h, CURSOR))
    assert 500 <= response.status_code < 600 and response.status_code == 502, response.text
    body = assert_error(response, 502)
    assert body["is_remote_error"] is True
    assert body["remote_status"] == 401
    assert "Invalid API key" in (body.get("remote_message") or body["message"])
    assert h.status(account) == "needs_reauth"
    assert h.sleep.waits == [], "a 401 is not retried"

    h.transport.replace(CURSOR.exchanges[0]["request"], CURSOR.exchanges[0]["response"])
    response = call(h, _query(h, CURSOR))
    assert response.status_code == 200, response.text
    assert h.status(account) == "active"


def test_vendor_429_after_retries_is_429_with_retry_after(h: Harness) -> None:
    rate_limited = load_case("cursor", "rate-limited")
    response_429 = rate_limited.exchanges[0]["response"]
    assert response_429["status"] == 429 and response_429["headers"].get("retry-after", "").strip() == "2"
    h.transport.replace(CURSOR.exchanges[0]["request"], response_429)
    response = call(h, _query(h, CURSOR))
    body = assert_error(response, 429)
    assert response.headers["retry-after"] == "2"
    assert body["is_remote_error"] is True and body["remote_status"] == 429
    assert h.sleep.waits == [2.0, 2.0, 2.0]  # cursor.yaml: max_retries 3, each after the vendor's Retry-After
    assert len(h.transport.requests) == 4
    assert h.status(h.accounts["cursor"]) == "active", "a rate limit says nothing about the credentials"


def test_vendor_429_then_success_is_retried_transparently(h: Harness) -> None:
    rate_limited = load_case("cursor", "rate-limited")
    h.transport.replace(CURSOR.exchanges[0]["request"], rate_limited.exchanges[0]["response"],
                        CURSOR.exchanges[0]["response"])
    response = call(h, _query(h, CURSOR))
    assert response.status_code == 200, response.text
    assert response.json()["result"] == CURSOR.expected["result"]
    assert h.sleep.waits == [2.0]


def test_stream_with_a_vendor_error_part_way_ends_with_an_error_line(h: Harness) -> None:
    h.transport.replace(CURSOR.exchanges[1]["request"],
                        {"status": 500, "headers": {"content-type": "application/json"},
                         "body": {"error": "Internal", "message": "boom"}})
    response = call(h, _query(h, CURSOR, truto_response_format="stream"))
    assert response.status_code == 200
    lines = [json.loads(line) for line in response.text.splitlines()]
    page_one = len(CURSOR.exchanges[0]["response"]["body"]["data"])
    assert page_one >= 1
    assert lines[:-1] == CURSOR.expected["result"][:page_one]
    assert set(lines[-1]) == {"error"}
    error = lines[-1]["error"]
    assert error["status"] == 502 and error["error"] == "remote_server_error"
    assert error["is_remote_error"] is True and error["remote_status"] == 500
    assert len(h.sleep.waits) == 3


def test_stream_with_a_vendor_401_part_way_marks_needs_reauth(h: Harness) -> None:
    h.transport.replace(CURSOR.exchanges[1]["request"], CURSOR_401.exchanges[0]["response"])
    response = call(h, _query(h, CURSOR, truto_response_format="stream"))
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert lines[-1]["error"]["error"] == "remote_unauthorized"
    assert lines[-1]["error"]["remote_status"] == 401
    assert h.status(h.accounts["cursor"]) == "needs_reauth"


def test_vendor_error_in_debug_and_raw_formats_is_the_envelope(h: Harness) -> None:
    h.transport.replace(CURSOR.exchanges[0]["request"], CURSOR_401.exchanges[0]["response"])
    for response_format in ["raw", "debug", "normalized"]:
        body = assert_error(call(h, _query(h, CURSOR, truto_response_format=response_format)), 502)
        assert body["is_remote_error"] is True


# ------------------------------------------------------------------------------------------------ secrets

def test_credentials_never_appear_in_any_response_body(h: Harness) -> None:
    """Every format, paged and not, errors included; _get scans each body, this gathers many in one place."""
    seen: list[str] = []

    async def scenario(client: httpx.AsyncClient) -> None:
        for case in PAGED:
            for response_format in ["unified", "raw", "normalized", "stream", "debug"]:
                for extra in [{}, {"limit": "1"}]:
                    response = await _get(client, _query(h, case, truto_response_format=response_format, **extra))
                    assert response.status_code == 200, response.text
                    seen.append(response.text)
        h.transport.replace(CURSOR.exchanges[0]["request"],
                            {"status": 401, "headers": {"content-type": "application/json"},
                             "body": {"error": "Unauthorized",
                                      "message": f"Invalid API key {SECRETS['cursor']['api_key']}"}})
        for response_format in ["unified", "stream", "debug"]:
            response = await _get(client, _query(h, CURSOR, truto_response_format=response_format))
            seen.append(response.text)
        seen.append((await _get(client, {"integrated_account_id": "x"})).text)

    h.run(scenario)
    assert len(seen) == 54 and len(h.bodies) == 54
    for text in seen:
        for secret in secret_strings():
            assert secret not in text

"""The HTTP service, shown on the built-in vendors' recorded payloads: what a response looks like field by field.

These are the service behaviours whose assertions need to know a vendor's payload (Cursor's request counters and
POST body, Datadog's key headers, Claude's and Cursor's parameters, Cursor's retry policy); the same behaviours are
checked for every integration, from the fixtures alone, in test_service.py. Accounts carry credentials derived from
each integration's declaration (tests/helpers/credentials.py); every response body is scanned for them.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from tests.helpers.cases import load_case
from tests.helpers.credentials import fake_credentials
from tests.helpers.ndjson import stream_lines, stream_rows
from tests.helpers.service_checks import assert_error, call, flatten, query
from tests.helpers.service_helpers import OTHER_ENVIRONMENT, FixtureTransport, Harness, make_harness

CURSOR = load_case("cursor", "several-pages")  # 2 vendor pages, 3 rows
CLAUDE = load_case("claude", "several-pages")  # 3 vendor pages, 5 rows
CONFLUENT = load_case("confluent", "several-pages")  # 3 vendor pages, 3 rows
DATADOG = load_case("datadog", "split-range")  # 5 monthly windows, 5 rows
OPENAI = load_case("openai-codex", "several-pages")  # 3 vendor pages, recorded on another day than the others
CURSOR_EMPTY = load_case("cursor", "empty-result")
CURSOR_401 = load_case("cursor", "unauthorized")
PAGED = [CURSOR, CLAUDE, CONFLUENT, DATADOG, OPENAI]
DATADOG_KEYS = fake_credentials("datadog")


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


# ---------------------------------------------------------------------------------------------- credentials, formats


def test_the_vendor_receives_the_accounts_credentials(h: Harness) -> None:
    assert call(h, query(h, CURSOR)).status_code == 200
    call(h, query(h, DATADOG))
    cursor_auth = "Basic " + base64.b64encode(f"{fake_credentials('cursor')['api_key']}:".encode()).decode()
    cursor_requests = [r for r in h.transport.requests if r.url.host == "api.cursor.com"]
    assert cursor_requests and all(r.headers["authorization"] == cursor_auth for r in cursor_requests)
    datadog_requests = [r for r in h.transport.requests if "datadoghq" in r.url.host]
    assert datadog_requests
    assert all(r.headers["dd-api-key"] == DATADOG_KEYS["api_key"] for r in datadog_requests)
    assert all(r.headers["dd-application-key"] == DATADOG_KEYS["application_key"] for r in datadog_requests)


def test_normalized_flattens_to_dotted_keys_and_keeps_arrays(h: Harness) -> None:
    response = call(h, query(h, CURSOR, truto_response_format="normalized"))
    assert response.status_code == 200, response.text
    rows = response.json()["result"]
    assert rows == [flatten(row) for row in CURSOR.expected["result"]]
    first = rows[0]
    assert first["usage.requests.chat"] == 3
    assert first["usage.code.lines_added"] == 5
    assert first["product.id"] == "cursor"
    assert first["user.email"] == "dave@example.com"
    for row in rows:
        assert not any(isinstance(v, dict) for k, v in row.items() if k != "remote_data")

    response = call(h, query(h, DATADOG, truto_response_format="normalized"))
    rows = response.json()["result"]
    unified = DATADOG.expected["result"]
    assert [row["charges"] for row in rows] == [row["charges"] for row in unified]
    assert isinstance(rows[0]["charges"], list) and rows[0]["organization.id"] == "abcd1234efgh5678"


def test_debug_has_the_result_and_the_redacted_vendor_exchange(h: Harness) -> None:
    response = call(h, query(h, CURSOR, truto_response_format="debug"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["result"] == CURSOR.expected["result"]
    assert body["next_cursor"] is None
    debug = body["debug"]
    for key in [
        "requestUrl",
        "requestOptions",
        "data",
        "responseHeaders",
        "nextCursor",
        "isLooping",
        "isEmptyResult",
        "resultCount",
    ]:
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
    body = call(h, query(h, CURSOR, truto_response_format="debug", limit="1")).json()
    assert body["debug"]["nextCursor"] == body["next_cursor"] is not None
    assert body["debug"]["resultCount"] == 1

    # datadog puts both keys in headers whose names hold no "authorization"
    body = call(h, query(h, DATADOG, truto_response_format="debug")).json()
    headers = {k.lower(): v for k, v in body["debug"]["requestOptions"]["headers"].items()}
    assert headers["dd-api-key"] == "[REDACTED]" and headers["dd-application-key"] == "[REDACTED]"


# ------------------------------------------------------------------------------------------------ shaping options


def test_key_by_returns_an_object_keyed_by_the_field(h: Harness) -> None:
    response = call(h, query(h, CURSOR, truto_key_by="id"))
    assert response.status_code == 200, response.text
    rows = CURSOR.expected["result"]
    assert response.json()["result"] == {row["id"]: row for row in rows}

    response = call(h, query(h, CURSOR, truto_key_by="user.email"))
    assert response.json()["result"] == {row["user"]["email"]: row for row in rows}


@pytest.mark.parametrize("field", ["no_such_field", "usage.tokens.input", "product"])
def test_key_by_a_missing_or_non_scalar_field_is_400(h: Harness, field: str) -> None:
    body = assert_error(call(h, query(h, CURSOR, truto_key_by=field)), 400)
    assert "truto_key_by" in body["message"]


def test_key_by_a_duplicate_key_is_400(h: Harness) -> None:
    body = assert_error(call(h, query(h, CURSOR, truto_key_by="product.id")), 400)
    assert "truto_key_by" in body["message"] and "cursor" in body["message"]


def test_ignore_remote_data_drops_remote_data_only(h: Harness) -> None:
    response = call(h, query(h, CONFLUENT, truto_ignore_remote_data="true"))
    assert response.status_code == 200, response.text
    rows = response.json()["result"]
    expected = [{k: v for k, v in row.items() if k != "remote_data"} for row in CONFLUENT.expected["result"]]
    assert rows == expected
    assert all("remote_data" in row for row in CONFLUENT.expected["result"])


def test_exclude_fields_removes_dotted_paths(h: Harness) -> None:
    response = call(
        h,
        [
            ("integrated_account_id", h.accounts["cursor"]),
            *CURSOR.params.items(),
            ("truto_exclude_fields[]", "remote_data"),
            ("truto_exclude_fields[]", "usage.requests.chat"),
            ("truto_exclude_fields[]", "user.email"),
        ],
    )
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
    base = [
        ("integrated_account_id", h.accounts["cursor"]),
        *CURSOR.params.items(),
        ("truto_exclude_fields[]", "remote_data"),
        ("truto_exclude_fields[]", "usage.code"),
    ]
    rows = call(h, [*base, ("truto_response_format", "normalized")]).json()["result"]
    assert rows and all(not k.startswith(("usage.code", "remote_data")) for row in rows for k in row)
    lines = stream_rows(call(h, [*base, ("truto_response_format", "stream")]).text)
    assert lines and all("code" not in line["usage"] and "remote_data" not in line for line in lines)


def test_remote_query_reaches_the_vendor_request(h: Harness) -> None:
    response = call(h, query(h, CLAUDE, **{"remote_query[foo]": "bar"}))
    assert response.status_code == 200, response.text
    assert response.json()["result"] == CLAUDE.expected["result"]
    sent = [r for r in h.transport.requests if r.url.host == "api.anthropic.com"]
    assert len(sent) == len(CLAUDE.exchanges)
    assert all(r.url.params.get_list("foo") == ["bar"] for r in sent)


# ------------------------------------------------------------------------------------------------ limit and next_cursor


def test_next_cursor_is_null_at_the_end_and_a_string_before(h: Harness) -> None:
    first = call(h, query(h, CURSOR, limit="2")).json()
    assert len(first["result"]) == 2 and isinstance(first["next_cursor"], str)
    last = call(h, query(h, CURSOR, limit="2", next_cursor=first["next_cursor"])).json()
    assert len(last["result"]) == 1 and last["next_cursor"] is None
    exact = call(h, query(h, CURSOR, limit="3")).json()
    assert len(exact["result"]) == 3 and exact["next_cursor"] is None


def test_cursor_replayed_with_another_query_is_400(h: Harness) -> None:
    cursor = call(h, query(h, CURSOR, limit="1")).json()["next_cursor"]
    other_range = {
        "integrated_account_id": h.accounts["cursor"],
        "start_date": "2026-10-01",
        "end_date": "2026-10-30",
        "next_cursor": cursor,
    }
    assert_error(call(h, other_range), 400, "invalid_cursor")
    with_remote = query(h, CURSOR, next_cursor=cursor, **{"remote_query[foo]": "bar"})
    assert_error(call(h, with_remote), 400, "invalid_cursor")


def test_cursor_replayed_with_another_account_is_400(h: Harness) -> None:
    cursor = call(h, query(h, CURSOR, limit="1")).json()["next_cursor"]
    body = assert_error(call(h, query(h, CURSOR, label="cursor-2", next_cursor=cursor)), 400, "invalid_cursor")
    assert "next_cursor" in body["message"]
    # a cursor of another integration's query, too
    claude_cursor = call(h, query(h, CLAUDE, limit="1")).json()["next_cursor"]
    assert_error(call(h, query(h, CURSOR, next_cursor=claude_cursor)), 400, "invalid_cursor")


# ------------------------------------------------------------------------------------------------ integration params


def test_unsupported_integration_parameter_is_400_listing_the_supported_ones(h: Harness) -> None:
    body = assert_error(call(h, query(h, CURSOR, date="2026-10-01")), 400)
    assert "'date'" in body["message"].split("supports")[0]
    supported = body["message"].split("supports")[-1]
    assert "start_date" in supported and "end_date" in supported
    body = assert_error(call(h, query(h, CLAUDE, user_id="u1")), 400)
    assert "user_id" in body["message"] and "date" in body["message"].split("supports")[-1]
    assert h.transport.requests == []


def test_malformed_integration_parameter_is_400_naming_it(h: Harness) -> None:
    query = {"integrated_account_id": h.accounts["cursor"], "start_date": "October", "end_date": "2026-10-01"}
    body = assert_error(call(h, query), 400)
    assert "start_date" in body["message"]


# ------------------------------------------------------------------------------------------------ vendor failures


def test_vendor_401_is_a_remote_error_and_marks_the_account_needs_reauth(h: Harness) -> None:
    account = h.accounts["cursor"]
    h.transport.replace(CURSOR_401.exchanges[0]["request"], CURSOR_401.exchanges[0]["response"])
    response = call(h, query(h, CURSOR))
    assert 500 <= response.status_code < 600 and response.status_code == 502, response.text
    body = assert_error(response, 502)
    assert body["is_remote_error"] is True
    assert body["remote_status"] == 401
    assert "Invalid API key" in (body.get("remote_message") or body["message"])
    assert h.status(account) == "needs_reauth"
    assert h.sleep.waits == [], "a 401 is not retried"

    h.transport.replace(CURSOR.exchanges[0]["request"], CURSOR.exchanges[0]["response"])
    response = call(h, query(h, CURSOR))
    assert response.status_code == 200, response.text
    assert h.status(account) == "active"


def test_vendor_429_after_retries_is_429_with_retry_after(h: Harness) -> None:
    rate_limited = load_case("cursor", "rate-limited")
    response_429 = rate_limited.exchanges[0]["response"]
    assert response_429["status"] == 429 and response_429["headers"].get("retry-after", "").strip() == "2"
    h.transport.replace(CURSOR.exchanges[0]["request"], response_429)
    response = call(h, query(h, CURSOR))
    body = assert_error(response, 429)
    assert response.headers["retry-after"] == "2"
    assert body["is_remote_error"] is True and body["remote_status"] == 429
    assert h.sleep.waits == [2.0, 2.0, 2.0]  # cursor.yaml: max_retries 3, each after the vendor's Retry-After
    assert len(h.transport.requests) == 4
    assert h.status(h.accounts["cursor"]) == "active", "a rate limit says nothing about the credentials"


def test_vendor_429_then_success_is_retried_transparently(h: Harness) -> None:
    rate_limited = load_case("cursor", "rate-limited")
    h.transport.replace(
        CURSOR.exchanges[0]["request"], rate_limited.exchanges[0]["response"], CURSOR.exchanges[0]["response"]
    )
    response = call(h, query(h, CURSOR))
    assert response.status_code == 200, response.text
    assert response.json()["result"] == CURSOR.expected["result"]
    assert h.sleep.waits == [2.0]


def test_stream_with_a_vendor_error_part_way_ends_with_an_error_line(h: Harness) -> None:
    h.transport.replace(
        CURSOR.exchanges[1]["request"],
        {
            "status": 500,
            "headers": {"content-type": "application/json"},
            "body": {"error": "Internal", "message": "boom"},
        },
    )
    response = call(h, query(h, CURSOR, truto_response_format="stream"))
    assert response.status_code == 200
    rows, last = stream_lines(response.text)
    page_one = len(CURSOR.exchanges[0]["response"]["body"]["data"])
    assert page_one >= 1
    assert rows == CURSOR.expected["result"][:page_one]
    assert set(last) == {"error", "next_cursor", "rows"} and last["rows"] == page_one
    # the error line's next_cursor resumes just after the last row delivered
    h.transport.replace(CURSOR.exchanges[1]["request"], CURSOR.exchanges[1]["response"])
    rest = call(h, query(h, CURSOR, truto_response_format="stream", next_cursor=last["next_cursor"]))
    assert rows + stream_rows(rest.text) == CURSOR.expected["result"]
    error = last["error"]
    assert error["status"] == 502 and error["error"] == "remote_server_error"
    assert error["is_remote_error"] is True and error["remote_status"] == 500
    assert len(h.sleep.waits) == 3


def test_stream_with_a_vendor_401_part_way_marks_needs_reauth(h: Harness) -> None:
    h.transport.replace(CURSOR.exchanges[1]["request"], CURSOR_401.exchanges[0]["response"])
    response = call(h, query(h, CURSOR, truto_response_format="stream"))
    _, last = stream_lines(response.text)
    assert last["error"]["error"] == "remote_unauthorized"
    assert last["error"]["remote_status"] == 401
    assert h.status(h.accounts["cursor"]) == "needs_reauth"


def test_vendor_error_in_debug_and_raw_formats_is_the_envelope(h: Harness) -> None:
    h.transport.replace(CURSOR.exchanges[0]["request"], CURSOR_401.exchanges[0]["response"])
    for response_format in ["raw", "debug", "normalized"]:
        body = assert_error(call(h, query(h, CURSOR, truto_response_format=response_format)), 502)
        assert body["is_remote_error"] is True

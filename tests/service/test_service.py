"""The HTTP service end to end, for every integration on the search path: a real HTTP client (httpx over ASGI)
against create_app(UsageService(...)).

Accounts and API tokens live in the real SQLite store in tmp_path, with credentials derived from what each
integration declares; vendors are served from the recorded fixtures by request (tests/helpers/service_helpers.py).
Cases are picked by what they record (tests/helpers/cases.py), never by vendor: every successful case that took
several vendor requests (MULTI) is checked in every format, paged with every limit and scanned for credentials
(tests/helpers/service_checks.py, the same checks a new mapping gets); REFERENCE, the one of them with the most rows,
stands for any working query in the tests of authentication, parameters and cursors. Every response body of every
test is scanned for the test credentials. The service clock is pinned to each case's recorded ``now``, so no test
depends on today's date. Behaviours shown on one vendor's payloads are in test_service_vendor_examples.py.
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

from tests.helpers.cases import Case, case_ids, empty_result_cases, multi_request_cases
from tests.helpers.service_checks import (
    assert_error,
    call,
    case_harness,
    check_debug,
    check_debug_of_an_empty_result,
    check_every_limit,
    check_ignore_remote_data,
    check_key_by_id,
    check_no_secret_in_any_body,
    check_normalized,
    check_raw,
    check_stream,
    check_stream_resumes,
    check_unified,
    check_vendor_receives_the_credentials,
    flatten,
    get,
    query,
    read_all,
)
from tests.helpers.service_helpers import OTHER_ENVIRONMENT, Harness
from unimeter.run.validation import validate_row
from unimeter.service.openapi import openapi_document
from unimeter.spec import available_integrations, load_integration

MULTI = multi_request_cases()
EMPTY = empty_result_cases()
REFERENCE = min(MULTI, key=lambda c: (-len(c.rows), c.id))
assert len(REFERENCE.rows) >= 3, "the cursor tests need a reference case of at least three rows"
REF = REFERENCE.integration

multi = pytest.mark.parametrize("case", MULTI, ids=case_ids(MULTI))


def _setup(path: Path) -> Harness:
    """The reference case's account, a second one of the same integration, and one in the other environment."""
    h = case_harness(path, REFERENCE)
    h.add_account(REF, context=REFERENCE.context, label=f"{REF}-2")
    h.add_account(REF, environment=OTHER_ENVIRONMENT, context=REFERENCE.context, label=f"{REF}-staging")
    return h


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    return _setup(tmp_path)


# ------------------------------------------------------------------------------------------------ health, openapi


def test_health(h: Harness) -> None:
    async def scenario(client: httpx.AsyncClient) -> httpx.Response:
        return await client.get("/health", headers={"authorization": ""})

    response = h.run(scenario)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "store": "ok"}


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
    for name in [
        "integrated_account_id",
        "truto_response_format",
        "truto_key_by",
        "truto_ignore_limit",
        "truto_ignore_remote_data",
        "remote_query",
        "limit",
        "next_cursor",
        "date",
        "start_date",
        "end_date",
        "user_id",
    ]:
        assert name in names, f"{name} is not documented"
    for integration in available_integrations():
        for name in load_integration(integration).params:
            assert name in names, f"{integration}'s parameter {name} is not documented"
    assert any(name.startswith("truto_exclude_fields") for name in names)
    assert names["integrated_account_id"]["required"] is True
    assert set(names["truto_response_format"]["schema"]["enum"]) == {"unified", "raw", "normalized", "stream", "debug"}
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
    row = REFERENCE.rows[0]
    spec = load_integration(REF)
    validate_row(row, integration=REF, file=f"{REF}.yaml", operation=spec.operations[0].name, record_index=0)
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
        return await get(client, query(h, REFERENCE), headers=headers)

    body = assert_error(h.run(scenario), 401, "unauthorized")
    assert h.transport.requests == []
    assert "Bearer" in body["message"] or "token" in body["message"]


def test_token_of_another_environment_sees_only_its_own_accounts(h: Harness) -> None:
    staging = query(h, REFERENCE, label=f"{REF}-staging")
    response = call(h, staging, headers={"authorization": f"Bearer {h.other_token}"})
    assert response.status_code == 200, response.text
    assert response.json()["result"] == REFERENCE.expected["result"]


# ------------------------------------------------------------------------------------------------ integrated_account_id


def test_missing_integrated_account_id_is_400_naming_it(h: Harness) -> None:
    body = assert_error(call(h, REFERENCE.params), 400)
    assert "integrated_account_id" in body["message"]
    assert h.transport.requests == []


@pytest.mark.parametrize("value", ["not-a-uuid", "123", "62f44730-dd91-461e-bd6a", "' OR 1=1 --"])
def test_integrated_account_id_not_a_uuid_is_400(h: Harness, value: str) -> None:
    body = assert_error(call(h, {"integrated_account_id": value}), 400)
    assert "integrated_account_id" in body["message"]


def test_unknown_account_is_404(h: Harness) -> None:
    assert_error(call(h, {"integrated_account_id": str(uuid4()), **REFERENCE.params}), 404)
    assert h.transport.requests == []


def test_account_of_another_environment_is_404_exactly_like_a_missing_one(h: Harness) -> None:
    foreign = h.accounts[f"{REF}-staging"]
    missing = str(uuid4())
    foreign_response = call(h, {"integrated_account_id": foreign, **REFERENCE.params})
    missing_response = call(h, {"integrated_account_id": missing, **REFERENCE.params})
    assert_error(foreign_response, 404)
    assert_error(missing_response, 404)
    # identical but for the id asked and the request's own id
    foreign_body = {**foreign_response.json(), "request_id": None}
    missing_body = {**missing_response.json(), "request_id": None}
    assert json.dumps(foreign_body).replace(foreign, "ID") == json.dumps(missing_body).replace(missing, "ID")
    assert OTHER_ENVIRONMENT not in foreign_response.text
    assert h.transport.requests == []


# ------------------------------------------------------------------------------------------------ formats


@multi
def test_unified_is_the_hand_computed_result(tmp_path: Path, case: Case) -> None:
    check_unified(case_harness(tmp_path, case), case)


@multi
def test_the_vendor_receives_every_secret_credential_of_the_account(tmp_path: Path, case: Case) -> None:
    check_vendor_receives_the_credentials(case_harness(tmp_path, case), case)


def test_unknown_response_format_is_400(h: Harness) -> None:
    body = assert_error(call(h, query(h, REFERENCE, truto_response_format="csv")), 400)
    assert "truto_response_format" in body["message"]


@multi
def test_raw_returns_the_vendor_bodies_untouched(tmp_path: Path, case: Case) -> None:
    check_raw(case_harness(tmp_path, case), case)


@multi
def test_normalized_rows_are_the_unified_rows_flattened_to_dotted_keys(tmp_path: Path, case: Case) -> None:
    check_normalized(case_harness(tmp_path, case), case)


@multi
def test_stream_is_ndjson_one_row_per_line(tmp_path: Path, case: Case) -> None:
    check_stream(case_harness(tmp_path, case), case)


@multi
def test_debug_shows_the_last_vendor_exchange_with_credentials_redacted(tmp_path: Path, case: Case) -> None:
    check_debug(case_harness(tmp_path, case), case)


@pytest.mark.parametrize("case", EMPTY, ids=case_ids(EMPTY))
def test_debug_of_an_empty_result(tmp_path: Path, case: Case) -> None:
    check_debug_of_an_empty_result(case_harness(tmp_path, case), case)


# ------------------------------------------------------------------------------------------------ shaping options


@multi
def test_key_by_id_returns_an_object_keyed_by_row_id(tmp_path: Path, case: Case) -> None:
    check_key_by_id(case_harness(tmp_path, case), case)


def test_key_by_a_missing_field_is_400(h: Harness) -> None:
    body = assert_error(call(h, query(h, REFERENCE, truto_key_by="no_such_field")), 400)
    assert "truto_key_by" in body["message"]


def test_ignore_limit_returns_everything_in_one_response(h: Harness) -> None:
    for value in ["true", "1"]:
        response = call(h, query(h, REFERENCE, limit="1", truto_ignore_limit=value))
        assert response.status_code == 200, response.text
        assert response.json() == {"result": REFERENCE.expected["result"], "next_cursor": None}
    limited = call(h, query(h, REFERENCE, limit="1", truto_ignore_limit="false")).json()
    assert len(limited["result"]) == 1 and limited["next_cursor"]
    assert_error(call(h, query(h, REFERENCE, truto_ignore_limit="maybe")), 400)


@multi
def test_ignore_remote_data_drops_remote_data_and_nothing_else(tmp_path: Path, case: Case) -> None:
    check_ignore_remote_data(case_harness(tmp_path, case), case)


# ------------------------------------------------------------------------------------------------ limit and next_cursor


@pytest.mark.parametrize(
    "value", ["0", "-1", "abc", "1.5", "1001", "99999999999999999999", " 5", "\u00b2", "00", "9" * 5000]
)
def test_bad_limit_is_400(h: Harness, value: str) -> None:
    body = assert_error(call(h, query(h, REFERENCE, limit=value)), 400)
    assert "limit" in body["message"]


@multi
def test_every_limit_pages_to_exactly_the_unlimited_rows(tmp_path: Path, case: Case) -> None:
    check_every_limit(case_harness(tmp_path, case), case)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    case=st.sampled_from(MULTI),
    limit=st.integers(min_value=1, max_value=8),
    response_format=st.sampled_from(["unified", "normalized", "debug"]),
)
def test_property_paging_loses_and_repeats_nothing(case: Case, limit: int, response_format: str) -> None:
    with tempfile.TemporaryDirectory() as directory:
        h = case_harness(Path(directory), case)
        params = query(h, case, truto_response_format=response_format)
        everything, _ = read_all(h, params, None)
        rows, _ = read_all(h, params, limit)
        assert rows == everything
        ids = [row["id"] for row in rows]
        assert len(ids) == len(set(ids)) == len(case.expected["result"])


def test_a_cursor_can_change_limit_and_format(h: Harness) -> None:
    first = call(h, query(h, REFERENCE, limit="2")).json()
    rest = call(
        h, query(h, REFERENCE, limit="10", truto_response_format="normalized", next_cursor=first["next_cursor"])
    ).json()
    assert rest["result"] == [flatten(row) for row in REFERENCE.expected["result"][2:]]
    assert rest["next_cursor"] is None


@multi
def test_stream_ignores_limit_and_starts_at_next_cursor(tmp_path: Path, case: Case) -> None:
    check_stream_resumes(case_harness(tmp_path, case), case)


def _tampered(cursor: str) -> list[str]:
    body, _, signature = cursor.partition(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["p"]["skip_rows"] = payload["p"].get("skip_rows", 0) + 1
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    return [
        f"{forged}.{signature}",
        f"{body}.{flipped}",
        body,
        f"{body}.",
        "garbage",
        "!!!.???",
        cursor[:-3],
        "e30.e30",
        f"{body}.\u00e9{signature[1:]}",
        ".\x80",
        "\u00e9.\u00e9",
    ]


def test_tampered_cursor_is_400(h: Harness) -> None:
    cursor = call(h, query(h, REFERENCE, limit="1")).json()["next_cursor"]
    assert cursor
    for bad in _tampered(cursor):
        body = assert_error(call(h, query(h, REFERENCE, limit="1", next_cursor=bad)), 400)
        assert "next_cursor" in body["message"], bad


def test_cursor_replayed_with_another_account_of_the_same_integration_is_400(h: Harness) -> None:
    cursor = call(h, query(h, REFERENCE, limit="1")).json()["next_cursor"]
    body = assert_error(call(h, query(h, REFERENCE, label=f"{REF}-2", next_cursor=cursor)), 400, "invalid_cursor")
    assert "next_cursor" in body["message"]


def test_cursor_replayed_with_remote_query_is_400(h: Harness) -> None:
    cursor = call(h, query(h, REFERENCE, limit="1")).json()["next_cursor"]
    with_remote = query(h, REFERENCE, next_cursor=cursor, **{"remote_query[foo]": "bar"})
    assert_error(call(h, with_remote), 400, "invalid_cursor")


# ------------------------------------------------------------------------------------------------ integration params


def test_repeated_single_parameter_is_400(h: Harness) -> None:
    account = h.accounts[REF]
    response = call(
        h, [("integrated_account_id", account), ("integrated_account_id", account), *REFERENCE.params.items()]
    )
    assert_error(response, 400)


def test_a_repeated_integration_parameter_that_is_not_a_list_is_400_naming_it(h: Harness) -> None:
    params = load_integration(REF).params
    single = next(name for name in REFERENCE.params if not params[name].is_list)
    pairs = [*query(h, REFERENCE).items(), (single, REFERENCE.params[single])]
    body = assert_error(call(h, pairs), 400, "invalid_parameter")
    assert f"{single!r} is given more than once" in body["message"]
    assert body["details"]["parameter"] == single


@pytest.mark.parametrize("response_format", ["unified", "debug", "raw", "normalized"])
def test_skip_api_call_checks_the_query_calls_no_vendor_and_answers_empty(h: Harness, response_format: str) -> None:
    """The reference names ``truto_skip_api_call``: no vendor call, an empty result, and ``debug`` null."""
    response = call(h, query(h, REFERENCE, truto_skip_api_call="true", truto_response_format=response_format))
    assert response.status_code == 200, response.text
    expected: dict[str, Any] = {"result": [], "next_cursor": None}
    if response_format == "debug":
        expected["debug"] = None
    assert response.json() == expected
    assert h.transport.requests == []


def test_skip_api_call_still_rejects_a_bad_query(h: Harness) -> None:
    bad = query(h, REFERENCE, truto_skip_api_call="true", not_a_parameter="1")
    assert_error(call(h, bad), 400, "unsupported_parameter")
    assert_error(call(h, query(h, REFERENCE, truto_skip_api_call="maybe")), 400, "invalid_parameter")
    assert h.transport.requests == []


def test_skip_api_call_with_stream_ends_at_once(h: Harness) -> None:
    response = call(h, query(h, REFERENCE, truto_skip_api_call="true", truto_response_format="stream"))
    assert response.status_code == 200
    assert [json.loads(line) for line in response.text.splitlines()] == [{"end": {"rows": 0}}]
    assert h.transport.requests == []


# ------------------------------------------------------------------------------------------------ secrets


@multi
def test_credentials_never_appear_in_any_response_body(tmp_path: Path, case: Case) -> None:
    """Every format, paged and not, errors included; every body is scanned, this gathers many in one place."""
    check_no_secret_in_any_body(case_harness(tmp_path, case), case)

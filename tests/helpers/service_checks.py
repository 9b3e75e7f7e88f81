"""The service suite's checks, one function per behaviour, for any integration and any recorded case.

tests/service/test_service.py runs each check over every case the fixtures of the search path offer; the test of a
new mapping (tests/e2e/test_new_integration_needs_no_python.py) runs the same functions over a mapping that exists
only in a temporary folder. Every check takes a :class:`Harness` whose transport serves the case's recordings (see
:func:`case_harness`); nothing here names a vendor: what a case must return comes from its ``expected.json``, and
the credentials from what its integration declares.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.helpers.cases import Case
from tests.helpers.credentials import (
    fake_credentials,
    revealed_secrets,
    secret_auth_headers,
    secret_strings,
    secret_values,
)
from tests.helpers.ndjson import stream_rows
from tests.helpers.service_helpers import USAGE, FixtureTransport, Harness, assert_no_secrets, make_harness
from unimeter.spec import load_integration

FORMATS = ["unified", "raw", "normalized", "stream", "debug"]


# ------------------------------------------------------------------------------------------------ calling the service


def case_harness(path: Path, *cases: Case) -> Harness:
    """A service over a fresh store in ``path`` whose vendors replay ``cases``, one account per integration."""
    transport = FixtureTransport(ignore_query={"foo"})
    for case in cases:
        transport.add(case.exchanges)
    h = make_harness(path, transport, now=cases[0].clock if cases else None)
    for case in cases:
        if case.integration not in h.accounts:
            h.add_account(case.integration, context=case.context)
    return h


def query(h: Harness, case: Case, label: str | None = None, **extra: Any) -> dict[str, Any]:
    """The case's query on the account ``label`` (default: the case's integration), with the clock at its ``now``."""
    h.pin_clock(case)
    return {"integrated_account_id": h.accounts[label or case.integration], **case.params, **extra}


async def get(client: httpx.AsyncClient, params: Any, **kwargs: Any) -> httpx.Response:
    response = await client.get(USAGE, params=params, **kwargs)
    assert_no_secrets(response.text, f"(GET {response.request.url})")
    return response


def call(h: Harness, params: Any, **kwargs: Any) -> httpx.Response:
    async def scenario(client: httpx.AsyncClient) -> httpx.Response:
        return await get(client, params, **kwargs)

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
            query = {
                **params,
                **({"limit": str(limit)} if limit else {}),
                **({"next_cursor": cursor} if cursor else {}),
            }
            response = await get(client, query)
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


def flatten(value: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A row as the normalized format gives it: nested objects as dotted keys, arrays and remote_data kept whole."""
    out: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(item, dict) and item and key != "remote_data":
            out.update(flatten(item, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = item
    return out


def _request_key(method: str, url: str, body: Any) -> tuple[Any, ...]:
    parsed = httpx.URL(url)
    return (
        method.upper(),
        str(parsed.copy_with(query=None)),
        sorted(Counter(parsed.params.multi_items()).items()),
        json.dumps(body, sort_keys=True) if body is not None else None,
    )


def vendor_error(status: int, case: Case) -> dict[str, Any]:
    """A vendor error whose message repeats every secret the account was sent (a careless vendor echoing a key)."""
    echoed = " ".join(secret_values(case.integration))
    return {
        "status": status,
        "headers": {"content-type": "application/json"},
        "body": {"error": "Unauthorized" if status == 401 else "Internal", "message": f"Invalid API key {echoed}"},
    }


# ------------------------------------------------------------------------------------------------ formats


def check_unified(h: Harness, case: Case) -> None:
    """The default format and ``unified`` are the hand-computed result, in one response."""
    for response_format in [None, "unified"]:
        extra = {"truto_response_format": response_format} if response_format else {}
        response = call(h, query(h, case, **extra))
        assert response.status_code == 200, response.text
        assert response.json() == {"result": case.expected["result"], "next_cursor": None}
    assert h.transport.unmatched == []
    assert h.status(h.accounts[case.integration]) == "active"


def check_raw(h: Harness, case: Case) -> None:
    """``raw`` is every vendor body, untouched, in request order."""
    response = call(h, query(h, case, truto_response_format="raw"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["result"] == [exchange["response"]["body"] for exchange in case.exchanges]
    assert body["next_cursor"] is None


def check_normalized(h: Harness, case: Case) -> None:
    """``normalized`` is each unified row with nested objects as dotted keys; arrays and remote_data stay whole."""
    response = call(h, query(h, case, truto_response_format="normalized"))
    assert response.status_code == 200, response.text
    rows = response.json()["result"]
    assert rows == [flatten(row) for row in case.rows]
    for row in rows:
        assert not any(isinstance(v, dict) for k, v in row.items() if k != "remote_data")


def check_stream(h: Harness, case: Case) -> None:
    """``stream`` is NDJSON, one unified row per line, each line ended."""
    response = call(h, query(h, case, truto_response_format="stream"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    assert stream_rows(response.text) == case.expected["result"]
    assert h.status(h.accounts[case.integration]) == "active"


def check_debug(h: Harness, case: Case) -> None:
    """``debug`` has the result and the last vendor exchange, with every credential-bearing header redacted."""
    response = call(h, query(h, case, truto_response_format="debug"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["result"] == case.rows
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
    last = case.exchanges[-1]["request"]
    options = debug["requestOptions"]
    recorded_url = httpx.URL(last["url"]).copy_merge_params({k: str(v) for k, v in (last.get("query") or {}).items()})
    assert _request_key(options["method"], debug["requestUrl"], options.get("body")) == _request_key(
        last.get("method", "GET"), str(recorded_url), last.get("body")
    )
    assert debug["data"] == case.exchanges[-1]["response"]["body"]
    headers = {k.lower(): v for k, v in options["headers"].items()}
    carrying = secret_auth_headers(case.integration)
    assert carrying or not secret_values(case.integration), "no auth header carries the account's secrets"
    for name in carrying:
        assert headers[name] == "[REDACTED]", name
    assert isinstance(debug["responseHeaders"], dict)
    assert debug["nextCursor"] is None
    assert debug["isLooping"] is False
    assert debug["isEmptyResult"] is False
    assert debug["resultCount"] == len(case.rows)
    if len(case.rows) >= 2:  # a limited page: nextCursor is the response's next_cursor
        body = call(h, query(h, case, truto_response_format="debug", limit="1")).json()
        assert body["debug"]["nextCursor"] == body["next_cursor"] is not None
        assert body["debug"]["resultCount"] == 1


def check_debug_of_an_empty_result(h: Harness, case: Case) -> None:
    response = call(h, query(h, case, truto_response_format="debug"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["result"] == [] and body["next_cursor"] is None
    assert body["debug"]["isEmptyResult"] is True and body["debug"]["resultCount"] == 0


# ------------------------------------------------------------------------------------------------ shaping, paging


def check_key_by_id(h: Harness, case: Case) -> None:
    response = call(h, query(h, case, truto_key_by="id"))
    assert response.status_code == 200, response.text
    assert response.json()["result"] == {row["id"]: row for row in case.rows}


def check_ignore_remote_data(h: Harness, case: Case) -> None:
    response = call(h, query(h, case, truto_ignore_remote_data="true"))
    assert response.status_code == 200, response.text
    assert response.json()["result"] == [{k: v for k, v in row.items() if k != "remote_data"} for row in case.rows]


def check_every_limit(h: Harness, case: Case) -> None:
    """Paging with any limit gives exactly the unlimited rows, in order, and next_cursor is null at the end."""
    everything, responses = read_all(h, query(h, case), None)
    assert responses == 1
    assert everything == case.expected["result"]
    total = len(everything)
    for limit in range(1, total + 2):
        rows, responses = read_all(h, query(h, case), limit)
        assert rows == everything, f"limit {limit}"
        assert responses == max(1, -(-total // limit)), f"limit {limit}: next_cursor must be null at the end"
    assert h.transport.unmatched == []


def check_stream_resumes(h: Harness, case: Case) -> None:
    """``stream`` ignores limit, and from a next_cursor streams exactly the rows not yet returned."""
    everything = case.expected["result"]
    unlimited = call(h, query(h, case, truto_response_format="stream", limit="1"))
    assert unlimited.status_code == 200, unlimited.text
    assert stream_rows(unlimited.text) == everything
    for taken in range(1, len(everything)):
        first = call(h, query(h, case, limit=str(taken))).json()
        assert first["next_cursor"], f"limit {taken}"
        rest = call(h, query(h, case, truto_response_format="stream", limit="1", next_cursor=first["next_cursor"]))
        assert rest.status_code == 200, rest.text
        assert stream_rows(rest.text) == everything[taken:], f"after {taken}"
    assert h.transport.unmatched == []


# ------------------------------------------------------------------------------------------------ credentials


def check_vendor_receives_the_credentials(h: Harness, case: Case) -> None:
    """Every vendor request carries every secret credential of the account (in clear or inside ``Basic``)."""
    assert call(h, query(h, case)).status_code == 200
    assert h.transport.requests
    secrets = set(secret_values(case.integration))
    for request in h.transport.requests:
        assert revealed_secrets(request.headers.values(), case.integration) == secrets, request.url


def check_no_secret_in_any_body(h: Harness, case: Case) -> None:
    """Every format, paged and not, and a vendor 401 echoing the key: no response body holds a credential."""
    seen: list[str] = []
    before = len(h.bodies)

    async def scenario(client: httpx.AsyncClient) -> None:
        for response_format in FORMATS:
            for extra in [{}, {"limit": "1"}]:
                response = await get(client, query(h, case, truto_response_format=response_format, **extra))
                assert response.status_code == 200, response.text
                seen.append(response.text)
        h.transport.replace(case.exchanges[0]["request"], vendor_error(401, case))
        for response_format in ["unified", "stream", "debug"]:
            response = await get(client, query(h, case, truto_response_format=response_format))
            seen.append(response.text)
        seen.append((await get(client, {"integrated_account_id": "x"})).text)

    h.run(scenario)
    assert len(seen) == 14 and len(h.bodies) - before == 14
    for text in seen:
        for secret in secret_strings():
            assert secret not in text


SERVICE_CHECKS: list[Callable[[Harness, Case], None]] = [
    check_unified,
    check_raw,
    check_normalized,
    check_stream,
    check_debug,
    check_key_by_id,
    check_ignore_remote_data,
    check_every_limit,
    check_stream_resumes,
    check_vendor_receives_the_credentials,
    check_no_secret_in_any_body,
]
"""Every check of a case with rows and several vendor requests, each on a fresh harness."""


# ------------------------------------------------------------------------------------------------ the secret scan


def found_secrets(text: str | bytes) -> list[str]:
    """The secrets that occur in ``text`` (bytes are searched as UTF-8 and as UTF-16, SQLite's other encoding)."""
    if isinstance(text, bytes):
        return [s for s in secret_strings() if s.encode() in text or s.encode("utf-16-le") in text]
    return [s for s in secret_strings() if s in text]


def log_text(records: list[logging.LogRecord]) -> str:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    parts = []
    for record in records:
        parts.append(formatter.format(record))  # message, args and any traceback (exc_info / stack_info)
        parts.append(repr(record.args))
        parts.append(repr({k: v for k, v in vars(record).items() if k not in {"exc_info", "args", "msg"}}))
    return "\n".join(parts)


def scan_logs_bodies_and_database(
    tmp_path: Path, records: Callable[[], list[logging.LogRecord]], cases: list[Case]
) -> None:
    """Service calls over ``cases`` (one per integration) and the accounts API leave no secret in any log record,
    response body or byte of the SQLite file.

    Each case's query runs in every format; then its vendor answers 401 and 500 with messages echoing the key; then
    each integration's account is created, read, listed and given new credentials through the accounts API.
    ``records`` gives the log records captured so far (pytest's ``caplog.records``, at DEBUG on the root logger).
    """
    assert len({case.integration for case in cases}) == len(cases), "one case per integration"
    transport = FixtureTransport()
    for case in cases:
        transport.add(case.exchanges)
    h = make_harness(tmp_path, transport, now=cases[0].clock)
    for case in cases:
        h.add_account(case.integration, context=case.context)

    def params(case: Case, **extra: str) -> dict[str, str]:
        h.pin_clock(case)
        return {"integrated_account_id": h.accounts[case.integration], **case.params, **extra}

    async def scenario(client: httpx.AsyncClient) -> dict[str, list[int]]:
        statuses: dict[str, list[int]] = {"ok": [], "vendor errors": [], "accounts": []}
        for case in cases:
            for response_format in FORMATS:
                response = await client.get(USAGE, params=params(case, truto_response_format=response_format))
                statuses["ok"].append(response.status_code)
        for case in cases:
            for status in (401, 500):
                h.transport.replace(case.exchanges[0]["request"], vendor_error(status, case))
                for response_format in ["unified", "stream", "debug"]:
                    response = await client.get(USAGE, params=params(case, truto_response_format=response_format))
                    statuses["vendor errors"].append(response.status_code)
        for case in cases:
            created = await client.post(
                "/integrated-accounts",
                json={
                    "integration": case.integration,
                    "credentials": fake_credentials(case.integration),
                    "context": case.context,
                },
            )
            account_id = created.json()["id"]
            statuses["accounts"].append(created.status_code)
            statuses["accounts"].append((await client.get(f"/integrated-accounts/{account_id}")).status_code)
            statuses["accounts"].append((await client.get("/integrated-accounts")).status_code)
            statuses["accounts"].append(
                (
                    await client.patch(
                        f"/integrated-accounts/{account_id}",
                        json={"credentials": fake_credentials(case.integration, "rotated")},
                    )
                ).status_code
            )
            statuses["accounts"].append(
                (
                    await client.post(
                        "/integrated-accounts",
                        json={"integration": "no-such", "credentials": fake_credentials(case.integration)},
                    )
                ).status_code
            )
        return statuses

    statuses = h.run(scenario)  # every response body is scanned by the harness too
    assert statuses["ok"] == [200] * (len(FORMATS) * len(cases))
    # a vendor 401 or 500 is a 502, in stream too: a stream that fails before its first row answers with the error
    assert statuses["vendor errors"] == [502, 502, 502] * (2 * len(cases))
    assert statuses["accounts"] == [201, 200, 200, 200, 400] * len(cases)
    retried = sum(
        3 * load_integration(c.integration).errors.max_retries
        for c in cases
        if 500 in load_integration(c.integration).errors.retry_statuses
    )
    assert len(h.sleep.waits) == retried, "each vendor 500 was retried"

    logged = records()
    assert any(r.name.startswith("httpx") for r in logged), "httpx's request log was not captured"
    text = log_text(logged)
    assert found_secrets(text) == [], text[-3000:]
    assert found_secrets("".join(h.bodies)) == []

    database = [p for p in tmp_path.iterdir() if p.name.startswith("accounts.db")]
    assert database, list(tmp_path.iterdir())
    raw = b"".join(p.read_bytes() for p in database)
    assert len(raw) > 0
    assert found_secrets(raw) == [], [p.name for p in database]


def echo_auth_headers() -> FixtureTransport:
    """A vendor that answers every request 401 with a message echoing every header it received (auth included)."""

    class Echo(FixtureTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            await request.aread()
            self.requests.append(request)
            echoed = " ".join(f"{name}: {value}" for name, value in request.headers.items())
            return httpx.Response(401, json=echo_body(f"Invalid credentials {echoed}"), request=request)

    return Echo()


def echo_body(message: str) -> dict[str, Any]:
    """An error body carrying ``message`` in each place vendors usually put theirs."""
    return {
        "message": message,
        "error": {"type": "unauthorized", "message": message},
        "errors": [{"detail": message}],
        "detail": message,
    }


def check_an_echoing_vendor_leaks_nothing(tmp_path: Path, case: Case) -> None:
    """A vendor whose 401 repeats every header it received (``Basic <base64>``, ``Bearer``, key headers): the
    service's error says what the vendor said, with no credential in it."""
    h = make_harness(tmp_path, echo_auth_headers(), now=case.clock)
    h.add_account(case.integration, context=case.context)

    async def scenario(client: httpx.AsyncClient) -> httpx.Response:
        return await client.get(USAGE, params={"integrated_account_id": h.accounts[case.integration], **case.params})

    try:
        response = h.run(scenario)  # the harness scans every body and raises on a secret
    except AssertionError as error:
        raise AssertionError(f"an echoed credential reached the response: {error}") from None
    assert h.transport.requests, "the vendor was never asked"
    assert response.status_code == 502, response.text
    shown = load_integration(case.integration).errors.message
    if shown is not None and "Invalid credentials" in str(shown.evaluate(echo_body("Invalid credentials"))):
        assert "Invalid credentials" in response.text, "the vendor's message (with the echo) is not in the error"

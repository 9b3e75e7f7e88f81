"""The service fuzzer's machinery, for any set of integrations: a vendor double built from the fixtures, the
schemathesis run over ``/openapi.json``, and raw query strings as bytes.

tests/service/test_service_fuzz.py runs it over every integration on the search path; the test of a new mapping
runs a short version over a mapping that exists only in a temporary folder. The app runs over the real SQLite store
with one account per integration (credentials derived from each declaration, context from a recorded case); the
vendors are an ``httpx.MockTransport`` that answers every request with a 200 the mapping can read: a recorded final
page (records, no next page) the first time a path is asked within a call, then that page with its arrays emptied,
so windows and pages end and row ids never repeat. A vendor 5xx is therefore impossible here, and any 5xx the fuzzer
sees is the service's own failure.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import jsonschema
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode, checks

from tests.helpers.cases import all_cases, representative_case
from tests.helpers.credentials import fake_context, secret_strings
from tests.helpers.service_helpers import USAGE, Harness, make_harness
from unimeter.service import create_app
from unimeter.service.openapi import ERROR_SCHEMA
from unimeter.spec import available_integrations, load_integration

Statuses = dict[int, int]
MAX_EXAMPLES = 150


def _settings(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
    )


# schemathesis' own checks that hold for this API. Not positive_data_acceptance: the integration parameters in the
# document are the union over all integrations, and each account rejects the ones its integration lacks (400). Not
# negative_data_rejection: an empty value means "absent" (truto_response_format= is the default format), by design.
SCHEMATHESIS_CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


def _emptied(value: Any) -> Any:
    if isinstance(value, list):
        return []
    if isinstance(value, dict):
        return {k: _emptied(v) for k, v in value.items()}
    return value


def final_pages(integrations: Iterable[str] | None = None) -> dict[tuple[str, str], Any]:
    """Per vendor (host, path): the last 200 page of a recorded case that produced rows (so it has no next page)."""
    pages: dict[tuple[str, str], Any] = {}
    for case in all_cases(integrations):
        last = case.exchanges[-1] if case.exchanges else None
        if not last or last["response"].get("status", 200) != 200 or "body" not in last["response"]:
            continue
        url = urlsplit(last["request"]["url"])
        if case.expected.get("result"):
            pages.setdefault((url.netloc, url.path), last["response"]["body"])
    return pages


class VendorDouble:
    """The vendors as a MockTransport: a recorded final page the first time a path is asked, then it emptied."""

    def __init__(self, integrations: Iterable[str] | None = None) -> None:
        self.pages = final_pages(integrations)
        self.asked: set[tuple[str, str]] = set()
        self.requests = 0
        self.hosts: Counter[str] = Counter()

    def new_call(self) -> None:
        self.asked.clear()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        self.hosts[request.url.host] += 1
        key = (request.url.host, request.url.path)
        page = self.pages.get(key)
        if page is None:  # a path no fixture recorded (another workspace id or site): an empty object
            return httpx.Response(200, json={})
        body = page if key not in self.asked else _emptied(page)
        self.asked.add(key)
        return httpx.Response(200, json=body)


@dataclass
class Fuzzed:
    """A service with one account per integration, over a vendor double."""

    h: Harness
    vendor: VendorDouble
    ids: list[str]


def fuzzed_service(tmp_path: Path, integrations: Iterable[str] | None = None) -> Fuzzed:
    """One account per integration: derived credentials, the context of its representative recorded case."""
    names = list(integrations) if integrations is not None else available_integrations()
    vendor = VendorDouble(names)
    h = make_harness(tmp_path, httpx.MockTransport(vendor))
    ids = [h.add_account(name, context={**fake_context(name), **representative_case(name).context}) for name in names]
    assert sorted(h.accounts) == sorted(names)
    return Fuzzed(h, vendor, ids)


def check_response(response: Any, where: str) -> None:
    """No 5xx; an error is the envelope with the response's own status."""
    status = response.status_code
    assert status < 500, f"{where}: {status} {response.text[:500]}"
    if status >= 400:
        body = response.json()
        jsonschema.validate(body, ERROR_SCHEMA)
        assert body["status"] == status and isinstance(body.get("details"), dict), body
    assert "Traceback" not in response.text
    for secret in secret_strings():
        assert secret not in response.text, where


def fuzz(fuzzed: Fuzzed, path: str, mode: GenerationMode, max_examples: int = MAX_EXAMPLES) -> Statuses:
    """Generated queries of ``GET path`` (the account among the fuzzed ones, or none): how many got each status."""
    h, vendor, ids = fuzzed.h, fuzzed.vendor, fuzzed.ids
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(h.service))
    operation = schema[path]["GET"]
    statuses: Statuses = {}

    @_settings(max_examples)
    @given(case=operation.as_strategy(generation_mode=mode), account=st.sampled_from([*ids, None]))
    def run(case: schemathesis.Case, account: str | None) -> None:
        if account is not None and path == USAGE:
            case.query = {**(case.query or {}), "integrated_account_id": account}
        vendor.new_call()
        response = case.call(headers={"authorization": f"Bearer {h.token}"})
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        check_response(response, f"{case.method} {case.formatted_path} {case.query}")
        case.validate_response(response, checks=SCHEMATHESIS_CHECKS)

    run()
    return statuses


# ------------------------------------------------------------------------------------------------ raw query strings

_PARAM_NAMES = [
    "integrated_account_id",
    "truto_response_format",
    "truto_key_by",
    "truto_ignore_limit",
    "truto_ignore_remote_data",
    "truto_exclude_fields[]",
    "truto_exclude_fields",
    "remote_query[foo]",
    "remote_query[]",
    "remote_query",
    "limit",
    "next_cursor",
    "start_date",
    "end_date",
    "date",
    "report_type",
    "user_id",
    "a[b][c]",
    "[",
    "]",
    "limit[]",
    "next_cursor[x]",
    "",
]


def _param_names(integrations: Iterable[str]) -> list[str]:
    """The names above and every parameter the integrations declare."""
    declared = {name for integration in integrations for name in load_integration(integration).params}
    return [*_PARAM_NAMES, *sorted(declared - set(_PARAM_NAMES))]


_WEIRD_VALUES = [
    "",
    "%00",
    "%FF%FE",
    "%C3%28",
    "%ED%A0%80",
    "%",
    "%zz",
    "+",
    "%20",
    "\u202e",
    "\u00b2",
    "\u0661\u0662",
    "%C2%B2",
    "9" * 5000,
    "-" + "9" * 400,
    "1e309",
    "NaN",
    "2026-02-30",
    "0000-01-01",
    "9999-12-31T23:59:60Z",
    "true",
    "null",
    "[]",
    "{}",
    "%5B%5D",
    "a" * 20000,
    "../../etc/passwd",
    "'\";--",
    "${jndi:x}",
    ".\u00e9",
    "%2E%80",
]


def raw_query(ids: list[str], integrations: Iterable[str]) -> st.SearchStrategy[bytes]:
    """Query strings as raw bytes: percent-encoded or not, UTF-8 or not, names known, unknown or bracketed."""
    name = (
        st.sampled_from(_param_names(integrations)).map(str.encode)
        | st.text(max_size=12).map(lambda s: quote(s, safe="[]").encode())
        | st.binary(max_size=8).filter(lambda b: b"&" not in b and b"=" not in b)
    )
    value = (
        st.sampled_from([*_WEIRD_VALUES, *ids]).map(str.encode)
        | st.text(max_size=30).map(str.encode)
        | st.binary(max_size=20).map(lambda b: "".join(f"%{byte:02X}" for byte in b).encode())
        | st.binary(max_size=20).filter(lambda b: b"&" not in b and b"#" not in b)
    )
    pair = st.tuples(name, value).map(lambda p: p[0] + b"=" + p[1])
    account = st.sampled_from(ids).map(lambda a: b"integrated_account_id=" + a.encode())
    return st.lists(pair | account, max_size=12).map(b"&".join)


@dataclass
class RawResponse:
    status_code: int
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


def get_raw(h: Harness) -> Callable[[bytes], RawResponse]:
    """GET the usage path with ``query`` as the raw ASGI query string, exactly the bytes a server would pass on
    (an HTTP client would reject or re-encode some of them first)."""
    app = create_app(h.service)

    async def get(query: bytes) -> RawResponse:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": USAGE,
            "raw_path": USAGE.encode(),
            "query_string": query,
            "root_path": "",
            "headers": [(b"host", b"test"), (b"authorization", f"Bearer {h.token}".encode())],
            "client": ("127.0.0.1", 1),
            "server": ("test", 80),
        }
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(scope, receive, send)
        status = next(m["status"] for m in sent if m["type"] == "http.response.start")
        body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        return RawResponse(status, body.decode("utf-8"))

    return lambda query: asyncio.run(get(query))


def fuzz_raw_queries(fuzzed: Fuzzed, integrations: Iterable[str], max_examples: int = MAX_EXAMPLES) -> Statuses:
    """Generated raw query strings against the usage path: how many got each status (each response checked)."""
    get = get_raw(fuzzed.h)
    seen: Statuses = {}

    @_settings(max_examples)
    @given(query=raw_query(fuzzed.ids, list(integrations)))
    def run(query: bytes) -> None:
        fuzzed.vendor.new_call()
        response = get(query)
        seen[response.status_code] = seen.get(response.status_code, 0) + 1
        check_response(response, repr(query[:300]))

    run()
    return seen

"""A new integration needs no Python, tests included: one mapping file and its fixtures, and the generic suites
cover it.

"Meterly" is a made-up vendor written here as YAML (a Bearer key and a non-secret project id as declared credentials,
a region in the context, ``GET /v2/usage`` paged by page number, one row per day, user and model) with seven
recorded fixture cases whose expected rows were worked out by hand from the payloads below. They are written to a
temporary mappings folder put on ``UNIMETER_MAPPINGS_PATH`` (``mappings_folder`` in tests/conftest.py), and then:

- pytest, collecting the generic suites with that folder on the path and its fixtures/, finds the new integration in
  each of them (fixture replay through the unimeter pytest plugin, fills, the service checks, the secret scans), with
  no file of tests/ changed;
- the suites' own check functions run over it in process: every case replays (``unimeter check``'s code) and
  ``fills`` matches; the service over the recorded cases in every format, paged with every limit, with derived
  credentials that reach the vendor and never a response; a short fuzz of the service from its OpenAPI document;
  the scan of logs, bodies and the database for its secrets; a vendor echoing its auth headers; random payloads
  from a response schema of the vendor.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from schemathesis import GenerationMode

from tests.helpers.cases import empty_result_cases, multi_request_cases, representative_case
from tests.helpers.credentials import fake_credentials, fake_secret, secret_strings
from tests.helpers.fixture_checks import assert_case_replays, assert_fills_match_fixtures
from tests.helpers.fuzzing import fuzz, fuzz_raw_queries, fuzzed_service
from tests.helpers.paths import PROJECT, MappingsFolder
from tests.helpers.payloads import check_random_payloads, payload_cases
from tests.helpers.service_checks import (
    SERVICE_CHECKS,
    case_harness,
    check_an_echoing_vendor_leaks_nothing,
    check_debug_of_an_empty_result,
    scan_logs_bodies_and_database,
)
from tests.helpers.service_helpers import USAGE
from unimeter.service.openapi import openapi_document
from unimeter.spec import MAPPINGS_PATH_ENV, available_integrations, integration_sources, lint_spec
from unimeter.testing.fixtures import discover_cases

NAME = "meterly"

MAPPING = """\
# A made-up vendor, for the test that a new integration needs no Python.
name: meterly
label: Meterly
docs_url: https://docs.meterly.example/api/usage
fills: [id, product, user, model, charges, usage.tokens, start_date, end_date, remote_data]

credentials:
  api_key: {secret: true, required: true, description: "Meterly API key, sent as a Bearer token."}
  project: {secret: false, required: true, description: "Meterly project id, sent as X-Meterly-Project."}

context:
  region:
    enum: [eu, us]
    default: eu
    description: Region of the account; the API host is <region>.api.meterly.example.

base_url: {jsonata: "'https://' & $context.region & '.api.meterly.example'"}
allowed_base_urls: [https://eu.api.meterly.example, https://us.api.meterly.example]

auth:
  kind: headers
  headers:
    Authorization: {jsonata: "'Bearer ' & $credentials.api_key"}
    X-Meterly-Project: {jsonata: "$credentials.project"}

params:
  start_date:
    type: date
    default: {jsonata: "$formatDate($startOfMonth($now()), 'date')"}
    note: First day (UTC), inclusive; the first of the current month by default.
  end_date:
    type: date
    default: {jsonata: "$formatDate($now(), 'date')"}
    note: Last day (UTC), inclusive; today by default.

checks:
  - fail_if: {jsonata: "$params.start_date > $params.end_date"}
    message: {jsonata: "'start_date ' & $params.start_date & ' is after end_date ' & $params.end_date"}

errors:
  message: {jsonata: "error.message"}
  auth_statuses: [401, 403]
  retry_statuses: [429, 500, 502, 503, 504]
  retry_after: {jsonata: "$headers.'retry-after'"}
  max_retries: 2

operations:
  - name: daily_tokens
    money: billed
    request:
      method: GET
      path: /v2/usage
      query:
        from: {jsonata: "$params.start_date"}
        to: {jsonata: "$params.end_date"}
        page: {jsonata: "$page"}
        per_page: 2
    pagination:
      kind: page
      stop: {jsonata: "$not(has_more)"}
    records: {jsonata: "items"}
    transform:
      jsonata: |
        {
          'id': 'meterly:' & day & ':' & user & ':' & model,
          'product': {'id': 'meterly', 'name': 'Meterly'},
          'user': {'id': user, 'email': email},
          'model': {'id': model},
          'usage': {'tokens': {'input': input_tokens, 'output': output_tokens}},
          'charges': [{'amount': $money(cost_usd), 'currency': 'USD', 'type': 'net'}],
          'start_date': $toInstant(day),
          'end_date': $addDays(day, 1)
        }
"""

# A response schema of the vendor, as tests keep them in schemas/vendors/ (its title names the operation).
RESPONSE_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Meterly: GET /v2/usage 200 response",
    "type": "object",
    "required": ["items", "page", "has_more"],
    "properties": {
        "page": {"type": "integer", "minimum": 1},
        "has_more": {"type": "boolean"},
        "items": {"type": "array", "items": {"$ref": "#/$defs/item"}},
    },
    "$defs": {
        "item": {
            "type": "object",
            "required": ["day", "user", "model", "input_tokens", "output_tokens", "cost_usd"],
            "properties": {
                "day": {"type": "string", "format": "date"},
                "user": {"type": "string", "pattern": "^u_[a-z]{1,8}$"},
                "email": {"type": "string", "pattern": "^[a-z]{1,8}@example\\.com$"},
                "model": {"type": "string", "enum": ["m-large", "m-small"]},
                "input_tokens": {"type": "integer", "minimum": 0},
                "output_tokens": {"type": "integer", "minimum": 0},
                "cost_usd": {"type": "string", "pattern": "^(0|[1-9][0-9]{0,3})(\\.[0-9]{1,2})?$"},
            },
        }
    },
}

# ------------------------------------------------------------------------------------------------ the recorded cases

CREDENTIALS = {"api_key": "key_test", "project": "prj_test"}
AUTH = {"authorization": "Bearer key_test", "x-meterly-project": "prj_test"}
JSON = {"content-type": "application/json"}
NOW = "2026-11-26T12:00:00Z"

ADA_1 = {
    "day": "2026-11-01",
    "user": "u_ada",
    "email": "ada@example.com",
    "model": "m-large",
    "input_tokens": 1200,
    "output_tokens": 300,
    "cost_usd": "0.45",
}
BOB_1 = {
    "day": "2026-11-01",
    "user": "u_bob",
    "email": "bob@example.com",
    "model": "m-small",
    "input_tokens": 0,
    "output_tokens": 0,
    "cost_usd": "0",
}
ADA_2 = {
    "day": "2026-11-02",
    "user": "u_ada",
    "model": "m-large",
    "input_tokens": 800,
    "output_tokens": 150,
    "cost_usd": "0.3",
}
CAL_25 = {
    "day": "2026-11-25",
    "user": "u_cal",
    "email": "cal@example.com",
    "model": "m-small",
    "input_tokens": 40,
    "output_tokens": 8,
    "cost_usd": "0.01",
}
DEE_3 = {
    "day": "2026-11-03",
    "user": "u_dee",
    "email": "dee@example.com",
    "model": "m-large",
    "input_tokens": 5,
    "output_tokens": 1,
    "cost_usd": "12.5",
}

METERLY = {"id": "meterly", "name": "Meterly"}

# The rows, by hand: id from day, user and model; absent email -> no user.email; a vendor 0 stays 0; cost as a
# number; the day as [00:00Z, next day 00:00Z); the record itself as remote_data.
ROW_ADA_1 = {
    "id": "meterly:2026-11-01:u_ada:m-large",
    "product": METERLY,
    "user": {"id": "u_ada", "email": "ada@example.com"},
    "model": {"id": "m-large"},
    "usage": {"tokens": {"input": 1200, "output": 300}},
    "charges": [{"amount": 0.45, "currency": "USD", "type": "net"}],
    "start_date": "2026-11-01T00:00:00Z",
    "end_date": "2026-11-02T00:00:00Z",
    "remote_data": ADA_1,
}
ROW_BOB_1 = {
    "id": "meterly:2026-11-01:u_bob:m-small",
    "product": METERLY,
    "user": {"id": "u_bob", "email": "bob@example.com"},
    "model": {"id": "m-small"},
    "usage": {"tokens": {"input": 0, "output": 0}},
    "charges": [{"amount": 0, "currency": "USD", "type": "net"}],
    "start_date": "2026-11-01T00:00:00Z",
    "end_date": "2026-11-02T00:00:00Z",
    "remote_data": BOB_1,
}
ROW_ADA_2 = {
    "id": "meterly:2026-11-02:u_ada:m-large",
    "product": METERLY,
    "user": {"id": "u_ada"},
    "model": {"id": "m-large"},
    "usage": {"tokens": {"input": 800, "output": 150}},
    "charges": [{"amount": 0.3, "currency": "USD", "type": "net"}],
    "start_date": "2026-11-02T00:00:00Z",
    "end_date": "2026-11-03T00:00:00Z",
    "remote_data": ADA_2,
}
ROW_CAL_25 = {
    "id": "meterly:2026-11-25:u_cal:m-small",
    "product": METERLY,
    "user": {"id": "u_cal", "email": "cal@example.com"},
    "model": {"id": "m-small"},
    "usage": {"tokens": {"input": 40, "output": 8}},
    "charges": [{"amount": 0.01, "currency": "USD", "type": "net"}],
    "start_date": "2026-11-25T00:00:00Z",
    "end_date": "2026-11-26T00:00:00Z",
    "remote_data": CAL_25,
}
ROW_DEE_3 = {
    "id": "meterly:2026-11-03:u_dee:m-large",
    "product": METERLY,
    "user": {"id": "u_dee", "email": "dee@example.com"},
    "model": {"id": "m-large"},
    "usage": {"tokens": {"input": 5, "output": 1}},
    "charges": [{"amount": 12.5, "currency": "USD", "type": "net"}],
    "start_date": "2026-11-03T00:00:00Z",
    "end_date": "2026-11-04T00:00:00Z",
    "remote_data": DEE_3,
}


def _get(
    query: str,
    status: int,
    body: dict[str, Any],
    *,
    host: str = "eu",
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "request": {"method": "GET", "url": f"https://{host}.api.meterly.example/v2/usage?{query}", "headers": AUTH},
        "response": {"status": status, "headers": {**JSON, **(headers or {})}, "body": body},
    }


def _page(items: list[dict[str, Any]], page: int, has_more: bool) -> dict[str, Any]:
    return {"items": items, "page": page, "has_more": has_more}


# name -> (case.yaml, exchanges.json, expected.json)
CASES: dict[str, tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]] = {
    "several-pages": (
        {
            "description": "Two days over two pages of two records (per_page 2): has_more true, then false",
            "params": {"start_date": "2026-11-01", "end_date": "2026-11-02"},
        },
        [
            _get("from=2026-11-01&to=2026-11-02&page=1&per_page=2", 200, _page([ADA_1, BOB_1], 1, True)),
            _get("from=2026-11-01&to=2026-11-02&page=2&per_page=2", 200, _page([ADA_2], 2, False)),
        ],
        {"result": [ROW_ADA_1, ROW_BOB_1, ROW_ADA_2], "next_cursor": None},
    ),
    "defaults": (
        {"description": "No params: the first of the month to today of the pinned clock", "params": {}},
        [_get("from=2026-11-01&to=2026-11-26&page=1&per_page=2", 200, _page([CAL_25], 1, False))],
        {"result": [ROW_CAL_25], "next_cursor": None},
    ),
    "us-region": (
        {
            "description": "context region us: the API host is us.api.meterly.example",
            "context": {"region": "us"},
            "params": {"start_date": "2026-11-03", "end_date": "2026-11-03"},
        },
        [_get("from=2026-11-03&to=2026-11-03&page=1&per_page=2", 200, _page([DEE_3], 1, False), host="us")],
        {"result": [ROW_DEE_3], "next_cursor": None},
    ),
    "empty-result": (
        {
            "description": "A month with no usage: one page, no items",
            "params": {"start_date": "2026-10-01", "end_date": "2026-10-31"},
        },
        [_get("from=2026-10-01&to=2026-10-31&page=1&per_page=2", 200, _page([], 1, False))],
        {"result": [], "next_cursor": None},
    ),
    "rate-limited": (
        {
            "description": "A 429 with Retry-After 2 is retried once after 2 s",
            "params": {"start_date": "2026-11-03", "end_date": "2026-11-03"},
        },
        [
            _get(
                "from=2026-11-03&to=2026-11-03&page=1&per_page=2",
                429,
                {"error": {"message": "Slow down"}},
                headers={"retry-after": "2"},
            ),
            _get("from=2026-11-03&to=2026-11-03&page=1&per_page=2", 200, _page([DEE_3], 1, False)),
        ],
        {"result": [ROW_DEE_3], "next_cursor": None, "waits": [2.0]},
    ),
    "unauthorized": (
        {
            "description": "A 401 is the vendor's auth error, with its message",
            "params": {"start_date": "2026-11-01", "end_date": "2026-11-01"},
        },
        [_get("from=2026-11-01&to=2026-11-01&page=1&per_page=2", 401, {"error": {"message": "Invalid API key"}})],
        {"error": {"type": "VendorAuthError", "status": 401, "message_contains": "Invalid API key"}},
    ),
    "start-after-end": (
        {
            "description": "start_date after end_date fails the check before any request",
            "params": {"start_date": "2026-11-05", "end_date": "2026-11-01"},
        },
        [],
        {
            "error": {
                "type": "QueryCheckError",
                "message_contains": "start_date 2026-11-05 is after end_date 2026-11-01",
            }
        },
    ),
}


def _write(folder: MappingsFolder) -> None:
    (folder.mappings / f"{NAME}.yaml").write_text(MAPPING, encoding="utf-8")
    for name, (call, exchanges, expected) in CASES.items():
        case = folder.fixtures / NAME / name
        case.mkdir(parents=True)
        call = {"now": NOW, "credentials": CREDENTIALS, "context": {}, **call}
        (case / "case.yaml").write_text(yaml.safe_dump(call, sort_keys=False), encoding="utf-8")
        (case / "exchanges.json").write_text(json.dumps(exchanges, indent=2), encoding="utf-8")
        (case / "expected.json").write_text(json.dumps(expected, indent=2), encoding="utf-8")


@pytest.fixture
def meterly(mappings_folder: MappingsFolder) -> Iterator[MappingsFolder]:
    """The new mapping and its fixtures on the search path; the OpenAPI document is rebuilt with its parameters."""
    _write(mappings_folder)
    openapi_document.cache_clear()
    yield mappings_folder
    openapi_document.cache_clear()


# ------------------------------------------------------------------------------------------------ discovery


def test_the_new_mapping_is_valid_and_found_on_the_search_path(meterly: MappingsFolder) -> None:
    file = meterly.mappings / f"{NAME}.yaml"
    assert lint_spec(str(file), text=file.read_text(encoding="utf-8")) == []
    assert NAME in available_integrations()
    assert integration_sources()[NAME].fixtures_dir == meterly.fixtures
    assert sorted(case.name for case in discover_cases([NAME])) == sorted(CASES)


def test_test_credentials_are_derived_from_the_declaration(meterly: MappingsFolder) -> None:
    credentials = fake_credentials(NAME)
    assert sorted(credentials) == ["api_key", "project"]
    assert credentials["api_key"] == fake_secret(NAME, "api_key")
    assert credentials["api_key"].startswith("meterly-api_key-SECRET-")
    assert "SECRET" not in credentials["project"], "a non-secret credential is not looked for as a secret"
    assert credentials == fake_credentials(NAME), "deterministic"
    assert credentials["api_key"] != fake_credentials(NAME, "rotated")["api_key"]
    assert credentials["api_key"] in secret_strings() and credentials["project"] not in secret_strings()


def test_the_generic_suites_collect_the_new_mapping_with_no_test_file_changed(meterly: MappingsFolder) -> None:
    env = {**os.environ, MAPPINGS_PATH_ENV: str(meterly.mappings)}
    collected = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/testing",
            "tests/service/test_service.py",
            "tests/service/test_secrets_scan.py",
            str(meterly.fixtures),  # its cases: one item each, collected by the unimeter pytest plugin
        ],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert collected.returncode == 0, collected.stdout[-3000:] + collected.stderr[-3000:]
    ids = collected.stdout
    for expected in [
        f"several-pages/case.yaml::{NAME}/several-pages",
        f"start-after-end/case.yaml::{NAME}/start-after-end",
        f"test_fills_declaration_matches_fixture_outputs[{NAME}]",
        f"test_unified_is_the_hand_computed_result[{NAME}/several-pages]",
        f"test_every_limit_pages_to_exactly_the_unlimited_rows[{NAME}/several-pages]",
        f"test_credentials_never_appear_in_any_response_body[{NAME}/several-pages]",
        f"test_debug_of_an_empty_result[{NAME}/empty-result]",
        f"test_a_vendor_echoing_the_auth_headers_it_received_leaks_nothing[{NAME}]",
    ]:
        assert expected in ids, f"{expected} was not collected"


# ------------------------------------------------------------------------------------------------ the suites' checks


def test_every_fixture_case_replays_and_fills_matches(meterly: MappingsFolder) -> None:
    cases = discover_cases([NAME])
    assert len(cases) >= 6  # what tests/testing/test_fixtures.py asks of every integration
    for case in cases:
        assert_case_replays(case)
    assert_fills_match_fixtures(NAME)


def test_the_service_passes_every_check_over_the_recorded_cases(meterly: MappingsFolder, tmp_path: Path) -> None:
    multi = multi_request_cases([NAME])
    empty = empty_result_cases([NAME])
    assert [case.name for case in multi] == ["several-pages"]
    assert [case.name for case in empty] == ["empty-result"]
    for case in multi:
        for check in SERVICE_CHECKS:
            folder = tmp_path / case.name / check.__name__
            folder.mkdir(parents=True)
            check(case_harness(folder, case), case)
    for case in empty:
        (tmp_path / case.name).mkdir()
        check_debug_of_an_empty_result(case_harness(tmp_path / case.name, case), case)


def test_fuzzing_the_service_gives_no_5xx(meterly: MappingsFolder, tmp_path: Path) -> None:
    fuzzed = fuzzed_service(tmp_path, [NAME])
    document = openapi_document()
    names = {p["name"] for p in document["paths"][USAGE]["get"]["parameters"]}
    assert {"start_date", "end_date"} <= names
    positive = fuzz(fuzzed, USAGE, GenerationMode.POSITIVE, max_examples=60)
    negative = fuzz(fuzzed, USAGE, GenerationMode.NEGATIVE, max_examples=30)
    raw = fuzz_raw_queries(fuzzed, [NAME], max_examples=30)
    assert positive.get(200, 0) > 0, positive
    assert fuzzed.vendor.hosts["eu.api.meterly.example"] > 0, "the fuzzer never reached the new vendor"
    assert sum(negative.values()) >= 10 and sum(raw.values()) >= 10


def test_no_secret_of_the_new_mapping_in_logs_bodies_or_the_database(
    meterly: MappingsFolder, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    (tmp_path / "scan").mkdir()
    scan_logs_bodies_and_database(tmp_path / "scan", lambda: caplog.records, [representative_case(NAME)])
    (tmp_path / "echo").mkdir()
    check_an_echoing_vendor_leaks_nothing(tmp_path / "echo", representative_case(NAME))


def test_random_payloads_of_the_vendor_schema_map_to_rows_or_a_typed_error(
    meterly: MappingsFolder, tmp_path: Path
) -> None:
    schemas = tmp_path / "vendor-schemas"
    schemas.mkdir()
    (schemas / "meterly-usage.json").write_text(json.dumps(RESPONSE_SCHEMA), encoding="utf-8")
    [payload] = payload_cases(schemas, [NAME])
    assert payload.case.name == "defaults"
    outcomes = check_random_payloads(payload, max_examples=60)
    assert outcomes["rows"] > 0

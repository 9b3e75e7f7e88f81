"""Fuzz the HTTP service from its own OpenAPI document: no input may give a 5xx, and every error is the envelope.

schemathesis loads ``/openapi.json`` from the ASGI app and generates queries for ``GET /unified/usage-metering/usage``
and ``/health`` (valid and invalid values for every declared parameter). The app runs over the real SQLite store in
``tmp_path`` with one account per integration on the search path; the vendors are an ``httpx.MockTransport`` that
answers every request with a 200 the mapping can read: a recorded final page (records, no next page) the first time
a path is asked within a call, then that page with its arrays emptied, so windows and pages end and row ids never
repeat. A vendor 5xx is therefore impossible here, and any 5xx the fuzzer sees is the service's own failure. The
machinery is tests/helpers/fuzzing.py, shared with the test of a new mapping.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from schemathesis import GenerationMode

from tests.helpers.fuzzing import Fuzzed, check_response, fuzz, fuzz_raw_queries, fuzzed_service, get_raw
from tests.helpers.service_helpers import USAGE
from unimeter.spec import available_integrations


@pytest.fixture
def fuzzed(tmp_path: Path) -> Fuzzed:
    return fuzzed_service(tmp_path)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
def test_fuzzed_usage_queries_never_give_a_5xx(fuzzed: Fuzzed, mode: GenerationMode) -> None:
    statuses = fuzz(fuzzed, USAGE, mode)
    assert sum(statuses.values()) >= 50, statuses
    if mode is GenerationMode.POSITIVE:
        assert statuses.get(200, 0) > 0 and fuzzed.vendor.requests > 0, f"nothing reached a vendor: {statuses}"


@pytest.mark.parametrize("path", ["/dashboard/api/overview", "/dashboard/api/rows", "/dashboard/api/rows.csv"])
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
def test_fuzzed_dashboard_filters_never_give_a_5xx(fuzzed: Fuzzed, path: str, mode: GenerationMode) -> None:
    statuses = fuzz(fuzzed, path, mode)
    assert sum(statuses.values()) >= 20, statuses
    assert not [status for status in statuses if status >= 500], statuses


def test_fuzzed_health_never_gives_a_5xx(fuzzed: Fuzzed) -> None:
    statuses = fuzz(fuzzed, "/health", GenerationMode.POSITIVE)
    assert set(statuses) == {200}


# ------------------------------------------------------------------------------------------------ raw query strings


def test_weird_raw_query_strings_never_give_a_5xx(fuzzed: Fuzzed) -> None:
    """Bytes that are not UTF-8, repeated and unknown bracket parameters, huge values: a 4xx or a 200, never a 5xx."""
    seen = fuzz_raw_queries(fuzzed, available_integrations())
    h, vendor, ids = fuzzed.h, fuzzed.vendor, fuzzed.ids
    get = get_raw(h)
    account = ids[0]
    for text in [
        f"integrated_account_id={account}&limit=1&limit=2",
        f"integrated_account_id={account}&integrated_account_id={account}",
        f"integrated_account_id={account}&limit={'9' * 10000}",
        f"integrated_account_id={account}&next_cursor={'A' * 100000}",
        f"integrated_account_id={account}&remote_query[a][b]=1&truto_exclude_fields[0]=x&x[=1&]=2",
        f"integrated_account_id={account}&start_date=%FF%FE&end_date=%C3%28",
        f"integrated_account_id={account}&next_cursor=%FF.%FE",
        f"integrated_account_id={account}&truto_key_by=%00&truto_exclude_fields[]=%00",
        "integrated_account_id=%FF" + "&a=1" * 2000,
    ]:
        vendor.new_call()
        check_response(get(text.encode()), text[:200])
    for raw in [
        b"integrated_account_id=" + account.encode() + b"&start_date=\xff\xfe",
        b"\xff=\xff&integrated_account_id=" + account.encode(),
        b"\x00=\x00",
    ]:
        check_response(get(raw), repr(raw))
    assert sum(seen.values()) >= 50

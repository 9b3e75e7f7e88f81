"""Random valid vendor payloads, generated from the vendors' response schemas, never crash a mapping.

Each payload either becomes schema-valid unified rows (the engine validates every row) or a clear, typed unimeter
error (a mapping, response or pagination error naming its cause); a Python exception escaping the engine fails.
Which integration reads which schema, and with which query, comes from the fixtures (tests/helpers/payloads.py).
Vendors without a published schema are covered by their simulators instead.
"""

from __future__ import annotations

import pytest

from tests.helpers.paths import VENDOR_SCHEMAS
from tests.helpers.payloads import PayloadCase, check_random_payloads, payload_cases

CASES = payload_cases(VENDOR_SCHEMAS)


def test_some_vendor_schema_matches_a_recorded_request() -> None:
    assert CASES, f"no schema in {VENDOR_SCHEMAS} matches a recorded fixture request"


@pytest.mark.parametrize("payload", CASES, ids=[p.id for p in CASES])
def test_random_valid_payloads_map_to_rows_or_a_typed_error(payload: PayloadCase) -> None:
    check_random_payloads(payload)

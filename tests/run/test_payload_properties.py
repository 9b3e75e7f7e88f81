"""Random valid vendor payloads, generated from the vendors' response schemas, never crash a mapping.

Each payload either becomes schema-valid unified rows (the engine validates every row) or a clear, typed unimeter
error (a mapping, response or pagination error naming its cause); a Python exception escaping the engine fails.
Vendors without a published schema (Cursor, Codex analytics) are covered by their simulators instead.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings

from unimeter.errors import MappingError, PaginationError, QueryError, VendorError
from unimeter.run.pipeline import alist_usage
from tests.schema_strategy import from_schema

OPENAPI = Path(__file__).resolve().parents[1] / "schemas" / "vendors"
NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)

# (integration, schema file, credentials, context, params selecting the operation that returns this schema)
CASES: list[tuple[str, str, dict[str, str], dict[str, str], dict[str, str]]] = [
    ("datadog", "datadog-estimated-cost.json", {"api_key": "k", "application_key": "a"}, {},
     {"start_date": "2026-11-01", "end_date": "2026-11-30"}),
    ("datadog", "datadog-historical-cost.json", {"api_key": "k", "application_key": "a"}, {},
     {"start_date": "2026-06-01", "end_date": "2026-06-30"}),
    ("confluent", "confluent-billing-costs.json", {"api_key": "k", "api_secret": "s"}, {},
     {"start_date": "2026-11-01", "end_date": "2026-11-10"}),
    ("claude", "claude-analytics-users.json", {"api_key": "k"}, {}, {"date": "2026-11-20"}),
    ("claude", "claude-analytics-user-usage-report.json", {"api_key": "k"}, {},
     {"date": "2026-11-20", "report_type": "user_usage"}),
    ("claude", "claude-analytics-user-cost-report.json", {"api_key": "k"}, {},
     {"date": "2026-11-20", "report_type": "user_cost"}),
    ("claude", "claude-admin-claude-code-usage-report.json", {"api_key": "k"}, {},
     {"date": "2026-11-20", "report_type": "claude_code"}),
]

EXPECTED_ERRORS = (MappingError, VendorError, PaginationError, QueryError)


def _schema(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((OPENAPI / name).read_text(encoding="utf-8"))
    return schema


@pytest.mark.parametrize(("integration", "schema_file", "credentials", "context", "params"), CASES,
                         ids=[f"{c[0]}:{c[1]}" for c in CASES])
def test_random_valid_payloads_map_to_rows_or_a_typed_error(
        integration: str, schema_file: str, credentials: dict[str, str], context: dict[str, str],
        params: dict[str, str]) -> None:
    strategy = from_schema(_schema(schema_file))
    outcomes: dict[str, int] = {"rows": 0, "errors": 0}

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                    HealthCheck.filter_too_much])
    @given(payload=strategy)
    def check(payload: Any) -> None:
        transport = httpx.MockTransport(lambda request: httpx.Response(200, json=payload))
        try:
            response = asyncio.run(alist_usage(integration, credentials=credentials, context=context, params=params,
                                               now=NOW, transport=transport))
        except EXPECTED_ERRORS as error:
            assert str(error), "a typed error must say what went wrong"
            outcomes["errors"] += 1
            return
        assert isinstance(response["result"], list)
        outcomes["rows"] += len(response["result"])

    check()
    # The property must exercise the mapping, not only its error paths.
    assert outcomes["rows"] > 0, f"no generated payload produced a row ({outcomes})"

"""Random vendor payloads from the vendors' response schemas, matched to integrations through the fixtures.

Each JSON Schema in a vendor-schemas folder (``schemas/vendors/``) describes the 200 response of one vendor
operation, named in its ``title`` (``... GET /path 200 response``). A schema belongs to the integration whose recorded
fixture case sends every request to that method and path; that case's parameters, context and clock then select
the operation, so no test lists which vendor a schema is for. Integrations whose vendor publishes no schema have none
here (their simulators are checked instead).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from hypothesis import HealthCheck, example, given, settings

from tests.helpers.cases import Case, all_cases
from tests.helpers.credentials import fake_context, fake_credentials
from tests.helpers.schema_strategy import from_schema
from unimeter.errors import MappingError, PaginationError, QueryError, VendorError
from unimeter.run.pipeline import alist_usage

EXPECTED_ERRORS = (MappingError, VendorError, PaginationError, QueryError)
_OPERATION = re.compile(r"\b(GET|POST|PUT|PATCH|DELETE) (/\S*) 200 response")


@dataclass(frozen=True)
class PayloadCase:
    """A vendor response schema and the recorded case whose query makes the integration read that response."""

    integration: str
    schema_file: Path
    case: Case

    @property
    def id(self) -> str:
        return f"{self.integration}:{self.schema_file.name}"

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = json.loads(self.schema_file.read_text(encoding="utf-8"))
        return schema


def _operation(schema_file: Path) -> tuple[str, str] | None:
    match = _OPERATION.search(str(json.loads(schema_file.read_text(encoding="utf-8")).get("title", "")))
    return (match.group(1), match.group(2)) if match else None


def _asks_only(case: Case, method: str, path: str) -> bool:
    # A spec's paths may be relative to a server URL with a base path (OpenAI: https://api.openai.com/v1), so the
    # recorded path is the schema's path, or that path under one leading segment (/v1/organization/costs).
    under_base = re.compile(r"(/[^/]+)?" + re.escape(path))
    return bool(case.exchanges) and all(
        e["request"].get("method", "GET").upper() == method
        and under_base.fullmatch(urlsplit(e["request"]["url"]).path) is not None
        for e in case.exchanges
    )


def payload_cases(schema_dir: Path, integrations: Iterable[str] | None = None) -> list[PayloadCase]:
    """For every schema in ``schema_dir``, each integration that asks for its operation, with the simplest case
    that does (rows first, then the fewest requests, then by name)."""
    cases = all_cases(integrations)
    found = []
    for schema_file in sorted(schema_dir.glob("*.json")):
        operation = _operation(schema_file)
        if operation is None:
            continue
        asking = [case for case in cases if _asks_only(case, *operation)]
        for integration in sorted({case.integration for case in asking}):
            mine = [case for case in asking if case.integration == integration]
            best = min(mine, key=lambda c: (not c.rows, len(c.exchanges), c.name))
            found.append(PayloadCase(integration, schema_file, best))
    return sorted(found, key=lambda p: p.id)


def recorded_last_page(case: Case) -> Any:
    """The body of the case's last recorded response (its final page: no next cursor to loop on)."""
    body = case.exchanges[-1]["response"]["body"]
    return json.loads(body) if isinstance(body, str) else body


def check_random_payloads(payload: PayloadCase, max_examples: int = 60) -> dict[str, int]:
    """Random valid payloads of the schema, served for every request of the case's query, become schema-valid rows
    or a typed unimeter error that says what went wrong; some of them must become rows."""
    strategy = from_schema(payload.schema())
    outcomes: dict[str, int] = {"rows": 0, "errors": 0}
    case = payload.case
    credentials = fake_credentials(payload.integration)
    context = {**fake_context(payload.integration), **case.context}

    # Derandomized: the same examples on every run, so CI cannot pass or fail by the luck of one draw.
    @settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(body=strategy)
    # The recorded last page as one example: a valid payload known to make rows, so whether the property reaches
    # the mapping does not hang on random payloads hitting the query's window (1 or 2 of 60 do for some schemas).
    @example(body=recorded_last_page(case))
    def check(body: Any) -> None:
        transport = httpx.MockTransport(lambda request: httpx.Response(200, json=body))
        try:
            response = asyncio.run(
                alist_usage(
                    payload.integration,
                    credentials=credentials,
                    context=context,
                    params=case.params,
                    now=case.clock,
                    transport=transport,
                )
            )
        except EXPECTED_ERRORS as error:
            assert str(error), "a typed error must say what went wrong"
            outcomes["errors"] += 1
            return
        assert isinstance(response["result"], list)
        outcomes["rows"] += len(response["result"])

    check()
    # The property must exercise the mapping, not only its error paths.
    assert outcomes["rows"] > 0, f"no generated payload produced a row ({outcomes})"
    return outcomes

"""The recorded fixture cases of every integration on the search path, read for the generic suites.

Cases come from ``unimeter.testing.fixtures.discover_cases`` (``fixtures/`` beside each mappings folder, so a folder
on ``UNIMETER_MAPPINGS_PATH`` brings its own). A suite picks cases by what they record, never by vendor:

- :func:`multi_request_cases`: a result with rows that took several vendor requests (pages or windows), all
  answered 200; the service suite pages through them with ``limit`` and ``next_cursor``;
- :func:`empty_result_cases`: a successful query that found nothing;
- :func:`representative_case`: one case per integration for suites that need a single working query (the fuzzer,
  the secret scan): the successful case with the most vendor requests, then the most rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from unimeter.spec import available_integrations
from unimeter.spec.functions import parse_instant
from unimeter.testing.fixtures import FixtureCase, discover_cases


@dataclass
class Case:
    integration: str
    name: str
    description: str
    now: str
    credentials: dict[str, Any]
    params: dict[str, Any]
    context: dict[str, Any]
    remote_query: dict[str, Any] | None
    exchanges: list[dict[str, Any]]
    expected: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.integration}/{self.name}"

    @property
    def clock(self) -> datetime | None:
        """The case's pinned ``now``: recorded exchanges only match requests made with the defaults of that day."""
        return parse_instant(self.now) if self.now else None

    @property
    def rows(self) -> list[dict[str, Any]]:
        result = self.expected.get("result")
        return result if isinstance(result, list) else []

    @property
    def succeeds(self) -> bool:
        """A result (not an error), no retry, every vendor answer a 200 with a body: replayable in any order."""
        return (
            "error" not in self.expected
            and "waits" not in self.expected
            and not self.remote_query
            and all(e["response"].get("status", 200) == 200 and "body" in e["response"] for e in self.exchanges)
        )


def _case(found: FixtureCase) -> Case:
    call = found.call()
    return Case(
        integration=found.integration,
        name=found.name,
        description=str(call.get("description", "")),
        now=str(call.get("now", "") or ""),
        credentials=dict(call.get("credentials") or {}),
        params={k: str(v) for k, v in (call.get("params") or {}).items()},
        context=dict(call.get("context") or {}),
        remote_query=call.get("remote_query"),
        exchanges=found.exchanges(),
        expected=found.expected(),
    )


def all_cases(integrations: Iterable[str] | None = None) -> list[Case]:
    """Every case of ``integrations`` (default: every integration on the search path), sorted by id."""
    wanted = list(integrations) if integrations is not None else available_integrations()
    return [_case(found) for found in discover_cases(wanted)] if wanted else []


def load_case(integration: str, name: str) -> Case:
    for case in all_cases([integration]):
        if case.name == name:
            return case
    raise LookupError(f"no fixture case {integration}/{name}")


def multi_request_cases(integrations: Iterable[str] | None = None) -> list[Case]:
    return [c for c in all_cases(integrations) if c.succeeds and len(c.exchanges) >= 2 and c.rows]


def empty_result_cases(integrations: Iterable[str] | None = None) -> list[Case]:
    return [c for c in all_cases(integrations) if c.succeeds and c.exchanges and c.expected.get("result") == []]


def representative_case(integration: str) -> Case:
    candidates = [c for c in all_cases([integration]) if c.succeeds and c.rows]
    if not candidates:
        raise LookupError(f"{integration} has no fixture case with rows")
    return min(candidates, key=lambda c: (-len(c.exchanges), -len(c.rows), c.name))


def case_ids(cases: Iterable[Case]) -> list[str]:
    return [case.id for case in cases]

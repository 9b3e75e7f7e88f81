"""The fixture suites' checks, for any integration: replay a recorded case, and hold ``fills`` to the fixtures.

tests/testing/ runs them over every integration on the search path; the test of a new mapping runs the same ones
over a mapping that exists only in a temporary folder. Replay goes through ``unimeter.testing.fixtures.run_case``,
the code of ``unimeter check``, with each case's own credentials (recordings may match auth headers).
"""

from __future__ import annotations

import asyncio
from typing import Any

from unimeter.spec import load_integration
from unimeter.testing.fixtures import FixtureCase, discover_cases, run_case


def assert_case_replays(case: FixtureCase) -> None:
    """The case's recorded exchanges, replayed in order, give its expected output (or error)."""
    outcome = asyncio.run(run_case(case))
    assert outcome.ok, "\n".join(outcome.problems)


def _filled_fields(row: dict[str, Any]) -> set[str]:
    fields = set()
    for key, value in row.items():
        if key == "usage":
            fields.update(f"usage.{group}" for group in value)
        else:
            fields.add(key)
    return fields


def assert_fills_match_fixtures(integration: str) -> None:
    """``fills`` names exactly the fields (``usage.<group>`` for usage) that the integration's fixtures produce."""
    produced: set[str] = set()
    for case in discover_cases([integration]):
        for row in case.expected().get("result") or []:
            produced |= _filled_fields(row)
    declared = set(load_integration(integration).fills)
    assert produced, f"{integration} has no fixture producing rows"
    assert declared - produced == set(), f"{integration} declares fields no fixture produces"
    assert produced - declared == set(), f"{integration} produces fields it does not declare"

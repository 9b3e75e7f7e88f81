"""Each mapping's ``fills`` declaration matches what its fixtures actually produce.

``fills`` names top-level Usage fields, and the groups under ``usage`` as ``usage.<group>``. A field declared but never
produced by any fixture, or produced but not declared, fails: the declaration is what users read to know what an
integration supports. ``integration`` is every integration on the search path (tests/conftest.py).
"""

from __future__ import annotations

from tests.helpers.fixture_checks import assert_fills_match_fixtures


def test_fills_declaration_matches_fixture_outputs(integration: str) -> None:
    assert_fills_match_fixtures(integration)

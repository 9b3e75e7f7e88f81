"""Every recorded fixture case is one test item, run through the same code as ``unimeter check``."""

from __future__ import annotations

import pytest

from tests.helpers.fixture_checks import assert_case_replays
from unimeter.testing.fixtures import FixtureCase, discover_cases

CASES = discover_cases()


def test_every_integration_has_at_least_six_cases() -> None:
    counts: dict[str, int] = {}
    for case in CASES:
        counts[case.integration] = counts.get(case.integration, 0) + 1
    from unimeter.spec import available_integrations

    for name in available_integrations():
        assert counts.get(name, 0) >= 6, f"{name} has {counts.get(name, 0)} fixture cases, at least 6 needed"


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_fixture_case_replays_to_expected_output(case: FixtureCase) -> None:
    assert_case_replays(case)

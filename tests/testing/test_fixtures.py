"""The fixture cases as a whole: every integration on the search path has enough of them.

Each case itself is one test item collected by the unimeter pytest plugin (``engine/testing/pytest_plugin.py``, on
``testpaths`` as ``fixtures/``), run through the same code as ``unimeter check``.
"""

from __future__ import annotations

from unimeter.spec import available_integrations
from unimeter.testing.fixtures import discover_cases


def test_every_integration_has_at_least_six_cases() -> None:
    counts: dict[str, int] = {}
    for case in discover_cases():
        counts[case.integration] = counts.get(case.integration, 0) + 1
    for name in available_integrations():
        assert counts.get(name, 0) >= 6, f"{name} has {counts.get(name, 0)} fixture cases, at least 6 needed"

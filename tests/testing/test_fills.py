"""Each mapping's ``fills`` declaration matches what its fixtures actually produce.

``fills`` names top-level Usage fields, and the groups under ``usage`` as ``usage.<group>``. A field declared but never
produced by any fixture, or produced but not declared, fails: the declaration is what users read to know what an
integration supports.
"""

from __future__ import annotations

from typing import Any

import pytest

from unimeter.testing.fixtures import discover_cases
from unimeter.spec import available_integrations, load_integration


def _filled_fields(row: dict[str, Any]) -> set[str]:
    fields = set()
    for key, value in row.items():
        if key == "usage":
            fields.update(f"usage.{group}" for group in value)
        else:
            fields.add(key)
    return fields


@pytest.mark.parametrize("integration", available_integrations())
def test_fills_declaration_matches_fixture_outputs(integration: str) -> None:
    produced: set[str] = set()
    for case in discover_cases([integration]):
        for row in case.expected().get("result") or []:
            produced |= _filled_fields(row)
    declared = set(load_integration(integration).fills)
    assert produced, f"{integration} has no fixture producing rows"
    assert declared - produced == set(), f"{integration} declares fields no fixture produces"
    assert produced - declared == set(), f"{integration} produces fields it does not declare"

"""``late_data``: how late a vendor revises what it reported, and from when a period is final.

A later sync re-fetches by this declaration, so every shipped mapping must make it, and the instants it gives are
checked here by hand against the vendors' documented windows.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.helpers.specs import demo_spec
from unimeter.spec import available_integrations, lint_spec, load_spec
from unimeter.spec.late_data import final_at, is_final, parse_duration
from unimeter.spec.registry import load_integration

OCTOBER = (datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))
DAY = (datetime(2026, 10, 5, tzinfo=UTC), datetime(2026, 10, 6, tzinfo=UTC))


@pytest.mark.parametrize(
    ("text", "expected"),
    [("P3D", timedelta(days=3)), ("PT72H", timedelta(hours=72)), ("P1DT12H", timedelta(hours=36)),
     ("PT30M", timedelta(minutes=30))],
)  # fmt: skip
def test_durations_are_iso_8601_days_hours_and_minutes(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["P", "PT", "3D", "P1W", "PT1.5H", "P1DT"])
def test_other_durations_are_refused_by_lint_with_the_key_path(text: str) -> None:
    spec = demo_spec(sections=f"late_data: {{revised_for: {text}, source: https://example.com/freshness}}\n")
    problems = lint_spec("demo.yaml", text=spec)
    assert problems and problems[0].key_path == "late_data.revised_for"


def test_a_declaration_needs_its_source() -> None:
    problems = lint_spec("demo.yaml", text=demo_spec(sections="late_data: {revised_for: P3D}\n"))
    assert problems and "source" in problems[0].message


@pytest.mark.parametrize("name", available_integrations())
def test_every_shipped_operation_declares_how_late_its_data_is_revised(name: str) -> None:
    spec = load_integration(name)
    for operation in spec.operations:
        assert final_at(spec, *DAY, operation=operation.name) is not None, (
            f"{name}: operation {operation.name} has no late_data (declare it on the integration or the operation)"
        )


def test_confluent_settles_72_hours_after_the_day() -> None:
    spec = load_integration("confluent")
    assert final_at(spec, *DAY) == datetime(2026, 10, 9, tzinfo=UTC)  # Oct 6 00:00 + 72 h
    assert is_final(spec, *DAY, now=datetime(2026, 10, 8, 23, 59, tzinfo=UTC)) is False
    assert is_final(spec, *DAY, now=datetime(2026, 10, 9, tzinfo=UTC)) is True


def test_a_datadog_month_is_final_after_the_16th_of_the_next_month() -> None:
    spec = load_integration("datadog")
    # "no later than the 16th of the following month": final from Nov 17, 00:00 UTC, through either endpoint
    for operation in ("estimated_cost", "historical_cost"):
        assert final_at(spec, *OCTOBER, operation=operation) == datetime(2026, 11, 17, tzinfo=UTC)
    assert is_final(spec, *OCTOBER, now=datetime(2026, 11, 10, tzinfo=UTC)) is False
    assert is_final(spec, *OCTOBER, now=datetime(2026, 12, 20, tzinfo=UTC)) is True


def test_an_operation_declaration_replaces_the_integration_one() -> None:
    spec = load_integration("claude")
    assert final_at(spec, *DAY, operation="activity") == DAY[1] + timedelta(days=3)
    assert final_at(spec, *DAY, operation="user_cost") == DAY[1] + timedelta(days=30)
    assert final_at(spec, *DAY, operation="claude_code") == DAY[1] + timedelta(hours=1)


def test_an_undeclared_integration_says_nothing_rather_than_guessing() -> None:
    spec = load_spec("demo.yaml", text=demo_spec())
    assert final_at(spec, *DAY) is None
    assert is_final(spec, *DAY) is None


def test_final_after_that_is_not_an_instant_is_a_mapping_error_naming_the_file() -> None:
    from unimeter.errors import MappingError

    section = "late_data: {revised_for: P1D, source: https://example.com/f, final_after: {jsonata: \"'soon'\"}}\n"
    spec = load_spec("demo.yaml", text=demo_spec(sections=section))
    with pytest.raises(MappingError, match=r"demo.yaml: late_data.final_after must give an RFC 3339 instant"):
        final_at(spec, *DAY)

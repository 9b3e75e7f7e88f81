"""The mappings' ``focus:`` block: defaults, and the mistakes the loader and lint refuse with the key that is wrong."""

from __future__ import annotations

import re

import pytest

from unimeter.errors import SpecError
from unimeter.focus.columns import SERVICE_CATEGORIES
from unimeter.resources import load_schema
from unimeter.spec import lint_spec
from unimeter.spec.loader import load_spec
from unimeter.spec.registry import integration_sources

BLOCK = re.compile(r"^focus:\n(?:  .*\n|\s*\n)*", re.MULTILINE)


def _cursor_with(block: str) -> str:
    source = integration_sources()["cursor"].file.read_text(encoding="utf-8")
    assert BLOCK.search(source), "the cursor mapping declares a focus block"
    return BLOCK.sub(block, source, count=1)


def test_every_shipped_mapping_declares_its_focus_block(integration: str) -> None:
    assert integration_sources()[integration].builtin
    spec = load_spec(integration_sources()[integration].file)
    assert spec.focus is not None, f"{integration} has no focus: block"
    assert spec.focus.service_category in SERVICE_CATEGORIES


def test_omitted_names_default_to_the_provider_and_the_label() -> None:
    spec = load_spec("cursor.yaml", _cursor_with("focus:\n  provider: Acme\n  service_category: Developer Tools\n"))
    assert spec.focus is not None
    assert (spec.focus.publisher, spec.focus.invoice_issuer) == ("Acme", "Acme")
    assert spec.focus.service_name == spec.label
    assert spec.focus.resource_type is None
    assert spec.focus.queries == ({},)


def test_the_schema_and_the_export_allow_the_same_service_categories() -> None:
    schema = load_schema("integration.schema.json")
    assert tuple(schema["$defs"]["focus"]["properties"]["service_category"]["enum"]) == SERVICE_CATEGORIES


@pytest.mark.parametrize(
    ("block", "message", "key_path"),
    [
        (
            "focus:\n  provider: Acme\n  service_category: Developer Tools\n  queries:\n    - report_type: nope\n",
            "focus query report_type='nope' is not one of daily_usage, usage_events",
            "focus.queries[0].report_type",
        ),
        (
            "focus:\n  provider: Acme\n  service_category: Developer Tools\n  queries:\n    - colour: red\n",
            "focus query parameter 'colour' is not a declared parameter",
            "focus.queries[0].colour",
        ),
        (
            "focus:\n  provider: Acme\n  service_category: Developer Tools\n  queries:\n"
            "    - report_type: usage_events\n      start_date: '2026-01-01'\n",
            "a focus query does not set start_date: the export gives the range",
            "focus.queries[0].start_date",
        ),
        ("focus:\n  provider: Acme\n  service_category: Spaceships\n", "Spaceships", "focus.service_category"),
        ("focus:\n  service_category: Other\n", "'provider' is a required property", "focus"),
        ("focus:\n  provider: Acme\n  service_category: Other\n  region: eu\n", "unknown key 'region'", "focus.region"),
    ],
)
def test_a_wrong_focus_block_is_refused_at_its_key(block: str, message: str, key_path: str) -> None:
    text = _cursor_with(block)
    with pytest.raises(SpecError) as caught:
        load_spec("cursor.yaml", text)
    assert message in caught.value.message
    assert caught.value.details.get("key_path") == key_path
    problems = lint_spec("cursor.yaml", text)
    assert any(message in problem.message for problem in problems), problems

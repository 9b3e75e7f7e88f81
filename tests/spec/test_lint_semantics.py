"""The semantic lint: mistakes the schema accepts and replay would miss, each at its YAML ``file:line:col``."""

from __future__ import annotations

from pathlib import Path

import pytest

from unimeter.resources import builtin_mappings_dir
from unimeter.spec import lint_spec

# Line 1 is "name: demo"; the transform's block scalar starts at line 17.
SPEC = """name: demo
label: Demo
docs_url: https://example.com/docs
fills: [id, usage.tokens]
credentials:
  api_key: {secret: true}
params:
  project: {type: string}
base_url: https://api.example.com
auth: {kind: headers, headers: {Authorization: {jsonata: "'Bearer ' & $credentials.api_key"}}}
operations:
  - name: list
    request: {method: GET, path: /usage, query: {project: {jsonata: "$params.project"}}}
    records: {jsonata: "data"}
    transform:
      jsonata: |
        {
          'id': id & $context.base_url,
          /* $params.nothing in a comment */
          'note': "$params.nothing in a string",
          'usage': {'tokens': {'total': 1}}
        }
"""


def _messages(text: str) -> list[str]:
    return [problem.message for problem in lint_spec("demo.yaml", text=text)]


def _replace(old: str, new: str) -> str:
    assert old in SPEC, old
    return SPEC.replace(old, new, 1)


def test_the_base_spec_is_clean_and_strings_and_comments_are_not_references() -> None:
    assert _messages(SPEC) == []


def test_undeclared_parameter_is_located_inside_the_block_scalar() -> None:
    text = _replace("'id': id & $context.base_url", "'id': id & $params.projectid")
    assert _messages(text) == [
        "demo.yaml:18:22: undeclared parameter $params.projectid (declare it under params:)"
        " (operations[0].transform.jsonata)"
    ]


def test_undeclared_credential_is_located_in_a_flow_string() -> None:
    text = _replace("$credentials.api_key", "$credentials.token")
    assert _messages(text) == [
        "demo.yaml:10:71: undeclared credential $credentials.token (declare it under credentials:)"
        " (auth.headers.Authorization.jsonata)"
    ]


def test_undeclared_context_field_is_reported_and_base_url_is_always_declared() -> None:
    text = _replace("$context.base_url", "$context.region")
    assert _messages(text) == [
        "demo.yaml:18:22: undeclared context field $context.region (declare it under context:)"
        " (operations[0].transform.jsonata)"
    ]


def test_fills_entry_outside_the_usage_schema_is_reported_at_its_entry() -> None:
    messages = _messages(_replace("fills: [id, usage.tokens]", "fills: [id, usage.tokenz, cost]"))
    assert messages == [
        "demo.yaml:4:13: fills entry 'usage.tokenz' is not a field of the Usage schema (fills[1])",
        "demo.yaml:4:27: fills entry 'cost' is not a field of the Usage schema (fills[2])",
        # usage.tokens is produced but no longer listed
        "demo.yaml:21:21: warning: the transform produces 'usage.tokens', which fills does not list"
        " (operations[0].transform.jsonata)",
    ]


def test_pagination_key_that_means_nothing_for_its_kind_is_reported_at_the_key() -> None:
    text = _replace(
        '    records: {jsonata: "data"}',
        '    pagination: {kind: cursor, next: {jsonata: "next"}, limit: 10}\n    records: {jsonata: "data"}',
    )
    assert _messages(text) == [
        "demo.yaml:14:57: pagination key 'limit' means nothing for kind 'cursor' (operations[0].pagination.limit)"
    ]


def test_undefined_variable_is_named_at_its_line_and_column() -> None:
    text = _replace("'id': id & $context.base_url,", "'id': id & $parms.project,")
    assert _messages(text) == ["demo.yaml:18:22: undefined variable $parms (operations[0].transform.jsonata)"]


def test_unknown_function_is_named_and_bound_names_builtins_and_engine_functions_are_not() -> None:
    text = _replace(
        "'id': id & $context.base_url,",
        "'id': ($f := function($v) { $string($v) }; $f(id) & $moneyy(1) & $money(1) & $params.project),",
    )
    assert _messages(text) == ["demo.yaml:18:63: unknown function $moneyy (operations[0].transform.jsonata)"]


@pytest.mark.parametrize("path", sorted(builtin_mappings_dir().glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_mapping_is_clean(path: Path) -> None:
    problems = lint_spec(path)
    assert problems == [], "\n".join(p.message for p in problems)


def test_jsonata_syntax_error_in_a_block_scalar_is_at_its_own_line_with_the_line_and_a_caret() -> None:
    text = _replace("'id': id & $context.base_url,", "'id': (id & $context.base_url,")
    (message,) = _messages(text)
    first, shown, caret = message.splitlines()
    assert first.startswith("demo.yaml:18:") and first.endswith("(operations[0].transform.jsonata)")
    assert "JSONata syntax error" in first
    assert shown.strip() == "'id': (id & $context.base_url,"
    # The caret sits under the column the location names (the expression line is shown without its YAML indent).
    column = int(first.split(":")[2])
    yaml_indent = 8
    assert caret.index("^") - shown.index("'id'") == column - 1 - yaml_indent - 2

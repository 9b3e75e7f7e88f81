"""Loading and linting a spec: every problem is reported as ``file:line:col: message (key path)``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.paths import PROJECT
from tests.helpers.specs import VALID
from unimeter.errors import ExpressionSyntaxError, SpecError
from unimeter.resources import builtin_mappings_dir
from unimeter.spec import lint_spec, load_spec

PROJECT_ROOT = PROJECT

# Line numbers below are counted in VALID (tests/helpers/specs.py): line 1 is "name: demo", line 9 "    request:".


def _spec_text(old: str, new: str) -> str:
    assert old in VALID, old
    return VALID.replace(old, new, 1)


def _load_error(text: str, file: str = "demo.yaml") -> SpecError:
    with pytest.raises(SpecError) as caught:
        load_spec(file, text=text)
    return caught.value


def test_valid_spec_loads_and_lints_clean() -> None:
    spec = load_spec("demo.yaml", text=VALID)
    assert spec.name == "demo"
    assert [op.name for op in spec.operations] == ["list"]
    assert lint_spec("demo.yaml", text=VALID) == []


def test_unknown_key_is_reported_at_its_line_with_key_path_and_allowed_keys() -> None:
    text = _spec_text("    records: {jsonata", "    paginaton: {kind: none}\n    records: {jsonata")
    error = _load_error(text)
    assert (error.file, error.line, error.column) == ("demo.yaml", 12, 5)
    assert error.key_path == "operations[0].paginaton"
    assert error.message.startswith("demo.yaml:12:5: unknown key 'paginaton'")
    assert error.message.endswith("(operations[0].paginaton)")
    allowed = error.message.split("allowed here: ", 1)[1]
    for key in ("name", "request", "records", "transform", "pagination", "filter", "when"):
        assert key in allowed


def test_lint_reports_misspelt_request_key_at_its_line_and_lists_allowed_keys() -> None:
    problems = lint_spec("demo.yaml", text=_spec_text("    request:", "    reqest:"))
    unknown = [p for p in problems if p.key_path == "operations[0].reqest"]
    assert len(unknown) == 1
    assert (unknown[0].line, unknown[0].column) == (9, 5)
    assert "unknown key 'reqest'" in unknown[0].message
    assert "allowed here:" in unknown[0].message and "request" in unknown[0].message.split("allowed here:")[1]
    assert unknown[0].message.startswith("demo.yaml:9:5: ")


def test_load_error_for_misspelt_request_key_names_the_misspelt_key() -> None:
    # load_spec raises one error; for a typo the one a person should see is the unknown key at the typo's line,
    # not only "'request' is a required property" at the start of the operation.
    error = _load_error(_spec_text("    request:", "    reqest:"))
    assert "reqest" in error.message
    assert error.line == 9


def test_unknown_top_level_key_lists_top_level_keys() -> None:
    error = _load_error(_spec_text("label: Demo\n", "label: Demo\nlable: Oops\n"))
    assert (error.line, error.column, error.key_path) == (3, 1, "lable")
    assert "unknown key 'lable'" in error.message
    assert "operations" in error.message and "base_url" in error.message


def test_x_prefixed_top_level_keys_are_ignored() -> None:
    text = _spec_text("operations:", "x-shared: &req {method: GET, path: /usage}\noperations:")
    assert load_spec("demo.yaml", text=text).name == "demo"


def test_jsonata_syntax_error_names_file_line_key_path_and_position_in_expression() -> None:
    error = _load_error(_spec_text('records: {jsonata: "data"}', 'records: {jsonata: "data[0"}'))
    assert isinstance(error, ExpressionSyntaxError)
    assert error.file == "demo.yaml"
    assert error.line == 12
    assert error.key_path == "operations[0].records.jsonata"
    assert error.position == 6
    assert error.message.startswith("demo.yaml:12:")
    first_line = error.message.splitlines()[0]
    assert "at position 6" in first_line
    assert first_line.endswith("(operations[0].records.jsonata)")


def test_jsonata_syntax_error_in_block_expression_shows_excerpt_with_caret() -> None:
    text = _spec_text('    records: {jsonata: "data"}', '    records:\n      jsonata: "data.(a + )"')
    error = _load_error(text)
    assert isinstance(error, ExpressionSyntaxError)
    assert (error.line, error.key_path, error.position) == (13, "operations[0].records.jsonata", 11)
    lines = error.message.splitlines()
    snippet, caret = lines[1], lines[2]
    assert snippet.strip() == "data.(a + )"
    assert caret.index("^") - snippet.index("data") == 11


def test_yaml_syntax_error_reports_file_and_line() -> None:
    text = _spec_text("label: Demo", 'label: "Demo')
    error = _load_error(text)
    assert error.message.startswith("demo.yaml:")
    assert "invalid YAML" in error.message
    line = int(error.message.split(":")[1])
    assert line >= 2
    problems = lint_spec("demo.yaml", text=text)
    assert [p.message for p in problems] == [error.message]


def test_yaml_syntax_error_reports_the_line_of_the_bad_indentation() -> None:
    text = _spec_text("      path: /usage\n", "      path: /usage\n     bad: indent\n")
    error = _load_error(text)
    assert error.message.startswith("demo.yaml:12:")
    assert "invalid YAML" in error.message


def test_yaml_syntax_error_carries_its_line_as_structured_field() -> None:
    # Errors carry a place: the line in the message must also be in error.line (and so in to_dict()).
    error = _load_error(_spec_text("      path: /usage\n", "      path: /usage\n     bad: indent\n"))
    assert error.line == 12
    assert error.to_dict()["line"] == 12


def test_duplicate_key_is_an_error_at_the_second_occurrence() -> None:
    error = _load_error(_spec_text("label: Demo\n", "label: Demo\nlabel: Again\n"))
    assert error.message.startswith("demo.yaml:3:1: ")
    assert "duplicate key 'label'" in error.message


def test_duplicate_key_inside_an_operation_is_an_error() -> None:
    error = _load_error(_spec_text("      path: /usage\n", "      path: /usage\n      method: POST\n"))
    assert error.message.startswith("demo.yaml:12:7: ")
    assert "duplicate key 'method'" in error.message


def test_duplicate_operation_name_is_an_error_at_the_second_name() -> None:
    second = (
        "  - name: list\n"
        "    request: {method: GET, path: /other}\n"
        '    records: {jsonata: "data"}\n'
        "    transform: {jsonata: \"{'id': id}\"}\n"
    )
    error = _load_error(VALID + second)
    assert (error.line, error.key_path) == (14, "operations[1].name")
    assert "duplicate operation name 'list'" in error.message


def test_name_not_matching_file_name_is_a_lint_error_at_the_name_key() -> None:
    problems = lint_spec("mappings/other.yaml", text=VALID)
    assert len(problems) == 1
    assert problems[0].message == ("mappings/other.yaml:1:1: name 'demo' must match the file name 'other' (name)")


def test_missing_required_top_level_key_is_reported() -> None:
    error = _load_error(_spec_text("base_url: https://api.example.com\n", ""))
    assert "'base_url' is a required property" in error.message
    assert error.message.startswith("demo.yaml:1:1: ")


def test_pagination_kind_missing_its_required_key_is_reported_at_the_pagination_block() -> None:
    text = _spec_text("    records: {jsonata", "    pagination: {kind: cursor}\n    records: {jsonata")
    error = _load_error(text)
    assert "'cursor' pagination needs 'next'" in error.message
    assert (error.line, error.key_path) == (12, "operations[0].pagination")


def test_spec_that_is_not_a_mapping_is_an_error() -> None:
    error = _load_error("- just\n- a list\n")
    assert error.message == "demo.yaml:1:1: a spec must be a YAML mapping"


@pytest.mark.parametrize("path", sorted(builtin_mappings_dir().glob("*.yaml")), ids=lambda p: p.name)
def test_every_mapping_lints_clean(path: Path) -> None:
    problems = lint_spec(path)
    assert problems == [], "\n".join(p.message for p in problems)


def test_cli_lint_prints_location_of_problem_and_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(_spec_text("name: demo", "name: bad").replace("    request:", "    reqest:"), encoding="utf-8")
    completed = subprocess.run(
        [sys.executable, "-m", "unimeter.cli", "lint", str(bad)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 1
    assert f"{bad}:9:5: unknown key 'reqest'" in completed.stdout
    assert "(operations[0].reqest)" in completed.stdout


def test_cli_lint_prints_ok_and_exits_0_for_a_clean_file(tmp_path: Path) -> None:
    good = tmp_path / "demo.yaml"
    good.write_text(VALID, encoding="utf-8")
    completed = subprocess.run(
        [sys.executable, "-m", "unimeter.cli", "lint", str(good)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0
    assert completed.stdout.strip() == f"{good}: ok"

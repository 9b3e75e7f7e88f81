"""The lint's response-schema and fills checks: each message at its exact ``file:line:col``, warnings apart from
errors, dynamic expressions skipped."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from unimeter.spec import lint_spec
from unimeter.spec.semantic_lint import LintWarning

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$ref": "#/$defs/Page",
    "$defs": {
        "Page": {
            "type": "object",
            "properties": {
                "data": {"type": "array", "items": {"$ref": "#/$defs/Bucket"}},
                "has_more": {"type": "boolean"},
                "next_page": {"type": ["string", "null"]},
            },
        },
        "Bucket": {
            "type": "object",
            "properties": {
                "start_time": {"type": "integer"},
                "results": {"type": "array", "items": {"$ref": "#/$defs/Result"}},
            },
        },
        "Result": {
            "type": "object",
            "properties": {
                "amount": {
                    "anyOf": [{"type": "object", "properties": {"value": {"type": "number"}}}, {"type": "null"}]
                },
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "extra": {"type": "object"},
            },
        },
    },
}

# Line 1 is "name: demo". The records expression is on line 13, next on line 14, the transform from line 16.
MAPPING = """name: demo
label: Demo
docs_url: https://example.com/docs
fills: [id, charges, start_date, remote_data]
base_url: https://api.example.com
auth: {kind: none}
operations:
  - name: costs
    response_schema: vendor.json
    request: {method: GET, path: /costs, query: {page: {jsonata: "$page"}}}
    money: billed
    nested: {field: results}
    records: {jsonata: "data[]"}
    pagination: {kind: cursor, next: {jsonata: "has_more = true ? next_page : null"}}
    transform:
      jsonata: |
        {
          'id': $string($bucket.start_time) & labels.team & labels.`any key` & extra.whatever,
          'charges': [{'amount': $string(amount.value), 'currency': 'USD', 'type': 'net'}],
          'start_date': $fromMillis($bucket.start_time * 1000)
        }
"""


def _write(folder: Path, mapping: str = MAPPING, schema: object = SCHEMA) -> Path:
    (folder / "vendor.json").write_text(json.dumps(schema) if not isinstance(schema, str) else schema)
    path = folder / "demo.yaml"
    path.write_text(mapping)
    return path


def _lint(folder: Path, old: str = "", new: str = "", schema: object = SCHEMA) -> list[str]:
    assert old in MAPPING, old
    path = _write(folder, MAPPING.replace(old, new, 1), schema)
    return [problem.message.replace(f"{path}:", "demo.yaml:") for problem in lint_spec(path)]


def test_a_mapping_that_reads_what_the_schema_has_lints_clean(tmp_path: Path) -> None:
    # labels is a map (additionalProperties) and extra an object without listed fields: any key is fine there.
    assert _lint(tmp_path) == []


def test_a_wrong_records_path_is_a_warning_at_its_column_with_the_fields_the_response_has(tmp_path: Path) -> None:
    problems = _lint(tmp_path, 'records: {jsonata: "data[]"}', 'records: {jsonata: "dat[]"}')
    assert problems == [
        "demo.yaml:13:25: warning: records reads 'dat', which the response schema vendor.json does not have: "
        "the response has data, has_more, next_page; did you mean data? (operations[0].records.jsonata)"
    ]


def test_a_wrong_cursor_field_is_a_warning_naming_the_field(tmp_path: Path) -> None:
    problems = _lint(tmp_path, "? next_page : null", "? next_pages : null")
    assert problems == [
        "demo.yaml:14:67: warning: pagination next reads 'next_pages', which the response schema vendor.json does "
        "not have: the response has data, has_more, next_page; did you mean next_page? "
        "(operations[0].pagination.next.jsonata)"
    ]


def test_a_wrong_field_of_a_nested_record_and_of_its_bucket_are_warnings_in_the_block_scalar(tmp_path: Path) -> None:
    text = MAPPING.replace("amount.value", "amount.valu", 1).replace("$bucket.start_time * 1000", "$bucket.start", 1)
    path = _write(tmp_path, text)
    problems = [p.message.replace(f"{path}:", "demo.yaml:") for p in lint_spec(path)]
    assert problems == [
        "demo.yaml:19:49: warning: the transform reads 'amount.valu', which the response schema vendor.json does "
        "not have: 'amount' has value; did you mean value? (operations[0].transform.jsonata)",
        "demo.yaml:20:45: warning: the transform reads '$bucket.start', which the response schema vendor.json does "
        "not have: '$bucket' has results, start_time; did you mean start_time? (operations[0].transform.jsonata)",
    ]
    assert all(isinstance(p, LintWarning) for p in lint_spec(path))


def test_dynamic_paths_are_skipped_not_guessed(tmp_path: Path) -> None:
    dynamic = (
        "$lookup($, 'nope') & $each($, function($v, $k) { $v.nope }) & *.nope & **.nope & $headers.nope"
        " & $sort($, function($a, $b) { $a.nope > $b.nope }).nope & undefined"
    )
    assert _lint(tmp_path, "'id': $string($bucket.start_time)", f"'id': {dynamic} & $string($bucket.start_time)") == []


def test_a_field_declared_undocumented_in_a_comment_is_not_reported(tmp_path: Path) -> None:
    assert _lint(tmp_path, "extra.whatever,", "extra.whatever & amount.cents /* undocumented: amount.cents */,") == []


def test_a_transform_is_not_checked_when_records_builds_its_own_objects(tmp_path: Path) -> None:
    problems = _lint(tmp_path, 'records: {jsonata: "data[]"}', "records: {jsonata: \"data.{'x': nope}\"}")
    # records itself is checked (nope is not a field of a bucket); the transform reads {x}, not the schema.
    assert problems == [
        "demo.yaml:13:36: warning: records reads 'data.nope', which the response schema vendor.json does not have: "
        "'data' has results, start_time (operations[0].records.jsonata)"
    ]


def test_a_missing_response_schema_file_is_an_error_at_the_key(tmp_path: Path) -> None:
    problems = _lint(tmp_path, "response_schema: vendor.json", "response_schema: ../schemas/nothing.json")
    assert problems == [
        "demo.yaml:9:5: response_schema ../schemas/nothing.json: cannot read it: No such file or directory"
        " (operations[0].response_schema)"
    ]
    assert not isinstance(lint_spec(tmp_path / "demo.yaml")[0], LintWarning)


def test_a_response_schema_that_is_not_json_is_an_error_at_the_key(tmp_path: Path) -> None:
    (problem,) = _lint(tmp_path, schema="{not json")
    assert problem.startswith("demo.yaml:9:5: response_schema vendor.json: it is not JSON: ")
    assert problem.endswith(" (operations[0].response_schema)")


def test_a_fills_entry_no_transform_produces_is_an_error_at_the_entry(tmp_path: Path) -> None:
    problems = _lint(tmp_path, "fills: [id, charges,", "fills: [id, charges, user, usage.tokens,")
    assert problems == [
        "demo.yaml:4:22: fills entry 'user' is not produced: no transform's row has the key 'user' (fills[2])",
        "demo.yaml:4:28: fills entry 'usage.tokens' is not produced: no transform gives usage the key 'tokens'"
        " (fills[3])",
    ]


def test_a_produced_field_fills_does_not_list_is_a_warning_at_its_key(tmp_path: Path) -> None:
    problems = _lint(tmp_path, "fills: [id, charges, start_date,", "fills: [id, charges,")
    assert problems == [
        "demo.yaml:20:11: warning: the transform produces 'start_date', which fills does not list"
        " (operations[0].transform.jsonata)"
    ]


@pytest.mark.parametrize(
    "row",
    [
        "$merge([{'id': 'x'}, $])",  # $merge of an unknown object
        "{'id': 'x', $string(amount): 1}",  # a computed key
        "$spread($)",
    ],
)
def test_fills_is_not_checked_when_a_transform_builds_its_row_dynamically(tmp_path: Path, row: str) -> None:
    text = MAPPING.replace("    response_schema: vendor.json\n", "", 1)
    start = text.index("        {\n          'id'")
    path = _write(tmp_path, text[:start] + f"        {row}\n")
    assert lint_spec(path) == []


def test_fills_follows_bindings_conditions_merge_and_functions_of_the_transform(tmp_path: Path) -> None:
    text = MAPPING.replace("    response_schema: vendor.json\n", "", 1)
    start = text.index("        {\n          'id'")
    row = (
        "        (\n"
        "          $base := {'id': 'x', 'start_date': '2026-01-01T00:00:00Z'};\n"
        "          $row := function($c) { $merge([$base, {'charges': $c}]) };\n"
        "          amount ? $row([]) : $base\n"
        "        )\n"
    )
    path = _write(tmp_path, text[:start] + row)
    assert lint_spec(path) == []
    path.write_text((text[:start] + row).replace("'charges': $c", "'cost': $c"))
    assert [p.message.split(": ", 1)[1] for p in lint_spec(path)] == [
        "fills entry 'charges' is not produced: no transform's row has the key 'charges' (fills[1])"
    ]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "unimeter.cli", "lint", *args], capture_output=True, text=True)


def test_unimeter_lint_passes_with_warnings_and_fails_on_them_with_strict(tmp_path: Path) -> None:
    path = _write(tmp_path, MAPPING.replace('"data[]"', '"dat[]"', 1))
    plain = _cli(str(path))
    assert plain.returncode == 0, plain.stdout + plain.stderr
    warning, summary = plain.stdout.strip().splitlines()
    assert warning.startswith(f"{path}:13:25: warning: records reads 'dat'")
    assert summary == f"{path}: ok (1 warning)"
    strict = _cli("--strict", str(path))
    assert strict.returncode == 1
    assert strict.stdout.strip() == warning


def test_an_error_fails_unimeter_lint_without_strict(tmp_path: Path) -> None:
    path = _write(tmp_path, MAPPING.replace("response_schema: vendor.json", "response_schema: gone.json", 1))
    result = _cli(str(path))
    assert result.returncode == 1
    assert "response_schema gone.json: cannot read it" in result.stdout

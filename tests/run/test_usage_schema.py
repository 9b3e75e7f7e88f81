"""The unified Usage row and list envelope schemas accept what the reference allows and reject the rest."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

from tests.helpers.paths import PROJECT, SCHEMAS
from unimeter.run.validation import is_valid_row

USAGE_SCHEMA: dict[str, Any] = json.loads((SCHEMAS / "usage.schema.json").read_text())
LIST_SCHEMA: dict[str, Any] = json.loads((SCHEMAS / "list-response.schema.json").read_text())

FULL_ROW: dict[str, Any] = {
    "id": "cursor:2026-10-01:user@example.com",
    "product": {"id": "cursor", "name": "Cursor"},
    "metric_name": "tokens",
    "resources": [{"id": "lkc-123", "name": "orders", "workspace": {"id": "env-1", "name": "prod"}}],
    "organization": {"id": "org_1", "name": "Example Inc"},
    "user": {"id": "u_1", "email": "user@example.com", "name": "Ada"},
    "model": {"id": "gpt-5", "provider": "openai"},
    "charges": [
        {"amount": 12.34, "currency": "USD", "type": "usage_based"},
        {"amount": -1.5, "currency": "USD", "type": "discount"},
    ],
    "usage": {
        "quantity": 3.5,
        "unit": "GB",
        "requests": {
            "total": 10,
            "chat": 1,
            "agent": 2,
            "composer": 0,
            "cmdk": 3,
            "tab_shown": 40,
            "tab_accepted": 12,
            "api_key": 0,
            "included": 8,
            "usage_based": 2,
            "bugbot": 0,
        },
        "sessions": {"distinct": 2, "dispatch_turns": 5},
        "conversations": {
            "distinct": 1,
            "message_count": 9,
            "thinking_message_count": 2,
            "shared_viewed_count": 0,
            "turn_count": 4,
            "thread_count": 1,
        },
        "code": {
            "lines_added": 100,
            "lines_removed": 20,
            "lines_accepted_added": 80,
            "lines_accepted_removed": 10,
            "applies": 5,
            "accepts": 4,
            "rejects": 1,
            "commits": 2,
            "pull_requests": 1,
            "tool_actions": {"edit_tool": {"accepted": 3, "rejected": 1}},
            "file_extensions": {"py": 7},
            "apply_most_used": "py",
            "tab_most_used": "ts",
        },
        "tokens": {
            "input": 1000,
            "output": 200,
            "cache_read": 50,
            "cache_write": 25,
            "cache_write_ephemeral_5m": 20,
            "cache_write_ephemeral_1h": 5,
            "total": 1275,
        },
        "tools": {
            "web_search_count": 1,
            "connectors_used_count": 2,
            "distinct_connectors_used_count": 1,
            "skills_used_count": 3,
            "distinct_skills_used_count": 2,
            "action_count": 6,
        },
        "activity": {"is_active": True, "max_mode": False, "client_version": "1.2.3"},
    },
    "start_date": "2026-10-01T00:00:00Z",
    "end_date": "2026-10-02T00:00:00Z",
    "created_at": "2026-10-02T03:04:05.123+02:00",
    "updated_at": "2026-10-02T03:04:05Z",
    "surface": "composer",
    "remote_data": {"email": "user@example.com", "note": None},
}


def _validator() -> Draft202012Validator:
    return Draft202012Validator(USAGE_SCHEMA, format_checker=FormatChecker())


def _list_validator() -> Draft202012Validator:
    registry: Registry[Any] = Registry().with_resource(USAGE_SCHEMA["$id"], Resource.from_contents(USAGE_SCHEMA))
    return Draft202012Validator(LIST_SCHEMA, registry=registry, format_checker=FormatChecker())


def _error_paths(validator: Draft202012Validator, instance: Any) -> list[list[str | int]]:
    return [list(error.absolute_path) for error in validator.iter_errors(instance)]


def _row(**changes: Any) -> dict[str, Any]:
    row = copy.deepcopy(FULL_ROW)
    row.update(changes)
    return row


@pytest.mark.parametrize("schema", [USAGE_SCHEMA, LIST_SCHEMA], ids=["usage", "list-response"])
def test_schemas_are_valid_draft_2020_12(schema: dict[str, Any]) -> None:
    Draft202012Validator.check_schema(schema)


def test_full_row_is_valid() -> None:
    assert _error_paths(_validator(), FULL_ROW) == []


def test_minimal_row_with_only_an_id_is_valid() -> None:
    assert _error_paths(_validator(), {"id": "x"}) == []


def test_missing_id_fails_at_the_root() -> None:
    row = _row()
    del row["id"]
    errors = list(_validator().iter_errors(row))
    assert [(list(e.absolute_path), e.validator) for e in errors] == [([], "required")]
    assert "'id' is a required property" in errors[0].message


def test_empty_id_fails() -> None:
    assert _error_paths(_validator(), _row(id="")) == [["id"]]


def test_product_without_id_fails_at_product() -> None:
    errors = list(_validator().iter_errors(_row(product={"name": "Cursor"})))
    assert [(list(e.absolute_path), e.validator) for e in errors] == [(["product"], "required")]


def test_organization_without_id_fails_at_organization() -> None:
    errors = list(_validator().iter_errors(_row(organization={"name": "Example Inc"})))
    assert [(list(e.absolute_path), e.validator) for e in errors] == [(["organization"], "required")]


def test_charge_type_outside_the_enum_fails() -> None:
    row = _row(charges=[{"amount": 1, "currency": "USD", "type": "refund"}])
    errors = list(_validator().iter_errors(row))
    assert [(list(e.absolute_path), e.validator) for e in errors] == [(["charges", 0, "type"], "enum")]


def test_lower_case_currency_fails() -> None:
    row = _row(charges=[{"amount": 1, "currency": "usd", "type": "total"}])
    assert _error_paths(_validator(), row) == [["charges", 0, "currency"]]


def test_unknown_top_level_key_fails() -> None:
    errors = list(_validator().iter_errors(_row(cost=3)))
    assert [(list(e.absolute_path), e.validator) for e in errors] == [([], "additionalProperties")]
    assert "'cost'" in errors[0].message


def test_unknown_key_in_usage_tokens_fails() -> None:
    row = _row()
    row["usage"]["tokens"]["reasoning"] = 7
    errors = list(_validator().iter_errors(row))
    assert [(list(e.absolute_path), e.validator) for e in errors] == [(["usage", "tokens"], "additionalProperties")]
    assert "'reasoning'" in errors[0].message


@pytest.mark.parametrize(
    "value",
    ["2026-10-01", "2026-10-01T00:00:00", "2026-10-01 00:00:00Z", "2026-13-01T00:00:00Z"],
)
def test_start_date_without_a_full_rfc3339_date_time_fails(value: str) -> None:
    assert ["start_date"] in _error_paths(_validator(), _row(start_date=value))


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ((), "metric_name"),
        (("user",), "email"),
        (("usage", "tokens"), "input"),
        (("charges", 0), "amount"),
    ],
)
def test_null_value_fails(path: tuple[str | int, ...], key: str) -> None:
    row = _row()
    target: Any = row
    for step in path:
        target = target[step]
    target[key] = None
    assert _error_paths(_validator(), row) == [[*path, key]]


def test_null_remote_data_fails() -> None:
    assert _error_paths(_validator(), _row(remote_data=None)) == [["remote_data"]]


def test_empty_optional_object_fails() -> None:
    assert _error_paths(_validator(), _row(user={})) == [["user"]]


def test_open_objects_accept_extra_keys() -> None:
    row = _row(remote_data={"anything": {"nested": [1, None, "x"]}, "more": True})
    row["usage"]["code"]["tool_actions"]["MultiEdit"] = {"accepted": 1, "rejected": 0}
    row["usage"]["code"]["file_extensions"][".tsx"] = 3
    assert _error_paths(_validator(), row) == []


def test_remote_data_may_be_an_array_of_records() -> None:
    assert _error_paths(_validator(), _row(remote_data=[{"a": 1}, {"b": 2}])) == []


def test_list_envelope_with_result_list_and_null_cursor_is_valid() -> None:
    assert _error_paths(_list_validator(), {"result": [FULL_ROW, {"id": "y"}], "next_cursor": None}) == []


def test_list_envelope_keyed_by_a_field_is_valid() -> None:
    body = {"result": {FULL_ROW["id"]: FULL_ROW}, "next_cursor": "abc"}
    assert _error_paths(_list_validator(), body) == []


def test_list_envelope_with_numeric_cursor_fails() -> None:
    errors = list(_list_validator().iter_errors({"result": [FULL_ROW], "next_cursor": 2}))
    assert [(list(e.absolute_path), e.validator) for e in errors] == [(["next_cursor"], "type")]


def test_list_envelope_validates_rows_through_the_usage_ref() -> None:
    errors = list(_list_validator().iter_errors({"result": [{"name": "no id"}]}))
    assert [list(e.absolute_path) for e in errors] == [["result"]]
    row_errors = [list(sub.absolute_path) for sub in errors[0].context or []]
    assert ["result", 0] in row_errors


def test_list_envelope_requires_result_and_rejects_unknown_keys() -> None:
    errors = list(_list_validator().iter_errors({"next_cursor": None, "page": 1}))
    assert sorted(e.validator for e in errors) == ["additionalProperties", "required"]


def test_list_envelope_accepts_an_open_debug_object() -> None:
    body: dict[str, Any] = {"result": [], "next_cursor": None, "debug": {"requestUrl": "https://x", "anything": [1]}}
    assert _error_paths(_list_validator(), body) == []


def _variants() -> list[Any]:
    """Rows the fast check and the reference validator must judge alike: the full and minimal rows, each invalid
    variant the tests above build, and every row of every fixture's expected output."""
    rows: list[Any] = [FULL_ROW, {"id": "x"}, _row(id=""), _row(extra=1), _row(remote_data=None)]
    rows += [_row(start_date=value) for value in ("2026-10-01", "2026-10-01T00:00:00", "2026-13-01T00:00:00Z")]
    rows += [_row(start_date="2026-10-01T00:00:00.123+02:00"), _row(charges=[{"amount": 1, "currency": "usd"}])]
    rows += [_row(charges=[{"amount": "1", "currency": "USD", "type": "net"}]), _row(usage={}), [], "row", None]
    for expected in sorted(PROJECT.glob("fixtures/*/*/expected.json")):
        rows += json.loads(expected.read_text(encoding="utf-8")).get("result") or []
    return rows


def test_the_fast_check_agrees_with_the_reference_validator() -> None:
    rows = _variants()
    assert len(rows) > 150
    disagree = [row for row in rows if is_valid_row(row) != (not _error_paths(_validator(), row))]
    assert disagree == []
    assert sum(1 for row in rows if not is_valid_row(row)) >= 10  # the invalid variants are really invalid

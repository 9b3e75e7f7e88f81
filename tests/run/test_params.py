"""Unified query parameters: unsupported and malformed values are 400s with a name, defaults are JSONata, checks run."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.helpers.specs import demo_spec, operation
from unimeter.errors import InvalidParameterError, QueryCheckError, UnimeterError, UnsupportedParameterError
from unimeter.run.params import resolve_params
from unimeter.spec import IntegrationSpec, load_spec
from unimeter.spec.jsonata import pinned_now

NOW = datetime(2026, 11, 26, 12, 30, tzinfo=UTC)

SPEC_TEXT = demo_spec(
    operation(" {method: GET, path: /usage}"),
    sections="""\
context:
  region: {default: eu, description: Region}
params:
  start_date:
    type: date-time
    default: {jsonata: "$startOfMonth($exists($params.end_date) ? $params.end_date : $now())"}
  end_date:
    type: date-time
    default: {jsonata: "$now()"}
  day: {type: date}
  limit: {type: integer, note: Rows per page.}
  verbose: {type: boolean}
  group_by: {type: string, enum: [user, model]}
  region_label:
    type: string
    default: {jsonata: "'region-' & $context.region"}
  workspace: {type: string, required: true, default: ws_default}
checks:
  - fail_if: {jsonata: "$toMillis($toInstant($params.start_date)) > $toMillis($toInstant($params.end_date))"}
    message:
      jsonata: >-
        'start_date (' & $params.start_date & ') must not be after end_date (' & $params.end_date & ')'
  - fail_if: {jsonata: "$params.limit > 100"}
    message: limit must be at most 100
""",
)

SUPPORTED = ["day", "end_date", "group_by", "limit", "region_label", "start_date", "verbose", "workspace"]


@pytest.fixture(scope="module")
def spec() -> IntegrationSpec:
    return load_spec("demo.yaml", text=SPEC_TEXT)


def _resolve(
    spec: IntegrationSpec, given: Mapping[str, Any], context: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    with pinned_now(NOW):
        return resolve_params(spec, given, context if context is not None else {"region": "eu"})


def test_unsupported_parameter_is_named_and_supported_ones_listed(spec: IntegrationSpec) -> None:
    with pytest.raises(UnsupportedParameterError) as caught:
        _resolve(spec, {"start_date": "2026-10-01", "user_id": "u_1"})
    error = caught.value
    assert "'user_id'" in error.message
    assert "supports: " + ", ".join(SUPPORTED) in error.message
    assert error.details["parameter"] == "user_id"
    assert error.details["supported"] == SUPPORTED
    assert error.http_status == 400


def test_spec_without_params_rejects_any_parameter_and_says_it_supports_none() -> None:
    bare = load_spec(
        "bare.yaml",
        text=SPEC_TEXT.replace("name: demo", "name: bare").split("params:")[0]
        + "operations:"
        + SPEC_TEXT.split("operations:")[1],
    )
    with pytest.raises(UnsupportedParameterError, match="supports: none"), pinned_now(NOW):
        resolve_params(bare, {"start_date": "2026-10-01"}, {})


@pytest.mark.parametrize(
    ("name", "value", "expected_format"),
    [
        ("day", "2026/10/01", "expected a date YYYY-MM-DD"),
        ("day", "2026-02-30", "expected a date YYYY-MM-DD"),
        ("day", "2026-10-01T00:00:00Z", "expected a date YYYY-MM-DD"),
        ("start_date", "yesterday", "expected a date YYYY-MM-DD or an RFC 3339 date-time"),
        ("start_date", "2026-10-01T10:00:00", "expected a date YYYY-MM-DD or an RFC 3339 date-time"),
        ("end_date", "2026-13-01", "expected a date YYYY-MM-DD or an RFC 3339 date-time"),
        ("limit", "ten", "expected an integer (Rows per page.)"),
        ("limit", "1.5", "expected an integer"),
        ("limit", True, "expected an integer"),
        ("verbose", "yes", "expected true or false"),
        ("verbose", "1", "expected true or false"),
        ("group_by", "org", "expected one of user, model"),
    ],
)
def test_malformed_value_names_parameter_and_expected_format(
    spec: IntegrationSpec, name: str, value: Any, expected_format: str
) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        _resolve(spec, {name: value})
    assert f"for parameter {name!r}" in caught.value.message
    assert repr(value) in caught.value.message
    assert expected_format in caught.value.message
    assert caught.value.details["parameter"] == name


@pytest.mark.parametrize(
    ("name", "raw", "parsed"),
    [
        ("day", "2026-10-01", "2026-10-01"),
        ("start_date", "2026-10-01", "2026-10-01"),
        ("start_date", "2026-10-01T10:00:00+02:00", "2026-10-01T08:00:00Z"),
        ("start_date", "2026-10-01T10:00:00.250Z", "2026-10-01T10:00:00.250Z"),
        ("limit", "25", 25),
        ("limit", 25, 25),
        ("limit", "-3", -3),
        ("verbose", "TRUE", True),
        ("verbose", "false", False),
        ("verbose", True, True),
        ("group_by", "model", "model"),
    ],
)
def test_well_formed_values_are_converted_to_their_declared_type(
    spec: IntegrationSpec, name: str, raw: Any, parsed: Any
) -> None:
    assert _resolve(spec, {name: raw})[name] == parsed


def test_defaults_use_the_pinned_clock(spec: IntegrationSpec) -> None:
    params = _resolve(spec, {})
    assert params["end_date"] == "2026-11-26T12:30:00Z"
    assert params["start_date"] == "2026-11-01T00:00:00Z"


def test_default_can_depend_on_another_given_parameter(spec: IntegrationSpec) -> None:
    params = _resolve(spec, {"end_date": "2026-09-10"})
    assert params["end_date"] == "2026-09-10"
    assert params["start_date"] == "2026-09-01T00:00:00Z"


def test_default_can_depend_on_context(spec: IntegrationSpec) -> None:
    assert _resolve(spec, {}, {"region": "us"})["region_label"] == "region-us"


def test_given_value_wins_over_default(spec: IntegrationSpec) -> None:
    params = _resolve(spec, {"start_date": "2026-10-05", "workspace": "ws_1"})
    assert params["start_date"] == "2026-10-05"
    assert params["workspace"] == "ws_1"


def test_empty_string_counts_as_not_given_and_gets_the_default(spec: IntegrationSpec) -> None:
    assert _resolve(spec, {"end_date": ""})["end_date"] == "2026-11-26T12:30:00Z"


def test_parameter_without_default_and_not_given_is_absent(spec: IntegrationSpec) -> None:
    params = _resolve(spec, {})
    assert "day" not in params and "limit" not in params and "verbose" not in params


def test_required_parameter_without_value_or_default_is_an_error() -> None:
    text = SPEC_TEXT.replace(
        "workspace: {type: string, required: true, default: ws_default}", "workspace: {type: string, required: true}"
    )
    strict = load_spec("demo.yaml", text=text)
    with pytest.raises(InvalidParameterError, match="the parameter 'workspace' is required"):
        _resolve(strict, {})


def test_check_failure_raises_query_check_error_with_computed_message(spec: IntegrationSpec) -> None:
    with pytest.raises(QueryCheckError) as caught:
        _resolve(spec, {"start_date": "2026-12-01", "end_date": "2026-11-01"})
    assert caught.value.message == "start_date (2026-12-01) must not be after end_date (2026-11-01)"
    assert caught.value.http_status == 400


def test_check_sees_defaults_filled_from_the_pinned_clock(spec: IntegrationSpec) -> None:
    with pytest.raises(QueryCheckError, match=r"after end_date \(2026-11-26T12:30:00Z\)"):
        _resolve(spec, {"start_date": "2026-12-01"})


def test_literal_check_message_is_used_as_is(spec: IntegrationSpec) -> None:
    with pytest.raises(QueryCheckError) as caught:
        _resolve(spec, {"limit": "500"})
    assert caught.value.message == "limit must be at most 100"


def test_checks_pass_when_no_fail_if_holds(spec: IntegrationSpec) -> None:
    params = _resolve(spec, {"start_date": "2026-10-01", "end_date": "2026-10-31", "limit": "100"})
    assert params["limit"] == 100


def test_default_evaluating_to_a_malformed_value_is_a_typed_error() -> None:
    # A broken default is a mapping problem; it must surface as a unimeter error, never a bare ValueError.
    text = SPEC_TEXT.replace('default: {jsonata: "$now()"}', "default: {jsonata: \"'not a date'\"}")
    broken = load_spec("demo.yaml", text=text)
    with pytest.raises(UnimeterError):
        _resolve(broken, {})

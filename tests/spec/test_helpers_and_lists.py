"""``helpers:`` (named JSONata functions visible in every expression) and list parameters (``list: true``).

Each test loads a small inline mapping and runs it against a mock vendor: what the vendor receives and the rows that
come back are the behaviour, not the compiled text.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.helpers.specs import demo_spec, operation
from unimeter.api.query import parse_usage_query
from unimeter.errors import InvalidParameterError, SpecError
from unimeter.run.params import resolve_params
from unimeter.run.pipeline import alist_usage
from unimeter.spec import IntegrationSpec, lint_spec, load_spec

HELPERS = """\
helpers:
  text: {jsonata: "function($v) { $type($v) = 'string' and $v != '' ? $v }"}
  label:
    jsonata: |
      function($a, $b) { $join([$text($a), $text($b)], '/') }
"""
TRANSFORM = "{jsonata: \"{'id': $label(team, user), 'metric_name': $text(metric)}\"}"
RECORDS = '{jsonata: "data[$text(id)]"}'


def _run(spec: IntegrationSpec, body: Any, **options: Any) -> tuple[list[dict[str, Any]], list[httpx.Request]]:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json=body)

    response = asyncio.run(alist_usage(spec, transport=httpx.MockTransport(handler), **options))
    return response["result"], sent


def _helpers_spec(helpers: str = HELPERS, transform: str = TRANSFORM) -> str:
    return demo_spec(operation(records=RECORDS, transform=transform), fills="[id, metric_name]", sections=helpers)


def test_helpers_are_visible_in_every_expression_and_call_each_other() -> None:
    spec = load_spec("mappings/demo.yaml", text=_helpers_spec())
    body = {
        "data": [
            {"id": "a", "team": "core", "user": "ann", "metric": "tokens"},
            {"id": "", "team": "skipped", "user": "by the records filter"},
            {"id": "c", "team": "ops", "user": "", "metric": ""},
        ]
    }
    rows, _ = _run(spec, body, keep_remote_data=False)
    assert rows == [{"id": "core/ann", "metric_name": "tokens"}, {"id": "ops"}]


def test_an_expression_may_shadow_a_helper_locally() -> None:
    transform = "{jsonata: \"($text := function($v) { 'local' }; {'id': $text(id)})\"}"
    spec = load_spec("mappings/demo.yaml", text=_helpers_spec(transform=transform))
    rows, _ = _run(spec, {"data": [{"id": "x"}]}, keep_remote_data=False)
    assert rows == [{"id": "local"}]


@pytest.mark.parametrize(
    ("helpers", "message"),
    [
        ('helpers:\n  money: {jsonata: "function($v) { $v }"}\n', "helper name 'money' is a built-in function"),
        ('helpers:\n  string: {jsonata: "function($v) { $v }"}\n', "helper name 'string' is a built-in function"),
        ('helpers:\n  params: {jsonata: "function($v) { $v }"}\n', "helper name 'params' is an engine binding"),
        ('helpers:\n  rate: {jsonata: "0.25"}\n', "helper 'rate' must be a function"),
        ('helpers:\n  bad-name: {jsonata: "function($v) { $v }"}\n', "bad-name"),
    ],
)
def test_a_bad_helper_is_an_error_at_its_key(helpers: str, message: str) -> None:
    text = _helpers_spec(helpers=helpers, transform="{jsonata: \"{'id': id}\"}")
    with pytest.raises(SpecError) as caught:
        load_spec("mappings/demo.yaml", text=text)
    assert message in str(caught.value)
    # The demo spec's helpers: is line 7 and its one entry line 8; a bad name is reported at helpers: itself.
    assert caught.value.details["line"] == (7 if "bad-name" in helpers else 8)


def test_a_syntax_error_in_a_helper_is_located_in_the_helper() -> None:
    helpers = 'helpers:\n  text:\n    jsonata: |\n      function($v) {\n        $v = "" ? null : ($v\n      }\n'
    problems = lint_spec("mappings/demo.yaml", text=_helpers_spec(helpers=helpers))
    assert problems, "a missing ) must be reported"
    problem = problems[0]
    assert problem.details["key_path"] == "helpers.text.jsonata"
    # Line 11 lacks the ")"; the parser finds out at the "}" of line 12: both are the helper's, not the transform's.
    assert problem.details["line"] == 12, problem.message
    assert "^" in problem.message or "^" in str(problem)


LIST_SPEC = demo_spec(
    operation(
        ' {method: GET, path: /usage, query: {"project_ids[]": {jsonata: "$params.project_ids"}, '
        "models: {jsonata: \"$join($params.models, ',')\"}}}"
    ),
    sections="""\
params:
  project_ids: {type: string, list: true, note: Only these projects.}
  models: {type: string, list: true, enum: [small, large], default: [small]}
  day: {type: date}
""",
)


def _list_spec() -> IntegrationSpec:
    return load_spec("mappings/demo.yaml", text=LIST_SPEC)


def test_a_list_parameter_is_sent_as_repeated_query_values() -> None:
    _, sent = _run(_list_spec(), {"data": []}, params={"project_ids": ["p1", "p2", "p1"], "models": ["large"]})
    assert sent[0].url.params.get_list("project_ids[]") == ["p1", "p2"]  # duplicates dropped, order kept
    assert sent[0].url.params["models"] == "large"


def test_a_single_value_of_a_list_parameter_is_a_list_of_one_and_the_default_applies() -> None:
    params = resolve_params(_list_spec(), {"project_ids": "p1"}, {})
    assert params == {"project_ids": ["p1"], "models": ["small"]}


def test_each_value_of_a_list_parameter_is_checked() -> None:
    with pytest.raises(InvalidParameterError) as caught:
        resolve_params(_list_spec(), {"models": ["small", "huge"]}, {})
    assert "'huge'" in caught.value.message and "a list of one of small, large" in caught.value.message
    assert caught.value.details["parameter"] == "models"


def test_a_repeated_single_parameter_is_an_error_naming_it() -> None:
    with pytest.raises(InvalidParameterError) as caught:
        resolve_params(_list_spec(), {"day": ["2026-10-01", "2026-10-02"]}, {})
    assert "'day' is given more than once" in caught.value.message
    assert caught.value.details["parameter"] == "day"


def test_the_query_string_gives_lists_in_both_forms_and_keeps_single_values_single() -> None:
    account = "3f1f6a7e-8a8e-4a43-9d55-2f3b9b0a9a11"
    query = parse_usage_query(
        [
            ("integrated_account_id", account),
            ("project_ids[]", "p1"),
            ("models", "small"),
            ("models", "large"),
            ("day", "2026-10-01"),
            ("project_ids[]", "p2"),
        ]
    )
    assert query.params == {"project_ids": ["p1", "p2"], "models": ["small", "large"], "day": "2026-10-01"}
    one = parse_usage_query([("integrated_account_id", account), ("project_ids[]", "p1")])
    assert one.params == {"project_ids": ["p1"]}


@pytest.mark.parametrize("name", ["limit", "next_cursor", "truto_key_by", "integrated_account_id"])
def test_a_repeated_endpoint_parameter_is_an_error(name: str) -> None:
    account = "3f1f6a7e-8a8e-4a43-9d55-2f3b9b0a9a11"
    pairs = [("integrated_account_id", account), (name, "1"), (name, "2")]
    with pytest.raises(InvalidParameterError) as caught:
        parse_usage_query(pairs)
    assert caught.value.details["parameter"] == name


def test_an_unknown_truto_parameter_is_an_error_listing_the_known_ones() -> None:
    account = "3f1f6a7e-8a8e-4a43-9d55-2f3b9b0a9a11"
    with pytest.raises(InvalidParameterError) as caught:
        parse_usage_query([("integrated_account_id", account), ("truto_response_fromat", "raw")])
    assert "truto_response_fromat" in caught.value.message and "truto_response_format" in caught.value.message


def test_lint_knows_the_helpers_and_still_reports_an_unknown_function() -> None:
    assert lint_spec("mappings/demo.yaml", text=_helpers_spec()) == []
    typo = TRANSFORM.replace("$text(metric)", "$txet(metric)")
    problems = lint_spec("mappings/demo.yaml", text=_helpers_spec(transform=typo))
    messages = [p.message.split(": ", 1)[1] for p in problems]
    assert messages == ["unknown function $txet (operations[0].transform.jsonata)"]

"""Records -> unified rows: tidying (absent is not zero), remote_data, filter, validation and mapping errors."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.helpers.specs import demo_spec, operation
from unimeter.errors import (
    ExpressionEvaluationError,
    MappingError,
    RowValidationError,
    SpecError,
    VendorResponseError,
)
from unimeter.run.pipeline import alist_usage
from unimeter.spec import IntegrationSpec, load_spec


def _spec_text(
    transform: str, *, records: str = '{jsonata: "data"}', extra: str = "", pagination: str = "{kind: none}"
) -> str:
    """The demo spec reading ``GET /usage?page=`` page by page; ``extra`` follows the operation's transform."""
    request = ' {method: GET, path: /usage, query: {page: {jsonata: "$page"}}}'
    return demo_spec(
        operation(request, pagination=pagination, records=records, transform=transform), after_operations=extra
    )


def _spec(
    transform: str, *, records: str = '{jsonata: "data"}', extra: str = "", pagination: str = "{kind: none}"
) -> IntegrationSpec:
    return load_spec(
        "mappings/demo.yaml", text=_spec_text(transform, records=records, extra=extra, pagination=pagination)
    )


def _run(spec: IntegrationSpec, *bodies: Any, **options: Any) -> list[dict[str, Any]]:
    """Serve ``bodies`` as consecutive pages and return the unified rows."""
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json=bodies[len(sent) - 1])

    response = asyncio.run(alist_usage(spec, transport=httpx.MockTransport(handler), **options))
    assert len(sent) == len(bodies)
    rows: list[dict[str, Any]] = response["result"]
    return rows


TIDY = """
      jsonata: |
        {
          "id": id,
          "user": {"id": user_id, "email": email},
          "model": {"id": model},
          "usage": {"requests": {"total": requests, "chat": chat}, "tokens": {"input": input}},
          "resources": [{"id": resource}, null]
        }"""

NO_RESOURCES = TIDY.replace(',\n          "resources": [{"id": resource}, null]', "")


def test_nulls_and_empty_objects_are_pruned_but_a_vendor_zero_is_kept() -> None:
    record = {
        "id": "r1",
        "user_id": None,
        "email": "a@example.com",
        "model": None,
        "requests": 0,
        "chat": None,
        "resource": "res_1",
    }
    [row] = _run(_spec(TIDY), {"data": [record]}, keep_remote_data=False)
    assert row == {
        "id": "r1",
        "user": {"email": "a@example.com"},
        "usage": {"requests": {"total": 0}},
        "resources": [{"id": "res_1"}],
    }


def test_a_vendor_field_that_is_missing_is_omitted_not_zero() -> None:
    [row] = _run(_spec(NO_RESOURCES), {"data": [{"id": "r1", "chat": 3}]}, keep_remote_data=False)
    assert row == {"id": "r1", "usage": {"requests": {"chat": 3}}}


def test_empty_objects_inside_arrays_are_pruned() -> None:
    # "drops null values and empty objects from the row": an array item whose fields were all absent is an empty
    # object too, and must not reach validation as {} (resources[1] below).
    transform = """{jsonata: "{'id': id, 'resources': [{'id': first}, {'id': second}]}"}"""
    [row] = _run(_spec(transform), {"data": [{"id": "r1", "first": "res_1", "second": None}]}, keep_remote_data=False)
    assert row == {"id": "r1", "resources": [{"id": "res_1"}]}


def test_vendor_false_and_empty_string_are_kept() -> None:
    transform = """{jsonata: "{'id': id, 'surface': surface, 'usage': {'activity': {'is_active': active}}}"}"""
    [row] = _run(_spec(transform), {"data": [{"id": "r1", "surface": "", "active": False}]}, keep_remote_data=False)
    assert row == {"id": "r1", "surface": "", "usage": {"activity": {"is_active": False}}}


def test_remote_data_is_the_untouched_vendor_record() -> None:
    record = {"id": "r1", "requests": 0, "chat": None, "nested": {"empty": {}}}
    [row] = _run(_spec(NO_RESOURCES), {"data": [record]})
    assert row["remote_data"] == record


def test_remote_data_set_by_the_transform_is_kept() -> None:
    transform = """{jsonata: "{'id': id, 'remote_data': {'only': id}}"}"""
    [row] = _run(_spec(transform), {"data": [{"id": "r1", "other": 1}]})
    assert row["remote_data"] == {"only": "r1"}


def test_remote_data_is_left_out_when_not_wanted() -> None:
    [row] = _run(_spec("""{jsonata: "{'id': id}"}"""), {"data": [{"id": "r1"}]}, keep_remote_data=False)
    assert row == {"id": "r1"}


def test_a_transform_returning_an_array_makes_several_rows_sharing_the_record() -> None:
    transform = """{jsonata: "[{'id': id & ':in'}, {'id': id & ':out'}]"}"""
    rows = _run(_spec(transform), {"data": [{"id": "r1"}]})
    assert [row["id"] for row in rows] == ["r1:in", "r1:out"]
    assert all(row["remote_data"] == {"id": "r1"} for row in rows)


def test_row_failing_the_usage_schema_names_integration_file_record_index_and_json_path() -> None:
    transform = """{jsonata: "{'id': id, 'usage': {'requests': {'total': total}}}"}"""
    with pytest.raises(RowValidationError) as caught:
        _run(_spec(transform), {"data": [{"id": "r0", "total": 1}, {"id": "r1", "total": "many"}]})
    error = caught.value
    assert error.details["integration"] == "demo"
    assert error.details["file"] == "demo.yaml"
    assert error.details["operation"] == "list"
    assert error.details["record_index"] == 1
    assert error.details["json_path"] == "$.usage.requests.total"
    for part in ("demo", "(demo.yaml,", "record 1", "$.usage.requests.total"):
        assert part in error.message


def test_record_index_counts_across_pages_of_one_window() -> None:
    transform = """{jsonata: "{'id': id, 'start_date': day}"}"""
    spec = _spec(transform, pagination='{kind: page, stop: {jsonata: "$not(more)"}}')
    with pytest.raises(RowValidationError) as caught:
        _run(
            spec,
            {"data": [{"id": "a", "day": "2026-10-01T00:00:00Z"}, {"id": "b"}], "more": True},
            {"data": [{"id": "c"}, {"id": "d", "day": "2026-10-01"}], "more": False},
        )
    assert caught.value.details["record_index"] == 3
    assert caught.value.details["json_path"] == "$.start_date"


def test_required_id_that_comes_back_undefined_is_a_row_validation_error() -> None:
    transform = """{jsonata: "{'id': identifier, 'metric_name': 'x'}"}"""
    with pytest.raises(RowValidationError) as caught:
        _run(_spec(transform), {"data": [{"id": "r1"}]})
    assert caught.value.details["json_path"] == "$"
    assert "'id' is a required property" in caught.value.message


def test_unknown_unified_field_is_a_row_validation_error() -> None:
    transform = """{jsonata: "{'id': id, 'cost': 3}"}"""
    with pytest.raises(RowValidationError, match="cost"):
        _run(_spec(transform), {"data": [{"id": "r1"}]})


@pytest.mark.parametrize(
    ("transform", "type_name"),
    [
        ("""{jsonata: "'just text'"}""", "str"),
        ("""{jsonata: "42"}""", "int"),
        ("""{jsonata: "[{'id': id}, 'stray']"}""", "str"),
    ],
)
def test_transform_returning_a_non_object_is_a_mapping_error_with_record_index(transform: str, type_name: str) -> None:
    with pytest.raises(MappingError) as caught:
        _run(_spec(transform), {"data": [{"id": "r0"}, {"id": "r1"}]})
    assert not isinstance(caught.value, RowValidationError)
    assert caught.value.details["record_index"] == 0
    assert f"returned {type_name} for record 0" in caught.value.message
    assert "(demo.yaml)" in caught.value.message


def test_transform_evaluation_error_names_record_index() -> None:
    transform = """{jsonata: "{'id': $string($number(amount))}"}"""
    with pytest.raises(ExpressionEvaluationError) as caught:
        _run(_spec(transform), {"data": [{"amount": "1"}, {"amount": "lots"}]})
    assert caught.value.details["record_index"] == 1
    assert "record 1" in caught.value.message


def test_duplicate_row_ids_within_a_page_are_a_mapping_error() -> None:
    transform = """{jsonata: "{'id': day}"}"""
    with pytest.raises(MappingError, match="two rows with the id '2026-10-01'") as caught:
        _run(_spec(transform), {"data": [{"day": "2026-10-01"}, {"day": "2026-10-02"}, {"day": "2026-10-01"}]})
    assert caught.value.details["row_id"] == "2026-10-01"


def test_duplicate_row_ids_across_pages_are_a_mapping_error() -> None:
    spec = _spec("""{jsonata: "{'id': id}"}""", pagination='{kind: page, stop: {jsonata: "$not(more)"}}')
    with pytest.raises(MappingError, match="two rows with the id 'b'"):
        _run(spec, {"data": [{"id": "a"}, {"id": "b"}], "more": True}, {"data": [{"id": "b"}], "more": False})


def test_filter_drops_rows_it_does_not_hold_for() -> None:
    extra = '    filter: {jsonata: "usage.requests.total > 0"}\n'
    transform = """{jsonata: "{'id': id, 'usage': {'requests': {'total': n}}}"}"""
    rows = _run(
        _spec(transform, extra=extra),
        {"data": [{"id": "a", "n": 2}, {"id": "b", "n": 0}, {"id": "c"}, {"id": "d", "n": 5}]},
    )
    assert [row["id"] for row in rows] == ["a", "d"]


def test_filter_sees_the_tidied_row_and_params() -> None:
    text = _spec_text(
        """{jsonata: "{'id': id, 'user': {'email': email}}"}""",
        records='{jsonata: "data"}',
        pagination="{kind: none}",
        extra='    filter: {jsonata: "$exists(user) and user.email != $params.skip"}\n',
    )
    text = text.replace("operations:", "params:\n  skip: {type: string}\noperations:")
    spec = load_spec("mappings/demo.yaml", text=text)
    rows = _run(
        spec,
        {
            "data": [
                {"id": "a", "email": "x@example.com"},
                {"id": "b", "email": None},
                {"id": "c", "email": "y@example.com"},
            ]
        },
        params={"skip": "y@example.com"},
    )
    assert [row["id"] for row in rows] == ["a"]


def test_filtered_rows_are_not_validated() -> None:
    extra = "    filter: {jsonata: \"$not(id = 'bad')\"}\n"
    transform = """{jsonata: "{'id': id, 'start_date': day}"}"""
    rows = _run(_spec(transform, extra=extra), {"data": [{"id": "bad", "day": "not a date"}, {"id": "ok"}]})
    assert [row["id"] for row in rows] == ["ok"]


def test_records_selecting_a_single_element_are_still_a_list() -> None:
    # JSONata collapses a one-element sequence to the element itself: data.items over one item is an object.
    spec = _spec("""{jsonata: "{'id': id}"}""", records='{jsonata: "data.items"}')
    rows = _run(spec, {"data": [{"items": [{"id": "only", "n": 1}]}]})
    assert [row["id"] for row in rows] == ["only"]
    assert rows[0]["remote_data"] == {"id": "only", "n": 1}


def test_records_selecting_several_elements_flatten_in_order() -> None:
    spec = _spec("""{jsonata: "{'id': id}"}""", records='{jsonata: "data.items"}')
    rows = _run(spec, {"data": [{"items": [{"id": "a"}, {"id": "b"}]}, {"items": [{"id": "c"}]}]})
    assert [row["id"] for row in rows] == ["a", "b", "c"]


def test_records_selecting_nothing_yield_no_rows() -> None:
    spec = _spec("""{jsonata: "{'id': id}"}""", records='{jsonata: "data.items"}')
    assert _run(spec, {"data": []}) == []
    assert _run(spec, {"data": {}}) == []


def test_an_answer_without_the_records_path_is_a_vendor_error_not_an_empty_result() -> None:
    spec = _spec("""{jsonata: "{'id': id}"}""", records='{jsonata: "data.items"}')
    with pytest.raises(VendorResponseError, match="answered without 'data'"):
        _run(spec, {})


# ------------------------------------------------------------------------------------------------ nested records

NESTED = """
      jsonata: |
        {'id': $bucket.day & ':' & project, 'metric_name': $bucket.kind}"""


def _nested_spec(bind: str = "") -> IntegrationSpec:
    extra = "\n    nested: {field: results" + (f", as: {bind}" if bind else "") + "}"
    text = _spec_text(NESTED.replace("$bucket", f"${bind}") if bind else NESTED, records='{jsonata: "data[]"}')
    text = text.replace('    records: {jsonata: "data[]"}', '    records: {jsonata: "data[]"}' + extra)
    return load_spec("mappings/demo.yaml", text=text.replace("fills: [id]", "fills: [id, metric_name, remote_data]"))


BUCKETS = {
    "data": [
        {"day": "d1", "kind": "cost", "results": [{"project": "p1", "v": 1}, {"project": "p2", "v": 2}], "end": 9},
        {"day": "d2", "kind": "cost", "results": []},
        {"day": "d3", "kind": "cost"},
        {"day": "d4", "kind": "usage", "results": [{"project": "p1", "v": 3}]},
    ]
}


@pytest.mark.parametrize("bind", ["", "day_bucket"])
def test_nested_records_see_their_bucket_and_keep_only_their_own_result_in_remote_data(bind: str) -> None:
    rows = _run(_nested_spec(bind), BUCKETS)
    assert [(row["id"], row["metric_name"]) for row in rows] == [
        ("d1:p1", "cost"),
        ("d1:p2", "cost"),
        ("d4:p1", "usage"),
    ]
    # The bucket as the vendor sent it, key order kept, with only the row's own result in results.
    assert rows[1]["remote_data"] == {"day": "d1", "kind": "cost", "results": [{"project": "p2", "v": 2}], "end": 9}
    assert list(rows[1]["remote_data"]) == ["day", "kind", "results", "end"]
    assert rows[2]["remote_data"] == {"day": "d4", "kind": "usage", "results": [{"project": "p1", "v": 3}]}


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"data": [{"day": "d1", "results": {"project": "p1"}}]}, "'results' of record 0 as an object"),
        ({"data": [{"day": "d1", "results": []}, "not a bucket"]}, "record 1 as a JSON str"),
    ],
)
def test_a_bucket_of_the_wrong_shape_is_a_vendor_response_error(body: Any, words: str) -> None:
    with pytest.raises(VendorResponseError) as caught:
        _run(_nested_spec(), body)
    assert words in caught.value.message


def test_nested_as_may_not_shadow_an_engine_binding() -> None:
    with pytest.raises(SpecError) as caught:
        _nested_spec("params")
    assert "nested.as 'params'" in caught.value.message


def test_pruning_a_row_never_changes_the_vendor_record_it_shares_objects_with() -> None:
    """A transform that passes a vendor object through (``usage.tokens: tokens``) hands the record's own dict to the
    row; the row loses its nulls, the record (the row's remote_data) keeps what the vendor sent."""
    transform = "{jsonata: \"{'id': id, 'usage': {'tokens': tokens}}\"}"
    spec = load_spec(
        "mappings/demo.yaml",
        text=_spec_text(transform).replace("fills: [id]", "fills: [id, usage.tokens, remote_data]"),
    )
    record = {"id": "r1", "tokens": {"input": 5, "output": None, "cache_read": None}}
    rows = _run(spec, {"data": [record]})
    assert rows[0]["usage"] == {"tokens": {"input": 5}}
    assert rows[0]["remote_data"] == {"id": "r1", "tokens": {"input": 5, "output": None, "cache_read": None}}

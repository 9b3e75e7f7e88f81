"""Splitting a requested range into vendor windows: in order, half-open, clipped at both ends."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.helpers.specs import GET_USAGE, demo_spec, operation
from unimeter.errors import MappingError, QueryCheckError
from unimeter.run.partitions import PartitionWindow, plan_windows
from unimeter.run.pipeline import alist_usage
from unimeter.spec import Scope, Template, load_spec
from unimeter.spec.jsonata import Expression
from unimeter.spec.model import PartitionSpec


def _literal(value: str) -> Template:
    return Template(expression=Expression(f"'{value}'"))


def _partition(kind: str, size: int, start: str | None = None, end: str | None = None) -> PartitionSpec:
    return PartitionSpec(
        kind=kind, size=size, start=_literal(start) if start else None, end=_literal(end) if end else None
    )


def _windows(kind: str, size: int, start: str, end: str) -> list[tuple[str | None, str | None, int]]:
    return [(w.start, w.end, w.index) for w in plan_windows(_partition(kind, size, start, end), Scope())]


def test_days_windows_of_30_split_a_range_and_clip_the_last_window() -> None:
    assert _windows("days", 30, "2026-01-01", "2026-03-15") == [
        ("2026-01-01T00:00:00Z", "2026-01-31T00:00:00Z", 0),
        ("2026-01-31T00:00:00Z", "2026-03-02T00:00:00Z", 1),
        ("2026-03-02T00:00:00Z", "2026-03-15T00:00:00Z", 2),
    ]


def test_days_range_of_exactly_one_window_is_one_window() -> None:
    assert _windows("days", 30, "2026-01-01", "2026-01-31") == [("2026-01-01T00:00:00Z", "2026-01-31T00:00:00Z", 0)]


def test_days_windows_keep_a_time_of_day_start() -> None:
    assert _windows("days", 1, "2026-01-01T12:00:00Z", "2026-01-03T06:00:00Z") == [
        ("2026-01-01T12:00:00Z", "2026-01-02T12:00:00Z", 0),
        ("2026-01-02T12:00:00Z", "2026-01-03T06:00:00Z", 1),
    ]


def test_months_windows_are_aligned_to_months_and_clipped_at_both_ends() -> None:
    assert _windows("months", 1, "2026-01-15", "2026-03-10") == [
        ("2026-01-15T00:00:00Z", "2026-02-01T00:00:00Z", 0),
        ("2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z", 1),
        ("2026-03-01T00:00:00Z", "2026-03-10T00:00:00Z", 2),
    ]


def test_months_windows_cross_a_year_boundary() -> None:
    assert _windows("months", 1, "2025-12-01", "2026-02-01") == [
        ("2025-12-01T00:00:00Z", "2026-01-01T00:00:00Z", 0),
        ("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z", 1),
    ]


def test_months_windows_of_size_three() -> None:
    assert _windows("months", 3, "2026-01-15", "2026-08-01") == [
        ("2026-01-15T00:00:00Z", "2026-04-01T00:00:00Z", 0),
        ("2026-04-01T00:00:00Z", "2026-07-01T00:00:00Z", 1),
        ("2026-07-01T00:00:00Z", "2026-08-01T00:00:00Z", 2),
    ]


def test_window_inside_one_month_is_clipped_at_both_ends() -> None:
    assert _windows("months", 1, "2026-02-10", "2026-02-20") == [("2026-02-10T00:00:00Z", "2026-02-20T00:00:00Z", 0)]


@pytest.mark.parametrize("kind", ["days", "months"])
def test_empty_range_is_a_query_check_error(kind: str) -> None:
    with pytest.raises(QueryCheckError, match="the requested range is empty"):
        plan_windows(_partition(kind, 1, "2026-03-01", "2026-03-01"), Scope())


@pytest.mark.parametrize("kind", ["days", "months"])
def test_inverted_range_is_a_query_check_error_naming_both_ends(kind: str) -> None:
    with pytest.raises(QueryCheckError) as caught:
        plan_windows(_partition(kind, 1, "2026-03-10", "2026-03-01"), Scope())
    assert "2026-03-10T00:00:00Z" in caught.value.message
    assert "2026-03-01T00:00:00Z" in caught.value.message
    assert caught.value.http_status == 400


def test_kind_none_is_one_window_with_whatever_start_and_end_give() -> None:
    windows = plan_windows(_partition("none", 1, "2026-03-01", "2026-03-10T05:00:00+01:00"), Scope())
    assert windows == [PartitionWindow("2026-03-01T00:00:00Z", "2026-03-10T04:00:00Z", 0)]


def test_kind_none_without_start_and_end_is_one_open_window() -> None:
    windows = plan_windows(PartitionSpec(kind="none"), Scope())
    assert windows == [PartitionWindow(None, None, 0)]
    assert windows[0].as_binding() == {"start": None, "end": None, "index": 0}


_WINDOW_QUERY = """
      query:
        from: {jsonata: "$window.start"}
        to: {jsonata: "$window.end"}
        n: {jsonata: "$window.index"}"""


def _spec_text(partition: str) -> str:
    """The demo spec with a date range and ``partition``, sending each window's bounds and index."""
    params = "params:\n  start_date: {type: date}\n  end_date: {type: date}\n"
    return demo_spec(operation(GET_USAGE + _WINDOW_QUERY), sections=f"{params}partition: {partition}\n")


def test_every_window_is_requested_in_order_through_the_pipeline() -> None:
    partition = (
        '{kind: days, size: 30, start: {jsonata: "$toInstant($params.start_date)"}, '
        'end: {jsonata: "$toInstant($params.end_date)"}}'
    )
    spec = load_spec("demo.yaml", text=_spec_text(partition))
    seen: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(dict(request.url.params))
        return httpx.Response(200, json={"data": [{"id": f"row-{len(seen)}"}]})

    result = asyncio.run(
        alist_usage(
            spec, params={"start_date": "2026-01-01", "end_date": "2026-03-15"}, transport=httpx.MockTransport(handler)
        )
    )
    assert seen == [
        {"from": "2026-01-01T00:00:00Z", "to": "2026-01-31T00:00:00Z", "n": "0"},
        {"from": "2026-01-31T00:00:00Z", "to": "2026-03-02T00:00:00Z", "n": "1"},
        {"from": "2026-03-02T00:00:00Z", "to": "2026-03-15T00:00:00Z", "n": "2"},
    ]
    assert [row["id"] for row in result["result"]] == ["row-1", "row-2", "row-3"]


def test_inverted_range_fails_before_any_request_is_sent() -> None:
    partition = (
        '{kind: months, size: 1, start: {jsonata: "$toInstant($params.start_date)"}, '
        'end: {jsonata: "$toInstant($params.end_date)"}}'
    )
    spec = load_spec("demo.yaml", text=_spec_text(partition))
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"data": []})

    with pytest.raises(QueryCheckError):
        asyncio.run(
            alist_usage(
                spec,
                params={"start_date": "2026-03-01", "end_date": "2026-02-01"},
                transport=httpx.MockTransport(handler),
            )
        )
    assert sent == []


def _sized_by_report(report: str) -> list[tuple[str | None, str | None, int]]:
    size = Template(expression=Expression("$params.report = 'long' ? 31 : 1"))
    partition = PartitionSpec(kind="days", size=size, start=_literal("2026-10-01"), end=_literal("2026-10-04"))
    return [(w.start, w.end, w.index) for w in plan_windows(partition, Scope(params={"report": report}))]


def test_a_size_expression_sizes_the_windows_by_the_query() -> None:
    # a vendor whose reports take a month per request and whose other endpoints take one day
    assert _sized_by_report("long") == [("2026-10-01T00:00:00Z", "2026-10-04T00:00:00Z", 0)]
    assert [w[0] for w in _sized_by_report("daily")] == [
        "2026-10-01T00:00:00Z",
        "2026-10-02T00:00:00Z",
        "2026-10-03T00:00:00Z",
    ]


@pytest.mark.parametrize("bad", ["0", "1.5", "'7'", "true", "null"])
def test_a_size_expression_that_is_not_a_whole_positive_number_is_a_mapping_error(bad: str) -> None:
    partition = PartitionSpec(
        kind="days", size=Template(expression=Expression(bad)), start=_literal("2026-10-01"), end=_literal("2026-10-04")
    )
    with pytest.raises(MappingError, match=r"partition\.size must evaluate to a whole number of at least 1"):
        plan_windows(partition, Scope())


def test_a_size_expression_loads_from_yaml() -> None:
    spec = load_spec(
        "demo.yaml",
        text=demo_spec(
            sections="partition: {kind: days, size: {jsonata: \"$params.n\"}, start: '2026-10-01', end: '2026-10-05'}\n"
        ),
    )
    windows = plan_windows(spec.partition, Scope(params={"n": 2}))
    assert [(w.start, w.end) for w in windows] == [
        ("2026-10-01T00:00:00Z", "2026-10-03T00:00:00Z"),
        ("2026-10-03T00:00:00Z", "2026-10-05T00:00:00Z"),
    ]

"""engine/jsonata.py: syntax errors with a position, the pinnable clock, and per-thread compiled expressions."""

from __future__ import annotations

import gc
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone

import pytest

from unimeter.spec.jsonata import Expression, JsonataEvaluationError, JsonataSyntaxError, current_time, pinned_now


@pytest.mark.parametrize(
    ("source", "position"),
    [
        ('{"a": 1,,}', 9),
        ("a.(b", 4),
        ("$x := ", 6),
    ],
)
def test_syntax_error_carries_the_position_where_parsing_stopped(source: str, position: int) -> None:
    with pytest.raises(JsonataSyntaxError) as raised:
        Expression(source)
    assert raised.value.position == position
    assert str(raised.value).startswith("S0")


def test_evaluation_error_keeps_the_jsonata_code() -> None:
    with pytest.raises(JsonataEvaluationError, match="T2001"):
        Expression('"a" + 1').evaluate({})


def test_pinned_now_pins_now_and_millis() -> None:
    moment = datetime(2026, 3, 1, 12, 30, 45, 678_000, tzinfo=UTC)
    both = Expression("{'now': $now(), 'millis': $millis()}")
    with pinned_now(moment):
        assert both.evaluate({}) == {"now": "2026-03-01T12:30:45.678Z", "millis": 1772368245678}
        assert current_time() == moment


def test_pinned_now_converts_an_offset_moment_to_utc() -> None:
    moment = datetime(2026, 3, 1, 1, 0, tzinfo=timezone(timedelta(hours=2)))
    with pinned_now(moment):
        assert Expression("$now()").evaluate({}) == "2026-02-28T23:00:00.000Z"


def test_the_clock_is_unpinned_after_the_block_even_on_error() -> None:
    with pytest.raises(RuntimeError), pinned_now(datetime(2000, 1, 1, tzinfo=UTC)):
        raise RuntimeError("inside the block")
    before = datetime.now(UTC)
    millis = Expression("$millis()").evaluate({})
    assert abs(millis - before.timestamp() * 1000) < 5_000
    assert Expression("$now()").evaluate({}).startswith(str(before.year))


def test_pinned_none_leaves_the_real_clock() -> None:
    with pinned_now(None):
        assert abs(Expression("$millis()").evaluate({}) - datetime.now(UTC).timestamp() * 1000) < 5_000


def test_nested_pins_restore_the_outer_one() -> None:
    outer, inner = datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
    now = Expression("$now()")
    with pinned_now(outer):
        with pinned_now(inner):
            assert now.evaluate({}) == "2027-01-01T00:00:00.000Z"
        assert now.evaluate({}) == "2026-01-01T00:00:00.000Z"


def test_one_expression_used_from_two_threads_gives_each_its_own_result() -> None:
    expression = Expression("$sum(items.(price * qty)) & ':' & $sha256(id)")
    barrier = threading.Barrier(2)

    def run(worker: int) -> list[str]:
        barrier.wait()
        results = []
        for i in range(300):
            data = {"id": f"{worker}-{i}", "items": [{"price": worker, "qty": i}, {"price": 1, "qty": 1}]}
            results.append(expression.evaluate(data))
        return results

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(run, [1, 2]))
    for worker, results in zip([1, 2], outcomes, strict=True):
        for i, result in enumerate(results):
            total, _, digest = result.partition(":")
            assert int(total) == worker * i + 1
            assert digest == Expression("$sha256(x)").evaluate({"x": f"{worker}-{i}"})


def test_an_expression_used_on_a_worker_thread_can_be_dropped_on_another(monkeypatch: pytest.MonkeyPatch) -> None:
    # A service evaluates on pool threads that outlive the request, and a spec (its expressions) may be dropped on
    # any thread: jsonatapy objects must never be dropped on a thread other than their own.
    unraisable: list[str] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda info: unraisable.append(str(info.exc_value)))
    with ThreadPoolExecutor(max_workers=1) as pool:
        expression = Expression("a + 1")
        assert pool.submit(expression.evaluate, {"a": 1}).result() == 2
        del expression
        gc.collect()
        assert unraisable == []
        # The worker's copy is still there for the next expression of that source, on that thread.
        assert pool.submit(Expression("a + 1").evaluate, {"a": 41}).result() == 42
    gc.collect()
    assert unraisable == []


def test_pinned_now_applies_per_thread() -> None:
    now = Expression("$now()")
    seen: list[str] = []

    def other_thread() -> None:
        seen.append(now.evaluate({}))

    with pinned_now(datetime(2001, 1, 1, tzinfo=UTC)):
        worker = threading.Thread(target=other_thread)
        worker.start()
        worker.join()
        assert now.evaluate({}) == "2001-01-01T00:00:00.000Z"
    assert not seen[0].startswith("2001")

"""An Expression keeps the generated code only where it was faster than jsonatapy over its trial evaluations.

Both paths give the same results, so which one runs is a matter of cost alone; a transform that computes a lot per
record can run slower as generated Python than in jsonatapy's Rust, and must not pay for having been compiled.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

import unimeter.spec.jsonata as jsonata_module
from unimeter.spec.jsonata import Expression


class _SlowJsonata:
    """A stand-in for jsonatapy's compiled expression that takes its time."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def evaluate(self, data: Any, bindings: Any = None) -> Any:
        time.sleep(0.002)
        return self.real.evaluate(data, bindings)


@pytest.fixture
def short_trial(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonata_module, "HOT", 1)
    monkeypatch.setattr(jsonata_module, "TRIAL", 8)


def test_generated_code_slower_than_jsonatapy_is_dropped(monkeypatch: pytest.MonkeyPatch, short_trial: None) -> None:
    def slow_generated(source: str) -> Any:
        def run(data: Any, bindings: Any) -> Any:
            time.sleep(0.002)
            return data["a"]["b"]

        return run

    monkeypatch.setattr(jsonata_module, "_fast", slow_generated)
    expression = Expression("a.b")
    results = [expression.evaluate({"a": {"b": n}}) for n in range(12)]
    assert results == list(range(12))  # the same answers while it tried both
    assert expression.fast is None
    assert expression.evaluate({"a": {"b": "after"}}) == "after"


def test_generated_code_faster_than_jsonatapy_stays(monkeypatch: pytest.MonkeyPatch, short_trial: None) -> None:
    real = Expression._compiled
    monkeypatch.setattr(Expression, "_compiled", lambda self: _SlowJsonata(real(self)))
    expression = Expression("a.b")
    results = [expression.evaluate({"a": {"b": n}}) for n in range(12)]
    assert results == list(range(12))
    assert expression.fast is not None
    assert expression._trial is None  # decided


def test_an_error_during_the_trial_is_jsonatapy_s(short_trial: None) -> None:
    expression = Expression("a + 1")
    assert expression.evaluate({"a": 1}) == 2
    for _ in range(4):  # both turns: the generated code falls back, jsonatapy raises its own error
        with pytest.raises(jsonata_module.JsonataEvaluationError, match="T2001"):
            expression.evaluate({"a": "x"})

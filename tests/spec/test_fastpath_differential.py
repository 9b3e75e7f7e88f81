"""The JSONata fast path (unimeter.spec.fastpath) gives exactly what jsonatapy gives, wherever it answers at all.

"Exactly": the same JSON types (``1`` is not ``1.0``, ``True`` is not ``1``), the same values, and the same key order
in objects, because rows are printed in that order. Where the fast path raises (an input it does not cover, or an
error), Expression re-evaluates with jsonatapy, so only the answers the fast path gives are compared; each test also
requires that the fast path answered often enough to mean something.

Three sources of inputs. (1) Every case of the official JSONata suite whose expression the fast path compiles.
(2) Every JSONata evaluation made while replaying every fixture case (transforms over the vendor records, records and
pagination expressions over response bodies, request templates, checks, defaults, with the engine's own bindings).
(3) The same over random valid vendor payloads generated from schemas/vendors/*.json. The whole subset is compared,
including the parts the engine leaves to jsonatapy because they measure slower there (``only_if_faster``).
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import unimeter.spec.jsonata as jsonata_module
from tests.helpers.paths import VENDOR_SCHEMAS
from tests.helpers.payloads import PayloadCase, check_random_payloads, payload_cases
from unimeter.spec import fastpath
from unimeter.spec.jsonata import Expression, JsonataEvaluationError, JsonataSyntaxError, fastpath_enabled
from unimeter.testing.fixtures import discover_cases, run_cases

SUITE = Path(__file__).resolve().parents[1] / "conformance" / "jsonata-suite"


@functools.cache
def whole_subset(source: str) -> Any:
    """The generated function for ``source``, compiled on first use here (the engine waits until it is hot)."""
    return fastpath.compile_expression(source, jsonata_module.HOST_FUNCTIONS)


def same(fast: Any, slow: Any) -> bool:
    """Equal with equal types all the way down, and objects in the same key order."""
    if type(fast) is not type(slow):
        return False
    if type(fast) is dict:
        return list(fast) == list(slow) and all(same(fast[key], slow[key]) for key in fast)
    if type(fast) is list:
        return len(fast) == len(slow) and all(same(a, b) for a, b in zip(fast, slow, strict=True))
    return bool(fast == slow)


@dataclass
class Comparison:
    answered: int = 0
    fell_back: int = 0
    mismatches: list[str] = field(default_factory=list)

    def check(self, expression: Expression, data: Any, bindings: dict[str, Any] | None) -> Any:
        """jsonatapy's result (or error), after comparing the fast path's answer with it."""
        before = copy.deepcopy((data, bindings))
        try:
            slow: tuple[str, Any] = ("value", expression._compiled().evaluate(data, bindings))
        except ValueError as error:
            slow = ("error", str(error))
        closure = whole_subset(expression.runs)
        if closure is not None:
            try:
                fast = closure(data, bindings)
            except Exception:
                self.fell_back += 1
            else:
                self.answered += 1
                if slow[0] == "error":
                    self.mismatches.append(f"{expression.runs!r}: fast gave {fast!r}, jsonatapy raised {slow[1]}")
                elif not same(fast, slow[1]):
                    self.mismatches.append(f"{expression.runs!r}: fast gave {fast!r}, jsonatapy {slow[1]!r}")
            if not same(before, (data, bindings)):
                self.mismatches.append(f"{expression.runs!r}: the fast path changed its input")
        if slow[0] == "error":
            raise JsonataEvaluationError(slow[1])
        return slow[1]


@pytest.fixture
def comparison(monkeypatch: pytest.MonkeyPatch) -> Iterator[Comparison]:
    """Every Expression.evaluate in the test runs both paths, compares them and returns jsonatapy's answer."""
    assert fastpath_enabled(), "the differential test needs the fast path on (unset UNIMETER_JSONATA_FASTPATH)"
    found = Comparison()

    def evaluate(self: Expression, data: Any, bindings: dict[str, Any] | None = None) -> Any:
        if bindings:
            bindings = {name: value for name, value in bindings.items() if name in self.variables} or None
        return found.check(self, data, bindings)

    monkeypatch.setattr(jsonata_module.Expression, "evaluate", evaluate)
    yield found


def _suite_cases() -> Iterator[tuple[str, str, Any, dict[str, Any] | None]]:
    for path in sorted((SUITE / "groups").glob("*/*.json")):
        loaded = json.loads(path.read_text(encoding="utf-8"))
        for index, case in enumerate(loaded if isinstance(loaded, list) else [loaded]):
            source = case["expr"] if "expr" in case else (path.parent / case["expr-file"]).read_text(encoding="utf-8")
            if "data" in case:
                data = case["data"]
            elif case.get("dataset") is None:
                data = None
            else:
                data = json.loads((SUITE / "datasets" / f"{case['dataset']}.json").read_text(encoding="utf-8"))
            yield f"{path.parent.name}/{path.stem}[{index}]", source, data, case.get("bindings") or None


def test_the_official_suite_agrees_wherever_the_fast_path_answers() -> None:
    compiled = answered = 0
    mismatches: list[str] = []
    for case_id, source, data, bindings in _suite_cases():
        try:
            expression = Expression(source)
        except (JsonataSyntaxError, ValueError):
            continue
        closure = whole_subset(expression.runs)
        if closure is None:
            continue
        compiled += 1
        try:
            fast = closure(copy.deepcopy(data), copy.deepcopy(bindings))
        except Exception:
            continue
        answered += 1
        try:
            slow = expression._compiled().evaluate(data, bindings, timeout=10_000)
        except ValueError as error:
            mismatches.append(f"{case_id} {source!r}: fast gave {fast!r}, jsonatapy raised {error}")
            continue
        if not same(fast, slow):
            mismatches.append(f"{case_id} {source!r}: fast gave {fast!r}, jsonatapy {slow!r}")
    assert not mismatches, "\n".join(mismatches[:30])
    print(f"suite: {compiled} compiled, {answered} answered")
    # Measured: 663 of the 1,686 cases compile and 359 are answered by the fast path (the rest meet arrays).
    assert compiled > 400 and answered > 250, (compiled, answered)


def test_every_fixture_replays_with_the_same_evaluations(comparison: Comparison) -> None:
    outcomes = run_cases(discover_cases())
    assert outcomes and all(outcome.ok for outcome in outcomes), [o.case.id for o in outcomes if not o.ok]
    assert not comparison.mismatches, "\n".join(comparison.mismatches[:30])
    print(f"fixtures: {comparison.answered} answered, {comparison.fell_back} fell back")
    # Measured: about 1,700 evaluations answered by the fast path, 30 fell back (arrays in the records).
    assert comparison.answered > 1000, (comparison.answered, comparison.fell_back)


PAYLOADS = payload_cases(VENDOR_SCHEMAS)


@pytest.mark.parametrize("payload", PAYLOADS, ids=[p.id for p in PAYLOADS])
def test_generated_vendor_payloads_give_the_same_evaluations(payload: PayloadCase, comparison: Comparison) -> None:
    check_random_payloads(payload)
    assert not comparison.mismatches, "\n".join(comparison.mismatches[:30])
    assert comparison.answered + comparison.fell_back > 0


def test_the_switch_turns_the_fast_path_off(monkeypatch: pytest.MonkeyPatch) -> None:
    on = Expression("a.b")
    for _ in range(jsonata_module.HOT):
        assert on.evaluate({"a": {"b": 1}}) == 1
    assert on.fast is not None
    monkeypatch.setenv("UNIMETER_JSONATA_FASTPATH", "0")
    off = Expression("a.b")
    for _ in range(jsonata_module.HOT):
        assert off.evaluate({"a": {"b": 1}}) == 1
    assert off.fast is None

"""Load and run the official JSONata conformance cases (../shared/jsonata-test-suite) through engine.jsonata."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from engine.jsonata import Expression, JsonataEvaluationError, JsonataSyntaxError

SUITE = Path(__file__).resolve().parents[1].parent / "shared" / "jsonata-test-suite"


def load_cases() -> list[tuple[str, dict[str, Any]]]:
    cases = []
    for path in sorted((SUITE / "groups").glob("*/*.json")):
        loaded = json.loads(path.read_text(encoding="utf-8"))
        items = loaded if isinstance(loaded, list) else [loaded]
        for index, case in enumerate(items):
            suffix = f"[{index}]" if isinstance(loaded, list) else ""
            cases.append((f"{path.parent.name}/{path.stem}{suffix}", case))
    return cases


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=0)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


def run_case(case_dir: Path, case: dict[str, Any]) -> str | None:
    """None when the engine agrees with the suite, else a one-line description of the difference."""
    expr = case.get("expr")
    if expr is None:
        expr = (case_dir / case["expr-file"]).read_text(encoding="utf-8")
    data = case.get("data")
    if case.get("dataset"):
        data = json.loads((SUITE / "datasets" / f"{case['dataset']}.json").read_text(encoding="utf-8"))
    wants_error = "code" in case or "error" in case
    try:
        result = Expression(expr).evaluate(data, case.get("bindings") or None)
    except (JsonataSyntaxError, JsonataEvaluationError) as error:
        return None if wants_error else f"raised {str(error)[:120]}"
    if wants_error:
        return f"returned {json.dumps(result)[:80]}; the suite expects error {case.get('code')}"
    if case.get("undefinedResult"):
        return None if result is None else f"returned {json.dumps(result)[:80]}; the suite expects undefined"
    if "result" in case:
        return None if _same(result, case["result"]) else (
            f"returned {json.dumps(result)[:80]}; the suite expects {json.dumps(case['result'])[:80]}")
    return None

"""Replay the recorded fixture cases in ``fixtures/<integration>/<case>/`` and compare with the expected output.

The format is documented in ``docs/fixtures.md``. Both ``unimeter check`` and pytest run cases through
:func:`run_case`, so the command and the test suite can never disagree.
"""

from __future__ import annotations

import asyncio
import difflib
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from ..errors import UnimeterError
from ..run.pipeline import iter_pages
from ..spec.functions import parse_instant
from ..spec.registry import integration_sources, load_integration
from .money import money_problems
from .replay import ReplayMismatch, ReplayTransport


@dataclass
class FixtureCase:
    integration: str
    name: str
    path: Path

    @property
    def id(self) -> str:
        return f"{self.integration}/{self.name}"

    def call(self) -> dict[str, Any]:
        data = yaml.safe_load((self.path / "case.yaml").read_text(encoding="utf-8")) or {}
        return data if isinstance(data, dict) else {}

    def exchanges(self) -> list[dict[str, Any]]:
        path = self.path / "exchanges.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else []

    def expected(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.path / "expected.json").read_text(encoding="utf-8"))
        return data


@dataclass
class CaseOutcome:
    case: FixtureCase
    problems: list[str] = field(default_factory=list)
    replayed: Replayed | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def discover_cases(integrations: list[str] | None = None, roots: list[Path] | None = None) -> list[FixtureCase]:
    """Every case folder (``<root>/<integration>/<case>/case.yaml``), sorted, optionally for some integrations.

    Without ``roots``, each integration's cases come from ``fixtures/`` beside the mappings folder it was found in
    (so a user's folder that overrides a built-in integration brings its own cases, not the built-in ones).
    """
    if roots is None:
        sources = integration_sources()
        wanted = [name for name in sources if not integrations or name in integrations]
        return [case for name in wanted for case in _cases_in(sources[name].fixtures_dir, name)]
    cases = [case for root in roots for case in _cases_in(root, None)]
    return [case for case in cases if not integrations or case.integration in integrations]


def _cases_in(root: Path, integration: str | None) -> list[FixtureCase]:
    pattern = f"{integration}/*/case.yaml" if integration else "*/*/case.yaml"
    return [FixtureCase(file.parent.parent.name, file.parent.name, file.parent) for file in sorted(root.glob(pattern))]


def _diff(expected: Any, actual: Any) -> str:
    want = json.dumps(expected, indent=2, sort_keys=True).splitlines()
    got = json.dumps(actual, indent=2, sort_keys=True).splitlines()
    return "\n".join(difflib.unified_diff(want, got, "expected.json", "actual", lineterm="", n=3))


@dataclass
class Replayed:
    """What replaying a case gave: the output or the error, the retry waits and any mismatch with the recording."""

    spec: Any = None
    actual: dict[str, Any] | None = None
    error: UnimeterError | None = None
    waits: list[float] = field(default_factory=list)
    rows_by_operation: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)


async def replay_case(case: FixtureCase) -> Replayed:
    """Run one case's call against its recorded exchanges."""
    replayed = Replayed()
    call = case.call()
    transport = ReplayTransport(case.exchanges())

    async def record_sleep(seconds: float) -> None:
        replayed.waits.append(seconds)

    now_raw = call.get("now")
    now: datetime | None = parse_instant(str(now_raw)) if now_raw else None
    try:
        replayed.spec = load_integration(case.integration)
        async for page in iter_pages(
            replayed.spec,
            credentials=call.get("credentials") or {},
            context=call.get("context") or {},
            params=call.get("params") or {},
            remote_query=call.get("remote_query"),
            now=now,
            transport=transport,
            sleep=record_sleep,
        ):
            replayed.rows_by_operation.extend((page.operation, row) for row in page.rows)
        replayed.actual = {"result": [row for _, row in replayed.rows_by_operation], "next_cursor": None}
    except ReplayMismatch as mismatch:
        replayed.mismatches.append(str(mismatch))
        return replayed
    except UnimeterError as raised:
        replayed.error = raised
    try:
        transport.assert_consumed()
    except ReplayMismatch as mismatch:
        replayed.mismatches.append(str(mismatch))
    return replayed


def expected_of(replayed: Replayed) -> dict[str, Any]:
    """The ``expected.json`` a replay's outcome satisfies (what ``record`` drafts and ``check --update`` writes)."""
    expected: dict[str, Any]
    if replayed.error is not None:
        want: dict[str, Any] = {"type": type(replayed.error).__name__}
        status = getattr(replayed.error, "status", None)
        if status is not None:
            want["status"] = status
        want["message_contains"] = str(replayed.error)
        expected = {"error": want}
    else:
        expected = dict(replayed.actual or {"result": [], "next_cursor": None})
    if replayed.waits:
        expected["waits"] = list(replayed.waits)
    return expected


def derived_expected(case: FixtureCase) -> dict[str, Any]:
    """Replay ``case`` and return the expected output it gives; a mismatch with its recording is an error."""
    replayed = asyncio.run(replay_case(case))
    if replayed.mismatches:
        raise ReplayMismatch(f"{case.id}: " + "; ".join(replayed.mismatches))
    return expected_of(replayed)


async def run_case(case: FixtureCase) -> CaseOutcome:
    """Replay one case; the outcome lists every mismatch in readable form."""
    outcome = CaseOutcome(case)
    if not (case.path / "expected.json").exists():
        outcome.problems.append(
            f"{case.path} has no expected.json: record the case (unimeter record {case.integration} {case.name})"
        )
        return outcome
    expected = case.expected()
    replayed = await replay_case(case)
    outcome.replayed = replayed
    outcome.problems.extend(replayed.mismatches)
    if replayed.actual is None and replayed.error is None:  # the replay stopped at a request not recorded
        return outcome
    error, actual, spec = replayed.error, replayed.actual, replayed.spec
    if "error" in expected:
        _compare_error(outcome, expected["error"], error, actual)
    elif error is not None:
        outcome.problems.append(f"expected a result, got {type(error).__name__}: {error}")
    else:
        money = {operation.name: operation.money for operation in spec.operations}
        for operation, row in replayed.rows_by_operation:
            outcome.problems.extend(money_problems(row, money[operation], operation))
        want = {k: v for k, v in expected.items() if k != "waits"}
        if actual != want:
            outcome.problems.append(_diff(want, actual))
    if "waits" in expected and [float(w) for w in expected["waits"]] != replayed.waits:
        outcome.problems.append(f"retry waits {replayed.waits} != expected {expected['waits']}")
    return outcome


def update_case(outcome: CaseOutcome) -> str | None:
    """Rewrite a failed case's ``expected.json`` from its replay; the diff written, or None when it cannot be.

    A case whose requests do not match its recording is not updated: its exchanges, not its output, are wrong.
    """
    replayed = outcome.replayed
    if replayed is None or replayed.mismatches:
        return None
    path = outcome.case.path / "expected.json"
    old = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    new = expected_of(replayed)
    kept = (old.get("error") or {}).get("message_contains")
    if replayed.error is not None and kept and kept in str(replayed.error):
        new["error"]["message_contains"] = kept  # keep a hand-picked substring that still holds
    path.write_text(json.dumps(new, indent=2) + "\n", encoding="utf-8")
    return _diff(old, new).replace("\n+++ actual", "\n+++ expected.json (updated)", 1)


def _compare_error(
    outcome: CaseOutcome, want: dict[str, Any], error: UnimeterError | None, actual: dict[str, Any] | None
) -> None:
    if error is None:
        outcome.problems.append(f"expected {want.get('type')}, got a result: {json.dumps(actual)[:300]}")
        return
    if want.get("type") and type(error).__name__ != want["type"]:
        outcome.problems.append(f"expected error {want['type']}, got {type(error).__name__}: {error}")
    if "status" in want and getattr(error, "status", None) != want["status"]:
        outcome.problems.append(f"expected vendor status {want['status']}, got {getattr(error, 'status', None)}")
    if "message_contains" in want and want["message_contains"] not in str(error):
        outcome.problems.append(f"error message {str(error)!r} does not contain {want['message_contains']!r}")


def run_cases(cases: list[FixtureCase]) -> list[CaseOutcome]:
    """Run cases one after another (each replay is independent)."""

    async def run_all() -> list[CaseOutcome]:
        return [await run_case(case) for case in cases]

    return asyncio.run(run_all())

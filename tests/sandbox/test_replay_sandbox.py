"""The replay sandbox: an integration's recorded fixture cases served on loopback (``unimeter sandbox
--from-fixtures``), so an integration written only in YAML gets the fault matrix and a local endpoint too.

- Every integration's ``defaults`` case, replayed over real HTTP through the engine, gives exactly its expected rows,
  every recorded request asked once; and every case, preferred with ``--case``, gives its own expected output.
- The fault matrix of tests/sandbox/test_sandbox_faults.py, for YAML-only integrations: copies of shipped mappings
  under new names with their fixture cases, in a user mappings folder (no simulator, no Python for the vendor).
  Every fault kind ends in the complete result or the right typed error; the pagination kinds hit page 2 of a
  recorded page chain, where the replay derives them.
- A wrong key gets the recorded 401; a request recorded nowhere is a 404 that names the closest recording's case
  and its ``now``.
- The CLI prints the endpoints as JSON, and a query on the printed endpoint works.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers.credentials import secret_forms
from tests.helpers.paths import MappingsFolder
from tests.sandbox.test_sandbox_faults import CLIENT_TIMEOUT, CONFIG, RECOVERS, _without_remote_data
from unimeter.errors import (
    PaginationLoopError,
    UnimeterError,
    VendorAuthError,
    VendorClientError,
    VendorResponseError,
)
from unimeter.resources import builtin_fixtures_dir, builtin_mappings_dir
from unimeter.run.pipeline import alist_usage
from unimeter.sandbox import FAULT_KINDS, account_fields
from unimeter.sandbox.replay import ReplaySimulator, start_replay_sandbox
from unimeter.sandbox.replay_diagnosis import not_recorded
from unimeter.sandbox.replay_recording import Incoming, Recorded, ReplayCase
from unimeter.spec.functions import parse_instant
from unimeter.testing.fixtures import FixtureCase, discover_cases, run_cases

PAGINATION_FAULTS = {"loop_cursor", "restart_cursor", "expired_cursor"}
TIMEOUT = 30  # seconds: the bound of the CLI subprocess and of each wait on it


def _case(integration: str, name: str) -> FixtureCase:
    found = [case for case in discover_cases([integration]) if case.name == name]
    assert found, f"{integration} has no case {name!r}"
    return found[0]


def _query(endpoint: dict[str, Any], integration: str, case: FixtureCase, **options: Any) -> dict[str, Any]:
    """Run ``case``'s call on ``endpoint`` through the engine, with the case's own account (as the command lists
    it when it differs from the endpoint's): the rows, or the typed error, and the retry waits."""
    call = case.call()
    account = {"credentials": call.get("credentials") or {}, "context": call.get("context") or {}}
    endpoint = {**endpoint, **account}
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    try:
        response = asyncio.run(
            alist_usage(
                integration,
                **{**account_fields(endpoint), **options},
                params=call.get("params") or {},
                now=parse_instant(str(call["now"])),
                sleep=sleep,
                timeout=CLIENT_TIMEOUT,
            )
        )
    except UnimeterError as error:
        return {"error": error, "waits": waits}
    return {"result": response["result"], "waits": waits}


# ------------------------------------------------------------------------------- every integration's defaults


def test_defaults_case_replays_over_loopback(integration: str) -> None:
    cases = [case for case in discover_cases([integration]) if case.name == "defaults"]
    if not cases:
        pytest.skip(f"{integration} has no defaults case")
    case = cases[0]
    with start_replay_sandbox([integration]) as replay:
        endpoint = replay.endpoints()[integration]
        assert endpoint["base_url"].startswith("http://127.0.0.1:")
        assert endpoint["credentials"] == {k: str(v) for k, v in (case.call().get("credentials") or {}).items()}
        outcome = _query(endpoint, integration, case)
        assert "error" not in outcome, outcome.get("error")
        assert outcome["result"] == case.expected()["result"]
        assert replay.sandbox.request_count(integration) == len(case.exchanges())


def test_every_case_is_answered_when_preferred(integration: str) -> None:
    """``--case CASE`` puts a case's recorded answers first: each case then gives its own expected output, errors
    included (the unauthorized case's 401 instead of the defaults' rows for the same request)."""
    problems: list[str] = []
    with start_replay_sandbox([integration]) as replay:
        endpoint = replay.endpoints()[integration]
        outcomes = []
        for case in discover_cases([integration]):
            replay.simulators[integration].prefer_cases([case.name])
            outcomes.append((case, _query(endpoint, integration, case, remote_query=case.call().get("remote_query"))))
    for case, outcome in outcomes:
        expected = case.expected()
        error = outcome.get("error")
        if "error" in expected:
            want, status = expected["error"], getattr(error, "status", None)
            if error is None or type(error).__name__ != want["type"] or want.get("status", status) != status:
                problems.append(f"{case.name}: expected {want}, got {error!r}")
        elif error is not None:
            problems.append(f"{case.name}: expected rows, got {type(error).__name__}: {error}")
        elif outcome["result"] != expected["result"]:
            problems.append(f"{case.name}: rows differ from expected.json")
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------------------- YAML-only integrations


@dataclass(frozen=True)
class YamlOnly:
    """A copy of a shipped mapping under a new name, with its cases, in the test's user mappings folder."""

    name: str
    paged_case: str
    """A case whose recording holds a page chain (page 2 asked with what page 1 said)."""


def _expired_page_two(fixtures: Path, source_case: str) -> None:
    """A case whose page 2 is the vendor's 410 for an expired page token: the recording the replay needs to
    produce ``expired_cursor``."""
    source = fixtures / source_case
    case = fixtures / "page-two-expired"
    case.mkdir()
    call = yaml.safe_load((source / "case.yaml").read_text(encoding="utf-8"))
    call["description"] = f"{source_case} whose page 2 is a 410: the page token expired"
    (case / "case.yaml").write_text(yaml.safe_dump(call), "utf-8")
    exchanges = json.loads((source / "exchanges.json").read_text(encoding="utf-8"))[:2]
    exchanges[1]["response"] = {
        "status": 410,
        "headers": {"content-type": "application/json"},
        "body": {"error": "Gone", "message": "page token expired"},
    }
    (case / "exchanges.json").write_text(json.dumps(exchanges, indent=2), "utf-8")
    expected = {"error": {"type": "VendorClientError", "status": 410}}
    (case / "expected.json").write_text(json.dumps(expected), "utf-8")


@pytest.fixture(params=[("cursor", "several-pages", True), ("openai", "several-pages", False)], ids=["body", "query"])
def yaml_only(request: pytest.FixtureRequest, mappings_folder: MappingsFolder) -> YamlOnly:
    source, paged_case, with_expiry = request.param
    name = f"replayed-{source}"
    text = (builtin_mappings_dir() / f"{source}.yaml").read_text(encoding="utf-8")
    assert f"\nname: {source}\n" in text
    (mappings_folder.mappings / f"{name}.yaml").write_text(text.replace(f"\nname: {source}\n", f"\nname: {name}\n"))
    shutil.copytree(builtin_fixtures_dir() / source, mappings_folder.fixtures / name)
    if with_expiry:
        _expired_page_two(mappings_folder.fixtures / name, paged_case)
    outcomes = run_cases(discover_cases([name]))
    assert outcomes and all(outcome.ok for outcome in outcomes), [o.problems for o in outcomes if not o.ok]
    return YamlOnly(name, paged_case)


def _faulty_query(integration: YamlOnly, fault: str | None) -> dict[str, Any]:
    case = _case(integration.name, integration.paged_case)
    # The pagination kinds hit the second request, page 2 of the recorded chain; the others the first.
    faults = [(integration.name, fault, 1, 1 if fault in PAGINATION_FAULTS else 0)] if fault else []
    with start_replay_sandbox([integration.name], CONFIG, faults) as replay:
        endpoint = replay.endpoints()[integration.name]
        outcome = _query(endpoint, integration.name, case)
        outcome["credentials"] = endpoint["credentials"]
        simulator = replay.simulators[integration.name]
        outcome["expiring"] = simulator.expiring_cursors
        return outcome


@pytest.mark.parametrize("fault", FAULT_KINDS)
def test_fault_matrix_of_a_yaml_only_integration(yaml_only: YamlOnly, fault: str) -> None:
    baseline = _faulty_query(yaml_only, None)
    assert "error" not in baseline, baseline.get("error")
    expected = _case(yaml_only.name, yaml_only.paged_case).expected()["result"]
    assert baseline["result"] == expected and len(expected) > 1
    outcome = _faulty_query(yaml_only, fault)
    error = outcome.get("error")
    if fault in RECOVERS:
        assert error is None, f"{fault} should be retried, got {type(error).__name__}: {error}"
        assert outcome["result"] == expected
        assert len(outcome["waits"]) == 1
        if fault == "rate_limit":
            assert outcome["waits"] == [CONFIG.retry_after_seconds]
    elif fault in {"malformed", "truncated"}:
        assert isinstance(error, VendorResponseError), error
        assert "offset" in str(error)
    elif fault == "unauthorized":
        assert isinstance(error, VendorAuthError), error
        assert error.status == 401
    elif fault in {"loop_cursor", "restart_cursor"}:
        # Page 2 answered with page 1 again: the engine meets a page it has read.
        assert isinstance(error, PaginationLoopError), f"expected a loop error, got {error!r}"
    elif fault == "expired_cursor":
        if outcome["expiring"]:
            assert isinstance(error, VendorClientError) and error.status == 410, error
        else:  # nothing recorded a 410: the vendor never expires a token, page 2 is answered normally
            assert error is None and outcome["result"] == expected
    elif fault in {"empty_body", "null_body", "empty_object", "no_content", "nan"}:
        assert isinstance(error, VendorResponseError), error
        assert error.http_status == 502
    elif fault == "echo_auth":
        assert error is None, error
        assert [_without_remote_data(row) for row in outcome["result"]] == [_without_remote_data(r) for r in expected]
        shown = json.dumps(outcome["result"])
        for form in secret_forms(yaml_only.name, outcome["credentials"]):
            assert form not in shown, f"the echoed credentials reached the rows: {form[:6]}..."
    else:
        pytest.fail(f"no expectation for the fault {fault!r}: add one")


def test_a_wrong_key_gets_the_recorded_401(yaml_only: YamlOnly) -> None:
    case = _case(yaml_only.name, "defaults")
    with start_replay_sandbox([yaml_only.name], CONFIG) as replay:
        endpoint = replay.endpoints()[yaml_only.name]
        wrong = {field: f"{value}-wrong" for field, value in endpoint["credentials"].items()}
        outcome = _query(endpoint, yaml_only.name, case, credentials=wrong)
    error = outcome.get("error")
    assert isinstance(error, VendorAuthError) and error.status == 401, error
    unauthorized = json.loads((_case(yaml_only.name, "unauthorized").path / "exchanges.json").read_text())
    recorded = unauthorized[-1]["response"]["body"]
    assert any(str(text) in str(error) for text in _strings(recorded)), (error, recorded)


def _strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for value in node.values() for s in _strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in _strings(value)]
    return [node] if isinstance(node, str) and len(node) > 8 else []


def test_a_request_recorded_nowhere_names_the_closest_case_and_its_clock(yaml_only: YamlOnly) -> None:
    case = _case(yaml_only.name, "defaults")
    now = str(case.call()["now"])
    with start_replay_sandbox([yaml_only.name], CONFIG) as replay:
        endpoint = replay.endpoints()[yaml_only.name]
        later = datetime.fromisoformat(now.replace("Z", "+00:00")).replace(year=2030)
        waits: list[float] = []

        async def sleep(seconds: float) -> None:
            waits.append(seconds)

        with pytest.raises(VendorClientError) as raised:
            asyncio.run(alist_usage(yaml_only.name, **account_fields(endpoint), params={}, now=later, sleep=sleep))
    assert raised.value.status == 404
    message = str(raised.value)
    assert "no recorded exchange" in message and "pass the case's now" in message
    assert "defaults:" in message, message


def test_a_simulator_refuses_an_unknown_preferred_case(yaml_only: YamlOnly) -> None:
    with pytest.raises(ValueError, match="no case named 'nope'"):
        ReplaySimulator(yaml_only.name, CONFIG, prefer=["nope"])
    with pytest.raises(ValueError, match="no replayed integration has a case"):
        start_replay_sandbox([yaml_only.name], CONFIG, prefer=["nope"])


# ------------------------------------------------------------------------------- the command


def test_sandbox_from_fixtures_prints_endpoints_and_serves(
    yaml_only: YamlOnly, mappings_folder: MappingsFolder
) -> None:
    command = [sys.executable, "-m", "unimeter.cli", "sandbox", "--from-fixtures", yaml_only.name, "--json"]
    command += ["--mappings", str(mappings_folder.mappings), "--fault", f"{yaml_only.name}=rate_limit"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        text = ""
        while True:
            line = process.stdout.readline()
            assert line, f"sandbox exited early: {process.stderr.read() if process.stderr else ''}"
            text += line
            if line.startswith("}"):
                break
        endpoints = json.loads(text)
        assert list(endpoints) == [yaml_only.name]
        endpoint = endpoints[yaml_only.name]
        assert endpoint["base_url"].startswith("http://127.0.0.1:")
        listed = {case["name"]: case for case in endpoint["cases"]}
        assert set(listed) == {case.name for case in discover_cases([yaml_only.name])}
        defaults = _case(yaml_only.name, "defaults")
        assert listed["defaults"]["now"] == str(defaults.call()["now"])
        assert listed["defaults"]["expects"] == "result" and listed["unauthorized"]["expects"] == "error"
        # The query the printed endpoint and case ask for, through the --fault given on the command line.
        outcome = _query(endpoint, yaml_only.name, defaults)
        assert "error" not in outcome, outcome.get("error")
        assert outcome["result"] == defaults.expected()["result"]
        assert outcome["waits"] == [1.0]
    finally:
        process.terminate()
        process.wait(timeout=TIMEOUT)


def test_sandbox_from_fixtures_rejects_an_unknown_integration() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "unimeter.cli", "sandbox", "--from-fixtures", "no-such-vendor"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode == 2
    assert "no integration named 'no-such-vendor'" in result.stderr


def test_the_404_never_shows_a_credential_sent_or_recorded() -> None:
    case = ReplayCase("defaults", "", "2026-11-26T12:00:00Z", {}, {"api_key": "key_placeholder"}, {}, False, ())
    recorded = Recorded(
        case,
        0,
        "GET",
        "/v1/usage",
        Counter({("key", "key_placeholder"): 1, ("day", "2026-11-26"): 1}),
        False,
        None,
        {},
        {},
    )
    incoming = Incoming(
        "GET", "/v1/usage", Counter({("key", "REAL-SECRET"): 1, ("day", "2030-01-01"): 1}), None, True, {}
    )
    response = not_recorded("acme", [recorded], incoming, lambda r: 0, {"key_placeholder"})
    text = b"".join(response.chunks()).decode()
    assert response.status == 404
    assert "REAL-SECRET" not in text and "key_placeholder" not in text
    body = json.loads(text)
    assert body["closest"][0]["differs"] == [
        "query day=2030-01-01 (recorded 2026-11-26)",
        "query key (a credential; values not shown)",
    ]
    assert body["closest"][0]["now"] == "2026-11-26T12:00:00Z"

"""The fault matrix: every fault kind against every simulator, through the real engine over loopback HTTP.

Each run ends either in the complete, correct result (the same rows as a run without faults, after retries) or in the
right typed error; never in a partial list. Timeouts are short so the whole matrix runs in CI.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.helpers.credentials import secret_forms
from unimeter.errors import (
    PaginationLoopError,
    UnimeterError,
    VendorAuthError,
    VendorClientError,
    VendorResponseError,
)
from unimeter.run.pipeline import alist_usage
from unimeter.sandbox import (
    FAULT_KINDS,
    SIMULATORS,
    FaultPlan,
    SandboxConfig,
    account_fields,
    parse_fault,
    start_sandbox,
)
from unimeter.spec import load_integration

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)
CONFIG = SandboxConfig(
    seed=7, users=4, organizations=2, resources=3, retry_after_seconds=0.01, slow_seconds=1.0, now=NOW
)
CLIENT_TIMEOUT = 0.3


async def _no_sleep(_seconds: float) -> None:
    return None


def _query(name: str, fault: str | None, count: int = 1) -> dict[str, Any]:
    faults = [(name, fault, count)] if fault else []
    with start_sandbox([name], CONFIG, faults) as sandbox:
        endpoint = sandbox.endpoint(name)
        waits: list[float] = []

        async def sleep(seconds: float) -> None:
            waits.append(seconds)

        try:
            response = asyncio.run(
                alist_usage(
                    name,
                    **account_fields(endpoint),
                    params=SIMULATORS[name].sample_params(NOW),
                    now=NOW,
                    sleep=sleep,
                    timeout=CLIENT_TIMEOUT,
                )
            )
        except UnimeterError as error:
            return {"error": error, "waits": waits}
        return {"result": response["result"], "waits": waits, "credentials": endpoint["credentials"]}


BASELINES: dict[str, list[dict[str, Any]]] = {}


def _baseline(name: str) -> list[dict[str, Any]]:
    if name not in BASELINES:
        outcome = _query(name, None)
        assert "result" in outcome, f"{name} fails without faults: {outcome.get('error')}"
        assert outcome["result"], f"{name}'s sample query returns no rows; the matrix would prove nothing"
        BASELINES[name] = outcome["result"]
    return BASELINES[name]


def _paginates(name: str) -> bool:
    return any(operation.pagination.kind != "none" for operation in load_integration(name).operations)


RECOVERS = {"rate_limit", "server_error", "timeout", "reset"}


@pytest.mark.parametrize("fault", FAULT_KINDS)
@pytest.mark.parametrize("name", sorted(SIMULATORS))
def test_fault_ends_in_the_complete_result_or_a_typed_error(name: str, fault: str) -> None:
    expected = _baseline(name)
    outcome = _query(name, fault, 3 if fault == "loop_cursor" else 1)
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
    elif fault == "loop_cursor":
        if _paginates(name):
            assert isinstance(error, PaginationLoopError), f"expected a loop error, got {error!r}"
        else:  # one page and no cursor: nothing can loop, the answer is complete
            assert error is None and outcome["result"] == expected
    elif fault == "expired_cursor":
        if SIMULATORS[name].has_expiring_cursors:
            assert isinstance(error, VendorClientError) and error.status == 410, error
        else:
            assert error is None and outcome["result"] == expected
    elif fault in {"empty_body", "null_body", "empty_object", "no_content", "nan"}:
        # Not an end of data: an answer without the records the mapping reads is the vendor's failure.
        assert isinstance(error, VendorResponseError), error
        assert error.http_status == 502
    elif fault == "restart_cursor":
        # Caught as a loop where the vendor had a next page to send back to the start; else complete.
        if error is not None:
            assert isinstance(error, PaginationLoopError), error
        else:
            assert outcome["result"] == expected
    elif fault == "echo_auth":
        assert error is None, error
        assert [_without_remote_data(row) for row in outcome["result"]] == [_without_remote_data(r) for r in expected]
        shown = json.dumps(outcome["result"])
        for form in secret_forms(name, outcome["credentials"]):
            assert form not in shown, f"the echoed credentials reached the rows: {form[:6]}..."
    else:
        pytest.fail(f"no expectation for the fault {fault!r}: add one")


def _without_remote_data(row: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in row.items() if key != "remote_data"}


def test_a_fault_can_wait_for_good_requests_before_it_hits() -> None:
    assert parse_fault("cursor=empty_body") == ("cursor", "empty_body", 1, 0)
    assert parse_fault("cursor=empty_body:2@3") == ("cursor", "empty_body", 2, 3)
    for bad, message in (("cursor=nan@x", "offset 'x'"), ("cursor=nan@-1", "negative"), ("cursor=nope", "unknown")):
        with pytest.raises(ValueError, match=message):
            parse_fault(bad)
    plan = FaultPlan()
    plan.add("empty_body", 2, after=1)
    assert [plan.next_fault() for _ in range(5)] == [None, "empty_body", "empty_body", None, None]

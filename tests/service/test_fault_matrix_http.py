"""The fault matrix over HTTP: every fault kind of the sandbox, against every integration, through the service's
unified endpoint in three ways of reading a result: one response (``truto_ignore_limit``, in the ``debug`` format so
its request log is scanned too), ``stream`` (resumed from the error line's ``next_cursor``), and ``limit`` pages
followed by ``next_cursor`` (a failed call retried once, as a client would).

Each cell ends in the complete, correct result or in a typed error envelope; rows delivered before an error are
exactly the start of the result, never a partial list passed off as whole, never a row twice, and no form of the
account's credentials appears in any answer. Faults hit the second vendor request, in the middle of the result. A
fault that surely hit (the sandbox served it) and always breaks the answer must end in the expected typed error.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers.credentials import secret_forms
from tests.helpers.ndjson import stream_lines
from tests.helpers.service_helpers import CURSOR_KEY, USAGE, SleepRecorder
from unimeter.api.limits import ServiceLimits
from unimeter.sandbox import FAULT_KINDS, SIMULATORS, Sandbox, SandboxConfig, account_fields, start_sandbox
from unimeter.service import UsageService, create_app
from unimeter.store import open_store

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)
CONFIG = SandboxConfig(
    seed=11, users=4, organizations=2, resources=3, retry_after_seconds=0.01, slow_seconds=1.0, now=NOW
)
MODES = ("unified", "stream", "paged")
AFTER = 1  # the fault hits the second vendor request
CELLS = [(kind, AFTER) for kind in FAULT_KINDS] + [("restart_cursor", 0)]
"""A cursor that restarts on the first page is the subtle one: no token repeats, only records do."""
BREAKS = {  # faults that no retry can cure, and the error each must end in when it hit
    "malformed": "remote_invalid_response",
    "truncated": "remote_invalid_response",
    "empty_body": "remote_invalid_response",
    "null_body": "remote_invalid_response",
    "empty_object": "remote_invalid_response",
    "no_content": "remote_invalid_response",
    "nan": "remote_invalid_response",
    "unauthorized": "remote_unauthorized",
}
RECOVERS = {"rate_limit", "server_error", "timeout", "reset", "echo_auth"}


@dataclass
class World:
    sandbox: Sandbox
    service: UsageService
    token: str
    accounts: dict[str, str] = field(default_factory=dict)
    credentials: dict[str, dict[str, Any]] = field(default_factory=dict)
    baselines: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder: Path = tmp_path_factory.mktemp("fault-matrix")
    store = open_store(f"sqlite://{folder / 'store.db'}", key_file=folder / "secret.key")
    limits = ServiceLimits(vendor_timeout_seconds=0.3)
    service = UsageService(store, CURSOR_KEY, sleep=SleepRecorder(), now=NOW, limits=limits)
    with start_sandbox(sorted(SIMULATORS), CONFIG) as sandbox:
        found = World(sandbox, service, store.create_token(environment="prod"))
        for name in sorted(SIMULATORS):
            endpoint = sandbox.endpoint(name)
            account = store.create_account(
                name,
                environment="prod",
                **account_fields(endpoint),
            )
            found.accounts[name] = str(account.id)
            found.credentials[name] = endpoint["credentials"]
        yield found


def _params(world: World, name: str, **extra: Any) -> dict[str, Any]:
    return {"integrated_account_id": world.accounts[name], **SIMULATORS[name].sample_params(NOW), **extra}


async def _read(client: httpx.AsyncClient, world: World, name: str, mode: str) -> dict[str, Any]:
    """Read the whole result in ``mode``: the rows, how it ended (``None`` or the error envelope), every error met
    on the way (a stream resumed, a page retried), every body."""
    rows: list[dict[str, Any]] = []
    bodies: list[str] = []
    errors: list[dict[str, Any]] = []
    if mode == "unified":
        response = await client.get(
            USAGE, params=_params(world, name, truto_ignore_limit="true", truto_response_format="debug")
        )
        bodies.append(response.text)
        if response.status_code != 200:
            return {"rows": rows, "error": response.json(), "errors": [response.json()], "bodies": bodies}
        body = response.json()
        assert body["next_cursor"] is None, "one response of everything has no next page"
        return {"rows": body["result"], "error": None, "errors": errors, "bodies": bodies}
    if mode == "stream":
        cursor: str | None = None
        for _ in range(2):  # the stream, then once more from its error line's next_cursor
            extra = {"truto_response_format": "stream", **({"next_cursor": cursor} if cursor else {})}
            response = await client.get(USAGE, params=_params(world, name, **extra))
            bodies.append(response.text)
            if response.status_code != 200:
                errors.append(response.json())
                return {"rows": rows, "error": response.json(), "errors": errors, "bodies": bodies}
            delivered, last = stream_lines(response.text)
            rows += delivered
            if "end" in last:
                return {"rows": rows, "error": None, "errors": errors, "bodies": bodies}
            errors.append(last["error"])
            cursor = last.get("next_cursor")
            if cursor is None:
                return {"rows": rows, "error": last["error"], "errors": errors, "bodies": bodies}
        return {"rows": rows, "error": errors[-1], "errors": errors, "bodies": bodies}
    limit = max(1, len(world.baselines[name]) // 4)
    cursor = None
    retried = False
    for _ in range(200):
        extra = {"limit": str(limit), **({"next_cursor": cursor} if cursor else {})}
        response = await client.get(USAGE, params=_params(world, name, **extra))
        bodies.append(response.text)
        if response.status_code != 200:
            errors.append(response.json())
            if retried:
                return {"rows": rows, "error": response.json(), "errors": errors, "bodies": bodies}
            retried = True  # a client retries a failed page once, with the same cursor
            continue
        body = response.json()
        assert len(body["result"]) <= limit
        rows += body["result"]
        cursor = body["next_cursor"]
        if cursor is None:
            return {"rows": rows, "error": None, "errors": errors, "bodies": bodies}
    raise AssertionError("limit paging did not end within 200 calls")


def _run(world: World, scenario: Any) -> Any:
    async def main() -> Any:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(world.service)),
            base_url="http://test",
            headers={"authorization": f"Bearer {world.token}"},
            timeout=60,
        ) as client:
            try:
                return await scenario(client)
            finally:
                await world.service.aclose()  # its pooled vendor connections belong to this event loop

    return asyncio.run(main())


def _comparable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows without remote_data: an echoing vendor adds (redacted) fields there, and nothing else changes."""
    return [{key: value for key, value in row.items() if key != "remote_data"} for row in rows]


def _baseline(world: World, name: str) -> list[dict[str, Any]]:
    if name not in world.baselines:
        world.baselines[name] = []
        outcome = _run(world, lambda client: _read(client, world, name, "unified"))
        assert outcome["error"] is None, f"{name} fails without faults: {outcome['error']}"
        assert len(outcome["rows"]) >= 4, f"{name}'s sample result is too small for the matrix to mean anything"
        world.baselines[name] = outcome["rows"]
    return world.baselines[name]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("fault", "after"), CELLS, ids=[f"{kind}@{after}" for kind, after in CELLS])
@pytest.mark.parametrize("name", sorted(SIMULATORS))
def test_every_cell_ends_complete_or_in_a_typed_error(
    world: World, name: str, fault: str, after: int, mode: str
) -> None:
    expected = _comparable(_baseline(world, name))
    world.sandbox.clear_faults(name)
    world.sandbox.inject(name, fault, count=3 if fault == "loop_cursor" else 1, after=after)
    try:
        outcome = _run(world, lambda client: _read(client, world, name, mode))
        hit = world.sandbox.pending_faults(name) == 0
    finally:
        world.sandbox.clear_faults(name)

    rows, error = _comparable(outcome["rows"]), outcome["error"]
    ids = [row["id"] for row in rows]
    assert len(ids) == len(set(ids)), f"a row came twice: {sorted({i for i in ids if ids.count(i) > 1})[:3]}"
    if error is None:
        assert rows == expected, f"{len(rows)} rows where the result has {len(expected)}, and no error said so"
    else:
        assert rows == expected[: len(rows)], "the rows before the error are not the start of the result"
    for met in outcome["errors"]:
        assert set(met) >= {"status", "error", "message"}, met
        assert met["status"] >= 400 and met["error"] not in {"internal_error", "mapping_error"}, met
    if fault in RECOVERS:
        assert outcome["errors"] == [], f"{fault} is retried or harmless, but the read met {outcome['errors']}"
    if hit and fault in BREAKS:
        assert outcome["errors"], f"{fault} hit, yet nothing said so"
        assert outcome["errors"][0]["error"] == BREAKS[fault], outcome["errors"][0]
    shown = "\n".join(outcome["bodies"])
    for form in secret_forms(name, world.credentials[name]):
        assert form not in shown, f"a form of {name}'s credentials reached an answer: {form[:6]}..."


def test_the_matrix_is_not_vacuous(world: World) -> None:
    """Each sample result takes more than one vendor request, so the fault on the second one lands in every
    integration's result, and a restarting cursor is caught where the vendor pages."""
    caught = {}
    for name in sorted(SIMULATORS):
        _baseline(world, name)
        before = world.sandbox.request_count(name)
        _run(world, lambda client, name=name: _read(client, world, name, "unified"))
        assert world.sandbox.request_count(name) - before > AFTER, f"{name}'s sample result takes one request"
        world.sandbox.inject(name, "restart_cursor", after=AFTER)
        outcome = _run(world, lambda client, name=name: _read(client, world, name, "paged"))
        world.sandbox.clear_faults(name)
        caught[name] = json.dumps(outcome["bodies"]).count("pagination_loop") > 0
    assert sum(caught.values()) >= 3, caught

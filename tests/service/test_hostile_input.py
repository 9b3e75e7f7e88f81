"""Hostile or broken input never costs a 500 or unbounded memory: bad account bodies, huge or deep bodies, far
dates, vendor NaN, results too large for one response, slow vendors, clients that hang up."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers.ndjson import stream_rows
from tests.helpers.service_helpers import USAGE, make_harness
from unimeter.api.limits import ServiceLimits
from unimeter.service import create_app

CURSOR_DAY = {"start_date": "2026-10-01", "end_date": "2026-10-01"}


def _cursor_page(count: int) -> httpx.Response:
    rows = [{"userId": n, "email": f"u{n}@example.com", "day": "2026-10-01", "isActive": True} for n in range(count)]
    return httpx.Response(200, json={"data": rows, "pagination": {"hasNextPage": False}})


def _harness(tmp_path: Path, vendor: httpx.AsyncBaseTransport, **limits: Any) -> Any:
    harness = make_harness(tmp_path)
    harness.service.transport = vendor
    harness.service.limits = ServiceLimits(**limits)
    return harness


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_a_non_json_number_in_an_account_body_is_a_400_and_the_listing_still_works(tmp_path: Path, value: str) -> None:
    harness = _harness(tmp_path, httpx.MockTransport(lambda r: _cursor_page(1)))
    harness.add_account("datadog", context={"site": "datadoghq.eu"})
    body = '{"integration": "datadog", "credentials": {"api_key": "a-1234", "application_key": "b-1234"}, '
    body += f'"context": {{"site": "datadoghq.eu", "view": {value}}}}}'

    async def scenario(client: httpx.AsyncClient) -> tuple[httpx.Response, httpx.Response]:
        created = await client.post("/integrated-accounts", content=body, headers={"content-type": "application/json"})
        return created, await client.get("/integrated-accounts")

    created, listing = harness.run(scenario)
    assert created.status_code == 400, created.text
    assert f"holds {value}" in created.json()["message"]
    assert listing.status_code == 200 and len(listing.json()["result"]) == 1


@pytest.mark.parametrize(
    ("context", "says"),
    [
        ({"site": "datadoghq.eu", "view": {"nested": True}}, "must be a string, a number or a boolean"),
        ({"site": "datadoghq.eu", "view": "x" * 5000}, "longer than 2048 characters"),
        ({"site": ["datadoghq.eu"]}, "must be a string, a number or a boolean"),
    ],
)
def test_account_context_values_are_checked_for_type_and_size(tmp_path: Path, context: Any, says: str) -> None:
    harness = _harness(tmp_path, httpx.MockTransport(lambda r: _cursor_page(1)))

    async def scenario(client: httpx.AsyncClient) -> httpx.Response:
        return await client.post(
            "/integrated-accounts",
            json={
                "integration": "datadog",
                "credentials": {"api_key": "a-1234", "application_key": "b-1234"},
                "context": context,
            },
        )

    response = harness.run(scenario)
    assert response.status_code == 400 and says in response.json()["message"]


def test_a_credential_that_is_not_a_string_is_refused(tmp_path: Path) -> None:
    harness = _harness(tmp_path, httpx.MockTransport(lambda r: _cursor_page(1)))

    async def scenario(client: httpx.AsyncClient) -> httpx.Response:
        return await client.post(
            "/integrated-accounts", json={"integration": "cursor", "credentials": {"api_key": 12345678}}
        )

    response = harness.run(scenario)
    assert response.status_code == 400 and "must be a string" in response.json()["message"]


def test_one_unreadable_stored_row_does_not_break_the_listing(tmp_path: Path) -> None:
    harness = _harness(tmp_path, httpx.MockTransport(lambda r: _cursor_page(1)))
    good = harness.add_account("cursor", label="good")
    bad = harness.add_account("cursor", label="bad")
    with sqlite3.connect(tmp_path / "accounts.db") as db:  # a value written by an older version: NaN
        db.execute("UPDATE unimeter_accounts SET context = ? WHERE id = ?", ('{"base_url": NaN}', bad))

    async def scenario(client: httpx.AsyncClient) -> httpx.Response:
        return await client.get("/integrated-accounts")

    listing = harness.run(scenario)
    assert listing.status_code == 200, listing.text
    shown = {row["id"]: row for row in listing.json()["result"]}
    assert shown[good]["status"] == "active"
    assert shown[bad]["status"] == "unreadable" and shown[bad]["error"] == "a stored value is corrupt"


def test_a_body_over_the_limit_is_refused_before_it_is_held(tmp_path: Path) -> None:
    harness = _harness(tmp_path, httpx.MockTransport(lambda r: _cursor_page(1)), max_body_bytes=1000)

    async def chunks() -> Any:
        for _ in range(50):
            yield b" " * 100

    async def scenario(client: httpx.AsyncClient) -> tuple[httpx.Response, httpx.Response]:
        declared = await client.post("/integrated-accounts", content=b" " * 5000)
        streamed = await client.post("/integrated-accounts", content=chunks())
        return declared, streamed

    declared, streamed = harness.run(scenario)
    assert declared.status_code == streamed.status_code == 413
    assert declared.json()["error"] == streamed.json()["error"] == "payload_too_large"


def test_a_deeply_nested_body_is_a_400(tmp_path: Path) -> None:
    harness = _harness(tmp_path, httpx.MockTransport(lambda r: _cursor_page(1)))

    async def scenario(client: httpx.AsyncClient) -> httpx.Response:
        return await client.post("/integrated-accounts", content=b"[" * 100_000 + b"]" * 100_000)

    response = harness.run(scenario)
    assert response.status_code == 400 and "nested deeper" in response.json()["message"]


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "1969-12-31"])
def test_far_past_and_future_dates_are_a_400(tmp_path: Path, day: str) -> None:
    harness = _harness(tmp_path, httpx.MockTransport(lambda r: _cursor_page(1)))
    account = harness.add_account("cursor")

    async def scenario(client: httpx.AsyncClient) -> httpx.Response:
        return await client.get(USAGE, params={"integrated_account_id": account, "start_date": day})

    response = harness.run(scenario)
    assert response.status_code == 400 and response.json()["details"]["parameter"] == "start_date"


def test_a_vendor_nan_is_a_502_without_a_server_path(tmp_path: Path) -> None:
    body = b'{"data": [{"userId": 1, "day": "2026-10-01", "linesAdded": NaN}], "pagination": {"hasNextPage": false}}'
    harness = _harness(tmp_path, httpx.MockTransport(lambda r: httpx.Response(200, content=body)))
    account = harness.add_account("cursor")

    async def scenario(client: httpx.AsyncClient) -> httpx.Response:
        return await client.get(USAGE, params={"integrated_account_id": account, **CURSOR_DAY})

    response = harness.run(scenario)
    assert response.status_code == 502 and "NaN" in response.json()["message"]
    assert str(Path.cwd()) not in response.text and "/mappings/" not in response.text


def test_a_mapping_error_names_the_mapping_file_but_no_server_path(tmp_path: Path) -> None:
    # two records for one user and day make two rows with one id: a mapping error (the service's own 500)
    page = {
        "data": [{"userId": 1, "day": "2026-10-01"}, {"userId": 1, "day": "2026-10-01"}],
        "pagination": {"hasNextPage": False},
    }
    harness = _harness(tmp_path, httpx.MockTransport(lambda r: httpx.Response(200, json=page)))
    account = harness.add_account("cursor")

    async def scenario(client: httpx.AsyncClient) -> httpx.Response:
        return await client.get(USAGE, params={"integrated_account_id": account, **CURSOR_DAY})

    response = harness.run(scenario)
    assert "cursor.yaml" in response.json()["message"]
    assert "/" not in response.json()["message"].split("cursor.yaml")[0].rsplit("(", 1)[-1]
    assert json.dumps(response.json()).count("/mappings/") == 0


def test_ignore_limit_past_the_row_bound_is_an_error_pointing_to_stream(tmp_path: Path) -> None:
    harness = _harness(tmp_path, httpx.MockTransport(lambda r: _cursor_page(30)), max_rows=20)
    account = harness.add_account("cursor")

    async def scenario(client: httpx.AsyncClient) -> tuple[httpx.Response, httpx.Response]:
        query = {"integrated_account_id": account, **CURSOR_DAY, "truto_ignore_limit": "true"}
        everything = await client.get(USAGE, params=query)
        streamed = await client.get(USAGE, params={**query, "truto_response_format": "stream"})
        return everything, streamed

    everything, streamed = harness.run(scenario)
    assert everything.status_code == 413 and everything.json()["error"] == "result_too_large"
    assert "truto_response_format=stream" in everything.json()["message"]
    assert streamed.status_code == 200
    assert len(stream_rows(streamed.text)) == 30


def test_a_hung_vendor_ends_at_the_request_deadline(tmp_path: Path) -> None:
    class Hung(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            await asyncio.sleep(30)
            return _cursor_page(1)

    harness = _harness(tmp_path, Hung(), deadline_seconds=0.3)
    account = harness.add_account("cursor")

    async def scenario(client: httpx.AsyncClient) -> tuple[httpx.Response, float]:
        started = time.monotonic()
        response = await client.get(USAGE, params={"integrated_account_id": account, **CURSOR_DAY})
        return response, time.monotonic() - started

    response, took = harness.run(scenario)
    assert response.status_code == 504 and response.json()["error"] == "deadline_exceeded"
    assert took < 5


def test_a_client_that_hangs_up_cancels_the_vendor_calls(tmp_path: Path) -> None:
    calls: list[str] = []
    cancelled = asyncio.Event()

    class Slow(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            calls.append(str(request.url))
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                cancelled.set()
                raise
            return _cursor_page(1)

    harness = _harness(tmp_path, Slow())
    account = harness.add_account("cursor")
    app = create_app(harness.service)

    async def main() -> None:
        query = f"integrated_account_id={account}&start_date=2026-01-01&end_date=2026-12-31".encode()
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": USAGE,
            "raw_path": USAGE.encode(),
            "query_string": query,
            "root_path": "",
            "client": ("127.0.0.1", 1),
            "server": ("test", 80),
            "headers": [(b"host", b"test"), (b"authorization", f"Bearer {harness.token}".encode())],
        }
        hung_up = asyncio.Event()
        messages = [{"type": "http.request", "body": b"", "more_body": False}]

        async def receive() -> dict[str, Any]:
            if messages:
                return messages.pop()
            await hung_up.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            return None

        served = asyncio.create_task(app(scope, receive, send))
        while not calls:
            await asyncio.sleep(0.01)
        hung_up.set()
        await asyncio.wait_for(cancelled.wait(), 5)
        await asyncio.wait_for(served, 5)

    asyncio.run(main())
    assert cancelled.is_set()
    assert len(calls) <= 5  # the windows running when the client left; nothing was started after it


def test_every_limit_is_read_from_its_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from unimeter.api.limits import ServiceLimits, limits_from_env
    from unimeter.errors import ConfigurationError

    assert limits_from_env() == ServiceLimits()
    for name, value in (
        ("UNIMETER_MAX_BODY_BYTES", "2048"),
        ("UNIMETER_MAX_RESPONSE_ROWS", "10"),
        ("UNIMETER_REQUEST_DEADLINE_SECONDS", "5.5"),
        ("UNIMETER_VENDOR_TIMEOUT_SECONDS", "2.5"),
    ):
        monkeypatch.setenv(name, value)
    assert limits_from_env() == ServiceLimits(
        max_body_bytes=2048, max_rows=10, deadline_seconds=5.5, vendor_timeout_seconds=2.5
    )
    monkeypatch.setenv("UNIMETER_VENDOR_TIMEOUT_SECONDS", "-1")
    with pytest.raises(ConfigurationError, match="UNIMETER_VENDOR_TIMEOUT_SECONDS must be positive"):
        limits_from_env()

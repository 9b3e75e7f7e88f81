"""Concurrent windows: same rows in the same order, bounded in-flight requests, the vendor rate limit kept."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from unimeter.errors import VendorAuthError
from unimeter.run.pipeline import alist_usage, iter_pages
from unimeter.run.ratelimit import RateLimiter
from unimeter.sandbox import SandboxConfig, account_fields, start_sandbox
from unimeter.sandbox.vendors.cursor import CursorSimulator
from unimeter.spec import IntegrationSpec, load_integration

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)
YEAR = {"start_date": "2025-11-01", "end_date": "2026-10-31"}  # 365 days: 13 windows of at most 30 days


def _with_concurrency(concurrency: int) -> IntegrationSpec:
    spec = load_integration("cursor")
    return dataclasses.replace(spec, partition=dataclasses.replace(spec.partition, concurrency=concurrency))


class _CountingTransport(httpx.AsyncBaseTransport):
    """Serves Cursor rows from the simulator's generator and records how many requests overlapped."""

    def __init__(self, fail_window_start: int | None = None) -> None:
        self.simulator = CursorSimulator(SandboxConfig(users=3))
        self.in_flight = 0
        self.peak = 0
        self.fail_window_start = fail_window_start
        self.started: list[int] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.started.append(body["startDate"])
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(0.01)
            if body["startDate"] == self.fail_window_start:
                return httpx.Response(401, json={"error": "Unauthorized", "message": "Invalid API key"})
            day = 86_400_000
            days = range(body["startDate"] - body["startDate"] % day, body["endDate"] + 1, day)
            data = [self.simulator.row(user, d) for d in days for user in range(3)]
            return httpx.Response(200, json={"data": data, "pagination": {"hasNextPage": False}})
        finally:
            self.in_flight -= 1


def _run(spec: IntegrationSpec, transport: httpx.AsyncBaseTransport) -> dict[str, Any]:
    return asyncio.run(
        alist_usage(spec, credentials={"api_key": "key_test"}, params=YEAR, now=NOW, transport=transport)
    )


def test_concurrent_windows_give_the_same_rows_in_the_same_order_as_sequential_ones() -> None:
    sequential, concurrent = _CountingTransport(), _CountingTransport()
    one_by_one = _run(_with_concurrency(1), sequential)
    four_at_once = _run(_with_concurrency(4), concurrent)
    assert len(one_by_one["result"]) == 365 * 3
    assert four_at_once == one_by_one
    assert sequential.peak == 1
    assert 1 < concurrent.peak <= 4


def test_a_failing_window_fails_the_query_after_the_earlier_windows_rows() -> None:
    spec = _with_concurrency(4)
    transport = _CountingTransport()
    _run(spec, transport)
    third_window_start = sorted(set(transport.started))[2]
    failing = _CountingTransport(fail_window_start=third_window_start)
    yielded: list[int] = []

    async def consume() -> None:
        async for page in iter_pages(
            spec, credentials={"api_key": "key_test"}, params=YEAR, now=NOW, transport=failing
        ):
            yielded.append(page.window.index)

    with pytest.raises(VendorAuthError):
        asyncio.run(consume())
    assert yielded == [0, 1], "windows before the failing one are delivered in order, nothing after it"


def test_rate_limiter_never_allows_more_than_the_limit_in_any_window() -> None:
    clock = [0.0]
    waits: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)
        clock[0] += seconds

    limiter = RateLimiter(3, 10.0, clock=lambda: clock[0])
    sent: list[float] = []

    async def send_many() -> None:
        for _ in range(8):
            await limiter.acquire(fake_sleep)
            sent.append(clock[0])
            clock[0] += 1.0

    asyncio.run(send_many())
    assert waits and all(w > 0 for w in waits)
    for moment in sent:
        assert sum(1 for other in sent if moment <= other < moment + 10.0) <= 3


def test_a_year_of_cursor_windows_keeps_the_vendor_rate_limit_against_the_sandbox() -> None:
    # 13 windows, 4 at once, against a sandbox that refuses (and counts) any request over 20 a minute.
    config = SandboxConfig(users=2, enforce_rate_limits=True, now=NOW)
    with start_sandbox(["cursor"], config) as sandbox:
        endpoint = sandbox.endpoint("cursor")
        response = asyncio.run(
            alist_usage(
                "cursor",
                **account_fields(endpoint),
                params=YEAR,
                now=NOW,
            )
        )
        assert len(response["result"]) == 365 * 2
        assert sandbox.request_count("cursor") == 13
        assert sandbox.rate_limit_violations("cursor") == 0

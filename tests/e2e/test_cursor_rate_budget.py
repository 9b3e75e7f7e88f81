"""Cursor allows 20 requests a minute per team and may answer 429 without Retry-After. 25 back-to-back and then 4
concurrent queries of one Cursor account, spread over two service instances on one store, against a sandbox that
enforces that limit and sends no Retry-After: every query completes, and the vendor refuses nothing.

This takes a real minute (29 requests at 20 a minute), on the real clock: the budget is time, so a fake clock would
prove nothing about the vendor's side. The assertions are about outcomes (statuses, refusals, rows), not durations.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx

from tests.helpers.service_helpers import CURSOR_KEY, USAGE
from unimeter.sandbox import SandboxConfig, account_fields, start_sandbox
from unimeter.service import UsageService, create_app
from unimeter.store import open_store

BACK_TO_BACK, CONCURRENT = 25, 4
DAY = {"start_date": "2026-11-02", "end_date": "2026-11-02"}  # one day, one window, one page: one request a query


def test_cursor_queries_over_two_instances_keep_its_20_a_minute_with_no_retry_after(tmp_path: Path) -> None:
    config = SandboxConfig(users=3, enforce_rate_limits=True, rate_limit_retry_after=False)
    with start_sandbox(["cursor"], config) as sandbox:
        endpoint = sandbox.endpoint("cursor")
        url = f"sqlite://{tmp_path / 'shared.db'}"
        stores = [open_store(url, key_file=tmp_path / "secret.key") for _ in range(2)]
        token = stores[0].create_token(environment="prod")
        account = stores[0].create_account(
            "cursor",
            environment="prod",
            **account_fields(endpoint),
        )
        instances = [UsageService(store, CURSOR_KEY) for store in stores]

        async def scenario() -> list[httpx.Response]:
            clients = [
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=create_app(instance)),
                    base_url="http://test",
                    headers={"authorization": f"Bearer {token}"},
                    timeout=180,
                )
                for instance in instances
            ]
            params: dict[str, Any] = {"integrated_account_id": str(account.id), **DAY}
            responses = [await clients[i % 2].get(USAGE, params=params) for i in range(BACK_TO_BACK)]
            responses += await asyncio.gather(*(clients[i % 2].get(USAGE, params=params) for i in range(CONCURRENT)))
            for client in clients:
                await client.aclose()
            for instance in instances:
                await instance.aclose()
            return responses

        responses = asyncio.run(scenario())
        statuses = [response.status_code for response in responses]
        failures = [response.text[:200] for response in responses if response.status_code != 200]
        assert statuses == [200] * (BACK_TO_BACK + CONCURRENT), failures
        assert sandbox.rate_limit_violations("cursor") == 0
        assert sandbox.request_count("cursor") == BACK_TO_BACK + CONCURRENT
        results = [response.json()["result"] for response in responses]
        assert results[0], "a day of three users has rows"
        assert all(result == results[0] for result in results)
        assert {row["start_date"][:10] for row in results[0]} == {"2026-11-02"}

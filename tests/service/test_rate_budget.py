"""One rate budget per account: concurrent and back-to-back queries of one account, in one service instance or in
several on the same store (SQLite or PostgreSQL), together keep the vendor's documented rate, and a 429 without
Retry-After waits out the vendor's declared window."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from tests.helpers.paths import MappingsFolder
from tests.helpers.service_helpers import CURSOR_KEY, USAGE, make_harness
from tests.helpers.specs import bearer_vendor_spec, day_rows, operation
from unimeter.run.pipeline import alist_usage
from unimeter.service import UsageService, create_app
from unimeter.spec import load_spec
from unimeter.store import open_store

REQUESTS, PER_SECONDS = 4, 0.6
SPEC = bearer_vendor_spec(
    "metered",
    operation(" {method: GET, path: /usage}", name="usage", transform=day_rows("m")),
    sections=f"rate_limit: {{requests: {REQUESTS}, per_seconds: {PER_SECONDS}}}\n",
)


class _Counting(httpx.AsyncBaseTransport):
    """Refuses (429, no Retry-After) any request over the documented rate, and records when each arrived."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.refused = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        now = time.monotonic()
        recent = [t for t in self.times if now - t < PER_SECONDS - 0.02]
        if len(recent) >= REQUESTS:
            self.refused += 1
            return httpx.Response(429, json={"error": "rate limited"})
        self.times.append(now)
        return httpx.Response(200, json={"data": [{"id": str(len(self.times))}]})


def test_concurrent_and_back_to_back_queries_of_one_account_share_its_budget(
    mappings_folder: MappingsFolder, tmp_path: Path
) -> None:
    (mappings_folder.mappings / "metered.yaml").write_text(SPEC, encoding="utf-8")
    vendor = _Counting()
    harness = make_harness(tmp_path)
    harness.service.transport = vendor
    harness.service.sleep = None  # the real clock: the budget is time
    account = harness.add_account("metered", credentials={"api_key": "metered-SECRET-1234"})

    async def scenario(client: httpx.AsyncClient) -> list[int]:
        async def one() -> int:
            return (await client.get(USAGE, params={"integrated_account_id": account})).status_code

        statuses = list(await asyncio.gather(*(one() for _ in range(4))))
        for _ in range(6):
            statuses.append(await one())
        return statuses

    statuses = harness.run(scenario)
    assert statuses == [200] * 10
    assert vendor.refused == 0, f"the vendor refused {vendor.refused} requests over its rate"
    assert len(vendor.times) == 10


def test_service_instances_on_one_store_share_each_accounts_budget(
    mappings_folder: MappingsFolder, tmp_path: Path, store_url: str
) -> None:
    (mappings_folder.mappings / "metered.yaml").write_text(SPEC, encoding="utf-8")
    stores = [open_store(store_url, key_file=tmp_path / "secret.key") for _ in range(2)]
    token = stores[0].create_token(environment="prod")
    account = stores[0].create_account("metered", environment="prod", credentials={"api_key": "metered-SECRET-1234"})
    vendor = _Counting()
    instances = [UsageService(store, CURSOR_KEY, transport=vendor) for store in stores]

    async def scenario() -> list[int]:
        clients = [
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=create_app(instance)),
                base_url="http://test",
                headers={"authorization": f"Bearer {token}"},
            )
            for instance in instances
        ]

        async def one(client: httpx.AsyncClient) -> int:
            return (await client.get(USAGE, params={"integrated_account_id": str(account.id)})).status_code

        # Three concurrent queries on each instance, then six back to back, alternating between them.
        statuses = list(await asyncio.gather(*(one(clients[i % 2]) for i in range(6))))
        for i in range(6):
            statuses.append(await one(clients[i % 2]))
        for client in clients:
            await client.aclose()
        return statuses

    assert asyncio.run(scenario()) == [200] * 12
    assert vendor.refused == 0, f"the vendor refused {vendor.refused} requests over its rate"
    assert len(vendor.times) == 12


def test_a_429_without_retry_after_waits_out_the_declared_window() -> None:
    spec = load_spec("metered.yaml", SPEC)
    answers = iter([httpx.Response(429, json={}), httpx.Response(200, json={"data": [{"id": "1"}]})])
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    result = asyncio.run(
        alist_usage(
            spec,
            credentials={"api_key": "k-123456"},
            transport=httpx.MockTransport(lambda r: next(answers)),
            sleep=record,
        )
    )
    assert [row["id"] for row in result["result"]] == ["m:1"]
    assert waits == [PER_SECONDS]

"""Continuing with next_cursor reads the vendor page it points into from the continuation cache, not the vendor."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import httpx

from unimeter.api.continuation import ContinuationCache
from unimeter.service import UsageService, create_app

ACCOUNT_ID = "11111111-1111-1111-1111-111111111111"


@dataclass
class _Account:
    id: str = ACCOUNT_ID
    integration: str = "cursor"
    credentials: dict[str, Any] = field(default_factory=lambda: {"api_key": "key_test"})
    context: dict[str, Any] = field(default_factory=dict)
    status: str = "active"

    def to_public(self) -> dict[str, Any]:
        return {"id": self.id}


class _Store:
    def resolve_token(self, token: str) -> str | None:
        return "prod" if token == "tok" else None

    def get_account(self, account_id: str, *, environment: str) -> _Account:
        return _Account()

    def mark_status(self, account_id: str, *, environment: str, status: str) -> None:
        return None


def _day_rows(day: str) -> list[dict[str, Any]]:
    return [{"userId": user, "day": day, "email": f"u{user}@example.com", "isActive": True} for user in range(30)]


def _read_all(service: UsageService, limit: int) -> tuple[list[str], int]:
    app = create_app(service)

    async def run() -> tuple[list[str], int]:
        ids: list[str] = []
        cursor: str | None = None
        responses = 0
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            while True:
                query = {
                    "integrated_account_id": ACCOUNT_ID,
                    "start_date": "2026-10-01",
                    "end_date": "2026-10-01",
                    "limit": str(limit),
                    **({"next_cursor": cursor} if cursor else {}),
                }
                response = await client.get(
                    "/unified/usage-metering/usage", params=query, headers={"Authorization": "Bearer tok"}
                )
                assert response.status_code == 200, response.text
                body = response.json()
                ids.extend(row["id"] for row in body["result"])
                responses += 1
                cursor = body["next_cursor"]
                if cursor is None:
                    return ids, responses

    return asyncio.run(run())


def test_paging_a_large_vendor_page_fetches_it_once() -> None:
    requests: list[httpx.Request] = []

    def vendor(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, json={"data": _day_rows("2026-10-01"), "pagination": {"hasNextPage": False}})

    service = UsageService(_Store(), b"k" * 32, transport=httpx.MockTransport(vendor))
    ids, responses = _read_all(service, 7)
    assert ids == [f"cursor:2026-10-01:{user}" for user in range(30)]
    assert responses == 5
    assert len(requests) == 1, "continuations read the cached vendor page"


def test_a_new_query_is_never_served_from_the_cache() -> None:
    served = {"count": 0}

    def vendor(request: httpx.Request) -> httpx.Response:
        served["count"] += 1
        return httpx.Response(200, json={"data": _day_rows("2026-10-01"), "pagination": {"hasNextPage": False}})

    service = UsageService(_Store(), b"k" * 32, transport=httpx.MockTransport(vendor))
    _read_all(service, 100)
    _read_all(service, 100)
    assert served["count"] == 2


def test_the_cache_is_bounded() -> None:
    import time

    from unimeter.api.continuation import _Entry

    cache = ContinuationCache(max_entries=2)
    for index in range(5):
        cache.put(("b", "GET", f"https://v/{index}", b""), _Entry(200, [], b"{}", time.monotonic()))
    assert cache.get(("b", "GET", "https://v/0", b"")) is None
    assert cache.get(("b", "GET", "https://v/4", b"")) is not None


def _entry(size: int) -> Any:
    import time

    from unimeter.api.continuation import _Entry

    return _Entry(200, [], b"x" * size, time.monotonic())


def test_the_cache_keeps_one_page_per_query_and_stays_within_its_size() -> None:
    """A query's cursor points into the last page it read: earlier pages of that query are dropped, and the whole
    cache never holds more bytes than its budget (a stream of big pages would otherwise pin eight of them)."""
    cache = ContinuationCache(max_entries=8, max_bytes=1000)
    for page in range(5):
        cache.put(("query-a", "GET", f"https://v/{page}", b""), _entry(300))
    assert cache.size() == (1, 300)
    cache.put(("query-b", "GET", "https://v/0", b""), _entry(300))
    cache.put(("query-c", "GET", "https://v/0", b""), _entry(300))
    assert cache.size() == (3, 900)
    cache.put(("query-d", "GET", "https://v/0", b""), _entry(300))  # over 1000 bytes: the oldest (query-a) goes
    assert cache.size() == (3, 900)
    assert cache.get(("query-a", "GET", "https://v/4", b"")) is None
    assert cache.get(("query-d", "GET", "https://v/0", b"")) is not None
    cache.put(("query-e", "GET", "https://v/0", b""), _entry(5000))  # larger than the whole cache: not kept
    assert cache.get(("query-e", "GET", "https://v/0", b"")) is None

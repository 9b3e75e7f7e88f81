"""A vendor that loops is caught across ``next_cursor`` continuations as within one call: paging with ``limit``
never returns a row twice; the continuation that meets the loop fails with the typed error instead."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.helpers.paths import MappingsFolder
from tests.helpers.specs import CURSOR_NEXT, CURSOR_QUERY, day_rows, demo_spec, operation
from unimeter.service import UsageService, create_app

ACCOUNT_ID = "33333333-3333-3333-3333-333333333333"
PAGES = 5  # the vendor's real pages; after the last one its cursor restarts at page 2
SPEC = demo_spec(
    operation(CURSOR_QUERY, name="usage", pagination=CURSOR_NEXT, transform=day_rows("r")),
    name="restarter",
    fills="[id, start_date, end_date]",
    base_url="https://api.restarter.example",
)


class _Account:
    id = ACCOUNT_ID
    integration = "restarter"
    status = "active"

    def __init__(self) -> None:
        self.credentials: dict[str, Any] = {}
        self.context: dict[str, Any] = {}

    def to_public(self) -> dict[str, Any]:
        return {"id": self.id}


class _Store:
    def resolve_token(self, token: str) -> str | None:
        return "prod"

    def get_account(self, account_id: str, *, environment: str) -> _Account:
        return _Account()

    def mark_status(self, account_id: str, *, environment: str, status: str) -> None:
        return None


def _vendor(request: httpx.Request) -> httpx.Response:
    page = int(request.url.params.get("cursor") or 1)
    following = page + 1 if page < PAGES else 2  # a cursor that restarts instead of ending
    return httpx.Response(200, json={"data": [{"id": f"{page}-{n}"} for n in range(3)], "next": str(following)})


def _page_through(limit: int) -> tuple[list[str], dict[str, Any]]:
    app = create_app(UsageService(_Store(), b"k" * 32, transport=httpx.MockTransport(_vendor)))

    async def run() -> tuple[list[str], dict[str, Any]]:
        ids: list[str] = []
        cursor: str | None = None
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t", headers={"Authorization": "Bearer tok"}
        ) as client:
            for _ in range(100):
                query = {"integrated_account_id": ACCOUNT_ID, "limit": str(limit)}
                response = await client.get(
                    "/unified/usage-metering/usage", params={**query, **({"next_cursor": cursor} if cursor else {})}
                )
                body = response.json()
                if response.status_code != 200:
                    return ids, body
                ids.extend(row["id"] for row in body["result"])
                cursor = body["next_cursor"]
                if cursor is None:
                    return ids, {}
        raise AssertionError("paging did not end")

    return asyncio.run(run())


@pytest.mark.parametrize("limit", [1, 2, 3, 4, 7, 1000])
def test_a_restarting_vendor_cursor_never_gives_a_row_twice(mappings_folder: MappingsFolder, limit: int) -> None:
    (mappings_folder.mappings / "restarter.yaml").write_text(SPEC, encoding="utf-8")
    ids, error = _page_through(limit)
    assert len(ids) == len(set(ids)), f"duplicates: {sorted(i for i in ids if ids.count(i) > 1)}"
    assert error.get("error") == "pagination_loop", error
    assert error["status"] == 502
    # every row before the loop was delivered exactly once, in order
    assert ids == [f"r:{page}-{n}" for page in range(1, PAGES + 1) for n in range(3)][: len(ids)]

"""Cursor Admin API: ``POST /teams/daily-usage-data`` (https://cursor.com/docs/account/teams/admin-api).

Basic auth with the key as username and an empty password; ``startDate``/``endDate`` epoch ms in the JSON body,
both inclusive, at most 30 days; ``page``/``pageSize`` over users (every day of the range for each user on the page).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from ..messages import SimRequest, SimResponse, json_response, streamed_json
from .base import VendorSimulator

API_KEY = "key_sandbox_cursor"
DAY_MS = 86_400_000
MODELS = ("claude-4.5-sonnet", "gpt-5", "gemini-2.5-pro", "grok-4", "auto", None)


class CursorSimulator(VendorSimulator):
    name = "cursor"
    rate_limit = (20, 60.0)  # "20 requests/minute per team" (cursor.com/docs/api)

    def credentials(self) -> dict[str, str]:
        return {"api_key": API_KEY}

    @classmethod
    def sample_params(cls, now: datetime) -> dict[str, str]:
        """Forty days up to yesterday: two 30-day windows."""
        end = (now - timedelta(days=1)).date()
        return {"start_date": (end - timedelta(days=39)).isoformat(), "end_date": end.isoformat()}

    def error(self, status: int, message: str) -> SimResponse:
        titles = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests"}
        return json_response({"error": titles.get(status, "Internal Server Error"), "message": message}, status)

    def handle(self, request: SimRequest, fault: str | None) -> SimResponse:
        if (request.method, request.path) != ("POST", "/teams/daily-usage-data"):
            return self.error(404, "Resource not found")
        if self.basic_auth(request) != (API_KEY, ""):
            return self.error(401, "Invalid API key")
        body = request.json() or {}
        start, end = body.get("startDate"), body.get("endDate")
        if not isinstance(start, int) or not isinstance(end, int) or start > end:
            return self.error(400, "startDate and endDate (epoch ms) are required")
        if end - start > 30 * DAY_MS:
            return self.error(400, "Date range cannot exceed 30 days. Make multiple requests for longer periods.")
        page = int(body.get("page") or 1)
        page_size = int(body.get("pageSize") or 100)
        if fault in ("loop_cursor", "restart_cursor"):
            page = 1  # page numbers are the client's: a vendor that restarts answers the first page again
        users = self.config.users
        total_pages = max(1, -(-users // page_size))
        first_user = (page - 1) * page_size
        page_users = range(first_user, min(users, first_user + page_size))
        days = list(range(start - start % DAY_MS, end + 1, DAY_MS))  # every UTC day the range touches
        pagination = {
            "page": page,
            "pageSize": page_size,
            "totalUsers": users,
            "totalPages": total_pages,
            "hasNextPage": page < total_pages if fault != "loop_cursor" else True,
            "hasPreviousPage": page > 1,
        }
        suffix = (
            '],"period":' + _dumps({"startDate": start, "endDate": end}) + ',"pagination":' + _dumps(pagination) + "}"
        )
        return streamed_json('{"data":[', self._rows(page_users, days), suffix)

    def _rows(self, users: range, days: list[int]) -> Iterator[dict[str, Any]]:
        for day in days:
            for user in users:
                yield self.row(user, day)

    def row(self, user: int, day_ms: int) -> dict[str, Any]:
        """One user's day, the same for the same seed, user and day."""
        rng = self.rng(user, day_ms)
        active = rng.random() < 0.8
        day = datetime.fromtimestamp(day_ms / 1000, UTC).date()

        def count(high: int) -> int:
            return rng.randint(0, high) if active else 0

        added, deleted = count(2000), count(1200)
        model = rng.choice(MODELS) if active else None
        return {
            "userId": 10_000 + user,
            "day": day.isoformat(),
            "date": day_ms,
            "isActive": active,
            "totalLinesAdded": added,
            "totalLinesDeleted": deleted,
            "acceptedLinesAdded": added * 7 // 10,
            "acceptedLinesDeleted": deleted * 7 // 10,
            "totalApplies": count(90),
            "totalAccepts": count(80),
            "totalRejects": count(15),
            "totalTabsShown": count(400),
            "totalTabsAccepted": count(300),
            "composerRequests": count(50),
            "chatRequests": count(130),
            "agentRequests": count(20),
            "cmdkUsages": count(70),
            "subscriptionIncludedReqs": count(200),
            "apiKeyReqs": count(3),
            "usageBasedReqs": count(10),
            "bugbotUsages": count(4),
            "mostUsedModel": model,
            "applyMostUsedExtension": rng.choice([".ts", ".py", ".go"]) if active else None,
            "tabMostUsedExtension": rng.choice([".tsx", ".rs", ".java"]) if active else None,
            "clientVersion": f"1.{rng.randint(0, 7)}.{rng.randint(0, 20)}" if active else None,
            "email": f"user{user}@sandbox.example",
        }


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))

"""Cursor Admin API: ``POST /teams/daily-usage-data`` and ``POST /teams/filtered-usage-events``
(https://cursor.com/docs/account/teams/admin-api).

Basic auth with the key as username and an empty password, else 401 ``{"error": "Unauthorized", "message": "Invalid
API key"}``; ``startDate``/``endDate`` epoch ms in the JSON body, both inclusive, at most 30 days apart (else 400).

* daily-usage-data: ``page``/``pageSize`` over users (every day of the range for each user on the page).
* filtered-usage-events (schemas/vendors/cursor-filtered-usage-events.json): the range's model requests, newest
  first, paged by ``page`` (default 1) and ``pageSize`` (default 10, as the docs' example; above 1000 it is served as
  1000, the most public clients send: the vendor's maximum is undocumented). Without ``startDate``/``endDate`` the
  sandbox serves the last 30 days (the vendor's default is undocumented). No event is later than the simulator's
  now. Per user and UTC day a few events (none for inactive days): ~55% "Included in Business" (isChargeable false,
  yet priced in chargedCents, as in the docs' example), ~37% "Usage-based" (isChargeable true), the rest
  "Errored, Not Charged" (chargedCents 0). Every token-based event has ``totalCents``; a fifth of the usage-based
  ones a ``discountPercentOff`` of 10; when the seed enables the Cursor Token Fee for the team, ``cursorTokenFee`` is
  added: ``chargedCents = round(totalCents x (1 - off/100), 3 places) + cursorTokenFee``. About one event in ten has a
  twin: a background-agent (headless) request of the same user and model in the same millisecond, with other token
  counts. The bill (:meth:`CursorSimulator.invoice`) is the sum of ``chargedCents`` of chargeable events: the docs
  reconcile spend with that sum, and included usage is paid by the seat, which the API does not report.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, ClassVar, TypeGuard

from ..messages import SimRequest, SimResponse, json_response, streamed_json
from .base import VendorSimulator

API_KEY = "key_sandbox_cursor"
DAY_MS = 86_400_000
MODELS = ("claude-4.5-sonnet", "gpt-5", "gemini-2.5-pro", "grok-4", "auto", None)
EVENT_MODELS = ("claude-4.5-sonnet", "claude-4-sonnet-thinking", "gpt-5", "gemini-2.5-pro", "grok-4", "auto")
DAILY_PATH = "/teams/daily-usage-data"
EVENTS_PATH = "/teams/filtered-usage-events"
MAX_EVENTS_PAGE = 1000
EVENTS_DEFAULT_PAGE = 10
RANGE_ERROR = "Date range cannot exceed 30 days. Make multiple requests for longer periods."


@dataclass(frozen=True)
class Event:
    """One simulated model request: its vendor record and the exact cents it bills (0 when not chargeable)."""

    timestamp: int
    order: tuple[int, int, int]
    record: dict[str, Any]
    billed_cents: Decimal


class CursorSimulator(VendorSimulator):
    name = "cursor"
    rate_limit = (20, 60.0)  # "20 requests/minute per team" (cursor.com/docs/api)
    demo_queries: ClassVar[tuple[dict[str, str], ...]] = ({}, {"report_type": "usage_events"})

    def credentials(self) -> dict[str, str]:
        return {"api_key": API_KEY}

    @classmethod
    def sample_params(cls, now: datetime) -> dict[str, str]:
        """Forty days up to yesterday: two 30-day windows."""
        end = (now - timedelta(days=1)).date()
        return {"start_date": (end - timedelta(days=39)).isoformat(), "end_date": end.isoformat()}

    @classmethod
    def billing_queries(cls, start: date, end: date) -> list[dict[str, str]]:
        """The usage events of the UTC days [start, end): the unified end_date is an inclusive date."""
        last = end - timedelta(days=1)
        return [{"report_type": "usage_events", "start_date": start.isoformat(), "end_date": last.isoformat()}]

    def invoice(self, start: date, end: date) -> Decimal | None:
        """Σ chargedCents of the chargeable events of [start, end) up to now, in dollars (what Cursor bills on demand;
        included usage is covered by the seat, which the API does not report)."""
        first = _day_ms(start)
        cents = sum(
            (event.billed_cents for event in self.events(first, _day_ms(end) - 1)),
            Decimal(0),
        )
        return cents / 100

    def error(self, status: int, message: str) -> SimResponse:
        titles = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests"}
        return json_response({"error": titles.get(status, "Internal Server Error"), "message": message}, status)

    def handle(self, request: SimRequest, fault: str | None) -> SimResponse:
        if request.method != "POST" or request.path not in (DAILY_PATH, EVENTS_PATH):
            return self.error(404, "Resource not found")
        if self.basic_auth(request) != (API_KEY, ""):
            return self.error(401, "Invalid API key")
        if request.path == EVENTS_PATH:
            return self._usage_events(request, fault)
        body = request.json() or {}
        start, end = body.get("startDate"), body.get("endDate")
        if not isinstance(start, int) or not isinstance(end, int) or start > end:
            return self.error(400, "startDate and endDate (epoch ms) are required")
        if end - start > 30 * DAY_MS:
            return self.error(400, RANGE_ERROR)
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
        if active and (revision := self.revision(day)):
            added += self.rng("revision", user, day_ms, revision).randint(1, 50)  # a restated day: more lines
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

    def _usage_events(self, request: SimRequest, fault: str | None) -> SimResponse:
        body = request.json()
        body = body if isinstance(body, dict) else {}
        start, end = body.get("startDate"), body.get("endDate")
        if start is None and end is None:
            end = int(self.now().timestamp() * 1000)
            start = end - 30 * DAY_MS
        if not _is_int(start) or not _is_int(end) or start > end:
            return self.error(400, "startDate and endDate must be epoch milliseconds, startDate not after endDate")
        if end - start > 30 * DAY_MS:
            return self.error(400, RANGE_ERROR)
        page, size = body.get("page", 1), body.get("pageSize", EVENTS_DEFAULT_PAGE)
        if not _is_int(page) or not _is_int(size) or page < 1 or size < 1:
            return self.error(400, "page and pageSize must be positive integers")
        size = min(size, MAX_EVENTS_PAGE)
        if fault in ("loop_cursor", "restart_cursor"):
            page = 1  # page numbers are the client's: a vendor that restarts answers the first page again
        events = self.events(start, end)
        pages = -(-len(events) // size)
        pagination = {
            "numPages": pages,
            "currentPage": page,
            "pageSize": size,
            "hasNextPage": page < pages if fault != "loop_cursor" else True,
            "hasPreviousPage": page > 1,
        }
        prefix = (
            '{"totalUsageEventsCount":' + str(len(events)) + ',"pagination":' + _dumps(pagination) + ',"usageEvents":['
        )
        suffix = '],"period":' + _dumps({"startDate": start, "endDate": end}) + "}"
        shown = (event.record for event in events[(page - 1) * size : page * size])
        return streamed_json(prefix, shown, suffix)

    def events(self, start_ms: int, end_ms: int) -> list[Event]:
        """Every event with start_ms <= timestamp <= end_ms (and not after now), newest first."""
        end_ms = min(end_ms, int(self.now().timestamp() * 1000))
        found = [
            event
            for day in range(start_ms - start_ms % DAY_MS, end_ms + 1, DAY_MS)
            for user in range(self.config.users)
            for event in self.day_events(user, day)
            if start_ms <= event.timestamp <= end_ms
        ]
        return sorted(found, key=lambda event: (-event.timestamp, event.order))

    def day_events(self, user: int, day_ms: int) -> list[Event]:
        """One user's events of one UTC day, the same for the same seed, user and day."""
        rng = self.rng("events", user, day_ms)
        if rng.random() >= 0.8:
            return []
        fee_enabled = self.rng("team-token-fee").random() < 0.5
        events = []
        for index in range(rng.randint(1, 6)):
            at = day_ms + rng.randrange(DAY_MS)
            model = rng.choice(EVENT_MODELS)
            twins = 2 if rng.random() < 0.1 else 1
            for twin in range(twins):
                events.append(self._event(rng, user, at, model, (user, index, twin), fee_enabled, headless=twin > 0))
        return events

    def _event(
        self, rng: Any, user: int, at: int, model: str, order: tuple[int, int, int], fee_enabled: bool, headless: bool
    ) -> Event:
        roll = rng.random()
        kind = "Included in Business" if roll < 0.55 else "Usage-based" if roll < 0.92 else "Errored, Not Charged"
        errored = kind == "Errored, Not Charged"
        total = Decimal(0) if errored else Decimal(rng.randint(100, 5_000_000)) / 100_000
        tokens: dict[str, Any] = {
            "inputTokens": rng.randint(100, 20_000) + order[2],
            "outputTokens": 0 if errored else rng.randint(50, 4_000),
            "cacheWriteTokens": 0 if errored else rng.randint(0, 12_000),
            "cacheReadTokens": 0 if errored else rng.randint(0, 40_000),
            "totalCents": float(total),
        }
        off = 10 if kind == "Usage-based" and rng.random() < 0.2 else 0
        if off:
            tokens["discountPercentOff"] = off
        fee = Decimal(rng.randint(10, 300)) / 100 if fee_enabled and not errored else None
        charged = (total * (100 - off) / 100).quantize(Decimal("0.001"), ROUND_HALF_UP) + (fee or 0)
        record: dict[str, Any] = {
            "timestamp": str(at),
            "userEmail": f"user{user}@sandbox.example",
            "model": model,
            "kind": kind,
            "maxMode": rng.random() < 0.3,
            "requestsCosts": rng.choice((0.5, 1, 1.4, 2, 5, 10)) if not errored else 0,
            "isTokenBasedCall": True,
            "isChargeable": kind == "Usage-based",
            "isHeadless": headless,
            "tokenUsage": tokens,
            "chargedCents": float(charged),
        }
        if fee is not None:
            record["cursorTokenFee"] = float(fee)
        record["isFreeBugbot"] = False
        return Event(at, order, record, charged if kind == "Usage-based" else Decimal(0))


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _day_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))

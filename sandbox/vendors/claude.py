"""Claude (Anthropic): Enterprise Analytics and Admin API usage reports.

Public docs: https://support.claude.com/en/articles/13703965-claude-enterprise-analytics-api-reference-guide
(Enterprise Analytics), https://platform.claude.com/docs/en/api/admin/usage_report (Admin API usage reports).

Served paths (GET only):

* ``/v1/organizations/analytics/users`` -- per-user daily activity, one row per user sorted by email. ``date``
  (single day) or ``starting_date`` / ``ending_date`` (exclusive; rollup, counters summed over the days, distinct
  counts as per-day sums, one of the documented options), ``filter[]``, ``group_by[]``, ``order``/``order_by``
  (email only), ``limit`` (1-1000, default 100), ``page``. Envelope ``{data, next_page}``, no ``has_more``:
  ``next_page`` is null on the last page. A bad key answers 404 ``not_found_error`` as the doc says the engagement
  endpoints do.
* ``/v1/organizations/analytics/user_usage_report`` and ``/user_cost_report`` -- tokens and cost per user.
  ``starting_at`` inclusive / ``ending_at`` exclusive (RFC 3339 with a zone, range <= 31 days, >= 2026-01-01),
  ``bucket_width`` (``1d``/``1h``/``1m``), ``group_by[]``, filters, ``limit`` (1-1000, default 20), ``page``.
  Envelope ``{data, has_more, next_page, data_refreshed_at, organization_id}``. Cursors are bound to the query:
  another query with an old cursor answers 400; an expired cursor answers 410 (``expired_cursor`` fault). Cost
  amounts are decimal strings in fractional cents. A bad key answers 401 ``authentication_error``.
* ``/v1/organizations/usage_report/claude_code`` -- Admin API Claude Code report: ``starting_at`` (one day,
  ``YYYY-MM-DD``), ``limit`` (default 20), ``page``; ``{data, has_more, next_page}``. Needs the Admin key
  :data:`ADMIN_API_KEY` (the two key families reject each other's keys, as the vendor's do); ``credentials()``
  returns the Analytics key, which serves the mapping's default report types.

Every request needs ``x-api-key`` and ``anthropic-version: 2023-06-01`` (400 otherwise). Errors use the standard
Claude body ``{"type": "error", "error": {"type", "message"}, "request_id"}``.

Page sizes: the simulator caps every page at ``max(1, users // 3)`` rows (below ``limit`` when the mapping asks for
1000), so a small synthetic organization still answers over several pages and pagination is exercised. Report rows
come in user order; ``order_by`` is validated but not applied (clients must not depend on row order).

Synthetic data: each user has a fixed set of surfaces (chat always, others drawn from the seed); a surface is active
on a day with a fixed probability, and the same draw drives the activity blocks, the token reports and the Claude
Code report, so the three agree. Blocks of inactive surfaces are zero-filled, as the vendor sends them. The
clock-dependent 365-day lookback of the reports is not enforced, so pinned-clock tests do not expire; the "too recent"
check of ``/analytics/users`` uses :attr:`ClaudeSimulator.clock` (wall clock unless replaced).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

from ..messages import SimRequest, SimResponse, json_response
from .base import VendorSimulator

ANALYTICS_API_KEY = "sk-ant-api01-sandbox-analytics"
ADMIN_API_KEY = "sk-ant-admin01-sandbox"
API_VERSION = "2023-06-01"
FIRST_DAY = date(2026, 1, 1)
LOOP_TOKEN = "page_sandbox-loop"
USERS_PATH = "/v1/organizations/analytics/users"
USAGE_PATH = "/v1/organizations/analytics/user_usage_report"
COST_PATH = "/v1/organizations/analytics/user_cost_report"
CLAUDE_CODE_PATH = "/v1/organizations/usage_report/claude_code"

SURFACES = ("chat", "claude_code", "cowork", "office", "design", "science")
PRODUCT_SURFACE = {
    "chat": "chat",
    "claude_code": "claude_code",
    "cowork": "cowork",
    "office_agent": "office",
    "claude_design": "design",
}
OFFICE_APPS = ("excel", "outlook", "powerpoint", "word")
TOOLS = ("edit_tool", "multi_edit_tool", "notebook_edit_tool", "write_tool")
MODELS = ("claude-opus-4-6", "claude-sonnet-4-5", "claude-haiku-4-5")
TERMINALS = ("vscode", "iTerm.app", "tmux", "cursor")
TOKEN_FIELDS = (
    "uncached_input_tokens",
    "cache_creation.ephemeral_5m_input_tokens",
    "cache_creation.ephemeral_1h_input_tokens",
    "cache_read_input_tokens",
    "output_tokens",
)
# List price in cents per million tokens, per model, in TOKEN_FIELDS order; web search: cents per request.
PRICES = {
    "claude-opus-4-6": (500, 625, 1000, 50, 2500),
    "claude-sonnet-4-5": (300, 375, 600, 30, 1500),
    "claude-haiku-4-5": (100, 125, 200, 10, 500),
}
WEB_SEARCH_CENTS = Decimal(1)
DISCOUNT = Decimal("0.9")
USAGE_GROUPS = (
    "product",
    "model",
    "context_window",
    "inference_geo",
    "speed",
    "rbac_group_id",
    "claude_tag_category",
    "claude_tag_user_id",
    "slack_channel_id",
)
COST_GROUPS = (*USAGE_GROUPS, "cost_type", "token_type")
# Dimensions every sandbox row has the same value in; the others are null (no RBAC groups, Slack or Claude Tag).
CONSTANT_DIMENSIONS = {"context_window": "0-200k", "inference_geo": "global", "speed": "standard"}
FILTERS = {
    "products[]": "product",
    "models[]": "model",
    "context_windows[]": "context_window",
    "inference_geos[]": "inference_geo",
    "speeds[]": "speed",
    "rbac_group_ids[]": "rbac_group_id",
    "slack_channel_ids[]": "slack_channel_id",
    "claude_tag_categories[]": "claude_tag_category",
    "claude_tag_user_ids[]": "claude_tag_user_id",
}
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    410: "invalid_request_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def anthropic_error(status: int, message: str) -> SimResponse:
    """Anthropic's error body ``{"type": "error", "error": {type, message}, "request_id"}`` with its request-id
    header, as every Anthropic API answers (the Enterprise analytics and the Console Admin simulators share it)."""
    request_id = "req_sandbox" + hashlib.sha256(f"{status}{message}".encode()).hexdigest()[:20]
    body = {
        "type": "error",
        "error": {"type": ERROR_TYPES.get(status, "api_error"), "message": message},
        "request_id": request_id,
    }
    return json_response(body, status, {"request-id": request_id})


_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_BUCKET_MINUTES = {"1d": 1440, "1h": 60, "1m": 1}


class BadRequest(Exception):
    """A request the vendor rejects; ``status`` and message become the error body."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Cursor:
    """What a ``next_page`` token carries: the query it belongs to, where the next page starts, and extras."""

    query: str
    position: tuple[int, int]
    expired: bool = False
    ending_date: str | None = None

    def encode(self) -> str:
        raw = json.dumps(
            {"q": self.query, "p": list(self.position), "x": self.expired, "e": self.ending_date}, separators=(",", ":")
        )
        return "page_" + base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str, query: str) -> Cursor:
        try:
            if not token.startswith("page_"):
                raise ValueError(token)
            text = token[5:]
            data = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
            cursor = cls(str(data["q"]), (int(data["p"][0]), int(data["p"][1])), bool(data["x"]), data["e"])
        except (ValueError, KeyError, IndexError, TypeError, binascii.Error):
            raise BadRequest("page: invalid page cursor") from None
        if cursor.query != query:
            raise BadRequest(
                "page: the page cursor does not match the query parameters; send the same parameters "
                "as the request that returned it, or start again without page"
            )
        return cursor


class ClaudeSimulator(VendorSimulator):
    name = "claude"
    rate_limit = (60, 60.0)  # 60 requests per minute per organization (Enterprise Analytics reference guide)
    has_expiring_cursors = True
    demo_queries: ClassVar[tuple[dict[str, str], ...]] = ({}, {"report_type": "user_cost"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clock: Callable[[], datetime] = self.now

    def credentials(self) -> dict[str, str]:
        return {"api_key": ANALYTICS_API_KEY}

    @classmethod
    def sample_params(cls, now: datetime) -> dict[str, str]:
        """Tokens per user, product and model four days ago: a report whose cursors can expire, several pages."""
        return {"date": (now - timedelta(days=4)).date().isoformat(), "report_type": "user_usage"}

    def error(self, status: int, message: str) -> SimResponse:
        return anthropic_error(status, message)

    def handle(self, request: SimRequest, fault: str | None) -> SimResponse:
        routes: dict[str, Callable[[SimRequest, str | None], SimResponse]] = {
            USERS_PATH: self._users,
            USAGE_PATH: self._report,
            COST_PATH: self._report,
            CLAUDE_CODE_PATH: self._claude_code,
        }
        route = routes.get(request.path)
        if request.method != "GET" or route is None:
            return self.error(404, "Not found")
        key = request.headers.get("x-api-key")
        if request.path == USERS_PATH and key != ANALYTICS_API_KEY:
            return self.error(404, "Not found")
        if request.path in (USAGE_PATH, COST_PATH) and key != ANALYTICS_API_KEY:
            return self.error(401, "invalid x-api-key")
        if request.path == CLAUDE_CODE_PATH and key != ADMIN_API_KEY:
            return self.error(401, "invalid x-api-key")
        version = request.headers.get("anthropic-version")
        if version is None:
            return self.error(400, "anthropic-version: header is required")
        if version != API_VERSION:
            return self.error(400, f"anthropic-version: {version!r} is not a valid version")
        try:
            return route(request, fault)
        except BadRequest as problem:
            return self.error(problem.status, str(problem))

    # ---- synthetic world ---------------------------------------------------------------------------------------

    def user(self, index: int) -> dict[str, str]:
        """User ``index`` in email order (zero-padded, so index order is the vendor's email order)."""
        rng = self.rng("user", index)
        alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZabcdefghijkmnopqrstuvwxyz"
        width = len(str(max(0, self.config.users - 1)))
        return {
            "id": "user_01" + "".join(rng.choice(alphabet) for _ in range(20)),
            "email_address": f"user{index:0{width}d}@sandbox.example",
        }

    def surfaces(self, user: int) -> tuple[str, ...]:
        """The surfaces a user ever uses: chat always, each other one with a fixed chance."""
        rng = self.rng("surfaces", user)
        return tuple(s for s in SURFACES if s == "chat" or rng.random() < 0.5)

    def active(self, user: int, day: date, surface: str) -> bool:
        return surface in self.surfaces(user) and self.rng("active", user, day, surface).random() < 0.7

    def organization_id(self) -> str:
        return str(uuid.UUID(int=self.rng("organization").getrandbits(128), version=4))

    def _page_size(self, request: SimRequest, default: int) -> int:
        return min(_limit(request, default), max(1, self.config.users // 3))

    # ---- /analytics/users ------------------------------------------------------------------------------------

    def _users(self, request: SimRequest, fault: str | None) -> SimResponse:
        days, ending_default = self._activity_days(request)
        wanted = _user_filter(request)
        if "group_by[]" in request.query:
            if request.query["group_by[]"] != ["rbac_group_id"] * len(request.query["group_by[]"]):
                raise BadRequest("group_by[]: only rbac_group_id is supported")
            wanted = set()  # the sandbox organization has no RBAC groups
        order_by, order = request.param("order_by", "email"), request.param("order", "asc")
        if order_by != "email":
            raise BadRequest(f"order_by: {order_by!r} is not supported by the sandbox simulator (email only)")
        if order not in ("asc", "desc"):
            raise BadRequest("order: must be asc or desc")
        query = query_key(request)
        token = request.param("page")
        start = 0
        if token and not (fault == "loop_cursor" and token == LOOP_TOKEN):
            cursor = Cursor.decode(token, query)
            start, ending_default = cursor.position[0], cursor.ending_date or ending_default
            days = self._activity_days(request, ending_default)[0]
        size = self._page_size(request, 100)
        users = self.config.users
        ranks = (r for r in range(start, users) if wanted is None or self.user(_index(r, order, users))["id"] in wanted)
        page = list(itertools.islice(ranks, size + 1))
        rows = [self._activity_row(_index(r, order, users), days) for r in page[:size]]
        next_page = Cursor(query, (page[size], 0), ending_date=ending_default).encode() if len(page) > size else None
        if fault == "loop_cursor":
            next_page = token or LOOP_TOKEN
        if fault == "restart_cursor":
            next_page = Cursor(query, (0, 0), ending_date=ending_default).encode()
        return json_response({"data": rows, "next_page": next_page})

    def _activity_days(self, request: SimRequest, ending: str | None = None) -> tuple[list[date], str | None]:
        """The days of the query and, in rollup mode without ending_date, the default fixed on the first page."""
        single, starting = request.param("date"), request.param("starting_date")
        if single and starting:
            raise BadRequest("date and starting_date cannot be combined; use one of them")
        if request.param("ending_date") and not starting:
            raise BadRequest("ending_date requires starting_date")
        latest = (self.clock() - timedelta(hours=13, minutes=30)).date() - timedelta(days=1)
        if single:
            day = _day(single, "date")
            if day > latest:
                raise BadRequest(f"date: data for {day} is not available yet; the latest available date is {latest}")
            return [day], None
        if not starting:
            raise BadRequest("date or starting_date is required")
        first = _day(starting, "starting_date")
        if first > latest:
            raise BadRequest(
                f"starting_date: data for {first} is not available yet; the latest available date is {latest}"
            )
        ending = request.param("ending_date") or ending or self.clock().date().isoformat()
        end = _day(ending, "ending_date")
        if end <= first:
            raise BadRequest("ending_date must be after starting_date")
        if (end - first).days > 366:
            raise BadRequest("ending_date must be at most 366 days after starting_date")
        default = None if request.param("ending_date") else ending
        return [first + timedelta(days=n) for n in range((end - first).days)], default

    def _activity_row(self, user: int, days: list[date]) -> dict[str, Any]:
        row: dict[str, Any] = {}
        for day in days:
            row = _add(row, self._activity_day(user, day)) if row else self._activity_day(user, day)
        row["user"] = {**self.user(user), "type": "user"}
        return row

    def _activity_day(self, user: int, day: date) -> dict[str, Any]:
        def on(surface: str) -> bool:
            return self.active(user, day, surface)

        rng = self.rng("activity", user, day)

        def n(low: int, high: int, surface: str) -> int:
            value = rng.randint(low, high)
            return value if on(surface) else 0

        office_apps = {
            app: self.rng("office-app", user, day, app).random() < 0.5 or app == "word" for app in OFFICE_APPS
        }
        return {
            "chat_metrics": {
                "connectors_used_count": n(0, 6, "chat"),
                "distinct_artifacts_created_count": n(0, 3, "chat"),
                "distinct_connectors_used_count": n(0, 2, "chat"),
                "distinct_conversation_count": n(1, 8, "chat"),
                "distinct_files_uploaded_count": n(0, 4, "chat"),
                "distinct_projects_created_count": n(0, 1, "chat"),
                "distinct_projects_used_count": n(0, 2, "chat"),
                "distinct_shared_artifacts_viewed_count": n(0, 2, "chat"),
                "distinct_skills_used_count": n(0, 2, "chat"),
                "message_count": n(1, 80, "chat"),
                "shared_conversations_viewed_count": n(0, 3, "chat"),
                "thinking_message_count": n(0, 20, "chat"),
            },
            "claude_code_metrics": {
                "core_metrics": {
                    "artifacts_created_count": n(0, 2, "claude_code"),
                    "commit_count": n(0, 9, "claude_code"),
                    "distinct_session_count": n(1, 6, "claude_code"),
                    "lines_of_code": {
                        "added_count": n(1, 900, "claude_code"),
                        "removed_count": n(0, 400, "claude_code"),
                    },
                    "pull_request_count": n(0, 3, "claude_code"),
                },
                "tool_actions": {
                    tool: {"accepted_count": n(0, 30, "claude_code"), "rejected_count": n(0, 5, "claude_code")}
                    for tool in TOOLS
                },
            },
            "cowork_metrics": {
                "action_count": n(1, 40, "cowork"),
                "artifacts_created_count": n(0, 2, "cowork"),
                "connectors_used_count": n(0, 6, "cowork"),
                "dispatch_turn_count": n(0, 12, "cowork"),
                "distinct_connectors_used_count": n(0, 2, "cowork"),
                "distinct_session_count": n(1, 4, "cowork"),
                "distinct_skills_used_count": n(0, 2, "cowork"),
                "message_count": n(1, 30, "cowork"),
                "skills_used_count": n(0, 5, "cowork"),
                "distinct_plugins_used_count": None,
                "edit_tool_count": None,
                "file_edit_count": None,
                "multi_edit_tool_count": None,
                "notebook_edit_tool_count": None,
                "plugins_used_count": None,
                "sessions_with_file_edits_count": None,
                "write_tool_count": None,
            },
            "design_metrics": {
                "distinct_projects_created_count": n(0, 1, "design"),
                "distinct_projects_used_count": n(0, 2, "design"),
                "distinct_session_count": n(1, 3, "design"),
                "message_count": n(1, 25, "design"),
            },
            "office_metrics": {app: self._office_app(n, used) for app, used in office_apps.items()},
            "science_metrics": {
                "delegation_count": n(0, 4, "science"),
                "distinct_session_count": n(1, 2, "science"),
                "message_count": n(1, 15, "science"),
                "remote_compute_job_count": n(0, 3, "science"),
                "skills_used_count": n(0, 2, "science"),
            },
            "web_search_count": n(0, 6, "chat") + n(0, 4, "claude_code"),
        }

    @staticmethod
    def _office_app(n: Callable[[int, int, str], int], used: bool) -> dict[str, int]:
        values = {
            "connectors_used_count": n(0, 3, "office"),
            "distinct_connectors_used_count": n(0, 1, "office"),
            "distinct_session_count": n(1, 3, "office"),
            "distinct_skills_used_count": n(0, 1, "office"),
            "message_count": n(1, 12, "office"),
            "skills_used_count": n(0, 2, "office"),
        }
        return values if used else dict.fromkeys(values, 0)

    # ---- /analytics/user_usage_report and /user_cost_report ---------------------------------------------------

    def _report(self, request: SimRequest, fault: str | None) -> SimResponse:
        cost = request.path == COST_PATH
        start, end = self._report_range(request)
        width = request.param("bucket_width")
        groups = request.query.get("group_by[]", [])
        allowed = COST_GROUPS if cost else USAGE_GROUPS
        for group in groups:
            if group not in allowed:
                raise BadRequest(f"group_by[]: {group!r} is not one of {', '.join(allowed)}")
        _check_order(
            request,
            ("amount", "list_amount")
            if cost
            else ("total_tokens", "output_tokens", "uncached_input_tokens", "requests"),
        )
        query = query_key(request)
        token = request.param("page")
        position = (0, 0)
        if token and fault == "expired_cursor":
            raise BadRequest("page cursor is no longer valid; restart pagination from the first page", 410)
        if token and not (fault == "loop_cursor" and token == LOOP_TOKEN):
            cursor = Cursor.decode(token, query)
            if cursor.expired:
                raise BadRequest("page cursor is no longer valid; restart pagination from the first page", 410)
            position = cursor.position
        size = self._page_size(request, 20)
        rows = self._report_rows(request, start, end, width, groups, position)
        page: list[dict[str, Any]] = []
        following: tuple[int, int] | None = None
        for at, row in rows:
            if len(page) == size:
                following = at
                break
            page.append(row)
        if cost:
            page = [item for row in page for item in self._cost_rows(row, groups)]
        for row in page:
            row.pop("_list_cents", None)
        next_page = (
            Cursor(query, following, expired=fault == "expired_cursor").encode() if following is not None else None
        )
        if fault == "loop_cursor":
            next_page = token or LOOP_TOKEN
        if fault == "restart_cursor":
            next_page = Cursor(query, (0, 0)).encode()
        refreshed = end + timedelta(hours=4)
        return json_response(
            {
                "data": page,
                "has_more": next_page is not None,
                "next_page": next_page,
                "data_refreshed_at": _rfc3339(refreshed),
                "organization_id": self.organization_id(),
            }
        )

    def _report_range(self, request: SimRequest) -> tuple[datetime, datetime]:
        start = instant_param(request.param("starting_at"), "starting_at")
        width = request.param("bucket_width")
        if width is not None and width not in _BUCKET_MINUTES:
            raise BadRequest("bucket_width: must be one of 1d, 1h, 1m")
        given_end = request.param("ending_at")
        if width is not None and given_end is None:
            raise BadRequest("ending_at is required when bucket_width is set")
        end = (
            instant_param(given_end, "ending_at")
            if given_end is not None
            else min(self.clock(), start + timedelta(days=31))
        )
        if start < datetime(2026, 1, 1, tzinfo=UTC):
            raise BadRequest("starting_at: no data before 2026-01-01T00:00:00Z")
        if end <= start:
            raise BadRequest("ending_at must be after starting_at")
        if end - start > timedelta(days=31):
            raise BadRequest("the range from starting_at to ending_at must be at most 31 days")
        if width == "1m" and end - start > timedelta(hours=24):
            raise BadRequest("with bucket_width=1m the range must be at most 24 hours")
        return start, end

    def _report_rows(
        self,
        request: SimRequest,
        start: datetime,
        end: datetime,
        width: str | None,
        groups: list[str],
        position: tuple[int, int],
    ) -> Iterator[tuple[tuple[int, int], dict[str, Any]]]:
        """``((user, index within the user's rows), row)`` from ``position`` on, user by user."""
        wanted = set(request.query.get("user_ids[]", [])) or None
        filters = {dim: set(request.query[name]) for name, dim in FILTERS.items() if name in request.query}
        buckets = _buckets(start, end, width)
        for user in range(position[0], self.config.users):
            actor = self.user(user)
            if wanted is not None and actor["id"] not in wanted:
                continue
            rows = self._user_report_rows(user, actor, buckets, groups, filters, width is not None)
            skip = position[1] if user == position[0] else 0
            for index in range(skip, len(rows)):
                yield (user, index), rows[index]

    def _user_report_rows(
        self,
        user: int,
        actor: dict[str, str],
        buckets: list[tuple[datetime, datetime]],
        groups: list[str],
        filters: dict[str, set[str]],
        bucketed: bool,
    ) -> list[dict[str, Any]]:
        rows = []
        for bucket_start, bucket_end in buckets:
            merged: dict[tuple[str | None, ...], dict[str, Any]] = {}
            for product, model in self._combos(user):
                dims = {"product": product, "model": model, **CONSTANT_DIMENSIONS}
                if any(dims.get(dim) not in values for dim, values in filters.items()):
                    continue
                usage = self._tokens(user, product, model, bucket_start, bucket_end)
                if usage["total_tokens"] == 0:
                    continue
                usage["_list_cents"] = _list_cents(model, usage)
                key = tuple(dims.get(group) for group in groups if group not in ("cost_type", "token_type"))
                merged[key] = _add(merged[key], usage) if key in merged else usage
            for key, usage in merged.items():
                named = dict(zip([g for g in groups if g not in ("cost_type", "token_type")], key, strict=True))
                rows.append(self._report_row(actor, named, usage, bucket_start, bucket_end, bucketed))
        return rows

    def _report_row(
        self,
        actor: dict[str, str],
        dims: dict[str, str | None],
        usage: dict[str, Any],
        start: datetime,
        end: datetime,
        bucketed: bool,
    ) -> dict[str, Any]:
        head: dict[str, Any] = {
            "actor": {
                "type": "user_actor",
                "user_id": actor["id"],
                "email_address": actor["email_address"],
                "name": actor["email_address"].split("@")[0].replace("user", "User "),
                "deleted": False,
            }
        }
        for dim in (
            "product",
            "model",
            "context_window",
            "inference_geo",
            "speed",
            "rbac_group_id",
            "slack_channel_id",
            "claude_tag_category",
            "claude_tag_user_id",
        ):
            head[dim] = dims.get(dim)
        head["starting_at"] = _rfc3339(start) if bucketed else None
        head["ending_at"] = _rfc3339(end) if bucketed else None
        return {**head, **usage}

    def _combos(self, user: int) -> list[tuple[str, str]]:
        """(product, model) pairs the user ever uses: one or two models per product surface of the user."""
        combos = []
        for product, surface in PRODUCT_SURFACE.items():
            if surface in self.surfaces(user):
                rng = self.rng("models", user, product)
                combos += [(product, model) for model in rng.sample(MODELS, rng.randint(1, 2))]
        return sorted(combos)

    def _tokens(self, user: int, product: str, model: str, start: datetime, end: datetime) -> dict[str, Any]:
        """Usage of one (user, product, model) over [start, end): per-day totals spread evenly over the minutes."""
        totals = [0] * 7
        day = start.date()
        end = min(end, self.clock())  # nothing is reported for time that has not happened
        while datetime(day.year, day.month, day.day, tzinfo=UTC) < end:
            if self.active(user, day, PRODUCT_SURFACE[product]):
                rng = self.rng("tokens", user, product, model, day)
                daily = (
                    rng.randint(5_000, 400_000),
                    rng.randint(0, 60_000),
                    rng.randint(0, 20_000),
                    rng.randint(0, 2_000_000),
                    rng.randint(1_000, 120_000),
                    rng.randint(0, 8),
                    rng.randint(1, 400),
                )
                midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
                low = max(0, _minutes(start - midnight))
                high = min(1440, _minutes(end - midnight))
                totals = [t + _spread(value, low, high) for t, value in zip(totals, daily, strict=True)]
            day += timedelta(days=1)
        uncached, five, hour, read, output, searches, requests = totals
        return {
            "uncached_input_tokens": uncached,
            "cache_creation": {"ephemeral_5m_input_tokens": five, "ephemeral_1h_input_tokens": hour},
            "cache_read_input_tokens": read,
            "output_tokens": output,
            "total_tokens": uncached + five + hour + read + output,
            "server_tool_use": {"web_search_requests": searches},
            "requests": requests,
        }

    def _cost_rows(self, row: dict[str, Any], groups: list[str]) -> list[dict[str, Any]]:
        """A usage row priced: one cost row, or its cost_type / token_type fan-out (which does not count to limit)."""
        cents = row["_list_cents"]
        parts: list[tuple[str, str | None, Decimal]] = [("tokens", field, cents[field]) for field in TOKEN_FIELDS]
        parts.append(("web_search", None, cents["web_search"]))
        head = {
            k: v
            for k, v in row.items()
            if k
            in (
                "actor",
                "product",
                "model",
                "context_window",
                "inference_geo",
                "speed",
                "rbac_group_id",
                "slack_channel_id",
                "claude_tag_category",
                "claude_tag_user_id",
                "starting_at",
                "ending_at",
            )
        }
        by_cost, by_token = "cost_type" in groups, "token_type" in groups
        if not by_cost and not by_token:
            return [_priced(head, sum((p[2] for p in parts), Decimal(0)), row["requests"], None, None)]
        if not by_token:
            token_cost = sum((p[2] for p in parts if p[0] == "tokens"), Decimal(0))
            fanned = [("tokens", None, token_cost), parts[-1]]
        else:
            fanned = parts
        return [
            _priced(head, amount, None, cost_type if by_cost else None, token_type)
            for cost_type, token_type, amount in fanned
            if amount > 0
        ]

    def invoice(self, start: date, end: date) -> Decimal:
        """What the cost report bills for the UTC days ``[start, end)``: every user's priced (product, model) rows
        at the discounted amount, rounded to the report's six decimals of a cent as the rows are served."""
        cents = Decimal(0)
        for offset in range((end - start).days):
            day = start + timedelta(days=offset)
            midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
            for user in range(self.config.users):
                for product, model in self._combos(user):
                    usage = self._tokens(user, product, model, midnight, midnight + timedelta(days=1))
                    if usage["total_tokens"]:
                        listed = sum(_list_cents(model, usage).values(), Decimal(0))
                        cents += Decimal(f"{listed * DISCOUNT:.6f}")
        return cents / 100

    @classmethod
    def billing_queries(cls, start: date, end: date) -> list[dict[str, str]]:
        """One user_cost range query (the integration reads up to 31 days per request, in day buckets)."""
        last = end - timedelta(days=1)
        return [{"start_date": start.isoformat(), "end_date": last.isoformat(), "report_type": "user_cost"}]

    # ---- Admin API /usage_report/claude_code ------------------------------------------------------------------

    def _claude_code(self, request: SimRequest, fault: str | None) -> SimResponse:
        text = request.param("starting_at")
        if not text:
            raise BadRequest("starting_at: field required")
        day = _day(text, "starting_at", floor=False)
        query = query_key(request)
        token = request.param("page")
        start = 0
        if token and not (fault == "loop_cursor" and token == LOOP_TOKEN):
            start = Cursor.decode(token, query).position[0]
        size = self._page_size(request, 20)
        actors = self.config.users + self.config.resources
        page: list[dict[str, Any]] = []
        following = None
        for actor in range(start, actors):
            record = self._claude_code_record(actor, day)
            if record is None:
                continue
            if len(page) == size:
                following = actor
                break
            page.append(record)
        next_page = Cursor(query, (following, 0)).encode() if following is not None else None
        if fault == "loop_cursor":
            next_page = token or LOOP_TOKEN
        if fault == "restart_cursor":
            next_page = Cursor(query, (0, 0)).encode()
        return json_response({"data": page, "has_more": next_page is not None, "next_page": next_page})

    def _claude_code_record(self, actor: int, day: date) -> dict[str, Any] | None:
        """One actor's Claude Code day: users with the surface active that day, then the API keys."""
        users = self.config.users
        if actor < users:
            if not self.active(actor, day, "claude_code"):
                return None
            who: dict[str, str] = {"type": "user_actor", "email_address": self.user(actor)["email_address"]}
        else:
            if self.rng("api-key-active", actor, day).random() >= 0.6:
                return None
            who = {"type": "api_actor", "api_key_name": f"sandbox-key-{actor - users}"}
        rng = self.rng("claude-code", actor, day)
        breakdown = []
        for model in sorted(rng.sample(MODELS, rng.randint(1, 2))):
            tokens = {
                "input": rng.randint(1_000, 90_000),
                "output": rng.randint(500, 30_000),
                "cache_read": rng.randint(0, 400_000),
                "cache_creation": rng.randint(0, 20_000),
            }
            price = PRICES[model]
            cents = (
                tokens["input"] * price[0]
                + tokens["cache_creation"] * price[1]
                + tokens["cache_read"] * price[3]
                + tokens["output"] * price[4]
            ) // 1_000_000
            breakdown.append({"estimated_cost": {"amount": cents, "currency": "USD"}, "model": model, "tokens": tokens})
        return {
            "actor": who,
            "core_metrics": {
                "commits_by_claude_code": rng.randint(0, 9),
                "lines_of_code": {"added": rng.randint(1, 900), "removed": rng.randint(0, 400)},
                "num_sessions": rng.randint(1, 15),
                "pull_requests_by_claude_code": rng.randint(0, 3),
            },
            "customer_type": "api",
            "date": f"{day.isoformat()}T00:00:00Z",
            "model_breakdown": breakdown,
            "organization_id": self.organization_id(),
            "subscription_type": "enterprise",
            "terminal_type": rng.choice(TERMINALS),
            "tool_actions": {tool: {"accepted": rng.randint(0, 25), "rejected": rng.randint(0, 4)} for tool in TOOLS},
        }


# ---- helpers -------------------------------------------------------------------------------------------------------


def _limit(request: SimRequest, default: int) -> int:
    text = request.param("limit")
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise BadRequest("limit: must be an integer") from None
    if not 1 <= value <= 1000:
        raise BadRequest("limit: must be between 1 and 1000")
    return value


def query_key(request: SimRequest) -> str:
    """What a cursor is bound to: every parameter except ``page``, in order."""
    pairs = sorted((k, v) for k, values in request.query.items() if k != "page" for v in values)
    return hashlib.sha256(json.dumps(pairs).encode()).hexdigest()[:16]


def _user_filter(request: SimRequest) -> set[str] | None:
    """User ids a ``filter[]`` keeps (None: everyone). RBAC groups and projects match nobody in the sandbox org."""
    entries = request.query.get("filter[]", [])
    if len(entries) > 100:
        raise BadRequest("filter[]: at most 100 entries")
    users: set[str] = set()
    matches_nobody = False
    dimensions = set()
    for entry in entries:
        dimension, sep, value = entry.partition(":")
        if not sep or not value:
            raise BadRequest(f"filter[]: {entry!r} is not dimension:value")
        if dimension not in ("user_id", "rbac_group_id", "project_id"):
            raise BadRequest(f"filter[]: unknown dimension {dimension!r}")
        dimensions.add(dimension)
        if dimension == "user_id":
            users.add(value)
        else:
            matches_nobody = True
    if "project_id" in dimensions and ("rbac_group_id" in dimensions or "group_by[]" in request.query):
        raise BadRequest("filter[]: project_id cannot be combined with group_by[] or an rbac_group_id filter")
    if matches_nobody:
        return set()
    return users if "user_id" in dimensions else None


def _check_order(request: SimRequest, columns: tuple[str, ...]) -> None:
    order_by = request.param("order_by")
    if order_by is not None and order_by not in columns:
        raise BadRequest(f"order_by: must be one of {', '.join(columns)}")
    if request.param("order") not in (None, "asc", "desc"):
        raise BadRequest("order: must be asc or desc")


def _index(rank: int, order: str | None, users: int) -> int:
    return users - 1 - rank if order == "desc" else rank


def _day(text: str, name: str, *, floor: bool = True) -> date:
    try:
        if not _DAY.match(text):
            raise ValueError(text)
        day = date.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"{name}: {text!r} is not a date in YYYY-MM-DD format") from None
    if floor and day < FIRST_DAY:
        raise BadRequest(f"{name}: no data before {FIRST_DAY.isoformat()}")
    return day


def instant_param(text: str | None, name: str) -> datetime:
    """An RFC 3339 query parameter with a time zone, as the Anthropic report endpoints take it; else a 400."""
    if text is None:
        raise BadRequest(f"{name}: field required")
    try:
        if not _INSTANT.match(text):
            raise ValueError(text)
        return datetime.fromisoformat(text).astimezone(UTC)
    except ValueError:
        raise BadRequest(f"{name}: {text!r} is not an RFC 3339 date-time with a time zone") from None


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)


def _spread(value: int, low: int, high: int) -> int:
    """The part of a day's ``value`` in minutes [low, high): ``value // 1440`` a minute, the rest one each up front."""
    if high <= low:
        return 0
    base, rest = divmod(value, 1440)
    return (high - low) * base + max(0, min(high, rest) - low)


def _buckets(start: datetime, end: datetime, width: str | None) -> list[tuple[datetime, datetime]]:
    """[start, end) whole, or cut at UTC bucket boundaries (each bucket clipped to the range)."""
    if width is None:
        return [(start, end)]
    step = timedelta(minutes=_BUCKET_MINUTES[width])
    epoch = datetime(2026, 1, 1, tzinfo=UTC)
    cursor = epoch + ((start - epoch) // step) * step
    buckets = []
    while cursor < end:
        buckets.append((cursor, cursor + step))
        cursor += step
    return buckets


def _add(left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
    """Field-wise sum of two rows of the same shape (null stays null)."""
    out: dict[str, Any] = {}
    for key, value in left.items():
        other = right.get(key)
        if isinstance(value, dict) and isinstance(other, dict):
            out[key] = _add(value, other)
        elif isinstance(value, int | Decimal) and isinstance(other, int | Decimal) and not isinstance(value, bool):
            out[key] = value + other
        else:
            out[key] = value
    return out


def _list_cents(model: str, usage: dict[str, Any]) -> dict[str, Decimal]:
    """List price in cents of one model's usage, per token type and for web search (summed when rows merge)."""
    counts = (
        usage["uncached_input_tokens"],
        usage["cache_creation"]["ephemeral_5m_input_tokens"],
        usage["cache_creation"]["ephemeral_1h_input_tokens"],
        usage["cache_read_input_tokens"],
        usage["output_tokens"],
    )
    cents = {
        field: Decimal(count) * price / 1_000_000
        for field, count, price in zip(TOKEN_FIELDS, counts, PRICES[model], strict=True)
    }
    cents["web_search"] = usage["server_tool_use"]["web_search_requests"] * WEB_SEARCH_CENTS
    return cents


def _priced(
    head: dict[str, Any], list_amount: Decimal, requests: int | None, cost_type: str | None, token_type: str | None
) -> dict[str, Any]:
    return {
        **head,
        "requests": requests,
        "currency": "USD",
        "amount": f"{list_amount * DISCOUNT:.6f}",
        "list_amount": f"{list_amount:.6f}",
        "cost_type": cost_type,
        "token_type": token_type,
    }

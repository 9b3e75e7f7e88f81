"""OpenAI Codex Enterprise Analytics API: ``GET /v1/analytics/codex/workspaces/{workspace_id}/usage``.

Follows OpenAI's public governance page, https://developers.openai.com/codex/enterprise/governance (the authoritative
reference sits behind a ChatGPT login; field names are unverified against a live tenant, and this simulator serves
them exactly as public client schemas name them):

- ``Authorization: Bearer <key>``; a missing or wrong key is 401. The sandbox key is scoped to one workspace
  (:data:`WORKSPACE_ID`, returned by :meth:`context`): any other workspace id is 403 (the doc: "401/403: missing key or
  missing scope"). Paths the vendor does not serve are FastAPI's default 404 ``{"detail": "Not Found"}``.
- ``start_time`` inclusive / ``end_time`` exclusive, Unix seconds; both omitted means the last 30 calendar days ending
  today (UTC); ``start_time`` more than 90 x 24 h before now is 400. ``group_by`` ``day`` (default) or ``week``
  (weeks start on Monday 00:00 UTC, a sandbox choice: the doc does not say where weeks start; a week row sums the
  days of that week inside the requested window). ``group=workspace`` gives one row per bucket, summed over users;
  omitted, one row per user per bucket (every user of SandboxConfig.users, active or not). Buckets are the UTC
  days (or weeks) the window touches that have started by now, in time order, users in a fixed order within one.
- ``limit`` 1-30000 (default 1000) and ``page`` = the previous ``next_page``: envelope ``{object: "page", data,
  has_more, next_page}``. **Sandbox page cap:** a page holds at most ``min(limit, max(1, users // 3))`` rows, so
  the mapping's ``limit=1000`` still reads three or more pages of one day. ``next_page`` is an opaque token bound
  to the query; a token that is not one, or comes from another query, is 400.
- Errors: bad parameter values are FastAPI's 422 ``{"detail": [{"loc", "msg", "type", "input"}]}`` (documented); other
  error bodies are not published, so the sandbox answers FastAPI's ``HTTPException`` shape ``{"detail": "..."}``.
  Cursors are not documented to expire: ``expired_cursor`` is answered normally.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from ..messages import SimRequest, SimResponse, json_response, streamed_json
from .base import VendorSimulator

API_KEY = "sk-sandbox-codex-analytics"
WORKSPACE_ID = "6c0d3c1e-5a4b-4f6e-9d2a-7b8c9d0e1f2a"
PATH_PREFIX = "/v1/analytics/codex/workspaces/"
DAY = 86_400
LOOKBACK_SECONDS = 90 * DAY
DEFAULT_DAYS = 30
DEFAULT_LIMIT = 1000
MAX_LIMIT = 30_000
OVERAGE_CENTS_PER_CREDIT = 4  # estimated_cost_usd = credits x $0.04 (the doc's example: 1234.5 credits -> $49.38)
CLIENTS = (
    "CODEX_CLI",
    "CODEX_WEB",
    "CODEX_DESKTOP_APP",
    "CODEX_IDE_VSCODE",
    "CODEX_SERVICE_EXEC",
    "CODEX_SDK_TS",
    "CODEX_GITHUB",
    "CODEX_UNKNOWN_DEFAULT",
)
MODELS = ("gpt-5.5", "gpt-5-codex", "gpt-5.1-codex-max", "gpt-5.1-codex-mini", "other")
SPEEDS = ("standard", "fast", None)
_ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_TOKEN_KEYS = ("uncached", "cached", "output")


@dataclass
class _Amounts:
    """Additive figures in exact integer units (credits in tenths, USD in cents); None = not reported."""

    threads: int = 0
    turns: int = 0
    credit_tenths: int = 0
    cost_cents: int | None = None
    uncached: int | None = None
    cached: int | None = None
    output: int | None = None

    def add(self, other: _Amounts) -> None:
        self.threads += other.threads
        self.turns += other.turns
        self.credit_tenths += other.credit_tenths
        self.cost_cents = _add(self.cost_cents, other.cost_cents)
        self.uncached = _add(self.uncached, other.uncached)
        self.cached = _add(self.cached, other.cached)
        self.output = _add(self.output, other.output)

    def billing(self) -> dict[str, Any]:
        tokens = [self.uncached, self.cached, self.output]
        return {
            "credits": self.credit_tenths / 10,
            "cost_usd": None if self.cost_cents is None else self.cost_cents / 100,
            "estimated_cost_usd": round(self.credit_tenths * OVERAGE_CENTS_PER_CREDIT / 10) / 100,
            "uncached_text_input_tokens": self.uncached,
            "cached_text_input_tokens": self.cached,
            "text_output_tokens": self.output,
            "text_total_tokens": None if None in tokens else sum(t for t in tokens if t is not None),
        }

    def counts(self) -> dict[str, Any]:
        return {"threads": self.threads, "turns": self.turns, **self.billing()}


@dataclass
class _Usage:
    """One user's (or the workspace's) usage in one bucket, before it is written out as a vendor row."""

    totals: _Amounts = field(default_factory=_Amounts)
    clients: dict[str, _Amounts] = field(default_factory=dict)
    models: dict[tuple[str, str | None], _Amounts] = field(default_factory=dict)
    lines: tuple[int, int] | None = None

    def add(self, other: _Usage) -> None:
        self.totals.add(other.totals)
        for key, amounts in other.clients.items():
            self.clients.setdefault(key, _Amounts()).add(amounts)
        for model_key, amounts in other.models.items():
            self.models.setdefault(model_key, _Amounts()).add(amounts)
        if other.lines is not None:
            added, removed = self.lines or (0, 0)
            self.lines = (added + other.lines[0], removed + other.lines[1])


@dataclass(frozen=True)
class _Query:
    workspace: str
    start: int
    end: int
    group_by: str
    per_user: bool
    buckets: tuple[int, ...]
    bucket_seconds: int

    def key(self) -> str:
        text = f"{self.workspace}|{self.start}|{self.end}|{self.group_by}|{self.per_user}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]


class OpenAICodexSimulator(VendorSimulator):
    name = "openai-codex"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clock: Callable[[], float] = lambda: self.now().timestamp()
        """The vendor's now (real time); tests may pin it to check the 90-day lookback and the default window."""

    def credentials(self) -> dict[str, str]:
        return {"api_key": API_KEY}

    def context(self) -> dict[str, str]:
        return {"workspace_id": WORKSPACE_ID}

    @classmethod
    def sample_params(cls, now: datetime) -> dict[str, str]:
        """Yesterday (the mapping's default day): users rows in pages of ``max(1, users // 3)``, so three or more."""
        return {"date": (now - timedelta(days=1)).date().isoformat()}

    def error(self, status: int, message: str) -> SimResponse:
        if status == 422:
            return json_response({"detail": [{"loc": ["query"], "msg": message, "type": "value_error"}]}, 422)
        return json_response({"detail": message}, status)

    def handle(self, request: SimRequest, fault: str | None) -> SimResponse:
        workspace, _, tail = request.path.removeprefix(PATH_PREFIX).partition("/")
        if request.method != "GET" or not request.path.startswith(PATH_PREFIX) or not workspace or tail != "usage":
            return self.error(404, "Not Found")
        if self.bearer(request) != API_KEY:
            return self.error(
                401,
                "Invalid or missing API key. Pass a key with codex.enterprise.analytics.read "
                "as 'Authorization: Bearer <key>'.",
            )
        if workspace != WORKSPACE_ID:
            return self.error(403, f"This API key does not have access to workspace {workspace}.")
        query = self._query(request, workspace)
        if isinstance(query, SimResponse):
            return query
        limit = _int_param(request, "limit", DEFAULT_LIMIT)
        if isinstance(limit, SimResponse):
            return limit
        if not 1 <= limit <= MAX_LIMIT:
            return _validation_error(
                "limit", f"Input should be between 1 and {MAX_LIMIT}", "value_error", request.param("limit")
            )
        token = request.param("page")
        offset = 0
        if token is not None:
            decoded = _decode_cursor(token, query.key())
            if decoded is None:
                return self.error(400, "Invalid page token. Pass next_page from the previous response unchanged.")
            offset = decoded
        total = len(query.buckets) * (self.config.users if query.per_user else 1)
        stop = min(total, offset + min(limit, self.page_cap()))
        next_page = _encode_cursor(stop, query.key()) if stop < total else None
        if fault == "loop_cursor":
            next_page = token if token is not None else _encode_cursor(offset, query.key())
        if fault == "restart_cursor":
            next_page = _encode_cursor(0, query.key())
        suffix = (
            '],"has_more":'
            + ("true" if next_page else "false")
            + ',"next_page":'
            + (f'"{next_page}"' if next_page else "null")
            + "}"
        )
        return streamed_json('{"object":"page","data":[', self._rows(query, range(offset, stop)), suffix)

    def page_cap(self) -> int:
        """The most rows a sandbox page holds, whatever ``limit`` asks: small, so one day spans several pages."""
        return max(1, self.config.users // 3)

    def _query(self, request: SimRequest, workspace: str) -> _Query | SimResponse:
        now = int(self.clock())
        today = now - now % DAY
        start = _int_param(request, "start_time", today - (DEFAULT_DAYS - 1) * DAY)
        if isinstance(start, SimResponse):
            return start
        end = _int_param(request, "end_time", today + DAY)
        if isinstance(end, SimResponse):
            return end
        group_by = request.param("group_by", "day")
        if group_by not in ("day", "week"):
            return _validation_error("group_by", "Input should be 'day' or 'week'", "enum", group_by)
        group = request.param("group")
        if group not in (None, "workspace"):
            return _validation_error("group", "Input should be 'workspace'", "enum", group)
        if start >= end:
            return self.error(400, "start_time must be earlier than end_time.")
        if start < now - LOOKBACK_SECONDS:
            return self.error(
                400,
                "start_time is too far in the past: requests can look back up to 90 days "
                f"(start_time must be at least {now - LOOKBACK_SECONDS}).",
            )
        size = DAY if group_by == "day" else 7 * DAY
        first = start - start % DAY
        if group_by == "week":
            first -= datetime.fromtimestamp(first, UTC).weekday() * DAY
        buckets = tuple(range(first, min(end, now), size))
        return _Query(workspace, start, end, group_by, group is None, buckets, size)

    def _rows(self, query: _Query, indices: range) -> Iterator[dict[str, Any]]:
        users = self.config.users if query.per_user else 1
        for index in indices:
            bucket = query.buckets[index // users]
            user = index % users if query.per_user else None
            yield self._row(query, bucket, user)

    def _row(self, query: _Query, bucket: int, user: int | None) -> dict[str, Any]:
        first = max(bucket, query.start - query.start % DAY)
        days = range(first, min(bucket + query.bucket_seconds, query.end, int(self.clock())), DAY)
        usage = _Usage()
        for member in [user] if user is not None else range(self.config.users):
            for day in days:
                usage.add(self.day_usage(member, day))
        actor = None
        if user is not None:
            actor = {"type": "ACCOUNT_USER", "user_id": self.user_id(user), "email": _email(user)}
        return {
            "object": "codex.usage.result",
            "start_time": bucket,
            "end_time": bucket + query.bucket_seconds,
            "user_id": actor and actor["user_id"],
            "actor": actor,
            "email": actor and actor["email"],
            "totals": usage.totals.counts(),
            "clients": [{"client_id": key, **amounts.counts()} for key, amounts in usage.clients.items()],
            "models": [
                {"model": model, "speed": speed, **amounts.billing()}
                for (model, speed), amounts in usage.models.items()
            ]
            or None,
            "code_attribution": None
            if usage.lines is None
            else {"lines_added": usage.lines[0], "lines_removed": usage.lines[1]},
        }

    def invoice(self, start: date, end: date) -> Decimal:
        """Σ cost_usd (native USD-billed usage) of every user and day of ``[start, end)`` the vendor has reported
        (none after now); credits are not money and their list-price estimate is not billed."""
        now = int(self.clock())
        cents = 0
        day = start
        while day < end:
            midnight = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
            if midnight < now:
                for user in range(self.config.users):
                    cents += self.day_usage(user, midnight).totals.cost_cents or 0
            day += timedelta(days=1)
        return Decimal(cents) / 100

    @classmethod
    def billing_queries(cls, start: date, end: date) -> list[dict[str, str]]:
        """One range query (the integration reads up to 30 days per request)."""
        return [{"date": start.isoformat(), "end_date": (end - timedelta(days=1)).isoformat()}]

    def user_id(self, user: int) -> str:
        rng = self.rng("user", user)
        return "user-" + "".join(rng.choice(_ID_CHARS) for _ in range(12))

    def day_usage(self, user: int, day: int) -> _Usage:
        """One user's UTC day, the same for the same seed, user and day; an idle day is all zeros."""
        rng = self.rng(user, day)
        usage = _Usage()
        if rng.random() < 0.25:
            usage.totals = _Amounts(uncached=0, cached=0, output=0)
            return usage
        usd_billed = user % 5 == 4  # every fifth user has native USD-billed usage (cost_usd); the rest only credits
        tokens_reported = rng.random() < 0.95
        models = rng.sample(MODELS, rng.choice((1, 1, 2)))
        for model in models:
            amounts = _Amounts(
                credit_tenths=rng.randint(5, 20_000), cost_cents=rng.randint(1, 9_000) if usd_billed else None
            )
            if tokens_reported:
                amounts.uncached, amounts.cached = rng.randint(1_000, 400_000), rng.randint(0, 4_000_000)
                amounts.output = rng.randint(100, 120_000)
            usage.models[(model, rng.choice(SPEEDS))] = amounts
            usage.totals.add(amounts)
        usage.totals.threads = rng.randint(1, 30)
        usage.totals.turns = usage.totals.threads + rng.randint(0, 150)
        usage.clients = _split_clients(rng.sample(CLIENTS, rng.randint(1, 3)), usage.totals, rng.random)
        usage.lines = (rng.randint(0, 3_000), rng.randint(0, 1_200)) if rng.random() < 0.8 else None
        return usage


def _split_clients(clients: list[str], totals: _Amounts, random: Callable[[], float]) -> dict[str, _Amounts]:
    """Share ``totals`` out over ``clients`` (the first takes the remainder; it may get no threads)."""
    shares = [random() + 0.1 for _ in clients]
    weights = [s / sum(shares) for s in shares]
    result: dict[str, _Amounts] = {}
    left = _Amounts(**vars(totals))
    for client, weight in zip(clients[1:], weights[1:], strict=True):
        part = _Amounts(
            threads=int(totals.threads * weight),
            turns=int(totals.turns * weight),
            credit_tenths=int(totals.credit_tenths * weight),
            cost_cents=None if totals.cost_cents is None else int(totals.cost_cents * weight),
            **{k: _scaled(getattr(totals, k), weight) for k in _TOKEN_KEYS},
        )
        result[client] = part
        left = _subtract(left, part)
    return {clients[0]: left, **result}


def _subtract(whole: _Amounts, part: _Amounts) -> _Amounts:
    return _Amounts(
        whole.threads - part.threads,
        whole.turns - part.turns,
        whole.credit_tenths - part.credit_tenths,
        *(
            None if getattr(whole, k) is None else getattr(whole, k) - (getattr(part, k) or 0)
            for k in ("cost_cents", *_TOKEN_KEYS)
        ),
    )


def _scaled(value: int | None, weight: float) -> int | None:
    return None if value is None else int(value * weight)


def _add(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else a + b


def _email(user: int) -> str:
    return f"user{user}@sandbox.example"


def _int_param(request: SimRequest, name: str, default: int) -> int | SimResponse:
    text = request.param(name)
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        return _validation_error(
            name, "Input should be a valid integer, unable to parse string as an integer", "int_parsing", text
        )


def _validation_error(name: str, message: str, kind: str, value: Any) -> SimResponse:
    return json_response({"detail": [{"loc": ["query", name], "msg": message, "type": kind, "input": value}]}, 422)


def _encode_cursor(offset: int, query_key: str) -> str:
    return base64.urlsafe_b64encode(f"{offset}:{query_key}".encode()).decode().rstrip("=")


def _decode_cursor(token: str, query_key: str) -> int | None:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        offset_text, _, key = text.partition(":")
        offset = int(offset_text)
    except ValueError:
        return None
    return offset if key == query_key and offset >= 0 else None

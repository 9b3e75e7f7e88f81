"""Claude Console (Anthropic Admin API): the cost report and the messages usage report of an API organization.

Public docs: https://platform.claude.com/docs/en/api/admin/cost_report/retrieve,
https://platform.claude.com/docs/en/api/admin/usage_report/retrieve_messages and the guide
https://platform.claude.com/docs/en/manage-claude/usage-cost-api. Response schemas:
``schemas/vendors/claude-admin-cost-report.json`` and ``schemas/vendors/claude-admin-messages-usage-report.json``.

Served paths (GET only):

* ``/v1/organizations/cost_report``: ``starting_at`` (required, RFC 3339; the first bucket is snapped to the start of
  its UTC day), ``ending_at`` (optional; buckets that end on or before it), ``bucket_width`` (``1d`` only),
  ``group_by[]`` (``workspace_id``, ``description``), ``limit`` (buckets, 1-31, default 7), ``page``. Results carry
  ``amount`` (USD cents, a decimal string) and ``currency``; with ``description`` grouping also ``cost_type``,
  ``model``, ``token_type``, ``service_tier`` and ``context_window`` (null for non-token costs); ``inference_geo``
  and ``speed`` are always null (the endpoint cannot group by them).
* ``/v1/organizations/usage_report/messages``: the same range and paging, ``bucket_width`` ``1d`` (``1h`` / ``1m``
  are documented but not simulated: a 400 says so), ``group_by[]`` (``api_key_id``, ``workspace_id``, ``model``,
  ``service_tier``, ``context_window``, ``inference_geo``, ``speed`` (needs ``anthropic-beta:
  fast-mode-2026-02-01``), ``account_id``, ``service_account_id``) and the documented list filters
  (``workspace_ids[]``, ``api_key_ids[]``, ``models[]``, ``service_tiers[]``, ``context_window[]``,
  ``inference_geos[]``, ``account_ids[]``, ``service_account_ids[]``, ``speeds[]``).

Both answer ``{data: [{starting_at, ending_at, results}], has_more, next_page}``: buckets oldest first, empty ones
included, one result per combination of the grouped dimensions (the others null). ``next_page`` is an opaque
``page_...`` token bound to the query (another query with it is a 400). **Sandbox cap:** a page holds at most
:data:`PAGE_BUCKETS` buckets whatever ``limit`` asks (the reference calls ``limit`` a maximum), so a month takes
several pages. Buckets never start after the simulator's ``now()``; today's bucket holds the day so far (every count
of the day pro rata to the minutes elapsed), the vendor's running figure.

Every request needs ``x-api-key`` set to :data:`ADMIN_API_KEY` (401 ``authentication_error`` otherwise, as for any
key that is not an Admin key) and ``anthropic-version: 2023-06-01`` (400 otherwise). Errors use the standard Claude
body ``{"type": "error", "error": {"type", "message"}, "request_id"}``. No rate limit is documented for these
endpoints, so none is enforced.

Synthetic organization: the default workspace (``workspace_id`` null) and ``SandboxConfig.organizations`` named
workspaces; ``SandboxConfig.resources`` API keys spread over them, plus Workbench usage (no API key) in the default
workspace. Each source uses one or two models; on an active day each (model, service tier, context window) it uses
has token counts and, at the standard tier, web searches. Prices are list prices per million tokens (batch half
price, long context 200k-1M at twice the input and 1.5 times the output price), web search 1 cent a request, plus
code execution time (cost report only, as the guide says). The cost report is those token counts priced with
:class:`~decimal.Decimal`, so the two reports agree and :meth:`ClaudeConsoleSimulator.invoice` is their exact sum.
Priority Tier is not simulated (its costs are not in the cost report).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

from ..config import SandboxConfig
from ..messages import SimRequest, SimResponse, json_response
from .base import VendorSimulator
from .claude import BadRequest, anthropic_error, instant_param, query_key

ADMIN_API_KEY = "sk-ant-admin01-sandbox-console"
API_VERSION = "2023-06-01"
FAST_MODE_BETA = "fast-mode-2026-02-01"
COST_PATH = "/v1/organizations/cost_report"
USAGE_PATH = "/v1/organizations/usage_report/messages"
LOOP_TOKEN = "page_sandbox-loop"
PAGE_BUCKETS = 7
MAX_BUCKETS = 31
DEFAULT_BUCKETS = 7

MODELS = ("claude-opus-4-6", "claude-sonnet-4-5", "claude-haiku-4-5")
MODEL_NAMES = {
    "claude-opus-4-6": "Claude Opus 4.6",
    "claude-sonnet-4-5": "Claude Sonnet 4.5",
    "claude-haiku-4-5": "Claude Haiku 4.5",
}
LONG_CONTEXT_MODELS = ("claude-sonnet-4-5",)
TOKEN_TYPES = (
    "uncached_input_tokens",
    "cache_creation.ephemeral_5m_input_tokens",
    "cache_creation.ephemeral_1h_input_tokens",
    "cache_read_input_tokens",
    "output_tokens",
)
TOKEN_LABELS = {
    "uncached_input_tokens": "Input Tokens",
    "cache_creation.ephemeral_5m_input_tokens": "Cache Write (5m) Tokens",
    "cache_creation.ephemeral_1h_input_tokens": "Cache Write (1h) Tokens",
    "cache_read_input_tokens": "Cache Read Tokens",
    "output_tokens": "Output Tokens",
}
# List price in cents per million tokens, in TOKEN_TYPES order.
PRICES = {
    "claude-opus-4-6": (500, 625, 1000, 50, 2500),
    "claude-sonnet-4-5": (300, 375, 600, 30, 1500),
    "claude-haiku-4-5": (100, 125, 200, 10, 500),
}
BATCH_FACTOR = Decimal("0.5")
LONG_CONTEXT_FACTORS = (Decimal(2), Decimal(2), Decimal(2), Decimal(2), Decimal("1.5"))
WEB_SEARCH_CENTS = Decimal(1)
CODE_EXECUTION_CENTS_PER_MINUTE = Decimal("0.1")  # 6 cents a container hour: exact per minute

COST_GROUPS = ("workspace_id", "description")
USAGE_GROUPS = (
    "api_key_id",
    "workspace_id",
    "model",
    "service_tier",
    "context_window",
    "inference_geo",
    "speed",
    "account_id",
    "service_account_id",
)
USAGE_FILTERS = {
    "workspace_ids[]": "workspace_id",
    "api_key_ids[]": "api_key_id",
    "models[]": "model",
    "service_tiers[]": "service_tier",
    "context_window[]": "context_window",
    "inference_geos[]": "inference_geo",
    "account_ids[]": "account_id",
    "service_account_ids[]": "service_account_id",
    "speeds[]": "speed",
}
LINE_FIELDS = ("cost_type", "model", "service_tier", "token_type", "context_window")
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZabcdefghijkmnopqrstuvwxyz"

Usage = dict[str, Any]
"""One usage record of a day: its dimensions and counts (``uncached_input_tokens``, ..., ``web_search_requests``)."""


def _cursor(query: str, offset: int) -> str:
    raw = json.dumps({"q": query, "b": offset}, separators=(",", ":"))
    return "page_" + base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(token: str, query: str) -> int:
    try:
        if not token.startswith("page_"):
            raise ValueError(token)
        text = token[5:]
        data = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        owner, offset = str(data["q"]), int(data["b"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise BadRequest("page: invalid page token") from None
    if owner != query:
        raise BadRequest("page: the page token does not belong to this query; send the same parameters again")
    return offset


class ClaudeConsoleSimulator(VendorSimulator):
    name = "claude-console"
    rate_limit: ClassVar[tuple[int, float] | None] = None  # none documented for the usage and cost endpoints
    demo_queries: ClassVar[tuple[dict[str, str], ...]] = ({}, {"report_type": "usage"})

    def __init__(self, config: SandboxConfig) -> None:
        super().__init__(config)
        self._days: dict[date, list[Usage]] = {}

    def credentials(self) -> dict[str, str]:
        return {"api_key": ADMIN_API_KEY}

    @classmethod
    def sample_params(cls, now: datetime) -> dict[str, str]:
        """Tokens of the 14 days that ended three days ago: two pages of day buckets, many results each. The usage
        report, not the cost report, because its pages carry JSON numbers (cost amounts are strings), so every
        sandbox fault kind (``nan`` included) has something to hit; both reports share the paging."""
        return {
            "report_type": "usage",
            "start_date": (now - timedelta(days=16)).date().isoformat(),
            "end_date": (now - timedelta(days=3)).date().isoformat(),
        }

    @classmethod
    def billing_queries(cls, start: date, end: date) -> list[dict[str, str]]:
        """The cost report (the default report_type) over the days; end_date is inclusive as a date."""
        if end <= start:
            return []
        return [{"start_date": start.isoformat(), "end_date": (end - timedelta(days=1)).isoformat()}]

    def invoice(self, start: date, end: date) -> Decimal:
        """USD the cost report bills for the UTC days [start, end): every cost line of every day, summed exactly
        (today so far for the current day, nothing after it)."""
        cents = Decimal(0)
        day = start
        while day < end:
            cents += sum((line["amount"] for line in self.cost_lines(day)), Decimal(0))
            day += timedelta(days=1)
        return cents / 100

    def error(self, status: int, message: str) -> SimResponse:
        return anthropic_error(status, message)

    def handle(self, request: SimRequest, fault: str | None) -> SimResponse:
        routes: dict[str, Callable[[SimRequest, str | None], SimResponse]] = {
            COST_PATH: self._cost_report,
            USAGE_PATH: self._usage_report,
        }
        route = routes.get(request.path)
        if request.method != "GET" or route is None:
            return self.error(404, "Not found")
        if request.headers.get("x-api-key") != ADMIN_API_KEY:
            return self.error(401, "invalid x-api-key")
        version = request.headers.get("anthropic-version")
        if version is None:
            return self.error(400, "anthropic-version: header is required")
        if version != API_VERSION:
            return self.error(400, f"anthropic-version: {version!r} is not a valid version")
        try:
            return route(request, fault)
        except BadRequest as problem:
            return self.error(400, str(problem))

    # ---- synthetic organization -------------------------------------------------------------------------------

    def _id(self, prefix: str, *key: object) -> str:
        rng = self.rng(prefix, *key)
        return prefix + "_01" + "".join(rng.choice(_ALPHABET) for _ in range(22))

    def workspaces(self) -> list[str | None]:
        """The default workspace (None, as the API reports it) and the named ones."""
        return [None, *(self._id("wrkspc", index) for index in range(self.config.organizations))]

    def sources(self) -> list[tuple[str | None, str | None]]:
        """(api_key_id, workspace_id) of every source of usage: the API keys, then Workbench (no key, default)."""
        workspaces = self.workspaces()
        keys = [(self._id("apikey", i), workspaces[i % len(workspaces)]) for i in range(self.config.resources)]
        return [*keys, (None, None)]

    def today(self) -> date:
        return self.now().date()

    def usage(self, day: date) -> list[Usage]:
        """Every usage record of a UTC day at the finest grain (nothing for a day after today)."""
        today = self.today()
        if day > today:
            return []
        if day < today and day in self._days:
            return self._days[day]
        now = self.now()
        elapsed = 1440 if day < today else (now.hour * 60 + now.minute)
        records = []
        for index, (api_key, workspace) in enumerate(self.sources()):
            if self.rng("active", index, day).random() >= 0.8:
                continue
            pick = self.rng("models", index)
            for model in sorted(pick.sample(MODELS, pick.randint(1, 2))):
                for tier, window in self._variants(index, day, model):
                    record = self._record(index, day, model, tier, window, elapsed)
                    if any(record[field] for field in (*TOKEN_TYPES, "web_search_requests")):
                        records.append({"api_key_id": api_key, "workspace_id": workspace, **record})
        if day < today:
            self._days[day] = records
        return records

    def _variants(self, source: int, day: date, model: str) -> list[tuple[str, str]]:
        rng = self.rng("variants", source, day, model)
        variants = [("standard", "0-200k")]
        if rng.random() < 0.4:
            variants.append(("batch", "0-200k"))
        if model in LONG_CONTEXT_MODELS and rng.random() < 0.3:
            variants.append(("standard", "200k-1M"))
        return variants

    def _record(self, source: int, day: date, model: str, tier: str, window: str, elapsed: int) -> dict[str, Any]:
        rng = self.rng("tokens", source, day, model, tier, window)
        daily = {
            "uncached_input_tokens": rng.randint(2_000, 900_000),
            "cache_creation.ephemeral_5m_input_tokens": rng.randint(0, 80_000),
            "cache_creation.ephemeral_1h_input_tokens": rng.choice((0, rng.randint(0, 40_000))),
            "cache_read_input_tokens": rng.randint(0, 3_000_000),
            "output_tokens": rng.randint(500, 250_000),
            "web_search_requests": rng.randint(0, 30) if tier == "standard" and window == "0-200k" else 0,
        }
        return {
            "model": model,
            "service_tier": tier,
            "context_window": window,
            "inference_geo": "not_available" if model == "claude-haiku-4-5" else "global",
            "speed": "standard",
            "account_id": None,
            "service_account_id": None,
            **{field: value * elapsed // 1440 for field, value in daily.items()},
        }

    def cost_lines(self, day: date) -> list[dict[str, Any]]:
        """The day's cost at the finest grain the cost report has: per workspace and description, ``amount`` in
        cents (Decimal). Token lines are the usage priced; web search and code execution are per workspace."""
        lines: dict[tuple[str | None, str], dict[str, Any]] = {}

        def add(workspace: str | None, description: str, fields: dict[str, str | None], cents: Decimal) -> None:
            if cents <= 0:
                return
            line = lines.setdefault(
                (workspace, description),
                {"workspace_id": workspace, "description": description, **fields, "amount": Decimal(0)},
            )
            line["amount"] += cents

        for record in self.usage(day):
            model, tier, window = record["model"], record["service_tier"], record["context_window"]
            label = (
                MODEL_NAMES[model]
                + (" Batch" if tier == "batch" else "")
                + (" Long Context" if window == "200k-1M" else "")
            )
            for position, token_type in enumerate(TOKEN_TYPES):
                price = Decimal(PRICES[model][position])
                if tier == "batch":
                    price *= BATCH_FACTOR
                if window == "200k-1M":
                    price *= LONG_CONTEXT_FACTORS[position]
                fields = {
                    "cost_type": "tokens",
                    "model": model,
                    "service_tier": tier,
                    "token_type": token_type,
                    "context_window": window,
                }
                cents = Decimal(record[token_type]) * price / 1_000_000
                add(record["workspace_id"], f"{label} Usage - {TOKEN_LABELS[token_type]}", fields, cents)
            searches = Decimal(record["web_search_requests"]) * WEB_SEARCH_CENTS
            add(record["workspace_id"], "Web Search Usage", {"cost_type": "web_search"}, searches)
        today = self.today()
        if day <= today:
            elapsed = 1440 if day < today else self.now().hour * 60 + self.now().minute
            for workspace in self.workspaces():
                rng = self.rng("code-execution", workspace, day)
                if rng.random() < 0.3:
                    minutes = rng.randint(1, 600) * elapsed // 1440
                    cents = Decimal(minutes) * CODE_EXECUTION_CENTS_PER_MINUTE
                    add(workspace, "Code Execution Usage", {"cost_type": "code_execution"}, cents)
        return sorted(lines.values(), key=lambda line: (line["workspace_id"] or "", line["description"]))

    # ---- the two reports ----------------------------------------------------------------------------------------

    def _buckets(self, request: SimRequest, widths: tuple[str, ...]) -> tuple[list[date], int]:
        """The query's day buckets (oldest first, none after today) and the page size in buckets."""
        width = request.param("bucket_width", "1d")
        if width not in widths:
            raise BadRequest(f"bucket_width: must be one of {', '.join(widths)}")
        if width != "1d":
            raise BadRequest(f"bucket_width: {width} is documented but the sandbox simulator serves 1d buckets only")
        text = request.param("limit")
        limit = DEFAULT_BUCKETS
        if text is not None:
            if not re.fullmatch(r"\d+", text) or not 1 <= int(text) <= MAX_BUCKETS:
                raise BadRequest(f"limit: must be an integer from 1 to {MAX_BUCKETS} with bucket_width 1d")
            limit = int(text)
        start = instant_param(request.param("starting_at"), "starting_at")
        first = start.date()
        today = self.today()
        given_end = request.param("ending_at")
        if given_end is not None:
            end = instant_param(given_end, "ending_at")
            if end <= start:
                raise BadRequest("ending_at: must be after starting_at")
            last = (end - timedelta(days=1)).date()  # the last bucket that ends on or before ending_at
        else:
            last = first + timedelta(days=limit - 1)
        last = min(last, today)
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)] if last >= first else []
        return days, min(limit, PAGE_BUCKETS)

    def _page(
        self,
        request: SimRequest,
        fault: str | None,
        days: list[date],
        size: int,
        results: Callable[[date], list[dict[str, Any]]],
    ) -> SimResponse:
        query = query_key(request)
        token = request.param("page")
        offset = 0
        if token and not (fault == "loop_cursor" and token == LOOP_TOKEN):
            offset = _decode_cursor(token, query)
        chosen = days[offset : offset + size]
        data = [
            {
                "starting_at": _rfc3339(day),
                "ending_at": _rfc3339(day + timedelta(days=1)),
                "results": results(day),
            }
            for day in chosen
        ]
        following = offset + size
        next_page = _cursor(query, following) if following < len(days) else None
        if fault == "loop_cursor":
            next_page = token or LOOP_TOKEN
        if fault == "restart_cursor":
            next_page = _cursor(query, 0)
        return json_response({"data": data, "has_more": next_page is not None, "next_page": next_page})

    def _cost_report(self, request: SimRequest, fault: str | None) -> SimResponse:
        groups = _groups(request, COST_GROUPS)
        days, size = self._buckets(request, ("1d",))
        by_workspace, by_description = "workspace_id" in groups, "description" in groups

        def results(day: date) -> list[dict[str, Any]]:
            merged: dict[tuple[Any, ...], dict[str, Any]] = {}
            for line in self.cost_lines(day):
                row: dict[str, Any] = {
                    "currency": "USD",
                    "workspace_id": line["workspace_id"] if by_workspace else None,
                    "description": line["description"] if by_description else None,
                    **{field: line.get(field) if by_description else None for field in LINE_FIELDS},
                    "inference_geo": None,
                    "speed": None,
                }
                key = tuple(row.values())
                if key in merged:
                    merged[key]["amount"] += line["amount"]
                else:
                    merged[key] = {"amount": line["amount"], **row}
            return [{**row, "amount": _decimal_text(row["amount"])} for row in merged.values()]

        return self._page(request, fault, days, size, results)

    def _usage_report(self, request: SimRequest, fault: str | None) -> SimResponse:
        groups = _groups(request, USAGE_GROUPS)
        beta = request.headers.get("anthropic-beta", "")
        fast_mode = FAST_MODE_BETA in [part.strip() for part in beta.split(",")]
        if not fast_mode and ("speed" in groups or "speeds[]" in request.query):
            raise BadRequest(f"speed: grouping or filtering by speed requires the {FAST_MODE_BETA} beta header")
        filters = {dim: set(request.query[name]) for name, dim in USAGE_FILTERS.items() if name in request.query}
        days, size = self._buckets(request, ("1d", "1h", "1m"))

        def results(day: date) -> list[dict[str, Any]]:
            merged: dict[tuple[Any, ...], dict[str, Any]] = {}
            for record in self.usage(day):
                if any(record[dim] not in values for dim, values in filters.items()):
                    continue
                dims = {
                    dim: record[dim] if dim in groups and (dim != "speed" or fast_mode) else None
                    for dim in USAGE_GROUPS
                }
                key = tuple(dims.values())
                counts = {field: record[field] for field in (*TOKEN_TYPES, "web_search_requests")}
                if key in merged:
                    merged[key] = {field: merged[key][field] + counts[field] for field in counts} | {"_dims": dims}
                else:
                    merged[key] = {**counts, "_dims": dims}
            return [_usage_result(entry) for entry in merged.values()]

        return self._page(request, fault, days, size, results)


# ---- helpers -------------------------------------------------------------------------------------------------------


def _usage_result(entry: dict[str, Any]) -> dict[str, Any]:
    dims = entry["_dims"]
    result = {
        "uncached_input_tokens": entry["uncached_input_tokens"],
        "cache_creation": {
            "ephemeral_1h_input_tokens": entry["cache_creation.ephemeral_1h_input_tokens"],
            "ephemeral_5m_input_tokens": entry["cache_creation.ephemeral_5m_input_tokens"],
        },
        "cache_read_input_tokens": entry["cache_read_input_tokens"],
        "output_tokens": entry["output_tokens"],
        "server_tool_use": {"web_search_requests": entry["web_search_requests"]},
        **dims,
    }
    if dims["speed"] is None:
        del result["speed"]  # only returned with the fast-mode beta header
    return result


def _groups(request: SimRequest, allowed: tuple[str, ...]) -> list[str]:
    groups = request.query.get("group_by[]", [])
    for group in groups:
        if group not in allowed:
            raise BadRequest(f"group_by[]: {group!r} is not one of {', '.join(allowed)}")
    return groups


def _rfc3339(day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def _decimal_text(value: Decimal) -> str:
    """A cents amount as the vendor writes it: a plain decimal string, no exponent, no trailing zeros."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text

"""OpenAI organization Usage and Costs APIs: ``GET /v1/organization/costs``, ``GET /v1/organization/usage/completions``.

Follows openai/openai-openapi ``openapi.json`` (info.version 2.3.0; operations ``usage-costs`` and
``usage-completions``), the openai-python types (``src/openai/types/admin/organization/usage_*``) and
https://platform.openai.com/docs/api-reference/usage. The pages match ``schemas/vendors/openai-costs.json`` and
``schemas/vendors/openai-usage-completions.json``.

- ``Authorization: Bearer <Admin key>``. The sandbox Admin key is :data:`ADMIN_KEY`; the sandbox project key
  :data:`PROJECT_KEY` is refused with the missing-scope message OpenAI gives a non-admin key, any other key with
  ``invalid_api_key``; both 401. Errors are ``{"error": {"message", "type", "param", "code"}}``; an unknown path is
  404 ``Invalid URL (GET /v1/...)``, as OpenAI answers.
- ``start_time`` (required, inclusive) / ``end_time`` (exclusive, default now), Unix seconds; ``bucket_width`` 1d (the
  costs endpoint documents only 1d; for completions the sandbox serves 1d only and answers 400 for ``1h`` / ``1m``,
  which the API documents but the sandbox does not simulate). Buckets are the UTC days the range touches that have
  started by now, in time order, each ``[day, day + 86400)``; a bucket with no usage is still listed, with
  ``results: []``. A bucket holds the whole day's figures (today's too: the sandbox does not grow a day hour by hour).
- ``group_by`` (``group_by=a&group_by=b`` as the spec's form-exploded array, or ``group_by[]=a`` as the SDK sends):
  costs ``project_id``, ``line_item``, ``api_key_id``; completions ``project_id``, ``user_id``, ``api_key_id``,
  ``model``, ``batch``, ``service_tier``, any combination. Fields not grouped by are null; results are summed over
  them exactly. Filters ``project_ids``, ``api_key_ids`` (both), ``user_ids``, ``models``, ``batch`` (completions).
- ``limit`` counts buckets: costs 1-180 (default 7), completions 1-31 (default 7); out of range is 400. ``page`` is
  the previous ``next_page``: an opaque token bound to the query; another query's token, or a made-up one, is 400.
  **Sandbox page cap:** a page holds at most :data:`PAGE_BUCKETS` buckets whatever ``limit`` asks (the limit is a
  maximum), so a month read with the mapping's limit 180 still takes several pages. Tokens do not expire.
- Data: SandboxConfig.resources projects with two API keys each (the second key of every even project is a service
  account's: no user), SandboxConfig.users users owning the other keys. Per day, project and key: one or two models,
  an interactive cell (service tier default, flex or priority) and sometimes a batch cell, with uncached, cached,
  cache-write, output tokens split into text / audio / image, and requests. Costs derive from the same cells at
  list prices per million tokens: line items ``"<model>, input"`` (uncached and cache-write tokens), ``"<model>,
  cached input"``, ``"<model>, output"`` (``"<model>, batch ..."`` at half price), plus ``vector store storage`` for
  every third project (no key, gibibyte_hours) and an org-level ``scale tier`` line (no project, no key). Amounts
  are exact decimals with at most 10 decimal places, written as JSON numbers (their text is the decimal).
- No rate limit is documented for the Admin API: none is enforced. A 429 carries ``Retry-After`` in whole seconds
  or, in the sandbox's fast configurations, its fraction.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

from ..config import SandboxConfig
from ..messages import SimRequest, SimResponse, json_response, streamed_json
from .base import VendorSimulator

ADMIN_KEY = "sk-admin-sandbox-openai-usage-and-costs-key"
PROJECT_KEY = "sk-proj-sandbox-openai-not-an-admin-key"
ORGANIZATION_ID = "org-SandboxOpenAIOrg0001"
COSTS_PATH = "/v1/organization/costs"
COMPLETIONS_PATH = "/v1/organization/usage/completions"
DAY = 86_400
PAGE_BUCKETS = 7
MILLION = Decimal(1_000_000)
COST_GROUPS = ("project_id", "line_item", "api_key_id")
COMPLETION_GROUPS = ("project_id", "user_id", "api_key_id", "model", "batch", "service_tier")
LIMITS = {COSTS_PATH: 180, COMPLETIONS_PATH: 31}
DEFAULT_LIMIT = 7
TIERS = ("default", "default", "flex", "priority")
SCALE_TIER_DAILY = Decimal("48.00")
STORAGE_PER_GIB_DAY = Decimal("0.10")
# List prices in USD per million tokens: input, cached input, output.
MODELS: dict[str, tuple[Decimal, Decimal, Decimal]] = {
    "gpt-4.1-2025-04-14": (Decimal("2.00"), Decimal("0.50"), Decimal("8.00")),
    "gpt-4.1-mini-2025-04-14": (Decimal("0.40"), Decimal("0.10"), Decimal("1.60")),
    "gpt-4o-2024-08-06": (Decimal("2.50"), Decimal("1.25"), Decimal("10.00")),
    "o4-mini-2025-04-16": (Decimal("1.10"), Decimal("0.275"), Decimal("4.40")),
    "gpt-5-2025-08-07": (Decimal("1.25"), Decimal("0.125"), Decimal("10.00")),
}
AUDIO_MODELS = {"gpt-4o-2024-08-06"}
_ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_TOKEN_FIELDS = (
    "input_tokens",
    "input_cached_tokens",
    "input_cache_write_tokens",
    "input_uncached_tokens",
    "output_tokens",
    "input_text_tokens",
    "output_text_tokens",
    "input_cached_text_tokens",
    "input_audio_tokens",
    "input_cached_audio_tokens",
    "output_audio_tokens",
    "input_image_tokens",
    "input_cached_image_tokens",
    "output_image_tokens",
    "num_model_requests",
)


@dataclass(frozen=True)
class _Cell:
    """One project / key / model / batch combination of one day: completions usage as the vendor counts it."""

    project: str
    key: str
    user: str | None
    model: str
    batch: bool
    tier: str
    counts: dict[str, int]


@dataclass(frozen=True)
class _Line:
    """One cost line of one day, before grouping: amount in dollars (exact), quantity in its unit."""

    project: str | None
    key: str | None
    line_item: str
    amount: Decimal
    quantity: Decimal | None
    unit: str | None


@dataclass(frozen=True)
class _Query:
    path: str
    start: int
    end: int
    group_by: tuple[str, ...]
    filters: tuple[tuple[str, tuple[str, ...]], ...]
    limit: int

    def key(self) -> str:
        text = f"{self.path}|{self.start}|{self.end}|{self.group_by}|{self.filters}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]


class _BadRequest(Exception):
    def __init__(self, param: str | None, message: str) -> None:
        super().__init__(message)
        self.param = param


class OpenAIPlatformSimulator(VendorSimulator):
    name = "openai"
    demo_queries: ClassVar[tuple[dict[str, str], ...]] = ({}, {"report_type": "completions"})

    def __init__(self, config: SandboxConfig) -> None:
        super().__init__(config)
        self._days: dict[tuple[str, int], list[Any]] = {}

    def credentials(self) -> dict[str, str]:
        return {"api_key": ADMIN_KEY}

    def context(self) -> dict[str, str]:
        return {"organization_id": ORGANIZATION_ID}

    @classmethod
    def sample_params(cls, now: datetime) -> dict[str, str]:
        """The previous month through yesterday, costs: two month windows of several pages each."""
        end = (now - timedelta(days=1)).date()
        start = (end.replace(day=1) - timedelta(days=1)).replace(day=1)
        return {"start_date": start.isoformat(), "end_date": end.isoformat()}

    @classmethod
    def billing_queries(cls, start: date, end: date) -> list[dict[str, str]]:
        """One costs query over the days (end_date is inclusive as a date, hence the day before ``end``)."""
        last = end - timedelta(days=1)
        return [{"start_date": start.isoformat(), "end_date": last.isoformat(), "report_type": "costs"}]

    def invoice(self, start: date, end: date) -> Decimal:
        """Σ of every cost line of the days in ``[start, end)`` that have started by now: what the Costs endpoint
        reports, which OpenAI says reconciles to the invoice (for the open month, the spend so far)."""
        total = Decimal(0)
        now = self.now().timestamp()
        day = start
        while day < end:
            bucket = _epoch(day)
            if bucket < now:
                total += sum((line.amount for line in self.cost_lines(bucket)), Decimal(0))
            day += timedelta(days=1)
        return total

    # ------------------------------------------------------------------------------------------------ HTTP

    def error(self, status: int, message: str) -> SimResponse:
        kinds = {401: "invalid_request_error", 429: "requests"}
        kind = kinds.get(status, "invalid_request_error" if status < 500 else "server_error")
        return self._error(status, message, kind)

    def rate_limited(self, retry_after: float) -> SimResponse:
        response = self._error(
            429,
            "Rate limit reached for requests to the organization usage API. Please try again later.",
            "requests",
            code="rate_limit_exceeded",
        )
        response.headers["retry-after"] = f"{retry_after:g}"
        return response

    @staticmethod
    def _error(status: int, message: str, kind: str, param: str | None = None, code: str | None = None) -> SimResponse:
        body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
        return json_response(body, status)

    def handle(self, request: SimRequest, fault: str | None) -> SimResponse:
        if request.method != "GET" or request.path not in LIMITS:
            return self._error(404, f"Invalid URL ({request.method} {request.path})", "invalid_request_error")
        key = self.bearer(request)
        if key == PROJECT_KEY:
            return self._error(
                401,
                "You have insufficient permissions for this operation. Missing scopes: api.usage.read. Check that "
                "you have the correct role in your organization or project, and if you're using a restricted API "
                "key, that it has the necessary scopes.",
                "invalid_request_error",
            )
        if key != ADMIN_KEY:
            return self._error(
                401,
                "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
                "invalid_request_error",
                code="invalid_api_key",
            )
        try:
            query = self._query(request)
            offset = self._offset(request.param("page"), query)
        except _BadRequest as bad:
            return self._error(400, str(bad), "invalid_request_error", param=bad.param)
        buckets = self.buckets(query)
        stop = min(len(buckets), offset + min(query.limit, PAGE_BUCKETS))
        next_page = _token(stop, query) if stop < len(buckets) else None
        if fault == "loop_cursor":
            next_page = request.param("page") or _token(offset, query)
        elif fault == "restart_cursor":
            next_page = _token(0, query)
        suffix = (
            '],"has_more":'
            + ("true" if next_page else "false")
            + ',"next_page":'
            + (f'"{next_page}"' if next_page else "null")
            + "}"
        )
        pages = (self._bucket(query, bucket) for bucket in buckets[offset:stop])
        return streamed_json('{"object":"page","data":[', pages, suffix)

    def _query(self, request: SimRequest) -> _Query:
        start = _integer(request, "start_time")
        if start is None:
            raise _BadRequest("start_time", "Missing required parameter: 'start_time'.")
        now = int(self.now().timestamp())
        end = _integer(request, "end_time")
        end = now if end is None else end
        if end <= start:
            raise _BadRequest("end_time", "end_time must be greater than start_time.")
        width = request.param("bucket_width", "1d")
        if width not in ("1d", "1h", "1m") or (request.path == COSTS_PATH and width != "1d"):
            raise _BadRequest("bucket_width", f"Invalid value for 'bucket_width': {width!r}.")
        if width != "1d":
            raise _BadRequest("bucket_width", f"The sandbox serves bucket_width=1d only, not {width!r}.")
        allowed = COST_GROUPS if request.path == COSTS_PATH else COMPLETION_GROUPS
        groups = _values(request, "group_by")
        for group in groups:
            if group not in allowed:
                raise _BadRequest("group_by", f"Invalid value for 'group_by': {group!r}. Supported: {list(allowed)}.")
        maximum = LIMITS[request.path]
        limit = _integer(request, "limit")
        limit = DEFAULT_LIMIT if limit is None else limit
        if not 1 <= limit <= maximum:
            raise _BadRequest("limit", f"Invalid value for 'limit': must be between 1 and {maximum}.")
        names = ("project_ids", "api_key_ids") + (("user_ids", "models") if request.path == COMPLETIONS_PATH else ())
        filters = [(name, tuple(sorted(_values(request, name)))) for name in names]
        batch = request.param("batch")
        if request.path == COMPLETIONS_PATH and batch is not None:
            if batch not in ("true", "false"):
                raise _BadRequest("batch", f"Invalid value for 'batch': {batch!r}.")
            filters.append(("batch", (batch,)))
        ordered = tuple(g for g in allowed if g in groups)
        return _Query(request.path, start, end, ordered, tuple((n, v) for n, v in filters if v), limit)

    def _offset(self, token: str | None, query: _Query) -> int:
        if token is None:
            return 0
        try:
            text = base64.urlsafe_b64decode(token.removeprefix("page_").encode()).decode()
            offset_text, key = text.split("|")
            offset = int(offset_text)
        except ValueError:
            offset, key = -1, ""
        if key != query.key() or offset < 0:
            raise _BadRequest("page", "Invalid page cursor. Pass next_page from the previous response unchanged.")
        return offset

    def buckets(self, query: _Query) -> list[int]:
        """The UTC days the query's range touches that have started by now."""
        first = query.start - query.start % DAY
        return list(range(first, min(query.end, int(self.now().timestamp())), DAY))

    def _bucket(self, query: _Query, bucket: int) -> dict[str, Any]:
        filters = dict(query.filters)
        if query.path == COSTS_PATH:
            results = _group_costs(_filtered(self.cost_lines(bucket), filters), query.group_by)
        else:
            results = _group_usage(_filtered(self.cells(bucket), filters), query.group_by)
        return {"object": "bucket", "start_time": bucket, "end_time": bucket + DAY, "results": results}

    # ------------------------------------------------------------------------------------------------ data

    def project_id(self, project: int) -> str:
        return "proj_" + _random_id(self.rng("project", project), 24)

    def user_id(self, user: int) -> str:
        return "user-" + _random_id(self.rng("user", user), 24)

    def api_key_id(self, project: int, key: int) -> str:
        return "key_" + _random_id(self.rng("key", project, key), 16)

    def key_owner(self, project: int, key: int) -> str | None:
        """The user a key belongs to; the second key of every even project is a service account's (no user)."""
        if key == 1 and project % 2 == 0:
            return None
        return self.user_id((project * 2 + key) % max(1, self.config.users))

    def cells(self, bucket: int) -> list[_Cell]:
        """Every usage cell of one UTC day, the same for the same seed and day."""
        cached = self._days.get(("cells", bucket))
        if cached is None:
            cached = list(self._make_cells(bucket))
            if len(self._days) > 4096:
                self._days.clear()
            self._days[("cells", bucket)] = cached
        return cached

    def _make_cells(self, bucket: int) -> Iterator[_Cell]:
        for project in range(self.config.resources):
            for key in (0, 1):
                rng = self.rng("usage", bucket, project, key)
                if rng.random() < 0.2:
                    continue
                for model in rng.sample(sorted(MODELS), rng.choice((1, 1, 2))):
                    kinds = [(False, rng.choice(TIERS))] + ([(True, "default")] if rng.random() < 0.25 else [])
                    for batch, tier in kinds:
                        yield _Cell(
                            self.project_id(project),
                            self.api_key_id(project, key),
                            self.key_owner(project, key),
                            model,
                            batch,
                            tier,
                            _counts(rng, audio=model in AUDIO_MODELS and not batch),
                        )

    def cost_lines(self, bucket: int) -> list[_Line]:
        """Every cost line of one UTC day: tokens priced per model, storage per project, the org's Scale Tier."""
        cached = self._days.get(("costs", bucket))
        if cached is None:
            cached = list(self._make_lines(bucket))
            self._days[("costs", bucket)] = cached
        return cached

    def _make_lines(self, bucket: int) -> Iterator[_Line]:
        sums: dict[tuple[str, str, str], tuple[Decimal, Decimal]] = {}
        for cell in self.cells(bucket):
            price_in, price_cached, price_out = MODELS[cell.model]
            factor = Decimal("0.5") if cell.batch else Decimal(1)
            prefix = f"{cell.model}, batch " if cell.batch else f"{cell.model}, "
            c = cell.counts
            for kind, tokens, price in (
                ("input", c["input_uncached_tokens"] + c["input_cache_write_tokens"], price_in),
                ("cached input", c["input_cached_tokens"], price_cached),
                ("output", c["output_tokens"], price_out),
            ):
                line = (cell.project, cell.key, prefix + kind)
                amount, quantity = sums.get(line, (Decimal(0), Decimal(0)))
                sums[line] = (amount + Decimal(tokens) * price * factor / MILLION, quantity + tokens)
        for (project, key, item), (amount, quantity) in sums.items():
            yield _Line(project, key, item, amount, quantity, "tokens")
        for index in range(0, self.config.resources, 3):
            gib = Decimal(self.rng("storage", bucket, index).randint(500, 20_000)) / 1000
            yield _Line(
                self.project_id(index),
                None,
                "vector store storage",
                gib * STORAGE_PER_GIB_DAY,
                gib * 24,
                "gibibyte_hours",
            )
        yield _Line(None, None, "scale tier", SCALE_TIER_DAILY, None, None)


def _counts(rng: Any, audio: bool) -> dict[str, int]:
    text_in, text_cached = rng.randint(2_000, 900_000), rng.randint(0, 2_000_000)
    audio_in, audio_cached, audio_out = (
        (rng.randint(0, 40_000), rng.randint(0, 10_000), rng.randint(0, 30_000)) if audio else (0, 0, 0)
    )
    image_in = rng.randint(0, 20_000) if rng.random() < 0.3 else 0
    written = rng.randint(0, 50_000) if rng.random() < 0.5 else 0
    text_out = rng.randint(200, 150_000)
    uncached = text_in + audio_in + image_in
    cached = text_cached + audio_cached
    return {
        "input_tokens": uncached + cached + written,
        "input_cached_tokens": cached,
        "input_cache_write_tokens": written,
        "input_uncached_tokens": uncached,
        "output_tokens": text_out + audio_out,
        "input_text_tokens": text_in,
        "output_text_tokens": text_out,
        "input_cached_text_tokens": text_cached,
        "input_audio_tokens": audio_in,
        "input_cached_audio_tokens": audio_cached,
        "output_audio_tokens": audio_out,
        "input_image_tokens": image_in,
        "input_cached_image_tokens": 0,
        "output_image_tokens": 0,
        "num_model_requests": rng.randint(1, 4_000),
    }


_FILTER_FIELDS = {"project_ids": "project", "api_key_ids": "key", "user_ids": "user", "models": "model"}


def _filtered(items: Iterable[Any], filters: dict[str, tuple[str, ...]]) -> list[Any]:
    kept = []
    for item in items:
        fields = [(_FILTER_FIELDS[name], values) for name, values in filters.items() if name != "batch"]
        if any(getattr(item, field) not in values for field, values in fields):
            continue
        if "batch" in filters and item.batch != (filters["batch"][0] == "true"):
            continue
        kept.append(item)
    return kept


def _group_costs(lines: list[_Line], groups: tuple[str, ...]) -> list[dict[str, Any]]:
    grouped: dict[tuple[Any, ...], list[_Line]] = {}
    for line in lines:
        fields = {"project_id": line.project, "line_item": line.line_item, "api_key_id": line.key}
        grouped.setdefault(tuple(fields[g] for g in groups), []).append(line)
    results = []
    for values, members in grouped.items():
        named = dict(zip(groups, values, strict=True))
        by_item = "line_item" in groups
        quantity = members[0].quantity if by_item and len(members) == 1 else None
        if by_item and len(members) > 1 and all(m.quantity is not None for m in members):
            quantity = sum((m.quantity for m in members if m.quantity is not None), Decimal(0))
        results.append(
            {
                "object": "organization.costs.result",
                "amount": {"value": _number(sum((m.amount for m in members), Decimal(0))), "currency": "usd"},
                "line_item": named.get("line_item"),
                "project_id": named.get("project_id"),
                "api_key_id": named.get("api_key_id"),
                "quantity": None if quantity is None else _number(quantity),
                "quantity_unit": members[0].unit if by_item and quantity is not None else None,
            }
        )
    return results


def _group_usage(cells: list[_Cell], groups: tuple[str, ...]) -> list[dict[str, Any]]:
    grouped: dict[tuple[Any, ...], dict[str, int]] = {}
    for cell in cells:
        fields = {
            "project_id": cell.project,
            "user_id": cell.user,
            "api_key_id": cell.key,
            "model": cell.model,
            "batch": cell.batch,
            "service_tier": cell.tier,
        }
        sums = grouped.setdefault(tuple(fields[g] for g in groups), dict.fromkeys(_TOKEN_FIELDS, 0))
        for name in _TOKEN_FIELDS:
            sums[name] += cell.counts[name]
    results = []
    for values, sums in grouped.items():
        named = dict(zip(groups, values, strict=True))
        results.append(
            {
                "object": "organization.usage.completions.result",
                **sums,
                **{name: named.get(name) for name in COMPLETION_GROUPS},
            }
        )
    return results


def _number(value: Decimal) -> int | float:
    """An exact decimal as the JSON number whose text is that decimal (at most 15 significant digits here)."""
    normalized = value.normalize()
    if normalized == normalized.to_integral_value():
        return int(normalized)
    as_float = float(normalized)
    assert Decimal(repr(as_float)) == normalized, f"{value} does not survive as a JSON number"
    return as_float


def _integer(request: SimRequest, name: str) -> int | None:
    text = request.param(name)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise _BadRequest(name, f"Invalid value for '{name}': expected an integer, got {text!r}.") from None


def _values(request: SimRequest, name: str) -> list[str]:
    query = request.query
    return [*query.get(name, []), *query.get(f"{name}[]", [])]


def _token(offset: int, query: _Query) -> str:
    return "page_" + base64.urlsafe_b64encode(f"{offset}|{query.key()}".encode()).decode()


def _random_id(rng: Any, length: int) -> str:
    return "".join(rng.choice(_ID_CHARS) for _ in range(length))


def _epoch(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())

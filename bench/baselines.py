"""Hand-written clients: what a developer would write for each vendor without the engine (the benchmark yardstick).

Each function reads ``mappings/<name>.yaml`` as a specification and implements it in plain Python: httpx (sync),
orjson (stdlib ``json`` when orjson is missing) and dict building. They produce the SAME rows as the engine, in the
same order, ids and ``remote_data`` included (``tests/e2e/test_bench.py`` checks it row for row). Rows are pruned as
the engine prunes them: a null or empty-object field is omitted (absent is not zero).

They do NOT validate rows: a user writing the client by hand would not, and issue 13's targets compare the engine,
which validates every row, with that. :func:`validated` wraps a client with the engine's row validator
(``unimeter.run.validation.validate_row``) for the "baseline + validation" information row.

Each client takes the sandbox ``endpoint`` (``base_url``, ``credentials``, ``context``), the unified ``params`` and
the clock ``now``, and returns the list of rows. They are deliberately not generic: one function per vendor, which
reads ``params["report_type"]`` where the mapping has several reports. This module imports nothing of ``unimeter``
at import time, so ``bench/handwritten.py`` runs a client in a process that never loads the engine.
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import re
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote, unquote

import httpx

try:
    import orjson

    loads: Callable[[bytes], Any] = orjson.loads

    def orjson_dumps(value: Any) -> str:
        return orjson.dumps(value).decode()

except ImportError:  # pragma: no cover - the benchmark installs orjson; tests still run without it
    import json

    loads = json.loads

    def orjson_dumps(value: Any) -> str:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


Row = dict[str, Any]
Client = Callable[[dict[str, Any], dict[str, str], datetime], list[Row]]

_USER_AGENT = {"User-Agent": "unimeter-bench/0.1", "Accept": "application/json"}
_TIMEOUT = 60.0


# ------------------------------------------------------------------------------------------------ shared helpers


def _prune(value: Any) -> Any:
    """Drop nulls and empty objects, recursively (``remote_data`` is added afterwards, untouched)."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            cleaned = _prune(item)
            if cleaned is None or cleaned == {}:
                continue
            out[key] = cleaned
        return out
    if isinstance(value, list):
        return [item for item in (_prune(v) for v in value) if item is not None and item != {}]
    return value


def _emit(rows: list[Row], row: Row, record: Any) -> None:
    tidy = _prune(row)
    tidy["remote_data"] = record
    rows.append(tidy)


def _money(value: Any) -> Any:
    """An exact JSON number from a number or decimal string (integers stay integers)."""
    if value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    exact = Decimal(str(value).strip()).normalize()
    return int(exact) if exact == exact.to_integral_value() else float(exact)


def _instant(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(text: str) -> datetime:
    if len(text) == 10:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _add_months(moment: datetime, months: int) -> datetime:
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    return moment.replace(year=year, month=month + 1, day=min(moment.day, calendar.monthrange(year, month + 1)[1]))


def _month_start(moment: datetime) -> datetime:
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def _client(base_url: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, timeout=_TIMEOUT, headers=_USER_AGENT)


def _json_string(value: Any) -> str:
    """JSONata ``$string`` of a scalar: numbers at 15 significant digits, integral ones without a fraction."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        rounded = float(f"{value:.15g}")
        return str(int(rounded)) if rounded.is_integer() else repr(rounded)
    return str(value)


# ------------------------------------------------------------------------------------------------ cursor

_CURSOR_PROVIDERS = (
    ("claude", "anthropic"),
    ("gpt", "openai"),
    ("o1", "openai"),
    ("o3", "openai"),
    ("o4", "openai"),
    ("gemini", "google"),
    ("grok", "xai"),
)
_DAY_MS = 86_400_000


def _cursor_provider(model: str) -> str:
    lowered = model.lower()
    for prefix, provider in _CURSOR_PROVIDERS:
        if lowered.startswith(prefix):
            return provider
    return "cursor"


def _cursor_row(r: dict[str, Any]) -> Row:
    user_id = str(r["userId"]) if r.get("userId") is not None else None
    counted = [r.get("chatRequests"), r.get("agentRequests"), r.get("composerRequests"), r.get("cmdkUsages")]
    numbers = all(isinstance(c, int | float) and not isinstance(c, bool) for c in counted)
    day = r["day"]
    model = r.get("mostUsedModel")
    following = (date.fromisoformat(day) + timedelta(days=1)).isoformat()
    return {
        "id": f"cursor:{day}:{user_id or r.get('email')}",
        "product": {"id": "cursor", "name": "Cursor"},
        "metric_name": "daily_activity",
        "user": {"id": user_id, "email": r.get("email")},
        "model": {"id": model, "provider": _cursor_provider(model)} if model else None,
        "usage": {
            "requests": {
                "total": sum(counted) if numbers else None,
                "chat": r.get("chatRequests"),
                "agent": r.get("agentRequests"),
                "composer": r.get("composerRequests"),
                "cmdk": r.get("cmdkUsages"),
                "tab_shown": r.get("totalTabsShown"),
                "tab_accepted": r.get("totalTabsAccepted"),
                "api_key": r.get("apiKeyReqs"),
                "included": r.get("subscriptionIncludedReqs"),
                "usage_based": r.get("usageBasedReqs"),
                "bugbot": r.get("bugbotUsages"),
            },
            "code": {
                "lines_added": r.get("totalLinesAdded"),
                "lines_removed": r.get("totalLinesDeleted"),
                "lines_accepted_added": r.get("acceptedLinesAdded"),
                "lines_accepted_removed": r.get("acceptedLinesDeleted"),
                "applies": r.get("totalApplies"),
                "accepts": r.get("totalAccepts"),
                "rejects": r.get("totalRejects"),
                "apply_most_used": r.get("applyMostUsedExtension"),
                "tab_most_used": r.get("tabMostUsedExtension"),
            },
            "activity": {"is_active": r.get("isActive"), "client_version": r.get("clientVersion")},
        },
        "start_date": f"{day}T00:00:00Z",
        "end_date": f"{following}T00:00:00Z",
    }


def _text_or_empty(value: Any) -> str:
    """JSONata ``$string`` of what the transform concatenates (strings, integers, booleans, short decimals)."""
    return "" if value is None else _json_string(value)


def _from_millis(ms: int) -> str:
    """JSONata ``$fromMillis``: always with milliseconds."""
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _cents(value: Any) -> Any:
    """``$cents``: an exact JSON number of dollars from cents."""
    exact = (Decimal(repr(value)) if isinstance(value, float) else Decimal(value)) / 100
    exact = exact.normalize()
    return int(exact) if exact == exact.to_integral_value() else float(exact)


def _usd(kind: str, cents: Any) -> Row | None:
    return {"amount": _cents(cents), "currency": "USD", "type": kind} if cents is not None else None


def _cursor_event_row(r: dict[str, Any]) -> Row:
    tu = r.get("tokenUsage")
    tokens = tu if isinstance(tu, dict) else {}
    ms = int(r["timestamp"])
    at = _from_millis(ms)
    kind = r["kind"] if r.get("kind") is not None else r.get("kindLabel")
    key = "|".join(
        _text_or_empty(v)
        for v in (
            r.get("timestamp"),
            r.get("userEmail"),
            r.get("model"),
            r.get("maxMode"),
            r.get("isHeadless"),
            r.get("conversationId"),
            r.get("cloudAgentId"),
            r.get("automationId"),
            r.get("serviceAccountId"),
            tokens.get("inputTokens"),
            tokens.get("outputTokens"),
            tokens.get("cacheWriteTokens"),
            tokens.get("cacheReadTokens"),
        )
    )
    chargeable = r.get("isChargeable")
    if isinstance(chargeable, bool):
        billed: bool | None = chargeable
    elif r.get("isFreeBugbot") is True:
        billed = False
    else:
        billed = kind.startswith("Usage-based") if isinstance(kind, str) else None
    fee = r.get("cursorTokenFee")
    total_cents = tokens.get("totalCents")
    charged = r.get("chargedCents")
    if charged is None and total_cents is not None and tokens.get("discountPercentOff") is None and fee is None:
        charged = total_cents
    charges: list[Row | None] | None = None
    if billed is True and charged is not None:
        gross = (
            Decimal(repr(total_cents)) + (Decimal(repr(fee)) if fee is not None else 0)
            if total_cents is not None
            else None
        )
        off = Decimal(repr(charged)) - gross if gross is not None else None
        charges = [
            _usd("net", charged),
            _usd("total", _money(gross)) if off is not None and off <= 0 else None,
            _usd("discount", _money(off)) if off is not None and off < 0 else None,
            _usd("platform_fee", fee),
        ]
    elif billed is False:
        included = isinstance(kind, str) and kind.startswith("Included")
        charges = [_usd("net", 0), _usd("included", charged) if included else None]
    model = r.get("model")
    quantity = r.get("requestsCosts")
    return {
        "id": f"cursor:{at}:{hashlib.sha256(key.encode()).hexdigest()[:16]}",
        "product": {"id": "cursor", "name": "Cursor"},
        "metric_name": "model_request",
        "user": {"email": r.get("userEmail")},
        "model": {"id": model, "provider": _cursor_provider(model)} if model is not None else None,
        "charges": [c for c in charges if c is not None] if charges is not None else None,
        "usage": {
            "tokens": {
                "input": tokens.get("inputTokens"),
                "output": tokens.get("outputTokens"),
                "cache_read": tokens.get("cacheReadTokens"),
                "cache_write": tokens.get("cacheWriteTokens"),
            }
            if isinstance(tu, dict)
            else None,
            "quantity": quantity,
            "unit": "request_units" if quantity is not None else None,
            "activity": {"max_mode": r.get("maxMode")},
        },
        "start_date": at,
        "end_date": _from_millis(ms + 1),
    }


def _cursor_events(endpoint: dict[str, Any], params: dict[str, str]) -> list[Row]:
    """report_type=usage_events: POST /teams/filtered-usage-events over 30-day windows, pages of 1000 events."""
    start = _parse(params["start_date"])
    end = _parse(params["end_date"]) + timedelta(days=1)
    auth = {"Authorization": _basic(endpoint["credentials"]["api_key"], "")}
    rows: list[Row] = []
    with _client(endpoint["base_url"]) as client:
        window_start = start
        while window_start < end:
            window_end = min(window_start + timedelta(days=30), end)
            start_ms, end_ms = int(window_start.timestamp() * 1000), int(window_end.timestamp() * 1000)
            page = 1
            while True:
                response = client.post(
                    "/teams/filtered-usage-events",
                    headers=auth,
                    json={"startDate": start_ms, "endDate": end_ms - 1, "page": page, "pageSize": 1000},
                )
                response.raise_for_status()
                body = loads(response.content)
                for record in body.get("usageEvents") or []:
                    _emit(rows, _cursor_event_row(record), record)
                if (body.get("pagination") or {}).get("hasNextPage") is not True:
                    break
                page += 1
            window_start = window_end
    return rows


def cursor(endpoint: dict[str, Any], params: dict[str, str], now: datetime) -> list[Row]:
    """POST /teams/daily-usage-data over 30-day windows, pages of 500 users (mappings/cursor.yaml); with
    report_type=usage_events, the events endpoint."""
    if params.get("report_type") == "usage_events":
        return _cursor_events(endpoint, params)
    start = _parse(params["start_date"])
    end = _parse(params["end_date"]) + timedelta(days=1)  # plain dates: the end day is included
    auth = {"Authorization": _basic(endpoint["credentials"]["api_key"], "")}
    rows: list[Row] = []
    with _client(endpoint["base_url"]) as client:
        window_start, window_index = start, 0
        while window_start < end:
            window_end = min(window_start + timedelta(days=30), end)
            start_ms, end_ms = int(window_start.timestamp() * 1000), int(window_end.timestamp() * 1000)
            page = 1
            while True:
                response = client.post(
                    "/teams/daily-usage-data",
                    headers=auth,
                    json={"startDate": start_ms, "endDate": end_ms - 1, "page": page, "pageSize": 500},
                )
                response.raise_for_status()
                body = loads(response.content)
                for record in body.get("data") or []:
                    row = _cursor_row(record)
                    day_ms = int(_parse(record["day"]).timestamp() * 1000)
                    first_window_overlap = window_index == 0 and day_ms + _DAY_MS > start_ms
                    if day_ms < end_ms and (day_ms >= start_ms or first_window_overlap):
                        _emit(rows, row, record)
                if (body.get("pagination") or {}).get("hasNextPage") is not True:
                    break
                page += 1
            window_start, window_index = window_end, window_index + 1
    return rows


# ------------------------------------------------------------------------------------------------ datadog

_DATADOG_PARTS = ("committed", "on_demand")


def _datadog_rows(record: dict[str, Any], operation: str, window_start: datetime) -> Iterable[Row]:
    a = record.get("attributes") or {}
    month = _month_start(_parse(a["date"])) if a.get("date") is not None else window_start
    month_text, month_start, month_end = month.strftime("%Y-%m"), _instant(month), _instant(_add_months(month, 1))
    charges_in = a.get("charges") or []
    products = list(dict.fromkeys(c["product_name"] for c in charges_in if c.get("product_name") is not None))
    for product in products:
        charges: list[Row] = []
        total = None
        for charge in charges_in:
            if charge.get("product_name") != product or charge.get("cost") is None:
                continue
            kind = re.sub(r"^projected_", "", charge["charge_type"])
            if kind == "total" and total is None:
                total = Decimal(repr(charge["cost"]))
            elif kind in _DATADOG_PARTS:
                charges.append({"type": kind, "amount": _money(charge["cost"]), "currency": "USD"})
        if total is None and charges:
            total = sum((Decimal(repr(c["amount"])) for c in charges), Decimal(0))
        if total is not None:
            charges.append({"type": "net", "amount": _money(total), "currency": "USD"})
        yield {
            "id": f"datadog:{a.get('public_id')}:{month_text}:{product}",
            "product": {"id": product, "name": product},
            "metric_name": product,
            "organization": {"id": a.get("public_id"), "name": a.get("org_name")},
            "charges": charges or None,
            "start_date": month_start,
            "end_date": month_end,
        }


def datadog(endpoint: dict[str, Any], params: dict[str, str], now: datetime) -> list[Row]:
    """One request per month: estimated_cost until the month is final (the 17th of the next month), then
    historical_cost."""
    credentials = endpoint["credentials"]
    view = endpoint["context"].get("view", "sub-org")
    headers = {
        "DD-API-KEY": credentials["api_key"],
        "DD-APPLICATION-KEY": credentials["application_key"],
        "Accept": "application/json;datetime-format=rfc3339",
    }
    this_month = _month_start(now)
    start = _month_start(_parse(params["start_date"]))
    end = min(_add_months(_month_start(_parse(params["end_date"])), 1), _add_months(this_month, 1))
    rows: list[Row] = []
    with _client(endpoint["base_url"]) as client:
        month = start
        while month < end:
            final_from = _add_months(month, 1) + timedelta(days=16)
            operation = "estimated_cost" if now < final_from else "historical_cost"
            text = month.strftime("%Y-%m")
            response = client.get(
                f"/api/v2/usage/{operation}",
                headers=headers,
                params={"view": view, "start_month": text, "end_month": text},
            )
            response.raise_for_status()
            for record in loads(response.content).get("data") or []:
                for row in _datadog_rows(record, operation, month):
                    _emit(rows, row, record)
            month = _add_months(month, 1)
    return rows


# ------------------------------------------------------------------------------------------------ confluent

_CONFLUENT_NAMES = {"KSQL": "ksqlDB", "USM": "USM"}
_PAGE_TOKEN = re.compile(r"[?&]page_token=([^&#]*)")


def _has(record: dict[str, Any], key: str) -> bool:
    return record.get(key) is not None


def _humanize(product: str) -> str:
    if product in _CONFLUENT_NAMES:
        return _CONFLUENT_NAMES[product]
    return " ".join(word[:1].upper() + word[1:].lower() for word in product.split("_"))


def _confluent_row(r: dict[str, Any]) -> Row:
    resource = r.get("resource") or {}
    env = resource.get("environment")
    env_id = (
        env.get("id")
        if isinstance(env, dict)
        else env
        if isinstance(env, str)
        else (r.get("environment") or {}).get("id")
    )
    start = _instant(_parse(r["start_date"])) if _has(r, "start_date") else None
    end = _instant(_parse(r["end_date"])) if _has(r, "end_date") else None
    tiers_in = r.get("tier_dimensions")
    tiers = ",".join(f"{k}={_json_string(tiers_in[k])}" for k in sorted(tiers_in)) if tiers_in else ""

    def s(value: Any) -> str:
        return "" if value is None else _json_string(value)

    resource_id = resource.get("id")
    key = "|".join(
        [
            "confluent",
            s(start),
            s(end),
            s(env_id),
            s(resource_id),
            s(r.get("product")),
            s(r.get("line_type")),
            s(r.get("network_access_type")),
            s(r.get("unit")),
            s(r.get("price")),
            s(r.get("description")),
            tiers,
        ]
    )

    def usd(kind: str, value: Any) -> Row | None:
        return {"amount": _money(value), "currency": "USD", "type": kind} if value is not None else None

    def negative(value: Any) -> Any:
        return -abs(Decimal(repr(value))) if value is not None else None

    if r.get("line_type") == "PROMO_CREDIT":
        credit = negative(r["amount"] if _has(r, "amount") else r.get("original_amount"))
        charges = [usd("credit", credit), usd("net", credit)]
    else:
        original, discount = r.get("original_amount"), r.get("discount_amount")
        net = r.get("amount")
        if net is None and original is not None:
            net = Decimal(repr(original)) - Decimal(repr(discount or 0))
        charges = [usd("total", original), usd("discount", negative(discount)), usd("net", net)]
    product = r.get("product")
    day = start[:10] if start else ""
    return {
        "id": f"confluent:{day}:{s(r.get('line_type'))}:{resource_id if resource_id is not None else 'none'}:"
        f"{hashlib.sha256(key.encode()).hexdigest()[:16]}",
        "product": {"id": product, "name": _humanize(product)} if product is not None else None,
        "metric_name": r.get("line_type"),
        "resources": [
            {
                "id": resource_id,
                "name": resource.get("display_name"),
                "workspace": {"id": env_id} if env_id is not None else None,
            }
        ]
        if resource_id is not None
        else None,
        "charges": [c for c in charges if c is not None],
        "usage": {"quantity": r.get("quantity"), "unit": r.get("unit")},
        "start_date": start,
        "end_date": end,
    }


def confluent(endpoint: dict[str, Any], params: dict[str, str], now: datetime) -> list[Row]:
    """GET /billing/v1/costs per calendar-month window, page_token from metadata.next."""
    credentials = endpoint["credentials"]
    auth = {"Authorization": _basic(credentials["api_key"], credentials["api_secret"]), "Accept": "application/json"}
    start = _parse(params["start_date"])
    end = _parse(params["end_date"]) + timedelta(days=1)
    rows: list[Row] = []
    with _client(endpoint["base_url"]) as client:
        window_start = start
        while window_start < end:
            window_end = min(_add_months(_month_start(window_start), 1), end)
            query: dict[str, Any] = {
                "start_date": window_start.strftime("%Y-%m-%d"),
                "end_date": window_end.strftime("%Y-%m-%d"),
                "page_size": 10000,
            }
            while True:
                response = client.get("/billing/v1/costs", headers=auth, params=query)
                response.raise_for_status()
                body = loads(response.content)
                for record in body.get("data") or []:
                    _emit(rows, _confluent_row(record), record)
                following = (body.get("metadata") or {}).get("next")
                if not isinstance(following, str) or not following:
                    break
                match = _PAGE_TOKEN.search(following)
                token = unquote(match.group(1)) if match else following
                query = {"start_date": query["start_date"], "end_date": query["end_date"], "page_token": token}
            window_start = window_end
    return rows


# ------------------------------------------------------------------------------------------------ openai-codex


_CODEX_FIGURES = (
    "credits",
    "cost_usd",
    "uncached_text_input_tokens",
    "cached_text_input_tokens",
    "text_output_tokens",
    "text_total_tokens",
)


def _codex_charges(figures: dict[str, Any]) -> list[Row] | None:
    cost = figures.get("cost_usd")
    if cost is None:
        return None
    return [
        {"amount": _money(cost), "currency": "USD", "type": "usage_based"},
        {"amount": _money(cost), "currency": "USD", "type": "net"},
    ]


def _codex_measures(figures: dict[str, Any]) -> Row:
    credits = figures.get("credits")
    return {
        "quantity": credits,
        "unit": "credits" if credits is not None else None,
        "tokens": {
            "input": figures.get("uncached_text_input_tokens"),
            "cache_read": figures.get("cached_text_input_tokens"),
            "output": figures.get("text_output_tokens"),
            "total": figures.get("text_total_tokens"),
        },
    }


def _codex_rows(r: dict[str, Any], workspace: str, organization: str) -> list[Row]:
    """The user's row, and one row per model entry for every figure the entries report and add up to totals."""
    actor = r.get("actor") or {}
    uid = r.get("user_id") or actor.get("user_id")
    email = actor.get("email") or r.get("email")
    t = r.get("totals") or {}
    models = [m for m in (r.get("models") or []) if isinstance(m, dict)]
    moved = [
        f
        for f in _CODEX_FIGURES
        if models
        and t.get(f) is not None
        and all(m.get(f) is not None for m in models)
        and Decimal(repr(t[f])) == sum((Decimal(repr(m[f])) for m in models), Decimal(0))
    ]
    split = bool(models and moved)
    names = list(dict.fromkeys(m["model"] for m in models if m.get("model") is not None))
    model = names[0] if not split and len(names) == 1 and names[0] != "other" else None
    user_figures = {f: t.get(f) for f in _CODEX_FIGURES if f not in moved} if split else t
    activity = [v for v in (t.get("threads"), t.get("turns")) if v is not None]
    started = datetime.fromtimestamp(r["start_time"], UTC)
    code = r.get("code_attribution") or {}
    row_id = f"openai-codex:{workspace}:{started.strftime('%Y-%m-%d')}:{uid or 'workspace'}"
    base = {
        "product": {"id": "codex", "name": "Codex"},
        "resources": [{"id": workspace, "workspace": {"id": workspace}}],
        "organization": {"id": organization},
        "user": {"id": uid, "email": email},
        "start_date": _instant(started),
        "end_date": _instant(datetime.fromtimestamp(r["end_time"], UTC)),
        "surface": "codex",
    }
    rows = [
        {
            "id": row_id,
            **base,
            "metric_name": "codex_usage",
            "model": {"id": model, "provider": "openai"} if model else None,
            "charges": _codex_charges(user_figures),
            "usage": {
                "conversations": {"thread_count": t.get("threads"), "turn_count": t.get("turns")},
                "code": {"lines_added": code.get("lines_added"), "lines_removed": code.get("lines_removed")},
                "activity": {"is_active": any(v > 0 for v in activity) if activity else None},
                **_codex_measures(user_figures),
            },
        }
    ]
    for entry in models if split else []:
        figures = {f: entry.get(f) for f in moved}
        rows.append(
            {
                "id": f"{row_id}:{entry['model']}:{entry.get('speed') or 'default'}",
                **base,
                "metric_name": "codex_model_usage",
                "model": {"id": entry["model"], "provider": "openai"} if entry["model"] != "other" else None,
                "charges": _codex_charges(figures),
                "usage": _codex_measures(figures),
            }
        )
    return rows


def openai_codex(endpoint: dict[str, Any], params: dict[str, str], now: datetime) -> list[Row]:
    """GET .../workspaces/{id}/usage from ``date`` for one day, or through ``end_date`` (a date includes its day) in
    30-day windows never past today, group_by=day, following next_page while has_more."""
    workspace = endpoint["context"]["workspace_id"]
    organization = endpoint["context"].get("organization_id") or workspace
    auth = {"Authorization": f"Bearer {endpoint['credentials']['api_key']}", "Accept": "application/json"}
    start = _parse(params["date"])
    end = _parse(params["end_date"]) + timedelta(days=1) if "end_date" in params else start + timedelta(days=1)
    end = min(end, now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1))
    path = f"/v1/analytics/codex/workspaces/{quote(workspace, safe='')}/usage"
    rows: list[Row] = []
    with _client(endpoint["base_url"]) as client:
        window_start = start
        while window_start < end:
            window_end = min(window_start + timedelta(days=30), end)
            query: dict[str, Any] = {
                "start_time": int(window_start.timestamp()),
                "end_time": int(window_end.timestamp()),
                "group_by": "day",
                "limit": 1000,
            }
            while True:
                response = client.get(path, headers=auth, params=query)
                response.raise_for_status()
                body = loads(response.content)
                for record in body.get("data") or []:
                    for row in _codex_rows(record, workspace, organization):
                        _emit(rows, row, record)
                if body.get("has_more") is not True or not body.get("next_page"):
                    break
                query = {**query, "page": body["next_page"]}
            window_start = window_end
    return rows


# ------------------------------------------------------------------------------------------------ claude


def _has_count(value: Any) -> bool:
    """Whether a number > 0 appears anywhere in ``value`` (JSONata ``$count($o.**[$type($)='number' and $>0])``)."""
    if isinstance(value, dict):
        return any(_has_count(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_count(v) for v in value)
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _office_usage(office: dict[str, Any] | None) -> Row:
    apps = list(office.values()) if office else []

    def all_numbers(field: str) -> bool:
        return bool(apps) and all(_is_number((app or {}).get(field)) for app in apps)

    def app_sum(field: str) -> Any:
        return sum(app[field] for app in apps) if all_numbers(field) else None

    def distinct_sum(field: str) -> Any:
        if not all_numbers(field) or sum(1 for app in apps if app[field] > 0) > 1:
            return None
        return sum(app[field] for app in apps)

    return {
        "sessions": {"distinct": app_sum("distinct_session_count")},
        "conversations": {"message_count": app_sum("message_count")},
        "tools": {
            "connectors_used_count": app_sum("connectors_used_count"),
            "distinct_connectors_used_count": distinct_sum("distinct_connectors_used_count"),
            "skills_used_count": app_sum("skills_used_count"),
            "distinct_skills_used_count": distinct_sum("distinct_skills_used_count"),
        },
    }


def _claude_surfaces(r: dict[str, Any]) -> Iterable[tuple[str, Row]]:
    c = r.get("chat_metrics") or {}
    if _has_count(c):
        yield (
            "chat",
            {
                "conversations": {
                    "distinct": c.get("distinct_conversation_count"),
                    "message_count": c.get("message_count"),
                    "thinking_message_count": c.get("thinking_message_count"),
                    "shared_viewed_count": c.get("shared_conversations_viewed_count"),
                },
                "tools": {
                    "connectors_used_count": c.get("connectors_used_count"),
                    "distinct_connectors_used_count": c.get("distinct_connectors_used_count"),
                    "distinct_skills_used_count": c.get("distinct_skills_used_count"),
                },
            },
        )
    code = r.get("claude_code_metrics") or {}
    if _has_count(code):
        core = code.get("core_metrics") or {}
        lines = core.get("lines_of_code") or {}
        ta = code.get("tool_actions")
        yield (
            "claude_code",
            {
                "sessions": {"distinct": core.get("distinct_session_count")},
                "code": {
                    "lines_added": lines.get("added_count"),
                    "lines_removed": lines.get("removed_count"),
                    "commits": core.get("commit_count"),
                    "pull_requests": core.get("pull_request_count"),
                    "accepts": sum(v["accepted_count"] for v in ta.values() if v.get("accepted_count") is not None)
                    if ta
                    else None,
                    "rejects": sum(v["rejected_count"] for v in ta.values() if v.get("rejected_count") is not None)
                    if ta
                    else None,
                    "tool_actions": {
                        k: {"accepted": v.get("accepted_count"), "rejected": v.get("rejected_count")}
                        for k, v in ta.items()
                    }
                    if ta
                    else None,
                },
            },
        )
    w = r.get("cowork_metrics") or {}
    if _has_count(w):
        yield (
            "cowork",
            {
                "sessions": {
                    "distinct": w.get("distinct_session_count"),
                    "dispatch_turns": w.get("dispatch_turn_count"),
                },
                "conversations": {"message_count": w.get("message_count")},
                "tools": {
                    "connectors_used_count": w.get("connectors_used_count"),
                    "distinct_connectors_used_count": w.get("distinct_connectors_used_count"),
                    "skills_used_count": w.get("skills_used_count"),
                    "distinct_skills_used_count": w.get("distinct_skills_used_count"),
                    "action_count": w.get("action_count"),
                },
            },
        )
    office = r.get("office_metrics")
    if _has_count(office):
        yield "office_agent", _office_usage(office)
    d = r.get("design_metrics") or {}
    if _has_count(d):
        yield (
            "claude_design",
            {
                "sessions": {"distinct": d.get("distinct_session_count")},
                "conversations": {"message_count": d.get("message_count")},
            },
        )
    s = r.get("science_metrics") or {}
    if _has_count(s):
        yield (
            "science",
            {
                "sessions": {"distinct": s.get("distinct_session_count")},
                "conversations": {"message_count": s.get("message_count")},
                "tools": {"skills_used_count": s.get("skills_used_count")},
            },
        )


def _claude_rows(r: dict[str, Any], day: str, window: tuple[str, str]) -> Iterable[Row]:
    user = r.get("user") or {}
    key = f"claude:activity:{day}:{user.get('id')}"

    def base() -> Row:
        return {
            "product": {"id": "claude", "name": "Claude"},
            "metric_name": "activity",
            "user": {"id": user.get("id"), "email": user.get("email_address")},
            "start_date": window[0],
            "end_date": window[1],
        }

    active = (
        _has_count(
            [
                r.get("chat_metrics"),
                r.get("claude_code_metrics"),
                r.get("cowork_metrics"),
                r.get("office_metrics"),
                r.get("design_metrics"),
                r.get("science_metrics"),
                r.get("chat_cowork_unified_metrics"),
                r.get("web_search_count"),
            ]
        )
        or r.get("last_activity_date") == day
    )
    yield {
        **base(),
        "id": key,
        "usage": {"tools": {"web_search_count": r.get("web_search_count")}, "activity": {"is_active": active}},
    }
    for surface, usage in _claude_surfaces(r):
        usage["activity"] = {"is_active": True}
        yield {**base(), "id": f"{key}:{surface}", "surface": surface, "usage": usage}


def claude(endpoint: dict[str, Any], params: dict[str, str], now: datetime) -> list[Row]:
    """report_type=activity: GET /v1/organizations/analytics/users for one day, following next_page."""
    day = params["date"]
    start = _parse(day)
    window = (_instant(start), _instant(start + timedelta(days=1)))
    headers = {"x-api-key": endpoint["credentials"]["api_key"], "anthropic-version": "2023-06-01"}
    query: dict[str, Any] = {"date": day, "limit": 1000}
    rows: list[Row] = []
    with _client(endpoint["base_url"]) as client:
        while True:
            response = client.get("/v1/organizations/analytics/users", headers=headers, params=query)
            response.raise_for_status()
            body = loads(response.content)
            for record in body.get("data") or []:
                for row in _claude_rows(record, day, window):
                    _emit(rows, row, record)
            if not body.get("next_page"):
                break
            query = {**query, "page": body["next_page"]}
    return rows


# ------------------------------------------------------------------------------------------------ report APIs


def _nested(bucket: dict[str, Any], result: Any) -> dict[str, Any]:
    """A row's remote_data: its bucket as sent, with ``results`` holding only the row's own result."""
    return {key: ([result] if key == "results" else value) for key, value in bucket.items()}


def _bucket_pages(
    client: httpx.Client, path: str, headers: dict[str, str], query: list[tuple[str, Any]]
) -> Iterable[dict[str, Any]]:
    """The day buckets of one window, following next_page while has_more (Anthropic and OpenAI page alike)."""
    page: str | None = None
    while True:
        response = client.get(path, headers=headers, params=query + ([("page", page)] if page else []))
        response.raise_for_status()
        body = loads(response.content)
        yield from body.get("data") or []
        following = body.get("next_page")
        if body.get("has_more") is not True or not isinstance(following, str) or not following:
            return
        page = following


def _day_windows(params: dict[str, str], now: datetime) -> list[tuple[datetime, datetime]]:
    """Calendar-month windows of a UTC day range: a start floored to its day, a date end including its day (a
    date-time end rounded up to a whole day), never past the end of today."""
    start = _parse(params["start_date"]).replace(hour=0, minute=0, second=0, microsecond=0)
    text = params["end_date"]
    end = _parse(text)
    if len(text) == 10:
        end += timedelta(days=1)
    elif end != end.replace(hour=0, minute=0, second=0, microsecond=0):
        end = end.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    end = min(end, now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1))
    windows = []
    cursor = start
    while cursor < end:
        following = min(_add_months(_month_start(cursor), 1), end)
        windows.append((cursor, following))
        cursor = following
    return windows


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _console_cost_row(r: dict[str, Any], day: str, bucket: dict[str, Any]) -> Row:
    ws = r.get("workspace_id") if isinstance(r.get("workspace_id"), str) and r.get("workspace_id") else None
    key = "cost|" + "|".join(
        _text(r.get(f))
        for f in (
            "description",
            "cost_type",
            "model",
            "token_type",
            "service_tier",
            "context_window",
            "inference_geo",
            "speed",
        )
    )
    metric = next((r[f] for f in ("token_type", "cost_type", "description") if isinstance(r.get(f), str)), None)
    model = r.get("model")
    currency = r.get("currency")
    return {
        "id": f"claude-console:{day}:{ws or 'default'}:cost:{hashlib.sha256(key.encode()).hexdigest()[:16]}",
        "product": {"id": "claude_api", "name": "Claude API"},
        "metric_name": metric,
        "resources": [{"workspace": {"id": ws} if ws else {"name": "Default"}}],
        "model": {"id": model, "provider": "anthropic"} if isinstance(model, str) else None,
        "charges": [
            {
                "amount": _cents(r["amount"]),
                "currency": currency.upper() if isinstance(currency, str) and currency else "USD",
                "type": "net",
            }
        ]
        if r.get("amount") is not None
        else None,
        "start_date": _instant(_parse(bucket["starting_at"])),
        "end_date": _instant(_parse(bucket["ending_at"])),
    }


def _is_num(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _console_usage_row(r: dict[str, Any], day: str, bucket: dict[str, Any]) -> Row:
    ws = r.get("workspace_id") if isinstance(r.get("workspace_id"), str) and r.get("workspace_id") else None
    api_key = r.get("api_key_id") if isinstance(r.get("api_key_id"), str) and r.get("api_key_id") else None
    key = "tokens|" + "|".join(
        _text(r.get(f))
        for f in (
            "api_key_id",
            "model",
            "service_tier",
            "context_window",
            "inference_geo",
            "speed",
            "account_id",
            "service_account_id",
        )
    )
    cache = r.get("cache_creation") or {}
    five, hour = cache.get("ephemeral_5m_input_tokens"), cache.get("ephemeral_1h_input_tokens")
    parts = [r.get("uncached_input_tokens"), r.get("cache_read_input_tokens"), five, hour, r.get("output_tokens")]
    model = r.get("model")
    resource: Row = {"id": api_key} if api_key else {}
    resource["workspace"] = {"id": ws} if ws else {"name": "Default"}
    return {
        "id": f"claude-console:{day}:{ws or 'default'}:tokens:{hashlib.sha256(key.encode()).hexdigest()[:16]}",
        "product": {"id": "claude_api", "name": "Claude API"},
        "metric_name": "tokens",
        "resources": [resource],
        "model": {"id": model, "provider": "anthropic"} if isinstance(model, str) else None,
        "usage": {
            "tokens": {
                "input": r.get("uncached_input_tokens"),
                "output": r.get("output_tokens"),
                "cache_read": r.get("cache_read_input_tokens"),
                "cache_write": five + hour if _is_num(five) and _is_num(hour) else None,
                "cache_write_ephemeral_5m": five,
                "cache_write_ephemeral_1h": hour,
                "total": sum(parts) if all(_is_num(p) for p in parts) else None,
            },
            "tools": {"web_search_count": (r.get("server_tool_use") or {}).get("web_search_requests")},
        },
        "start_date": _instant(_parse(bucket["starting_at"])),
        "end_date": _instant(_parse(bucket["ending_at"])),
    }


def claude_console(endpoint: dict[str, Any], params: dict[str, str], now: datetime) -> list[Row]:
    """The Admin API cost report (report_type cost, the default) or messages usage report (usage): month windows of
    1d buckets, limit 31, following next_page (mappings/claude-console.yaml)."""
    usage = params.get("report_type") == "usage"
    path = "/v1/organizations/usage_report/messages" if usage else "/v1/organizations/cost_report"
    groups = (
        ["workspace_id", "api_key_id", "model", "service_tier", "context_window", "inference_geo"]
        if usage
        else ["workspace_id", "description"]
    )
    build = _console_usage_row if usage else _console_cost_row
    headers = {"x-api-key": endpoint["credentials"]["api_key"], "anthropic-version": "2023-06-01"}
    rows: list[Row] = []
    with _client(endpoint["base_url"]) as client:
        for window_start, window_end in _day_windows(params, now):
            query: list[tuple[str, Any]] = [
                ("starting_at", _instant(window_start)),
                ("ending_at", _instant(window_end)),
                ("bucket_width", "1d"),
                ("limit", 31),
                *(("group_by[]", g) for g in groups),
            ]
            for bucket in _bucket_pages(client, path, headers, query):
                day = _parse(bucket["starting_at"]).strftime("%Y-%m-%d")
                for result in bucket.get("results") or []:
                    _emit(rows, build(result, day, bucket), _nested(bucket, result))
    return rows


def _present(value: Any) -> Any:
    """The mapping's ``$text``: a non-empty string, else nothing."""
    return value if isinstance(value, str) and value else None


def _openai_resources(project: str | None, key: str | None) -> list[Row] | None:
    listed: list[Row] = []
    if project:
        listed.append({"id": project, "workspace": {"id": project}})
    if key:
        listed.append({"id": key, "workspace": {"id": project} if project else None})
    return listed or None


def _openai_dims(dims: dict[str, Any]) -> str:
    """JSONata ``$string`` of an object: compact JSON, absent members left out."""
    return orjson_dumps({k: v for k, v in dims.items() if v is not None})


def _hex16(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _openai_instant(seconds: int) -> str:
    return _instant(datetime.fromtimestamp(seconds, UTC))


def _openai_row(r: dict[str, Any], bucket: dict[str, Any], organization: Row | None, costs: bool) -> Row:
    project, key = _present(r.get("project_id")), _present(r.get("api_key_id"))
    day = datetime.fromtimestamp(bucket["start_time"], UTC).strftime("%Y-%m-%d")
    common = {
        "product": {"id": "openai-api", "name": "OpenAI API"},
        "organization": organization,
        "resources": _openai_resources(project, key),
        "start_date": _openai_instant(bucket["start_time"]),
        "end_date": _openai_instant(bucket["end_time"]),
        "surface": "api",
    }
    if costs:
        item = _present(r.get("line_item"))
        amount = r.get("amount") or {}
        currency = amount.get("currency")
        quantity = r.get("quantity") if _is_num(r.get("quantity")) else None
        digest = hashlib.sha256(_openai_dims({"line_item": item, "api_key_id": key}).encode()).hexdigest()[:16]
        return {
            "id": f"openai:{day}:{project or 'none'}:cost:{digest}",
            **common,
            "metric_name": item,
            "charges": [
                {
                    "amount": _money(amount["value"]),
                    "currency": currency.upper() if isinstance(currency, str) else "USD",
                    "type": "net",
                }
            ]
            if _is_num(amount.get("value"))
            else None,
            "usage": {
                "quantity": quantity,
                "unit": _present(r.get("quantity_unit")) if quantity is not None else None,
            },
        }
    user, model = _present(r.get("user_id")), _present(r.get("model"))
    batch = r.get("batch") if isinstance(r.get("batch"), bool) else None
    dims = {
        "model": model,
        "user_id": user,
        "api_key_id": key,
        "batch": batch,
        "service_tier": _present(r.get("service_tier")),
    }
    numbers = {
        f: r.get(f) if _is_num(r.get(f)) else None
        for f in (
            "input_tokens",
            "output_tokens",
            "input_cached_tokens",
            "input_cache_write_tokens",
            "input_uncached_tokens",
            "num_model_requests",
        )
    }
    total_in, out, cached, written, uncached = (
        numbers[f]
        for f in (
            "input_tokens",
            "output_tokens",
            "input_cached_tokens",
            "input_cache_write_tokens",
            "input_uncached_tokens",
        )
    )
    if uncached is None and None not in (total_in, cached, written):
        uncached = total_in - cached - written
    return {
        "id": f"openai:{day}:{project or 'none'}:completions:{_hex16(_openai_dims(dims))}",
        **common,
        "metric_name": "completions",
        "user": {"id": user} if user else None,
        "model": {"id": model, "provider": "openai"} if model else None,
        "usage": {
            "requests": {"total": numbers["num_model_requests"]},
            "tokens": {
                "input": uncached,
                "cache_read": cached,
                "cache_write": written,
                "output": out,
                "total": total_in + out if total_in is not None and out is not None else None,
            },
        },
    }


def openai(endpoint: dict[str, Any], params: dict[str, str], now: datetime) -> list[Row]:
    """GET /v1/organization/costs (report_type costs, the default) or /v1/organization/usage/completions: month
    windows of 1d buckets grouped by every dimension, following next_page (mappings/openai.yaml)."""
    costs = params.get("report_type", "costs") == "costs"
    path = "/v1/organization/costs" if costs else "/v1/organization/usage/completions"
    groups = (
        ["project_id", "line_item", "api_key_id"]
        if costs
        else ["project_id", "user_id", "api_key_id", "model", "batch", "service_tier"]
    )
    organization_id = _present(endpoint["context"].get("organization_id"))
    organization = {"id": organization_id} if organization_id else None
    headers = {"Authorization": f"Bearer {endpoint['credentials']['api_key']}", "Accept": "application/json"}
    rows: list[Row] = []
    with _client(endpoint["base_url"]) as client:
        for window_start, window_end in _day_windows(params, now):
            query: list[tuple[str, Any]] = [
                ("start_time", int(window_start.timestamp())),
                ("end_time", int(window_end.timestamp())),
                ("bucket_width", "1d"),
                *(("group_by[]", g) for g in groups),
                ("limit", 180 if costs else 31),
            ]
            for bucket in _bucket_pages(client, path, headers, query):
                for result in bucket.get("results") or []:
                    _emit(rows, _openai_row(result, bucket, organization, costs), _nested(bucket, result))
    return rows


def validated(integration: str) -> Client:
    """The hand-written client of ``integration`` plus the engine's validation of every row (the information row
    "baseline + validation": what validation alone adds to the client)."""
    from unimeter.run.validation import validate_row

    client = BASELINES[integration]

    def run(endpoint: dict[str, Any], params: dict[str, str], now: datetime) -> list[Row]:
        rows = client(endpoint, params, now)
        for index, row in enumerate(rows):
            validate_row(row, integration=integration, file="bench", operation="baseline", record_index=index)
        return rows

    return run


BASELINES: dict[str, Client] = {
    "cursor": cursor,
    "datadog": datadog,
    "confluent": confluent,
    "claude": claude,
    "openai-codex": openai_codex,
    "claude-console": claude_console,
    "openai": openai,
}
"""Integration name to its hand-written client."""

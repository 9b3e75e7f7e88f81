"""Send one vendor request through an httpx transport, retrying what the mapping says is retryable.

Any transport plugs in here (live, replay, mock, fault injection). Retries use the vendor's ``Retry-After`` when it
gives one (seconds or an HTTP date), else capped exponential backoff with jitter. Every wait is recorded on the
returned :class:`Exchange` so debug output can show it. Statuses that mean bad credentials and other 4xx are never
retried. A response that is not the JSON we need is a typed error with an excerpt, never a partial result.
"""

from __future__ import annotations

import email.utils
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import msgspec

from ..errors import (
    ExpressionEvaluationError,
    TransportError,
    VendorAuthError,
    VendorClientError,
    VendorError,
    VendorPermissionError,
    VendorRateLimitError,
    VendorResponseError,
    VendorServerError,
    VendorTimeoutError,
)
from ..redaction import redact
from ..spec.model import IntegrationSpec
from ..spec.scope import Scope
from .ratelimit import RateBudget

Sleep = Callable[[float], Awaitable[None]]

MAX_WAIT_SECONDS = 120.0
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 30.0


@dataclass
class Exchange:
    """One request and its final response, with every retry wait taken on the way."""

    request: httpx.Request
    status: int
    headers: dict[str, str]
    body: Any
    elapsed_ms: float
    waits: list[float] = field(default_factory=list)
    attempts: int = 1


def _parse_retry_after(value: Any) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return max(0.0, float(value))
    text = str(value).strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


class _NotJsonNumber(ValueError):
    pass


def _not_a_json_number(name: str) -> Any:
    raise _NotJsonNumber(name)


_JSON = msgspec.json.Decoder()
"""msgspec parses a vendor page straight into Python objects: as fast as orjson or faster, and without orjson's
intermediate document, which peaked at about five times the page (8 MB of JSON: 122 MB against msgspec's 18 MB,
tracemalloc), the largest part of a streaming query's memory. Integers past 64 bits come back exact."""


def _decode(response: httpx.Response, vendor: str) -> Any:
    """The JSON body; msgspec parses the common case, the stdlib parser places the error of a malformed one."""
    content = response.content
    if not content.strip():
        return None
    try:
        return _JSON.decode(content)
    except (msgspec.DecodeError, msgspec.ValidationError):
        pass
    text = response.text
    try:
        return json.loads(text, parse_constant=_not_a_json_number)
    except _NotJsonNumber as error:
        raise VendorResponseError(
            f"{vendor} returned {error.args[0]} in its JSON, which is not a JSON number", status=response.status_code
        ) from None
    except RecursionError:
        raise VendorResponseError(
            f"{vendor} returned JSON nested too deeply to read", status=response.status_code
        ) from None
    except json.JSONDecodeError as error:
        start = max(0, error.pos - 40)
        excerpt = text[start : error.pos + 40].replace("\n", " ")
        raise VendorResponseError(
            f"{vendor} returned malformed JSON at offset {error.pos}: {error.msg}; near {excerpt!r}",
            status=response.status_code,
            offset=error.pos,
        ) from None


def _vendor_message(spec: IntegrationSpec, body: Any, headers: dict[str, str]) -> str | None:
    if spec.errors.message is None or body is None:
        return None
    try:
        message = spec.errors.message.evaluate(body, Scope(headers=headers))
    except ExpressionEvaluationError:
        return None
    if message is None:
        return None
    if isinstance(message, list):
        return "; ".join(str(part) for part in message)
    return str(message)


def meaning(spec: IntegrationSpec, status: int, body: Any, headers: dict[str, str]) -> str:
    """What a failing answer means: the first of the mapping's ``errors.rules`` that matches, else the status lists
    (``auth_statuses`` are bad credentials, ``retry_statuses`` are retried, anything else fails)."""
    for rule in spec.errors.rules:
        if status in rule.statuses:
            if rule.when is None:
                return rule.means
            try:
                if rule.when.evaluate(body, Scope(headers=headers)) is True:
                    return rule.means
            except ExpressionEvaluationError:
                continue
    if status in spec.errors.auth_statuses:
        return "bad_credentials"
    if status in spec.errors.retry_statuses:
        return "retry"
    return "fail"


def _error_for(
    spec: IntegrationSpec, status: int, message: str | None, retry_after: float | None, means: str
) -> VendorError:
    detail = f": {message}" if message else ""
    text = f"{spec.label} answered HTTP {status}{detail}"
    if means == "bad_credentials":
        return VendorAuthError(f"{text} (check the account's credentials)", status=status, vendor_message=message)
    if means == "not_permitted":
        return VendorPermissionError(
            f"{text} (the credentials were accepted but may not read this; check the key's role or scopes)",
            status=status,
            vendor_message=message,
        )
    if status == 429:
        return VendorRateLimitError(
            f"{text} (rate limited; retries exhausted)", status=status, vendor_message=message, retry_after=retry_after
        )
    if status >= 500:
        return VendorServerError(text, status=status, vendor_message=message)
    return VendorClientError(text, status=status, vendor_message=message)


def _echoes(content: bytes, secrets: tuple[str, ...]) -> bool:
    return any(secret.encode("utf-8") in content for secret in secrets)


def _backoff(attempt: int) -> float:
    return float(min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt) * (0.5 + random.random() / 2))


async def send(
    client: httpx.AsyncClient,
    request: httpx.Request,
    spec: IntegrationSpec,
    *,
    sleep: Sleep,
    budget_seconds: float = 600.0,
    secrets: tuple[str, ...] = (),
    rate_budget: RateBudget | None = None,
) -> Exchange:
    """Send ``request``, retrying per ``spec.errors``; the successful exchange or a typed error.

    Every attempt, retries included, first takes a slot of ``rate_budget``: a retry is a vendor request too, and one
    sent outside the budget could be refused again by a vendor whose window other queries have filled.

    A successful body that echoes one of ``secrets`` (every form of the account's credentials) is redacted before
    anything reads it, so no output (rows' remote_data, raw, debug) can carry it. The check is a byte search of the
    response, so a clean response costs next to nothing.
    """
    waits: list[float] = []
    started = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        if rate_budget is not None:
            await rate_budget.acquire(sleep)
        begun = time.monotonic()
        try:
            response = await client.send(request)
            await response.aread()
        except httpx.TimeoutException:
            failure: Exception = VendorTimeoutError(f"{spec.label} did not answer in time", url=_safe_url(request))
            retryable, wait_hint, status = True, None, None
        except httpx.TransportError as error:
            failure = TransportError(f"could not reach {spec.label}: {type(error).__name__}", url=_safe_url(request))
            retryable, wait_hint, status = True, None, None
        else:
            elapsed = (time.monotonic() - begun) * 1000
            status = response.status_code
            headers = {k.lower(): v for k, v in response.headers.items()}
            if 200 <= status < 300:
                body = _decode(response, spec.label)
                if secrets and _echoes(response.content, secrets):
                    body = redact(body, secrets)
                return Exchange(request, status, headers, body, elapsed, waits, attempt)
            try:
                error_body = _decode(response, spec.label)
            except VendorResponseError:
                error_body = None
            message = _vendor_message(spec, error_body, headers)
            wait_hint = _retry_after(spec, error_body, headers)
            if wait_hint is None and status == 429 and spec.rate_limit is not None:
                # No Retry-After (some vendors send none): wait out the vendor's declared window, not a short backoff
                # that would retry inside the same window and be refused again.
                wait_hint = spec.rate_limit.per_seconds
            means = meaning(spec, status, error_body, headers)
            retryable = means == "retry"
            failure = _error_for(spec, status, message, wait_hint, means)
        if not retryable or attempt > spec.errors.max_retries:
            raise failure
        wait = wait_hint if wait_hint is not None else _backoff(attempt - 1)
        spent = time.monotonic() - started
        if wait > MAX_WAIT_SECONDS or spent + wait > budget_seconds:
            raise failure
        waits.append(wait)
        await sleep(wait)


def _retry_after(spec: IntegrationSpec, body: Any, headers: dict[str, str]) -> float | None:
    if spec.errors.retry_after is not None:
        try:
            value = spec.errors.retry_after.evaluate(body, Scope(headers=headers))
        except ExpressionEvaluationError:
            value = None
    else:
        value = headers.get("retry-after")
    return _parse_retry_after(value)


def _safe_url(request: httpx.Request) -> str:
    """The URL without its query string, which could carry a token."""
    return str(request.url.copy_with(query=None))

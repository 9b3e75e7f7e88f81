"""``limit`` and ``next_cursor``: cut a query's rows into responses and continue exactly where one stopped.

The cursor is opaque and signed (HMAC-SHA256): it carries a :class:`ResumePoint` and is bound to the account and the
query, so a tampered cursor, or one from another account or query, is rejected as a 400. To know whether anything is
left we read one row past the limit (fetching the next vendor page if needed), so ``next_cursor`` is null exactly
when nothing more exists.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import InvalidCursorError
from .pipeline import ResumePoint, VendorPage

CURSOR_VERSION = 1


def query_binding(account_id: str, integration: str, params: Mapping[str, Any],
                  remote_query: Mapping[str, Any] | None) -> str:
    """A digest of everything a cursor must not outlive: the account and the query (not ``limit``/``next_cursor``)."""
    canonical = json.dumps([account_id, integration, dict(params), dict(remote_query or {})], sort_keys=True,
                           default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _sign(payload: bytes, key: bytes) -> str:
    return base64.urlsafe_b64encode(hmac.new(key, payload, hashlib.sha256).digest()).decode().rstrip("=")


def encode_cursor(point: ResumePoint, *, key: bytes, binding: str) -> str:
    payload = json.dumps({"v": CURSOR_VERSION, "b": binding, "p": asdict(point)}, separators=(",", ":"),
                         sort_keys=True).encode("utf-8")
    body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    return f"{body}.{_sign(payload, key)}"


def decode_cursor(token: str, *, key: bytes, binding: str) -> ResumePoint:
    """The resume point of a cursor this service issued for this account and query; else InvalidCursorError."""
    body, _, signature = token.partition(".")
    try:
        payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (ValueError, TypeError):
        raise InvalidCursorError("next_cursor is not a cursor issued by this service",
                                 parameter="next_cursor") from None
    # compare bytes: compare_digest refuses str with non-ASCII characters (a TypeError, not a mismatch)
    if not signature or not hmac.compare_digest(signature.encode("utf-8"), _sign(payload, key).encode("utf-8")):
        raise InvalidCursorError("next_cursor is invalid or was tampered with", parameter="next_cursor")
    data = json.loads(payload)
    if data.get("v") != CURSOR_VERSION or data.get("b") != binding:
        raise InvalidCursorError("next_cursor belongs to another account or query; repeat the query without it",
                                 parameter="next_cursor")
    return ResumePoint(**data["p"])


@dataclass
class Slice:
    """The rows of one response, the point to resume from (None when done), and the vendor pages read."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    resume: ResumePoint | None = None
    pages: list[VendorPage] = field(default_factory=list)


async def take(pages: AsyncIterator[VendorPage], limit: int | None) -> Slice:
    """At most ``limit`` rows (all when None) and where to resume."""
    result = Slice()
    async with contextlib.aclosing(pages):  # type: ignore[type-var]
        async for page in pages:
            result.pages.append(page)
            room = None if limit is None else limit - len(result.rows)
            if room is not None and len(page.rows) > room:
                result.rows.extend(page.rows[:room])
                result.resume = page.resume_at(room)
                return result
            result.rows.extend(page.rows)
    return result

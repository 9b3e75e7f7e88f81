"""The ``debug`` format's section: every vendor request made for the response, redacted, with retries and windows.

Shaped like Truto's debug output (``requestUrl``, ``requestOptions``, ``data``, ``responseHeaders``, ``isLooping``
...) for the last request, plus ``requests`` with all of them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from ..redaction import redact, redact_headers
from ..run.pipeline import VendorPage


def distinct_responses(pages: Iterable[VendorPage]) -> list[VendorPage]:
    """One page per vendor response (a large response is delivered as several chunks of rows)."""
    seen: set[int] = set()
    distinct = []
    for page in pages:
        if id(page.exchange) not in seen:
            seen.add(id(page.exchange))
            distinct.append(page)
    return distinct


def _request(page: VendorPage) -> dict[str, Any]:
    exchange = page.exchange
    body = exchange.request.content.decode("utf-8", "replace") if exchange.request.content else None
    return {
        "requestUrl": str(exchange.request.url),
        "requestOptions": {
            "method": exchange.request.method,
            "headers": redact_headers(exchange.request.headers.items()),
            "body": json.loads(body) if body else None,
        },
        "data": exchange.body,
        "responseHeaders": exchange.headers,
        "status": exchange.status,
        "retryWaits": exchange.waits,
        "attempts": exchange.attempts,
        "operation": page.operation,
        "window": page.window.as_binding(),
    }


def debug_section(
    pages: Iterable[VendorPage],
    next_cursor: str | None,
    count: int,
    secrets: Iterable[str],
    *,
    is_looping: bool = False,
) -> dict[str, Any]:
    """The ``debug`` object of a response made from ``pages``, with every form of the account's secrets removed.

    A failed query gets one too (beside its error envelope): the requests that succeeded before the failure, and
    ``isLooping`` true when the failure was the vendor sending a cursor, URL or page it had sent before.
    """
    requests = [_request(page) for page in distinct_responses(pages)]
    last = requests[-1] if requests else {}
    section = {
        **{k: last.get(k) for k in ("requestUrl", "requestOptions", "data", "responseHeaders")},
        "nextCursor": next_cursor,
        "isLooping": is_looping,
        "isEmptyResult": count == 0,
        "resultCount": count,
        "requests": requests,
    }
    redacted: dict[str, Any] = redact(section, secrets)
    return redacted

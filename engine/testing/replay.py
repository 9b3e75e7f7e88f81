"""An httpx transport that replays recorded vendor exchanges, strictly in order.

A request must match the next recording (method, URL without query, query as a multiset, JSON body when recorded,
and every recorded header); anything else fails the replay, and so does a recording left unconsumed. This is how
fixtures prove that pages 2..n were asked for, not only page 1.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

import httpx


class ReplayMismatch(AssertionError):
    """The engine asked for something the recording did not expect."""


def _describe(request: httpx.Request) -> str:
    body = request.content.decode("utf-8", "replace") if request.content else ""
    return f"{request.method} {request.url}" + (f" body={body}" if body else "")


def recorded_response(recorded: dict[str, Any], request: httpx.Request) -> httpx.Response:
    """The httpx response a recording describes: ``status``, ``headers`` and a JSON ``body`` or a ``text``."""
    headers = dict(recorded.get("headers") or {})
    if "body" in recorded:
        content = json.dumps(recorded["body"]).encode("utf-8")
        headers.setdefault("content-type", "application/json")
    else:
        content = str(recorded.get("text", "")).encode("utf-8")
    return httpx.Response(recorded.get("status", 200), headers=headers, content=content, request=request)


class ReplayTransport(httpx.AsyncBaseTransport, httpx.BaseTransport):
    """Serve ``exchanges`` (``[{"request": {...}, "response": {...}}]``) in order."""

    def __init__(self, exchanges: Sequence[dict[str, Any]]) -> None:
        self.exchanges = list(exchanges)
        self.position = 0
        self.requests: list[httpx.Request] = []

    def _mismatch(self, recorded: dict[str, Any], request: httpx.Request) -> str | None:
        method = recorded.get("method", "GET").upper()
        if request.method != method:
            return f"method {request.method} != recorded {method}"
        expected_url = httpx.URL(recorded["url"])
        if request.url.copy_with(query=None) != expected_url.copy_with(query=None):
            return f"URL {request.url.copy_with(query=None)} != recorded {expected_url.copy_with(query=None)}"
        got_query = Counter(request.url.params.multi_items())
        want_query = Counter(expected_url.params.multi_items())
        for name, value in (recorded.get("query") or {}).items():
            want_query[(name, str(value))] += 1
        if got_query != want_query:
            return f"query {sorted(got_query.elements())} != recorded {sorted(want_query.elements())}"
        if "body" in recorded:
            try:
                body = json.loads(request.content) if request.content else None
            except json.JSONDecodeError:
                return "request body is not JSON"
            if body != recorded["body"]:
                want = json.dumps(recorded["body"], sort_keys=True)
                return f"body {json.dumps(body, sort_keys=True)} != recorded {want}"
        for name, value in (recorded.get("headers") or {}).items():
            if request.headers.get(name) != value:
                shown = "<missing>" if name.lower() not in request.headers else "<different value>"
                return f"header {name!r} is {shown}, recorded value expected"
        return None

    def _respond(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.position >= len(self.exchanges):
            raise ReplayMismatch(
                f"unexpected request #{self.position + 1} (nothing more recorded): {_describe(request)}"
            )
        exchange = self.exchanges[self.position]
        problem = self._mismatch(exchange["request"], request)
        if problem:
            raise ReplayMismatch(
                f"request #{self.position + 1} does not match the recording: {problem}\n  sent: {_describe(request)}"
            )
        self.position += 1
        return recorded_response(exchange["response"], request)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._respond(request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return self._respond(request)

    def assert_consumed(self) -> None:
        """Fail when a recorded exchange was never requested."""
        if self.position < len(self.exchanges):
            missing = self.exchanges[self.position]["request"]
            raise ReplayMismatch(
                f"{len(self.exchanges) - self.position} recorded exchange(s) never requested; next expected: "
                f"{missing.get('method', 'GET')} {missing['url']}"
            )

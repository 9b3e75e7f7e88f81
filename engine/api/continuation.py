"""Serve the vendor page a ``next_cursor`` continues from out of a small cache instead of fetching it again.

A limited response may stop in the middle of a large vendor page (thousands of rows). Without this, every
continuation would download and parse that page again: paging through it with ``limit`` would cost the page size
times the number of responses. The cache holds the last few vendor responses of this process for a short time,
keyed by the account's query binding and the exact request, and answers only the first request of a continued call
(the page the cursor points into), so a new query always reads fresh data and a continuation reads the same
snapshot its earlier responses came from.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

import httpx

from ..run.destination import http_transport

MAX_ENTRIES = 8
MAX_BYTES = 32 * 1024 * 1024
"""The cache's whole size: a vendor page can be megabytes, and eight of them held for a stream that never resumes
were most of a streaming service's peak memory."""
TTL_SECONDS = 300.0


@dataclass
class _Entry:
    status: int
    headers: list[tuple[bytes, bytes]]
    content: bytes
    stored: float


class ContinuationCache:
    """A process-wide LRU of recent vendor responses, keyed by (query binding, method, URL, body)."""

    def __init__(
        self, max_entries: int = MAX_ENTRIES, ttl_seconds: float = TTL_SECONDS, max_bytes: int = MAX_BYTES
    ) -> None:
        self.max_entries = max_entries
        self.ttl_seconds = ttl_seconds
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[str, str, str, bytes], _Entry] = OrderedDict()
        self._bytes = 0

    def transport(
        self, inner: httpx.AsyncBaseTransport | None, binding: str, continuing: bool, *, record: bool = True
    ) -> httpx.AsyncBaseTransport:
        """A transport for one call: records its responses (unless ``record`` is false); when ``continuing``, its
        first request may hit."""
        return _CachingTransport(self, inner or http_transport(), binding, continuing, record)

    def get(self, key: tuple[str, str, str, bytes]) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is None or time.monotonic() - entry.stored > self.ttl_seconds:
            return None
        self._entries.move_to_end(key)
        return entry

    def put(self, key: tuple[str, str, str, bytes], entry: _Entry) -> None:
        """Keep ``entry`` as its query's one continuation point: a cursor only ever points into the last page a
        call read, so an earlier page of the same query (same binding) is dropped, and the oldest entries go while
        the cache is over its entry count or its size."""
        for old in [k for k in self._entries if k[0] == key[0]]:
            self._drop(old)
        if len(entry.content) > self.max_bytes:
            return
        self._entries[key] = entry
        self._bytes += len(entry.content)
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))

    def _drop(self, key: tuple[str, str, str, bytes]) -> None:
        self._bytes -= len(self._entries.pop(key).content)

    def size(self) -> tuple[int, int]:
        """(entries, bytes) held now."""
        return len(self._entries), self._bytes


class _CachingTransport(httpx.AsyncBaseTransport):
    def __init__(
        self,
        cache: ContinuationCache,
        inner: httpx.AsyncBaseTransport,
        binding: str,
        continuing: bool,
        record: bool = True,
    ) -> None:
        self.cache = cache
        self.inner = inner
        self.binding = binding
        self.first_request_may_hit = continuing
        self.record = record

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        key = (self.binding, request.method, str(request.url), request.content)
        may_hit, self.first_request_may_hit = self.first_request_may_hit, False
        if may_hit:
            entry = self.cache.get(key)
            if entry is not None:
                return httpx.Response(entry.status, headers=entry.headers, content=entry.content, request=request)
        response = await self.inner.handle_async_request(request)
        content = await response.aread()
        await response.aclose()
        # The content is decoded now: drop the headers that describe the encoded stream.
        headers = [
            (name, value)
            for name, value in response.headers.raw
            if name.lower() not in (b"content-encoding", b"content-length", b"transfer-encoding")
        ]
        if self.record and 200 <= response.status_code < 300:
            self.cache.put(key, _Entry(response.status_code, headers, content, time.monotonic()))
        return httpx.Response(response.status_code, headers=headers, content=content, request=request)

    async def aclose(self) -> None:
        await self.inner.aclose()

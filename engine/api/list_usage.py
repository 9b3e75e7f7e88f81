"""The list-usage use case: one account's query in, one response body (or NDJSON stream) out. No HTTP types.

It owns what the reference's paging means: the row budget (``limit + 1``, so ``next_cursor`` is null exactly when
nothing is left), the signed cursor and where it resumes, the continuation cache that keeps a large vendor page
from being fetched once per response, the response formats, and the account's health (a vendor auth failure marks
it ``needs_reauth``; a success clears that). The HTTP layer only translates requests and errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, Protocol

import httpx
import orjson

from ..errors import (
    DeadlineExceededError,
    PaginationLoopError,
    ResultTooLargeError,
    UnimeterError,
    VendorAuthError,
)
from ..redaction import account_secrets, redact
from ..run.destination import GuardedTransport, http_transport
from ..run.pipeline import QueryOptions, ResumePoint, VendorPage, check_query, iter_pages
from ..run.ratelimit import RateBudget, RateLimiter, StoreRateLimiter
from ..run.send import Sleep
from ..spec.model import IntegrationSpec
from ..spec.registry import load_integration
from .continuation import ContinuationCache
from .cursor import decode_cursor, encode_cursor, query_binding
from .debug import debug_section, distinct_responses
from .envelope import error_envelope, internal_error
from .formats import exclude_fields, flatten, key_by
from .limits import DEADLINE_ENV, MAX_ROWS_ENV, ServiceLimits
from .query import UsageQuery

log = logging.getLogger("unimeter.service")


class AccountLike(Protocol):
    @property
    def id(self) -> Any: ...
    @property
    def integration(self) -> str: ...
    @property
    def credentials(self) -> dict[str, Any]: ...
    @property
    def context(self) -> dict[str, Any]: ...
    def to_public(self) -> dict[str, Any]: ...


class AccountStore(Protocol):
    """What the use case needs of :class:`unimeter.store.Store` (tests may pass a smaller fake)."""

    def resolve_token(self, token: str) -> str | None: ...
    def get_account(self, account_id: Any, *, environment: str) -> AccountLike: ...
    def mark_status(self, account_id: Any, *, environment: str, status: Any) -> Any: ...


@dataclass
class Slice:
    """The rows of one response, the point to resume from (None when done), and the vendor pages read."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    resume: ResumePoint | None = None
    pages: list[VendorPage] = field(default_factory=list)


async def take(pages: AsyncIterator[VendorPage], limit: int | None, into: Slice | None = None) -> Slice:
    """At most ``limit`` rows (all when None) and where to resume, collected ``into`` a given slice if any (so a
    caller still sees the pages read when the query fails part-way)."""
    result = into if into is not None else Slice()
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


@dataclass
class UsageResponse:
    """A JSON ``body``, or for the ``stream`` format an NDJSON ``stream`` of byte chunks."""

    body: dict[str, Any] | None = None
    stream: AsyncIterator[bytes] | None = None


@dataclass
class _Call:
    """One call's resolved pieces: the account, its integration, the cursor binding and the secrets to redact."""

    query: UsageQuery
    account: AccountLike
    environment: str
    spec: IntegrationSpec
    binding: str
    start: ResumePoint | None
    secrets: tuple[str, ...]


def _log_failure(call: _Call, error: UnimeterError, seconds: float) -> None:
    """One structured line per failed vendor query (no secret: messages are redacted, credentials never logged)."""
    if not error.code.startswith("remote_") and error.code not in {"pagination_loop", "max_pages_exceeded"}:
        return
    fields = {
        "integration": call.spec.name,
        "account_id": str(call.account.id),
        "error": error.code,
        "status": error.http_status,
        "vendor_status": getattr(error, "status", None),
        "duration_ms": round(seconds * 1000),
    }
    log.warning("vendor query failed %s", " ".join(f"{k}={v}" for k, v in fields.items()), extra=fields)


class UsageService:
    """The application state: store, cursor key, the transport used to reach vendors, and the clock.

    ``transport`` is shared by every call (connection pooling); None means one pooled HTTP transport created on
    first use and closed by :meth:`aclose`. ``now`` pins ``$now()`` for parameter defaults (tests replaying
    recorded exchanges); None is the real clock.
    """

    def __init__(
        self,
        store: Any,
        cursor_key: bytes,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep | None = None,
        now: datetime | None = None,
        limits: ServiceLimits | None = None,
        stream_concurrency: int | None = 1,
    ) -> None:
        self.store = store
        # One window at a time keeps a service's stream to one vendor page of memory per client; a single caller
        # (the CLI) may let the mapping's concurrent windows run (None): memory is then that many pages.
        self.stream_concurrency = stream_concurrency
        self.limits = limits or ServiceLimits()
        self.cursor_key = cursor_key
        self.transport = transport
        self.sleep = sleep
        self.now = now
        self.continuations = ContinuationCache()
        self._local_budgets: dict[str, RateLimiter] = {}  # for a store that cannot keep budgets
        self._owned_transport: GuardedTransport | None = None

    def _vendor_transport(self) -> httpx.AsyncBaseTransport:
        if self.transport is not None:
            return self.transport
        if self._owned_transport is None:
            self._owned_transport = GuardedTransport(http_transport())
        return self._owned_transport

    async def aclose(self) -> None:
        """Close the pooled transport this service created (one passed in belongs to its owner)."""
        if self._owned_transport is not None:
            await self._owned_transport.aclose()
            self._owned_transport = None

    async def list_usage(self, query: UsageQuery, *, environment: str) -> UsageResponse:
        """The response to ``query`` in ``environment``; a typed error for anything that is not a success.

        A non-stream response is bounded in time (``limits.deadline_seconds``, then a 504) and in rows
        (``limits.max_rows`` for ``truto_ignore_limit``, then a 413 pointing to ``stream`` or ``limit``).
        """
        if query.response_format == "stream":
            return await self._list_usage(query, environment)
        try:
            async with asyncio.timeout(self.limits.deadline_seconds):
                return await self._list_usage(query, environment)
        except TimeoutError:
            raise DeadlineExceededError(
                f"the request took longer than {self.limits.deadline_seconds:g} s (set {DEADLINE_ENV}); ask for "
                "less at once with limit and next_cursor, or use truto_response_format=stream",
                deadline_seconds=self.limits.deadline_seconds,
            ) from None

    async def _list_usage(self, query: UsageQuery, environment: str) -> UsageResponse:
        call = await self._resolve(query, environment)
        if query.skip_api_call:
            return self._skipped(call)
        if query.response_format == "stream":
            # "Everything, memory-bounded": stream ignores limit, but starts at next_cursor when one is given.
            # One window at a time: a stream's memory stays bounded by one vendor page, however long the range.
            return await self._open_stream(call, self._pages(call, max_concurrency=self.stream_concurrency))
        # truto_ignore_limit still holds at most max_rows: one response never keeps an unbounded result in memory.
        limit = self.limits.max_rows if query.ignore_limit else query.limit
        result = Slice()
        started = time.monotonic()
        try:
            # One row past the limit tells whether anything is left; nothing beyond it needs transforming.
            # A limited response fetches windows one at a time: only what it returns (and one row more) is read.
            concurrency = None if query.ignore_limit else 1
            await take(self._pages(call, row_budget=limit + 1, max_concurrency=concurrency), limit, result)
        except UnimeterError as error:
            _log_failure(call, error, time.monotonic() - started)
            if isinstance(error, VendorAuthError):
                await self._mark(call, "needs_reauth")
            if query.response_format == "debug":
                error.debug = debug_section(
                    result.pages, None, 0, call.secrets, is_looping=isinstance(error, PaginationLoopError)
                )
            raise
        await self._mark(call, "active")
        if query.ignore_limit and result.resume is not None:
            raise ResultTooLargeError(
                f"the result has more than {limit} rows, more than one response may hold (set {MAX_ROWS_ENV}); "
                "use truto_response_format=stream for everything, or limit and next_cursor",
                max_rows=limit,
            )
        next_cursor = (
            None if result.resume is None else encode_cursor(result.resume, key=self.cursor_key, binding=call.binding)
        )
        return UsageResponse(body=self._body(call, result, next_cursor))

    def _skipped(self, call: _Call) -> UsageResponse:
        """``truto_skip_api_call=true``: the query is checked as usual (account, parameters, cursor) but no vendor
        is called; the answer is an empty result, and for debug a null ``debug`` (the reference's rule)."""
        check_query(
            call.spec,
            QueryOptions(
                credentials=call.account.credentials,
                context=call.account.context,
                params=call.query.params,
                now=self.now,
            ),
        )
        if call.query.response_format == "stream":

            async def end_only() -> AsyncIterator[bytes]:
                yield orjson.dumps({"end": {"rows": 0}}) + b"\n"

            return UsageResponse(stream=end_only())
        body: dict[str, Any] = {"result": {} if call.query.key_by else [], "next_cursor": None}
        if call.query.response_format == "debug":
            body["debug"] = None
        return UsageResponse(body=body)

    async def _resolve(self, query: UsageQuery, environment: str) -> _Call:
        account = await asyncio.to_thread(partial(self.store.get_account, query.account_id, environment=environment))
        spec = load_integration(account.integration)
        binding = query_binding(str(account.id), account.integration, query.params, query.remote_query)
        start = decode_cursor(query.next_cursor, key=self.cursor_key, binding=binding) if query.next_cursor else None
        secrets = account_secrets(spec, account.credentials, account.context)
        return _Call(query, account, environment, spec, binding, start, secrets)

    def _pages(
        self, call: _Call, *, row_budget: int | None = None, max_concurrency: int | None = None
    ) -> AsyncIterator[VendorPage]:
        query = call.query
        # A stream keeps no copy of its pages for a later continuation: it holds one vendor page at a time, and only
        # a stream that fails part-way is continued, reading that one page again (a limited response keeps its last
        # page, which its next_cursor points into as a matter of course).
        transport = self.continuations.transport(
            self._vendor_transport(),
            call.binding,
            call.start is not None,
            record=query.response_format != "stream",
        )
        options = QueryOptions(
            rate_limiter=self._budget(call),
            timeout=self.limits.vendor_timeout_seconds,
            secrets=call.secrets,
            credentials=call.account.credentials,
            context=call.account.context,
            params=query.params,
            remote_query=query.remote_query,
            now=self.now,
            transport=transport,
            sleep=self.sleep,
            keep_remote_data=not query.ignore_remote_data,
            start=call.start,
            row_budget=row_budget,
            max_concurrency=max_concurrency,
        )
        return iter_pages(call.spec, options)

    def _budget(self, call: _Call) -> RateBudget | None:
        """One rate budget per account, kept in the store: every query of the account, in this process and in every
        instance on the same store, shares it. Only on the real clock: an injected sleep (replayed tests) does not
        move time, so a shared budget would only pile up waits."""
        limit = call.spec.rate_limit
        if limit is None or self.sleep is not None:
            return None
        budget = f"account:{call.account.id}"
        if hasattr(self.store, "reserve_rate_slot"):
            return StoreRateLimiter(self.store, budget, limit.requests, limit.per_seconds)
        return self._local_budgets.setdefault(budget, RateLimiter(limit.requests, limit.per_seconds))

    def _rows(self, rows: list[dict[str, Any]], query: UsageQuery) -> list[dict[str, Any]]:
        shaped = [exclude_fields(row, query.exclude) for row in rows] if query.exclude else rows
        if query.response_format == "normalized":
            shaped = [flatten(row) for row in shaped]
        return shaped

    def _body(self, call: _Call, result: Slice, next_cursor: str | None) -> dict[str, Any]:
        query = call.query
        if query.response_format == "raw":
            bodies = [page.exchange.body for page in distinct_responses(result.pages)]
            return {"result": redact(bodies, call.secrets), "next_cursor": next_cursor}
        rows = self._rows(result.rows, query)
        body: dict[str, Any] = {
            "result": key_by(rows, query.key_by) if query.key_by else rows,
            "next_cursor": next_cursor,
        }
        if query.response_format == "debug":
            body["debug"] = debug_section(result.pages, next_cursor, len(rows), call.secrets)
        return body

    async def _open_stream(self, call: _Call, pages: AsyncIterator[VendorPage]) -> UsageResponse:
        """Read up to the first page with rows before answering: a stream that fails before its first row answers
        with the error's own status and envelope, not a 200 whose only line is an error."""
        opened: list[VendorPage] = []
        try:
            async for page in pages:
                opened.append(page)
                if page.rows:
                    break
        except UnimeterError as error:
            if isinstance(error, VendorAuthError):
                await self._mark(call, "needs_reauth")
            raise
        return UsageResponse(stream=self._stream(call, opened, pages))

    async def _stream(
        self, call: _Call, opened: list[VendorPage], pages: AsyncIterator[VendorPage]
    ) -> AsyncIterator[bytes]:
        """NDJSON rows, then one last line: ``{"end": {"rows": N}}`` when complete, or ``{"error": envelope,
        "next_cursor": ...}`` to resume just after the last row delivered (null: from the start)."""
        delivered = 0
        resume = call.start

        async def every_page() -> AsyncIterator[VendorPage]:
            # The pages read before answering are handed on and forgotten: none stays alive for the whole stream.
            while opened:
                yield opened.pop(0)
            async for page in pages:
                yield page

        try:
            async for page in every_page():
                # One chunk per vendor page (not per row): fewer, larger writes through the ASGI server.
                yield b"".join(orjson.dumps(row) + b"\n" for row in self._rows(page.rows, call.query))
                delivered += len(page.rows)
                resume = page.resume_after() or resume
                del page  # its vendor body, while the next page is fetched
        except UnimeterError as error:
            _log_failure(call, error, 0.0)
            if isinstance(error, VendorAuthError):
                await self._mark(call, "needs_reauth")
            cursor = None if resume is None else encode_cursor(resume, key=self.cursor_key, binding=call.binding)
            envelope = redact(error_envelope(error), call.secrets)
            yield orjson.dumps({"error": envelope, "next_cursor": cursor, "rows": delivered}) + b"\n"
            return
        except Exception:
            log.exception("stream failed")
            yield orjson.dumps({"error": internal_error(), "rows": delivered}) + b"\n"
            return
        await self._mark(call, "active")
        yield orjson.dumps({"end": {"rows": delivered}}) + b"\n"

    async def _mark(self, call: _Call, status: str) -> None:
        """Record the account's health: a vendor 401/403 means it needs new credentials; a success clears that.

        Written only when the status changes: a store write on every call would cost each request milliseconds.
        """
        if getattr(call.account, "status", None) == status:
            return
        await asyncio.to_thread(
            partial(self.store.mark_status, call.account.id, environment=call.environment, status=status)
        )

"""The whole pipeline of one unified call: plan -> request -> paginate -> transform -> validate.

``iter_pages`` yields each vendor page with its rows as they are produced (the service's ``stream`` and ``debug``
formats build on it); ``alist_usage`` and ``list_usage`` collect everything into ``{"result", "next_cursor"}``.
A call either completes or raises a typed error: there is no partial result.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from ..errors import DestinationError, MappingError, QueryCheckError, UnimeterError, VendorResponseError
from ..redaction import account_secrets
from ..spec.jsonata import pinned_now
from ..spec.model import IntegrationSpec, OperationSpec
from ..spec.registry import load_integration
from ..spec.scope import Scope
from .accounts import resolve_context, resolve_credentials
from .destination import GuardedTransport, check_base_url, check_request_url
from .pagination import PageResponse, PageState, make_paginator
from .params import resolve_params
from .partitions import PartitionWindow, plan_windows
from .ratelimit import RateBudget, RateLimiter
from .records import check_answer, expand_nested, select_records, transform_records
from .request import build_request, resolve_base_url
from .send import Exchange, Sleep, send

DEFAULT_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class ResumePoint:
    """Where a query continues: the window, the page state within it, and how far into that page.

    This is what an opaque ``next_cursor`` carries, so a response can stop in the middle of a vendor page and the
    next one continues exactly after its last row. ``skip_records`` vendor records of the page were fully returned
    (they are not transformed again) and ``skip_rows`` rows of the next record were.
    """

    window: int = 0
    page: Any = None
    next_url: str | None = None
    skip_rows: int = 0
    started: bool = False
    skip_records: int = 0
    seen: tuple[str, ...] = ()
    """The paginator's digests before this page (cursors, URLs, contents met): loops are caught across responses."""

    def as_state(self) -> PageState:
        return PageState(page=self.page, next_url=self.next_url)


@dataclass(frozen=True)
class QueryOptions:
    """Everything one query takes besides the integration: the account, the query and how to run it.

    ``row_budget`` is a promise that the caller reads at most that many rows: a window stops transforming once it
    has made them (its pages are still fetched only as the caller reads on). ``max_concurrency`` caps the mapping's
    concurrent windows (1 keeps memory to one vendor page, as ``stream`` wants). ``now`` pins ``$now()`` for
    defaults; ``transport`` is any httpx transport (live, replay, mock, fault injection).
    """

    credentials: Mapping[str, Any] = field(default_factory=dict)
    context: Mapping[str, Any] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    remote_query: Mapping[str, Any] | None = None
    now: datetime | None = None
    transport: httpx.AsyncBaseTransport | None = None
    sleep: Sleep | None = None
    keep_remote_data: bool = True
    start: ResumePoint | None = None
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    row_budget: int | None = None
    max_concurrency: int | None = None
    rate_limiter: RateBudget | None = None
    """The vendor account's budget shared with other queries (the service keeps one per account); None: this
    query's own limiter from the mapping's rate_limit."""
    secrets: tuple[str, ...] | None = None
    """Every form of the account's secrets (``redaction.account_secrets``) when the caller has them already, as the
    service does for its own outputs; None: worked out here."""


@dataclass
class VendorPage:
    """One vendor response and the unified rows made from it (already past any rows a resume point skips)."""

    operation: str
    window: PartitionWindow
    exchange: Exchange
    rows: list[dict[str, Any]]
    state: PageState
    row_records: list[int] = field(default_factory=list)
    """For each row, the index of the vendor record of this page it was made from."""
    skipped_records: int = 0
    skipped_rows: int = 0
    seen: tuple[str, ...] = ()
    """The paginator's digests before this page was read (what a resume point at this page carries)."""

    def resume_after(self) -> ResumePoint | None:
        """The point just after this page's last row (None when it has none): where a broken stream resumes."""
        if not self.rows:
            return None
        return ResumePoint(
            self.window.index,
            self.state.page,
            self.state.next_url,
            0,
            started=True,
            skip_records=self.row_records[-1] + 1,
            seen=self.seen,
        )

    def resume_at(self, rows_taken: int) -> ResumePoint:
        """The point just after the first ``rows_taken`` rows of this page (``rows_taken < len(rows)``)."""
        record = self.row_records[rows_taken]
        done = sum(1 for index in self.row_records[:rows_taken] if index == record)
        if record == self.skipped_records:
            done += self.skipped_rows
        return ResumePoint(
            self.window.index,
            self.state.page,
            self.state.next_url,
            done,
            started=True,
            skip_records=record,
            seen=self.seen,
        )


def _choose_operation(spec: IntegrationSpec, scope: Scope) -> OperationSpec:
    for operation in spec.operations:
        if operation.when is None or operation.when.evaluate(None, scope.at(operation=operation.name)) is True:
            return operation
    raise QueryCheckError(f"{spec.name}: no operation serves this query (window {scope.window})")


async def _default_sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


def _options(options: QueryOptions | None, fields: dict[str, Any]) -> QueryOptions:
    if options is None:
        return QueryOptions(**fields)
    return dataclasses.replace(options, **fields) if fields else options


async def iter_pages(
    integration: str | IntegrationSpec, options: QueryOptions | None = None, **fields: Any
) -> AsyncIterator[VendorPage]:
    """Every vendor page of one unified query, in order, with its validated rows, from ``options.start`` if given.

    Options come as a :class:`QueryOptions` or as its fields by keyword (``credentials=..., params=...``).
    Any error raised on the way has every form of the account's secrets removed from its message.
    """
    spec = integration if isinstance(integration, IntegrationSpec) else load_integration(integration)
    query_options = _options(options, fields)
    secrets = query_options.secrets
    if secrets is None:
        secrets = account_secrets(spec, query_options.credentials, query_options.context)
    try:
        async for page in _iter_pages(spec, query_options, secrets):
            yield page
    except UnimeterError as error:
        error.redact(secrets)
        raise


@dataclass
class _Query:
    """Everything resolved once per query, shared by its windows."""

    spec: IntegrationSpec
    options: QueryOptions
    credentials: dict[str, Any]
    scope: Scope
    base_url: str
    windows: list[PartitionWindow]
    client: httpx.AsyncClient
    sleep: Sleep
    limiter: RateBudget | None
    secrets: tuple[str, ...] = ()

    async def window_pages(self, window: PartitionWindow, start: ResumePoint) -> AsyncIterator[VendorPage]:
        """The pages of one window, in order (rows not yet checked for uniqueness across windows)."""
        spec, now = self.spec, self.options.now
        scope = self.scope.at(window=window.as_binding())
        with pinned_now(now):
            operation = _choose_operation(spec, scope)
        scope = scope.at(operation=operation.name)
        resuming = start.started and window.index == start.window
        paginator = make_paginator(
            operation.pagination, start.as_state() if resuming else None, start.seen if resuming else ()
        )
        skip_records = start.skip_records if resuming else 0
        skip_rows = start.skip_rows if resuming else 0
        record_index = 0
        rows_made = 0
        while (state := paginator.state) is not None:
            page_scope = scope.at(page=state.page)
            with pinned_now(now):
                request = build_request(
                    spec,
                    operation,
                    base_url=self.base_url,
                    scope=page_scope,
                    page=state,
                    credentials=self.credentials,
                    remote_query=self.options.remote_query,
                )
            _check_destination(request, state, spec)
            exchange = await send(
                self.client, request, spec, sleep=self.sleep, secrets=self.secrets, rate_budget=self.limiter
            )
            with pinned_now(now):
                check_answer(spec, operation, exchange.body, page_scope)
                records = select_records(operation, exchange.body, page_scope)
                if operation.envelope is not None:
                    page_scope = page_scope.at(envelope=operation.envelope.evaluate(exchange.body, page_scope))
                # A loop (the same cursor, URL or page-opening record again) raises here, before the page's rows go out:
                # they would repeat rows already delivered.
                seen_before = paginator.seen
                paginator.advance(
                    PageResponse(
                        str(exchange.request.url),
                        exchange.headers,
                        exchange.body,
                        len(records),
                        records[0] if records else None,
                    ),
                    page_scope,
                )
                items = expand_nested(spec, operation, records, page_scope)
                made_all = transform_records(
                    spec,
                    operation,
                    items[skip_records:],
                    page_scope,
                    first_index=record_index + skip_records,
                    keep_remote_data=self.options.keep_remote_data,
                )
                # A caller that needs only ``row_budget`` more rows (a limited response) does not pay for the rest.
                budget = self.options.row_budget
                wanted = None if budget is None else skip_rows + max(0, budget - rows_made)
                chunks = _RecordChunks(itertools.islice(made_all, skip_rows, wanted), CHUNK_ROWS)
            first = True
            while True:
                # Rows go out in chunks of whole records, so a large vendor page never has all its rows alive.
                with pinned_now(now):
                    chunk = chunks.next_chunk()
                if not chunk and not first:
                    break
                rows_made += len(chunk)
                yield VendorPage(
                    operation.name,
                    window,
                    exchange,
                    [row for _, row in chunk],
                    state,
                    [index - record_index for index, _ in chunk],
                    skip_records if first else -1,
                    skip_rows if first else 0,
                    seen_before,
                )
                first = False
            record_index += len(items)
            skip_records = skip_rows = 0
            # This page's body, records and rows must not stay alive while the next page is fetched and parsed: a
            # window would otherwise hold two vendor pages at its peak instead of one.
            del exchange, records, items, made_all, chunks, chunk


def _check_destination(request: httpx.Request, state: PageState, spec: IntegrationSpec) -> None:
    """Refuse a request outside the integration's hosts; a vendor's next-page URL there is the vendor's fault."""
    try:
        check_request_url(str(request.url), spec)
    except DestinationError:
        if state.next_url is None:
            raise
        raise VendorResponseError(
            f"{spec.label} sent a next-page URL on {request.url.host}, a host {spec.name} does not serve; "
            "nothing was sent there"
        ) from None


CHUNK_ROWS = 500
"""Rows per VendorPage; a vendor page with more rows is delivered in several chunks of whole records."""


class _RecordChunks:
    """Cuts ``(record index, row)`` pairs into chunks of about ``size`` rows without splitting a record's rows."""

    def __init__(self, made: Iterator[tuple[int, dict[str, Any]]], size: int) -> None:
        self.made = made
        self.size = size
        self.pending: tuple[int, dict[str, Any]] | None = None

    def next_chunk(self) -> list[tuple[int, dict[str, Any]]]:
        chunk: list[tuple[int, dict[str, Any]]] = []
        if self.pending is not None:
            chunk.append(self.pending)
            self.pending = None
        for item in self.made:
            if len(chunk) >= self.size and item[0] != chunk[-1][0]:
                self.pending = item
                break
            chunk.append(item)
        return chunk


@dataclass(frozen=True)
class CheckedQuery:
    """A query that passed every check made before a vendor is called: what its pages are read with."""

    credentials: dict[str, Any]
    scope: Scope
    base_url: str
    windows: list[PartitionWindow]


def check_query(spec: IntegrationSpec, options: QueryOptions) -> CheckedQuery:
    """Credentials, context, parameters (defaults and checks), base URL and windows, checked without calling the
    vendor: the first step of every query, and all of one asked for with ``truto_skip_api_call``."""
    creds = resolve_credentials(spec, options.credentials)
    ctx = resolve_context(spec, options.context)
    with pinned_now(options.now):
        resolved = resolve_params(spec, options.params, ctx)
        scope = Scope(params=resolved, context=ctx)
        base_url = resolve_base_url(spec, scope)
        check_base_url(base_url, spec)
        windows = plan_windows(spec.partition, scope)
    return CheckedQuery(creds, scope, base_url, windows)


async def _iter_pages(
    spec: IntegrationSpec, options: QueryOptions, secrets: tuple[str, ...]
) -> AsyncIterator[VendorPage]:
    checked = check_query(spec, options)
    creds, scope, base_url, windows = checked.credentials, checked.scope, checked.base_url, checked.windows
    start = options.start or ResumePoint()
    if start.window >= len(windows):
        raise QueryCheckError("next_cursor points past the end of this query")
    limiter = options.rate_limiter
    if limiter is None and spec.rate_limit is not None:
        limiter = RateLimiter(spec.rate_limit.requests, spec.rate_limit.per_seconds)
    seen_ids: set[str] = set()
    # A transport passed in belongs to the caller (a service pools one for every query): it is never closed here.
    transport = _Borrowed(options.transport) if options.transport is not None else GuardedTransport()
    async with httpx.AsyncClient(transport=transport, timeout=options.timeout, follow_redirects=False) as client:
        sleep = options.sleep or _default_sleep
        query = _Query(spec, options, creds, scope, base_url, windows, client, sleep, limiter, secrets)
        generators = [query.window_pages(window, start) for window in windows[start.window :]]
        concurrency = spec.partition.concurrency
        if options.max_concurrency is not None:
            concurrency = min(options.max_concurrency, concurrency)
        pages = (
            _sequential(generators)
            if concurrency <= 1 or len(generators) == 1
            else _concurrent(generators, concurrency)
        )
        window_index = -1
        async with contextlib.aclosing(pages):
            async for page in pages:
                if page.window.index != window_index:
                    # Ids are checked within a window: memory stays bounded by a window however long the query,
                    # and rows of different windows differ by construction (ids carry their period).
                    seen_ids.clear()
                    window_index = page.window.index
                _check_unique_ids(spec, page.rows, seen_ids)
                yield page


class _Borrowed(httpx.AsyncBaseTransport):
    """A caller's transport, used but not closed when the query's client closes."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        return None


async def _sequential(generators: list[AsyncIterator[VendorPage]]) -> AsyncGenerator[VendorPage, None]:
    for generator in generators:
        async for page in generator:
            yield page


_DONE = object()


async def _concurrent(generators: list[AsyncIterator[VendorPage]], limit: int) -> AsyncGenerator[VendorPage, None]:
    """Run up to ``limit`` windows at once and yield their pages in window order.

    Each window feeds a small queue, so memory stays bounded by a few pages per running window; a failure in any
    window surfaces when its turn comes, and leaving early cancels every window still running.
    """
    slots = asyncio.Semaphore(limit)
    queues: list[asyncio.Queue[Any]] = [asyncio.Queue(maxsize=2) for _ in generators]

    async def produce(generator: AsyncIterator[VendorPage], queue: asyncio.Queue[Any]) -> None:
        async with slots:
            try:
                async for page in generator:
                    await queue.put(page)
            except Exception as error:  # handed to the consumer, which raises it in window order
                await queue.put(error)
                return
            await queue.put(_DONE)

    tasks = [
        asyncio.create_task(produce(generator, queue)) for generator, queue in zip(generators, queues, strict=True)
    ]
    try:
        for queue in queues:
            while True:
                item = await queue.get()
                if item is _DONE:
                    break
                if isinstance(item, BaseException):
                    raise item
                yield item
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _check_unique_ids(spec: IntegrationSpec, rows: list[dict[str, Any]], seen: set[str]) -> None:
    for row in rows:
        row_id = row["id"]
        if row_id in seen:
            raise MappingError(
                f"{spec.name} ({spec.file_name}) produced two rows with the id {row_id!r}; "
                "row ids must be unique within a result",
                row_id=row_id,
            )
        seen.add(row_id)


async def alist_usage(
    integration: str | IntegrationSpec, options: QueryOptions | None = None, **fields: Any
) -> dict[str, Any]:
    """All unified rows of one query: ``{"result": [...], "next_cursor": None}``."""
    result: list[dict[str, Any]] = []
    async for page in iter_pages(integration, options, **fields):
        result.extend(page.rows)
    return {"result": result, "next_cursor": None}


def list_usage(
    integration: str | IntegrationSpec, options: QueryOptions | None = None, **fields: Any
) -> dict[str, Any]:
    """Synchronous :func:`alist_usage` for scripts (not callable from inside a running event loop)."""
    return asyncio.run(alist_usage(integration, options, **fields))

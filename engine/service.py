"""The HTTP service: ``GET /unified/usage-metering/usage`` over integrated accounts, with the engine embedded.

Every failure is the JSON error envelope (``engine/envelope.py``); nothing escapes as a 500 with a traceback. The
account store and API tokens come from ``engine/store.py``; any httpx transport can be injected for tests.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import httpx
import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .continuation import ContinuationCache
from .envelope import REDACTED, error_envelope, redact
from .errors import (
    AccountNotFoundError,
    ApiTokenError,
    ConfigurationError,
    InvalidParameterError,
    QueryError,
    UnimeterError,
    VendorAuthError,
)
from .formats import RESPONSE_FORMATS, exclude_fields, flatten, key_by
from .paging import Slice, decode_cursor, encode_cursor, query_binding, take
from .pipeline import ResumePoint, VendorPage, iter_pages
from .sender import Sleep
from .spec import load_integration

log = logging.getLogger("unimeter.service")

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
_RESERVED = {"integrated_account_id", "truto_response_format", "truto_key_by", "truto_ignore_limit",
             "truto_ignore_remote_data", "limit", "next_cursor"}
_BRACKET = re.compile(r"^(?P<name>[a-z_]+)\[(?P<key>[^\]]*)\]$")


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
    """What the service needs of ``engine.store.Store`` (tests may pass a smaller fake)."""

    def resolve_token(self, token: str) -> str | None: ...
    def get_account(self, account_id: Any, *, environment: str) -> AccountLike: ...
    def mark_status(self, account_id: Any, *, environment: str, status: Any) -> Any: ...


@dataclass
class UsageQuery:
    """The list endpoint's query string, parsed; ``params`` are the integration's own parameters."""

    account_id: str
    response_format: str
    key_by: str | None
    ignore_limit: bool
    ignore_remote_data: bool
    exclude: list[str]
    remote_query: dict[str, str]
    limit: int
    next_cursor: str | None
    params: dict[str, str]


def _boolean(name: str, raw: str | None) -> bool:
    if raw is None or raw == "":
        return False
    if raw.lower() in {"true", "1"}:
        return True
    if raw.lower() in {"false", "0"}:
        return False
    raise InvalidParameterError(f"invalid value {raw!r} for {name!r}: expected true or false", parameter=name)


def _limit(raw: str) -> int:
    """``limit`` from ASCII digits only: ``str.isdigit`` also accepts "²", and ``int`` refuses over 4300 digits."""
    if not raw:
        return DEFAULT_LIMIT
    if raw.isascii() and raw.isdigit():
        digits = raw.lstrip("0") or "0"
        if len(digits) <= len(str(MAX_LIMIT)) and 1 <= int(digits) <= MAX_LIMIT:
            return int(digits)
    raise InvalidParameterError(f"invalid limit {raw[:20]!r}: expected an integer from 1 to {MAX_LIMIT}",
                                parameter="limit")


def parse_query(request: Request) -> UsageQuery:
    items = request.query_params.multi_items()
    single: dict[str, str] = {}
    exclude: list[str] = []
    remote: dict[str, str] = {}
    for name, value in items:
        bracket = _BRACKET.match(name)
        if (bracket and bracket["name"] == "truto_exclude_fields") or name == "truto_exclude_fields":
            exclude.extend(v for v in value.split(",") if v)
        elif bracket and bracket["name"] == "remote_query" and bracket["key"]:
            remote[bracket["key"]] = value
        elif name in single:
            raise InvalidParameterError(f"the parameter {name!r} is given more than once", parameter=name)
        else:
            single[name] = value
    account_id = single.pop("integrated_account_id", "")
    if not account_id:
        raise InvalidParameterError("the parameter 'integrated_account_id' is required (a UUID)",
                                    parameter="integrated_account_id")
    try:
        uuid.UUID(account_id)
    except ValueError:
        raise InvalidParameterError(f"invalid integrated_account_id {account_id!r}: expected a UUID",
                                    parameter="integrated_account_id") from None
    response_format = single.pop("truto_response_format", "unified") or "unified"
    if response_format not in RESPONSE_FORMATS:
        raise InvalidParameterError(f"invalid truto_response_format {response_format!r}: expected one of "
                                    f"{', '.join(RESPONSE_FORMATS)}", parameter="truto_response_format")
    limit = _limit(single.pop("limit", ""))
    return UsageQuery(
        account_id=account_id, response_format=response_format, key_by=single.pop("truto_key_by", None) or None,
        ignore_limit=_boolean("truto_ignore_limit", single.pop("truto_ignore_limit", None)),
        ignore_remote_data=_boolean("truto_ignore_remote_data", single.pop("truto_ignore_remote_data", None)),
        exclude=exclude, remote_query=remote, limit=limit,
        next_cursor=single.pop("next_cursor", None) or None, params=single)


class UsageService:
    """The application state: store, cursor key, the transport used to reach vendors, and the clock.

    ``now`` pins ``$now()`` for parameter defaults (tests replaying recorded exchanges); None is the real clock.
    """

    def __init__(self, store: Any, cursor_key: bytes, *, transport: httpx.AsyncBaseTransport | None = None,
                 sleep: Sleep | None = None, now: datetime | None = None) -> None:
        self.store = store
        self.cursor_key = cursor_key
        self.transport = transport
        self.sleep = sleep
        self.now = now
        self.continuations = ContinuationCache()

    async def authenticate(self, request: Request) -> str:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiTokenError("missing API token: send Authorization: Bearer <token>")
        environment = await run_in_threadpool(self.store.resolve_token, token.strip())
        if not isinstance(environment, str):
            raise ApiTokenError("the API token is not valid")
        return environment

    async def list_usage(self, request: Request) -> Response:
        environment = await self.authenticate(request)
        query = parse_query(request)
        account = await run_in_threadpool(partial(self.store.get_account, query.account_id, environment=environment))
        spec = load_integration(account.integration)
        binding = query_binding(str(account.id), account.integration, query.params, query.remote_query)
        start = decode_cursor(query.next_cursor, key=self.cursor_key, binding=binding) if query.next_cursor else None
        secrets = [str(account.credentials.get(name, "")) for name in spec.secret_fields]

        def pages(row_budget: int | None = None, max_concurrency: int | None = None) -> AsyncIterator[VendorPage]:
            return iter_pages(spec, credentials=account.credentials, context=account.context, params=query.params,
                              remote_query=query.remote_query, now=self.now,
                              transport=self.continuations.transport(self.transport, binding, start is not None),
                              sleep=self.sleep, keep_remote_data=not query.ignore_remote_data, start=start,
                              row_budget=row_budget, max_concurrency=max_concurrency)

        if query.response_format == "stream":
            # "Everything, memory-bounded": stream ignores limit, but starts at next_cursor when one is given.
            # One window at a time: a stream's memory stays bounded by one vendor page, however long the range.
            return StreamingResponse(self._stream(pages(max_concurrency=1), query, account, environment, secrets),
                                     media_type="application/x-ndjson")
        try:
            limit = None if query.ignore_limit else query.limit
            # One row past the limit tells whether anything is left; nothing beyond it needs transforming.
            result = await take(pages(None if limit is None else limit + 1), limit)
        except VendorAuthError:
            await self._mark(account, environment, "needs_reauth")
            raise
        await self._mark(account, environment, "active")
        next_cursor = None if result.resume is None else encode_cursor(result.resume, key=self.cursor_key,
                                                                       binding=binding)
        return JSONResponse(self._body(result, query, next_cursor, secrets))

    def _rows(self, rows: list[dict[str, Any]], query: UsageQuery) -> list[dict[str, Any]]:
        shaped = [exclude_fields(row, query.exclude) for row in rows] if query.exclude else rows
        if query.response_format == "normalized":
            shaped = [flatten(row) for row in shaped]
        return shaped

    def _body(self, result: Slice, query: UsageQuery, next_cursor: str | None, secrets: list[str]) -> dict[str, Any]:
        if query.response_format == "raw":
            return {"result": [page.exchange.body for page in _distinct_responses(result)], "next_cursor": next_cursor}
        rows = self._rows(result.rows, query)
        body: dict[str, Any] = {"result": key_by(rows, query.key_by) if query.key_by else rows,
                                "next_cursor": next_cursor}
        if query.response_format == "debug":
            body["debug"] = redact(_debug(result, next_cursor, len(rows)), secrets)
        return body

    async def _stream(self, pages: AsyncIterator[VendorPage], query: UsageQuery, account: AccountLike,
                      environment: str, secrets: list[str]) -> AsyncIterator[bytes]:
        try:
            async for page in pages:
                # One chunk per vendor page (not per row): fewer, larger writes through the ASGI server.
                yield b"".join(orjson.dumps(row) + b"\n" for row in self._rows(page.rows, query))
        except UnimeterError as error:
            if isinstance(error, VendorAuthError):
                await self._mark(account, environment, "needs_reauth")
            yield (json.dumps({"error": redact(error_envelope(error), secrets)}) + "\n").encode("utf-8")
            return
        except Exception:
            log.exception("stream failed")
            yield (json.dumps({"error": _internal_error()}) + "\n").encode("utf-8")
            return
        await self._mark(account, environment, "active")

    async def _mark(self, account: AccountLike, environment: str, status: str) -> None:
        """Record the account's health: a vendor 401/403 means it needs new credentials; a success clears that.

        Written only when the status changes: a store write on every call would cost each request milliseconds.
        """
        if getattr(account, "status", None) == status:
            return
        await run_in_threadpool(partial(self.store.mark_status, account.id, environment=environment, status=status))


class AccountsApi:
    """``/integrated-accounts``: create, list, get, update, delete within the caller's environment."""

    def __init__(self, service: UsageService, store: Any) -> None:
        self.service = service
        self.store = store

    async def _json(self, request: Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise InvalidParameterError("the request body must be a JSON object", parameter="body") from None
        if not isinstance(body, dict):
            raise InvalidParameterError("the request body must be a JSON object", parameter="body")
        for name in ("credentials", "context"):
            if name in body and not isinstance(body[name], dict):
                raise InvalidParameterError(f"{name!r} must be an object of strings", parameter=name)
        return body

    async def create(self, request: Request) -> Response:
        environment = await self.service.authenticate(request)
        body = await self._json(request)
        if not isinstance(body.get("integration"), str):
            raise InvalidParameterError("'integration' is required", parameter="integration")
        account = await run_in_threadpool(partial(
            self.store.create_account, body["integration"], environment=environment,
            credentials=body.get("credentials") or {}, context=body.get("context")))
        return JSONResponse(account.to_public(), status_code=201)

    async def list(self, request: Request) -> Response:
        environment = await self.service.authenticate(request)
        accounts = await run_in_threadpool(self.store.list_accounts, environment)
        return JSONResponse({"result": [a.to_public() for a in accounts]})

    def _id(self, request: Request) -> str:
        account_id = str(request.path_params["account_id"])
        try:
            uuid.UUID(account_id)
        except ValueError:
            raise InvalidParameterError(f"invalid account id {account_id!r}: expected a UUID",
                                        parameter="account_id") from None
        return account_id

    async def get(self, request: Request) -> Response:
        environment = await self.service.authenticate(request)
        account = await run_in_threadpool(partial(self.store.get_account, self._id(request), environment=environment))
        return JSONResponse(account.to_public())

    async def update(self, request: Request) -> Response:
        environment = await self.service.authenticate(request)
        account_id = self._id(request)
        body = await self._json(request)
        account = await run_in_threadpool(partial(
            self.store.update_account, account_id, environment=environment,
            credentials=body.get("credentials"), context=body.get("context")))
        return JSONResponse(account.to_public())

    async def delete(self, request: Request) -> Response:
        environment = await self.service.authenticate(request)
        await run_in_threadpool(partial(self.store.delete_account, self._id(request), environment=environment))
        return Response(status_code=204)


def _redacted_headers(request: httpx.Request) -> dict[str, str]:
    sensitive = {"authorization", "proxy-authorization", "cookie"}
    return {k: (REDACTED if k.lower() in sensitive or "key" in k.lower() or "token" in k.lower() else v)
            for k, v in request.headers.items()}


def _distinct_responses(result: Slice) -> list[VendorPage]:
    """One page per vendor response (a large response is delivered as several chunks of rows)."""
    seen: set[int] = set()
    pages = []
    for page in result.pages:
        if id(page.exchange) not in seen:
            seen.add(id(page.exchange))
            pages.append(page)
    return pages


def _debug(result: Slice, next_cursor: str | None, count: int) -> dict[str, Any]:
    requests = []
    for page in _distinct_responses(result):
        exchange = page.exchange
        body = exchange.request.content.decode("utf-8", "replace") if exchange.request.content else None
        requests.append({
            "requestUrl": str(exchange.request.url),
            "requestOptions": {"method": exchange.request.method, "headers": _redacted_headers(exchange.request),
                               "body": json.loads(body) if body else None},
            "data": exchange.body, "responseHeaders": exchange.headers, "status": exchange.status,
            "retryWaits": exchange.waits, "attempts": exchange.attempts, "operation": page.operation,
            "window": page.window.as_binding(), "isLooping": page.is_looping,
        })
    last = requests[-1] if requests else {}
    return {**{k: last.get(k) for k in ("requestUrl", "requestOptions", "data", "responseHeaders")},
            "nextCursor": next_cursor, "isLooping": any(r["isLooping"] for r in requests),
            "isEmptyResult": count == 0, "resultCount": count, "requests": requests}


def _internal_error() -> dict[str, Any]:
    return {"status": 500, "error": "internal_error", "message": "internal error; see the service log", "details": {}}


def _error_response(error: UnimeterError) -> JSONResponse:
    headers = {}
    retry_after = error.details.get("retry_after")
    if error.http_status == 429 and retry_after is not None:
        headers["Retry-After"] = str(int(retry_after))
    return JSONResponse(error_envelope(error), status_code=error.http_status, headers=headers)


def _guarded(handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except UnimeterError as error:
            if not isinstance(error, QueryError | ApiTokenError | AccountNotFoundError
                              | ConfigurationError):
                log.info("request failed: %s", error.code)
            return _error_response(error)
        except Exception:
            log.exception("unexpected failure")
            return JSONResponse(_internal_error(), status_code=500)
    return endpoint


async def _health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


CURSOR_KEY_ENV = "UNIMETER_CURSOR_KEY"


def load_cursor_key(path: Path | None = None) -> bytes:
    """The key that signs ``next_cursor``: ``UNIMETER_CURSOR_KEY`` (share it between instances), else a key file
    created with mode 0600 beside the default database."""
    from_env = os.environ.get(CURSOR_KEY_ENV, "")
    if from_env:
        return hashlib.sha256(from_env.encode("utf-8")).digest()
    from .secrets import data_dir

    path = path or data_dir() / "cursor.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(secrets.token_bytes(32))
    return path.read_bytes()


def create_app(service: UsageService) -> Starlette:
    """The ASGI application; the routes are the reference's endpoint plus health and OpenAPI."""
    from .openapi import openapi_document

    async def openapi(request: Request) -> Response:
        return JSONResponse(openapi_document())

    async def not_found(request: Request, exc: Exception) -> Response:
        return JSONResponse({"status": 404, "error": "not_found", "message": f"no route {request.url.path}",
                             "details": {}}, status_code=404)

    async def method_not_allowed(request: Request, exc: Exception) -> Response:
        return JSONResponse({"status": 405, "error": "method_not_allowed",
                             "message": f"{request.method} is not allowed on {request.url.path}", "details": {}},
                            status_code=405)

    accounts = AccountsApi(service, service.store)
    routes = [
        Route("/unified/usage-metering/usage", _guarded(service.list_usage), methods=["GET"]),
        Route("/integrated-accounts", _guarded(accounts.create), methods=["POST"]),
        Route("/integrated-accounts", _guarded(accounts.list), methods=["GET"]),
        Route("/integrated-accounts/{account_id}", _guarded(accounts.get), methods=["GET"]),
        Route("/integrated-accounts/{account_id}", _guarded(accounts.update), methods=["PATCH"]),
        Route("/integrated-accounts/{account_id}", _guarded(accounts.delete), methods=["DELETE"]),
        Route("/health", _health, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
    ]
    return Starlette(routes=routes, exception_handlers={404: not_found, 405: method_not_allowed})


__all__ = ["AccountStore", "ResumePoint", "UsageService", "create_app", "parse_query"]

"""The HTTP service: the reference's endpoint, the accounts API, health and OpenAPI, over one :class:`UsageService`.

HTTP only: routes, and errors turned into the JSON envelope by Starlette ``exception_handlers`` (a typed
:class:`UnimeterError` becomes its status; anything else a bare 500 envelope, logged, never a traceback in the body).
The vendor transport is one long-lived, pooled httpx transport, closed when the app shuts down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Route

from ..api.cursor import load_cursor_key
from ..api.envelope import error_envelope, internal_error
from ..api.list_usage import AccountLike, AccountStore, UsageService
from ..errors import (
    AccountNotFoundError,
    ApiTokenError,
    ConfigurationError,
    QueryError,
    TokenNotFoundError,
    UnimeterError,
)
from ..synced import SyncedDatabase, synced_database_from
from .accounts_api import AccountsApi
from .dashboard_api import DashboardApi
from .integrations_api import IntegrationsApi
from .limits import BodySizeLimit
from .request_id import RequestId, request_id
from .tokens_api import TokensApi
from .usage import usage_endpoint

log = logging.getLogger("unimeter.service")

_EXPECTED = (QueryError, ApiTokenError, AccountNotFoundError, TokenNotFoundError, ConfigurationError)
"""Errors of the caller's making: answered, not logged as failures."""


async def _unimeter_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, UnimeterError)
    if not isinstance(exc, _EXPECTED):
        log.info("request failed: %s", exc.code)
    headers = {}
    retry_after = exc.details.get("retry_after")
    if exc.http_status == 429 and retry_after is not None:
        headers["Retry-After"] = str(int(retry_after))
    if isinstance(exc, ApiTokenError):
        headers["WWW-Authenticate"] = 'Bearer realm="unimeter"'
    return _envelope(request, error_envelope(exc), exc.http_status, headers)


def _envelope(request: Request, body: dict[str, Any], status: int, headers: dict[str, str] | None = None) -> Response:
    """An error envelope carrying the request's id (also in the X-Request-Id header, set by the middleware)."""
    return JSONResponse({**body, "request_id": request_id(request.scope)}, status_code=status, headers=headers)


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    log.error("unexpected failure on %s (request %s)", request.url.path, request_id(request.scope), exc_info=exc)
    return _envelope(request, internal_error(), 500)


async def _not_found(request: Request, exc: Exception) -> Response:
    body = {"status": 404, "error": "not_found", "message": f"no route {request.url.path}", "details": {}}
    return _envelope(request, body, 404)


async def _method_not_allowed(request: Request, exc: Exception) -> Response:
    # Every route of the path counts (a path has one Route per method here; Starlette's own Allow names one).
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.matches(request.scope)[0] is not Match.NONE:
            methods.update(route.methods or ())
    allow = ", ".join(sorted(methods))
    body = {
        "status": 405,
        "error": "method_not_allowed",
        "message": f"{request.method} is not allowed on {request.url.path}; allowed: {allow}",
        "details": {},
    }
    return _envelope(request, body, 405, {"Allow": allow})


def _health_endpoint(store: Any) -> Any:
    async def health(request: Request) -> Response:
        """``ok`` when the store answers; ``degraded`` (503) with the reason when it does not."""
        check = getattr(store, "check", None)
        if check is None:
            return JSONResponse({"status": "ok"})
        try:
            await asyncio.to_thread(check)
        except UnimeterError as error:
            return JSONResponse({"status": "degraded", "store": error.message}, status_code=503)
        return JSONResponse({"status": "ok", "store": "ok"})

    return health


async def _openapi(request: Request) -> Response:
    from .openapi import openapi_document

    return JSONResponse(openapi_document())


def create_app(service: UsageService, synced: SyncedDatabase | None = None) -> Starlette:
    """The ASGI application; the routes are the reference's endpoint plus accounts, tokens, health, OpenAPI and the
    dashboard at ``/``, which reads the sync destination ``synced`` (default: ``$UNIMETER_SYNC_URL``, else the file
    ``unimeter sync`` writes by default)."""
    accounts = AccountsApi(service.store)
    tokens = TokensApi(service.store)
    integrations = IntegrationsApi(service.store)
    routes = [
        Route("/unified/usage-metering/usage", usage_endpoint(service), methods=["GET"]),
        Route("/integrated-accounts", accounts.create, methods=["POST"]),
        Route("/integrated-accounts", accounts.list, methods=["GET"]),
        Route("/integrated-accounts/{account_id}", accounts.get, methods=["GET"]),
        Route("/integrated-accounts/{account_id}", accounts.update, methods=["PATCH"]),
        Route("/integrated-accounts/{account_id}", accounts.delete, methods=["DELETE"]),
        Route("/api-tokens", tokens.list, methods=["GET"]),
        Route("/api-tokens/{token_id}", tokens.update, methods=["PATCH"]),
        Route("/api-tokens/{token_id}", tokens.revoke, methods=["DELETE"]),
        Route("/integrations", integrations.list, methods=["GET"]),
        Route("/integrations/{name}", integrations.get, methods=["GET"]),
        Route("/health", _health_endpoint(service.store), methods=["GET"]),
        Route("/openapi.json", _openapi, methods=["GET"]),
        *DashboardApi(service.store, synced or synced_database_from(None, option="--sync-to")).routes(),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await service.aclose()

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            UnimeterError: _unimeter_error,
            Exception: _unexpected_error,
            404: _not_found,
            405: _method_not_allowed,
        },
    )
    app.add_middleware(BodySizeLimit, max_bytes=service.limits.max_body_bytes)
    app.add_middleware(RequestId)
    return app


def app_from_environment() -> Starlette:
    """The application a worker of ``unimeter serve --workers N`` builds: the store of ``UNIMETER_DATABASE_URL``
    (else the default file), the cursor key, limits and the dashboard's sync destination (``UNIMETER_SYNC_URL``) from
    the environment, as the parent process set them up;
    every worker thus signs and accepts the same ``next_cursor`` and shares accounts, tokens and rate budgets."""
    from ..api.limits import limits_from_env
    from ..store import open_store

    return create_app(UsageService(open_store(), load_cursor_key(), limits=limits_from_env()))


__all__ = ["AccountLike", "AccountStore", "UsageService", "app_from_environment", "create_app", "load_cursor_key"]

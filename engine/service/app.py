"""The HTTP service: the reference's endpoint, the accounts API, health and OpenAPI, over one :class:`UsageService`.

HTTP only: routes, and errors turned into the JSON envelope by Starlette ``exception_handlers`` (a typed
:class:`UnimeterError` becomes its status; anything else a bare 500 envelope, logged, never a traceback in the body).
The vendor transport is one long-lived, pooled httpx transport, closed when the app shuts down.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..api.cursor import load_cursor_key
from ..api.envelope import error_envelope, internal_error
from ..api.list_usage import AccountLike, AccountStore, UsageService
from ..errors import AccountNotFoundError, ApiTokenError, ConfigurationError, QueryError, UnimeterError
from .accounts_api import AccountsApi
from .limits import BodySizeLimit
from .usage import usage_endpoint

log = logging.getLogger("unimeter.service")

_EXPECTED = (QueryError, ApiTokenError, AccountNotFoundError, ConfigurationError)
"""Errors of the caller's making: answered, not logged as failures."""


async def _unimeter_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, UnimeterError)
    if not isinstance(exc, _EXPECTED):
        log.info("request failed: %s", exc.code)
    headers = {}
    retry_after = exc.details.get("retry_after")
    if exc.http_status == 429 and retry_after is not None:
        headers["Retry-After"] = str(int(retry_after))
    return JSONResponse(error_envelope(exc), status_code=exc.http_status, headers=headers)


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    log.error("unexpected failure on %s", request.url.path, exc_info=exc)
    return JSONResponse(internal_error(), status_code=500)


async def _not_found(request: Request, exc: Exception) -> Response:
    return JSONResponse(
        {"status": 404, "error": "not_found", "message": f"no route {request.url.path}", "details": {}}, status_code=404
    )


async def _method_not_allowed(request: Request, exc: Exception) -> Response:
    return JSONResponse(
        {
            "status": 405,
            "error": "method_not_allowed",
            "message": f"{request.method} is not allowed on {request.url.path}",
            "details": {},
        },
        status_code=405,
    )


async def _health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def _openapi(request: Request) -> Response:
    from .openapi import openapi_document

    return JSONResponse(openapi_document())


def create_app(service: UsageService) -> Starlette:
    """The ASGI application; the routes are the reference's endpoint plus accounts, health and OpenAPI."""
    accounts = AccountsApi(service.store)
    routes = [
        Route("/unified/usage-metering/usage", usage_endpoint(service), methods=["GET"]),
        Route("/integrated-accounts", accounts.create, methods=["POST"]),
        Route("/integrated-accounts", accounts.list, methods=["GET"]),
        Route("/integrated-accounts/{account_id}", accounts.get, methods=["GET"]),
        Route("/integrated-accounts/{account_id}", accounts.update, methods=["PATCH"]),
        Route("/integrated-accounts/{account_id}", accounts.delete, methods=["DELETE"]),
        Route("/health", _health, methods=["GET"]),
        Route("/openapi.json", _openapi, methods=["GET"]),
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
    return app


__all__ = ["AccountLike", "AccountStore", "UsageService", "create_app", "load_cursor_key"]

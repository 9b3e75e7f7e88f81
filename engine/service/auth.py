"""Who is calling: the bearer API token of a request, resolved to its environment by the store."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from ..errors import ApiTokenError


async def authenticate(request: Request, store: Any) -> str:
    """The environment of the request's ``Authorization: Bearer`` token, else :class:`ApiTokenError` (401)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiTokenError("missing API token: send Authorization: Bearer <token>")
    environment = await run_in_threadpool(store.resolve_token, token.strip())
    if not isinstance(environment, str):
        raise ApiTokenError("the API token is not valid")
    return environment

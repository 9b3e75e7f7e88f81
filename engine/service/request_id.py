"""Every request gets an id: the caller's ``X-Request-Id`` when it is a sane token, else a new one. It is echoed in
the response header, in every error body (``request_id``) and in the log lines about the request."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

HEADER = b"x-request-id"
_SANE = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
_KEY = "unimeter.request_id"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
App = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]


def request_id(scope: Scope) -> str | None:
    """The id of the request ``scope`` describes (None outside the middleware)."""
    value = scope.get(_KEY)
    return str(value) if value is not None else None


class RequestId:
    """ASGI middleware that assigns the id and adds it to the response headers."""

    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(
        self, scope: Scope, receive: Callable[[], Awaitable[Message]], send: Callable[[Message], Awaitable[None]]
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((value for name, value in scope.get("headers", []) if name == HEADER), b"")
        chosen = given.decode("ascii") if _SANE.fullmatch(given) else uuid.uuid4().hex
        scope[_KEY] = chosen

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (HEADER, chosen.encode("ascii"))]
            await send(message)

        await self.app(scope, receive, send_with_id)

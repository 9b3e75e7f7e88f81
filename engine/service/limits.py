"""HTTP-level bounds: a request body over the configured size is refused before it is held in memory."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

from ..api.limits import MAX_BODY_BYTES_ENV
from ..errors import PayloadTooLargeError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodySizeLimit:
    """ASGI middleware: a request body over ``max_bytes`` is refused with 413 as soon as it is known to be, from
    its ``Content-Length`` or while it streams in, so the service never holds more than the limit."""

    def __init__(self, app: App, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await _too_large(send, self.max_bytes)
                return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise PayloadTooLargeError(_message(self.max_bytes), limit=self.max_bytes)
            return message

        await self.app(scope, limited, send)


def _message(limit: int) -> str:
    return f"the request body is larger than {limit} bytes (set {MAX_BODY_BYTES_ENV} to change the limit)"


async def _too_large(send: Send, limit: int) -> None:
    body = orjson.dumps({"status": 413, "error": "payload_too_large", "message": _message(limit), "details": {}})
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})

"""The pooled HTTP transport every vendor request goes through, with a cheaper idle-connection check.

httpcore's connection pool asks every pooled connection whether it has expired each time it assigns a request
(``has_expired``): an idle connection whose socket is readable was closed by the server. On asyncio that question
goes through anyio's typed attributes, which build a mapping of every socket attribute (``getpeername`` and
``getsockname`` calls included) just to hand back the raw socket. With 50 concurrent one-page service requests the
pool holds ~50 connections and that check was about a tenth of the service's CPU (py-spy; bench/RESULTS.md).

:class:`_SocketCachingBackend` wraps httpcore's own backend and remembers each stream's raw socket, so the check is one
``poll``. Everything else (connecting, TLS, reads, writes, timeouts) is httpcore's. The answer is the same: readable
means closed by the server, and a stream without a socket counts as readable, as in httpcore.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx
from httpcore._utils import is_socket_readable

_UNSET: Any = object()


class _SocketCachingStream(httpcore.AsyncNetworkStream):
    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._socket: socket.socket | None = _UNSET

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        return _SocketCachingStream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        if info != "is_readable":
            return self._inner.get_extra_info(info)
        if self._socket is _UNSET:
            self._socket = self._inner.get_extra_info("socket")
        return is_socket_readable(self._socket)


class _SocketCachingBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self._inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        return _SocketCachingStream(stream)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        return _SocketCachingStream(await self._inner.connect_unix_socket(path, timeout, socket_options))

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def pooled_transport(ssl_context: ssl.SSLContext) -> httpx.AsyncHTTPTransport:
    """httpx's pooled transport (its default limits, no proxy), its pool on :class:`_SocketCachingBackend`.

    httpx takes no network backend, so its pool is replaced by an httpcore pool built the way httpx builds it; if a
    future httpx keeps its pool elsewhere, the transport is returned as httpx made it."""
    transport = httpx.AsyncHTTPTransport(verify=ssl_context)
    if not isinstance(getattr(transport, "_pool", None), httpcore.AsyncConnectionPool):
        return transport
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0)  # httpx's default
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=ssl_context,
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=_SocketCachingBackend(httpcore.AnyIOBackend()),
    )
    return transport

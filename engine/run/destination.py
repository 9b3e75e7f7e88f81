"""Where an account's credentials may be sent: the base URL policy, checked at account writes and on every request.

A base URL is a scheme, a host, an optional port and an optional path prefix: no userinfo, query or fragment (a
``?x=`` or ``#`` at its end would swallow the request path). It must be one of the mapping's ``allowed_base_urls``
(the hosts its vendor serves) or one the operator allows with ``UNIMETER_ALLOWED_BASE_URLS`` (comma-separated URL
prefixes; an entry without a port allows every port of its host). The same rule holds for every URL a request goes
to, so a next-page URL from a vendor body cannot send the credentials elsewhere.

On the network, :class:`GuardedTransport` resolves each host before connecting and refuses private, loopback,
link-local, multicast and reserved addresses unless the operator allowed that URL: a vendor host name that resolves
to an internal address (DNS rebinding, a poisoned resolver) gets nothing.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import os
import re
import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from ..errors import ConfigurationError, DestinationError
from ..spec.model import IntegrationSpec

ALLOWED_BASE_URLS_ENV = "UNIMETER_ALLOWED_BASE_URLS"
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class UrlPrefix:
    """One allowed prefix: scheme, host, port (None: any port) and path prefix."""

    scheme: str
    host: str
    port: int | None
    path: str

    def admits(self, url: str) -> bool:
        parts = urlsplit(url)
        if parts.scheme != self.scheme or (parts.hostname or "") != self.host:
            return False
        if self.port is not None and _port(parts.scheme, parts.port) != self.port:
            return False
        return _path_within(parts.path or "/", self.path)

    def __str__(self) -> str:
        port = f":{self.port}" if self.port is not None else ""
        return f"{self.scheme}://{self.host}{port}{self.path.rstrip('/')}"


def _port(scheme: str, port: int | None) -> int:
    return port if port is not None else _DEFAULT_PORTS.get(scheme, 0)


def _path_within(path: str, prefix: str) -> bool:
    prefix = prefix.rstrip("/")
    return not prefix or path == prefix or path.startswith(prefix + "/")


def parse_prefix(text: str, *, what: str, any_port_without_one: bool) -> UrlPrefix:
    """A URL prefix, or ConfigurationError naming ``what`` and the part that is not allowed."""
    check_base_url_shape(text, what=what)
    parts = urlsplit(text.strip())
    port = parts.port
    if port is None and not any_port_without_one:
        port = _DEFAULT_PORTS[parts.scheme]
    return UrlPrefix(parts.scheme, (parts.hostname or "").lower(), port, parts.path or "/")


def _without_userinfo(url: str) -> str:
    """``url`` as an error may show it: a user name or password in it (a credential) becomes ``***``, and a query
    or fragment ``?...``."""
    for mark in "?#":  # a query or fragment may carry a token too
        if mark in url:
            url = url.split(mark, 1)[0] + mark + "..."
    scheme, sep, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    if not sep or "@" not in authority:
        return url
    return f"{scheme}://***@{authority.rpartition('@')[2]}{slash}{path}"


def check_base_url_shape(url: str, *, what: str = "base_url") -> None:
    """``url`` is ``scheme://host[:port][/path]``; else ConfigurationError saying which part is wrong (never
    showing a password the URL carries)."""
    if not isinstance(url, str) or not url.strip():
        raise ConfigurationError(f"{what} must be a non-empty URL", field="base_url")
    shown = _without_userinfo(url)
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as error:
        raise ConfigurationError(f"{what} {shown!r} is not a valid URL: {error}", field="base_url") from None
    if parts.scheme not in _DEFAULT_PORTS:
        raise ConfigurationError(f"{what} {shown!r} must start with http:// or https://", field="base_url")
    if not parts.hostname:
        raise ConfigurationError(f"{what} {shown!r} has no host", field="base_url")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise ConfigurationError(f"{what} {shown!r} must not carry a user name or password", field="base_url")
    if "?" in url:  # also a bare "?" or "?x=", which urlsplit reads as an empty or short query
        raise ConfigurationError(f"{what} {shown!r} must not have a query ('?...')", field="base_url")
    if "#" in url:
        raise ConfigurationError(f"{what} {shown!r} must not have a fragment ('#...')", field="base_url")
    if port is not None and not 0 < port < 65536:
        raise ConfigurationError(f"{what} {shown!r} has an invalid port", field="base_url")


def operator_prefixes() -> tuple[UrlPrefix, ...]:
    """The operator's ``UNIMETER_ALLOWED_BASE_URLS``: read on every call (tests and the demo set it at run time),
    parsed once per value, since every request checks it."""
    return _parse_operator_prefixes(os.environ.get(ALLOWED_BASE_URLS_ENV, ""))


@functools.cache
def _parse_operator_prefixes(text: str) -> tuple[UrlPrefix, ...]:
    return tuple(
        parse_prefix(entry.strip(), what=f"{ALLOWED_BASE_URLS_ENV} entry", any_port_without_one=True)
        for entry in text.split(",")
        if entry.strip()
    )


def allow_base_urls(urls: Iterable[str]) -> None:
    """Add ``urls`` to the operator's allowed base URLs of this process (and the processes it starts)."""
    current = [entry for entry in os.environ.get(ALLOWED_BASE_URLS_ENV, "").split(",") if entry.strip()]
    added = [url for url in urls if url not in current]
    os.environ[ALLOWED_BASE_URLS_ENV] = ",".join([*current, *added])


@functools.cache
def declared_prefixes(urls: tuple[str, ...]) -> tuple[UrlPrefix, ...]:
    """A mapping's ``allowed_base_urls`` (an entry without a port means the scheme's default port)."""
    return tuple(parse_prefix(url, what="allowed_base_urls entry", any_port_without_one=False) for url in urls)


def check_base_url(url: str, spec: IntegrationSpec) -> None:
    """``url`` may be the base URL of an account of ``spec``: right shape, and declared or operator-allowed."""
    check_base_url_shape(url)
    _check_admitted(url, spec, what="base_url")


def check_request_url(url: str, spec: IntegrationSpec) -> None:
    """A request (with the account's credentials) may go to ``url``: a next-page URL from a vendor body too."""
    _check_admitted(url, spec, what="request URL")


def _check_admitted(url: str, spec: IntegrationSpec, *, what: str) -> None:
    integration = spec.name
    declared = declared_prefixes(spec.allowed_base_urls)
    operator = operator_prefixes()
    if any(prefix.admits(url) for prefix in (*declared, *operator)):
        return
    shown = ", ".join(str(prefix) for prefix in declared) or "none"
    raise DestinationError(
        f"{what} {_without_query(url)!r} is not a host {integration} serves (allowed: {shown}); an operator can "
        f"allow more with {ALLOWED_BASE_URLS_ENV}",
        field="base_url",
    )


def _without_query(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


@functools.cache
def shared_ssl_context() -> ssl.SSLContext:
    """One TLS context for every vendor connection of the process: building one loads the CA bundle (~30 ms), which
    a library caller otherwise paid on every query."""
    return httpx.create_ssl_context()


def http_transport() -> httpx.AsyncHTTPTransport:
    """A pooled HTTP transport on the shared TLS context (:func:`unimeter.run.network.pooled_transport`).

    Imported here, not at the top: httpcore (~40 ms) loads with the first transport, as it does inside httpx, so
    commands that never send (lint, check on recorded exchanges) do not pay for it."""
    from .network import pooled_transport

    return pooled_transport(shared_ssl_context())


class GuardedTransport(httpx.AsyncBaseTransport):
    """The live network transport: refuses hosts that resolve to non-public addresses unless the operator allowed
    the URL (``UNIMETER_ALLOWED_BASE_URLS``), then sends through a pooled :class:`httpx.AsyncHTTPTransport`."""

    def __init__(self, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self.inner = inner or http_transport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        if not any(prefix.admits(url) for prefix in operator_prefixes()):
            await _check_resolves_publicly(request.url.host, request.url.port or _port(request.url.scheme, None))
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def _check_resolves_publicly(host: str, port: int) -> None:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return  # unresolvable: the connection itself fails next, as a transport error
    addresses = sorted({str(info[4][0]) for info in infos})
    internal = [address for address in addresses if not _is_public(address)]
    if internal:
        raise DestinationError(
            f"{host} resolves to a non-public address ({internal[0]}); requests there are refused unless an "
            f"operator allows the URL with {ALLOWED_BASE_URLS_ENV}",
            field="base_url",
        )


_CONTEXT_NAME = re.compile(r"\$context\.([A-Za-z_][A-Za-z0-9_]*)")


def destination_fields(spec: IntegrationSpec) -> frozenset[str]:
    """The context fields that decide where credentials go: ``base_url`` and any the base URL is computed from."""
    expression = spec.base_url.expression
    named = _CONTEXT_NAME.findall(expression.source) if expression is not None else []
    return frozenset({"base_url", *named})

"""Serve simulators over real HTTP on 127.0.0.1, one port each, injecting the generic faults.

A plain ``ThreadingHTTPServer`` is enough: the point is a faithful vendor on the wire (status lines, headers, chunked
large bodies, dropped connections, slow answers), not a fast server.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .config import SandboxConfig
from .faults import FAULT_KINDS, FaultPlan
from .messages import SimRequest, SimResponse
from .vendors import SIMULATORS
from .vendors.base import VendorSimulator

_SERVER_ERRORS = (500, 502, 503)
_BODIES = {"empty_body": b"", "null_body": b"null", "empty_object": b"{}"}
_PAGINATION_FAULTS = ("loop_cursor", "restart_cursor", "expired_cursor")


def _rewritten(response: SimResponse, change: Callable[[Any], str]) -> SimResponse:
    """``response`` with its JSON body passed through ``change`` (which returns the new body text)."""
    body = json.loads(b"".join(response.chunks()))
    headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "transfer-encoding")}
    return SimResponse(response.status, headers, change(body).encode("utf-8"))


def _with_nan(body: Any) -> str:
    """The body with its first number (depth first, bools aside) replaced by NaN, as Python's json writes it."""

    def first_number(node: Any) -> bool:
        items = (
            list(node.items()) if isinstance(node, dict) else list(enumerate(node)) if isinstance(node, list) else []
        )
        for key, value in items:
            if isinstance(value, int | float) and not isinstance(value, bool):
                node[key] = float("nan")
                return True
            if first_number(value):
                return True
        return False

    first_number(body)
    return json.dumps(body, allow_nan=True)


def _with_echo(body: Any, authorization: str) -> str:
    """The body with the request's Authorization header echoed back, as some vendors do in debug or error fields:
    at the top level, and in the first record of the first list (where it reaches a row's remote_data)."""
    echo = {"authorization": authorization}
    if isinstance(body, dict):
        body["echo"] = echo
        for value in body.values():
            if isinstance(value, list) and value and isinstance(value[0], dict):
                value[0]["request_echo"] = echo
                break
    return json.dumps(body)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes; avoid 40 ms delayed-ACK stalls
    server: _SimulatorServer

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default per-request stderr line (it would also print query strings)."""

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        request = SimRequest(self.command, path, query, {k.lower(): v for k, v in self.headers.items()}, body)
        if not self.server.count_request():
            refused = self.server.simulator.rate_limited(self.server.config.retry_after_seconds)
            if not self.server.config.rate_limit_retry_after:
                del refused.headers["retry-after"]
            self._write(refused)
            return
        fault = self.server.faults.next_fault()
        config = self.server.config
        if config.latency_seconds:
            time.sleep(config.latency_seconds)
        if fault == "reset":
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        if fault == "timeout":
            time.sleep(config.slow_seconds)
        response = self._respond(request, fault)
        self._write(response)

    def _respond(self, request: SimRequest, fault: str | None) -> SimResponse:
        simulator = self.server.simulator
        if fault == "rate_limit":
            return simulator.rate_limited(self.server.config.retry_after_seconds)
        if fault == "server_error":
            return simulator.error(next(self.server.server_errors), "simulated server error")
        if fault == "unauthorized":
            return simulator.error(401, "simulated: invalid API key")
        if fault in _BODIES:
            return SimResponse(200, {"content-type": "application/json"}, _BODIES[fault])
        if fault == "no_content":
            return SimResponse(204, {}, b"")
        response = simulator.handle(request, fault if fault in _PAGINATION_FAULTS else None)
        if fault == "malformed":
            return SimResponse(200, {"content-type": "application/json"}, b'{"data": [oops, not json')
        if fault == "truncated":
            whole = b"".join(response.chunks())
            return SimResponse(200, {"content-type": "application/json"}, whole[: max(1, len(whole) // 2)])
        if fault == "nan" and response.status == 200:
            return _rewritten(response, _with_nan)
        if fault == "echo_auth" and response.status == 200:
            echoed = request.headers.get("authorization", "")
            return _rewritten(response, lambda body: _with_echo(body, echoed))
        return response

    def _write(self, response: SimResponse) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if isinstance(response.body, bytes):
            self.send_header("content-length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)
            return
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for chunk in response.chunks():
            if chunk:
                self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")

    do_GET = _serve
    do_POST = _serve


class _SimulatorServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, simulator: VendorSimulator, config: SandboxConfig, faults: FaultPlan) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.simulator = simulator
        self.config = config
        self.faults = faults
        self.server_errors = itertools.cycle(_SERVER_ERRORS)
        self.requests = 0
        self.rate_limit_violations = 0
        self._recent: deque[float] = deque()
        self._lock = threading.Lock()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up (keep-alive closed, the reset fault) is normal here: no traceback on stderr."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)

    def count_request(self) -> bool:
        """Count a request; False when it breaks the vendor's rate limit and the config enforces it."""
        with self._lock:
            self.requests += 1
            limit = self.simulator.rate_limit
            if not self.config.enforce_rate_limits or limit is None:
                return True
            now = time.monotonic()
            while self._recent and now - self._recent[0] >= limit[1]:
                self._recent.popleft()
            if len(self._recent) >= limit[0]:
                self.rate_limit_violations += 1
                return False
            self._recent.append(now)
            return True


def account_fields(endpoint: dict[str, Any]) -> dict[str, Any]:
    """``credentials`` and ``context`` of an account on ``endpoint`` (what :meth:`Sandbox.endpoint` returns, also
    when it came as JSON from another process): the simulator's context with its ``base_url`` in it."""
    return {
        "credentials": endpoint["credentials"],
        "context": {**endpoint["context"], "base_url": endpoint["base_url"]},
    }


@dataclass
class Sandbox:
    """Running simulators; use as a context manager or call :meth:`stop`."""

    servers: dict[str, _SimulatorServer] = field(default_factory=dict)
    threads: list[threading.Thread] = field(default_factory=list)

    def endpoint(self, name: str) -> dict[str, Any]:
        """What an integrated account needs: ``{"base_url", "credentials", "context"}``."""
        server = self.servers[name]
        port = server.server_address[1]
        return {
            "base_url": f"http://127.0.0.1:{port}",
            "credentials": server.simulator.credentials(),
            "context": server.simulator.context(),
        }

    def account(self, name: str) -> dict[str, Any]:
        """An integrated account of simulator ``name``: ``{"credentials", "context"}``, its base URL in the context."""
        return account_fields(self.endpoint(name))

    def endpoints(self) -> dict[str, dict[str, Any]]:
        return {name: self.endpoint(name) for name in self.servers}

    def simulator(self, name: str) -> VendorSimulator:
        """The running simulator ``name`` (e.g. a replay simulator, to list the cases it can answer)."""
        return self.servers[name].simulator

    def request_count(self, name: str) -> int:
        return self.servers[name].requests

    def inject(self, name: str, kind: str, count: int = 1, after: int = 0) -> None:
        """Plan ``count`` faults of ``kind`` for the running simulator ``name``, after ``after`` good requests."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of: {', '.join(FAULT_KINDS)}")
        self.servers[name].faults.add(kind, count, after)

    def pending_faults(self, name: str) -> int:
        """Planned requests (faulty or good ones before them) not yet served."""
        return self.servers[name].faults.pending()

    def clear_faults(self, name: str) -> None:
        self.servers[name].faults.clear()

    def revise(self, revision: int) -> None:
        """Restate the recent days' figures of every running simulator (``SandboxConfig.revision``), as a vendor
        revises what it reported: the next requests see revision ``revision``."""
        for server in self.servers.values():
            server.config = dataclasses.replace(server.config, revision=revision)
            server.simulator.config = dataclasses.replace(server.simulator.config, revision=revision)

    def rate_limit_violations(self, name: str) -> int:
        """Requests refused for breaking the vendor's rate limit (only counted with ``enforce_rate_limits``)."""
        return self.servers[name].rate_limit_violations

    def stop(self) -> None:
        for server in self.servers.values():
            server.shutdown()
            server.server_close()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def start_sandbox(
    vendors: list[str] | None = None,
    config: SandboxConfig | None = None,
    faults: list[tuple[str, str, int]] | list[tuple[str, str, int, int]] | None = None,
) -> Sandbox:
    """Start the named simulators (all when None) on free loopback ports, in daemon threads. ``faults`` are
    ``(vendor, kind, count[, after])`` as :func:`parse_fault` reads them."""
    config = config or SandboxConfig()
    names = vendors or list(SIMULATORS)
    unknown = sorted(set(names) - set(SIMULATORS))
    if unknown:
        raise ValueError(f"no simulator named {unknown[0]!r}; available: {', '.join(SIMULATORS)}")
    return serve_simulators({name: SIMULATORS[name](config) for name in names}, config, faults)


def serve_simulators(
    simulators: dict[str, VendorSimulator],
    config: SandboxConfig,
    faults: list[tuple[str, str, int]] | list[tuple[str, str, int, int]] | None = None,
) -> Sandbox:
    """Serve simulators that are already built (the hand-written ones, or a replay of recorded fixtures) on free
    loopback ports, each with the faults planned for its name."""
    for vendor, *_ in faults or []:
        if vendor not in simulators:
            raise ValueError(f"--fault names {vendor!r}, which is not started (started: {', '.join(simulators)})")
    sandbox = Sandbox()
    for name, simulator in simulators.items():
        plan = FaultPlan()
        for vendor, kind, count, *after in faults or []:
            if vendor == name:
                plan.add(kind, count, *after)
        server = _SimulatorServer(simulator, config, plan)
        thread = threading.Thread(target=server.serve_forever, name=f"sandbox-{name}", daemon=True)
        thread.start()
        sandbox.servers[name] = server
        sandbox.threads.append(thread)
    return sandbox

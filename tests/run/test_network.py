"""The pooled transport's idle-connection check (engine/run/network.py) keeps httpcore's behaviour: keep-alive
connections are reused, a connection the server closed while idle is noticed and replaced, over HTTP and TLS."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from unimeter.run.network import pooled_transport


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    connections = 0
    close_after_reply = False


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.connections += 1

    def do_GET(self) -> None:
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        if self.server.close_after_reply:
            # Closed while the client holds the connection idle, without "Connection: close": only the socket
            # turning readable (end of file) tells the pool.
            self.close_connection = True

    def log_message(self, *_args: Any) -> None:
        pass


def _serve(server: _Server) -> Iterator[_Server]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def plain() -> Iterator[_Server]:
    yield from _serve(_Server(("127.0.0.1", 0), _Handler))


def _certificate(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


@pytest.fixture
def tls(tmp_path: Path) -> Iterator[tuple[_Server, ssl.SSLContext]]:
    cert_file, key_file = _certificate(tmp_path)
    server = _Server(("127.0.0.1", 0), _Handler)
    serving = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    serving.load_cert_chain(cert_file, key_file)
    server.socket = serving.wrap_socket(server.socket, server_side=True)
    trusting = ssl.create_default_context(cafile=str(cert_file))
    for running in _serve(server):
        yield running, trusting


async def _get_three(url: str, context: ssl.SSLContext, pause: float) -> list[int]:
    async with httpx.AsyncClient(transport=pooled_transport(context)) as client:
        statuses = []
        for _ in range(3):
            statuses.append((await client.get(url)).status_code)
            await asyncio.sleep(pause)  # the server's close reaches the client's socket
        return statuses


def test_keep_alive_connections_are_reused(plain: _Server) -> None:
    url = f"http://127.0.0.1:{plain.server_port}/"
    assert asyncio.run(_get_three(url, ssl.create_default_context(), 0.05)) == [200, 200, 200]
    assert plain.connections == 1


def test_a_connection_the_server_closed_while_idle_is_replaced(plain: _Server) -> None:
    plain.close_after_reply = True
    url = f"http://127.0.0.1:{plain.server_port}/"
    assert asyncio.run(_get_three(url, ssl.create_default_context(), 0.05)) == [200, 200, 200]
    assert plain.connections == 3


def test_tls_connections_are_reused_and_replaced_the_same_way(tls: tuple[_Server, ssl.SSLContext]) -> None:
    server, context = tls
    url = f"https://127.0.0.1:{server.server_port}/"
    assert asyncio.run(_get_three(url, context, 0.05)) == [200, 200, 200]
    assert server.connections == 1
    server.close_after_reply = True
    assert asyncio.run(_get_three(url, context, 0.05)) == [200, 200, 200]
    assert server.connections == 1 + 3

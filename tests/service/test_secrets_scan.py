"""No test credential in clear text anywhere the service writes: logs, debug output, the database file, a server's
own stdout and stderr; for every integration on the search path.

In process: a series of service calls (success in every format, a vendor 401 and a vendor 500 whose messages echo the
key, the accounts API) with every log record of every logger captured at DEBUG, then the raw bytes of the SQLite file
(tests/helpers/service_checks.py, shared with the test of a new mapping). Out of process: ``unimeter serve`` started
as a subprocess on a free port against local vendor servers, with the token and accounts made by the CLI first; its
stdout and stderr are scanned after a few requests. The secrets looked for are the fake credentials derived from each
integration's declaration (tests/helpers/credentials.py) and the base64 Basic-auth forms that would reveal them.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.helpers.cases import all_cases, representative_case
from tests.helpers.credentials import fake_credentials, secret_values
from tests.helpers.fuzzing import final_pages
from tests.helpers.paths import PROJECT
from tests.helpers.plain_vendor_server import VendorServer
from tests.helpers.service_checks import (
    check_an_echoing_vendor_leaks_nothing,
    found_secrets,
    scan_logs_bodies_and_database,
)
from tests.helpers.service_helpers import USAGE
from unimeter.spec import available_integrations, load_integration

INTEGRATIONS = available_integrations()
CASES = [representative_case(name) for name in INTEGRATIONS]


def test_no_secret_in_logs_debug_output_or_the_database(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # the root logger: httpx, httpcore, starlette, unimeter.* all propagate here
    scan_logs_bodies_and_database(tmp_path, lambda: caplog.records, CASES)


def test_a_vendor_echoing_the_auth_headers_it_received_leaks_nothing(tmp_path: Path, integration: str) -> None:
    """The vendor's 401 repeats every header of the request (``Basic <base64>``, ``Bearer``, key headers)."""
    check_an_echoing_vendor_leaks_nothing(tmp_path, representative_case(integration))


# ------------------------------------------------------------------------------------------------ unimeter serve


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(
        {
            "UNIMETER_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
            "XDG_DATA_HOME": str(tmp_path / "xdg"),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.pop("UNIMETER_SECRET_KEY", None)
    env.pop("UNIMETER_CURSOR_KEY", None)
    return env


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "unimeter.cli", *args],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done


ROLES = ("ok", "unauthorized", "failing")


def _vendor_server(integration: str, role: str) -> VendorServer:
    """One vendor on 127.0.0.1 answering every path its recordings use: with a recorded final page (ok), a 401, or
    a 500 (failing, retried at once: ``retry-after: 0``); the errors repeat the account's secrets."""
    server = VendorServer()
    pages = {path: body for (_, path), body in final_pages([integration]).items()}
    echoed = json.dumps(
        {
            "error": "Unauthorized" if role == "unauthorized" else "Internal",
            "message": f"Invalid API key {' '.join(secret_values(integration))}",
        }
    )
    routes = {
        (e["request"].get("method", "GET"), urlsplit(e["request"]["url"]).path)
        for case in all_cases([integration])
        for e in case.exchanges
    }
    for method, path in sorted(routes):
        if role == "ok":
            server.route(method, path, json.dumps(pages.get(path, {})))
        elif role == "unauthorized":
            server.route(method, path, echoed, status=401)
        else:
            server.route(method, path, echoed, status=500, headers={"retry-after": "0"})
    return server.start()


@pytest.fixture
def vendors() -> Iterator[dict[tuple[str, str], VendorServer]]:
    servers: dict[tuple[str, str], VendorServer] = {}
    try:
        for integration in INTEGRATIONS:
            for role in ROLES:
                servers[(integration, role)] = _vendor_server(integration, role)
        yield servers
    finally:
        for server in servers.values():
            server.stop()


def test_unimeter_serve_prints_no_secret(tmp_path: Path, vendors: dict[tuple[str, str], VendorServer]) -> None:
    """Per integration, an account whose vendor answers, one it refuses (401) and one that fails (500); the queries
    use each integration's defaults (``serve`` runs on the real clock)."""
    env = _env(tmp_path)
    cli_output = []
    token = _cli(env, "tokens", "create", "--environment", "prod").stdout.strip()
    accounts = {}
    for (integration, role), server in vendors.items():
        context = {**representative_case(integration).context, "base_url": server.url}
        command = ["accounts", "create", integration, "--environment", "prod"]
        for key, value in context.items():
            command += ["--context", f"{key}={value}"]
        for key, value in fake_credentials(integration).items():
            command += ["--credential", f"{key}={value}"]
        done = _cli(env, *command)
        cli_output += [done.stdout, done.stderr]
        accounts[(integration, role)] = json.loads(done.stdout)["id"]
    cli_output.append(_cli(env, "accounts", "list", "--environment", "prod").stdout)

    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "unimeter.cli", "serve", "--port", str(port)],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    statuses = {}
    queries = [
        ("ok", {}),
        ("ok", {"truto_response_format": "debug"}),
        ("ok", {"truto_response_format": "stream"}),
        ("unauthorized", {}),
        ("unauthorized", {"truto_response_format": "debug"}),
        ("failing", {}),
    ]
    try:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"authorization": f"Bearer {token}"},
            timeout=60,
            trust_env=False,
        ) as client:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if client.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert server.poll() is None and time.monotonic() < deadline, "unimeter serve did not start"
                time.sleep(0.1)
            for integration in INTEGRATIONS:
                for role, extra in queries:
                    params = {"integrated_account_id": accounts[(integration, role)], **extra}
                    response = client.get(USAGE, params=params)
                    statuses[f"{integration} {role} {extra}"] = response.status_code
                    assert found_secrets(response.text) == [], response.text
            statuses["accounts"] = client.get("/integrated-accounts").status_code
    finally:
        server.terminate()
        stdout, stderr = server.communicate(timeout=30)
    for integration in INTEGRATIONS:
        assert statuses[f"{integration} ok {{}}"] == 200, statuses
        if 401 in load_integration(integration).errors.auth_statuses:
            assert statuses[f"{integration} unauthorized {{}}"] == 502, statuses
        assert statuses[f"{integration} failing {{}}"] == 502, statuses
    assert statuses["accounts"] == 200
    output = stdout.decode("utf-8", "replace") + stderr.decode("utf-8", "replace")
    assert "GET /unified/usage-metering/usage" in output, output[-2000:]  # uvicorn's access log was captured
    assert found_secrets(output) == [], output[-3000:]
    assert found_secrets("".join(cli_output)) == []
    assert found_secrets(b"".join(p.read_bytes() for p in tmp_path.glob("serve.db*"))) == []
    assert sum(len(vendor.requests) for vendor in vendors.values()) >= 6 * len(INTEGRATIONS)

"""No test credential in clear text anywhere the service writes: logs, debug output, the database file, a server's
own stdout and stderr.

In process: a series of service calls (success in every format, a vendor 401 and a vendor 500 whose messages echo the
key, the accounts API) with every log record of every logger captured at DEBUG, then the raw bytes of the SQLite file.
Out of process: ``unimeter serve`` started as a subprocess on a free port against a local vendor server, with the token
and accounts made by the CLI first; its stdout and stderr are scanned after a few requests. The secrets looked for are
the fake credentials of tests/service_helpers.py and the base64 Basic-auth forms that would reveal them.
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
from typing import Any

import httpx
import pytest
from plain_vendor_server import CURSOR_DAILY_USAGE_DATA, VendorServer
from service_helpers import SECRETS, USAGE, FixtureTransport, Harness, load_case, make_harness, secret_strings

PROJECT = Path(__file__).resolve().parent.parent
CURSOR = load_case("cursor", "several-pages")
CONFLUENT = load_case("confluent", "several-pages")
DATADOG = load_case("datadog", "split-range")
ECHOED = SECRETS["cursor"]["api_key"]


def _found(text: str | bytes) -> list[str]:
    """The secrets that occur in ``text`` (bytes are searched as UTF-8 and as UTF-16, SQLite's other encoding)."""
    if isinstance(text, bytes):
        return [s for s in secret_strings() if s.encode() in text or s.encode("utf-16-le") in text]
    return [s for s in secret_strings() if s in text]


def _echo(status: int, echoed: str = ECHOED) -> dict[str, Any]:
    """A vendor error whose message repeats the credential it was sent."""
    return {"status": status, "headers": {"content-type": "application/json"},
            "body": {"error": "Unauthorized" if status == 401 else "Internal", "message": f"Invalid API key {echoed}"}}


def _log_text(records: list[logging.LogRecord]) -> str:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    parts = []
    for record in records:
        parts.append(formatter.format(record))  # message, args and any traceback (exc_info / stack_info)
        parts.append(repr(record.args))
        parts.append(repr({k: v for k, v in vars(record).items() if k not in {"exc_info", "args", "msg"}}))
    return "\n".join(parts)


def test_no_secret_in_logs_debug_output_or_the_database(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # the root logger: httpx, httpcore, starlette, unimeter.* all propagate here
    transport = FixtureTransport()
    for case in (CURSOR, CONFLUENT, DATADOG):
        transport.add(case.exchanges)
    h: Harness = make_harness(tmp_path, transport, now=CURSOR.clock)
    for case in (CURSOR, CONFLUENT, DATADOG):
        h.add_account(case.integration, context=case.context)

    def query(case: Any, **extra: str) -> dict[str, str]:
        return {"integrated_account_id": h.accounts[case.integration], **case.params, **extra}

    async def scenario(client: httpx.AsyncClient) -> list[int]:
        statuses = []
        for case in (CURSOR, CONFLUENT, DATADOG):
            for response_format in ["unified", "raw", "normalized", "stream", "debug"]:
                response = await client.get(USAGE, params=query(case, truto_response_format=response_format))
                statuses.append(response.status_code)
        for status in (401, 500):
            h.transport.replace(CURSOR.exchanges[0]["request"], _echo(status))
            for response_format in ["unified", "stream", "debug"]:
                response = await client.get(USAGE, params=query(CURSOR, truto_response_format=response_format))
                statuses.append(response.status_code)
        created = await client.post("/integrated-accounts", json={
            "integration": "claude", "credentials": SECRETS["claude"]})
        account_id = created.json()["id"]
        statuses.append(created.status_code)
        statuses.append((await client.get(f"/integrated-accounts/{account_id}")).status_code)
        statuses.append((await client.get("/integrated-accounts")).status_code)
        statuses.append((await client.patch(f"/integrated-accounts/{account_id}", json={
            "credentials": SECRETS["openai-codex"]})).status_code)
        statuses.append((await client.post("/integrated-accounts", json={
            "integration": "no-such", "credentials": SECRETS["claude"]})).status_code)
        return statuses

    statuses = h.run(scenario)  # every response body is scanned by the harness too
    assert statuses[:15] == [200] * 15
    assert statuses[15:21] == [502, 200, 502] * 2  # stream: a 200 that ends with the error line
    assert statuses[21:] == [201, 200, 200, 200, 400]
    assert len(h.sleep.waits) == 3 * 3, "each vendor 500 was retried"

    records = caplog.records
    assert any(r.name.startswith("httpx") for r in records), "httpx's request log was not captured"
    log_text = _log_text(records)
    assert _found(log_text) == [], log_text[-3000:]
    assert _found("".join(h.bodies)) == []

    database = [p for p in tmp_path.iterdir() if p.name.startswith("accounts.db")]
    assert database, list(tmp_path.iterdir())
    raw = b"".join(p.read_bytes() for p in database)
    assert len(raw) > 0
    assert _found(raw) == [], [p.name for p in database]


def test_a_vendor_echoing_the_basic_auth_header_leaks_nothing(tmp_path: Path) -> None:
    transport = FixtureTransport(CURSOR.exchanges)
    basic = f"Basic {secret_strings()[-2]}"
    transport.replace(CURSOR.exchanges[0]["request"], _echo(401, echoed=basic))
    h = make_harness(tmp_path, transport, now=CURSOR.clock)
    h.add_account("cursor")

    async def scenario(client: httpx.AsyncClient) -> str:
        response = await client.get(USAGE, params={"integrated_account_id": h.accounts["cursor"], **CURSOR.params})
        return response.text
    try:
        h.run(scenario)  # the harness scans every body and raises on a secret
    except AssertionError as error:
        pytest.fail(str(error))


# ------------------------------------------------------------------------------------------------ unimeter serve

def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update({"UNIMETER_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}", "XDG_DATA_HOME": str(tmp_path / "xdg"),
                "PYTHONUNBUFFERED": "1"})
    env.pop("UNIMETER_SECRET_KEY", None)
    env.pop("UNIMETER_CURSOR_KEY", None)
    return env


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "unimeter.cli", *args], cwd=PROJECT, env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done


@pytest.fixture
def vendor() -> Iterator[VendorServer]:
    server = VendorServer()
    server.route("POST", "/teams/daily-usage-data", CURSOR_DAILY_USAGE_DATA)
    server.route("GET", "/v1/organizations/analytics/users", json.dumps(_echo(401)["body"]), status=401,
                 headers={"content-type": "application/json"})
    server.route("GET", "/billing/v1/costs", json.dumps(_echo(500)["body"]), status=500,
                 headers={"content-type": "application/json"})
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_unimeter_serve_prints_no_secret(tmp_path: Path, vendor: VendorServer) -> None:
    env = _env(tmp_path)
    cli_output = []
    token = _cli(env, "tokens", "create", "--environment", "prod").stdout.strip()
    accounts = {}
    for integration in ("cursor", "claude", "confluent"):
        command = ["accounts", "create", integration, "--environment", "prod", "--context", f"base_url={vendor.url}"]
        for key, value in SECRETS[integration].items():
            command += ["--credential", f"{key}={value}"]
        done = _cli(env, *command)
        cli_output += [done.stdout, done.stderr]
        accounts[integration] = json.loads(done.stdout)["id"]
    cli_output.append(_cli(env, "accounts", "list", "--environment", "prod").stdout)

    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "unimeter.cli", "serve", "--port", str(port)], cwd=PROJECT,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    statuses = {}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"authorization": f"Bearer {token}"},
                          timeout=60, trust_env=False) as client:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if client.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert server.poll() is None and time.monotonic() < deadline, "unimeter serve did not start"
                time.sleep(0.1)
            for integration, extra in [("cursor", {}), ("cursor", {"truto_response_format": "debug"}),
                                       ("cursor", {"truto_response_format": "stream"}), ("claude", {}),
                                       ("claude", {"truto_response_format": "debug"}),
                                       ("confluent", {"start_date": "2026-11-01", "end_date": "2026-11-02"})]:
                response = client.get(USAGE, params={"integrated_account_id": accounts[integration], **extra})
                statuses[f"{integration} {extra}"] = response.status_code
                assert _found(response.text) == [], response.text
            statuses["accounts"] = client.get("/integrated-accounts").status_code
    finally:
        server.terminate()
        stdout, stderr = server.communicate(timeout=30)
    assert statuses["cursor {}"] == 200 and statuses["claude {}"] == 502, statuses
    assert statuses["accounts"] == 200
    output = stdout.decode("utf-8", "replace") + stderr.decode("utf-8", "replace")
    assert "GET /unified/usage-metering/usage" in output, output[-2000:]  # uvicorn's access log was captured
    assert _found(output) == [], output[-3000:]
    assert _found("".join(cli_output)) == []
    assert _found(b"".join(p.read_bytes() for p in tmp_path.glob("serve.db*"))) == []
    assert len(vendor.requests) >= 6

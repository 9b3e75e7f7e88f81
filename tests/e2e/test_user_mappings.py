"""A user's own integration, kept outside the project, works end to end with no file of the project changed.

The "done when" of the mapping search path: a mapping and its fixtures in a folder of the user's (pytest's tmp_path),
named by ``UNIMETER_MAPPINGS_PATH`` (or ``--mappings``), pass ``unimeter check`` and run in ``unimeter usage`` and
``unimeter serve``; a user mapping with a built-in's name overrides it, and says so.

The user integration is "acme", a small vendor written here as YAML: a Bearer API key declared as a credential, one
``GET /v1/usage`` endpoint with two pages of cursor pagination, and three records mapped to Usage rows. Its API is
served by this module on 127.0.0.1 (a real loopback server, since the CLI runs in subprocesses), which answers 401 to
any other Authorization header. Every command runs as ``python -m unimeter.cli`` from an empty folder outside the
project, so nothing is found through the working directory.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.fernet import Fernet

from unimeter.resources import builtin_fixtures_dir, builtin_mappings_dir

API_KEY = "acme_key_e2e_5f3a"  # what the loopback vendor accepts; fake, like every fixture credential
FIXTURE_KEY = "key_test"  # the credential of the recorded fixture case
TIMEOUT = 30  # seconds: the bound of every command and every wait

# --------------------------------------------------------------------------------------------- the user's mapping


def acme_spec(name: str = "acme") -> str:
    """The user's mapping, as the user would write it; ``name`` lets the same API stand in for a built-in's name."""
    return f"""\
# A user's integration, outside the project: Acme's usage API.
name: {name}
label: Acme Cloud
docs_url: https://docs.acme.example/api/usage
fills: [id, product, metric_name, user, model, charges, usage.tokens, start_date, end_date, remote_data]

credentials:
  api_key:
    secret: true
    required: true
    description: Acme API key, sent as a Bearer token.

base_url: https://api.acme.example

auth:
  kind: headers
  headers:
    Authorization: {{jsonata: "'Bearer ' & $credentials.api_key"}}

params:
  start_date:
    type: date
    required: false
    default: {{jsonata: "$formatDate($startOfMonth($now()), 'date')"}}
    note: First day reported (inclusive), sent as Acme's `since`. Defaults to the start of the current month.

errors:
  message: {{jsonata: "error.message"}}
  auth_statuses: [401, 403]
  retry_statuses: [429, 503]
  max_retries: 1

operations:
  - name: daily_usage
    money: billed
    request:
      method: GET
      path: /v1/usage
      query:
        since: {{jsonata: "$params.start_date"}}
        cursor: {{jsonata: "$page"}}
    pagination:
      kind: cursor
      next: {{jsonata: "next_cursor"}}
    records: {{jsonata: "data"}}
    transform:
      jsonata: |
        {{
          "id": "{name}:" & date & ":" & user_id,
          "product": {{"id": "acme", "name": "Acme Cloud"}},
          "metric_name": "daily_tokens",
          "user": {{"id": user_id, "email": email}},
          "model": {{"id": model, "provider": "acme"}},
          "charges": [{{"amount": $money(cost), "currency": "USD", "type": "net"}}],
          "usage": {{"tokens": {{"input": input_tokens, "output": output_tokens}}}},
          "start_date": $toInstant(date),
          "end_date": $addDays(date, 1)
        }}
"""


# The vendor's two pages. The third record has no output_tokens: absent stays absent (not 0), while u-2's 0 stays 0.
RECORDS = [
    {
        "date": "2026-11-01",
        "user_id": "u-1",
        "email": "ada@acme.example",
        "model": "acme-large",
        "input_tokens": 1200,
        "output_tokens": 340,
        "cost": "0.42",
    },
    {
        "date": "2026-11-01",
        "user_id": "u-2",
        "email": "bob@acme.example",
        "model": "acme-small",
        "input_tokens": 800,
        "output_tokens": 0,
        "cost": "0.08",
    },
    {
        "date": "2026-11-02",
        "user_id": "u-1",
        "email": "ada@acme.example",
        "model": "acme-large",
        "input_tokens": 50,
        "cost": "0.05",
    },
]
PAGES: dict[str | None, dict[str, Any]] = {
    None: {"data": RECORDS[:2], "next_cursor": "page-2"},  # first page: no cursor sent
    "page-2": {"data": RECORDS[2:], "next_cursor": None},  # last page
}


def expected_rows(name: str = "acme") -> list[dict[str, Any]]:
    """The rows the mapping must make of RECORDS, worked out by hand."""
    return [
        {
            "id": f"{name}:2026-11-01:u-1",
            "product": {"id": "acme", "name": "Acme Cloud"},
            "metric_name": "daily_tokens",
            "user": {"id": "u-1", "email": "ada@acme.example"},
            "model": {"id": "acme-large", "provider": "acme"},
            "charges": [{"amount": 0.42, "currency": "USD", "type": "net"}],
            "usage": {"tokens": {"input": 1200, "output": 340}},
            "start_date": "2026-11-01T00:00:00Z",
            "end_date": "2026-11-02T00:00:00Z",
            "remote_data": RECORDS[0],
        },
        {
            "id": f"{name}:2026-11-01:u-2",
            "product": {"id": "acme", "name": "Acme Cloud"},
            "metric_name": "daily_tokens",
            "user": {"id": "u-2", "email": "bob@acme.example"},
            "model": {"id": "acme-small", "provider": "acme"},
            "charges": [{"amount": 0.08, "currency": "USD", "type": "net"}],
            "usage": {"tokens": {"input": 800, "output": 0}},
            "start_date": "2026-11-01T00:00:00Z",
            "end_date": "2026-11-02T00:00:00Z",
            "remote_data": RECORDS[1],
        },
        {
            "id": f"{name}:2026-11-02:u-1",
            "product": {"id": "acme", "name": "Acme Cloud"},
            "metric_name": "daily_tokens",
            "user": {"id": "u-1", "email": "ada@acme.example"},
            "model": {"id": "acme-large", "provider": "acme"},
            "charges": [{"amount": 0.05, "currency": "USD", "type": "net"}],
            "usage": {"tokens": {"input": 50}},
            "start_date": "2026-11-02T00:00:00Z",
            "end_date": "2026-11-03T00:00:00Z",
            "remote_data": RECORDS[2],
        },
    ]


def write_fixture_case(root: Path, case: str = "defaults") -> Path:
    """``root/acme/<case>/``: the call, the two recorded exchanges (docs/fixtures.md) and the expected result."""
    folder = root / "acme" / case
    folder.mkdir(parents=True)
    (folder / "case.yaml").write_text(
        'description: "Defaults: since is the start of the pinned month; two pages by cursor, three rows"\n'
        'now: "2026-11-26T12:00:00Z"\n'
        f"credentials: {{api_key: {FIXTURE_KEY}}}\n"
        "context: {}\n"
        "params: {}\n",
        encoding="utf-8",
    )
    exchanges = [
        {
            "request": {
                "method": "GET",
                "url": "https://api.acme.example/v1/usage?since=2026-11-01",
                "headers": {"authorization": f"Bearer {FIXTURE_KEY}"},
            },
            "response": {"status": 200, "headers": {"content-type": "application/json"}, "body": PAGES[None]},
        },
        {
            "request": {
                "method": "GET",
                "url": "https://api.acme.example/v1/usage?since=2026-11-01&cursor=page-2",
                "headers": {"authorization": f"Bearer {FIXTURE_KEY}"},
            },
            "response": {"status": 200, "headers": {"content-type": "application/json"}, "body": PAGES["page-2"]},
        },
    ]
    (folder / "exchanges.json").write_text(json.dumps(exchanges, indent=2), encoding="utf-8")
    (folder / "expected.json").write_text(
        json.dumps({"result": expected_rows(), "next_cursor": None}, indent=2), encoding="utf-8"
    )
    return folder


@dataclass
class UserFolder:
    """The user's folder: ``mappings/acme.yaml`` and ``fixtures/acme/defaults/``, beside each other."""

    root: Path
    mappings: Path
    fixtures: Path
    run_dir: Path  # an empty working directory for every command


@pytest.fixture(scope="module")
def user(tmp_path_factory: pytest.TempPathFactory) -> UserFolder:
    root = tmp_path_factory.mktemp("user-integrations")
    mappings = root / "mappings"
    mappings.mkdir()
    (mappings / "acme.yaml").write_text(acme_spec(), encoding="utf-8")
    write_fixture_case(root / "fixtures")
    run_dir = root / "cwd"
    run_dir.mkdir()
    return UserFolder(root, mappings, root / "fixtures", run_dir)


# ------------------------------------------------------------------------------------------- the vendor, on loopback


@dataclass
class Seen:
    path: str
    query: dict[str, list[str]]
    authorization: str | None


@dataclass
class AcmeApi:
    """Acme's API on 127.0.0.1: GET /v1/usage with a Bearer key, PAGES by ``cursor``; every request is recorded."""

    requests: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                api._answer(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="acme-api", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        query = parse_qs(parts.query)
        authorization = handler.headers.get("Authorization")
        with self._lock:
            self.requests.append(Seen(parts.path, query, authorization))
        cursor = query.get("cursor", [None])[0]
        body: dict[str, Any]
        if parts.path != "/v1/usage":
            status, body = 404, {"error": {"message": f"no route {parts.path}"}}
        elif authorization != f"Bearer {API_KEY}":
            status, body = 401, {"error": {"message": "invalid API key"}}
        elif "since" not in query or cursor not in PAGES:
            status, body = 400, {"error": {"message": "since is required and cursor must be one we issued"}}
        else:
            status, body = 200, PAGES[cursor]
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def since(self, start: int) -> list[Seen]:
        """The requests received after the first ``start``."""
        with self._lock:
            return self.requests[start:]

    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=TIMEOUT)


@pytest.fixture(scope="module")
def acme() -> Iterator[AcmeApi]:
    api = AcmeApi()
    api.start()
    try:
        yield api
    finally:
        api.stop()


# ---------------------------------------------------------------------------------------------------- the commands


def cli_env(mappings: Path | None, **extra: str) -> dict[str, str]:
    """The environment of one command: the user's folder on the search path, no proxy, nothing of ours inherited."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy") and not k.startswith("UNIMETER_")}
    if mappings is not None:
        env["UNIMETER_MAPPINGS_PATH"] = str(mappings)
    env["PYTHONUNBUFFERED"] = "1"
    # The operator lets credentials go to the test's own vendor on loopback (the mapping declares another host).
    env["UNIMETER_ALLOWED_BASE_URLS"] = "http://127.0.0.1"
    env.update(extra)
    return env


def unimeter(
    user: UserFolder, *args: str, env: dict[str, str] | None = None, expect: int | None = 0
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "unimeter.cli", *args],
        cwd=user.run_dir,
        env=cli_env(user.mappings) if env is None else env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    if expect is not None:
        assert done.returncode == expect, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def usage_args(integration: str, base_url: str, key: str = API_KEY) -> list[str]:
    """``unimeter usage`` of November 2026 against the API at ``base_url``."""
    return [
        "usage",
        integration,
        "--credential",
        f"api_key={key}",
        "--context",
        f"base_url={base_url}",
        "--param",
        "start_date=2026-11-01",
    ]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# ---------------------------------------------------------------------------------------------------------- tests


def test_the_user_integration_lives_outside_the_project(user: UserFolder) -> None:
    project = Path(__file__).resolve().parents[2]
    assert not user.root.resolve().is_relative_to(project)
    assert not (builtin_mappings_dir() / "acme.yaml").exists()
    assert not (builtin_fixtures_dir() / "acme").exists()
    assert unimeter(user, "lint", str(user.mappings / "acme.yaml")).stdout.strip().endswith("acme.yaml: ok")


def test_integrations_lists_the_user_mapping_with_its_file_and_the_builtins(user: UserFolder) -> None:
    lines = {line.split()[0]: line.split() for line in unimeter(user, "integrations").stdout.splitlines()}
    assert lines["acme"] == ["acme", "user", str(user.mappings / "acme.yaml")]
    for name in ("claude", "confluent", "cursor", "datadog", "openai-codex"):
        assert lines[name][1] == "built-in" and lines[name][2] == str(builtin_mappings_dir() / f"{name}.yaml")
    listed = {entry["name"]: entry for entry in json.loads(unimeter(user, "integrations", "--json").stdout)}
    assert listed["acme"] == {
        "name": "acme",
        "file": str(user.mappings / "acme.yaml"),
        "builtin": False,
        "overrides": None,
        "fixtures": str(user.fixtures / "acme"),
        "late_data": None,  # the user's mapping declares none: nothing is guessed
        "operations": [{"name": "daily_usage", "money": "billed", "late_data": None}],
    }
    # Without the search path, the user's integration is not there.
    bare = unimeter(user, "integrations", env=cli_env(None)).stdout
    assert "acme" not in bare and "cursor" in bare


def test_check_replays_the_user_fixtures_from_the_env_var(user: UserFolder) -> None:
    out = unimeter(user, "check", "acme").stdout.splitlines()
    assert out == ["ok    acme/defaults", "1 passed, 0 failed"]


def test_check_with_mappings_option_instead_of_the_env_var(user: UserFolder) -> None:
    out = unimeter(user, "check", "acme", "--mappings", str(user.mappings), env=cli_env(None)).stdout.splitlines()
    assert out == ["ok    acme/defaults", "1 passed, 0 failed"]
    # And without either, acme is unknown.
    missing = unimeter(user, "check", "acme", env=cli_env(None), expect=2)
    assert "unknown integration 'acme'" in missing.stderr


def test_check_fixtures_option_reads_another_folder(user: UserFolder, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere"
    write_fixture_case(other, case="from-elsewhere")
    out = unimeter(user, "check", "acme", "--fixtures", str(other)).stdout.splitlines()
    assert out == ["ok    acme/from-elsewhere", "1 passed, 0 failed"]


def test_check_fails_with_a_diff_on_a_wrong_expected_result(user: UserFolder, tmp_path: Path) -> None:
    case = write_fixture_case(tmp_path / "wrong", case="wrong-total")
    expected = json.loads((case / "expected.json").read_text(encoding="utf-8"))
    expected["result"][1]["usage"]["tokens"]["input"] = 801
    (case / "expected.json").write_text(json.dumps(expected, indent=2), encoding="utf-8")
    done = unimeter(user, "check", "acme", "--fixtures", str(tmp_path / "wrong"), expect=1)
    assert done.stdout.splitlines()[0] == "FAIL  acme/wrong-total"
    assert "--- expected.json" in done.stdout and "+++ actual" in done.stdout
    changed = [
        (line.strip()[:1], line.strip()[1:].strip().rstrip(","))
        for line in done.stdout.splitlines()
        if line.strip()[:1] in "+-" and not line.strip().startswith(("---", "+++"))
    ]
    assert changed == [("-", '"input": 801'), ("+", '"input": 800')]
    assert done.stdout.splitlines()[-1] == "0 passed, 1 failed"


def test_usage_runs_the_user_mapping_against_its_api(user: UserFolder, acme: AcmeApi) -> None:
    start = acme.count()
    done = unimeter(user, *usage_args("acme", acme.url))
    assert json.loads(done.stdout) == {"result": expected_rows(), "next_cursor": None}
    seen = acme.since(start)
    assert [(s.path, s.query) for s in seen] == [
        ("/v1/usage", {"since": ["2026-11-01"]}),
        ("/v1/usage", {"since": ["2026-11-01"], "cursor": ["page-2"]}),
    ]
    assert {s.authorization for s in seen} == {f"Bearer {API_KEY}"}
    assert API_KEY not in done.stdout + done.stderr


def test_usage_with_a_wrong_key_is_the_vendors_401(user: UserFolder, acme: AcmeApi) -> None:
    start = acme.count()
    done = unimeter(user, *usage_args("acme", acme.url, key="not-the-key"), expect=1)
    envelope = json.loads(done.stderr)
    assert envelope["remote_status"] == 401 and envelope["is_remote_error"] is True
    assert "invalid API key" in envelope["message"]
    assert done.stdout == ""
    assert [s.authorization for s in acme.since(start)] == ["Bearer not-the-key"]


def test_a_user_mapping_overrides_the_builtin_of_that_name(user: UserFolder, acme: AcmeApi, tmp_path: Path) -> None:
    folder = tmp_path / "override" / "mappings"
    folder.mkdir(parents=True)
    (folder / "cursor.yaml").write_text(acme_spec("cursor"), encoding="utf-8")
    env = cli_env(folder)
    listed = unimeter(user, "integrations", env=env).stdout
    cursor_line = next(line for line in listed.splitlines() if line.startswith("cursor "))
    assert cursor_line.split() == ["cursor", "overrides", "built-in", str(folder / "cursor.yaml")]
    entry = next(
        e for e in json.loads(unimeter(user, "integrations", "--json", env=env).stdout) if e["name"] == "cursor"
    )
    assert entry["builtin"] is False and entry["overrides"] == str(builtin_mappings_dir() / "cursor.yaml")

    start = acme.count()
    done = unimeter(user, *usage_args("cursor", acme.url), env=env)
    # The user's file ran (the built-in cursor would POST /teams/daily-usage-data), and stderr says so once.
    assert json.loads(done.stdout)["result"] == expected_rows("cursor")
    assert [s.path for s in acme.since(start)] == ["/v1/usage", "/v1/usage"]
    assert done.stderr.count("overrides the built-in integration 'cursor'") == 1, done.stderr
    assert str(folder / "cursor.yaml") in done.stderr
    # With both folders on the path, a command that does not use cursor does not warn.
    both = cli_env(None, UNIMETER_MAPPINGS_PATH=os.pathsep.join([str(folder), str(user.mappings)]))
    other = unimeter(user, *usage_args("acme", acme.url), env=both)
    assert json.loads(other.stdout)["result"] == expected_rows() and "overrides" not in other.stderr


def _worker_processes(server: subprocess.Popen[Any]) -> int:
    """How many worker processes ``server`` started: its children (from /proc's parent ids) that multiprocessing
    spawned (uvicorn's workers; not multiprocessing's resource tracker, also a child)."""
    workers = 0
    for process in Path("/proc").glob("[0-9]*"):
        try:
            fields = (process / "stat").read_text().rpartition(")")[2].split()
            command = (process / "cmdline").read_bytes()
        except OSError:
            continue  # the process ended while we looked
        workers += int(fields[1]) == server.pid and b"spawn_main" in command
    return workers


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_answers_usage_for_an_account_of_the_user_integration(
    user: UserFolder, acme: AcmeApi, tmp_path: Path, workers: int
) -> None:
    env = cli_env(
        user.mappings,
        UNIMETER_DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite'}",
        UNIMETER_SECRET_KEY=Fernet.generate_key().decode(),
        XDG_DATA_HOME=str(tmp_path / "xdg"),
    )
    token = unimeter(user, "tokens", "create", "--environment", "e2e", env=env).stdout.strip()
    account = json.loads(
        unimeter(
            user,
            "accounts",
            "create",
            "acme",
            "--environment",
            "e2e",
            "--credential",
            f"api_key={API_KEY}",
            "--context",
            f"base_url={acme.url}",
            env=env,
        ).stdout
    )
    assert account["integration"] == "acme"
    # The account store checks credentials against the user's spec: api_key is required there.
    refused = unimeter(user, "accounts", "create", "acme", "--environment", "e2e", env=env, expect=1)
    assert "api_key" in refused.stderr

    port = free_port()
    log = (tmp_path / "serve.log").open("w+", encoding="utf-8")
    server = subprocess.Popen(
        [sys.executable, "-m", "unimeter.cli", "serve", "--port", str(port), "--workers", str(workers)],
        cwd=user.run_dir,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=TIMEOUT, trust_env=False) as client:
            deadline = time.monotonic() + TIMEOUT
            while True:
                try:
                    if client.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert server.poll() is None, f"unimeter serve exited {server.returncode}"
                assert time.monotonic() < deadline, "unimeter serve did not answer /health in time"
                time.sleep(0.05)
            start = acme.count()
            response = client.get(
                "/unified/usage-metering/usage",
                params={"integrated_account_id": account["id"], "start_date": "2026-11-01"},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert response.status_code == 200, response.text
            assert response.json() == {"result": expected_rows(), "next_cursor": None}
            assert {s.authorization for s in acme.since(start)} == {f"Bearer {API_KEY}"}
            assert len(acme.since(start)) == 2
            if workers > 1 and sys.platform == "linux":
                assert _worker_processes(server) == workers
            # Page by page, each request on a new connection (so, with workers, not always the same process): every
            # worker signs and accepts the same next_cursor, and the pages add up to the whole result once.
            pages: list[dict[str, Any]] = []
            cursor: str | None = None
            while len(pages) < 10:
                query = {"integrated_account_id": account["id"], "start_date": "2026-11-01", "limit": "1"}
                with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=TIMEOUT, trust_env=False) as fresh:
                    page = fresh.get(
                        "/unified/usage-metering/usage",
                        params={**query, **({"next_cursor": cursor} if cursor else {})},
                        headers={"Authorization": f"Bearer {token}"},
                    )
                assert page.status_code == 200, page.text
                pages.extend(page.json()["result"])
                cursor = page.json()["next_cursor"]
                if cursor is None:
                    break
            assert pages == expected_rows()
            unauthenticated = client.get(
                "/unified/usage-metering/usage", params={"integrated_account_id": account["id"]}
            )
            assert unauthenticated.status_code == 401
    finally:
        server.terminate()
        try:
            server.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=TIMEOUT)
        log.seek(0)
        output = log.read()
        log.close()
    assert "GET /unified/usage-metering/usage" in output, output[-2000:]
    assert API_KEY not in output

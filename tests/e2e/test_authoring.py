"""The author's loop, no fixture JSON written by hand: ``init`` -> edit -> ``record`` -> ``check`` (-> ``--update``).

A user folder outside the project (pytest's tmp_path) named by ``UNIMETER_MAPPINGS_PATH``; the vendor is a loopback
server here that takes a Bearer key, pages by cursor, and echoes the key back (raw in a body field, base64 in a
header, URL-encoded in a next link, in a cookie) as careless vendors do. Every command is ``python -m unimeter.cli``
in a subprocess, run from an empty folder.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, quote_plus, urlsplit

import pytest
import yaml

SECRET = "sk-live/Real+Key=9f2c81d7"  # what the loopback vendor accepts: it must appear in no written file
TIMEOUT = 30
NOW = "2026-11-26T12:00:00Z"

PAGES: dict[str | None, dict[str, Any]] = {
    None: {
        "data": [
            {
                "date": "2026-11-01",
                "user_id": "u-1",
                "email": "ada@corp.example",
                "name": "Ada Lovelace",
                "model": "m-large",
                "input_tokens": 1200,
                "output_tokens": 340,
                "cost": "0.42",
            },
            {
                "date": "2026-11-01",
                "user_id": "u-2",
                "email": "bob@corp.example",
                "name": "Bob Stone",
                "model": "m-small",
                "input_tokens": 800,
                "output_tokens": 0,
                "cost": "0.08",
            },
        ],
        "next_cursor": "page-2",
        "echo": {"api_key_used": SECRET},
    },
    "page-2": {
        "data": [
            {
                "date": "2026-11-02",
                "user_id": "u-1",
                "email": "ada@corp.example",
                "name": "Ada Lovelace",
                "model": "m-large",
                "input_tokens": 50,
                "cost": "0.05",
            },
        ],
        "next_cursor": None,
        "next_url": f"/v1/usage?key={quote_plus(SECRET)}&k2={quote(SECRET, safe='')}",
    },
}


def secret_forms(value: str) -> list[str]:
    """Every form the key could be found in, worked out here independently of the engine's own list."""
    encoded = base64.b64encode(value.encode()).decode()
    bearer = base64.b64encode(f"Bearer {value}".encode()).decode()
    return [value, quote(value, safe=""), quote_plus(value), encoded, encoded.rstrip("="), bearer.rstrip("=")]


@dataclass
class Vendor:
    url: str = ""

    def __post_init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                cursor = query.get("cursor", [None])[0]
                if self.headers.get("Authorization") != f"Bearer {SECRET}":
                    status, body = 401, {"error": {"message": "invalid API key"}}
                elif parts.path != "/v1/usage" or "since" not in query or cursor not in PAGES:
                    status, body = 400, {"error": {"message": "bad request"}}
                else:
                    status, body = 200, PAGES[cursor]
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("X-Key-Echo", base64.b64encode(SECRET.encode()).decode())
                self.send_header("Set-Cookie", f"session={quote(SECRET, safe='')}; Path=/")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=TIMEOUT)


@dataclass
class Folder:
    root: Path
    mappings: Path
    fixtures: Path
    cwd: Path


@pytest.fixture(scope="module")
def vendor() -> Iterator[Vendor]:
    server = Vendor()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Folder:
    root = tmp_path_factory.mktemp("authoring")
    (root / "cwd").mkdir()
    return Folder(root, root / "mappings", root / "fixtures", root / "cwd")


def unimeter(folder: Folder, *args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy") and not k.startswith("UNIMETER_")}
    env.update(
        UNIMETER_MAPPINGS_PATH=str(folder.mappings),
        UNIMETER_ALLOWED_BASE_URLS="http://127.0.0.1",
        PYTHONUNBUFFERED="1",
    )
    done = subprocess.run(
        [sys.executable, "-m", "unimeter.cli", *args],
        cwd=folder.cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == expect, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def record(folder: Folder, vendor: Vendor, case: str, *extra: str, key: str = SECRET, expect: int = 0) -> str:
    args = ["record", "acme", case, "--credential", f"api_key={key}", "--context", f"base_url={vendor.url}"]
    done = unimeter(folder, *args, "--param", "start_date=2026-11-01", "--now", NOW, *extra, expect=expect)
    assert SECRET not in done.stdout + done.stderr
    return done.stdout + done.stderr


def written(path: Path) -> str:
    return "\n".join(file.read_text(encoding="utf-8") for file in sorted(path.rglob("*")) if file.is_file())


def test_1_init_scaffolds_a_mapping_that_lints_and_refuses_to_overwrite(folder: Folder) -> None:
    done = unimeter(folder, "init", "acme")
    mapping = folder.mappings / "acme.yaml"
    assert f"wrote {mapping}" in done.stdout and "next steps:" in done.stdout
    assert "unimeter record acme defaults" in done.stdout
    text = mapping.read_text(encoding="utf-8")
    assert text.startswith("# yaml-language-server: $schema=file://")
    assert Path(urlsplit(text.split("$schema=", 1)[1].split()[0]).path).is_file()
    assert yaml.safe_load((folder.fixtures / "acme" / "defaults" / "case.yaml").read_text())["description"]
    assert unimeter(folder, "lint", str(mapping)).stdout.strip() == f"{mapping}: ok"
    again = unimeter(folder, "init", "acme", expect=1)
    assert "already exists" in again.stderr and mapping.read_text(encoding="utf-8") == text
    assert "must be lowercase" in unimeter(folder, "init", "Bad_Name", expect=1).stderr
    # A case that was scaffolded but not recorded yet fails with what to do, not a traceback.
    pending = unimeter(folder, "check", "acme", expect=1).stdout
    assert "has no expected.json: record the case (unimeter record acme defaults)" in pending


def test_2_record_after_editing_writes_a_case_that_check_passes(folder: Folder, vendor: Vendor) -> None:
    mapping = folder.mappings / "acme.yaml"
    edited = mapping.read_text(encoding="utf-8").replace('"metric_name": "daily_tokens"', '"metric_name": "tokens"')
    mapping.write_text(edited.replace("https://api.example.com", "https://api.acme.example"), encoding="utf-8")
    out = record(folder, vendor, "defaults")
    assert "recorded 2 exchange(s) and the result" in out
    case = folder.fixtures / "acme" / "defaults"
    call = yaml.safe_load((case / "case.yaml").read_text(encoding="utf-8"))
    assert call["description"] == "Defaults: the current month"  # the scaffold's, kept
    assert call["draft"] is True and call["now"] == NOW
    assert call["credentials"] == {"api_key": "api_key_test_placeholder"}
    # Recorded against a local stand-in, written as from the mapping's own base URL: the case is about the vendor
    # and replays without allowing the stand-in's host.
    assert call["params"] == {"start_date": "2026-11-01"} and call["context"] == {}
    exchanges = json.loads((case / "exchanges.json").read_text(encoding="utf-8"))
    assert [e["request"]["url"] for e in exchanges] == [
        "https://api.acme.example/v1/usage?since=2026-11-01",
        "https://api.acme.example/v1/usage?since=2026-11-01&cursor=page-2",
    ]
    assert vendor.url not in written(case)
    assert exchanges[0]["request"]["headers"] == {"authorization": "Bearer api_key_test_placeholder"}
    assert exchanges[0]["response"]["status"] == 200
    assert exchanges[0]["response"]["body"]["echo"] == {"api_key_used": "api_key_test_placeholder"}
    expected = json.loads((case / "expected.json").read_text(encoding="utf-8"))
    assert [row["id"] for row in expected["result"]] == [
        "acme:2026-11-01:u-1",
        "acme:2026-11-01:u-2",
        "acme:2026-11-02:u-1",
    ]
    assert {row["metric_name"] for row in expected["result"]} == {"tokens"}
    assert expected["result"][0]["charges"] == [{"amount": 0.42, "currency": "USD", "type": "net"}]
    assert expected["next_cursor"] is None
    check = unimeter(folder, "check", "acme").stdout.splitlines()
    assert check == ["ok    acme/defaults (draft: expected.json not reviewed yet)", "1 passed, 0 failed"]
    assert "ada@corp.example" in written(case)  # personal data stays unless asked to scrub it


def test_3_the_secret_appears_in_no_written_file_in_any_form(folder: Folder) -> None:
    everything = written(folder.root)
    assert everything  # the recording is there
    for form in secret_forms(SECRET):
        assert form not in everything, f"a form of the secret was written: {form[:4]}..."


def test_4_recording_refuses_to_overwrite_a_recorded_case(folder: Folder, vendor: Vendor) -> None:
    before = written(folder.fixtures / "acme" / "defaults")
    out = record(folder, vendor, "defaults", expect=1)
    assert "already holds a recorded case" in out
    assert written(folder.fixtures / "acme" / "defaults") == before


def test_5_a_vendor_error_is_recorded_as_an_error_expectation(folder: Folder, vendor: Vendor) -> None:
    out = record(folder, vendor, "wrong-key", key="not-the-key-123")
    assert "recorded 1 exchange(s) and the vendor error VendorAuthError" in out
    case = folder.fixtures / "acme" / "wrong-key"
    expected = json.loads((case / "expected.json").read_text(encoding="utf-8"))
    assert expected["error"]["type"] == "VendorAuthError" and expected["error"]["status"] == 401
    assert "invalid API key" in expected["error"]["message_contains"]
    assert "not-the-key-123" not in written(case)
    assert unimeter(folder, "check", "acme/wrong-key").stdout.splitlines()[-1] == "1 passed, 0 failed"


def test_6_scrub_personal_replaces_emails_and_names_consistently(folder: Folder, vendor: Vendor) -> None:
    record(folder, vendor, "scrubbed", "--scrub-personal")
    case = folder.fixtures / "acme" / "scrubbed"
    text = written(case)
    for personal in ("ada@corp.example", "bob@corp.example", "Ada Lovelace", "Bob Stone"):
        assert personal not in text
    expected = json.loads((case / "expected.json").read_text(encoding="utf-8"))
    emails = [row["user"]["email"] for row in expected["result"]]
    assert emails == ["person1@example.com", "person2@example.com", "person1@example.com"]
    names = [row["remote_data"]["name"] for row in expected["result"]]
    assert names == ["Person 1", "Person 2", "Person 1"]
    assert unimeter(folder, "check", "acme/scrubbed").stdout.splitlines()[-1] == "1 passed, 0 failed"


def test_7_check_update_prints_the_diff_and_rewrites_a_stale_expected(folder: Folder) -> None:
    path = folder.fixtures / "acme" / "defaults" / "expected.json"
    good = path.read_text(encoding="utf-8")
    stale = json.loads(good)
    stale["result"][1]["usage"]["tokens"]["input"] = 801
    path.write_text(json.dumps(stale, indent=2), encoding="utf-8")
    assert "FAIL  acme/defaults" in unimeter(folder, "check", "acme/defaults", expect=1).stdout
    done = unimeter(folder, "check", "--update", "acme/defaults")
    assert "UPDATED acme/defaults" in done.stdout
    changed = [
        (line.strip()[:1], line.strip()[1:].strip().rstrip(","))
        for line in done.stdout.splitlines()
        if line.strip()[:1] in "+-" and not line.strip().startswith(("---", "+++"))
    ]
    assert changed == [("-", '"input": 801'), ("+", '"input": 800')]
    assert json.loads(path.read_text(encoding="utf-8")) == json.loads(good)
    assert unimeter(folder, "check", "acme").stdout.splitlines()[-1] == "3 passed, 0 failed"
    # A passing case is left alone by --update.
    before = path.stat().st_mtime_ns
    assert "UPDATED" not in unimeter(folder, "check", "--update", "acme").stdout
    assert path.stat().st_mtime_ns == before


def test_7_keep_base_url_keeps_the_stand_in(folder: Folder, vendor: Vendor) -> None:
    record(folder, vendor, "kept", "--keep-base-url")
    case = folder.fixtures / "acme" / "kept"
    call = yaml.safe_load((case / "case.yaml").read_text(encoding="utf-8"))
    assert call["context"] == {"base_url": vendor.url}
    exchanges = json.loads((case / "exchanges.json").read_text(encoding="utf-8"))
    assert exchanges[0]["request"]["url"].startswith(f"{vendor.url}/v1/usage?")

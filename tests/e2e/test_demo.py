"""The README's first command: ``unimeter demo`` on the sandbox, and ``unimeter sandbox --json``."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import httpx

from unimeter.demo import run_demo
from unimeter.run.validation import usage_validator
from unimeter.sandbox import SIMULATORS
from unimeter.spec import available_integrations, load_spec


def test_demo_prints_schema_valid_rows_from_every_simulator() -> None:
    out, progress = io.StringIO(), io.StringIO()
    assert run_demo(as_json=True, out=out, progress=progress) == 0
    responses = json.loads(out.getvalue())
    assert sorted(responses) == sorted(SIMULATORS)
    for name, response in responses.items():
        assert response["next_cursor"] is None
        assert response["result"], f"{name} returned no rows on its default query"
        for row in response["result"]:
            assert not list(usage_validator().iter_errors(row))
    assert "page(s)" in progress.getvalue()


def test_demo_table_names_every_simulator() -> None:
    out = io.StringIO()
    assert run_demo(out=out, progress=io.StringIO()) == 0
    table = out.getvalue()
    for name in SIMULATORS:
        assert f"\n{name} " in table


def test_every_simulator_belongs_to_an_integration() -> None:
    assert set(SIMULATORS) <= set(available_integrations())
    for name in SIMULATORS:
        assert load_spec(f"mappings/{name}.yaml").name == name


def test_sandbox_command_prints_endpoints_as_json_and_serves() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "unimeter.cli", "sandbox", "--json", "--seed", "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        text = ""
        while True:
            line = process.stdout.readline()
            assert line, f"sandbox exited early: {process.stderr.read() if process.stderr else ''}"
            text += line
            if line.startswith("}"):
                break
        endpoints = json.loads(text)
        assert sorted(endpoints) == sorted(SIMULATORS)
        for endpoint in endpoints.values():
            assert endpoint["base_url"].startswith("http://127.0.0.1:")
            assert endpoint["credentials"]
            # The simulator answers on its port (an unknown path is the vendor's 404, not a refused connection).
            assert httpx.get(endpoint["base_url"] + "/no-such-path", timeout=5).status_code in (401, 403, 404)
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_sandbox_command_rejects_an_unknown_fault_kind() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "unimeter.cli", "sandbox", "--fault", "cursor=explode"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "unknown fault kind 'explode'" in result.stderr

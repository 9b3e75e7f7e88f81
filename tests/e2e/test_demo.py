"""The README's first command: ``unimeter demo`` on the sandbox, and ``unimeter sandbox --json``."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal

import httpx

from tests.helpers.paths import MappingsFolder
from unimeter.demo import query_label, run_demo, run_replay_demo
from unimeter.resources import builtin_fixtures_dir, builtin_mappings_dir
from unimeter.run.validation import usage_validator
from unimeter.sandbox import SIMULATORS
from unimeter.sandbox.vendors.base import VendorSimulator
from unimeter.spec import available_integrations, load_spec
from unimeter.spec.functions import parse_instant


def test_demo_prints_schema_valid_rows_from_every_simulator_and_every_money_report() -> None:
    out, progress = io.StringIO(), io.StringIO()
    started = datetime.now(UTC)
    assert run_demo(as_json=True, out=out, progress=progress) == 0
    responses = json.loads(out.getvalue())
    expected = {query_label(name, params) for name, sim in SIMULATORS.items() for params in sim.demo_queries}
    assert set(responses) == expected and set(SIMULATORS) <= expected
    for label, response in responses.items():
        assert response["next_cursor"] is None
        assert response["result"], f"{label} returned no rows"
        for row in response["result"]:
            assert not list(usage_validator().iter_errors(row))
            if row.get("charges"):  # no charges for periods that have not happened
                assert parse_instant(row["start_date"]) <= datetime.now(UTC), (label, row["id"])
    assert "page(s)" in progress.getvalue()
    # Every integration whose vendor bills through its API shows that money: a net on one of its demo queries.
    for name, simulator in SIMULATORS.items():
        if simulator.invoice is VendorSimulator.invoice:
            continue
        nets = [
            charge["amount"]
            for params in simulator.demo_queries
            for row in responses[query_label(name, params)]["result"]
            for charge in row.get("charges", [])
            if charge["type"] == "net"
        ]
        assert nets and sum(nets) > 0, f"the demo shows no money for {name} (started {started})"


def test_demo_table_names_every_query_with_its_bill() -> None:
    out = io.StringIO()
    assert run_demo(out=out, progress=io.StringIO()) == 0
    table = out.getvalue()
    assert "net USD" in table.splitlines()[0]
    for name, simulator in SIMULATORS.items():
        for params in simulator.demo_queries:
            assert f"\n{query_label(name, params)} " in table


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


def test_demo_from_fixtures_shows_a_yaml_only_integration(mappings_folder: MappingsFolder) -> None:
    """``unimeter demo --from-fixtures``: a vendor that exists only as YAML and recorded cases gets the demo too, with
    its defaults case's rows (the recorded expected output) in the table."""
    source, name = "datadog", "acme-costs"
    text = (builtin_mappings_dir() / f"{source}.yaml").read_text(encoding="utf-8")
    (mappings_folder.mappings / f"{name}.yaml").write_text(text.replace(f"\nname: {source}\n", f"\nname: {name}\n"))
    shutil.copytree(builtin_fixtures_dir() / source, mappings_folder.fixtures / name)
    out, progress = io.StringIO(), io.StringIO()
    assert run_replay_demo([name], as_json=True, out=out, progress=progress) == 0
    responses = json.loads(out.getvalue())
    assert list(responses) == [f"{name}/defaults"]
    expected = json.loads((mappings_folder.fixtures / name / "defaults" / "expected.json").read_text("utf-8"))
    assert responses[f"{name}/defaults"]["result"] == expected["result"] and expected["result"]
    table = io.StringIO()
    assert run_replay_demo([name], out=table, progress=io.StringIO()) == 0
    line = next(line for line in table.getvalue().splitlines() if line.startswith(f"{name}/defaults"))
    net = sum(
        Decimal(repr(charge["amount"]))
        for row in expected["result"]
        for charge in row.get("charges", [])
        if charge["type"] == "net"
    )
    assert f"{net:,.2f}" in line


def test_demo_from_fixtures_names_an_integration_without_cases() -> None:
    progress = io.StringIO()
    assert run_replay_demo(["no-such-integration"], out=io.StringIO(), progress=progress) == 2
    assert "no-such-integration" in progress.getvalue()


def test_demo_from_fixtures_on_the_command_line(mappings_folder: MappingsFolder) -> None:
    source, name = "openai", "acme-ai"
    text = (builtin_mappings_dir() / f"{source}.yaml").read_text(encoding="utf-8")
    (mappings_folder.mappings / f"{name}.yaml").write_text(text.replace(f"\nname: {source}\n", f"\nname: {name}\n"))
    shutil.copytree(builtin_fixtures_dir() / source, mappings_folder.fixtures / name)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "unimeter.cli",
            "demo",
            "--from-fixtures",
            name,
            "--mappings",
            str(mappings_folder.mappings),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert any(line.startswith(f"{name}/defaults ") for line in done.stdout.splitlines()), done.stdout
    refused = subprocess.run(
        [sys.executable, "-m", "unimeter.cli", "demo", name], capture_output=True, text=True, timeout=60, check=False
    )
    assert refused.returncode == 2 and "--from-fixtures" in refused.stderr

"""The unimeter pytest plugin, the way a user meets it: plain ``python -m pytest`` in their own repository.

The user repository is built in tmp_path: ``mappings/acme.yaml`` from the ``unimeter init`` scaffold (a Bearer key,
``GET /v1/usage?since=...`` paged by cursor) and its cases under ``fixtures/acme/``, whose expected rows were worked
out by hand from the one recorded record. pytest runs in a subprocess with the venv's interpreter, from that folder,
with no conftest, no ini file (unless a test writes one) and no ``UNIMETER_MAPPINGS_PATH``: the plugin is found
through its ``pytest11`` entry point, as in any project where unimeter is installed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.paths import PROJECT
from unimeter.authoring.init import init_integration
from unimeter.spec import MAPPINGS_PATH_ENV
from unimeter.testing.fixtures import discover_cases

TIMEOUT = 120  # seconds: the bound of each pytest run
# All of unimeter a pytest run may import where there are no fixture cases: the plugin and where the built-ins are.
INERT_MODULES = {
    "unimeter",
    "unimeter.version",
    "unimeter.testing",
    "unimeter.testing.pytest_plugin",
    "unimeter.resources",
    "unimeter.mappings",
}

RECORD = {
    "date": "2026-11-01",
    "user_id": "u-1",
    "email": "ada@acme.example",
    "model": "acme-large",
    "input_tokens": 1200,
    "output_tokens": 340,
    "cost": "0.42",
}
EXCHANGES = [
    {
        "request": {
            "method": "GET",
            "url": "https://api.example.com/v1/usage?since=2026-11-01",
            "headers": {"authorization": "Bearer key_test"},
        },
        "response": {
            "status": 200,
            "headers": {"content-type": "application/json"},
            "body": {"data": [RECORD], "next_cursor": None},
        },
    }
]


def expected_row(amount: float = 0.42) -> dict[str, Any]:
    """The scaffold's transform of RECORD, by hand (the mapping's product and provider are its name)."""
    return {
        "id": "acme:2026-11-01:u-1",
        "product": {"id": "acme", "name": "acme"},
        "metric_name": "daily_tokens",
        "user": {"id": "u-1", "email": "ada@acme.example"},
        "model": {"id": "acme-large", "provider": "acme"},
        "charges": [{"amount": amount, "currency": "USD", "type": "net"}],
        "usage": {"tokens": {"input": 1200, "output": 340}},
        "start_date": "2026-11-01T00:00:00Z",
        "end_date": "2026-11-02T00:00:00Z",
        "remote_data": RECORD,
    }


def write_case(fixtures: Path, name: str, *, amount: float = 0.42, draft: bool = False) -> Path:
    folder = fixtures / "acme" / name
    folder.mkdir(parents=True, exist_ok=True)
    call = (
        f'description: "{name}: since is the start of the pinned month, one page"\n'
        'now: "2026-11-26T12:00:00Z"\n'
        "credentials: {api_key: key_test}\n"
        "params: {}\n"
    )
    if draft:
        call += "draft: true\nnote: recorded, not reviewed\n"
    (folder / "case.yaml").write_text(call, encoding="utf-8")
    (folder / "exchanges.json").write_text(json.dumps(EXCHANGES, indent=2), encoding="utf-8")
    expected = {"result": [expected_row(amount)], "next_cursor": None}
    (folder / "expected.json").write_text(json.dumps(expected, indent=2), encoding="utf-8")
    return folder


@pytest.fixture
def user_repo(tmp_path: Path) -> Path:
    """One mapping and four cases: two pass (one a draft), one expects a wrong charge, one is not YAML."""
    repo = tmp_path / "acme-metering"
    init_integration("acme", repo / "mappings", repo / "fixtures")
    write_case(repo / "fixtures", "defaults")
    write_case(repo / "fixtures", "draft-recording", draft=True)
    write_case(repo / "fixtures", "wrong-charge", amount=0.24)
    broken = write_case(repo / "fixtures", "broken-yaml")
    (broken / "case.yaml").write_text("params: {start_date: [unclosed\n", encoding="utf-8")
    # The user's own test sees the mapping too: the plugin puts mappings/ on the search path for the run.
    (repo / "tests").mkdir()
    (repo / "tests" / "test_mapping.py").write_text(
        "from unimeter.spec import find_integration\n\n\n"
        "def test_acme_is_the_repository_mapping():\n"
        "    assert find_integration('acme').file.parent.parent.name == 'acme-metering'\n",
        encoding="utf-8",
    )
    return repo


def plain_pytest(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m pytest ARGS`` from ``repo``, with nothing of this session's pytest or search path inherited."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PYTEST_") and key not in (MAPPINGS_PATH_ENV, "PYTHONPATH")
    }
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def outcomes(output: str) -> dict[str, str]:
    """``nodeid -> PASSED/FAILED`` from ``pytest -v`` output."""
    return dict(re.findall(r"^(\S+) (PASSED|FAILED|ERROR)", output, flags=re.MULTILINE))


def test_plain_pytest_collects_one_item_per_case(user_repo: Path) -> None:
    run = plain_pytest(user_repo, "--collect-only", "-q", "fixtures")
    assert run.returncode == 0, run.stdout + run.stderr
    items = sorted(line for line in run.stdout.splitlines() if "::" in line)
    assert items == [
        f"fixtures/acme/{case}/case.yaml::acme/{case}"
        for case in ["broken-yaml", "defaults", "draft-recording", "wrong-charge"]
    ]


def test_a_passing_case_passes_and_a_failing_one_shows_the_diff_not_a_traceback(user_repo: Path) -> None:
    run = plain_pytest(user_repo, "-v")
    output = run.stdout + run.stderr
    assert run.returncode == 1, output
    assert outcomes(run.stdout) == {
        "fixtures/acme/broken-yaml/case.yaml::acme/broken-yaml": "FAILED",
        "fixtures/acme/defaults/case.yaml::acme/defaults": "PASSED",
        "fixtures/acme/draft-recording/case.yaml::acme/draft-recording": "PASSED",
        "fixtures/acme/wrong-charge/case.yaml::acme/wrong-charge": "FAILED",
        "tests/test_mapping.py::test_acme_is_the_repository_mapping": "PASSED",
    }
    failure = run.stdout.split(" unimeter fixture case acme/wrong-charge _", 1)[1].split("\n_", 1)[0]
    assert "fixture case acme/wrong-charge does not replay to its expected output" in failure
    assert f"mapping: {user_repo / 'mappings' / 'acme.yaml'}" in failure
    assert "--- expected.json\n  +++ actual" in failure
    assert re.search(r'^  -\s+"amount": 0\.24,$', failure, flags=re.MULTILINE), failure
    assert re.search(r'^  \+\s+"amount": 0\.42,$', failure, flags=re.MULTILINE), failure
    assert "pytest --unimeter-update" in failure
    assert "Traceback" not in output and "pytest_plugin.py" not in output
    broken = run.stdout.split(" unimeter fixture case acme/broken-yaml _", 1)[1].split("\n_", 1)[0]
    assert f"acme/broken-yaml: cannot read the case in {user_repo / 'fixtures' / 'acme' / 'broken-yaml'}" in broken
    # The draft passes, and the summary names it: its expected output is not reviewed yet.
    assert "1 draft case(s): expected.json not reviewed yet" in run.stdout
    assert "  draft    fixtures/acme/draft-recording/case.yaml::acme/draft-recording" in run.stdout
    assert "2 failed, 3 passed" in run.stdout


def test_a_case_is_picked_by_its_folder_or_by_k(user_repo: Path) -> None:
    by_folder = plain_pytest(user_repo, "-v", "fixtures/acme/defaults")
    assert outcomes(by_folder.stdout) == {"fixtures/acme/defaults/case.yaml::acme/defaults": "PASSED"}
    by_keyword = plain_pytest(user_repo, "-v", "-k", "acme/wrong-charge or draft")
    assert outcomes(by_keyword.stdout) == {
        "fixtures/acme/draft-recording/case.yaml::acme/draft-recording": "PASSED",
        "fixtures/acme/wrong-charge/case.yaml::acme/wrong-charge": "FAILED",
    }
    not_drafts = plain_pytest(user_repo, "-q", "-m", "not unimeter_draft", "fixtures")
    assert "2 failed, 1 passed, 1 deselected" in not_drafts.stdout, not_drafts.stdout


def test_unimeter_update_rewrites_the_expected_output_of_a_failing_case(user_repo: Path) -> None:
    case = user_repo / "fixtures" / "acme" / "wrong-charge"
    run = plain_pytest(user_repo, "-v", "--unimeter-update", "fixtures/acme/wrong-charge", "fixtures/acme/defaults")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 case(s) updated: expected.json rewritten from the replay" in run.stdout
    assert "  UPDATED  fixtures/acme/wrong-charge/case.yaml::acme/wrong-charge" in run.stdout
    assert "+++ expected.json (updated)" in run.stdout
    assert json.loads((case / "expected.json").read_text(encoding="utf-8")) == {
        "result": [expected_row(0.42)],
        "next_cursor": None,
    }
    again = plain_pytest(user_repo, "-q", "fixtures/acme/wrong-charge")
    assert again.returncode == 0 and "1 passed" in again.stdout, again.stdout


def test_the_plugin_can_be_turned_off(user_repo: Path) -> None:
    disabled = plain_pytest(user_repo, "-q", "-p", "no:unimeter", "fixtures")
    assert disabled.returncode == 5 and "no tests ran" in disabled.stdout, disabled.stdout
    (user_repo / "pytest.ini").write_text("[pytest]\nunimeter_fixtures = false\n", encoding="utf-8")
    by_ini = plain_pytest(user_repo, "-q", "fixtures")
    assert by_ini.returncode == 5 and "no tests ran" in by_ini.stdout, by_ini.stdout


def test_an_unrelated_repository_is_untouched(tmp_path: Path) -> None:
    """Loaded but inert: no item, no search path, no engine imported (so no time spent), even beside a case.yaml."""
    repo = tmp_path / "unrelated"
    (repo / "tests").mkdir(parents=True)
    # A case.yaml in the layout, but of no integration (no mappings/widgets.yaml, no built-in widgets).
    (repo / "fixtures" / "widgets" / "small").mkdir(parents=True)
    (repo / "fixtures" / "widgets" / "small" / "case.yaml").write_text("params: {}\n", encoding="utf-8")
    (repo / "tests" / "test_app.py").write_text(
        "import os\nimport sys\n\n\n"
        "def test_app(request):\n"
        "    assert request.config.pluginmanager.has_plugin('unimeter')\n"
        f"    assert {MAPPINGS_PATH_ENV!r} not in os.environ\n"
        "    loaded = {name for name in sys.modules if name.startswith('unimeter')}\n"
        f"    assert loaded <= set({sorted(INERT_MODULES)}), sorted(loaded)\n",
        encoding="utf-8",
    )
    run = plain_pytest(repo, "-v")
    assert run.returncode == 0, run.stdout + run.stderr
    assert outcomes(run.stdout) == {"tests/test_app.py::test_app": "PASSED"}
    assert "unimeter fixture cases" not in run.stdout


def test_the_projects_own_cases_are_collected_once_each() -> None:
    """In this repository fixtures/ is on testpaths: one item per case of ``unimeter check``, none lost or doubled."""
    run = plain_pytest(PROJECT, "--collect-only", "-q", "fixtures")
    assert run.returncode == 0, run.stdout + run.stderr
    items = [line for line in run.stdout.splitlines() if "::" in line]
    assert len(items) == len(set(items))
    assert sorted(item.split("::", 1)[1] for item in items) == sorted(case.id for case in discover_cases())

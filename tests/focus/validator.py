"""The FinOps Foundation's ``focus-validator`` (1.0.0, FOCUS 1.0), run offline on a file from its own venv.

It lives in ``.venv-focus`` (``.ci/focus-validator-env`` makes it; why a venv of its own:
tests/focus/validator-requirements.txt), or wherever ``UNIMETER_FOCUS_VALIDATOR_PYTHON`` points. The first test
that needs it makes ``.venv-focus`` when it is missing (from the package registry); when that fails, the tests that
need it skip, and fail under ``CI=true``: a CI run must not report an export as validated when it was not.

Three faults of focus-validator 1.0.0 are worked around here, none in the export:

- its FOCUS 1.0 rule set names four columns by their display names (``Provider``, ``Publisher``,
  ``InvoiceIssuer``, ``ResourceID``) where FOCUS 1.0's column IDs are ``ProviderName``, ``PublisherName``,
  ``InvoiceIssuerName`` and ``ResourceId``, and its SkuPriceId rule reads ``ChargeType``, the FOCUS 0.5 column
  that 1.0 replaced with ``ChargeCategory``, so no FOCUS 1.0 file can pass it. The validator takes a rule-set folder
  (``--rule-set-path``): :func:`corrected_rules` copies its own 1.0 rules and puts those names right, nothing else
  (``CORRECTED_FILES`` pins how many files change, so a release that fixes them is noticed);
- it reads its ISO 4217 list from a path relative to the working directory, so it runs in the folder holding its
  package;
- it exits 0 whether or not checks fail, so its JUnit report (``--output-type unittest``) is what is read.
"""

from __future__ import annotations

import os
import re
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYTHON_ENV = "UNIMETER_FOCUS_VALIDATOR_PYTHON"
DEFAULT_PYTHON = ROOT / ".venv-focus" / "bin" / "python"
FOCUS_VERSION = "1.0"
RENAMED_COLUMNS = {
    "Provider": "ProviderName",
    "Publisher": "PublisherName",
    "InvoiceIssuer": "InvoiceIssuerName",
    "ResourceID": "ResourceId",
}
CORRECTED_FILES = 13  # 3 rules for each renamed column, and the SkuPriceId rule
TIMEOUT_SECONDS = 300


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"true", "1", "yes"}


def validator_python() -> Path:
    """The validator venv's interpreter, the default one made on first use; skips (fails under CI) when there is
    none and it cannot be made."""
    python = Path(os.environ.get(PYTHON_ENV) or DEFAULT_PYTHON)
    reason = _make_default_venv() if not python.is_file() and not os.environ.get(PYTHON_ENV) else ""
    if reason:
        pass  # making it failed: that is the reason
    elif not python.is_file():
        reason = f"no FOCUS validator venv at {python}; run .ci/focus-validator-env (or set {PYTHON_ENV})"
    else:
        found = subprocess.run(
            [str(python), "-c", "import importlib.util as u; print(u.find_spec('focus_validator') is not None)"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if found.stdout.strip() != "True":
            reason = f"{python} has no focus_validator; run .ci/focus-validator-env"
    if reason and _in_ci():
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    if reason:
        pytest.skip(reason)
    return python


_MADE: list[str] = []
"""What making the default venv said, once per session (a second failing attempt would only cost time)."""


def _make_default_venv() -> str:
    """Make ``.venv-focus`` with ``.ci/focus-validator-env`` (from the package registry, about a minute), as the
    test session starts its own PostgreSQL: the README's test command then validates too. '' when it worked."""
    if not _MADE:
        made = subprocess.run(
            ["bash", str(ROOT / ".ci" / "focus-validator-env")], capture_output=True, text=True, timeout=900
        )
        failed = f"making {DEFAULT_PYTHON.parent.parent} failed: {made.stderr[-1500:]}"
        _MADE.append("" if made.returncode == 0 else failed)
    return _MADE[0]


def package_folder(python: Path) -> Path:
    """The folder holding the ``focus_validator`` package (found without importing it: its import loads pandas)."""
    found = subprocess.run(
        [
            str(python),
            "-c",
            "import importlib.util as u; print(u.find_spec('focus_validator').submodule_search_locations[0])",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return Path(found.stdout.strip())


def corrected_rules(python: Path, folder: Path) -> Path:
    """The validator's own FOCUS 1.0 rules with FOCUS 1.0's column IDs, as ``folder/1.0/*.yaml``; the rule-set path."""
    source = package_folder(python) / "rules" / "version_sets" / FOCUS_VERSION
    target = folder / FOCUS_VERSION
    target.mkdir(parents=True)
    changed = 0
    for rule in sorted(source.glob("*.yaml")):
        text = rule.read_text(encoding="utf-8")
        fixed = re.sub(
            r"^column_id: (\w+)\s*$",
            lambda match: f"column_id: {RENAMED_COLUMNS.get(match.group(1), match.group(1))}",
            text,
            flags=re.MULTILINE,
        )
        fixed = re.sub(r"\bChargeType\b", "ChargeCategory", fixed)
        changed += fixed != text
        (target / rule.name).write_text(fixed, encoding="utf-8")
    assert changed == CORRECTED_FILES, f"{changed} validator rules needed FOCUS 1.0 names, not {CORRECTED_FILES}"
    return folder


@dataclass(frozen=True)
class Report:
    checks: int
    failed: dict[str, str]
    """Failing (or erroring) check name: the validator's message."""

    @property
    def passed(self) -> bool:
        return self.checks > 0 and not self.failed


def validate(python: Path, rules: Path, data: Path, work: Path) -> Report:
    """Run the validator on ``data`` (.csv or .parquet) against the rule set ``rules`` and read its JUnit report."""
    report = work / f"{data.name}.report.xml"
    report.unlink(missing_ok=True)
    done = subprocess.run(
        [
            str(python),
            "-m",
            "focus_validator.main",
            "--data-file",
            str(data),
            "--validate-version",
            FOCUS_VERSION,
            "--rule-set-path",
            str(rules),
            "--output-type",
            "unittest",
            "--output-destination",
            str(report),
        ],
        cwd=package_folder(python).parent,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        env={key: value for key, value in os.environ.items() if not key.startswith("PYTHON")},
    )
    assert report.is_file(), f"the validator wrote no report (exit {done.returncode}):\n{done.stderr[-3000:]}"
    root = ET.parse(report).getroot()
    failed: dict[str, str] = {}
    for case in root.iter("testcase"):
        for problem in [*case.iter("failure"), *case.iter("error")]:
            failed[case.get("name", "?")] = problem.get("message", "")
    return Report(int(root.get("tests", "0")), failed)

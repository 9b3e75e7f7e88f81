"""pytest plugin (entry point ``pytest11: unimeter``): each fixture case of an integration repository is a test.

In a repository holding ``mappings/<integration>.yaml`` and ``fixtures/<integration>/<case>/``, plain ``pytest``
collects one item per case (named by the case id, ``acme/defaults``, as ``unimeter check`` prints it), replays it
through :func:`unimeter.testing.fixtures.run_case` (the code of ``unimeter check``) and reports a failure as the
check's problems and diff, not as a traceback of this module. The repository's ``mappings/`` folder goes first on the
mapping search path for the session, so no conftest and no ``UNIMETER_MAPPINGS_PATH`` are needed.

The plugin is installed wherever unimeter is, so it must cost nothing elsewhere: every file but ``case.yaml`` is
turned away by its name, a ``case.yaml`` counts only inside that layout, and the engine is imported only once a case
is found. ``-p no:unimeter`` or the ini option ``unimeter_fixtures = false`` turns it off.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from _pytest._code.code import TerminalRepr, TracebackStyle

    from .fixtures import CaseOutcome, FixtureCase

CASE_FILE = "case.yaml"
DRAFT_MARKER = "unimeter_draft"
UPDATE_OPTION = "--unimeter-update"
ENABLE_INI = "unimeter_fixtures"
# user_properties keys: they travel with the test reports (to the terminal summary, and across pytest-xdist workers).
DRAFT_PROPERTY = "unimeter_draft"
UPDATED_PROPERTY = "unimeter_updated"

_ADDED_FOLDERS = pytest.StashKey[list[Path]]()
_SAVED_SEARCH_PATH = pytest.StashKey[str | None]()


@dataclass(frozen=True)
class CaseLayout:
    """Where a ``case.yaml`` sits in an integration repository.

    ``mappings`` is the repository's mappings folder to search first, or None when the case belongs to a built-in
    integration (a user's extra cases for it, or the project's own repository, whose ``mappings/`` is the built-in
    folder in an editable install and must not be added again as a user folder overriding itself).
    """

    root: Path
    integration: str
    case: str
    mappings: Path | None


def case_layout(file_path: Path) -> CaseLayout | None:
    """The layout of ``<root>/fixtures/<integration>/<case>/case.yaml``, or None when the file is not a case."""
    case_dir = file_path.parent
    integration_dir = case_dir.parent
    fixtures = integration_dir.parent
    if file_path.name != CASE_FILE or fixtures.name != "fixtures" or fixtures == integration_dir:
        return None
    root = fixtures.parent
    integration = integration_dir.name
    mappings = root / "mappings"
    if (mappings / f"{integration}.yaml").is_file():
        builtin = _builtin_mappings_dir()
        return CaseLayout(root, integration, case_dir.name, None if _same_folder(mappings, builtin) else mappings)
    if (_builtin_mappings_dir() / f"{integration}.yaml").is_file():
        return CaseLayout(root, integration, case_dir.name, None)
    return None


def _builtin_mappings_dir() -> Path:
    from ..resources import builtin_mappings_dir

    return builtin_mappings_dir()


def _same_folder(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


# ------------------------------------------------------------------------------------------------------ the hooks


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("unimeter", "unimeter fixture cases")
    group.addoption(
        UPDATE_OPTION,
        action="store_true",
        default=False,
        help="rewrite expected.json of each case that fails on its output from its replay (like unimeter check "
        "--update); review the diff printed in the summary",
    )
    parser.addini(
        ENABLE_INI,
        type="bool",
        default=True,
        help="collect fixtures/<integration>/<case>/case.yaml as unimeter fixture cases (default: true)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{DRAFT_MARKER}: a unimeter fixture case whose expected.json is not reviewed yet (draft: true)"
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    """Give the process back the search path it had (an in-process pytest run must not leak it to the caller)."""
    if _SAVED_SEARCH_PATH not in config.stash:
        return
    from ..spec.registry import MAPPINGS_PATH_ENV

    saved = config.stash[_SAVED_SEARCH_PATH]
    if saved is None:
        os.environ.pop(MAPPINGS_PATH_ENV, None)
    else:
        os.environ[MAPPINGS_PATH_ENV] = saved


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> CaseFile | None:
    if file_path.name != CASE_FILE or not parent.config.getini(ENABLE_INI):
        return None
    layout = case_layout(file_path)
    if layout is None:
        return None
    if layout.mappings is not None:
        _put_first_for_session(parent.config, layout.mappings)
    collector = CaseFile.from_parent(parent, path=file_path)
    collector.layout = layout
    return collector


def _put_first_for_session(config: pytest.Config, folder: Path) -> None:
    """The repository's mappings folder on the search path for the whole run: its other tests see it too."""
    from ..spec.registry import MAPPINGS_PATH_ENV, add_mapping_folders

    added = config.stash.setdefault(_ADDED_FOLDERS, [])
    if folder in added:
        return
    if _SAVED_SEARCH_PATH not in config.stash:
        config.stash[_SAVED_SEARCH_PATH] = os.environ.get(MAPPINGS_PATH_ENV)
    added.append(folder)
    add_mapping_folders([folder])


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Name the draft cases (passing, but their expected output is unreviewed) and the rewritten ones, with diffs."""
    drafts: list[str] = []
    updated: list[tuple[str, str]] = []
    for reports in terminalreporter.stats.values():
        for report in reports:
            if getattr(report, "when", None) != "call":
                continue
            for key, value in getattr(report, "user_properties", ()):
                if key == DRAFT_PROPERTY:
                    drafts.append(report.nodeid)
                elif key == UPDATED_PROPERTY:
                    updated.append((report.nodeid, str(value)))
    if not drafts and not updated:
        return
    terminalreporter.write_sep("=", "unimeter fixture cases")
    if drafts:
        terminalreporter.write_line(
            f"{len(drafts)} draft case(s): expected.json not reviewed yet (case.yaml has draft)"
        )
        for nodeid in sorted(drafts):
            terminalreporter.write_line(f"  draft    {nodeid}")
    if updated:
        terminalreporter.write_line(f"{len(updated)} case(s) updated: expected.json rewritten from the replay; review")
        for nodeid, diff in sorted(updated):
            terminalreporter.write_line(f"  UPDATED  {nodeid}")
            terminalreporter.write_line("           " + diff.replace("\n", "\n           "))


# ------------------------------------------------------------------------------------------------ collector, item


class CaseFile(pytest.File):
    """One ``case.yaml``: it holds exactly one case, so it yields one item."""

    layout: CaseLayout

    def collect(self) -> Iterator[CaseItem]:
        from .fixtures import FixtureCase

        case = FixtureCase(self.layout.integration, self.layout.case, self.path.parent)
        item = CaseItem.from_parent(self, name=case.id)
        item.case = case
        item.layout = self.layout
        if _is_draft(case):
            item.add_marker(DRAFT_MARKER)
            item.user_properties.append((DRAFT_PROPERTY, True))
        yield item


def _is_draft(case: FixtureCase) -> bool:
    try:
        return bool(case.call().get("draft"))
    except Exception:  # an unreadable case.yaml is reported when the case runs, not at collection
        return False


class CaseFailed(Exception):
    """A case did not replay to its expected output; the message is the whole readable report."""


class CaseItem(pytest.Item):
    """Replay one fixture case and compare it with ``expected.json``, as ``unimeter check`` does."""

    case: FixtureCase
    layout: CaseLayout

    def runtest(self) -> None:
        import yaml

        from .fixtures import run_case, update_case

        with _searched_first(self.layout.mappings):
            try:
                outcome = asyncio.run(run_case(self.case))
            except (OSError, ValueError, yaml.YAMLError) as error:  # a case file unreadable, or not YAML or JSON
                raise CaseFailed(f"{self.case.id}: cannot read the case in {self.case.path}: {error}") from error
            mapping = _mapping_file(self.case.integration)
        if outcome.ok:
            return
        if self.config.getoption(UPDATE_OPTION):
            diff = update_case(outcome)
            if diff is not None:
                self.user_properties.append((UPDATED_PROPERTY, diff))
                return
        raise CaseFailed(_failure_report(outcome, mapping))

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: TracebackStyle | None = None
    ) -> str | TerminalRepr:
        if isinstance(excinfo.value, CaseFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"unimeter fixture case {self.case.id}"


def _failure_report(outcome: CaseOutcome, mapping: str) -> str:
    case = outcome.case
    lines = [f"fixture case {case.id} does not replay to its expected output", f"  case:    {case.path}"]
    lines.append(f"  mapping: {mapping}")
    lines.extend("  " + problem.replace("\n", "\n  ") for problem in outcome.problems)
    if outcome.replayed is not None and not outcome.replayed.mismatches:
        lines.append(f"to rewrite expected.json from the replay: pytest {UPDATE_OPTION} (then review the diff)")
    return "\n".join(lines)


def _mapping_file(integration: str) -> str:
    """The mapping the case was replayed with, or why there was none (the problems then say the same)."""
    from ..errors import UnimeterError
    from ..spec.registry import find_integration

    try:
        return str(find_integration(integration).file)
    except UnimeterError as error:
        return f"none ({error})"


@contextmanager
def _searched_first(folder: Path | None) -> Iterator[None]:
    """Search ``folder`` first while one case runs, even if a test or another repository's cases moved it back."""
    from ..spec.registry import MAPPINGS_PATH_ENV, mapping_folders

    current = os.environ.get(MAPPINGS_PATH_ENV)
    if folder is None or mapping_folders()[:1] == [folder]:
        yield
        return
    others = [str(other) for other in mapping_folders() if other != folder]
    os.environ[MAPPINGS_PATH_ENV] = os.pathsep.join([str(folder), *others])
    try:
        yield
    finally:
        if current is None:
            os.environ.pop(MAPPINGS_PATH_ENV, None)
        else:
            os.environ[MAPPINGS_PATH_ENV] = current

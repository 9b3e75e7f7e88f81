"""The mapping search path: --mappings and UNIMETER_MAPPINGS_PATH before the built-in mappings, first folder wins."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from unimeter.errors import UnknownIntegrationError
from unimeter.resources import builtin_fixtures_dir, builtin_mappings_dir
from unimeter.spec import (
    MAPPINGS_PATH_ENV,
    add_mapping_folders,
    available_integrations,
    find_integration,
    load_integration,
)

BUILTINS = sorted(path.stem for path in builtin_mappings_dir().glob("*.yaml"))


def _copy_builtin(name: str, folder: Path, *, as_name: str | None = None, label: str = "Copied") -> Path:
    """A user's mapping made from a built-in one (valid by construction), renamed and relabelled."""
    folder.mkdir(parents=True, exist_ok=True)
    text = (builtin_mappings_dir() / f"{name}.yaml").read_text(encoding="utf-8")
    target_name = as_name or name
    text = text.replace(f"\nname: {name}\n", f"\nname: {target_name}\n", 1)
    text = text.replace("\nlabel: ", f"\nlabel: {label} ", 1)
    target = folder / f"{target_name}.yaml"
    target.write_text(text, encoding="utf-8")
    return target


def test_without_a_search_path_the_built_in_mappings_are_available(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MAPPINGS_PATH_ENV, raising=False)
    assert BUILTINS, "the package ships no mappings"
    assert available_integrations() == BUILTINS
    source = find_integration(BUILTINS[0])
    assert source.builtin and source.overrides is None
    assert source.fixtures_dir == builtin_fixtures_dir()


def test_a_folder_on_the_search_path_adds_an_integration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    file = _copy_builtin(BUILTINS[0], tmp_path / "mappings", as_name="acme")
    monkeypatch.setenv(MAPPINGS_PATH_ENV, str(tmp_path / "mappings"))
    assert available_integrations() == sorted([*BUILTINS, "acme"])
    source = find_integration("acme")
    assert (source.file, source.builtin, source.overrides) == (file, False, None)
    assert source.fixtures_dir == tmp_path / "fixtures"
    assert load_integration("acme").label.startswith("Copied ")


def test_a_user_mapping_overrides_a_built_in_one_and_says_so_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    name = BUILTINS[0]
    file = _copy_builtin(name, tmp_path / "mine")
    monkeypatch.setenv(MAPPINGS_PATH_ENV, str(tmp_path / "mine"))
    with caplog.at_level(logging.WARNING, logger="unimeter"):
        first = load_integration(name)
        load_integration(name)
        find_integration(name)
    assert first.file == str(file)
    assert first.label.startswith("Copied ")
    warnings = [r.getMessage() for r in caplog.records if "overrides the built-in integration" in r.getMessage()]
    assert warnings == [f"unimeter: {file} overrides the built-in integration {name!r}"]
    assert find_integration(name).overrides == builtin_mappings_dir() / f"{name}.yaml"


def test_mappings_folders_given_first_win_over_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _copy_builtin(BUILTINS[0], tmp_path / "env", as_name="acme", label="FromEnv")
    _copy_builtin(BUILTINS[0], tmp_path / "cli", as_name="acme", label="FromCli")
    monkeypatch.setenv(MAPPINGS_PATH_ENV, str(tmp_path / "env"))
    add_mapping_folders([tmp_path / "cli"])
    assert load_integration("acme").label.startswith("FromCli ")
    assert find_integration("acme").folder == tmp_path / "cli"


def test_a_search_path_entry_that_is_not_a_folder_is_reported_and_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    missing = tmp_path / "nope"
    monkeypatch.setenv(MAPPINGS_PATH_ENV, str(missing))
    with caplog.at_level(logging.WARNING, logger="unimeter"):
        assert available_integrations() == BUILTINS
    assert any(str(missing) in r.getMessage() and "not a folder" in r.getMessage() for r in caplog.records)


def test_an_unknown_integration_names_the_available_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MAPPINGS_PATH_ENV, raising=False)
    with pytest.raises(UnknownIntegrationError) as raised:
        load_integration("no-such-vendor")
    assert "no integration named 'no-such-vendor'" in str(raised.value)
    assert all(name in str(raised.value) for name in BUILTINS)

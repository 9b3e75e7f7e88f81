"""Find integrations by name along the mapping search path, and load each one once.

The search path is every folder named by ``--mappings`` (the CLI puts them in front of ``UNIMETER_MAPPINGS_PATH``),
then the folders of ``UNIMETER_MAPPINGS_PATH`` (separated by :data:`os.pathsep`), then the built-in mappings. The
first folder holding ``<name>.yaml`` wins: a user's folder adds integrations and may override a built-in one, which
is reported once as a warning. Fixture cases live in ``fixtures/`` beside each mappings folder.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import UnknownIntegrationError
from ..resources import builtin_fixtures_dir, builtin_mappings_dir
from .loader import load_spec
from .model import IntegrationSpec

MAPPINGS_PATH_ENV = "UNIMETER_MAPPINGS_PATH"

log = logging.getLogger("unimeter")
_reported_overrides: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class IntegrationSource:
    """Where one integration was found: its file, its mappings folder, and what it overrides, if anything."""

    name: str
    file: Path
    folder: Path
    builtin: bool
    overrides: Path | None = None

    @property
    def fixtures_dir(self) -> Path:
        """The fixture cases of this integration's folder: ``fixtures/`` beside the mappings folder."""
        return builtin_fixtures_dir() if self.builtin else self.folder.parent / "fixtures"


def mapping_folders() -> list[Path]:
    """The user's mapping folders in search order (the built-in folder is searched after them)."""
    raw = os.environ.get(MAPPINGS_PATH_ENV, "")
    return [Path(part).expanduser() for part in raw.split(os.pathsep) if part.strip()]


def add_mapping_folders(folders: Sequence[str | Path]) -> None:
    """Put ``folders`` first on the search path of this process and of the processes it starts."""
    if not folders:
        return
    current = os.environ.get(MAPPINGS_PATH_ENV, "")
    os.environ[MAPPINGS_PATH_ENV] = os.pathsep.join([*(str(f) for f in folders), *([current] if current else [])])


def integration_sources() -> dict[str, IntegrationSource]:
    """Every integration on the search path, by name, sorted by name."""
    return _sources(tuple(mapping_folders()), builtin_mappings_dir())


@functools.cache
def _sources(folders: tuple[Path, ...], builtin: Path) -> dict[str, IntegrationSource]:
    found: dict[str, IntegrationSource] = {}
    for folder in folders:
        if not folder.is_dir():
            log.warning("unimeter: %s names %s, which is not a folder; it is ignored", MAPPINGS_PATH_ENV, folder)
            continue
        for file in sorted(folder.glob("*.yaml")):
            found.setdefault(file.stem, IntegrationSource(file.stem, file, folder, builtin=False))
    for file in sorted(builtin.glob("*.yaml")):
        user = found.get(file.stem)
        if user is None:
            found[file.stem] = IntegrationSource(file.stem, file, builtin, builtin=True)
        elif user.overrides is None:
            found[file.stem] = IntegrationSource(user.name, user.file, user.folder, False, overrides=file)
    return dict(sorted(found.items()))


def available_integrations() -> list[str]:
    """Names of every integration on the search path."""
    return list(integration_sources())


def find_integration(name: str) -> IntegrationSource:
    """Where the integration ``name`` is; :class:`UnknownIntegrationError` naming the available ones if nowhere."""
    sources = integration_sources()
    source = sources.get(name)
    if source is None:
        raise UnknownIntegrationError(
            f"no integration named {name!r}; available: {', '.join(sources) or 'none'}", integration=name
        )
    if source.overrides is not None and (name, str(source.file)) not in _reported_overrides:
        _reported_overrides.add((name, str(source.file)))
        log.warning("unimeter: %s overrides the built-in integration %r", source.file, name)
    return source


def load_integration(name: str) -> IntegrationSpec:
    """The integration ``name`` from the search path, loaded once per process and file."""
    return _load(find_integration(name).file)


@functools.cache
def _load(file: Path) -> IntegrationSpec:
    return load_spec(file)

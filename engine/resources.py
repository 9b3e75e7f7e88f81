"""Where unimeter's shipped data is: the built-in mappings, the schemas and the built-in fixtures.

They are package data of ``unimeter`` (``unimeter.mappings``, ``unimeter.schemas``, ``unimeter.fixtures``), read
through :mod:`importlib.resources`, so an installed wheel and an editable checkout find them the same way and no code
names a path of the source tree.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import os
from pathlib import Path
from typing import Any


def _package_dir(package: str) -> Path:
    # Installed packages are plain directories (no zip imports), so the resource root is a real path.
    return Path(str(importlib.resources.files(package)))


def builtin_mappings_dir() -> Path:
    """The folder of the mappings that ship with unimeter."""
    return _package_dir("unimeter.mappings")


def builtin_fixtures_dir() -> Path:
    """The recorded fixture cases of the built-in mappings."""
    return _package_dir("unimeter.fixtures")


def schemas_dir() -> Path:
    return _package_dir("unimeter.schemas")


@functools.cache
def load_schema(name: str) -> dict[str, Any]:
    """A JSON schema shipped in ``schemas/`` (``usage.schema.json``, ``integration.schema.json``, ...)."""
    with (schemas_dir() / name).open(encoding="utf-8") as handle:
        schema: dict[str, Any] = json.load(handle)
    return schema


def data_dir() -> Path:
    """Where unimeter keeps its default database and key files (XDG base directory spec: absolute paths only)."""
    xdg = os.environ.get("XDG_DATA_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".local" / "share"
    return base / "unimeter"

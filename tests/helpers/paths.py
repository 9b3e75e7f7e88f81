"""Where the project's folders are, for tests that read the source tree (schemas, engine/, bench) or run from it;
and the shape of a user's mappings folder (tests/conftest.py's ``mappings_folder``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
ENGINE = PROJECT / "engine"
SCHEMAS = PROJECT / "schemas"
VENDOR_SCHEMAS = SCHEMAS / "vendors"


@dataclass(frozen=True)
class MappingsFolder:
    """``mappings/`` and ``fixtures/`` side by side under a temporary folder, first on the search path."""

    mappings: Path
    fixtures: Path

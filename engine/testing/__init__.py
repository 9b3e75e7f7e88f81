"""For integration authors and CI: replay recorded exchanges and run fixture cases.

The names load on first use (PEP 562 ``__getattr__``), so pytest loading the plugin ``unimeter.testing.pytest_plugin``
in a project that has no fixture cases does not load the engine.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .fixtures import CaseOutcome, FixtureCase, discover_cases, run_case, run_cases
    from .replay import ReplayMismatch, ReplayTransport

_MODULE_OF = {
    **dict.fromkeys(["CaseOutcome", "FixtureCase", "discover_cases", "run_case", "run_cases"], ".fixtures"),
    **dict.fromkeys(["ReplayMismatch", "ReplayTransport"], ".replay"),
}

__all__ = ["CaseOutcome", "FixtureCase", "ReplayMismatch", "ReplayTransport", "discover_cases", "run_case", "run_cases"]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value

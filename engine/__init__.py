"""unimeter: one unified usage-metering endpoint over many vendors, from declarative YAML integrations.

The public API: find and load an integration, run a query, get unified rows::

    import unimeter
    unimeter.list_usage("cursor", credentials={"api_key": "..."}, params={"start_date": "2026-10-01"})

The names load on first use (PEP 562 ``__getattr__``): importing one submodule, such as the pytest plugin that pytest
loads in every project where unimeter is installed (``unimeter.testing.pytest_plugin``), does not load the engine.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .version import __version__

if TYPE_CHECKING:
    from .errors import UnimeterError
    from .run.pipeline import QueryOptions, ResumePoint, VendorPage, alist_usage, iter_pages, list_usage
    from .spec import (
        IntegrationSource,
        IntegrationSpec,
        available_integrations,
        find_integration,
        integration_sources,
        lint_spec,
        load_integration,
        load_spec,
    )

_MODULE_OF = {
    "UnimeterError": ".errors",
    **dict.fromkeys(
        ["QueryOptions", "ResumePoint", "VendorPage", "alist_usage", "iter_pages", "list_usage"], ".run.pipeline"
    ),
    **dict.fromkeys(
        [
            "IntegrationSource",
            "IntegrationSpec",
            "available_integrations",
            "find_integration",
            "integration_sources",
            "lint_spec",
            "load_integration",
            "load_spec",
        ],
        ".spec",
    ),
}

__all__ = [
    "IntegrationSource",
    "IntegrationSpec",
    "QueryOptions",
    "ResumePoint",
    "UnimeterError",
    "VendorPage",
    "__version__",
    "alist_usage",
    "available_integrations",
    "find_integration",
    "integration_sources",
    "iter_pages",
    "lint_spec",
    "list_usage",
    "load_integration",
    "load_spec",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value

"""unimeter: one unified usage-metering endpoint over many vendors, from declarative YAML integrations.

The public API: find and load an integration, run a query, get unified rows::

    import unimeter
    unimeter.list_usage("cursor", credentials={"api_key": "..."}, params={"start_date": "2026-10-01"})
"""

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
from .version import __version__

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

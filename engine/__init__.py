"""unimeter: one unified usage-metering endpoint over many vendors, from declarative YAML integrations.

The public API: load an integration, run a query, get unified rows.
"""

from .errors import UnimeterError
from .pipeline import VendorPage, alist_usage, iter_pages, list_usage
from .spec import IntegrationSpec, available_integrations, load_integration, load_spec

__all__ = [
    "IntegrationSpec",
    "UnimeterError",
    "VendorPage",
    "alist_usage",
    "available_integrations",
    "iter_pages",
    "list_usage",
    "load_integration",
    "load_spec",
]

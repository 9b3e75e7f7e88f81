"""The HTTP service: routes, authentication, the accounts API and OpenAPI (HTTP types stay in this package)."""

from ..api.list_usage import UsageService
from .app import create_app

__all__ = ["UsageService", "create_app"]

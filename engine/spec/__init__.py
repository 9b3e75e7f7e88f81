"""What a mapping can say and how it is read: the model, the YAML reader, JSONata, the search path."""

from .loader import lint_spec, load_spec
from .model import IntegrationSpec, OperationSpec, Template
from .registry import (
    MAPPINGS_PATH_ENV,
    IntegrationSource,
    add_mapping_folders,
    available_integrations,
    find_integration,
    integration_sources,
    load_integration,
)
from .scope import Scope

__all__ = [
    "MAPPINGS_PATH_ENV",
    "IntegrationSource",
    "IntegrationSpec",
    "OperationSpec",
    "Scope",
    "Template",
    "add_mapping_folders",
    "available_integrations",
    "find_integration",
    "integration_sources",
    "lint_spec",
    "load_integration",
    "load_spec",
]

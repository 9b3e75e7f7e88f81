"""The simulators by integration name (the names of ``mappings/*.yaml``), found in this package's modules.

Each module defines one :class:`VendorSimulator` subclass with ``name`` set; adding a vendor is adding a module.
"""

from __future__ import annotations

import importlib
import pkgutil

from .base import VendorSimulator


def _discover() -> dict[str, type[VendorSimulator]]:
    found: dict[str, type[VendorSimulator]] = {}
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if module_info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, VendorSimulator) and value.name:
                found[value.name] = value
    return found


SIMULATORS: dict[str, type[VendorSimulator]] = _discover()

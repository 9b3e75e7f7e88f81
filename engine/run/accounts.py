"""Check an account's credentials and context against what the integration declares, and fill context defaults.

``base_url`` is accepted by every integration: it points the integration at a proxy, a regional host or a simulator.
Messages name the field, never a secret value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import ConfigurationError
from ..spec.model import IntegrationSpec
from .destination import check_base_url_shape


def resolve_credentials(spec: IntegrationSpec, credentials: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(credentials) - set(spec.credentials))
    if unknown:
        raise ConfigurationError(
            f"{spec.name} has no credential field {unknown[0]!r}; it takes: {', '.join(spec.credentials) or 'none'}",
            field=unknown[0],
        )
    for name, declared in spec.credentials.items():
        if declared.required and not credentials.get(name):
            raise ConfigurationError(
                f"{spec.name} needs the credential {name!r} ({declared.description})".rstrip(), field=name
            )
    return dict(credentials)


def resolve_context(spec: IntegrationSpec, context: Mapping[str, Any]) -> dict[str, Any]:
    allowed = set(spec.context) | {"base_url"}
    unknown = sorted(set(context) - allowed)
    if unknown:
        raise ConfigurationError(
            f"{spec.name} has no context field {unknown[0]!r}; it takes: {', '.join(sorted(allowed))}", field=unknown[0]
        )
    resolved: dict[str, Any] = {}
    for name, declared in spec.context.items():
        value = context.get(name, declared.default)
        if value is None or value == "":
            if declared.required:
                raise ConfigurationError(
                    f"{spec.name} needs the context field {name!r} ({declared.description})", field=name
                )
            continue
        if declared.enum and str(value) not in declared.enum:
            raise ConfigurationError(
                f"invalid {name!r} {value!r} for {spec.name}: expected one of {', '.join(declared.enum)}", field=name
            )
        resolved[name] = value
    if context.get("base_url"):
        base_url = context["base_url"]
        if not isinstance(base_url, str):
            raise ConfigurationError("base_url must be a string URL", field="base_url")
        check_base_url_shape(base_url)
        resolved["base_url"] = base_url.strip()
    return resolved

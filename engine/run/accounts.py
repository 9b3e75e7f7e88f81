"""Check an account's credentials and context against what the integration declares, and fill context defaults.

``base_url`` is accepted by every integration: it points the integration at a proxy, a regional host or a simulator
(where credentials may go is :mod:`unimeter.run.destination`'s job). Values have plain types and bounded sizes:
credentials are strings, context values strings, finite numbers or booleans, so nothing stored can break a later
read or listing. Messages name the field, never a secret value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ..errors import ConfigurationError
from ..spec.model import IntegrationSpec
from .destination import check_base_url_shape

MAX_CREDENTIAL_CHARS = 16_384
MAX_CONTEXT_CHARS = 2_048


def _check_credential(spec: IntegrationSpec, name: str, value: Any) -> None:
    if not isinstance(value, str):
        raise ConfigurationError(f"the credential {name!r} of {spec.name} must be a string", field=name)
    if len(value) > MAX_CREDENTIAL_CHARS:
        raise ConfigurationError(
            f"the credential {name!r} of {spec.name} is longer than {MAX_CREDENTIAL_CHARS} characters", field=name
        )


def _check_context_value(spec: IntegrationSpec, name: str, value: Any) -> None:
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigurationError(f"the context field {name!r} must be a finite number", field=name)
        return
    if not isinstance(value, str):
        raise ConfigurationError(
            f"the context field {name!r} of {spec.name} must be a string, a number or a boolean, "
            f"not {type(value).__name__}",
            field=name,
        )
    if len(value) > MAX_CONTEXT_CHARS:
        raise ConfigurationError(
            f"the context field {name!r} is longer than {MAX_CONTEXT_CHARS} characters", field=name
        )


def resolve_credentials(spec: IntegrationSpec, credentials: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(credentials) - set(spec.credentials))
    if unknown:
        raise ConfigurationError(
            f"{spec.name} has no credential field {unknown[0]!r}; it takes: {', '.join(spec.credentials) or 'none'}",
            field=unknown[0],
        )
    for name, value in credentials.items():
        _check_credential(spec, name, value)
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
    for name, value in context.items():
        _check_context_value(spec, name, value)
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

"""Turn an integration's declared auth into request headers. A table from auth kind to function.

Only this module sees ``$credentials``; the headers it returns are marked secret so debug output can redact them.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from typing import Any

from ..spec.model import AuthSpec
from ..spec.scope import Scope


def _headers(auth: AuthSpec, scope: Scope) -> dict[str, str]:
    result = {}
    for name, template in auth.headers.items():
        value = template.evaluate(None, scope)
        if value is not None:
            result[name] = str(value)
    return result


def _basic(auth: AuthSpec, scope: Scope) -> dict[str, str]:
    username = auth.username.evaluate(None, scope) if auth.username else ""
    password = auth.password.evaluate(None, scope) if auth.password else ""
    token = base64.b64encode(f"{username or ''}:{password or ''}".encode()).decode("ascii")
    return {"Authorization": f"Basic {token}"}


def _none(auth: AuthSpec, scope: Scope) -> dict[str, str]:
    return {}


AUTH_KINDS: dict[str, Callable[[AuthSpec, Scope], dict[str, str]]] = {
    "headers": _headers,
    "basic": _basic,
    "none": _none,
}


def auth_headers(auth: AuthSpec, credentials: Mapping[str, Any], scope: Scope) -> dict[str, str]:
    """The headers that authenticate one request (the only place ``$credentials`` is bound)."""
    return AUTH_KINDS[auth.kind](auth, scope.at(credentials=dict(credentials)))

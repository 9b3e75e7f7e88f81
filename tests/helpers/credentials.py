"""Test credentials derived from what each integration declares, so that no test names a vendor's credential fields.

Every declared credential (``credentials:`` in ``mappings/<name>.yaml``) gets a deterministic, recognisable fake
value: ``<integration>-<field>-SECRET-<hash>`` for a secret field, ``<integration>-<field>-<hash>`` for a non-secret
one (the hash is of integration, field and variant, so each value is unique and the same on every run). A variant
("rotated") gives a second set, for tests that replace an account's credentials. Context fields get their default,
else their first enum value, else (when required) a recognisable fake.

:func:`secret_strings` lists what a scan of any output must never find: every fake secret of every integration on
the search path, and the encoded forms an auth header carries them in (the base64 of ``Basic``). Suites that replay
recorded fixtures keep each case's own credentials instead (``case.yaml``), since a recording may match auth headers.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable
from typing import Any

from unimeter.run.auth import auth_headers
from unimeter.spec import Scope, available_integrations, load_integration

VARIANTS = ("", "rotated")
"""The credential sets a test may use: the default one and a second one for updates."""


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()[:8]


def fake_secret(integration: str, field: str, variant: str = "") -> str:
    """The fake value of the secret credential ``field``: recognisable in any output, unique per field and variant."""
    tag = f"SECRET-{variant}-" if variant else "SECRET-"
    return f"{integration}-{field}-{tag}{_digest(integration, field, variant)}"


def fake_credentials(integration: str, variant: str = "") -> dict[str, str]:
    """A value for every credential the integration declares (secret or not, required or not)."""
    spec = load_integration(integration)
    credentials = {}
    for name, declared in spec.credentials.items():
        if declared.secret:
            credentials[name] = fake_secret(integration, name, variant)
        else:
            credentials[name] = f"{integration}-{name}-{_digest(integration, name, variant, 'plain')}"
    return credentials


def fake_context(integration: str) -> dict[str, Any]:
    """The account context the integration declares: defaults, else the first enum value, else a fake if required."""
    context: dict[str, Any] = {}
    for name, declared in load_integration(integration).context.items():
        if declared.default is not None:
            context[name] = declared.default
        elif declared.enum:
            context[name] = declared.enum[0]
        elif declared.required:
            context[name] = f"{integration}-{name}-context"
    return context


def secret_values(integration: str, variant: str = "") -> list[str]:
    """The fake values of the integration's secret credential fields."""
    spec = load_integration(integration)
    return [value for name, value in fake_credentials(integration, variant).items() if spec.credentials[name].secret]


def _encoded_forms(header: str, secrets: list[str]) -> list[str]:
    """Parts of an auth header value that hide a secret in base64 (``Basic <base64>``), unpadded as echoed."""
    forms = []
    for token in header.split():
        try:
            decoded = base64.b64decode(token + "=" * (-len(token) % 4), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            continue
        if any(secret in decoded for secret in secrets):
            forms.append(token.rstrip("="))
    return forms


def secret_strings(integrations: Iterable[str] | None = None) -> list[str]:
    """Every fake secret of ``integrations`` (default: all on the search path) in clear text, and the encoded forms
    of the auth headers built from them that would reveal them."""
    found: list[str] = []
    for integration in available_integrations() if integrations is None else integrations:
        spec = load_integration(integration)
        for variant in VARIANTS:
            secrets = secret_values(integration, variant)
            headers = auth_headers(
                spec.auth, fake_credentials(integration, variant), Scope(context=fake_context(integration))
            )
            found += secrets
            for header in headers.values():
                found += _encoded_forms(header, secrets)
    return list(dict.fromkeys(found))


def secret_forms(integration: str, credentials: dict[str, Any], context: dict[str, Any] | None = None) -> list[str]:
    """What an output must never show of ``credentials`` (e.g. a sandbox's): each secret value, each auth header
    value that carries one, and the base64 forms inside those headers."""
    spec = load_integration(integration)
    secrets = [str(value) for name, value in credentials.items() if spec.credentials[name].secret and value]
    forms = list(secrets)
    for header in auth_headers(spec.auth, credentials, Scope(context=context or {})).values():
        if any(secret in header for secret in secrets) or _encoded_forms(header, secrets):
            forms += [header, *_encoded_forms(header, secrets)]
    return list(dict.fromkeys(forms))


def secret_auth_headers(integration: str, variant: str = "") -> dict[str, str]:
    """The auth headers (lower-case names) an account with the fake credentials sends that carry a secret."""
    spec = load_integration(integration)
    secrets = secret_values(integration, variant)
    headers = auth_headers(spec.auth, fake_credentials(integration, variant), Scope(context=fake_context(integration)))
    return {
        name.lower(): value
        for name, value in headers.items()
        if any(secret in value for secret in secrets) or _encoded_forms(value, secrets)
    }


def revealed_secrets(texts: Iterable[str], integration: str, variant: str = "") -> set[str]:
    """The integration's fake secrets that ``texts`` carry, in clear or inside a base64 token (``Basic ...``)."""
    secrets = secret_values(integration, variant)
    found = set()
    for text in texts:
        decoded = [text]
        for token in text.split():
            try:
                decoded.append(base64.b64decode(token + "=" * (-len(token) % 4), validate=True).decode("utf-8"))
            except (binascii.Error, UnicodeDecodeError):
                continue
        found |= {secret for secret in secrets if any(secret in part for part in decoded)}
    return found

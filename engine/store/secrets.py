"""Seal account credentials at rest and mint API tokens, so the store never holds a usable secret in clear.

Credentials are sealed with Fernet (AES-128-CBC with HMAC-SHA256) under the key in ``UNIMETER_SECRET_KEY`` or, when
that is unset, under a key file created on first use with mode 0600 (default ``<data dir>/secret.key``, beside the
default database). Several service instances sharing one PostgreSQL store must share the key, so they set
``UNIMETER_SECRET_KEY``. It may hold several comma-separated keys: the first seals, all open, which is how a key is
rotated without re-sealing every account at once.

Each sealed value is bound to its account id, so ciphertext copied from one account's row into another's does not
open. API tokens carry 256 random bits, so an unsalted SHA-256 is enough to store them: it cannot be reversed, and it
lets a token be looked up by its hash.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from ..errors import SecretKeyError
from ..resources import data_dir

SECRET_KEY_ENV = "UNIMETER_SECRET_KEY"
TOKEN_PREFIX = "umt_"


def default_key_file() -> Path:
    return data_dir() / "secret.key"


class SecretBox:
    """Seals and opens JSON objects; the keys never appear in its repr."""

    def __init__(self, fernet: MultiFernet) -> None:
        self._fernet = fernet

    def __repr__(self) -> str:
        return "SecretBox(<keys hidden>)"

    def seal(self, data: Mapping[str, Any], *, bound_to: str) -> str:
        payload = json.dumps({"bound_to": bound_to, "data": dict(data)}, separators=(",", ":"))
        return self._fernet.encrypt(payload.encode()).decode("ascii")

    def open(self, sealed: str, *, bound_to: str) -> dict[str, Any]:
        """The sealed object, or :class:`SecretKeyError` when no key opens it or it belongs to another owner."""
        try:
            payload = json.loads(self._fernet.decrypt(sealed.encode("ascii")))
        except (InvalidToken, ValueError):
            raise SecretKeyError(
                f"cannot decrypt the credentials of {bound_to}: the secret key is not the one they were sealed with "
                f"(check {SECRET_KEY_ENV} or the key file)"
            ) from None
        if not isinstance(payload, dict) or payload.get("bound_to") != bound_to:
            raise SecretKeyError(f"the sealed credentials stored for {bound_to} belong to another account")
        data: dict[str, Any] = payload["data"]
        return data


def load_secret_box(key_file: Path | None = None) -> SecretBox:
    """The box for ``UNIMETER_SECRET_KEY``, else for ``key_file`` (default beside the default database)."""
    from_env = os.environ.get(SECRET_KEY_ENV, "").strip()
    if from_env:
        keys = [key.strip() for key in from_env.split(",") if key.strip()]
        return SecretBox(MultiFernet([_fernet(key, f"{SECRET_KEY_ENV} (key {i + 1})") for i, key in enumerate(keys)]))
    path = key_file or default_key_file()
    return SecretBox(MultiFernet([_fernet(_read_or_create_key(path), f"key file {path}")]))


def _fernet(key: str, source: str) -> Fernet:
    try:
        return Fernet(key.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise SecretKeyError(
            f"{source} is not a Fernet key (32 url-safe base64-encoded bytes); generate one with: python -c "
            "'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
        ) from None


def _read_or_create_key(path: Path) -> str:
    """Read the key file, creating it first if missing.

    The new key is written to a private temporary file (mode 0600 from ``os.open``, never widened by the umask) and
    hard-linked into place, so two processes starting at once agree on one key and none reads a half-written file.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "w", encoding="ascii") as handle:
                handle.write(Fernet.generate_key().decode("ascii") + "\n")
            with contextlib.suppress(FileExistsError):  # another process won the race: use its key
                os.link(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
    try:
        return path.read_text(encoding="ascii").strip()
    except OSError as error:
        raise SecretKeyError(f"cannot read the key file {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise SecretKeyError(f"the key file {path} is not a Fernet key (not ASCII)") from None


def new_api_token() -> str:
    """A fresh API token: shown once to its owner, stored only as :func:`hash_api_token`."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_api_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()

"""What the store keeps: an integrated account, the account statuses, API tokens, and the :class:`Store` protocol."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, get_args
from uuid import UUID

AccountStatus = Literal["active", "needs_reauth"]
ACCOUNT_STATUSES: tuple[str, ...] = get_args(AccountStatus)
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def show_time(moment: datetime | None) -> str | None:
    """An instant as the store keeps and the API shows it (UTC, microseconds, ``Z``); None stays None."""
    return None if moment is None else moment.astimezone(UTC).strftime(TIME_FORMAT)


@dataclass(frozen=True, repr=False)
class Account:
    """One integrated account, credentials decrypted. Only :meth:`to_public` may leave the process."""

    id: UUID
    integration: str
    environment: str
    credentials: dict[str, Any]
    context: dict[str, Any]
    status: AccountStatus
    created_at: datetime
    updated_at: datetime

    def __repr__(self) -> str:
        return (
            f"Account(id={self.id}, integration={self.integration!r}, environment={self.environment!r}, "
            f"credentials={sorted(self.credentials)} (values hidden), status={self.status!r})"
        )

    def to_public(self) -> dict[str, Any]:
        """The account as the API and CLI show it: which credential fields are set, never their values."""
        return {
            "id": str(self.id),
            "integration": self.integration,
            "environment": self.environment,
            "credentials": {name: "set" for name, value in self.credentials.items() if value not in (None, "")},
            "context": dict(self.context),
            "status": self.status,
            "created_at": self.created_at.strftime(TIME_FORMAT),
            "updated_at": self.updated_at.strftime(TIME_FORMAT),
        }


@dataclass(frozen=True)
class UnreadableAccount:
    """A stored account that cannot be read (a key that no longer opens it, a corrupt value): listed with why."""

    id: str
    integration: str
    environment: str
    error: str

    def to_public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "integration": self.integration,
            "environment": self.environment,
            "status": "unreadable",
            "error": self.error,
        }


TokenStatus = Literal["active", "expired", "revoked"]


@dataclass(frozen=True)
class ApiToken:
    """What is known of an API token besides its secret, which is stored only as a hash and shown once.

    ``id`` is ``tok_`` and the first 16 hex digits of that hash: stable, safe to show and to log, and enough to name
    the token in a listing or a revocation.
    """

    id: str
    environment: str
    name: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    def status(self, now: datetime) -> TokenStatus:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"

    def to_public(self, now: datetime) -> dict[str, Any]:
        return {
            "id": self.id,
            "environment": self.environment,
            "name": self.name,
            "status": self.status(now),
            "created_at": show_time(self.created_at),
            "expires_at": show_time(self.expires_at),
            "revoked_at": show_time(self.revoked_at),
        }


class Store(Protocol):
    """Where integrated accounts and API tokens live. Lookups by id always name the environment too."""

    def create_account(
        self,
        integration: str,
        *,
        environment: str,
        credentials: Mapping[str, Any],
        context: Mapping[str, Any] | None = None,
    ) -> Account: ...

    def create_account_once(
        self,
        integration: str,
        *,
        environment: str,
        credentials: Mapping[str, Any],
        context: Mapping[str, Any] | None,
        idempotency_key: str,
        fingerprint: str,
    ) -> tuple[dict[str, Any], bool]: ...

    def list_accounts(self, environment: str | None = None) -> list[Account | UnreadableAccount]: ...

    def get_account(self, account_id: UUID | str, *, environment: str) -> Account: ...

    def update_account(
        self,
        account_id: UUID | str,
        *,
        environment: str,
        credentials: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
        status: AccountStatus | None = None,
    ) -> Account: ...

    def delete_account(self, account_id: UUID | str, *, environment: str) -> None: ...

    def mark_status(self, account_id: UUID | str, *, environment: str, status: AccountStatus) -> Account: ...

    def create_token(self, *, environment: str, name: str | None = None, expires_at: datetime | None = None) -> str: ...

    def issue_token(
        self, *, environment: str, name: str | None = None, expires_at: datetime | None = None
    ) -> tuple[str, ApiToken]: ...

    def list_tokens(self, environment: str | None = None) -> list[ApiToken]: ...

    def revoke_token(self, token_id: str, *, environment: str) -> ApiToken: ...

    def set_token_expiry(
        self, token_id: str, *, environment: str, expires_at: datetime, only_earlier: bool = False
    ) -> ApiToken: ...

    def resolve_token(self, token: str) -> str | None: ...

    def reserve_rate_slot(self, budget: str, *, requests: int, per_seconds: float) -> float: ...

"""What the store keeps: an integrated account, the account statuses, and the :class:`Store` protocol."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol, get_args
from uuid import UUID

AccountStatus = Literal["active", "needs_reauth"]
ACCOUNT_STATUSES: tuple[str, ...] = get_args(AccountStatus)
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


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

    def create_token(self, *, environment: str) -> str: ...

    def resolve_token(self, token: str) -> str | None: ...

    def reserve_rate_slot(self, budget: str, *, requests: int, per_seconds: float) -> float: ...

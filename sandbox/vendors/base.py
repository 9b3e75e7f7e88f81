"""What every simulator shares: deterministic randomness, auth checks, error shapes."""

from __future__ import annotations

import base64
import hashlib
import random
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import ClassVar

from ..config import SandboxConfig
from ..messages import SimRequest, SimResponse, json_response


class VendorSimulator:
    """One vendor's API. Subclasses set ``name`` and implement :meth:`handle`, :meth:`error` and credentials."""

    name: ClassVar[str] = ""
    rate_limit: ClassVar[tuple[int, float] | None] = None
    """The vendor's documented limit as (requests, per seconds), enforced when the config asks for it."""
    has_expiring_cursors: ClassVar[bool] = False
    """Whether the vendor answers 410 for an expired pagination cursor (``expired_cursor`` fault)."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config

    def credentials(self) -> dict[str, str]:
        raise NotImplementedError

    def context(self) -> dict[str, str]:
        return {}

    def handle(self, request: SimRequest, fault: str | None) -> SimResponse:
        raise NotImplementedError

    @classmethod
    def sample_params(cls, now: datetime) -> dict[str, str]:
        """Unified query parameters that make this vendor return several pages of rows (tests and the demo)."""
        return {}

    demo_queries: ClassVar[tuple[dict[str, str], ...]] = ({},)
    """The unified queries ``unimeter demo`` runs for this vendor (besides the defaults, e.g. a money report)."""

    def invoice(self, start: date, end: date) -> Decimal | None:
        """What the vendor bills (or, for a period still open, estimates) for the UTC days ``[start, end)``, in USD.

        Worked out from the simulator's own data, never through a mapping, so a test can hold the sum of a mapping's
        ``net`` charges to it. None: this vendor's API reports no money.
        """
        return None

    @classmethod
    def billing_queries(cls, start: date, end: date) -> list[dict[str, str]]:
        """Unified query parameters whose rows together cover the UTC days ``[start, end)`` exactly once."""
        return []

    def error(self, status: int, message: str) -> SimResponse:
        return json_response({"error": message}, status)

    def rate_limited(self, retry_after: float) -> SimResponse:
        response = self.error(429, "Rate limit exceeded. Please try again later.")
        response.headers["retry-after"] = f"{retry_after:g}"
        return response

    def now(self) -> datetime:
        """The vendor's "now": the configured instant, else the real UTC clock."""
        return self.config.now if self.config.now is not None else datetime.now(UTC)

    def revision(self, day: date) -> int:
        """The revision of ``day``'s figures: ``config.revision`` for a day less than ``config.revised_days`` before
        the simulator's clock (today included), else 0 (a settled day is never restated)."""
        if not self.config.revision:
            return 0
        age = (self.now().date() - day).days
        return self.config.revision if 0 <= age < self.config.revised_days else 0

    def rng(self, *key: object) -> random.Random:
        """A generator fixed by the seed and ``key``: the same entity and day always get the same numbers."""
        text = "|".join([self.name, str(self.config.seed), *map(str, key)])
        return random.Random(int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big"))

    @staticmethod
    def basic_auth(request: SimRequest) -> tuple[str, str] | None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            username, _, password = base64.b64decode(token).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return username, password

    @staticmethod
    def bearer(request: SimRequest) -> str | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return token if scheme.lower() == "bearer" else None

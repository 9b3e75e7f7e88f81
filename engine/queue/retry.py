"""Which failed sync jobs the queue runs again, and when: retryable failures only, with exponential backoff.

A vendor that is down, slow or refusing for its rate limit, a network that drops, a destination or store database
that cannot be reached now: each may pass, so the job runs again after 3, 9, 27, 81 and 243 seconds (about six
minutes in all; the engine has already retried each request itself). A failure that another attempt cannot mend
(bad credentials, a mapping error, a row that breaks the schema, an unknown account) fails the job at once, so that
a person sees it instead of five identical failures.
"""

from __future__ import annotations

from collections.abc import Iterator

from procrastinate import BaseRetryStrategy, RetryDecision, RetryStrategy
from procrastinate.jobs import Job

from ..errors import (
    DeadlineExceededError,
    StoreError,
    TransportError,
    UnimeterError,
    VendorRateLimitError,
    VendorServerError,
    VendorTimeoutError,
)

MAX_ATTEMPTS = 5
EXPONENTIAL_WAIT_SECONDS = 3

RETRYABLE_CODES = frozenset(
    {
        VendorRateLimitError.code,
        VendorServerError.code,
        TransportError.code,
        VendorTimeoutError.code,
        DeadlineExceededError.code,
        StoreError.code,
        "sync_destination_error",  # unimeter.sync.warehouse.SyncDestinationError: the destination is unreachable
    }
)
"""The codes of the unimeter errors that may pass by themselves (a code, not a class: a sync's failed stream
reports only its error's code). A subclass with a code of its own is decided by that code."""
_RETRYABLE_OTHER: tuple[type[BaseException], ...] = (ConnectionError, TimeoutError)


def _chain(error: BaseException) -> Iterator[BaseException]:
    """``error`` and what it was raised from, as Python shows the chain (a ``from None`` ends it)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)


def retryable(error: BaseException) -> bool:
    """Whether ``error`` may pass by itself.

    The first unimeter error in the chain decides (each is classified on purpose: a vendor's 5xx may pass, its 401
    will not); other errors are looked through (a load step may wrap ours), except a dropped connection or a
    timeout, and a database's ``OperationalError`` (server gone, connection refused: psycopg's and DB-API's name
    for it, checked by name so that this module imports no driver).
    """
    for cause in _chain(error):
        verdict = getattr(cause, "retryable", None)
        if isinstance(verdict, bool):  # an error that knows (a sync job's failed streams: see .jobs)
            return verdict
        if isinstance(cause, UnimeterError):
            return cause.code in RETRYABLE_CODES  # a SecretKeyError, a StoreError too, has a code of its own
        if isinstance(cause, _RETRYABLE_OTHER) or type(cause).__name__ == "OperationalError":
            return True
    return False


class SyncRetryStrategy(BaseRetryStrategy):
    """Procrastinate's :class:`RetryStrategy` (its attempts and exponential wait) for retryable failures only."""

    def __init__(self, max_attempts: int = MAX_ATTEMPTS, exponential_wait: int = EXPONENTIAL_WAIT_SECONDS) -> None:
        self.backoff = RetryStrategy(max_attempts=max_attempts, exponential_wait=exponential_wait)

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if not retryable(exception):
            return None
        return self.backoff.get_retry_decision(exception=exception, job=job)


def sync_retry_strategy() -> SyncRetryStrategy:
    return SyncRetryStrategy()

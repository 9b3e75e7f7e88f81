"""Where an export's rows come from: a live query over the store's integrated accounts.

Each account is asked its integration's ``focus.queries`` (the reports whose rows are its billed money) over the
range, through the same pipeline as every other query (rows validated, money rows only kept by the mapping). A row
belongs to the range its charge period starts in, so an export of a range holds each row once, whichever report
or window brought it. Any vendor failure ends the export with that error: an export is whole or not written.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from ..errors import AccountNotFoundError, StoreError, UnknownIntegrationError
from ..run.pipeline import iter_pages
from ..spec import available_integrations
from ..spec.registry import load_integration
from ..store import Account, Store
from ..store.model import UnreadableAccount
from .mapping import focus_rows, focus_source

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class ExportRange:
    """The UTC days ``start`` through ``end``, both included (as the unified ``end_date`` reads a date)."""

    start: date
    end: date

    def params(self) -> dict[str, str]:
        return {"start_date": self.start.isoformat(), "end_date": self.end.isoformat()}

    def holds(self, moment: datetime) -> bool:
        return self.start <= moment.astimezone(UTC).date() <= self.end


def parse_day(text: str, option: str) -> date:
    if not _DATE.fullmatch(text):
        raise ValueError(f"{option} {text!r} is not a date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise ValueError(f"{option} {text!r} is not a date: {error}") from None


def export_range(start: str | None, end: str | None, today: date) -> ExportRange:
    """The range of ``--start``/``--end``; by default the current calendar month through today (UTC)."""
    first = parse_day(start, "--start") if start is not None else None
    last = parse_day(end, "--end") if end is not None else None
    if first is None:
        first = (last or today).replace(day=1)
    if last is None:
        last = today
        if first > last:
            raise ValueError(f"--start {first.isoformat()} is after today ({last.isoformat()}, the default --end)")
    if first > last:
        raise ValueError(f"--start {first.isoformat()} is after --end {last.isoformat()}")
    return ExportRange(first, last)


def select_accounts(
    store: Store,
    *,
    integrations: Sequence[str] = (),
    account_ids: Sequence[str] = (),
    environment: str | None = None,
) -> list[Account]:
    """The accounts to export: those named, or every account of the integrations named, or every account (of the
    environment, when given). An account that is named but missing or unreadable is an error, never skipped."""
    unknown = sorted(set(integrations) - set(available_integrations()))
    if unknown:
        raise UnknownIntegrationError(
            f"unknown integration {unknown[0]!r}; available: {', '.join(available_integrations())}",
            integration=unknown[0],
        )
    listed = store.list_accounts(environment)
    by_id = {str(account.id): account for account in listed}
    if account_ids:
        chosen = []
        for account_id in account_ids:
            found = by_id.get(account_id)
            if found is None:
                where = f" in environment {environment!r}" if environment else ""
                raise AccountNotFoundError(f"no account {account_id!r}{where}", account_id=account_id)
            chosen.append(found)
    else:
        chosen = [account for account in listed if not integrations or account.integration in integrations]
    unreadable = [account for account in chosen if isinstance(account, UnreadableAccount)]
    if unreadable:
        bad = unreadable[0]
        raise StoreError(f"account {bad.id} cannot be read: {bad.error}", account_id=bad.id)
    accounts = [account for account in chosen if isinstance(account, Account)]
    if not accounts:
        what = f" of {', '.join(integrations)}" if integrations else ""
        where = f" in environment {environment!r}" if environment else ""
        raise AccountNotFoundError(f"no integrated accounts{what}{where} to export")
    return accounts


async def live_focus_rows(
    accounts: Sequence[Account], span: ExportRange, *, now: datetime | None = None, **options: Any
) -> AsyncIterator[tuple[Account, list[dict[str, Any]]]]:
    """Each vendor page's FOCUS rows, with the account they were read through. ``options`` go to the pipeline's
    QueryOptions (a transport, a rate limiter), for tests and the sandbox."""
    for account in accounts:
        spec = load_integration(account.integration)
        source = focus_source(spec, str(account.id))
        seen: set[str] = set()  # a row two of the account's queries both make counts once
        for query in source.focus.queries:
            params: Mapping[str, Any] = {**query, **span.params()}
            async for page in iter_pages(
                spec,
                credentials=account.credentials,
                context=account.context,
                params=params,
                now=now,
                keep_remote_data=False,
                **options,
            ):
                lines: list[dict[str, Any]] = []
                for row in page.rows:
                    if row["id"] in seen:
                        continue
                    seen.add(row["id"])
                    lines.extend(line for line in focus_rows(row, source) if span.holds(line["ChargePeriodStart"]))
                yield account, lines

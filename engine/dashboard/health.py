"""Each integrated account's health for the dashboard: the store's status and the sync state of each of its reports.

The store says whether the account works (``active``, or ``needs_reauth`` once the vendor refused its credentials,
or unreadable); the destination's ``_unimeter_sync_state`` says when each report was last synced, how it went and
its last error (written without secrets by the sync). Each problem comes with what to do about it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..synced import SCHEMA, SyncedReader
from .figures import instant

STATE = f"{SCHEMA}._unimeter_sync_state"
STATE_COLUMNS = (
    "integrated_account_id",
    "report",
    "status",
    "last_run_at",
    "last_success_at",
    "last_error",
    "last_rows",
    "high_water_mark",
)


def _instant(value: Any) -> str | None:
    if isinstance(value, datetime):
        return instant(value)
    return None if value is None else str(value)


def sync_states(reader: SyncedReader, environment: str) -> dict[str, list[dict[str, Any]]]:
    """The state rows of ``environment`` by account id; none when nothing was synced yet."""
    if "_unimeter_sync_state" not in reader.tables():
        return {}
    _, rows = reader.execute(
        f"SELECT {', '.join(STATE_COLUMNS)} FROM {STATE} WHERE environment = ? ORDER BY integrated_account_id, report",
        [environment],
    )
    states: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        state = dict(zip(STATE_COLUMNS, row, strict=True))
        account = str(state.pop("integrated_account_id"))
        for name in ("last_run_at", "last_success_at", "high_water_mark"):
            state[name] = _instant(state[name])
        state["last_rows"] = None if state["last_rows"] is None else int(state["last_rows"])
        states.setdefault(account, []).append(state)
    return states


def _advice(account: dict[str, Any], reports: list[dict[str, Any]], known: bool) -> str | None:
    """What to do, for an account that needs something done; None when it is healthy."""
    if account.get("error"):
        return (
            "its stored credentials cannot be read (was the secret key changed?): restore the key, or delete the "
            f"account and add it again (unimeter accounts delete {account['id']} "
            f"--environment {account['environment']})"
        )
    if account.get("status") == "needs_reauth":
        return (
            "the vendor refused its credentials: give new ones with unimeter accounts update "
            f"{account['id']} --environment {account['environment']} --credential NAME=VALUE "
            "(or PATCH /integrated-accounts/{id}), then sync again"
        )
    if not reports:
        if not known:
            return None
        return f"never synced: run unimeter sync --account {account['id']}"
    failed = [report for report in reports if report["status"] == "failed"]
    if failed:
        return (
            f"{len(failed)} report(s) failing; the last error says why. Fix it, then run "
            f"unimeter sync --account {account['id']}"
        )
    return None


def account_health(
    accounts: list[Any], states: dict[str, list[dict[str, Any]]], *, known: bool = True
) -> list[dict[str, Any]]:
    """One entry per account of the environment (store order): status, reports, last sync and error, advice.
    ``known`` False: the sync state could not be read, so no account is called never synced."""
    health = []
    for account in accounts:
        public = account.to_public()
        account_id = str(public["id"])
        reports = states.get(account_id, [])
        runs = [report["last_run_at"] for report in reports if report["last_run_at"]]
        successes = [report["last_success_at"] for report in reports if report["last_success_at"]]
        # A skipped report's reason (credentials that cannot read it) is in its entry, not the account's error.
        errors = [report for report in reports if report["last_error"] and report["status"] == "failed"]
        health.append(
            {
                "id": account_id,
                "integration": public["integration"],
                "environment": public["environment"],
                "status": "unreadable" if public.get("error") else public.get("status"),
                "error": public.get("error"),
                "last_run_at": max(runs) if runs else None,
                "last_success_at": max(successes) if successes else None,
                "last_error": errors[-1]["last_error"] if errors else None,
                "reports": reports,
                "advice": _advice(public, reports, known),
            }
        )
    return health

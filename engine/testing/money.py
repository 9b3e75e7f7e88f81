"""The money contract (docs/money.md), checked on unified rows: what ``unimeter check`` holds every case to.

An operation declares what its money is (``money: billed | estimated | list_price | none``); each row it makes must
then add up on its own: one ``net`` per row with billed or estimated money, ``discount`` and ``credit`` never
positive, ``total + discount + credit + tax = net`` exactly whenever the row states a ``total``, one charge per
type and one currency per row. Σ``net`` over a result is then the vendor's bill, which the sandbox invoices test.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

MONEY_KINDS = ("billed", "estimated", "list_price", "none")
_REDUCTIONS = ("discount", "credit")
_SUMMANDS = ("total", "discount", "credit", "tax")


def _amount(charge: dict[str, Any]) -> Decimal:
    return Decimal(repr(charge["amount"])) if isinstance(charge["amount"], float) else Decimal(charge["amount"])


def money_problems(row: dict[str, Any], money: str, operation: str) -> list[str]:
    """What is wrong with one row's charges under its operation's ``money`` declaration (empty: nothing)."""
    charges: list[dict[str, Any]] = row.get("charges") or []
    where = f"row {row.get('id')!r} (operation {operation}, money: {money})"
    if not charges:
        return []
    if money == "none":
        return [
            f"{where} has charges, but its operation declares no money: declare money: billed, estimated or "
            "list_price on the operation (docs/money.md)"
        ]
    problems: list[str] = []
    by_type: dict[str, Decimal] = {}
    for kind, count in Counter(c.get("type") for c in charges).items():
        if count > 1:
            problems.append(f"{where} has {count} {kind!r} charges: one per type (distinct concepts are never merged)")
    for charge in charges:
        if "type" in charge and "amount" in charge:
            by_type.setdefault(charge["type"], _amount(charge))
    currencies = {c.get("currency") for c in charges}
    if len(currencies) > 1:
        problems.append(f"{where} mixes currencies {sorted(map(str, currencies))}")
    for kind in _REDUCTIONS:
        if by_type.get(kind, Decimal(0)) > 0:
            problems.append(f"{where}: {kind} {by_type[kind]} is positive; discounts and credits are negative")
    if money == "list_price":
        for kind in ("net", *_REDUCTIONS):
            if kind in by_type:
                problems.append(f"{where}: a list-price illustration has no {kind!r} charge (nothing is billed)")
        return problems
    if "net" not in by_type:
        problems.append(f"{where} has charges but no 'net': every row with money has exactly one net")
        return problems
    if "total" in by_type:
        parts = sum((by_type.get(kind, Decimal(0)) for kind in _SUMMANDS), Decimal(0))
        if parts != by_type["net"]:
            problems.append(f"{where}: total + discount + credit + tax = {parts}, but net is {by_type['net']}")
    return problems

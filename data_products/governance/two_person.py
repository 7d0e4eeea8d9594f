"""The four-eyes rule, shared by every decision that needs two people (releases here; research
outputs in the analyses airlock): the requester never approves, and an approval counts only from
an approver who has not approved the same thing already.

Usernames are compared by their account key (NFKC, case-folded), so "Official" and "official" are
one person, as they are one account.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from data_products.governance.accounts import username_key

REQUIRED = 2


class FourEyesError(ValueError):
    """An approval the four-eyes rule does not count; the message says why."""


def _key(name: str) -> str:
    return username_key(unicodedata.normalize("NFKC", name).strip())


def check_approver(approver: str, *, approved_by: Iterable[str] = (), requested_by: Iterable[str] = ()) -> None:
    """Raise ``FourEyesError`` if ``approver`` requested the thing or has already approved it."""
    key = _key(approver)
    if key in {_key(r) for r in requested_by if r}:
        raise FourEyesError(f"{approver!r} requested this and cannot also approve it; another official must")
    if key in {_key(a) for a in approved_by if a}:
        raise FourEyesError(f"{approver!r} has already approved this; a second, different official must approve")


def distinct(approvers: Iterable[str]) -> list[str]:
    """The approvers in order, each person once."""
    seen: set[str] = set()
    out = []
    for name in approvers:
        if _key(name) not in seen:
            seen.add(_key(name))
            out.append(name)
    return out


def complete(approvers: Iterable[str], required: int = REQUIRED) -> bool:
    """Whether ``approvers`` holds ``required`` different people."""
    return len(distinct(approvers)) >= required

"""Release approvals: which candidate release of a product was approved, by which two commission
officials, with its content hash and lineage. Written by `dataspace approve`; each sign-off and the
approval are ledger entries.

A release needs two different officials (``two_person``). The first sign-off is recorded and waits;
the second records the approval itself, in the same transaction, and the caller then publishes.
The approval's ledger entry is the head that the published release carries in its metadata.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from data_products.governance import ledger, policy, two_person
from data_products.governance.accounts import Principal, check_session
from data_products.governance.policy import products
from data_products.governance.store import GovernanceStore, Tx, from_db, resolve, to_db, utcnow


class ReleaseError(ValueError):
    pass


@dataclass(frozen=True)
class ReleaseApproval:
    id: int
    release_id: str
    product_id: str
    content_hash: str
    approved_by: str  # the approvers, comma-separated, in the order they signed
    approved_at: datetime
    lineage: Any
    audit_seq: int | None = None
    audit_hash: str | None = None

    @property
    def approvers(self) -> list[str]:
        return [a.strip() for a in self.approved_by.split(",") if a.strip()]


@dataclass(frozen=True)
class SignOff:
    release_id: str
    product_id: str
    content_hash: str
    username: str
    os_user: str | None
    at: datetime


@dataclass(frozen=True)
class SignOffResult:
    signoffs: list[SignOff]
    approval: ReleaseApproval | None  # set once two different officials signed


def _field(value: object, name: str, limit: int = 256) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ReleaseError(f"{name}: must be non-empty text")
    if len(value) > limit:
        raise ReleaseError(f"{name}: {len(value)} characters, at most {limit} allowed")
    return value.strip()


def _signoffs(tx: Tx | GovernanceStore, release_id: str, product_id: str) -> list[SignOff]:
    rows = tx.all if isinstance(tx, Tx) else tx.query
    return [SignOff(r["release_id"], r["product_id"], r["content_hash"], r["username"], r["os_user"], from_db(r["at"]))
            for r in rows("SELECT * FROM release_signoffs WHERE release_id = ? AND product_id = ? ORDER BY id",
                          (release_id, product_id))]


def signoffs(release_id: str, product_id: str, *, store: GovernanceStore | None = None) -> list[SignOff]:
    return _signoffs(resolve(store), release_id, product_id)


def approval_of(release_id: str, product_id: str, *, store: GovernanceStore | None = None) -> ReleaseApproval | None:
    store = resolve(store)
    row = store.one("SELECT * FROM release_approvals WHERE release_id = ? AND product_id = ?", (release_id, product_id))
    return None if row is None else _with_audit(store, _approval(row))


def official(approver: Principal, *, store: GovernanceStore | None = None) -> str:
    """The username of a signed-in, active commission official, or ``ReleaseError``. A bare name
    is refused: whoever approves has proved who they are (``accounts.sign_in``)."""
    if not isinstance(approver, Principal):
        raise ReleaseError(f"approver: a signed-in commission official is required, not {type(approver).__name__} "
                           f"{approver!r}")
    with resolve(store).write() as tx:
        check = check_session(tx, approver, utcnow(), touch=True)
        if not check.ok:
            raise ReleaseError(f"session: {check.reason}; sign in again")
        row = check.row
        ok, _ = policy.allowed(policy.actor_of(row), "release.approve")
        if not ok:
            raise ReleaseError(f"{check.row['username']!r} is a {check.row['role']}; only commission officials "
                               "approve releases")
        return check.row["username"]


def sign_off(approver: Principal, release_id: str, product_id: str, content_hash: str, lineage: Any, *,
             os_user: str | None = None, may_complete: bool = True, before_commit: Callable[[], None] | None = None,
             now: datetime | None = None, store: GovernanceStore | None = None) -> SignOffResult:
    """Record ``approver``'s sign-off on a release. The second different official's sign-off also
    records the approval (only when ``may_complete``: the caller has the release file in place).
    Signing a release that is already approved returns its approval unchanged."""
    release_id = _field(release_id, "release_id")
    content_hash = _field(content_hash, "content_hash")
    if product_id not in products():
        raise ReleaseError(f"product_id: unknown product {product_id!r}")
    try:
        lineage_text = ledger.canonical_json(lineage)
    except (TypeError, ValueError) as exc:
        raise ReleaseError(f"lineage: not JSON-serialisable ({exc})") from None
    store = resolve(store)
    now = now or utcnow()
    with store.write() as tx:
        check = check_session(tx, approver, now, touch=True)
        if not check.ok:
            raise ReleaseError(f"session: {check.reason}; sign in again")
        who = check.row
        if who["role"] != "commission_official":
            raise ReleaseError(f"{who['username']!r} is a {who['role']}; only commission officials approve releases")
        row = tx.one("SELECT * FROM release_approvals WHERE release_id = ? AND product_id = ?", (release_id, product_id))
        if row is not None:
            if row["content_hash"] != content_hash:
                raise ReleaseError(f"release {release_id} of {product_id} was approved with hash {row['content_hash']}, "
                                   f"not {content_hash}")
            return SignOffResult(_signoffs(tx, release_id, product_id), _with_audit(tx, _approval(row)))
        before = _signoffs(tx, release_id, product_id)
        for s in before:
            if s.content_hash != content_hash:
                raise ReleaseError(f"release {release_id} was signed by {s.username} with hash {s.content_hash}, "
                                   f"not {content_hash}: its file changed between the two sign-offs")
        try:
            two_person.check_approver(who["username"], approved_by=[s.username for s in before])
        except two_person.FourEyesError as exc:
            raise ReleaseError(str(exc)) from None
        names = [*(s.username for s in before), who["username"]]
        completes = two_person.complete(names)
        if completes and not may_complete:
            raise ReleaseError(f"release {release_id}: this sign-off would complete the approval, but the release "
                               "is not ready to publish")
        stamp = to_db(now)
        audit = {"os_user": os_user, "via": "cli" if os_user else "app"}
        tx.insert("INSERT INTO release_signoffs (release_id, product_id, content_hash, username, os_user, at)"
                  " VALUES (?, ?, ?, ?, ?, ?)", (release_id, product_id, content_hash, who["username"], os_user, stamp))
        ledger.append(tx, who["username"], "release.signoff", product_id,
                      {"release_id": release_id, "content_hash": content_hash, "signoff": len(names),
                       "of": two_person.REQUIRED, **audit})
        approval = None
        if completes:
            approved_by = ", ".join(two_person.distinct(names))
            rid = tx.insert(
                "INSERT INTO release_approvals (release_id, product_id, content_hash, approved_by, approved_at, lineage)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (release_id, product_id, content_hash, approved_by, stamp, lineage_text),
            )
            seq = ledger.append(tx, who["username"], "release.approve", product_id,
                                {"release_id": release_id, "content_hash": content_hash, "approval_id": rid,
                                 "approvers": two_person.distinct(names), **audit})
            digest = tx.one("SELECT hash FROM ledger WHERE seq = ?", (seq,))["hash"]
            approval = ReleaseApproval(rid, release_id, product_id, content_hash, approved_by, from_db(stamp),
                                       json.loads(lineage_text), seq, digest)
        if before_commit is not None:
            before_commit()
        return SignOffResult(_signoffs(tx, release_id, product_id), approval)


def record_approval(release_id: str, product_id: str, content_hash: str, approvers: tuple[Principal, Principal],
                    lineage: Any, *, store: GovernanceStore | None = None) -> ReleaseApproval:
    """Both sign-offs at once (for tests and scripts that hold two signed-in officials)."""
    result = None
    for p in approvers:
        result = sign_off(p, release_id, product_id, content_hash, lineage, store=store)
    assert result is not None
    if result.approval is None:
        raise ReleaseError(f"release {release_id}: two different officials are needed")
    return result.approval


def _approval(row) -> ReleaseApproval:
    return ReleaseApproval(row["id"], row["release_id"], row["product_id"], row["content_hash"], row["approved_by"],
                           from_db(row["approved_at"]), json.loads(row["lineage"]))


def _with_audit(tx: Tx | GovernanceStore, a: ReleaseApproval) -> ReleaseApproval:
    """The approval with its ledger entry (the head its published release carries)."""
    query = tx.query if isinstance(tx, GovernanceStore) else tx.all
    rows = query("SELECT seq, hash, detail FROM ledger WHERE action = 'release.approve' AND target = ? ORDER BY seq DESC",
                 (a.product_id,))
    for row in rows:
        if json.loads(row["detail"]).get("approval_id") == a.id:
            return ReleaseApproval(a.id, a.release_id, a.product_id, a.content_hash, a.approved_by, a.approved_at,
                                   a.lineage, row["seq"], row["hash"])
    return a


def approvals(product_id: str | None = None, *, store: GovernanceStore | None = None) -> list[ReleaseApproval]:
    """Approvals of one product (or all), newest first."""
    store = resolve(store)
    if product_id is None:
        rows = store.query("SELECT * FROM release_approvals ORDER BY id DESC")
    else:
        rows = store.query("SELECT * FROM release_approvals WHERE product_id = ? ORDER BY id DESC", (product_id,))
    return [_approval(r) for r in rows]

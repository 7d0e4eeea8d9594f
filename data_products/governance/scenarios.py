"""Usage scenarios (一场景一授权) and company orders.

A scenario grants one organisation one product for one purpose, one time window and a scope of
actions. Applied scenarios go pending -> approved | rejected (by a commission official, with a
reason); an approved one is active only inside [valid_from, valid_to) and can be revoked; the
applicant may withdraw a pending one. Standing scenarios (the commission for every product, a
hospital for the facility-level products and for a product built from its own data) live in the same
table with kind='standing', open-ended, created by ``ensure_standing`` or when an organisation is added.

A company's application is an order: pending_approval -> active when the scenario is approved,
cancelled when it is rejected, revoked or withdrawn.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from data_products.governance import ledger, policy, two_person
from data_products.governance.accounts import AccountError, Principal, check_session, normalize_username, username_key
from data_products.governance.policy import ACTIONS, products
from data_products.governance.standing import grant_standing
from data_products.governance.store import GovernanceStore, Tx, as_utc, from_db, resolve, to_db, utcnow

MAX_TEXT = 2000


class ScenarioError(ValueError):
    """A scenario operation that is not allowed or has bad input; the message says which."""


@dataclass(frozen=True)
class Scenario:
    id: int
    org_id: int
    org_name: str
    org_type: str
    product_id: str
    kind: str
    purpose: str
    scope: tuple[str, ...]
    valid_from: datetime
    valid_to: datetime | None
    state: str
    order_id: int | None
    order_state: str | None
    applied_by: str
    applied_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None
    revoked_by: str | None
    revoked_at: datetime | None
    revoke_reason: str | None

    def status(self, now: datetime | None = None) -> str:
        """pending | rejected | revoked | withdrawn | not_yet_valid | expired | active."""
        if self.state != "approved":
            return self.state
        now = now or utcnow()
        if now < self.valid_from:
            return "not_yet_valid"
        if self.valid_to is not None and now >= self.valid_to:
            return "expired"
        return "active"


@dataclass(frozen=True)
class Order:
    id: int
    org_id: int
    org_name: str
    product_id: str
    state: str
    placed_at: datetime
    updated_at: datetime
    scenario_id: int | None


_SCENARIO_SQL = (
    "SELECT s.*, o.name AS org_name, o.type AS org_type, r.state AS order_state FROM scenarios s"
    " JOIN orgs o ON o.id = s.org_id LEFT JOIN orders r ON r.id = s.order_id"
)


def _scenario(row) -> Scenario:
    return Scenario(
        id=row["id"], org_id=row["org_id"], org_name=row["org_name"], org_type=row["org_type"],
        product_id=row["product_id"], kind=row["kind"], purpose=row["purpose"],
        scope=tuple(a for a in row["scope"].split(",") if a), valid_from=from_db(row["valid_from"]),
        valid_to=from_db(row["valid_to"]), state=row["state"], order_id=row["order_id"],
        order_state=row["order_state"], applied_by=row["applied_by"], applied_at=from_db(row["applied_at"]),
        decided_by=row["decided_by"], decided_at=from_db(row["decided_at"]), decision_reason=row["decision_reason"],
        revoked_by=row["revoked_by"], revoked_at=from_db(row["revoked_at"]), revoke_reason=row["revoke_reason"],
    )


def ensure_standing(store: GovernanceStore | None = None, *, actor: str = "system") -> int:
    """Idempotent: grant every organisation its standing scenarios; returns how many were created."""
    store = resolve(store)
    with store.write() as tx:
        return sum(grant_standing(tx, row["id"], actor=actor) for row in tx.all("SELECT id FROM orgs ORDER BY id"))


def _text(value: object, field: str, *, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise ScenarioError(f"{field}: expected text, got {type(value).__name__}")
    text = unicodedata.normalize("NFC", value.strip())
    if required and not text:
        raise ScenarioError(f"{field}: must not be empty")
    if len(text) > MAX_TEXT:
        raise ScenarioError(f"{field}: {len(text)} characters, at most {MAX_TEXT} allowed")
    if "\x00" in text:  # no engine should be handed it (PostgreSQL's text cannot hold it)
        raise ScenarioError(f"{field}: contains a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ScenarioError(f"{field}: contains characters that are not valid Unicode text") from None
    return text


def parse_scope(scope: str | Iterable[str]) -> tuple[str, ...]:
    items = scope.split(",") if isinstance(scope, str) else list(scope)
    actions = {str(a).strip() for a in items if str(a).strip()}
    unknown = actions - set(ACTIONS)
    if unknown or not actions:
        raise ScenarioError(f"scope: {sorted(unknown) or 'empty'} — choose from {ACTIONS}")
    # Whoever may download a product may also look at it.
    actions.add("view")
    return tuple(a for a in ACTIONS if a in actions)


def _live(tx: Tx, principal: Principal, now: datetime):
    check = check_session(tx, principal, now, touch=True)
    if not check.ok:
        raise ScenarioError(f"session: {check.reason}; sign in again")
    return check.row


def apply(principal: Principal, product_id: str, purpose: str, valid_from: date | datetime,
          valid_to: date | datetime, scope: str | Iterable[str] = ("view",), *, now: datetime | None = None,
          store: GovernanceStore | None = None) -> Scenario:
    """Apply for a scenario; for a company this places an order. Dates are Guangzhou calendar days,
    ``valid_to`` inclusive."""
    store = resolve(store)
    now = now or utcnow()
    if product_id not in products():
        raise ScenarioError(f"product: unknown product {product_id!r}")
    purpose = _text(purpose, "purpose")
    actions = parse_scope(scope)
    if "export" in actions:
        raise ScenarioError("scope: export is for service principals (the commission files their scenarios)")
    start, end = as_utc(valid_from), as_utc(valid_to, end_of_day=True)
    if start is None or end is None:
        raise ScenarioError("valid_from/valid_to: both are required")
    if end <= start:
        raise ScenarioError(f"valid_to: {valid_to} is not after valid_from {valid_from}")
    if end <= now:
        raise ScenarioError(f"valid_to: {valid_to} is already past")
    with store.write() as tx:
        who = _live(tx, principal, now)
        ok, why = policy.allowed(policy.actor_of(who), "scenario.apply", product_id)
        if not ok:
            raise ScenarioError({
                "not_eligible": f"org: a {who['org_type']} cannot apply for {product_id}",
                "role": f"role: a {who['role']} does not apply for scenarios",
                "standing": f"product: {who['org_name']} holds a standing scenario for {product_id}",
            }.get(why, f"product: {why}"))
        if tx.one("SELECT 1 FROM scenarios WHERE org_id = ? AND product_id = ? AND state = 'pending'",
                  (who["org_id"], product_id)) is not None:
            raise ScenarioError(f"product: {who['org_name']} already has a pending application for {product_id}")
        stamp = to_db(now)
        order_id = None
        if who["org_type"] == "company":
            order_id = tx.insert(
                "INSERT INTO orders (org_id, product_id, state, placed_by, placed_at, updated_at)"
                " VALUES (?, ?, 'pending_approval', ?, ?, ?)",
                (who["org_id"], product_id, who["user_id"], stamp, stamp),
            )
        sid = tx.insert(
            "INSERT INTO scenarios (org_id, product_id, kind, purpose, scope, valid_from, valid_to, state, order_id,"
            " applied_by, applied_at) VALUES (?, ?, 'applied', ?, ?, ?, ?, 'pending', ?, ?, ?)",
            (who["org_id"], product_id, purpose, ",".join(actions), to_db(start), to_db(end), order_id,
             who["username"], stamp),
        )
        if order_id is not None:
            ledger.append(tx, who["username"], "order.place", product_id, {"order_id": order_id, "scenario_id": sid})
        ledger.append(tx, who["username"], "scenario.apply", product_id, {
            "scenario_id": sid, "org_id": who["org_id"], "purpose": purpose, "scope": list(actions),
            "valid_from": to_db(start), "valid_to": to_db(end), "order_id": order_id,
        })
        return _scenario(tx.one(_SCENARIO_SQL + " WHERE s.id = ?", (sid,)))


order = apply  # a company's application is its order; the name reads better on a catalog page


def apply_for_service(official: Principal, service: str, product_id: str, purpose: str,
                      valid_from: date | datetime, valid_to: date | datetime, *, now: datetime | None = None,
                      store: GovernanceStore | None = None) -> Scenario:
    """File the export scenario of a service principal (a system outside the space never signs in, so a
    commission official files it); it lands pending and is decided like any other application."""
    store = resolve(store)
    now = now or utcnow()
    if product_id not in products():
        raise ScenarioError(f"product: unknown product {product_id!r}")
    purpose = _text(purpose, "purpose")
    start, end = as_utc(valid_from), as_utc(valid_to, end_of_day=True)
    if start is None or end is None or end <= start:
        raise ScenarioError("valid_from/valid_to: a window that ends after it starts is required")
    with store.write() as tx:
        who = _official(tx, official, now)
        try:
            key = username_key(normalize_username(service))
        except AccountError as exc:
            raise ScenarioError(f"service: {exc}") from None
        row = tx.one("SELECT u.username, u.role, u.org_id FROM users u WHERE u.username_key = ?", (key,))
        if row is None or row["role"] != "service":
            raise ScenarioError(f"service: {service!r} is not a service principal")
        stamp = to_db(now)
        sid = tx.insert(
            "INSERT INTO scenarios (org_id, product_id, kind, purpose, scope, valid_from, valid_to, state, order_id,"
            " applied_by, applied_at) VALUES (?, ?, 'applied', ?, 'export', ?, ?, 'pending', NULL, ?, ?)",
            (row["org_id"], product_id, purpose, to_db(start), to_db(end), who, stamp),
        )
        ledger.append(tx, who, "scenario.apply", product_id, {
            "scenario_id": sid, "org_id": row["org_id"], "service": row["username"], "purpose": purpose,
            "scope": ["export"], "valid_from": to_db(start), "valid_to": to_db(end), "order_id": None,
        })
        return _scenario(tx.one(_SCENARIO_SQL + " WHERE s.id = ?", (sid,)))


def _official(tx: Tx, approver: Principal, now: datetime) -> str:
    """The acting commission official's username. Only a signed-in principal acts: the command
    line signs its user in first, so nobody decides under a name they merely typed."""
    if not isinstance(approver, Principal):
        raise ScenarioError(f"official: a signed-in commission official is required, not {type(approver).__name__} "
                            f"{approver!r}")
    row = _live(tx, approver, now)
    ok, _ = policy.allowed(policy.actor_of(row), "scenario.decide")
    if not ok:
        raise ScenarioError(f"official: {row['username']!r} is a {row['role']}, only a commission_official decides")
    return row["username"]


def _get(tx: Tx, scenario_id: int):
    row = tx.one(_SCENARIO_SQL + " WHERE s.id = ?", (int(scenario_id),))
    if row is None:
        raise ScenarioError(f"scenario: no scenario {scenario_id}")
    return row


def _set_order(tx: Tx, row, state: str, stamp: str, actor: str) -> None:
    if row["order_id"] is not None and row["order_state"] != state:
        tx.execute("UPDATE orders SET state = ?, updated_at = ? WHERE id = ?", (state, stamp, row["order_id"]))
        ledger.append(tx, actor, f"order.{state}", row["product_id"],
                      {"order_id": row["order_id"], "scenario_id": row["id"]})


def _transition(approver: Principal, scenario_id: int, *, frm: str, to: str, action: str, order_state: str,
                reason: str, columns: tuple[str, str, str], now: datetime | None,
                store: GovernanceStore | None, check=None, os_user: str | None = None) -> Scenario:
    """One official decision on a scenario: state change, ledger entry and order state, in one transaction."""
    store = resolve(store)
    now = now or utcnow()
    via = "cli" if os_user else "app"
    with store.write() as tx:
        who = _official(tx, approver, now)
        row = _get(tx, scenario_id)
        if to == "approved":
            try:
                two_person.check_approver(who, requested_by=[row["applied_by"]])
            except two_person.FourEyesError as exc:
                raise ScenarioError(f"scenario {scenario_id}: {exc}") from None
        if row["state"] != frm:
            article = "an" if frm[0] in "aeiou" else "a"
            raise ScenarioError(f"scenario {scenario_id}: is {row['state']}, only {article} {frm} one can be {to}")
        if check is not None:
            check(row, now)
        stamp = to_db(now)
        by, at, why = columns  # fixed column names from the callers below, never user input
        tx.execute(f"UPDATE scenarios SET state = ?, {by} = ?, {at} = ?, {why} = ? WHERE id = ?",  # noqa: S608
                   (to, who, stamp, reason, row["id"]))
        ledger.append(tx, who, action, row["product_id"],
                      {"scenario_id": row["id"], "org_id": row["org_id"], "reason": reason, "via": via,
                       **({"os_user": os_user} if os_user else {})})
        _set_order(tx, row, order_state, stamp, who)
        return _scenario(_get(tx, row["id"]))


_DECIDED = ("decided_by", "decided_at", "decision_reason")


def _window_open(row, now: datetime) -> None:
    if row["valid_to"] is not None and from_db(row["valid_to"]) <= now:
        raise ScenarioError(f"scenario {row['id']}: its window ended before approval; reject it instead")


def approve(approver: Principal, scenario_id: int, reason: str = "", *, now: datetime | None = None,
            os_user: str | None = None, store: GovernanceStore | None = None) -> Scenario:
    """Approve a pending application; never by the person who applied (``two_person``)."""
    return _transition(approver, scenario_id, frm="pending", to="approved", action="scenario.approve",
                       order_state="active", reason=_text(reason, "reason", required=False), columns=_DECIDED,
                       now=now, store=store, check=_window_open, os_user=os_user)


def reject(approver: Principal, scenario_id: int, reason: str, *, now: datetime | None = None,
           os_user: str | None = None, store: GovernanceStore | None = None) -> Scenario:
    return _transition(approver, scenario_id, frm="pending", to="rejected", action="scenario.reject",
                       order_state="cancelled", reason=_text(reason, "reason"), columns=_DECIDED, now=now, store=store,
                       os_user=os_user)


def revoke(approver: Principal, scenario_id: int, reason: str, *, now: datetime | None = None,
           os_user: str | None = None, store: GovernanceStore | None = None) -> Scenario:
    """Withdraw an approved scenario (standing or applied) before its window ends."""
    return _transition(approver, scenario_id, frm="approved", to="revoked", action="scenario.revoke",
                       order_state="cancelled", reason=_text(reason, "reason"),
                       columns=("revoked_by", "revoked_at", "revoke_reason"), now=now, store=store, os_user=os_user)


def withdraw(principal: Principal, scenario_id: int, reason: str = "", *, now: datetime | None = None,
             store: GovernanceStore | None = None) -> Scenario:
    """The applicant's organisation withdraws its pending application or gives up an approved
    scenario (a company thereby cancels its order)."""
    store = resolve(store)
    now = now or utcnow()
    reason = _text(reason, "reason", required=False)
    with store.write() as tx:
        who = _live(tx, principal, now)
        row = _get(tx, scenario_id)
        if row["org_id"] != who["org_id"] or row["kind"] != "applied":
            raise ScenarioError(f"scenario {scenario_id}: not an application of {who['org_name']}")
        if row["state"] not in ("pending", "approved"):
            raise ScenarioError(f"scenario {scenario_id}: is {row['state']}, nothing to withdraw")
        stamp = to_db(now)
        if row["state"] == "pending":
            tx.execute("UPDATE scenarios SET state = 'withdrawn', decided_by = ?, decided_at = ?, decision_reason = ?"
                       " WHERE id = ?", (who["username"], stamp, reason, row["id"]))
        else:
            tx.execute("UPDATE scenarios SET state = 'revoked', revoked_by = ?, revoked_at = ?, revoke_reason = ?"
                       " WHERE id = ?", (who["username"], stamp, reason or "withdrawn by applicant", row["id"]))
        ledger.append(tx, who["username"], "scenario.withdraw", row["product_id"],
                      {"scenario_id": row["id"], "from_state": row["state"], "reason": reason})
        _set_order(tx, row, "cancelled", stamp, who["username"])
        return _scenario(_get(tx, row["id"]))


def cancel_order(principal: Principal, order_id: int, reason: str = "", *, now: datetime | None = None,
                 store: GovernanceStore | None = None) -> Scenario:
    store = resolve(store)
    row = store.one("SELECT id FROM scenarios WHERE order_id = ?", (int(order_id),))
    if row is None:
        raise ScenarioError(f"order: no order {order_id}")
    return withdraw(principal, row["id"], reason, now=now, store=store)


def scenarios(*, org_id: int | None = None, product_id: str | None = None, state: str | None = None,
              kind: str | None = None, store: GovernanceStore | None = None) -> list[Scenario]:
    """Scenarios, newest first, filtered by any of the given fields (``state`` is the stored state;
    use ``Scenario.status(now)`` for active/expired)."""
    clauses, params = [], []
    for column, value in (("s.org_id", org_id), ("s.product_id", product_id), ("s.state", state), ("s.kind", kind)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    # Column names come from the fixed tuple above; values are parameters.
    rows = resolve(store).query(_SCENARIO_SQL + where + " ORDER BY s.id DESC", params)
    return [_scenario(r) for r in rows]


def pending(store: GovernanceStore | None = None) -> list[Scenario]:
    """The commission's approval queue, oldest first."""
    return sorted(scenarios(state="pending", store=store), key=lambda s: s.id)


def orders(*, org_id: int | None = None, store: GovernanceStore | None = None) -> list[Order]:
    sql = ("SELECT r.*, o.name AS org_name, s.id AS scenario_id FROM orders r JOIN orgs o ON o.id = r.org_id"
           " LEFT JOIN scenarios s ON s.order_id = r.id")
    params: list[Any] = []
    if org_id is not None:
        sql += " WHERE r.org_id = ?"
        params.append(org_id)
    rows = resolve(store).query(sql + " ORDER BY r.id DESC", params)
    return [Order(r["id"], r["org_id"], r["org_name"], r["product_id"], r["state"], from_db(r["placed_at"]),
                  from_db(r["updated_at"]), r["scenario_id"]) for r in rows]

"""The administrators' audit report: who touched what, when, under which authorization.

The seed asks that the people who can touch the data are themselves audited regularly. This report
reads the ledger for one period and lists every action of an administrator (any commission account,
and the command line's OS accounts) and every administrative action by anyone: accounts, scenario
decisions, release sign-offs and approvals, unlocks, ledger exports, and the commission's own reads
of products. Each row says what authorised it.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from data_products.governance import ledger
from data_products.governance.store import LOCAL, GovernanceStore, resolve, utcnow

ADMIN_ACTIONS = ("user.", "org.", "scenario.approve", "scenario.reject", "scenario.revoke", "release.",
                 "audit.", "auth.unlock", "auth.locked")
COMMISSION_ROLES = ("commission_official", "commission_analyst")
# Routine, high-volume entries that are not an administrator touching anything.
SKIP = ("auth.sign_in", "auth.sign_out", "auth.sign_in_failed")


def _authorization(e: ledger.Entry, role: str | None) -> str:
    d = e.detail
    if e.action.startswith("gate.") or e.action == "download":
        scenario = d.get("scenario_id")
        return f"{d.get('reason', '')} scenario #{scenario}".strip() if scenario else str(d.get("reason", ""))
    if e.action == "release.approve":
        return "two sign-offs: " + ", ".join(d.get("approvers", []))
    if e.action == "release.signoff":
        return f"sign-off {d.get('signoff')} of {d.get('of')} as {role or 'commission_official'}"
    if d.get("bootstrap"):
        return "bootstrap: OS account before any commission official existed"
    if e.actor in ("system", "seed_demo") or e.actor.startswith("cli:"):
        return "the space itself" if e.actor == "system" else f"OS account {e.actor.removeprefix('cli:')}"
    return f"role {role}" if role else "no account"


def admin_report(since: datetime | None = None, until: datetime | None = None, *, check: bool = True,
                 store: GovernanceStore | None = None) -> dict:
    """Rows and a per-person summary for [since, until) (default: the last 30 days); with ``check``
    the ledger is verified first (``verified`` is None without)."""
    store = resolve(store)
    until = until or utcnow()
    since = since or until - timedelta(days=30)
    roles = {r["username"]: r["role"] for r in store.query("SELECT username, role FROM users")}
    rows = []
    offset = 0
    while True:
        batch = ledger.entries(since=since, until=until, limit=20_000, offset=offset, newest_first=False, store=store)
        for e in batch:
            role = roles.get(e.actor)
            admin = role in COMMISSION_ROLES or e.actor.startswith("cli:") or e.actor in ("system", "seed_demo")
            if e.action in SKIP or not (admin or e.action.startswith(ADMIN_ACTIONS)):
                continue
            rows.append({
                "seq": e.seq,
                "time": e.time.astimezone(LOCAL).strftime("%Y-%m-%d %H:%M:%S"),
                "actor": e.actor,
                "role": role or ("os_account" if e.actor.startswith("cli:") else e.actor),
                "os_user": e.detail.get("os_user") or "",
                "action": e.action,
                "target": e.target or "",
                "authorization": _authorization(e, role),
            })
        if len(batch) < 20_000:
            break
        offset += len(batch)
    summary = Counter((r["actor"], r["action"]) for r in rows)
    return {
        "since": since.astimezone(LOCAL).isoformat(timespec="seconds"),
        "until": until.astimezone(LOCAL).isoformat(timespec="seconds"),
        "verified": ledger.verify(store).ok if check else None,
        "rows": rows,
        "summary": [{"actor": a, "action": act, "count": n} for (a, act), n in sorted(summary.items())],
    }

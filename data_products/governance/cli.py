"""Plain functions behind `dataspace users ...`, `dataspace audit verify` and
`dataspace scenario ...`; the command line wires them with typer. Each returns an exit code."""

from __future__ import annotations

import getpass
import json as _json
import os
import sys

from data_products.governance import accounts, ledger, scenarios
from data_products.governance.store import LOCAL, GovernanceStore, resolve

PASSWORD_ENV = "DATASPACE_PASSWORD"


def cli_actor() -> str:
    """Who ran the command: the operating-system account, since the command line has no sign-in."""
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # noqa: BLE001 - getuser raises various errors in containers without a passwd entry
        return f"cli:uid{os.getuid()}"


def _password(password: str | None) -> str | None:
    if password:
        return password
    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV]
    if not sys.stdin.isatty():
        print(f"no password: set {PASSWORD_ENV} or run in a terminal", file=sys.stderr)
        return None
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Repeat password: "):
        print("passwords differ", file=sys.stderr)
        return None
    return first


def users_add(username: str, role: str, org: str, facility: str | None = None, password: str | None = None,
              *, store: GovernanceStore | None = None) -> int:
    """Add a user. The password comes from the argument, else $DATASPACE_PASSWORD, else a prompt."""
    pw = _password(password)
    if pw is None:
        return 2
    try:
        user_id = accounts.add_user(username, pw, role, org, facility=facility, actor=cli_actor(), store=store)
    except accounts.AccountError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"added user {accounts.normalize_username(username)} (id {user_id}, role {role}, org {org})")
    return 0


def users_disable(username: str, *, enable: bool = False, store: GovernanceStore | None = None) -> int:
    try:
        accounts.set_disabled(username, not enable, actor=cli_actor(), store=store)
    except accounts.AccountError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{'enabled' if enable else 'disabled'} {username}")
    return 0


def users_list(json: bool = False, *, store: GovernanceStore | None = None) -> int:
    rows = accounts.users(store)
    if json:
        print(_json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    print(f"{'username':<24} {'role':<20} {'state':<9} org")
    for r in rows:
        state = "disabled" if r["disabled"] else "active"
        org = r["org"] + (f" [{r['facility_id']}]" if r["facility_id"] else "")
        print(f"{r['username']:<24} {r['role']:<20} {state:<9} {org}")
    return 0


def audit_verify(*, store: GovernanceStore | None = None) -> int:
    """0 if the chain is intact; 1 after printing the first bad entry."""
    store = resolve(store)
    result = ledger.verify(store)
    if result.ok:
        print(f"audit ledger intact: {result.entries} entries ({store.path})")
        return 0
    print(f"AUDIT LEDGER BROKEN at entry {result.first_bad_seq}: {result.problem}", file=sys.stderr)
    print(f"entries verified before it: {result.entries}", file=sys.stderr)
    row = store.one("SELECT * FROM ledger WHERE seq = ?", (result.first_bad_seq,))
    if row is not None:
        print(_json.dumps(dict(row), ensure_ascii=False, indent=2), file=sys.stderr)
    return 1


def scenario_list(state: str | None = "pending", json: bool = False, *, store: GovernanceStore | None = None) -> int:
    """List scenarios (default: the pending approval queue)."""
    rows = scenarios.scenarios(state=state, store=store)
    if json:
        print(_json.dumps([{**s.__dict__, "status": s.status()} for s in rows], ensure_ascii=False, indent=2,
                          default=str))
        return 0
    for s in rows:
        window = f"{s.valid_from.astimezone(LOCAL):%Y-%m-%d}..{s.valid_to.astimezone(LOCAL):%Y-%m-%d}" if s.valid_to else "standing"
        print(f"#{s.id:<5} {s.status():<14} {s.product_id:<22} {s.org_name} [{','.join(s.scope)}] {window}  {s.purpose}")
    return 0


def scenario_decide(scenario_id: int, decision: str, official: str, reason: str = "",
                    *, store: GovernanceStore | None = None) -> int:
    """decision: approve | reject | revoke, acting as commission official ``official``."""
    act = {"approve": scenarios.approve, "reject": scenarios.reject, "revoke": scenarios.revoke}.get(decision)
    if act is None:
        print("error: decision must be approve, reject or revoke", file=sys.stderr)
        return 2
    try:
        sc = act(official, scenario_id, reason, store=store)
    except scenarios.ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"scenario #{sc.id} is now {sc.state} ({sc.product_id}, {sc.org_name})")
    return 0

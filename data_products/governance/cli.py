"""Plain functions behind `dataspace users ...`, `dataspace audit verify` and
`dataspace scenario ...`; the command line wires them with typer. Each returns an exit code."""

from __future__ import annotations

import getpass
import json as _json
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from data_products.config import demo_mode, settings
from data_products.governance import accounts, ledger, scenarios
from data_products.governance.demo import demo_session
from data_products.governance.store import LOCAL, GovernanceStore, LedgerKeyError, resolve

# The acting user of a command (who must prove it) and, for `users add`, the new user's password.
USER_ENV = "DATASPACE_USER"
PASSWORD_ENV = "DATASPACE_PASSWORD"
TOKEN_ENV = "DATASPACE_TOKEN"
NEW_PASSWORD_ENV = "DATASPACE_NEW_PASSWORD"


class CliAuthError(RuntimeError):
    """The command's user could not be signed in; the message says why."""


def os_account() -> str:
    """The operating-system account running the command, recorded beside the signed-in user."""
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - getuser raises various errors in containers without a passwd entry
        user = f"uid{os.getuid()}"
    return f"{user}@{socket.gethostname()}"


def cli_actor() -> str:
    """The ledger actor of a bootstrap command, before any commission official exists."""
    return f"cli:{os_account()}"


@contextmanager
def authenticated(username: str | None, *, store: GovernanceStore | None = None, demo_user: str | None = None,
                  tokens: bool = True) -> Iterator[tuple[accounts.Principal, str]]:
    """Sign the command's user in, yield (principal, OS account), sign out afterwards.

    With $DATASPACE_TOKEN the token says who acts (a name given with ``--as`` or $DATASPACE_USER must be
    the token's user). Otherwise the username comes from the option or $DATASPACE_USER and the password
    from $DATASPACE_PASSWORD or a prompt; the attempt counts toward the same backoff as the app's, with
    the OS account as the client. A name alone never signs anyone in. Without ``tokens`` only the password
    will do (what issues credentials must not be reachable with one). In a demo space only, a command
    given no credential (and no name, or ``demo_user``'s) acts as ``demo_user``: the demo's accounts are
    public, and the demo build approves as its two officials the same way."""
    who = os_account()
    claimed = username or settings().user
    token = settings().token
    if token and not tokens:
        raise CliAuthError(f"a token cannot do this: unset {TOKEN_ENV} and sign in with the password")
    if token:
        principal = _token_sign_in(token, claimed, who, store)
    elif demo_user and claimed in (None, demo_user) and not settings().password and demo_mode():
        principal = demo_session(demo_user, client=f"cli:{who}", store=store)
    else:
        principal = _password_sign_in(claimed, who, store, tokens=tokens)
    try:
        yield principal, who
    finally:
        accounts.sign_out(principal, store=store)


def _token_sign_in(token: str, claimed: str | None, who: str, store: GovernanceStore | None) -> accounts.Principal:
    """The token's user, who must be ``claimed`` when a name was given."""
    result = accounts.sign_in_token(token, client=f"cli:{who}", store=store)
    if not result.ok:
        raise CliAuthError(f"token refused: {result.message('en')}")
    if claimed and accounts.username_key(accounts.normalize_username(claimed)) != \
            accounts.username_key(result.principal.username):
        accounts.sign_out(result.principal, store=store)
        raise CliAuthError(f"the token given is {result.principal.username!r}'s, not {claimed!r}")
    return result.principal


def _password_sign_in(name: str | None, who: str, store: GovernanceStore | None, *,
                      tokens: bool = True) -> accounts.Principal:
    if not name:
        if not sys.stdin.isatty():
            raise CliAuthError(f"who is acting? pass --as USER or set {USER_ENV} (and {PASSWORD_ENV}), or set "
                               f"{TOKEN_ENV}")
        name = input("Username: ")
    password = settings().password
    if not password:
        if not sys.stdin.isatty():
            raise CliAuthError(f"no password for {name}: set {TOKEN_ENV} or {PASSWORD_ENV}, or run in a terminal")
        password = getpass.getpass(f"Password for {name} (or a token from `dataspace users token`): ")
    if password.startswith(accounts.TOKEN_PREFIX):  # a token typed at the prompt
        if not tokens:
            raise CliAuthError("a token cannot do this: sign in with the password")
        return _token_sign_in(password, name, who, store)
    result = accounts.sign_in(name, password, client=f"cli:{who}", store=store)
    if not result.ok:
        raise CliAuthError(f"sign-in as {name!r} refused: {result.message('en')}")
    return result.principal


@contextmanager
def acting_for(action: str, username: str | None, *, demo_user: str | None = None, own: str | None = None,
               bootstrap: bool = True, tokens: bool = True,
               store: GovernanceStore | None = None) -> Iterator[tuple[str, dict]]:
    """(ledger actor, audit detail) of a command that changes something (``action`` in the role policy,
    e.g. ``pipeline.process``, ``users.manage``): the authenticated user, whom the gate must allow (the
    decision is a ledger entry), or who acts on their ``own`` account. Before any commission official
    exists (bootstrap) the OS account alone acts, where ``bootstrap`` allows it."""
    from data_products.governance import gate

    store = resolve(store)
    if not _has_official(store):
        if not bootstrap:
            raise CliAuthError("no commission official exists yet: add one (`dataspace users add`) first")
        yield cli_actor(), {"os_user": os_account(), "via": "cli", "bootstrap": True}
        return
    with authenticated(username, store=store, demo_user=demo_user, tokens=tokens) as (principal, who):
        self_service = own is not None and \
            accounts.username_key(principal.username) == accounts.username_key(accounts.normalize_username(own))
        if not self_service and not gate.allowed(principal, action, audit=True, store=store):
            raise CliAuthError(f"{principal.username!r} ({principal.role}) may not {action}")
        yield principal.username, {"os_user": who, "via": "cli"}


def _new_password(password: str | None) -> str | None:
    if password:
        return password
    configured = settings().new_password
    if configured:
        return configured
    if not sys.stdin.isatty():
        print(f"no password for the new user: set {NEW_PASSWORD_ENV} or run in a terminal", file=sys.stderr)
        return None
    first = getpass.getpass("New user's password: ")
    if first != getpass.getpass("Repeat it: "):
        print("passwords differ", file=sys.stderr)
        return None
    return first


def _has_official(store: GovernanceStore) -> bool:
    return store.one("SELECT 1 FROM users WHERE role = 'commission_official' AND disabled = 0") is not None


def users_add(username: str, role: str, org: str, facility: str | None = None, password: str | None = None,
              *, acting: str | None = None, store: GovernanceStore | None = None) -> int:
    """Add a user, as a signed-in commission official (or, for the very first official, as the OS
    account). The new password comes from the argument, else $DATASPACE_NEW_PASSWORD, else a prompt."""
    store = resolve(store)
    pw = _new_password(password)
    if pw is None:
        return 2
    try:
        with acting_for("users.manage", acting, store=store) as (actor, audit):
            user_id = accounts.add_user(username, pw, role, org, facility=facility, actor=actor, audit=audit,
                                        store=store)
    except (CliAuthError, accounts.AccountError) as exc:  # not signed in, or a bad user, role, org, facility, password
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"added user {accounts.normalize_username(username)} (id {user_id}, role {role}, org {org})")
    return 0


def users_disable(username: str, *, enable: bool = False, acting: str | None = None,
                  store: GovernanceStore | None = None) -> int:
    store = resolve(store)
    try:
        with acting_for("users.manage", acting, store=store) as (actor, audit):
            accounts.set_disabled(username, not enable, actor=actor, audit=audit, store=store)
    except (CliAuthError, accounts.AccountError) as exc:  # not signed in, or a bad user, role, org, facility, password
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{'enabled' if enable else 'disabled'} {username}")
    return 0


def users_unlock(username: str, *, acting: str | None = None, store: GovernanceStore | None = None) -> int:
    """Clear a username's failed sign-ins from every client, as a signed-in commission official."""
    store = resolve(store)
    try:
        with acting_for("users.manage", acting, store=store) as (actor, audit):
            cleared = accounts.unlock(username, actor=actor, audit=audit, store=store)
    except (CliAuthError, accounts.AccountError) as exc:  # not signed in, or a bad user, role, org, facility, password
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"unlocked {username} ({cleared} recorded failure(s) cleared)")
    return 0


def users_token(username: str, *, revoke: str | None = None, acting: str | None = None,
                store: GovernanceStore | None = None) -> int:
    """Issue a command-line token for ``username`` (printed once; only its hash is kept), or with
    ``revoke`` (a token id, or ``all``) revoke. A commission official does it for anyone; a user, signed
    in with their password or a live token, for themselves."""
    store = resolve(store)
    try:
        name = accounts.normalize_username(username)
        # Issuing needs the password: a stolen token must not mint more. Revoking may use a token.
        with acting_for("users.manage", acting, own=name, bootstrap=False, tokens=revoke is not None,
                        store=store) as (actor, audit):
            if revoke is not None:
                ids = accounts.revoke_tokens(name, None if revoke == "all" else _token_id(revoke), actor=actor,
                                             audit=audit, store=store)
            else:
                token_id, token = accounts.issue_token(name, actor=actor, audit=audit, store=store)
    except (CliAuthError, accounts.AccountError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if revoke is not None:
        print(f"revoked {len(ids)} token(s) of {name}: {', '.join(map(str, ids)) or 'none live'}")
        return 0
    print(token)
    print(f"token {token_id} for {name}: shown once, kept only as a hash; give it as ${TOKEN_ENV}; revoke with "
          f"`dataspace users token {name} --revoke {token_id}`", file=sys.stderr)
    return 0


def _token_id(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise accounts.AccountError(f"--revoke {text!r}: a token id or 'all'") from None


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


def published_heads(store: GovernanceStore, anchor: Path | None = None) -> list[ledger.Anchor]:
    """Every published head this machine can see: the anchor file given (else the default one) and
    the head each approved release carries in its approval metadata."""
    heads = ledger.read_anchors(anchor or ledger.anchor_path(store))
    for path in sorted((store.home / "approved").glob("*/*.approval.json")):
        try:
            doc = _json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            raise ValueError(f"{path}: not JSON") from None
        head = doc.get("ledger_head")
        if isinstance(head, dict) and "seq" in head and "hash" in head:
            heads.append(ledger.Anchor(int(head["seq"]), str(head["hash"]), str(path)))
    return heads


def audit_verify(anchor: Path | None = None, *, without_key: bool = False,
                 store: GovernanceStore | None = None) -> int:
    """0 if the chain, every entry's MAC and every published head agree; 1 after printing the first
    bad entry; 2 when the key or an anchor file cannot be read."""
    store = resolve(store)
    if anchor is not None and not Path(anchor).exists():
        print(f"error: anchor file {anchor} does not exist", file=sys.stderr)
        return 2
    try:
        heads = published_heads(store, anchor)
        result = ledger.verify(store, anchors=heads, check_macs=not without_key)
    except (LedgerKeyError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if result.ok:
        macs = "every entry's MAC checked" if result.macs_checked else "MACs NOT checked (no key)"
        newest = f", newest published head: entry {result.newest_anchor}" if result.anchors_checked else ""
        print(f"audit ledger intact: {result.entries} entries ({store.location}); {macs}; "
              f"{result.anchors_checked} published head(s) match{newest}")
        if result.entries > result.newest_anchor:
            print(f"note: entries {result.newest_anchor + 1}..{result.entries} are after the newest published head; "
                  "`dataspace audit anchor` publishes the current one")
        return 0
    print(f"AUDIT LEDGER BROKEN at entry {result.first_bad_seq}: {result.problem}", file=sys.stderr)
    print(f"entries verified before it: {result.entries}", file=sys.stderr)
    row = store.one("SELECT * FROM ledger WHERE seq = ?", (result.first_bad_seq,))
    if row is not None:
        print(_json.dumps(dict(row), ensure_ascii=False, indent=2), file=sys.stderr)
    return 1


def audit_anchor(anchor: Path | None = None, *, store: GovernanceStore | None = None) -> int:
    """Publish the current head to the anchor file (run it from cron; copy the file off the machine)."""
    store = resolve(store)
    result = ledger.verify(store)
    if not result.ok:
        print(f"refused: the ledger does not verify ({result.problem}); not publishing its head", file=sys.stderr)
        return 1
    head = ledger.publish_head("audit.anchor", path=anchor, store=store)
    print(f"published head: entry {head.seq} {head.hash} -> {anchor or ledger.anchor_path(store)}")
    return 0


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


def scenario_decide(scenario_id: int, decision: str, official: str | None, reason: str = "",
                    *, store: GovernanceStore | None = None) -> int:
    """decision: approve | reject | revoke, by commission official ``official``, who signs in first."""
    act = {"approve": scenarios.approve, "reject": scenarios.reject, "revoke": scenarios.revoke}.get(decision)
    if act is None:
        print("error: decision must be approve, reject or revoke", file=sys.stderr)
        return 2
    try:
        with authenticated(official, store=store) as (principal, who):
            sc = act(principal, scenario_id, reason, os_user=who, store=store)
    except CliAuthError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except scenarios.ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"scenario #{sc.id} is now {sc.state} ({sc.product_id}, {sc.org_name})")
    return 0


def audit_report(days: int = 30, json: bool = False, *, store: GovernanceStore | None = None) -> int:
    """The administrators' report for the last ``days`` days."""
    from datetime import timedelta

    from data_products.governance.report import admin_report
    from data_products.governance.store import utcnow

    if days <= 0:
        print("error: --days must be positive", file=sys.stderr)
        return 2
    now = utcnow()
    try:
        report = admin_report(now - timedelta(days=days), now, store=store)
    except LedgerKeyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if json:
        print(_json.dumps(report, ensure_ascii=False, indent=1))
        return 0
    print(f"administrators' audit report {report['since']} .. {report['until']} "
          f"(ledger {'verifies' if report['verified'] else 'DOES NOT VERIFY: run `dataspace audit verify`'})")
    print(f"{'time':<19}  {'actor':<18} {'role':<20} {'action':<22} {'target':<22} authorization")
    for r in report["rows"]:
        who = r["actor"] + (f" ({r['os_user']})" if r["os_user"] else "")
        print(f"{r['time']:<19}  {who:<18} {r['role']:<20} {r['action']:<22} {r['target']:<22} {r['authorization']}")
    print("\nper person and action:")
    for s in report["summary"]:
        print(f"  {s['actor']:<24} {s['action']:<24} {s['count']}")
    return 0 if report["verified"] else 1


def governance_migrate(app_role: str | None = None, *, store: GovernanceStore | None = None) -> int:
    """Create or upgrade the governance schema (SQLite file or $DATASPACE_GOVERNANCE_URL) and print
    its migration history; with ``app_role`` (PostgreSQL) grant the replicas' role what it needs and
    no more."""
    from data_products.governance.store import LATEST

    try:
        store = store if store is not None else GovernanceStore()
        applied = store.migrate()
        if app_role:
            store.grant_app_role(app_role)
    except (RuntimeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - a database refusing (unreachable, no privilege): say so, exit 2
        print(f"error: {store.location if store is not None else 'governance store'}: {exc}", file=sys.stderr)
        return 2
    print(f"governance store {store.location} ({store.dialect}): schema version {LATEST}; "
          f"{len(applied)} migration(s) applied now")
    for m in store.migrations():
        print(f"  {m['version']:>3}  {m['applied_at']}  {m['name']}")
    if app_role:
        print(f"granted role {app_role}: the ledger INSERT and SELECT only; other tables read and write")
    return 0

"""Organisations, users, passwords and sessions.

Passwords are kept only as argon2id hashes (salted, memory-hard). A session is a random token the
page holds; the store keeps only its SHA-256, so reading the database does not hand out live
sessions. Sessions end after ``Policy.idle_minutes`` without activity; an account locks for
``Policy.lockout_minutes`` after ``Policy.lockout_failures`` wrong passwords in a row.
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from data_products.governance import ledger
from data_products.governance.store import GovernanceStore, Tx, from_db, resolve, to_db, utcnow
from data_products.i18n import register, t

ROLES = ("commission_official", "commission_analyst", "hospital", "company")
ORG_TYPES = ("commission", "hospital", "company")
ORG_TYPE_OF_ROLE = {
    "commission_official": "commission",
    "commission_analyst": "commission",
    "hospital": "hospital",
    "company": "company",
}
MAX_USERNAME = 64
MAX_ORG_NAME = 200
MIN_PASSWORD = 10
# argon2 accepts anything, but hashing megabytes per attempt is a cheap denial of service.
MAX_PASSWORD = 1024

register(
    {
        "gov.auth.ok": {"zh": "已登录。", "en": "Signed in."},
        "gov.auth.bad_credentials": {"zh": "用户名或密码错误。", "en": "Wrong username or password."},
        "gov.auth.locked": {
            "zh": "登录失败次数过多，账户已锁定至 {until}（北京时间）。",
            "en": "Too many failed sign-ins; the account is locked until {until} (Beijing time).",
        },
        "gov.auth.disabled": {
            "zh": "该账户已停用，请联系市卫健委数据空间管理员。",
            "en": "This account is disabled; contact the commission's data-space administrator.",
        },
    }
)


class AccountError(ValueError):
    """Bad input to an account operation; the message names the field."""


@dataclass(frozen=True)
class Principal:
    """A signed-in user as a page holds it. The gate re-reads role, organisation and state from the
    store on every decision, so these fields are for display, not for trust."""

    username: str
    role: str
    org_id: int
    org_name: str
    org_type: str
    facility_id: str | None
    user_id: int
    token: str = field(repr=False)


@dataclass(frozen=True)
class SignInResult:
    ok: bool
    reason: str  # ok | bad_credentials | locked | disabled
    principal: Principal | None = None
    locked_until: datetime | None = None

    def message(self, lang: str) -> str:
        if self.reason == "locked" and self.locked_until is not None:
            from data_products.governance.store import LOCAL

            return t("gov.auth.locked", lang, until=self.locked_until.astimezone(LOCAL).strftime("%Y-%m-%d %H:%M"))
        return t(f"gov.auth.{self.reason}", lang)


@dataclass(frozen=True)
class SessionCheck:
    ok: bool
    reason: str  # ok | no_session | session_expired | user_disabled
    row: Any = None  # joined session/user/org row when the session exists


def normalize_username(raw: object) -> str:
    """NFKC-normalised, trimmed; refuses what would let two names look alike or break a line.
    Uniqueness is on the casefolded form (see ``username_key``)."""
    if not isinstance(raw, str):
        raise AccountError(f"username: expected text, got {type(raw).__name__}")
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        raise AccountError("username: contains characters that are not valid Unicode text") from None
    name = unicodedata.normalize("NFKC", raw).strip()
    if not name:
        raise AccountError("username: empty")
    if len(name) > MAX_USERNAME:
        raise AccountError(f"username: {len(name)} characters, at most {MAX_USERNAME} allowed")
    for ch in name:
        # Controls, zero-width/format characters, unassigned code points and any whitespace.
        if unicodedata.category(ch)[0] in ("C", "Z"):
            raise AccountError(f"username: character U+{ord(ch):04X} is not allowed (control, invisible or space)")
    return name


def username_key(name: str) -> str:
    return name.casefold()


def _check_password(password: object) -> str:
    if not isinstance(password, str):
        raise AccountError("password: expected text")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"password: at least {MIN_PASSWORD} characters required")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"password: at most {MAX_PASSWORD} characters allowed")
    try:
        password.encode("utf-8")
    except UnicodeEncodeError:
        raise AccountError("password: contains characters that are not valid Unicode text") from None
    return password


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


# ---------------------------------------------------------------- organisations


def _org_row(tx: Tx, name: str):
    return tx.one("SELECT * FROM orgs WHERE name = ?", (name,))


def add_org(name: str, org_type: str, facility_id: str | None = None, *, actor: str = "system",
            store: GovernanceStore | None = None) -> int:
    """Create an organisation (idempotent for an identical one) and grant its standing scenarios."""
    from data_products.governance.scenarios import grant_standing
    from data_products.reference.facilities import facility_ids

    if not isinstance(name, str) or not name.strip():
        raise AccountError("org: name is empty")
    name = unicodedata.normalize("NFC", name.strip())
    if len(name) > MAX_ORG_NAME:
        raise AccountError(f"org: name has {len(name)} characters, at most {MAX_ORG_NAME} allowed")
    if org_type not in ORG_TYPES:
        raise AccountError(f"org: type {org_type!r} is not one of {ORG_TYPES}")
    if org_type == "hospital":
        if facility_id not in facility_ids():
            raise AccountError(f"facility: {facility_id!r} is not in the facility registry")
    elif facility_id is not None:
        raise AccountError(f"facility: only a hospital is bound to a facility (org type {org_type!r})")
    store = resolve(store)
    with store.write() as tx:
        row = _org_row(tx, name)
        if row is not None:
            if row["type"] != org_type or row["facility_id"] != facility_id:
                raise AccountError(
                    f"org: {name!r} exists as type {row['type']!r} facility {row['facility_id']!r}, "
                    f"not {org_type!r} {facility_id!r}"
                )
            return int(row["id"])
        if facility_id is not None:
            other = tx.one("SELECT name FROM orgs WHERE facility_id = ?", (facility_id,))
            if other is not None:
                raise AccountError(f"facility: {facility_id} already belongs to organisation {other['name']!r}")
        org_id = tx.insert(
            "INSERT INTO orgs (name, type, facility_id, created_at) VALUES (?, ?, ?, ?)",
            (name, org_type, facility_id, to_db(utcnow())),
        )
        ledger.append(tx, actor, "org.add", name, {"org_id": org_id, "type": org_type, "facility_id": facility_id})
        grant_standing(tx, org_id, actor=actor)
        return org_id


def orgs(store: GovernanceStore | None = None) -> list[dict[str, Any]]:
    rows = resolve(store).query("SELECT id, name, type, facility_id, created_at FROM orgs ORDER BY id")
    return [dict(r) for r in rows]


# ---------------------------------------------------------------- users


def add_user(username: str, password: str, role: str, org: str, *, facility: str | None = None,
             display_name: str | None = None, actor: str = "system", store: GovernanceStore | None = None) -> int:
    """Create a user in organisation ``org`` (created if new, its type following the role)."""
    name = normalize_username(username)
    if role not in ROLES:
        raise AccountError(f"role: {role!r} is not one of {ROLES}")
    password = _check_password(password)
    store = resolve(store)
    # Hash before taking the write lock: argon2 is deliberately slow.
    digest = store.policy.hasher.hash(password)
    org_type = ORG_TYPE_OF_ROLE[role]
    if not isinstance(org, str):
        raise AccountError(f"org: expected a name, got {type(org).__name__}")
    with store.write() as tx:
        existing = _org_row(tx, unicodedata.normalize("NFC", org.strip()))
        if existing is not None and facility is None:
            facility = existing["facility_id"]
        org_id = add_org(org, org_type, facility, actor=actor, store=store)
        if tx.one("SELECT 1 FROM users WHERE username_key = ?", (username_key(name),)) is not None:
            raise AccountError(f"username: {name!r} already exists")
        user_id = tx.insert(
            "INSERT INTO users (username, username_key, display_name, org_id, role, password_hash, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (name, username_key(name), display_name, org_id, role, digest, to_db(utcnow())),
        )
        ledger.append(tx, actor, "user.add", name, {"user_id": user_id, "role": role, "org_id": org_id})
        return user_id


def _user_by_name(tx: Tx, username: str):
    return tx.one(
        "SELECT u.*, o.name AS org_name, o.type AS org_type, o.facility_id FROM users u"
        " JOIN orgs o ON o.id = u.org_id WHERE u.username_key = ?",
        (username_key(username),),
    )


def set_disabled(username: str, disabled: bool = True, *, actor: str = "system",
                 store: GovernanceStore | None = None) -> None:
    """Disable (or re-enable) a user; disabling also ends the user's open sessions."""
    name = normalize_username(username)
    store = resolve(store)
    with store.write() as tx:
        row = _user_by_name(tx, name)
        if row is None:
            raise AccountError(f"username: no user {name!r}")
        tx.execute("UPDATE users SET disabled = ?, failed_count = 0, locked_until = NULL WHERE id = ?",
                   (int(disabled), row["id"]))
        if disabled:
            tx.execute("UPDATE sessions SET ended_at = ?, end_reason = 'user_disabled' WHERE user_id = ? AND ended_at IS NULL",
                       (to_db(utcnow()), row["id"]))
        ledger.append(tx, actor, "user.disable" if disabled else "user.enable", row["username"], {"user_id": row["id"]})


def set_password(username: str, password: str, *, actor: str = "system", store: GovernanceStore | None = None) -> None:
    name = normalize_username(username)
    password = _check_password(password)
    store = resolve(store)
    digest = store.policy.hasher.hash(password)
    with store.write() as tx:
        row = _user_by_name(tx, name)
        if row is None:
            raise AccountError(f"username: no user {name!r}")
        tx.execute("UPDATE users SET password_hash = ?, failed_count = 0, locked_until = NULL WHERE id = ?",
                   (digest, row["id"]))
        tx.execute("UPDATE sessions SET ended_at = ?, end_reason = 'password_changed' WHERE user_id = ? AND ended_at IS NULL",
                   (to_db(utcnow()), row["id"]))
        ledger.append(tx, actor, "user.password", row["username"], {"user_id": row["id"]})


def users(store: GovernanceStore | None = None) -> list[dict[str, Any]]:
    rows = resolve(store).query(
        "SELECT u.id, u.username, u.display_name, u.role, o.name AS org, o.type AS org_type, o.facility_id,"
        " u.disabled, u.locked_until, u.created_at FROM users u JOIN orgs o ON o.id = u.org_id ORDER BY u.id"
    )
    return [{**dict(r), "disabled": bool(r["disabled"])} for r in rows]


# ---------------------------------------------------------------- sign-in and sessions


def sign_in(username: object, password: object, *, now: datetime | None = None,
            store: GovernanceStore | None = None) -> SignInResult:
    """Check a password and open a session. Every attempt is audited, success or not."""
    store = resolve(store)
    now = now or utcnow()
    try:
        name = normalize_username(username)
    except AccountError:
        name = None
    pw = password if isinstance(password, str) and len(password) <= MAX_PASSWORD else None
    row = _user_by_name(store, name) if name is not None else None  # type: ignore[arg-type]
    # Known users are logged under their stored name; unknown attempts under what was typed.
    actor = row["username"] if row is not None else ledger.clean_text(name if name is not None else username)

    locked_until = from_db(row["locked_until"]) if row is not None else None
    if locked_until is not None and locked_until > now:
        with store.write() as tx:
            ledger.append(tx, actor, "auth.sign_in_failed", actor, {"reason": "locked"})
        return SignInResult(False, "locked", locked_until=locked_until)

    matched = False
    try:
        if row is None or pw is None:
            store.policy.hasher.verify(store.dummy_hash(), "x")
        else:
            matched = store.policy.hasher.verify(row["password_hash"], pw)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        matched = False

    with store.write() as tx:
        if row is None:
            ledger.append(tx, actor, "auth.sign_in_failed", actor, {"reason": "unknown_user"})
            return SignInResult(False, "bad_credentials")
        current = tx.one("SELECT failed_count, disabled FROM users WHERE id = ?", (row["id"],))
        if not matched:
            failures = int(current["failed_count"]) + 1
            if failures >= store.policy.lockout_failures:
                until = now + store.policy.lockout
                tx.execute("UPDATE users SET failed_count = 0, locked_until = ? WHERE id = ?", (to_db(until), row["id"]))
                ledger.append(tx, actor, "auth.sign_in_failed", actor, {"reason": "wrong_password", "failures": failures})
                ledger.append(tx, "system", "auth.locked", actor, {"until": to_db(until), "failures": failures})
                return SignInResult(False, "bad_credentials")
            tx.execute("UPDATE users SET failed_count = ? WHERE id = ?", (failures, row["id"]))
            ledger.append(tx, actor, "auth.sign_in_failed", actor, {"reason": "wrong_password", "failures": failures})
            return SignInResult(False, "bad_credentials")
        if current["disabled"]:
            ledger.append(tx, actor, "auth.sign_in_failed", actor, {"reason": "disabled"})
            return SignInResult(False, "disabled")
        token = secrets.token_urlsafe(32)
        stamp = to_db(now)
        session_id = tx.insert(
            "INSERT INTO sessions (token_hash, user_id, created_at, last_seen) VALUES (?, ?, ?, ?)",
            (_token_hash(token), row["id"], stamp, stamp),
        )
        updates = "failed_count = 0, locked_until = NULL"
        params: tuple[Any, ...] = (row["id"],)
        if store.policy.hasher.check_needs_rehash(row["password_hash"]):
            updates += ", password_hash = ?"
            params = (store.policy.hasher.hash(pw), row["id"])
        # `updates` is one of two fixed strings above.
        tx.execute(f"UPDATE users SET {updates} WHERE id = ?", params)  # noqa: S608
        ledger.append(tx, actor, "auth.sign_in", actor, {"session_id": session_id})
    principal = Principal(row["username"], row["role"], row["org_id"], row["org_name"], row["org_type"],
                          row["facility_id"], row["id"], token)
    return SignInResult(True, "ok", principal)


def sign_out(principal: Principal, *, now: datetime | None = None, store: GovernanceStore | None = None) -> bool:
    """End the session; False if it had already ended."""
    store = resolve(store)
    with store.write() as tx:
        row = tx.one("SELECT id FROM sessions WHERE token_hash = ? AND ended_at IS NULL", (_token_hash(principal.token),))
        if row is None:
            return False
        tx.execute("UPDATE sessions SET ended_at = ?, end_reason = 'sign_out' WHERE id = ?",
                   (to_db(now or utcnow()), row["id"]))
        ledger.append(tx, principal.username, "auth.sign_out", principal.username, {"session_id": row["id"]})
        return True


_SESSION_SQL = (
    "SELECT s.id AS session_id, s.last_seen, s.ended_at, s.end_reason, u.id AS user_id, u.username, u.role, u.disabled,"
    " o.id AS org_id, o.name AS org_name, o.type AS org_type, o.facility_id"
    " FROM sessions s JOIN users u ON u.id = s.user_id JOIN orgs o ON o.id = u.org_id WHERE s.token_hash = ?"
)


def check_session(tx: Tx | GovernanceStore, principal: Principal, now: datetime, *, touch: bool) -> SessionCheck:
    """Is the principal's session live at ``now``? With ``touch`` (inside a write transaction) an
    active session's idle clock restarts and an idle one is closed."""
    token = getattr(principal, "token", None)
    if not isinstance(token, str):
        return SessionCheck(False, "no_session")
    row = tx.one(_SESSION_SQL, (_token_hash(token),))
    if row is None:
        return SessionCheck(False, "no_session")
    if row["disabled"]:
        return SessionCheck(False, "user_disabled", row)
    if row["ended_at"] is not None:
        return SessionCheck(False, "session_expired" if row["end_reason"] == "idle_timeout" else "no_session", row)
    idle = tx.policy.idle
    last_seen = from_db(row["last_seen"])
    if now - last_seen > idle:
        if touch:
            tx.execute("UPDATE sessions SET ended_at = ?, end_reason = 'idle_timeout' WHERE id = ?",
                       (to_db(now), row["session_id"]))
        return SessionCheck(False, "session_expired", row)
    if touch and now > last_seen:
        tx.execute("UPDATE sessions SET last_seen = ? WHERE id = ?", (to_db(now), row["session_id"]))
    return SessionCheck(True, "ok", row)


def current(principal: Principal | None, *, now: datetime | None = None,
            store: GovernanceStore | None = None) -> SessionCheck:
    """For a page on each rerun: is this principal still signed in? Counts as activity."""
    if principal is None:
        return SessionCheck(False, "no_session")
    store = resolve(store)
    with store.write() as tx:
        return check_session(tx, principal, now or utcnow(), touch=True)

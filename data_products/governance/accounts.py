"""Organisations, users, passwords and sessions.

Passwords are kept only as argon2id hashes (salted, memory-hard). A session is a random token the
page holds; the store keeps only its SHA-256, so reading the database does not hand out live
sessions. Sessions end after ``Policy.idle_minutes`` without activity.

Sign-in backoff is built so it cannot be turned against someone else. Failures are counted per
(typed username, client) whether the username exists or not: ``lockout_failures`` of them within
``lockout_minutes`` stop that client from trying that name for ``lockout_minutes``, while the same
name from another client is unaffected. A client failing on many names (x4) is stopped for all of
them; a name failing from many clients (x10) is stopped for clients the user has never signed in
from, so the user's own known clients still get in. Every attempt, refused or not, costs one argon2
verification and gets the same answer whether the username exists or not. An official clears a
name's failures with ``unlock`` (`dataspace users unlock`).

Usernames are NFKC-normalised and unique case-insensitively; a name that looks like an existing one
(``skeleton``: Cyrillic "о" for Latin "o", "I" or "1" for "l", "rn" for "m") is refused.
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from data_products.governance import ledger
from data_products.governance.standing import grant_standing
from data_products.governance.store import GovernanceStore, Tx, from_db, resolve, to_db, utcnow
from data_products.i18n import t

# "service": a named principal a system outside the space runs under (the wait-time feed); it is an
# organisation of its own, holds only its own approved export scenario and never signs in to the app.
ROLES = ("commission_official", "commission_analyst", "hospital", "company", "service")
ORG_TYPES = ("commission", "hospital", "company", "service")
ORG_TYPE_OF_ROLE = {
    "commission_official": "commission",
    "commission_analyst": "commission",
    "hospital": "hospital",
    "company": "company",
    "service": "service",
}
MAX_USERNAME = 64
MAX_ORG_NAME = 200
MIN_PASSWORD = 10
# argon2 accepts anything, but hashing megabytes per attempt is a cheap denial of service.
MAX_PASSWORD = 1024

MESSAGES = {
    "gov.auth.ok": {"zh": "已登录。", "en": "Signed in."},
    "gov.auth.bad_credentials": {"zh": "用户名或密码错误。", "en": "Wrong username or password."},
    "gov.auth.locked": {
        "zh": "登录失败次数过多，请于 {until}（北京时间）后再试；如需提前解锁，请联系市卫健委数据空间管理员。",
        "en": "Too many failed sign-ins; try again after {until} (Beijing time), or ask the commission's "
              "data-space administrator to unlock sooner.",
    },
    "gov.auth.disabled": {
        "zh": "该账户已停用，请联系市卫健委数据空间管理员。",
        "en": "This account is disabled; contact the commission's data-space administrator.",
    },
}


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


@lru_cache(maxsize=1)
def _ascii_homoglyphs() -> dict[str, str]:
    """Non-ASCII character -> the ASCII text it is confused with (Unicode's confusables, as shipped
    by confusable-homoglyphs)."""
    from confusable_homoglyphs import confusables

    out = {}
    for ch, glyphs in confusables.confusables_data.items():
        if ch.isascii():
            continue
        for g in glyphs:
            if g["c"].isascii() and g["c"].isprintable():
                out[ch] = g["c"]
                break
    return out


# Lookalikes inside ASCII itself (UTS #39 skeletons do the same).
_ASCII_LOOKALIKE = str.maketrans({"I": "l", "1": "l", "|": "l", "0": "o", "O": "o"})


def skeleton(name: str) -> str:
    """What a name looks like: two names with the same skeleton are refused as lookalikes."""
    glyphs = _ascii_homoglyphs()
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", name))
    text = "".join(glyphs.get(ch, ch) for ch in text if not unicodedata.combining(ch))
    text = text.translate(_ASCII_LOOKALIKE).casefold()
    return text.replace("rn", "m").replace("vv", "w")


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
             display_name: str | None = None, actor: str = "system", audit: dict[str, Any] | None = None,
             store: GovernanceStore | None = None) -> int:
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
        look = skeleton(name)
        for other in tx.all("SELECT username FROM users"):
            if skeleton(other["username"]) == look:
                raise AccountError(f"username: {name!r} looks like the existing user {other['username']!r}; "
                                   "choose a name that cannot be mistaken for it")
        user_id = tx.insert(
            "INSERT INTO users (username, username_key, display_name, org_id, role, password_hash, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (name, username_key(name), display_name, org_id, role, digest, to_db(utcnow())),
        )
        ledger.append(tx, actor, "user.add", name, {"user_id": user_id, "role": role, "org_id": org_id, **(audit or {})})
        return user_id


def _user_by_name(tx: Tx, username: str):
    return tx.one(
        "SELECT u.*, o.name AS org_name, o.type AS org_type, o.facility_id FROM users u"
        " JOIN orgs o ON o.id = u.org_id WHERE u.username_key = ?",
        (username_key(username),),
    )


def _existing_user(tx: Tx, name: str):
    """The user row of ``name``, or an AccountError naming it (the commands that change an account)."""
    row = _user_by_name(tx, name)
    if row is None:
        raise AccountError(f"username: no user {name!r}")
    return row


def set_disabled(username: str, disabled: bool = True, *, actor: str = "system", audit: dict[str, Any] | None = None,
                 store: GovernanceStore | None = None) -> None:
    """Disable (or re-enable) a user; disabling also ends the user's open sessions."""
    name = normalize_username(username)
    store = resolve(store)
    with store.write() as tx:
        row = _existing_user(tx, name)
        tx.execute("UPDATE users SET disabled = ?, failed_count = 0, locked_until = NULL WHERE id = ?",
                   (int(disabled), row["id"]))
        if disabled:
            tx.execute("UPDATE sessions SET ended_at = ?, end_reason = 'user_disabled' WHERE user_id = ? AND ended_at IS NULL",
                       (to_db(utcnow()), row["id"]))
        tx.execute("DELETE FROM auth_failures WHERE name_key = ?", (username_key(name),))
        ledger.append(tx, actor, "user.disable" if disabled else "user.enable", row["username"],
                      {"user_id": row["id"], **(audit or {})})


def set_password(username: str, password: str, *, actor: str = "system", audit: dict[str, Any] | None = None,
                 store: GovernanceStore | None = None) -> None:
    name = normalize_username(username)
    password = _check_password(password)
    store = resolve(store)
    digest = store.policy.hasher.hash(password)
    with store.write() as tx:
        row = _existing_user(tx, name)
        tx.execute("UPDATE users SET password_hash = ?, failed_count = 0, locked_until = NULL WHERE id = ?",
                   (digest, row["id"]))
        tx.execute("UPDATE sessions SET ended_at = ?, end_reason = 'password_changed' WHERE user_id = ? AND ended_at IS NULL",
                   (to_db(utcnow()), row["id"]))
        tx.execute("DELETE FROM auth_failures WHERE name_key = ?", (username_key(name),))
        ledger.append(tx, actor, "user.password", row["username"], {"user_id": row["id"], **(audit or {})})
        # A new password retires every credential the old one could have minted.
        _revoke_tokens(tx, row, None, actor=actor, audit=audit)


def unlock(username: str, *, actor: str, audit: dict[str, Any] | None = None,
           store: GovernanceStore | None = None) -> int:
    """Clear every client's recorded failures for a username (an official's unlock); returns how many."""
    name = normalize_username(username)
    store = resolve(store)
    with store.write() as tx:
        row = _existing_user(tx, name)
        cleared = tx.execute("DELETE FROM auth_failures WHERE name_key = ?", (username_key(name),)).rowcount
        tx.execute("UPDATE users SET failed_count = 0, locked_until = NULL WHERE id = ?", (row["id"],))
        ledger.append(tx, actor, "auth.unlock", row["username"], {"user_id": row["id"], "failures_cleared": cleared,
                                                                 **(audit or {})})
        return cleared


def users(store: GovernanceStore | None = None) -> list[dict[str, Any]]:
    rows = resolve(store).query(
        "SELECT u.id, u.username, u.display_name, u.role, o.name AS org, o.type AS org_type, o.facility_id,"
        " u.disabled, u.locked_until, u.created_at FROM users u JOIN orgs o ON o.id = u.org_id ORDER BY u.id"
    )
    return [{**dict(r), "disabled": bool(r["disabled"])} for r in rows]


# ---------------------------------------------------------------- sign-in and sessions


# Multipliers of ``Policy.lockout_failures`` for the wider limits (see the module docstring).
CLIENT_WIDE = 4
ACCOUNT_WIDE = 10
MAX_CLIENT = 128


def _throttle(tx: Tx, name_key: str, client: str, user_id: int | None,
              now: datetime) -> tuple[tuple[str, datetime] | None, str | None]:
    """The lockout decision for one attempt, made once inside its write transaction: (scope, until) when
    the attempt is refused without counting its password (else None), and the scope this attempt locks
    if it fails (else None). Writes are serialised, so an attempt in flight when a lock is set is
    refused by it, and the lock is set, and recorded, by exactly one failure."""
    policy = tx.policy
    since = to_db(now - policy.lockout)
    scopes = [("client_and_name", "name_key = ? AND client = ?", (name_key, client), 1),
              ("client", "client = ?", (client,), CLIENT_WIDE),
              ("name_from_new_clients", "name_key = ?", (name_key,), ACCOUNT_WIDE)]
    locks = None
    for i, (scope, where, params, times) in enumerate(scopes):
        if i == 1 and user_id is not None and tx.one("SELECT 1 FROM known_clients WHERE user_id = ? AND client = ?",
                                                     (user_id, client)) is not None:
            break  # the user's own clients are held only by the first limit
        # `where` is one of the fixed clauses above.
        row = tx.one(f"SELECT COUNT(*) AS n, MAX(at) AS last FROM auth_failures WHERE {where} AND at >= ?",  # noqa: S608
                     (*params, since))
        n, limit = int(row["n"]), policy.lockout_failures * times
        if n >= limit:
            return (scope, from_db(row["last"]) + policy.lockout), None
        if locks is None and n + 1 >= limit:
            locks = scope
    return None, locks


def sign_in(username: object, password: object, *, client: str = "unknown", now: datetime | None = None,
            store: GovernanceStore | None = None) -> SignInResult:
    """Check a password and open a session. ``client`` names where the attempt comes from (the
    app passes the connection's address, the command line the OS account). Every attempt is
    audited, success or not, and every one costs exactly one argon2 verification."""
    store = resolve(store)
    now = now or utcnow()
    try:
        name = normalize_username(username)
    except AccountError:
        name = None
    pw = password if isinstance(password, str) and len(password) <= MAX_PASSWORD else None
    client = ledger.clean_text(client, MAX_CLIENT)
    row = _user_by_name(store, name) if name is not None else None  # type: ignore[arg-type]
    # Known users are logged under their stored name; unknown attempts under what was typed.
    actor = row["username"] if row is not None else ledger.clean_text(name if name is not None else username)
    name_key = username_key(name) if name is not None else ledger.clean_text(username)
    # One verification on every path, so neither a refusal nor an unknown name answers faster; whether the
    # attempt is refused is decided after it, inside the write transaction (``_throttle``).
    matched = False
    try:
        if row is not None and pw is not None:
            matched = store.policy.hasher.verify(row["password_hash"], pw)
        else:
            store.policy.hasher.verify(store.dummy_hash(), pw if pw is not None else "x")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        matched = False

    with store.write() as tx:
        refused, locks = _throttle(tx, name_key, client, row["id"] if row is not None else None, now)
        if refused is not None:
            ledger.append(tx, actor, "auth.sign_in_failed", actor,
                          {"reason": "throttled", "scope": refused[0], "client": client})
            return SignInResult(False, "locked", locked_until=refused[1])
        if row is None or not matched:
            # Failures older than the window count for nothing; dropping them keeps the table small.
            tx.execute("DELETE FROM auth_failures WHERE at < ?", (to_db(now - 2 * store.policy.lockout),))
            tx.execute("INSERT INTO auth_failures (name_key, client, at) VALUES (?, ?, ?)", (name_key, client, to_db(now)))
            ledger.append(tx, actor, "auth.sign_in_failed", actor,
                          {"reason": "unknown_user" if row is None else "wrong_password", "client": client})
            if locks is not None:
                ledger.append(tx, "system", "auth.locked", actor,
                              {"scope": locks, "client": client, "until": to_db(now + store.policy.lockout)})
            return SignInResult(False, "bad_credentials")
        current = tx.one("SELECT disabled FROM users WHERE id = ?", (row["id"],))
        if current["disabled"]:
            ledger.append(tx, actor, "auth.sign_in_failed", actor, {"reason": "disabled", "client": client})
            return SignInResult(False, "disabled")
        tx.execute("DELETE FROM auth_failures WHERE name_key = ? AND client = ?", (name_key, client))
        tx.execute("INSERT INTO known_clients (user_id, client, last_ok) VALUES (?, ?, ?)"
                   " ON CONFLICT (user_id, client) DO UPDATE SET last_ok = excluded.last_ok",
                   (row["id"], client, to_db(now)))
        if store.policy.hasher.check_needs_rehash(row["password_hash"]):
            tx.execute("UPDATE users SET password_hash = ? WHERE id = ?", (store.policy.hasher.hash(pw), row["id"]))
        return SignInResult(True, "ok", _open_session(tx, row, now, {"client": client}))


def _open_session(tx: Tx, row: Any, now: datetime, detail: dict[str, Any]) -> Principal:
    """A new session for the user ``row`` (joined with its organisation), and its ``auth.sign_in`` entry."""
    token = secrets.token_urlsafe(32)
    stamp = to_db(now)
    session_id = tx.insert("INSERT INTO sessions (token_hash, user_id, created_at, last_seen) VALUES (?, ?, ?, ?)",
                           (_token_hash(token), row["id"], stamp, stamp))
    ledger.append(tx, row["username"], "auth.sign_in", row["username"], {"session_id": session_id, **detail})
    return Principal(row["username"], row["role"], row["org_id"], row["org_name"], row["org_type"],
                     row["facility_id"], row["id"], token)


# ---------------------------------------------------------------- command-line tokens

# Issued tokens start with this, so a token pasted where a password goes (or the reverse) is recognised.
TOKEN_PREFIX = "dst_"
_TOKEN_USER_SQL = ("SELECT t.id AS token_id, t.revoked_at, u.*, o.name AS org_name, o.type AS org_type, o.facility_id"
                   " FROM cli_tokens t JOIN users u ON u.id = t.user_id JOIN orgs o ON o.id = u.org_id"
                   " WHERE t.token_hash = ?")


def issue_token(username: str, *, actor: str, audit: dict[str, Any] | None = None,
                store: GovernanceStore | None = None) -> tuple[int, str]:
    """A new command-line token for ``username``: (its id, the token). The token is returned once and
    stored only as its SHA-256; whoever presents it acts as that user until it is revoked."""
    name = normalize_username(username)
    store = resolve(store)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with store.write() as tx:
        row = _existing_user(tx, name)
        token_id = tx.insert("INSERT INTO cli_tokens (token_hash, user_id, created_at, created_by) VALUES (?, ?, ?, ?)",
                             (_token_hash(token), row["id"], to_db(utcnow()), actor))
        ledger.append(tx, actor, "auth.token_issued", row["username"], {"token_id": token_id, **(audit or {})})
    return token_id, token


def revoke_tokens(username: str, token_id: int | None = None, *, actor: str, audit: dict[str, Any] | None = None,
                  store: GovernanceStore | None = None) -> list[int]:
    """Revoke one of ``username``'s tokens (``token_id``) or all of them; returns the ids revoked now."""
    name = normalize_username(username)
    store = resolve(store)
    with store.write() as tx:
        return _revoke_tokens(tx, _existing_user(tx, name), token_id, actor=actor, audit=audit)


def _revoke_tokens(tx: Tx, row: Any, token_id: int | None, *, actor: str, audit: dict[str, Any] | None) -> list[int]:
    live = [int(r["id"]) for r in tx.all("SELECT id FROM cli_tokens WHERE user_id = ? AND revoked_at IS NULL"
                                         " ORDER BY id", (row["id"],))]
    if token_id is not None:
        if token_id not in live:
            raise AccountError(f"token: {row['username']!r} has no live token {token_id}")
        live = [token_id]
    for tid in live:
        tx.execute("UPDATE cli_tokens SET revoked_at = ?, revoked_by = ? WHERE id = ?", (to_db(utcnow()), actor, tid))
        ledger.append(tx, actor, "auth.token_revoked", row["username"], {"token_id": tid, **(audit or {})})
    return live


def tokens(username: str | None = None, store: GovernanceStore | None = None) -> list[dict[str, Any]]:
    """Issued tokens (never the token itself): id, user, issued when and by whom, last use, revocation."""
    sql = ("SELECT t.id, u.username, t.created_at, t.created_by, t.last_used, t.revoked_at, t.revoked_by"
           " FROM cli_tokens t JOIN users u ON u.id = t.user_id")
    store = resolve(store)
    with store.read() as tx:
        if username is None:
            return [dict(r) for r in tx.all(sql + " ORDER BY t.id")]
        return [dict(r) for r in tx.all(sql + " WHERE u.username_key = ? ORDER BY t.id",
                                        (username_key(normalize_username(username)),))]


def sign_in_token(token: object, *, client: str = "unknown", now: datetime | None = None,
                  store: GovernanceStore | None = None) -> SignInResult:
    """Open a session for the user whose live command-line token this is. An unknown or revoked token,
    or a disabled user, is refused and audited; a token is 256 random bits, so no backoff is needed
    against guessing, but every refusal is a ledger entry."""
    store = resolve(store)
    now = now or utcnow()
    client = ledger.clean_text(client, MAX_CLIENT)
    text = token if isinstance(token, str) and len(token) <= 200 else ""
    with store.write() as tx:
        row = tx.one(_TOKEN_USER_SQL, (_token_hash(text),)) if text else None
        if row is None:
            ledger.append(tx, "(token)", "auth.sign_in_failed", "(token)", {"reason": "unknown_token", "client": client})
            return SignInResult(False, "bad_credentials")
        if row["revoked_at"] is not None:
            ledger.append(tx, row["username"], "auth.sign_in_failed", row["username"],
                          {"reason": "revoked_token", "token_id": row["token_id"], "client": client})
            return SignInResult(False, "bad_credentials")
        if row["disabled"]:
            ledger.append(tx, row["username"], "auth.sign_in_failed", row["username"],
                          {"reason": "disabled", "token_id": row["token_id"], "client": client})
            return SignInResult(False, "disabled")
        tx.execute("UPDATE cli_tokens SET last_used = ? WHERE id = ?", (to_db(now), row["token_id"]))
        return SignInResult(True, "ok", _open_session(tx, row, now, {"client": client, "via": "token",
                                                                      "token_id": row["token_id"]}))


def session_without_credential(username: str, *, client: str, via: str,
                               store: GovernanceStore | None = None) -> Principal:
    """A session for an active user who proved nothing: only for the callers that decided it is allowed
    (``governance.demo.demo_session``, in a demo space, whose passwords are public)."""
    name = normalize_username(username)
    store = resolve(store)
    with store.write() as tx:
        row = _user_by_name(tx, name)
        if row is None or row["disabled"]:
            raise AccountError(f"username: no active user {name!r}")
        return _open_session(tx, row, utcnow(), {"client": ledger.clean_text(client, MAX_CLIENT), "via": via})


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


def resume(token: object, *, client: str = "unknown", now: datetime | None = None,
           store: GovernanceStore | None = None) -> Principal | None:
    """The principal of the live session whose token this is (a reload or a new tab presenting the
    session cookie), or None. Counts as activity, exactly like ``current``: an idle, signed-out, revoked
    or disabled user's session is not resumed. A resumed session is one ledger entry with the client it
    came from (``auth.session_resumed``): a session cookie used from another machine is on record."""
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        return None
    store = resolve(store)
    with store.write() as tx:
        probe = Principal("", "", 0, "", "", None, 0, token)
        check = check_session(tx, probe, now or utcnow(), touch=True)
        if not check.ok:
            return None
        row = check.row
        ledger.append(tx, row["username"], "auth.session_resumed", row["username"],
                      {"session_id": row["session_id"], "client": ledger.clean_text(client, MAX_CLIENT)})
        return Principal(row["username"], row["role"], row["org_id"], row["org_name"], row["org_type"],
                         row["facility_id"], row["user_id"], token)

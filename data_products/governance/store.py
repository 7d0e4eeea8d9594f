"""The governance store: organisations, users, sessions, scenarios, orders, release approvals and
the audit ledger, in one transactional database shared by the app's threads and the command line.

The embedded implementation is SQLite in WAL mode. Everything dialect-specific (connection,
pragmas, ``BEGIN IMMEDIATE``, the append-only triggers) lives in this module; the domain modules
speak portable SQL with ``?`` placeholders through ``read``/``write``/``Tx``, so a PostgreSQL
store would implement the same few methods (``write`` taking a row lock on ``ledger_head``
instead of ``BEGIN IMMEDIATE``) without touching the gate or the pages.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher

from data_products.config import paths, settings
from data_products.private import private_dir, private_file, tighten

KEY_FILE_ENV = "DATASPACE_LEDGER_KEY_FILE"  # named in messages; read through config.settings()

# Guangzhou's clock (China has no daylight saving): dates and naive datetimes given by people
# mean local time, the ledger and the tables hold UTC.
LOCAL = timezone(timedelta(hours=8), "Asia/Shanghai")
GENESIS = "0" * 64
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

TABLES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orgs (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL CHECK (type IN ('commission', 'hospital', 'company', 'service')),
    facility_id TEXT UNIQUE,
    created_at TEXT NOT NULL,
    CHECK ((type = 'hospital') = (facility_id IS NOT NULL))
);
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL,
    username_key TEXT NOT NULL UNIQUE,
    display_name TEXT,
    org_id INTEGER NOT NULL REFERENCES orgs(id),
    role TEXT NOT NULL CHECK (role IN ('commission_official', 'commission_analyst', 'hospital', 'company', 'service')),
    password_hash TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    failed_count INTEGER NOT NULL DEFAULT 0,
    locked_until TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    user_id INTEGER NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    ended_at TEXT,
    end_reason TEXT
);
CREATE TABLE IF NOT EXISTS orders (
    id INTEGER PRIMARY KEY,
    org_id INTEGER NOT NULL REFERENCES orgs(id),
    product_id TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending_approval', 'active', 'cancelled')),
    placed_by INTEGER REFERENCES users(id),
    placed_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    note TEXT
);
CREATE TABLE IF NOT EXISTS scenarios (
    id INTEGER PRIMARY KEY,
    org_id INTEGER NOT NULL REFERENCES orgs(id),
    product_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('standing', 'applied')),
    purpose TEXT NOT NULL,
    scope TEXT NOT NULL,
    valid_from TEXT NOT NULL,
    valid_to TEXT,
    state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'rejected', 'revoked', 'withdrawn')),
    order_id INTEGER REFERENCES orders(id),
    applied_by TEXT NOT NULL,
    applied_at TEXT NOT NULL,
    decided_by TEXT,
    decided_at TEXT,
    decision_reason TEXT,
    revoked_by TEXT,
    revoked_at TEXT,
    revoke_reason TEXT
);
CREATE INDEX IF NOT EXISTS scenarios_org_product ON scenarios (org_id, product_id);
CREATE UNIQUE INDEX IF NOT EXISTS scenarios_one_standing ON scenarios (org_id, product_id) WHERE kind = 'standing';
CREATE TABLE IF NOT EXISTS release_approvals (
    id INTEGER PRIMARY KEY,
    release_id TEXT NOT NULL,
    product_id TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    approved_by TEXT NOT NULL,
    approved_at TEXT NOT NULL,
    lineage TEXT NOT NULL,
    UNIQUE (release_id, product_id)
);
CREATE TABLE IF NOT EXISTS ledger (
    seq INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    mac TEXT
);
-- One row per commission official who approved a candidate release; the second distinct one publishes.
CREATE TABLE IF NOT EXISTS release_signoffs (
    id INTEGER PRIMARY KEY,
    release_id TEXT NOT NULL,
    product_id TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    username TEXT NOT NULL,
    os_user TEXT,
    at TEXT NOT NULL,
    UNIQUE (release_id, product_id, username)
);
-- Failed sign-ins by (typed username, client), known or not, for per-client and per-account backoff.
CREATE TABLE IF NOT EXISTS auth_failures (
    id INTEGER PRIMARY KEY,
    name_key TEXT NOT NULL,
    client TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS auth_failures_name ON auth_failures (name_key, at);
CREATE INDEX IF NOT EXISTS auth_failures_client ON auth_failures (client, at);
-- Clients a user has signed in from: exempt from the account-wide backoff others trigger.
CREATE TABLE IF NOT EXISTS known_clients (
    user_id INTEGER NOT NULL REFERENCES users(id),
    client TEXT NOT NULL,
    last_ok TEXT NOT NULL,
    PRIMARY KEY (user_id, client)
);
CREATE INDEX IF NOT EXISTS ledger_actor ON ledger (actor, seq);
CREATE INDEX IF NOT EXISTS ledger_action ON ledger (action, seq);
CREATE INDEX IF NOT EXISTS ledger_time ON ledger (time);
-- The newest entry, so a truncated tail is detected and appends cannot fork the chain.
CREATE TABLE IF NOT EXISTS ledger_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO ledger_head (id, seq, hash)
    SELECT 1, 0, '0000000000000000000000000000000000000000000000000000000000000000'
    WHERE NOT EXISTS (SELECT 1 FROM ledger_head);
"""

# Defence in depth under the absent update/delete API: even raw SQL cannot rewrite history, and an
# insert must extend the current head. Someone with the file can drop these; `verify` catches that.
TRIGGERS = """
CREATE TRIGGER IF NOT EXISTS ledger_no_update BEFORE UPDATE ON ledger
BEGIN SELECT RAISE(ABORT, 'audit ledger is append-only: UPDATE refused'); END;
CREATE TRIGGER IF NOT EXISTS ledger_no_delete BEFORE DELETE ON ledger
BEGIN SELECT RAISE(ABORT, 'audit ledger is append-only: DELETE refused'); END;
CREATE TRIGGER IF NOT EXISTS ledger_insert_extends_head BEFORE INSERT ON ledger
WHEN NEW.seq IS NOT (SELECT seq + 1 FROM ledger_head WHERE id = 1)
  OR NEW.prev_hash IS NOT (SELECT hash FROM ledger_head WHERE id = 1)
BEGIN SELECT RAISE(ABORT, 'audit ledger insert must extend the head of the chain'); END;
CREATE TRIGGER IF NOT EXISTS ledger_head_advances BEFORE UPDATE ON ledger_head
WHEN NEW.id IS NOT 1 OR NEW.seq IS NOT OLD.seq + 1
  OR NEW.hash IS NOT (SELECT hash FROM ledger WHERE seq = NEW.seq)
BEGIN SELECT RAISE(ABORT, 'ledger head may only advance to the newest entry'); END;
CREATE TRIGGER IF NOT EXISTS ledger_head_no_delete BEFORE DELETE ON ledger_head
BEGIN SELECT RAISE(ABORT, 'ledger head cannot be deleted'); END;
CREATE TRIGGER IF NOT EXISTS ledger_head_single BEFORE INSERT ON ledger_head
BEGIN SELECT RAISE(ABORT, 'ledger head already exists'); END;
"""


@dataclass(frozen=True)
class Policy:
    """Security settings of one deployment. Defaults are the real ones; tests may pass a cheaper
    ``hasher``, never a weaker algorithm (it stays argon2id)."""

    idle_minutes: int = 30
    lockout_failures: int = 5
    lockout_minutes: int = 15
    busy_timeout_s: float = 30.0
    # Where the ledger's MAC key lives; None: ``keys/ledger.key`` beside the store. A production
    # deployment points this at a separate mount the store's backups do not include.
    ledger_key_file: Path | None = None
    hasher: PasswordHasher = field(default_factory=PasswordHasher, compare=False, repr=False)

    @classmethod
    def from_env(cls) -> Policy:
        s = settings()
        return cls(idle_minutes=s.session_idle_minutes, lockout_failures=s.lockout_failures,
                   lockout_minutes=s.lockout_minutes, ledger_key_file=s.ledger_key_file)

    @property
    def idle(self) -> timedelta:
        return timedelta(minutes=self.idle_minutes)

    @property
    def lockout(self) -> timedelta:
        return timedelta(minutes=self.lockout_minutes)


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | date | None, *, end_of_day: bool = False) -> datetime | None:
    """A moment in UTC. A date means Guangzhou's calendar day: its start, or with ``end_of_day``
    the start of the next day (windows are half-open); a naive datetime means Guangzhou time."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=LOCAL)).astimezone(UTC)
    if isinstance(value, date):
        day = value + timedelta(days=1) if end_of_day else value
        return datetime(day.year, day.month, day.day, tzinfo=LOCAL).astimezone(UTC)
    raise TypeError(f"expected a date or datetime, got {type(value).__name__}")


def to_db(value: datetime | None) -> str | None:
    """Fixed-width UTC text, so SQL compares moments by comparing strings."""
    if value is None:
        return None
    return as_utc(value).strftime(_TIME_FORMAT)


def from_db(text: str | None) -> datetime | None:
    if text is None:
        return None
    return datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=UTC)


class Tx:
    """One open transaction on this thread's connection."""

    def __init__(self, conn: sqlite3.Connection, policy: Policy, store: GovernanceStore | None = None):
        self.conn = conn
        self.policy = policy
        self.store = store

    def key(self) -> bytes:
        """The ledger's MAC key (see ``GovernanceStore.ledger_key``)."""
        if self.store is None:
            raise RuntimeError("this transaction has no store to take the ledger key from")
        return self.store.ledger_key()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        return int(self.conn.execute(sql, params).lastrowid)

    def one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        return self.conn.execute(sql, params).fetchone()

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return self.conn.execute(sql, params).fetchall()


class LedgerKeyError(RuntimeError):
    """The ledger's MAC key is missing, unreadable, too widely readable or not this ledger's key."""


def key_id(key: bytes) -> str:
    return hashlib.sha256(b"dataspace ledger key id\0" + key).hexdigest()[:16]


class GovernanceStore:
    """SQLite (WAL) governance store; one connection per thread, opened on first use."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, policy: Policy | None = None):
        self.path = Path(path) if path is not None else paths().governance_db
        self.policy = policy or Policy.from_env()
        self._local = threading.local()
        self._lock = threading.Lock()
        self._dummy_hash: str | None = None
        self._key: bytes | None = None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Password hashes and the ledger: owner-only before SQLite first opens the file (SQLite gives
        # -wal and -shm the database file's permissions; earlier loose copies are tightened).
        private_file(self.path)
        for suffix in ("-wal", "-shm"):
            tighten(self.path.with_name(self.path.name + suffix))
        conn = self._conn()
        # Schema creation races between processes opening a fresh file; the write lock orders them.
        conn.execute("BEGIN IMMEDIATE")
        try:
            for script in (TABLES, TRIGGERS):
                for statement in _statements(script):
                    conn.execute(statement)
            # A store from before keyed MACs: the column is added; its old entries verify as unkeyed.
            if "mac" not in {r[1] for r in conn.execute("PRAGMA table_info(ledger)")}:
                conn.execute("ALTER TABLE ledger ADD COLUMN mac TEXT")
            conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', '1')")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def __repr__(self) -> str:
        return f"GovernanceStore({str(self.path)!r})"

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=self.policy.busy_timeout_s, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: a commit survives an application crash; only an OS crash or power
            # loss can drop the last few commits. FULL would fsync each gate decision.
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
        return conn

    @contextmanager
    def write(self) -> Iterator[Tx]:
        """A write transaction that holds the database's write lock from its first statement, so
        two writers never read the same ledger head. Re-entrant on one thread."""
        conn = self._conn()
        if conn.in_transaction:
            yield Tx(conn, self.policy, self)
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield Tx(conn, self.policy, self)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[Tx]:
        """A consistent snapshot for several reads."""
        conn = self._conn()
        if conn.in_transaction:
            yield Tx(conn, self.policy, self)
            return
        conn.execute("BEGIN")
        try:
            yield Tx(conn, self.policy, self)
        finally:
            conn.execute("ROLLBACK")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return self._conn().execute(sql, params).fetchall()

    def one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        return self._conn().execute(sql, params).fetchone()

    def close(self) -> None:
        """Close this thread's connection (others close when their thread's store is collected)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    @property
    def key_path(self) -> Path:
        return self.policy.ledger_key_file or self.path.parent / "keys" / "ledger.key"

    def ledger_key(self, *, create: bool = True) -> bytes:
        """The secret that keys every ledger entry's MAC. It lives in its own file, outside this
        store, so whoever can write the store (or a copy of it) cannot forge entries. Created
        (0600) with the first entry; never silently replaced once entries exist."""
        with self._lock:
            if self._key is None:
                self._key = self._load_key(create)
            return self._key

    def _load_key(self, create: bool) -> bytes:
        path = self.key_path
        try:
            mode = os.stat(path).st_mode & 0o777
        except FileNotFoundError:
            # Entries already keyed need their key back; a store from before keyed MACs gets its first key
            # (its old entries then verify as unkeyed, which is what they are).
            entries = int(self.one("SELECT COUNT(*) AS n FROM ledger WHERE mac IS NOT NULL")["n"])
            if not create or entries:
                raise LedgerKeyError(
                    f"ledger key file {path} is missing"
                    + (f"; the ledger's {entries} entries were keyed with it: restore it (a new key would make every"
                       f" entry fail verification), or point {KEY_FILE_ENV} at it" if entries else "")
                ) from None
            private_dir(path.parent)
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            except FileExistsError:  # another process created it first
                return self._load_key(create=False)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32) + "\n")
                f.flush()
                os.fsync(f.fileno())
            key = self._read_key(path)
            with self.write() as tx:
                tx.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('ledger_key_id', ?)", (key_id(key),))
            return key
        if mode & 0o077:
            raise LedgerKeyError(f"ledger key file {path} is readable by others (mode {mode:o}); chmod 600 it")
        key = self._read_key(path)
        row = self.one("SELECT value FROM meta WHERE key = 'ledger_key_id'")
        if row is not None and row["value"] != key_id(key):
            raise LedgerKeyError(f"ledger key file {path} is not the key this ledger was written with")
        return key

    @staticmethod
    def _read_key(path: Path) -> bytes:
        try:
            key = bytes.fromhex(path.read_text(encoding="ascii").strip())
        except (ValueError, UnicodeDecodeError):
            raise LedgerKeyError(f"ledger key file {path}: expected 64 hexadecimal characters") from None
        if len(key) < 32:
            raise LedgerKeyError(f"ledger key file {path}: {len(key)} bytes, at least 32 required")
        return key

    def dummy_hash(self) -> str:
        """A hash to verify against for unknown usernames, so their failure takes as long as a
        wrong password and response time does not reveal which usernames exist."""
        with self._lock:
            if self._dummy_hash is None:
                self._dummy_hash = self.policy.hasher.hash("no such user: timing equaliser")
            return self._dummy_hash


def _statements(script: str) -> list[str]:
    # Triggers contain ';' inside BEGIN ... END, so split on complete statements.
    out: list[str] = []
    buf = ""
    for line in script.splitlines(keepends=True):
        if line.lstrip().startswith("--"):
            continue
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    if buf.strip():
        raise ValueError(f"incomplete SQL statement in schema: {buf!r}")
    return out


_STORES: dict[Path, GovernanceStore] = {}
_STORES_LOCK = threading.Lock()


def get_store(path: str | os.PathLike[str] | None = None) -> GovernanceStore:
    """The store at ``path`` (default: ``paths().governance_db`` of the current DATASPACE_HOME),
    one object per file per process."""
    key = Path(path if path is not None else paths().governance_db).resolve()
    with _STORES_LOCK:
        store = _STORES.get(key)
        # A rebuilt data home (`dataspace build --demo`) replaces the file under a running app.
        if store is None or not key.exists():
            store = _STORES[key] = GovernanceStore(key)
        return store


def resolve(store: GovernanceStore | None) -> GovernanceStore:
    return store if store is not None else get_store()

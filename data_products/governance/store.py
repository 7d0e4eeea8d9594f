"""The governance store: organisations, users, sessions, scenarios, orders, release approvals and
the audit ledger, in one transactional database shared by the app's threads, its replicas and the
command line.

Two engines, one schema and one code path. The default is an embedded SQLite file in WAL mode in the
data home; ``DATASPACE_GOVERNANCE_URL=postgresql://…`` puts the same tables on PostgreSQL, which
several app replicas share. The domain modules speak portable SQL with ``?`` placeholders through
``read``/``write``/``Tx``; what differs (connecting, how a write transaction excludes other writers,
identity columns, the append-only triggers, fetching a new row's id) is the thin dialect layer below.

Write transactions are serialised on both engines: SQLite's ``BEGIN IMMEDIATE`` takes the database's
write lock, PostgreSQL's ``pg_advisory_xact_lock`` on one key does the same across every replica, so
two writers never read the same ledger head, and check-then-act steps (lockout counts, session
touches, scenario transitions) see every earlier commit. Reads never wait for writers.

The schema is versioned: ``MIGRATIONS`` is applied in order and recorded in ``schema_migrations``
(`dataspace governance migrate`; opening a store applies what is missing, so an old SQLite file is
upgraded in place).
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from functools import lru_cache
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

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orgs (
    id {pk},
    name TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL CHECK (type IN ('commission', 'hospital', 'company', 'service')),
    facility_id TEXT UNIQUE,
    created_at TEXT NOT NULL,
    CHECK ((type = 'hospital') = (facility_id IS NOT NULL))
);
CREATE TABLE IF NOT EXISTS users (
    id {pk},
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
    id {pk},
    token_hash TEXT NOT NULL UNIQUE,
    user_id INTEGER NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    ended_at TEXT,
    end_reason TEXT
);
CREATE TABLE IF NOT EXISTS orders (
    id {pk},
    org_id INTEGER NOT NULL REFERENCES orgs(id),
    product_id TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending_approval', 'active', 'cancelled')),
    placed_by INTEGER REFERENCES users(id),
    placed_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    note TEXT
);
CREATE TABLE IF NOT EXISTS scenarios (
    id {pk},
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
    id {pk},
    release_id TEXT NOT NULL,
    product_id TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    approved_by TEXT NOT NULL,
    approved_at TEXT NOT NULL,
    lineage TEXT NOT NULL,
    UNIQUE (release_id, product_id)
);
CREATE TABLE IF NOT EXISTS ledger (
    seq {seq},
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
    id {pk},
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
    id {pk},
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

# Research analyses under `analyse` scenarios (data_products.analyses.service).
ANALYSES_SCHEMA = """
CREATE TABLE IF NOT EXISTS analyses (
    id {pk},
    scenario_id INTEGER NOT NULL REFERENCES scenarios(id),
    dataset_id TEXT NOT NULL,
    org_id INTEGER NOT NULL REFERENCES orgs(id),
    requester TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('sql', 'model')),
    request TEXT NOT NULL,
    state TEXT NOT NULL,
    message TEXT,
    rewritten TEXT,
    checks TEXT,
    output TEXT,
    output_sha256 TEXT,
    submitted_at TEXT NOT NULL,
    ran_at TEXT,
    decided_at TEXT
);
CREATE INDEX IF NOT EXISTS analyses_org_dataset ON analyses (org_id, dataset_id, state);
CREATE TABLE IF NOT EXISTS analysis_reviews (
    id {pk},
    analysis_id INTEGER NOT NULL REFERENCES analyses(id),
    reviewer TEXT NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('release', 'reject')),
    reason TEXT NOT NULL,
    at TEXT NOT NULL,
    UNIQUE (analysis_id, reviewer)
);
"""

# A command-line token proves who runs `dataspace process|approve|export`: issued once, shown once, kept only
# as its SHA-256 (like sessions), revoked by setting revoked_at.
CLI_TOKENS_SCHEMA = """
CREATE TABLE IF NOT EXISTS cli_tokens (
    id {pk},
    token_hash TEXT NOT NULL UNIQUE,
    user_id INTEGER NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    last_used TEXT,
    revoked_at TEXT,
    revoked_by TEXT
);
"""

# The column types that differ: an id the database assigns, and the ledger's sequence number.
_TYPES = {
    "sqlite": {"pk": "INTEGER PRIMARY KEY", "seq": "INTEGER PRIMARY KEY"},
    "postgresql": {"pk": "INTEGER GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", "seq": "BIGINT PRIMARY KEY"},
}


def render(schema: str, dialect: str) -> str:
    return schema.replace("{pk}", _TYPES[dialect]["pk"]).replace("{seq}", _TYPES[dialect]["seq"])


TABLES = render(SCHEMA, "sqlite")  # the SQLite text (the ledger benchmark bulk-loads with it)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    schema: str


# Append only: a deployed version is never edited; a change is a new version. Every statement is
# idempotent (IF NOT EXISTS), so stores created before this history upgrade in place.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "governance tables: organisations, users, sessions, orders, scenarios, approvals, sign-offs, "
                 "sign-in failures, the ledger and its head", SCHEMA),
    Migration(2, "research analyses and their reviews", ANALYSES_SCHEMA),
    Migration(3, "per-user command-line tokens (SHA-256 only), revocable", CLI_TOKENS_SCHEMA),
)
LATEST = MIGRATIONS[-1].version

_HISTORY = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL
)"""

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

# The same rules in PL/pgSQL, plus TRUNCATE (which skips row triggers). ENABLE ALWAYS keeps them firing
# even for a session that sets session_replication_role = replica. The owner can still drop them (as
# the file's owner can in SQLite), hence `migrate --app-role`: the app's role gets INSERT and SELECT on
# the ledger and nothing that could alter it, its triggers or its table.
PG_TRIGGERS = """
CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'audit ledger is append-only: % refused', TG_OP; END $$;
CREATE OR REPLACE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE OR REPLACE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE OR REPLACE TRIGGER ledger_no_truncate BEFORE TRUNCATE ON ledger
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE OR REPLACE FUNCTION ledger_insert_extends_head() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE head_seq BIGINT; head_hash TEXT;
BEGIN
    SELECT seq, hash INTO head_seq, head_hash FROM ledger_head WHERE id = 1;
    IF NOT FOUND OR NEW.seq IS DISTINCT FROM head_seq + 1 OR NEW.prev_hash IS DISTINCT FROM head_hash THEN
        RAISE EXCEPTION 'audit ledger insert must extend the head of the chain';
    END IF;
    RETURN NEW;
END $$;
CREATE OR REPLACE TRIGGER ledger_insert_extends_head BEFORE INSERT ON ledger
    FOR EACH ROW EXECUTE FUNCTION ledger_insert_extends_head();
CREATE OR REPLACE FUNCTION ledger_head_advances() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id IS DISTINCT FROM 1 OR NEW.seq IS DISTINCT FROM OLD.seq + 1
       OR NEW.hash IS DISTINCT FROM (SELECT hash FROM ledger WHERE seq = NEW.seq) THEN
        RAISE EXCEPTION 'ledger head may only advance to the newest entry';
    END IF;
    RETURN NEW;
END $$;
CREATE OR REPLACE TRIGGER ledger_head_advances BEFORE UPDATE ON ledger_head
    FOR EACH ROW EXECUTE FUNCTION ledger_head_advances();
CREATE OR REPLACE FUNCTION ledger_head_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN RAISE EXCEPTION 'ledger head already exists'; END IF;
    RAISE EXCEPTION 'ledger head cannot be deleted (% refused)', TG_OP;
END $$;
CREATE OR REPLACE TRIGGER ledger_head_no_delete BEFORE DELETE ON ledger_head
    FOR EACH ROW EXECUTE FUNCTION ledger_head_fixed();
CREATE OR REPLACE TRIGGER ledger_head_no_truncate BEFORE TRUNCATE ON ledger_head
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_head_fixed();
CREATE OR REPLACE TRIGGER ledger_head_single BEFORE INSERT ON ledger_head
    FOR EACH ROW EXECUTE FUNCTION ledger_head_fixed();
"""
_TRIGGERS = {"sqlite": TRIGGERS, "postgresql": PG_TRIGGERS}


def _trigger_names(script: str) -> dict[str, tuple[str, ...]]:
    """Table -> the names of the triggers ``script`` creates on it (read from the script, not listed again)."""
    out: dict[str, tuple[str, ...]] = {}
    for name, table in re.findall(r"CREATE (?:OR REPLACE )?TRIGGER (?:IF NOT EXISTS )?(\w+) BEFORE \w+ ON (\w+)", script):
        out[table] = (*out.get(table, ()), name)
    return out


PG_TRIGGER_NAMES = _trigger_names(PG_TRIGGERS)
# Any writer of any replica: one key, so every write transaction of the space excludes the others.
_WRITE_LOCK_KEY = int.from_bytes(hashlib.sha256(b"dataspace governance write").digest()[:8], "big", signed=True)


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


class Row:
    """A PostgreSQL row addressed like ``sqlite3.Row``: by column name or position; ``dict(row)`` works."""

    __slots__ = ("_index", "_values")

    def __init__(self, index: dict[str, int], values: Sequence[Any]):
        self._index = index
        self._values = values

    def __getitem__(self, key: str | int) -> Any:
        return self._values[key if isinstance(key, int) else self._index[key]]

    def keys(self) -> list[str]:
        return list(self._index)

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Row({dict(zip(self._index, self._values, strict=True))!r})"


def _row_factory(cursor):
    index = {c.name: i for i, c in enumerate(cursor.description or ())}
    return lambda values: Row(index, values)


@lru_cache(maxsize=1024)
def _pg_sql(sql: str) -> str:
    """``?`` placeholders outside quoted text become ``%s``; a literal ``%`` is doubled."""
    out = []
    for i, part in enumerate(re.split(r"('(?:[^']|'')*'|\"[^\"]*\")", sql)):
        if i % 2:  # a quoted literal or identifier
            out.append(part.replace("%", "%%"))
        else:
            out.append(part.replace("%", "%%").replace("?", "%s"))
    return "".join(out)


class _PgConnection:
    """A psycopg connection in autocommit mode with explicit BEGIN/COMMIT, like the SQLite
    connection (``isolation_level=None``), speaking ``?`` placeholders."""

    def __init__(self, url: str, lock_timeout_s: float):
        import psycopg

        self.raw = psycopg.connect(url, autocommit=True, row_factory=_row_factory, application_name="dataspace")
        self.raw.execute(f"SET lock_timeout = {int(lock_timeout_s * 1000)}")

    def execute(self, sql: str, params: Sequence[Any] = ()):
        if params:
            return self.raw.execute(_pg_sql(sql), tuple(params))
        return self.raw.execute(sql)

    @property
    def in_transaction(self) -> bool:
        from psycopg.pq import TransactionStatus

        return self.raw.info.transaction_status != TransactionStatus.IDLE

    @property
    def usable(self) -> bool:
        return not (self.raw.closed or self.raw.broken)

    def close(self) -> None:
        self.raw.close()


class Tx:
    """One open transaction on this thread's connection."""

    def __init__(self, conn: sqlite3.Connection | _PgConnection, policy: Policy, store: GovernanceStore | None = None):
        self.conn = conn
        self.policy = policy
        self.store = store
        self.dialect = "postgresql" if isinstance(conn, _PgConnection) else "sqlite"

    @property
    def in_transaction(self) -> bool:
        return self.conn.in_transaction

    def key(self) -> bytes:
        """The ledger's MAC key (see ``GovernanceStore.ledger_key``)."""
        if self.store is None:
            raise RuntimeError("this transaction has no store to take the ledger key from")
        return self.store.ledger_key()

    def execute(self, sql: str, params: Sequence[Any] = ()):
        return self.conn.execute(sql, params)

    def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Insert one row into a table with an ``id`` column; its id."""
        if self.dialect == "postgresql":
            return int(self.conn.execute(sql + " RETURNING id", params).fetchone()[0])
        return int(self.conn.execute(sql, params).lastrowid)

    def one(self, sql: str, params: Sequence[Any] = ()):
        return self.conn.execute(sql, params).fetchone()

    def all(self, sql: str, params: Sequence[Any] = ()) -> list:
        return self.conn.execute(sql, params).fetchall()

    def stream(self, sql: str, batch: int = 20_000) -> Iterator[list[tuple]]:
        """Batches of plain tuples, without holding the whole result in memory (inside ``read()``)."""
        if self.dialect == "postgresql":
            from psycopg.rows import tuple_row

            with self.conn.raw.cursor(name="dataspace_stream", row_factory=tuple_row) as cur:
                cur.execute(sql)
                while rows := cur.fetchmany(batch):
                    yield rows
            return
        cur = self.conn.cursor()
        cur.row_factory = None  # plain tuples: a million sqlite3.Row objects cost seconds
        cur.execute(sql)
        while rows := cur.fetchmany(batch):
            yield rows


class LedgerKeyError(RuntimeError):
    """The ledger's MAC key is missing, unreadable, too widely readable or not this ledger's key."""


def key_id(key: bytes) -> str:
    return hashlib.sha256(b"dataspace ledger key id\0" + key).hexdigest()[:16]


def redact(url: str) -> str:
    """A database URL fit for a message: the password replaced, wherever it is (``user:pw@`` even with
    an unescaped ``/`` or ``@`` in it, or a ``password=`` parameter)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    head, q, query = rest.partition("?")
    if "@" in head:
        cred, _, where = head.rpartition("@")
        user = cred.split(":", 1)[0]
        head = (f"{user}:***@" if ":" in cred else f"{user}@") + where
    if query:
        query = "&".join("password=***" if kv.split("=", 1)[0].lower() == "password" else kv
                         for kv in query.split("&"))
    return f"{scheme}://{head}{q}{query}"


class GovernanceStore:
    """The governance store on SQLite (a file path; WAL) or PostgreSQL (a ``postgresql://`` URL); one
    connection per thread, opened on first use. Opening applies missing migrations."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, policy: Policy | None = None,
                 home: Path | None = None):
        self.policy = policy or Policy.from_env()
        self._local = threading.local()
        self._lock = threading.Lock()
        self._dummy_hash: str | None = None
        self._key: bytes | None = None
        target = str(path) if path is not None else None
        if target is None and settings().governance_url:
            target = settings().governance_url
        if target is not None and target.startswith(("postgresql://", "postgres://")):
            self.dialect = "postgresql"
            self.url: str | None = target
            self.path: Path | None = None
            # The key file and the approved zone stay in the data home (shared by the replicas).
            self.home = Path(home) if home is not None else paths().home
            try:
                import psycopg  # noqa: F401
            except ImportError:
                raise RuntimeError("DATASPACE_GOVERNANCE_URL points at PostgreSQL but psycopg is not installed: "
                                   "pip install '.[postgres]'") from None
            if self._behind():
                import psycopg

                try:
                    self.migrate()
                except psycopg.errors.InsufficientPrivilege as exc:
                    raise RuntimeError(
                        f"governance store {self.location}: a migration or a ledger trigger is missing or disabled and "
                        f"this role may not install it ({exc}); run `dataspace governance migrate` as the schema's "
                        "owner") from None
            return
        self.dialect = "sqlite"
        self.url = None
        self.path = Path(target) if target is not None else paths().governance_db
        self.home = Path(home) if home is not None else self.path.parent
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Password hashes and the ledger: owner-only before SQLite first opens the file (SQLite gives
        # -wal and -shm the database file's permissions; earlier loose copies are tightened).
        private_file(self.path)
        for suffix in ("-wal", "-shm"):
            tighten(self.path.with_name(self.path.name + suffix))
        # Cheap for SQLite, and it puts back triggers someone with the file dropped.
        self.migrate()

    @property
    def location(self) -> str:
        """Where the store is, for messages (a URL's password is not shown)."""
        return redact(self.url) if self.url else str(self.path)

    def __repr__(self) -> str:
        return f"GovernanceStore({self.location!r})"

    # ------------------------------------------------------------ schema

    def migrations(self) -> list[dict[str, Any]]:
        """The applied migration history, oldest first."""
        return [dict(r) for r in self.query("SELECT version, name, applied_at FROM schema_migrations ORDER BY version")]

    def _behind(self) -> bool:
        """PostgreSQL: is a migration missing, or a ledger trigger missing or disabled? (SQLite
        re-applies its idempotent script on every open instead.)"""
        if self.one("SELECT to_regclass('schema_migrations') AS t")["t"] is None:
            return True
        if int(self.one("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations")["v"]) < LATEST:
            return True
        live = {r["tgname"] for r in self.query(
            "SELECT tgname FROM pg_trigger WHERE tgrelid IN (to_regclass('ledger'), to_regclass('ledger_head'))"
            " AND NOT tgisinternal AND tgenabled = 'A'")}
        return not live.issuperset(n for names in PG_TRIGGER_NAMES.values() for n in names)

    def migrate(self) -> list[Migration]:
        """Apply the missing migrations in order, each recorded in ``schema_migrations``, and (re)install
        the ledger's triggers; all in one write transaction (PostgreSQL's DDL is transactional, and
        concurrent migrators wait for each other). Returns what was applied."""
        applied: list[Migration] = []
        with self.write() as tx:
            tx.execute(_HISTORY)
            done = {int(r["version"]) for r in tx.all("SELECT version FROM schema_migrations")}
            for m in MIGRATIONS:
                if m.version in done:
                    continue
                for statement in _statements(render(m.schema, self.dialect), self.dialect):
                    tx.execute(statement)
                if m.version == 1 and self.dialect == "sqlite":
                    # A store from before keyed MACs: the column is added; its old entries verify as unkeyed.
                    if "mac" not in {r[1] for r in tx.all("PRAGMA table_info(ledger)")}:
                        tx.execute("ALTER TABLE ledger ADD COLUMN mac TEXT")
                tx.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                           (m.version, m.name, to_db(utcnow())))
                applied.append(m)
            for statement in _statements(_TRIGGERS[self.dialect], self.dialect):
                tx.execute(statement)
            if self.dialect == "postgresql":
                for table, names in PG_TRIGGER_NAMES.items():
                    for name in names:  # fixed names from the table above
                        tx.execute(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {name}")
            tx.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?)"
                       " ON CONFLICT (key) DO UPDATE SET value = excluded.value", (str(LATEST),))
        return applied

    def grant_app_role(self, role: str) -> None:
        """PostgreSQL: let ``role`` (the role the app replicas connect as) use the store without owning
        it: the ledger gets INSERT and SELECT only, its head SELECT and UPDATE (the triggers still
        decide which updates), the history SELECT. A non-owner can neither alter nor drop a table or
        its triggers, so the append-only rule then holds even against the app's own credentials."""
        if self.dialect != "postgresql":
            raise ValueError("grant_app_role: an SQLite store has no roles; protect the file (0600) instead")
        from psycopg import sql

        who = sql.Identifier(role)
        with self.write() as tx:
            schema = tx.one("SELECT current_schema() AS s")["s"]
            tables = [r["tablename"] for r in tx.all("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")]
            raw = tx.conn.raw
            raw.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(schema), who))
            for table in tables:
                privileges = {"ledger": "SELECT, INSERT", "ledger_head": "SELECT, UPDATE",
                              "schema_migrations": "SELECT"}.get(table, "SELECT, INSERT, UPDATE, DELETE")
                raw.execute(sql.SQL("REVOKE ALL ON {} FROM {}").format(sql.Identifier(table), who))
                raw.execute(sql.SQL("GRANT " + privileges + " ON {} TO {}").format(sql.Identifier(table), who))
            raw.execute(sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {} TO {}").format(
                sql.Identifier(schema), who))

    # ------------------------------------------------------------ connections and transactions

    def _conn(self) -> sqlite3.Connection | _PgConnection:
        conn = getattr(self._local, "conn", None)
        if conn is not None and self.dialect == "postgresql" and not conn.usable:
            conn = None  # the server closed it (restart, failover): open a new one
        if conn is None:
            if self.dialect == "postgresql":
                conn = _PgConnection(self.url, self.policy.busy_timeout_s)
            else:
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
        """A write transaction that excludes every other writer from its first statement (SQLite's
        write lock; on PostgreSQL one advisory lock held to the end of the transaction, across
        replicas), so two writers never read the same ledger head. Re-entrant on one thread."""
        conn = self._conn()
        if conn.in_transaction:
            yield Tx(conn, self.policy, self)
            return
        if self.dialect == "postgresql":
            conn.execute("BEGIN")
            try:
                conn.execute("SELECT pg_advisory_xact_lock(?)", (_WRITE_LOCK_KEY,))
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        else:
            conn.execute("BEGIN IMMEDIATE")
        try:
            yield Tx(conn, self.policy, self)
        except BaseException:
            if conn.in_transaction:
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
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ" if self.dialect == "postgresql" else "BEGIN")
        try:
            yield Tx(conn, self.policy, self)
        finally:
            conn.execute("ROLLBACK")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list:
        return self._conn().execute(sql, params).fetchall()

    def one(self, sql: str, params: Sequence[Any] = ()):
        return self._conn().execute(sql, params).fetchone()

    def close(self) -> None:
        """Close this thread's connection (others close when their thread's store is collected)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    @property
    def key_path(self) -> Path:
        return self.policy.ledger_key_file or self.home / "keys" / "ledger.key"

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
            except FileExistsError:  # another process created it first: read theirs
                mode = os.stat(path).st_mode & 0o777
            else:
                with os.fdopen(fd, "w") as f:
                    f.write(secrets.token_hex(32) + "\n")
                    f.flush()
                    os.fsync(f.fileno())
                mode = 0o600
        if mode & 0o077:
            raise LedgerKeyError(f"ledger key file {path} is readable by others (mode {mode:o}); chmod 600 it")
        key = self._read_key(path)
        row = self.one("SELECT value FROM meta WHERE key = 'ledger_key_id'")
        if row is None and create:
            # A new key, or a store that starts with a key already in place (a new PostgreSQL store beside an
            # existing data home, or several replicas sharing one key): bind the key to this ledger from now on.
            with self.write() as tx:
                tx.execute("INSERT INTO meta (key, value) VALUES ('ledger_key_id', ?) ON CONFLICT (key) DO NOTHING",
                           (key_id(key),))
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


def _statements(script: str, dialect: str = "sqlite") -> list[str]:
    """The script's statements. Trigger bodies contain ';' (inside BEGIN ... END for SQLite, inside
    $$ ... $$ for PostgreSQL), so split on complete statements."""
    out: list[str] = []
    buf = ""
    for line in script.splitlines(keepends=True):
        if line.lstrip().startswith("--"):
            continue
        buf += line
        if dialect == "sqlite":
            complete = sqlite3.complete_statement(buf)
        else:
            complete = buf.rstrip().endswith(";") and buf.count("$$") % 2 == 0
        if complete:
            out.append(buf.strip().rstrip(";") if dialect != "sqlite" else buf.strip())
            buf = ""
    if buf.strip():
        raise ValueError(f"incomplete SQL statement in schema: {buf!r}")
    return out


_STORES: dict[str | Path, GovernanceStore] = {}
_STORES_LOCK = threading.Lock()


def get_store(path: str | os.PathLike[str] | None = None) -> GovernanceStore:
    """The store at ``path``, else at $DATASPACE_GOVERNANCE_URL, else ``paths().governance_db`` of the
    current DATASPACE_HOME; one object per store per process."""
    url = settings().governance_url if path is None else None
    with _STORES_LOCK:
        if url is not None:
            key: str | Path = f"{url}#{paths().home.resolve()}"
            store = _STORES.get(key)
            if store is None:
                store = _STORES[key] = GovernanceStore(url)
            return store
        key = Path(path if path is not None else paths().governance_db).resolve()
        store = _STORES.get(key)
        # A rebuilt data home (`dataspace build --demo`) replaces the file under a running app.
        if store is None or not key.exists():
            store = _STORES[key] = GovernanceStore(key)
        return store


def resolve(store: GovernanceStore | None) -> GovernanceStore:
    return store if store is not None else get_store()

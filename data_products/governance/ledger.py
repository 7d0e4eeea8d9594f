"""The audit ledger: an append-only, hash-chained record of everything the space decides.

Each entry's hash is SHA-256 over a canonical serialisation of (seq, time, actor, action, target,
detail-json, prev_hash), and ``prev_hash`` is the previous entry's hash, so changing, removing,
adding or swapping an entry breaks the chain at a position ``verify`` names. There is no update or
delete function here, and the store's triggers refuse them in SQL as well.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from data_products.governance.store import GENESIS, GovernanceStore, Tx, from_db, resolve, to_db, utcnow

# Keeps a hostile sign-in name from bloating the ledger while still recording what was tried.
MAX_FIELD = 256


def clean_text(value: object, limit: int = MAX_FIELD) -> str:
    """Text that SQLite and UTF-8 accept whatever a form sent (lone surrogates become U+FFFD)."""
    text = str(value).encode("utf-8", "replace").decode("utf-8")
    return text if len(text) <= limit else text[:limit] + f"…(+{len(text) - limit} chars)"


def canonical_json(detail: Any) -> str:
    return json.dumps(detail if detail is not None else {}, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def entry_hash(seq: int, time: str, actor: str, action: str, target: str | None, detail: str, prev_hash: str) -> str:
    payload = json.dumps([seq, time, actor, action, target, detail, prev_hash], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Entry:
    seq: int
    time: datetime
    actor: str
    action: str
    target: str | None
    detail: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    entries: int
    first_bad_seq: int | None
    problem: str | None

    def __bool__(self) -> bool:
        return self.ok


def append(tx: Tx, actor: str, action: str, target: str | None = None, detail: dict[str, Any] | None = None) -> int:
    """Add one entry inside ``tx`` (which must come from ``store.write()``) and return its seq."""
    if not tx.conn.in_transaction:
        raise RuntimeError("ledger.append needs an open write transaction (use store.write())")
    head = tx.one("SELECT seq, hash FROM ledger_head WHERE id = 1")
    seq = int(head["seq"]) + 1
    time = to_db(utcnow())
    actor = clean_text(actor)
    target = None if target is None else clean_text(target)
    # A form can deliver lone surrogates, which UTF-8 (and so SQLite) cannot store.
    detail_text = canonical_json(detail).encode("utf-8", "replace").decode("utf-8")
    action = clean_text(action)
    digest = entry_hash(seq, time, actor, action, target, detail_text, head["hash"])
    tx.execute(
        "INSERT INTO ledger (seq, time, actor, action, target, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (seq, time, actor, action, target, detail_text, head["hash"], digest),
    )
    tx.execute("UPDATE ledger_head SET seq = ?, hash = ? WHERE id = 1", (seq, digest))
    return seq


def record(actor: str, action: str, target: str | None = None, detail: dict[str, Any] | None = None,
           *, store: GovernanceStore | None = None) -> int:
    """Append one entry in its own transaction."""
    with resolve(store).write() as tx:
        return append(tx, actor, action, target, detail)


# SQLite's json_array gives the same text as ``entry_hash``'s json.dumps for everything this module
# writes, and building it in C saves most of the time of a million-entry walk. A mismatch is
# re-checked with the Python serialisation before an entry is called bad, so the shortcut can make
# verify slower, never wrong.
_VERIFY_SQL = ("SELECT seq, json_array(seq, time, actor, action, target, detail, prev_hash), prev_hash, hash"
               " FROM ledger ORDER BY seq")
_VERIFY_SQL_PLAIN = "SELECT seq, NULL, prev_hash, hash FROM ledger ORDER BY seq"


def _python_payload(tx: Tx, seq: int) -> bytes:
    row = tx.one("SELECT seq, time, actor, action, target, detail, prev_hash FROM ledger WHERE seq = ?", (seq,))
    return json.dumps(list(row), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def verify(store: GovernanceStore | None = None) -> VerifyResult:
    """Walk the whole chain; the first entry that is missing, altered or out of place is named."""
    store = resolve(store)
    with store.read() as tx:
        head = tx.one("SELECT seq, hash FROM ledger_head WHERE id = 1")
        cur = tx.conn.cursor()
        cur.row_factory = None  # plain tuples: a million sqlite3.Row objects cost seconds
        try:
            cur.execute(_VERIFY_SQL)
        except sqlite3.OperationalError:  # an SQLite built without JSON functions
            cur.execute(_VERIFY_SQL_PLAIN)
        expected, prev = 1, GENESIS
        sha256 = hashlib.sha256
        while rows := cur.fetchmany(20_000):
            for seq, payload, prev_hash, digest in rows:
                if seq != expected:
                    return VerifyResult(False, expected - 1, expected,
                                        f"entry {expected} is missing (the next stored entry is {seq})")
                if payload is None or sha256(payload.encode("utf-8")).hexdigest() != digest:
                    if sha256(_python_payload(tx, seq)).hexdigest() != digest:
                        return VerifyResult(False, expected - 1, seq,
                                            f"entry {seq} was altered: its content does not match its hash")
                if prev_hash != prev:
                    return VerifyResult(False, expected - 1, seq,
                                        f"entry {seq} does not follow entry {seq - 1}: an entry was inserted, "
                                        "removed or moved here")
                prev = digest
                expected += 1
        count = expected - 1
    if head is None:
        return VerifyResult(False, count, count + 1, "the ledger head record is missing")
    if head["seq"] > count:
        return VerifyResult(False, count, count + 1,
                            f"entries {count + 1}..{head['seq']} are missing from the end of the ledger")
    if head["seq"] < count or head["hash"] != prev:
        return VerifyResult(False, count, head["seq"] + 1,
                            f"the ledger head (entry {head['seq']}) does not match the last entry {count}")
    return VerifyResult(True, count, None, None)


def _entry(row) -> Entry:
    return Entry(row["seq"], from_db(row["time"]), row["actor"], row["action"], row["target"],
                 json.loads(row["detail"]), row["prev_hash"], row["hash"])


def entries(
    *,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 500,
    offset: int = 0,
    newest_first: bool = True,
    store: GovernanceStore | None = None,
) -> list[Entry]:
    """Entries matching every given filter. ``action`` ending in ``.`` or ``*`` matches a family
    (``"gate."`` gives allows and denies); ``since`` is inclusive, ``until`` exclusive."""
    clauses: list[str] = []
    params: list[Any] = []
    if actor is not None:
        clauses.append("actor = ?")
        params.append(actor)
    if action is not None:
        if action.endswith(("*", ".")):
            prefix = action.rstrip("*")
            clauses.append("substr(action, 1, ?) = ?")
            params += [len(prefix), prefix]
        else:
            clauses.append("action = ?")
            params.append(action)
    if target is not None:
        clauses.append("target = ?")
        params.append(target)
    if since is not None:
        clauses.append("time >= ?")
        params.append(to_db(since))
    if until is not None:
        clauses.append("time < ?")
        params.append(to_db(until))
    where = " AND ".join(clauses) if clauses else "1 = 1"
    order = "DESC" if newest_first else "ASC"
    # Clause texts and the direction come from the fixed strings above; values are parameters.
    sql = f"SELECT * FROM ledger WHERE {where} ORDER BY seq {order} LIMIT ? OFFSET ?"  # noqa: S608
    rows = resolve(store).query(sql, (*params, int(limit), int(offset)))
    return [_entry(r) for r in rows]


def count(store: GovernanceStore | None = None) -> int:
    return int(resolve(store).one("SELECT seq FROM ledger_head WHERE id = 1")["seq"])

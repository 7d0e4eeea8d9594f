"""The audit ledger: an append-only, hash-chained, keyed record of everything the space decides.

Three layers, each against a stronger adversary:

1. The chain. Each entry's hash is SHA-256 over a canonical serialisation of (seq, time, actor,
   action, target, detail-json, prev_hash), and ``prev_hash`` is the previous entry's hash, so a
   changed, removed, added or swapped entry breaks the chain, unless whoever changed it recomputed
   every later hash, which anyone can.
2. Keyed MACs. Each entry also carries HMAC-SHA256(key, hash) under a key kept outside the store
   (``GovernanceStore.ledger_key``): someone who can write the store but not read the key cannot
   make a forged, inserted or recomputed entry verify.
3. Published heads. ``publish_head`` appends (seq, hash) to an append-only anchor file, and every
   approved release carries the head in its metadata. Those copies leave the store, so even the
   key's holder cannot truncate, delete or recompute the chain before a published head without
   ``verify(anchors=...)`` noticing. Entries after the newest published head have only layers 1-2.

There is no update or delete function here, and the store's triggers refuse them in SQL as well.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from data_products.config import settings
from data_products.governance.store import (  # noqa: F401 - LedgerKeyError is part of this module's API
    GENESIS,
    GovernanceStore,
    LedgerKeyError,
    Tx,
    from_db,
    resolve,
    to_db,
    utcnow,
)

ANCHOR_FILE_ENV = "DATASPACE_LEDGER_ANCHOR_FILE"

# Keeps a hostile sign-in name from bloating the ledger while still recording what was tried.
MAX_FIELD = 256


def clean_text(value: object, limit: int = MAX_FIELD) -> str:
    """Text that both engines and UTF-8 accept whatever a form sent: lone surrogates and NUL (which
    PostgreSQL's text cannot hold) become U+FFFD."""
    text = str(value).encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")
    return text if len(text) <= limit else text[:limit] + f"…(+{len(text) - limit} chars)"


def canonical_json(detail: Any) -> str:
    return json.dumps(detail if detail is not None else {}, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def entry_hash(seq: int, time: str, actor: str, action: str, target: str | None, detail: str, prev_hash: str) -> str:
    payload = json.dumps([seq, time, actor, action, target, detail, prev_hash], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def entry_mac(key: bytes, digest: str) -> str:
    """The keyed MAC of one entry: over its chain hash, which commits to its content and to every
    entry before it."""
    return hmac.digest(key, digest.encode("ascii"), "sha256").hex()


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
class Anchor:
    """A published ledger head: entry ``seq`` had hash ``hash``. ``source`` says where it was read."""

    seq: int
    hash: str
    source: str = ""


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    entries: int
    first_bad_seq: int | None
    problem: str | None
    # How much was checked: for reports, not part of the verdict's equality.
    macs_checked: bool = field(default=False, compare=False)
    anchors_checked: int = field(default=0, compare=False)
    newest_anchor: int = field(default=0, compare=False)

    def __bool__(self) -> bool:
        return self.ok


def append(tx: Tx, actor: str, action: str, target: str | None = None, detail: dict[str, Any] | None = None) -> int:
    """Add one entry inside ``tx`` (which must come from ``store.write()``) and return its seq."""
    if not tx.in_transaction:
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
    mac = entry_mac(tx.key(), digest)
    tx.execute(
        "INSERT INTO ledger (seq, time, actor, action, target, detail, prev_hash, hash, mac)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (seq, time, actor, action, target, detail_text, head["hash"], digest, mac),
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
# verify slower, never wrong. PostgreSQL's JSON functions space their output differently, so there
# the payload is serialised here.
_VERIFY_SQL = ("SELECT seq, json_array(seq, time, actor, action, target, detail, prev_hash), prev_hash, hash, mac"
               " FROM ledger ORDER BY seq")
_VERIFY_SQL_PLAIN = "SELECT seq, NULL, prev_hash, hash, mac FROM ledger ORDER BY seq"
_VERIFY_SQL_FULL = "SELECT seq, time, actor, action, target, detail, prev_hash, hash, mac FROM ledger ORDER BY seq"


def _python_payload(tx: Tx, seq: int) -> bytes:
    row = tx.one("SELECT seq, time, actor, action, target, detail, prev_hash FROM ledger WHERE seq = ?", (seq,))
    return json.dumps(list(row), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _chain_rows(tx: Tx):
    """Batches of (seq, payload text or None, prev_hash, hash, mac) in seq order."""
    if tx.dialect == "postgresql":
        dumps = json.dumps
        for rows in tx.stream(_VERIFY_SQL_FULL):
            yield [(r[0], dumps(list(r[:7]), ensure_ascii=False, separators=(",", ":")), r[6], r[7], r[8])
                   for r in rows]
        return
    try:
        tx.one("SELECT json_array(1)")
        sql = _VERIFY_SQL
    except Exception:  # noqa: BLE001 - an SQLite built without JSON functions
        sql = _VERIFY_SQL_PLAIN
    yield from tx.stream(sql)


def verify(store: GovernanceStore | None = None, *, anchors: Iterable[Anchor] = (), check_macs: bool = True,
           key: bytes | None = None) -> VerifyResult:
    """Walk the whole chain; the first entry that is missing, altered, out of place, unkeyed or at
    odds with a published head is named. ``check_macs=False`` is for a reader without the key (the
    chain and the anchors are still checked); raises ``LedgerKeyError`` when the key is needed and
    missing."""
    store = resolve(store)
    if check_macs and key is None:
        key = store.ledger_key(create=False)
    published: dict[int, Anchor] = {}
    for a in anchors:
        if a.seq in published and published[a.seq].hash != a.hash:
            return VerifyResult(False, 0, a.seq, f"two published heads for entry {a.seq} disagree "
                                f"({published[a.seq].source} and {a.source})", check_macs)
        published[a.seq] = a
    newest = max(published, default=0)
    done = dict(macs_checked=check_macs, anchors_checked=len(published), newest_anchor=newest)
    with store.read() as tx:
        head = tx.one("SELECT seq, hash FROM ledger_head WHERE id = 1")
        expected, prev = 1, GENESIS
        sha256 = hashlib.sha256
        mac_of = hmac.digest
        for rows in _chain_rows(tx):
            for seq, payload, prev_hash, digest, mac in rows:
                if seq != expected:
                    return VerifyResult(False, expected - 1, expected,
                                        f"entry {expected} is missing (the next stored entry is {seq})", **done)
                if payload is None or sha256(payload.encode("utf-8")).hexdigest() != digest:
                    if sha256(_python_payload(tx, seq)).hexdigest() != digest:
                        return VerifyResult(False, expected - 1, seq,
                                            f"entry {seq} was altered: its content does not match its hash", **done)
                if prev_hash != prev:
                    return VerifyResult(False, expected - 1, seq,
                                        f"entry {seq} does not follow entry {seq - 1}: an entry was inserted, "
                                        "removed or moved here", **done)
                if check_macs and (mac is None or mac_of(key, digest.encode("ascii"), "sha256").hex() != mac):
                    why = ("it has none (written by a version before keyed MACs, or by hand)" if mac is None
                           else "it was written or rewritten without the ledger key")
                    return VerifyResult(False, expected - 1, seq, f"entry {seq} carries no valid MAC: {why}", **done)
                if seq in published and published[seq].hash != digest:
                    return VerifyResult(False, expected - 1, seq,
                                        f"entry {seq} differs from the head published in {published[seq].source}: "
                                        "the chain was rewritten up to here", **done)
                prev = digest
                expected += 1
        count = expected - 1
    if head is None:
        return VerifyResult(False, count, count + 1, "the ledger head record is missing", **done)
    if newest > count:
        return VerifyResult(False, count, count + 1,
                            f"the ledger ends at entry {count} but entry {newest} was published in "
                            f"{published[newest].source}: entries were removed from the end", **done)
    if head["seq"] > count:
        return VerifyResult(False, count, count + 1,
                            f"entries {count + 1}..{head['seq']} are missing from the end of the ledger", **done)
    if head["seq"] < count or head["hash"] != prev:
        return VerifyResult(False, count, head["seq"] + 1,
                            f"the ledger head (entry {head['seq']}) does not match the last entry {count}", **done)
    return VerifyResult(True, count, None, None, **done)


# ---------------------------------------------------------------- published heads


def anchor_path(store: GovernanceStore | None = None) -> Path:
    """The append-only file of published heads: $DATASPACE_LEDGER_ANCHOR_FILE, else
    ``approved/ledger-anchors.jsonl`` beside the store (published with the releases)."""
    configured = settings().ledger_anchor_file
    return configured or resolve(store).home / "approved" / "ledger-anchors.jsonl"


def head(store: GovernanceStore | None = None) -> Anchor:
    row = resolve(store).one("SELECT seq, hash FROM ledger_head WHERE id = 1")
    return Anchor(int(row["seq"]), row["hash"], "head")


def publish_head(reason: str, *, at: Anchor | None = None, release_id: str | None = None,
                 path: Path | None = None, store: GovernanceStore | None = None) -> Anchor:
    """Append a head (the current one, or ``at``) to the anchor file, once: a head already in the
    file is not written again. The line is flushed and fsynced before this returns."""
    store = resolve(store)
    anchor = at or head(store)
    path = path or anchor_path(store)
    path.parent.mkdir(parents=True, exist_ok=True)
    if any(a.seq == anchor.seq and a.hash == anchor.hash for a in read_anchors(path)):
        return anchor
    line = json.dumps({"seq": anchor.seq, "hash": anchor.hash, "time": to_db(utcnow()), "reason": reason,
                       "release_id": release_id}, ensure_ascii=False, sort_keys=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    return anchor


def read_anchors(path: Path) -> list[Anchor]:
    """Published heads from an anchor file; a line that is not a head is an error naming its line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
            out.append(Anchor(int(doc["seq"]), str(doc["hash"]), f"{path}:{n}"))
        except (ValueError, KeyError, TypeError):
            # A torn last line (a crash mid-append) is the one harmless malformation.
            if n == len(text.splitlines()) and not text.endswith("\n"):
                continue
            raise ValueError(f"{path}, line {n}: not a published ledger head") from None
    return out


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

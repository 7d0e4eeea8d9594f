"""The approved zone: releases that passed disclosure control and an approval.

One DuckDB file per release, never rewritten, and a small JSON pointer per product naming the current
one. Publishing writes the new file first, then replaces the pointer with ``os.replace`` (atomic on
POSIX), so a reader sees the old release or the new one, never half. DuckDB lets a process write a
file only while no other process has it open; since a published file is never written again, a running
app and a publishing command never contend for the same file, and the app picks up a new release on
its next read without a restart.

Publishing is crash-safe in an order ``pipeline`` drives: ``stage`` copies the candidate into the
zone as an immutable file that is not yet current; the approval is recorded in the governance store
(the commit point); ``activate`` writes the approval metadata and switches the pointer. A crash
before the commit leaves an unreferenced file and the old release current; after it, the next
``pipeline.reconcile`` (run by `dataspace approve`, `serve` and `build`) finishes the switch.

The read side loads a release's tables into memory once (they are small aggregate tables) and closes
the file: pages then filter frames, and no connection stays open across a switch.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from data_products.config import paths
from data_products.private import private_dir, tighten

META_TABLE = "_release"


class NoRelease(LookupError):
    """No approved release of this product exists yet."""


@dataclass(frozen=True)
class Release:
    release_id: str
    product_id: str
    meta: dict
    approval: dict
    tables: dict[str, pd.DataFrame] = field(repr=False)

    def table(self, name: str) -> pd.DataFrame:
        """A copy, so a caller's filtering never changes the cached release."""
        try:
            return self.tables[name].copy()
        except KeyError:
            raise KeyError(f"release {self.release_id} has no table {name!r}; it has {sorted(self.tables)}") from None


# --- writing (pipeline side) ------------------------------------------------------------------


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def checkpoint(name: str) -> None:
    """A named step of the publish sequence. Does nothing; the crash tests replace it to kill the
    process at exactly that step."""


def write_release_file(path: Path, tables: dict[str, pd.DataFrame], meta: dict) -> None:
    """Write tables and metadata into a new DuckDB file, atomically (temp file, then rename)."""
    private_dir(path.parent)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp))
    tighten(tmp)  # DuckDB creates it with the umask's permissions; the folder is already owner-only
    try:
        for name, frame in tables.items():
            if not name.isidentifier():
                raise ValueError(f"bad table name {name!r}")
            con.register("_frame", frame)
            con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM _frame')  # noqa: S608 - identifier checked
            con.unregister("_frame")
        con.execute(f'CREATE TABLE "{META_TABLE}" (meta JSON)')
        con.execute(f'INSERT INTO "{META_TABLE}" VALUES (?)', [json.dumps(meta, ensure_ascii=False, default=str)])  # noqa: S608
        con.execute("CHECKPOINT")
    finally:
        con.close()
    _fsync_file(tmp)
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def read_release_file(path: Path) -> tuple[dict[str, pd.DataFrame], dict]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        names = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables ORDER BY table_name").fetchall()]
        meta = json.loads(con.execute(f'SELECT meta FROM "{META_TABLE}"').fetchone()[0])  # noqa: S608
        tables = {
            n: con.execute(f'SELECT * FROM "{n}"').df()  # noqa: S608 - names read from the file's own catalog
            for n in names
            if n != META_TABLE
        }
    finally:
        con.close()
    return tables, meta


# Metadata that says when and under which id a build ran, not what it shows: left out of the hash, so
# the same input always gives the same content hash.
VOLATILE_META = ("built_at", "release_id")


def content_hash(tables: dict[str, pd.DataFrame], meta: dict) -> str:
    """A hash of what a release shows: every table's rows in a canonical order, and its metadata
    (without :data:`VOLATILE_META`)."""
    meta = {k: v for k, v in meta.items() if k not in VOLATILE_META}
    h = hashlib.sha256()
    for name in sorted(tables):
        frame = tables[name]
        frame = frame.reindex(sorted(frame.columns), axis=1)
        frame = frame.sort_values(list(frame.columns), kind="stable", na_position="first").reset_index(drop=True)
        h.update(name.encode())
        h.update(frame.to_csv(index=False, na_rep="<NA>").encode())
    h.update(json.dumps(meta, sort_keys=True, ensure_ascii=False, default=str).encode())
    return h.hexdigest()


def candidate_path(release_id: str) -> Path:
    product_id = release_id.split("@", 1)[0]
    return paths().candidates / product_id / f"{release_id}.duckdb"


def approved_path(release_id: str) -> Path:
    product_id = release_id.split("@", 1)[0]
    return paths().approved / product_id / f"{release_id}.duckdb"


@contextmanager
def publish_lock() -> Iterator[None]:
    """One publisher at a time (approve, reconcile); the OS drops the lock if the holder dies."""
    folder = private_dir(paths().approved)
    fd = os.open(folder / ".publish.lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def stage(release_id: str) -> Path:
    """Copy a candidate into the approved zone as an immutable file, not yet current. Idempotent:
    a file already staged (renamed into place only when complete) is kept."""
    src = candidate_path(release_id)
    dst = approved_path(release_id)
    if dst.exists():
        return dst
    private_dir(dst.parent)
    tmp = dst.with_name(dst.name + ".tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
    try:
        with open(src, "rb") as f:
            first = True
            while chunk := f.read(1 << 20):
                os.write(fd, chunk)
                if first:
                    checkpoint("copying")
                    first = False
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, dst)
    _fsync_dir(dst.parent)
    return dst


def activate(release_id: str, approval: dict, *, after_metadata=None) -> None:
    """Make a staged, recorded release current: its approval metadata, then the pointer switch.
    ``after_metadata`` runs between the two (the caller publishes the ledger head there)."""
    product_id = release_id.split("@", 1)[0]
    folder = paths().approved / product_id
    dst = approved_path(release_id)
    if not dst.exists():
        raise FileNotFoundError(f"{dst}: release {release_id} was never staged")
    _write_json_atomic(folder / f"{release_id}.approval.json", approval)
    checkpoint("metadata_written")
    if after_metadata is not None:
        after_metadata()
    checkpoint("anchored")
    _write_json_atomic(folder / "CURRENT", {"release_id": release_id, "file": dst.name})


def remove_partial_files() -> list[Path]:
    """Temporary files a crashed publish left in the approved zone (call under ``publish_lock``;
    candidates are left alone, since `process` may be writing one right now)."""
    removed = []
    root = paths().approved
    for tmp in root.rglob("*.tmp") if root.exists() else ():
        tmp.unlink(missing_ok=True)
        removed.append(tmp)
    return removed


def _write_json_atomic(path: Path, doc: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(os.open(tmp, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600), "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1, default=str)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


# --- reading (dashboard side) -----------------------------------------------------------------

_lock = threading.Lock()
_cache: dict[Path, Release] = {}


def current_release_id(product_id: str) -> str | None:
    pointer = paths().approved / product_id / "CURRENT"
    try:
        return json.loads(pointer.read_text(encoding="utf-8"))["release_id"]
    except FileNotFoundError:
        return None


def current(product_id: str) -> Release:
    """The product's current approved release (cached per release; re-reads the pointer every call)."""
    folder = paths().approved / product_id
    release_id = current_release_id(product_id)
    if release_id is None:
        raise NoRelease(product_id)
    file = folder / f"{release_id}.duckdb"
    with _lock:
        cached = _cache.get(file)
        if cached is None:
            tables, meta = read_release_file(file)
            approval = json.loads((folder / f"{release_id}.approval.json").read_text(encoding="utf-8"))
            cached = Release(release_id, product_id, meta, approval, tables)
            # Keep only the newest release of each product in memory.
            for old in [k for k, v in _cache.items() if v.product_id == product_id]:
                del _cache[old]
            _cache[file] = cached
        return cached


def published(product_id: str) -> list[tuple[str, dict[str, pd.DataFrame]]]:
    """Every release of the product ever published (id, tables), oldest first: what a reader may hold."""
    folder = paths().approved / product_id
    out = []
    for approval in sorted(folder.glob("*.approval.json")):
        release_id = approval.name.removesuffix(".approval.json")
        file = folder / f"{release_id}.duckdb"
        if file.exists():
            out.append((release_id, read_release_file(file)[0]))
    return out


def history(product_id: str) -> list[dict]:
    """Approval records of every release ever published for the product, newest first."""
    folder = paths().approved / product_id
    docs = [json.loads(p.read_text(encoding="utf-8")) for p in folder.glob("*.approval.json")]
    return sorted(docs, key=lambda d: d.get("approved_at", ""), reverse=True)

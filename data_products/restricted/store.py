"""The restricted store (DuckDB): one transaction per accepted transfer.

Manifest row and records are committed together, so a process killed mid-ingest leaves either
the whole transfer or none of it; the next run then finds the file's hash absent and ingests it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd

from data_products.private import tighten
from data_products.restricted.registry import SPECS
from data_products.restricted.specs import IngestSpec

MANIFESTS_DDL = """
CREATE TABLE IF NOT EXISTS manifests (
    transfer_id VARCHAR PRIMARY KEY,
    facility_id VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    file_name VARCHAR NOT NULL,
    sha256 VARCHAR NOT NULL,
    rows_accepted BIGINT NOT NULL,
    rows_rejected BIGINT NOT NULL,
    schema_version VARCHAR NOT NULL,
    ingested_at TIMESTAMP NOT NULL,
    superseded_by VARCHAR
)
"""
REJECTIONS_DDL = """
CREATE TABLE IF NOT EXISTS rejections (
    facility_id VARCHAR NOT NULL,
    kind VARCHAR,
    file_name VARCHAR NOT NULL,
    sha256 VARCHAR NOT NULL,
    reason VARCHAR NOT NULL,
    issues INTEGER NOT NULL,
    rejected_at TIMESTAMP NOT NULL
)
"""


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def connect(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    if read_only:
        return duckdb.connect(str(path), read_only=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    # De-identified records: owner-only (DuckDB creates the file and its .wal with the umask's permissions).
    tighten(path)
    tighten(path.with_name(path.name + ".wal"))
    con.execute(MANIFESTS_DDL)
    con.execute(REJECTIONS_DDL)
    for spec in SPECS.values():
        con.execute(spec.ddl())
    return con


def active_transfer(con: duckdb.DuckDBPyConnection, facility: str, kind: str, file_name: str) -> str | None:
    """The live transfer of the same file name: a re-export with new content replaces it."""
    row = con.execute(
        "SELECT transfer_id FROM manifests WHERE facility_id = ? AND kind = ? AND file_name = ? "
        "AND superseded_by IS NULL", [facility, kind, file_name]).fetchall()
    return row[0][0] if row else None


def clashing_keys(con: duckdb.DuckDBPyConnection, spec: IngestSpec, keys: pd.Series,
                  replacing: str | None) -> dict[str, str]:
    """record key -> file name, for keys already held by another live transfer."""
    incoming = pd.DataFrame({"k": keys.to_numpy()})
    con.register("incoming_keys", incoming)
    try:
        # Identifiers come from the registered spec (validated names), never from input.
        rows = con.execute(
            f"SELECT t.{spec.record_key}, m.file_name FROM {spec.table} t "  # noqa: S608
            f"JOIN incoming_keys i ON t.{spec.record_key} = i.k "
            "JOIN manifests m ON m.transfer_id = t.transfer_id "
            "WHERE t.transfer_id IS DISTINCT FROM ?", [replacing]).fetchall()
    finally:
        con.unregister("incoming_keys")
    return dict(rows)


def insert_rows(con: duckdb.DuckDBPyConnection, spec: IngestSpec, rows: pd.DataFrame) -> None:
    con.register("incoming_rows", rows)
    try:
        con.execute(f"INSERT INTO {spec.table} BY NAME SELECT * FROM incoming_rows")  # noqa: S608
    finally:
        con.unregister("incoming_rows")


def transfers_with_hash(con: duckdb.DuckDBPyConnection, sha256: str) -> list[tuple[str, str]]:
    """(facility, file name) of every transfer, live or replaced, that held exactly these bytes."""
    return [(f, n) for f, n in con.execute(
        "SELECT facility_id, file_name FROM manifests WHERE sha256 = ? ORDER BY ingested_at, transfer_id",
        [sha256]).fetchall()]


def transfer_rows(con: duckdb.DuckDBPyConnection, transfer_id: str) -> int:
    return int(con.execute("SELECT rows_accepted FROM manifests WHERE transfer_id = ?", [transfer_id]).fetchall()[0][0])


def insert_select(con: duckdb.DuckDBPyConnection, spec: IngestSpec, select: str, params: dict) -> None:
    """Rows straight from a SELECT (the bulk path); inside the caller's transaction."""
    con.execute(f"INSERT INTO {spec.table} BY NAME {select}", params)  # noqa: S608 - table from the spec


def key_problems(con: duckdb.DuckDBPyConnection, spec: IngestSpec, transfer_id: str, facility: str,
                 replacing: str | None, limit: int = 200) -> list[tuple[str, str | None, int]]:
    """Record keys of a just-inserted transfer that repeat within it or are held by another live
    transfer (not the one it replaces): (key, that transfer's file name or None, rows)."""
    k = spec.record_key
    # Keys are per facility (HMAC of facility and record id): only that facility's row groups are read.
    rows = con.execute(f"""
        SELECT t.{k}, any_value(m.file_name) FILTER (WHERE t.transfer_id <> $tid), count(*)
        FROM {spec.table} t LEFT JOIN manifests m ON m.transfer_id = t.transfer_id AND m.superseded_by IS NULL
        WHERE t.facility_id = $facility AND t.transfer_id IS DISTINCT FROM $replacing
        GROUP BY t.{k}
        HAVING count(*) > 1 AND count(*) FILTER (WHERE t.transfer_id = $tid) > 0
        ORDER BY t.{k} LIMIT {int(limit)}""",  # noqa: S608 - identifiers from the registered spec
        {"tid": transfer_id, "facility": facility, "replacing": replacing}).fetchall()
    return [(key, other, int(n)) for key, other, n in rows]


def retire(con: duckdb.DuckDBPyConnection, spec: IngestSpec, old: str, new: str) -> None:
    con.execute(f"DELETE FROM {spec.table} WHERE transfer_id = ?", [old])  # noqa: S608
    con.execute("UPDATE manifests SET superseded_by = ? WHERE transfer_id = ?", [new, old])


def insert_manifest(con: duckdb.DuckDBPyConnection, manifest: dict) -> None:
    con.execute(
        "INSERT INTO manifests (transfer_id, facility_id, kind, file_name, sha256, rows_accepted, rows_rejected, "
        "schema_version, ingested_at, superseded_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
        [manifest[k] for k in ("transfer_id", "facility_id", "kind", "file_name", "sha256", "rows_accepted",
                               "rows_rejected", "schema_version", "ingested_at")])


def write_transfer(con: duckdb.DuckDBPyConnection, spec: IngestSpec, manifest: dict, rows: pd.DataFrame,
                   replaces: str | None) -> None:
    """Manifest + rows (+ retiring the transfer it replaces) in one transaction."""
    con.execute("BEGIN TRANSACTION")
    try:
        if replaces:
            retire(con, spec, replaces, manifest["transfer_id"])
        insert_manifest(con, manifest)
        insert_rows(con, spec, rows)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def record_rejection(con: duckdb.DuckDBPyConnection, facility: str, kind: str | None, file_name: str,
                     sha256: str, reason: str, issues: int) -> bool:
    """Store a rejected transfer once per (file, content); True if it was new."""
    seen = con.execute("SELECT count(*) FROM rejections WHERE facility_id = ? AND file_name = ? AND sha256 = ?",
                       [facility, file_name, sha256]).fetchall()[0][0]
    if seen:
        return False
    con.execute("INSERT INTO rejections VALUES (?, ?, ?, ?, ?, ?, ?)",
                [facility, kind, file_name, sha256, reason, issues, utcnow()])
    return True


def rejections(con: duckdb.DuckDBPyConnection, facility: str | None = None) -> pd.DataFrame:
    """Rejected transfers, newest first (for a hospital's own page: pass its facility id)."""
    return con.execute(
        "SELECT * FROM rejections WHERE ? IS NULL OR facility_id = ? ORDER BY rejected_at DESC, file_name",
        [facility, facility]).df()

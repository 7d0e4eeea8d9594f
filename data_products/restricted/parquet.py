"""The restricted zone laid out as Parquet, partitioned by year, for engines other than the embedded store.

``<home>/restricted/parquet/<table>/year=YYYY/*.parquet``: one folder per record table, Hive-style
partitions by the year of the table's date column. DuckDB reads it (:func:`duckdb_views`) and so does
Apache Spark (``restricted.spark``); on a cluster the same layout sits on shared storage (HDFS, S3) and
the export is the cluster's ingest step. The files hold de-identified records, so they are owner-only
like the DuckDB store they are exported from, and nothing outside the restricted zone reads them.

The export is a copy of ``restricted.duckdb``: a stamp beside the tables records which state of the store
it copied, and :func:`ensure` exports again when the store has changed since.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import duckdb

from data_products.config import paths
from data_products.contracts import pneumonia, visits
from data_products.private import private_dir, tighten

log = logging.getLogger(__name__)

# Record table -> the date column whose year partitions it.
PARTITIONS = {visits.TABLE: "visit_date", pneumonia.TABLE: "admission_date"}
PARTITION_COLUMN = "year"
STAMP = "_SOURCE.json"


def default_root() -> Path:
    return paths().home / "restricted" / "parquet"


def _source_state(db: Path) -> dict:
    st = db.stat()
    return {"store": str(db), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _stamp(root: Path) -> dict:
    try:
        return json.loads((root / STAMP).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def fresh(tables: list[str], root: Path | None = None) -> bool:
    """Whether ``root`` holds every table as exported from the current restricted store."""
    root = root or default_root()
    db = paths().restricted_db
    stamp = _stamp(root)
    return (db.exists() and stamp.get("source") == _source_state(db)
            and all(t in stamp.get("tables", {}) and (root / t).is_dir() for t in tables))


def export(tables: list[str] | None = None, root: Path | None = None) -> dict[str, int]:
    """Write the record tables from ``restricted.duckdb`` as partitioned Parquet; returns rows per table.

    Each table is written beside its old copy and swapped in, so a reader sees the old or the new
    layout of a table, never half of one.
    """
    every = tables is None
    tables = list(tables or PARTITIONS)
    unknown = sorted(set(tables) - set(PARTITIONS))
    if unknown:
        raise KeyError(f"no Parquet layout for {unknown}; known: {sorted(PARTITIONS)}")
    db = paths().restricted_db
    if not db.exists():
        raise FileNotFoundError(f"{db} does not exist: run `dataspace ingest` first")
    if root is None:
        root = default_root()
        private_dir(root.parent)  # the zone's own folder; a folder the operator names keeps its parent's mode
    root = private_dir(root)
    state = _source_state(db)
    stamp = _stamp(root) if _stamp(root).get("source") == state else {}
    counts = dict(stamp.get("tables", {}))
    con = duckdb.connect(str(db), read_only=True)
    try:
        present = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        missing = [t for t in tables if t not in present]
        if missing and not every:
            raise FileNotFoundError(f"{db} has no table {', '.join(missing)}: ingest that kind first")
        for table in (t for t in tables if t in present):
            staging, old = root / f".{table}.new", root / f".{table}.old"
            for p in (staging, old):
                shutil.rmtree(p, ignore_errors=True)
            # Identifiers from PARTITIONS; the path is the deployment's own folder, quoted as a literal.
            target = str(staging).replace("'", "''")
            con.execute(f"""
            COPY (SELECT *, year({PARTITIONS[table]}) AS {PARTITION_COLUMN} FROM {table})
            TO '{target}' (FORMAT parquet, PARTITION_BY ({PARTITION_COLUMN}), COMPRESSION zstd)
            """)  # noqa: S608 - identifiers from PARTITIONS, the path from the configuration
            counts[table] = int(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608
            _owner_only(staging)
            if (root / table).exists():
                os.replace(root / table, old)
            os.replace(staging, root / table)
            shutil.rmtree(old, ignore_errors=True)
            log.info("exported %s (%d rows) to %s", table, counts[table], root / table)
    finally:
        con.close()
    path = root / STAMP
    path.write_text(json.dumps({"source": state, "tables": counts}, indent=1), encoding="utf-8")
    tighten(path)
    return counts


def ensure(tables: list[str], root: Path | None = None) -> Path:
    """The layout of ``tables`` under ``root``, exported first when missing or older than the store."""
    root = root or default_root()
    if not fresh(tables, root):
        export(tables, root)
    return root


def _owner_only(folder: Path) -> None:
    for dirpath, _dirs, files in os.walk(folder):
        private_dir(Path(dirpath))
        for f in files:
            tighten(Path(dirpath) / f)


def duckdb_views(con: duckdb.DuckDBPyConnection, root: Path, tables: list[str] | None = None) -> None:
    """Views named like the store's tables over the Parquet layout, so a builder's SQL runs on it unchanged."""
    for table in tables or list(PARTITIONS):
        pattern = str(root / table / "*" / "*.parquet").replace("'", "''")
        con.execute(f"""
        CREATE OR REPLACE VIEW {table} AS
        SELECT * EXCLUDE ({PARTITION_COLUMN}) FROM read_parquet('{pattern}', hive_partitioning = true)
        """)  # noqa: S608 - identifiers from PARTITIONS, the path from the configuration

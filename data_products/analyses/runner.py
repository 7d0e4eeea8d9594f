"""Run a checked query or a model inside the restricted zone, on a connection of its own.

The connection is an in-memory DuckDB with the restricted store attached READ_ONLY and one temporary
view over the dataset's table (only the dictionary's view columns, plus a hashed record key the
checks use); then file system access is switched off and the configuration locked, so even a query
that slipped past the parser could neither read nor write a file, load an extension or undo the
settings. Limits: one thread, a memory limit, a wall-clock limit (the query is interrupted; a
result that arrives late is discarded too) and a cap on output rows.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from data_products.analyses import checks as oc
from data_products.analyses.sqlcheck import HIDDEN, ROW_KEY, Checked
from data_products.config import settings
from data_products.specialty.dictionary import Dictionary

MAX_ROWS = 500
MEMORY_LIMIT = "512MB"


def time_limit() -> float:
    return settings().analysis_seconds


class Stopped(RuntimeError):
    """The run was stopped (time or memory limit, or an engine error); the message says which."""


@dataclass
class Output:
    columns: list[str]
    rows: list[list]
    kind: str = "table"
    notes: dict = field(default_factory=dict)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=self.columns)

    def as_dict(self) -> dict:
        return {"columns": self.columns, "rows": self.rows, "kind": self.kind, "notes": self.notes}


def connect(restricted_db: Path, d: Dictionary) -> duckdb.DuckDBPyConnection:
    if not restricted_db.exists():
        raise Stopped(f"{restricted_db} does not exist: the restricted zone is empty")
    con = duckdb.connect(":memory:", config={"threads": 1, "memory_limit": MEMORY_LIMIT})
    try:
        con.execute("ATTACH ? AS restricted (READ_ONLY)", [str(restricted_db)])
        cols = ", ".join(f'"{f.name}"' for f in d.view_fields())
        # Names come from the registered dictionary (plain identifiers), never from the request.
        con.execute(f'CREATE TEMP VIEW "{d.view}" AS SELECT {cols}, hash(record_key) AS {ROW_KEY} '  # noqa: S608
                    f'FROM restricted.main."{d.table}"')
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


def _timed(con: duckdb.DuckDBPyConnection, sql: str, params: list | None, limit_s: float):
    timer = threading.Timer(limit_s, con.interrupt)
    start = time.perf_counter()
    timer.start()
    try:
        cur = con.execute(sql, params or [])
        names = [c[0] for c in cur.description]
        rows = cur.fetchmany(MAX_ROWS + 1)
    except duckdb.InterruptException:
        raise Stopped(f"stopped: ran past the time limit of {limit_s:g} s") from None
    except duckdb.OutOfMemoryException:
        raise Stopped(f"stopped: needed more than the memory limit of {MEMORY_LIMIT}") from None
    except duckdb.Error as exc:
        raise Stopped(f"the engine refused the query: {str(exc).splitlines()[0][:300]}") from None
    finally:
        timer.cancel()
    if time.perf_counter() - start > limit_s:
        raise Stopped(f"stopped: ran past the time limit of {limit_s:g} s")
    return names, rows


def _plain(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        return None if np.isnan(v) else round(float(v), 6)
    if isinstance(v, (pd.Timestamp,)) or hasattr(v, "isoformat"):
        return v.isoformat()
    return v


def run_sql(con: duckdb.DuckDBPyConnection, checked: Checked, threshold: int,
            limit_s: float | None = None) -> tuple[Output, oc.Report]:
    names, rows = _timed(con, checked.sql, None, limit_s or time_limit())
    report = oc.Report()
    if len(rows) > MAX_ROWS:
        report.fail("rows_limit", f"more than {MAX_ROWS} output rows")
        return Output(names[: checked.visible], []), report
    idx = {n: i for i, n in enumerate(names)}
    total = con.execute(f'SELECT count(*) FROM "{checked.view}"').fetchone()[0]  # noqa: S608
    visible = [[_plain(v) for v in r[: checked.visible]] for r in rows]
    for r, row in enumerate(rows, start=1):
        n = int(row[idx[f"{HIDDEN}n"]])
        if n < threshold:
            report.fail("threshold", f"row {r}: a group of {n} record{'s' if n != 1 else ''} (minimum {threshold})")
        report.cells.append(oc.Cell(f"row {r}", frozenset(row[idx[f'{HIDDEN}k']])))
        for a in checked.aggregates:
            label = f"row {r}, {a.sql}"
            if a.argument is None:
                continue
            oc.aggregate_checks(report, label, a.function, row[idx[f"{HIDDEN}v{a.index}"]], threshold)
            keys = frozenset(row[idx[f"{HIDDEN}k{a.index}"]] or [])
            if keys and len(keys) != n:
                report.cells.append(oc.Cell(label, keys))
    oc.row_level(report, visible, total)
    if not any(c.rule == "threshold" and not c.passed for c in report.checks):
        report.ok("threshold", f"every count and every count behind a statistic is at least {threshold}")
    if not any(c.rule == "dominance" for c in report.checks):
        report.ok("dominance", "no sum dominated by one or two records")
    if not any(c.rule == "row_level" for c in report.checks):
        report.ok("row_level", f"{len(visible)} aggregate rows, no pseudonym")
    return Output(names[: checked.visible], visible), report


def fetch_model_frame(con: duckdb.DuckDBPyConnection, view: str, columns: list[str], where: str, params: list,
                      limit_s: float | None = None) -> pd.DataFrame:
    """Records for a model, inside the zone only. Columns are dictionary names; filter values are parameters."""
    cols = ", ".join(f'"{c}"' for c in columns)
    sql = f'SELECT {cols}, {ROW_KEY} FROM "{view}"' + (f" WHERE {where}" if where else "")  # noqa: S608
    limit = limit_s or time_limit()
    timer = threading.Timer(limit, con.interrupt)
    start = time.perf_counter()
    timer.start()
    try:
        frame = con.execute(sql, params).df()
    except duckdb.InterruptException:
        raise Stopped(f"stopped: ran past the time limit of {limit:g} s") from None
    except duckdb.Error as exc:
        raise Stopped(f"the engine refused the model's data request: {str(exc).splitlines()[0][:300]}") from None
    finally:
        timer.cancel()
    if time.perf_counter() - start > limit:
        raise Stopped(f"stopped: ran past the time limit of {limit:g} s")
    return frame

"""Wait-time builder: restricted ``outpatient_visits`` -> unprotected aggregates, estimates and backtest.

Aggregation is SQL in DuckDB. Waits are whole seconds (timestamps to the second), so the exact
quantiles come from per-second histograms: DuckDB counts visits per finest cell and second, and every
margin's P50/P90 is read off the summed histogram with ``quantile_cont``'s own interpolation. Memory
then grows with cells x seconds of wait, not with visits; should any wait not be a whole second,
``GROUP BY CUBE`` with ``quantile_cont`` over the rows does it instead (same figures).
The shrinkage (see ``spec``) runs in pandas over those small aggregate frames and is told which
counts disclosure control released: an estimate uses only released levels. Identifiers in SQL come
from the fixed lists here; values (the train/test cut-off) are parameters.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd

from data_products.disclosure import ALL
from data_products.products.wait_times.spec import (
    LEVEL_DEPT,
    LEVEL_HOUR,
    LEVEL_NONE,
    LEVEL_SLOT,
    QUANTILES,
    SHRINK_K,
    TEST_WEEKS,
)

SOURCE = "outpatient_visits"
CUBE_DIMS = ("facility_id", "department", "weekday", "hour")
DOCTOR_DIMS = ("facility_id", "department", "doctor_code")
TYPE_DIMS = ("facility_id", "department", "visit_type")
BACKTEST_DIMS = ("facility_id", "department")
_DIM_SQL = {
    "facility_id": "facility_id",
    "department": "department",
    "weekday": "CAST(weekday AS VARCHAR)",
    "hour": "lpad(CAST(hour AS VARCHAR), 2, '0')",
    "doctor_code": "doctor_code",
    "visit_type": "visit_type",
}
# Row filters, chosen from this list only.
_WHERE = {"all": "TRUE", "train": "visit_date < ?", "test": "visit_date >= ?"}


def _stats_sql() -> str:
    q = ", ".join(f"quantile_cont(wait_min, {v!r}) AS {k}" for k, v in QUANTILES.items())
    return f"COUNT(*)::BIGINT AS visits, {q}, avg(wait_min) AS mean_wait"


def cube(con: duckdb.DuckDBPyConnection, dims: tuple[str, ...], where: str = "all",
         params: list | None = None) -> pd.DataFrame:
    """Visits and wait quantiles for every margin of ``dims`` (ALL where summed out)."""
    frame = _cube_histogram(con, dims, where, params)
    if frame is None:
        frame = cube_rows(con, dims, where, params)
    return frame


def cube_rows(con: duckdb.DuckDBPyConnection, dims: tuple[str, ...], where: str = "all",
              params: list | None = None) -> pd.DataFrame:
    """``cube`` by ``quantile_cont`` over the rows: holds every wait of every margin in memory."""
    cols = ", ".join(f"COALESCE({_DIM_SQL[d]}, '{ALL}') AS {d}" for d in dims)
    sql = f"""
    SELECT {cols}, {_stats_sql()}
    FROM {SOURCE} WHERE {_WHERE[where]}
    GROUP BY CUBE ({", ".join(_DIM_SQL[d] for d in dims)})
    """  # noqa: S608 - identifiers from the fixed lists above
    frame = con.execute(sql, params or []).df()
    for d in dims:
        frame[d] = frame[d].astype(str)
    return frame.sort_values(list(dims)).reset_index(drop=True)


# Widest wait span (seconds) read through a dense cells x seconds histogram; 12 hours is the ingest limit.
_MAX_SPAN_S = 12 * 3600 + 1
_DENSE_BINS = 100_000_000  # groups x seconds summed densely (float64: 800 MB); beyond, by sorting


def _cube_histogram(con: duckdb.DuckDBPyConnection, dims: tuple[str, ...], where: str,
                    params: list | None) -> pd.DataFrame | None:
    """``cube`` from per-second histograms; None when the waits are not whole seconds in a bounded span."""
    params = params or []
    keys = ", ".join(f"{_DIM_SQL[d]} AS {d}" for d in dims)
    cells = con.execute(f"""
    SELECT {keys}, COUNT(*)::BIGINT AS visits, sum(wait_min) AS total,
           min(round(wait_min * 60))::BIGINT AS s_min, max(round(wait_min * 60))::BIGINT AS s_max,
           COUNT(*) FILTER (WHERE wait_min <> round(wait_min * 60) / 60.0)::BIGINT AS off_grid
    FROM {SOURCE} WHERE {_WHERE[where]}
    GROUP BY ALL
    """, params).df()  # noqa: S608 - identifiers from the fixed lists above
    if cells.empty or cells["off_grid"].sum() > 0:
        return None
    s_min, s_max = int(cells["s_min"].min()), int(cells["s_max"].max())
    if s_min < 0 or s_max - s_min >= _MAX_SPAN_S:
        return None
    for d in dims:
        cells[d] = cells[d].astype(str)
    cells["cell_id"] = np.arange(len(cells), dtype=np.int32)
    con.register("_wt_cells", cells[[*dims, "cell_id"]])
    try:
        on = " AND ".join(f"c.{d} = {_DIM_SQL[d].replace(d, 'v.' + d)}" for d in dims)
        base = con.execute(f"""
        SELECT c.cell_id, (round(v.wait_min * 60)::BIGINT - ?)::INTEGER AS s, COUNT(*)::INTEGER AS n
        FROM {SOURCE} v JOIN _wt_cells c ON {on}
        WHERE {_WHERE[where].replace("visit_date", "v.visit_date")}
        GROUP BY ALL
        """, [s_min, *params]).fetchnumpy()  # noqa: S608 - identifiers from the fixed lists above
    finally:
        con.unregister("_wt_cells")
    width = s_max - s_min + 1
    parts = []
    for size in range(len(dims), -1, -1):
        for kept in itertools.combinations(dims, size):
            parts.append(_margin(cells, base, dims, list(kept), s_min, width))
    frame = pd.concat(parts, ignore_index=True)
    return frame.sort_values(list(dims)).reset_index(drop=True)


def _margin(cells: pd.DataFrame, base: dict, dims: tuple[str, ...], kept: list[str], s_min: int,
            width: int) -> pd.DataFrame:
    """One grouping set: the cells' histograms summed per group, then each group's quantiles."""
    if kept:
        code = cells.groupby(kept, sort=False).ngroup().to_numpy()
    else:
        code = np.zeros(len(cells), dtype=np.int64)
    groups = int(code.max()) + 1
    first = np.full(groups, -1)
    first[code[::-1]] = np.arange(len(code))[::-1]  # first cell of each group
    out = cells.iloc[first][kept].reset_index(drop=True)
    for d in dims:
        if d not in kept:
            out[d] = ALL
    visits = np.bincount(code, weights=cells["visits"].to_numpy(), minlength=groups).astype(np.int64)
    total = np.bincount(code, weights=cells["total"].to_numpy(), minlength=groups)
    out["visits"] = visits
    grp, sec, cnt = _group_histogram(code[base["cell_id"]], base["s"], base["n"], groups, width)
    for k, v in _quantiles(grp, sec, cnt, groups, s_min).items():
        out[k] = v
    out["mean_wait"] = total / visits
    return out[[*dims, "visits", *QUANTILES, "mean_wait"]]


def _group_histogram(group: np.ndarray, sec: np.ndarray, n: np.ndarray, groups: int,
                     width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counts per (group, second), sorted by group then second; only the non-empty seconds."""
    if groups * width <= _DENSE_BINS:
        dense = np.bincount(group.astype(np.int64) * width + sec, weights=n, minlength=groups * width)
        at = np.flatnonzero(dense)
        return at // width, at % width, dense[at].astype(np.int64)
    key = group.astype(np.int64) * width + sec
    order = np.argsort(key, kind="stable")
    key = key[order]
    starts = np.r_[0, np.flatnonzero(np.diff(key)) + 1]
    sums = np.add.reduceat(n[order].astype(np.int64), starts)
    return key[starts] // width, key[starts] % width, sums


def _quantiles(grp: np.ndarray, sec: np.ndarray, cnt: np.ndarray, groups: int, s_min: int) -> dict[str, np.ndarray]:
    """``quantile_cont`` of each group: ranks (n-1)q, floor and ceiling, linear in between.

    Counts are positive, so their running sum over all groups is strictly increasing: the value at
    0-based rank r of a group is the first of its seconds whose running sum exceeds (sum before it) + r.
    """
    run = np.cumsum(cnt)
    starts = np.searchsorted(grp, np.arange(groups))
    ends = np.r_[starts[1:], len(grp)]
    before = np.where(starts > 0, run[np.maximum(starts - 1, 0)], 0)
    n = run[ends - 1] - before
    out = {}
    for k, q in QUANTILES.items():
        rn = (n - 1).astype(float) * q
        below, above = np.floor(rn), np.ceil(rn)
        x_lo = (s_min + sec[np.searchsorted(run, before + below.astype(np.int64), side="right")]) / 60.0
        x_hi = (s_min + sec[np.searchsorted(run, before + above.astype(np.int64), side="right")]) / 60.0
        out[k] = x_lo + (x_hi - x_lo) * (rn - below)
    return out


def split(con: duckdb.DuckDBPyConnection) -> dict:
    """Data span and the backtest's cut-off: the last TEST_WEEKS whole weeks are held out."""
    lo, hi = con.execute(f"SELECT min(visit_date), max(visit_date) FROM {SOURCE}").fetchall()[0]  # noqa: S608
    if lo is None:
        raise ValueError(f"{SOURCE} is empty: nothing to estimate")
    last_monday = hi - timedelta(days=hi.weekday())
    cutoff = last_monday - timedelta(weeks=TEST_WEEKS - 1)
    return {"first_day": lo, "last_day": hi, "cutoff": cutoff if cutoff > lo else None}


def raw_tables(con: duckdb.DuckDBPyConnection, where: str = "all", params: list | None = None) -> dict[str, pd.DataFrame]:
    """Unprotected aggregates. They never leave this process: the release protects them first."""
    return {
        "slot_cube": cube(con, CUBE_DIMS, where, params),
        "doctors": cube(con, DOCTOR_DIMS, where, params),
        "visit_type": cube(con, TYPE_DIMS, where, params),
    }


def _weight(n: pd.Series, released: pd.Series) -> np.ndarray:
    n = pd.to_numeric(n, errors="coerce").fillna(0).to_numpy(dtype=float)
    return np.where(released.to_numpy(dtype=bool), n / (n + SHRINK_K), 0.0)


def estimates(slot_cube: pd.DataFrame, released: pd.Series) -> pd.DataFrame:
    """Shrunk p50/p90 per base slot (spec's rule), using only levels whose count is released.

    ``released`` is a boolean Series aligned to ``slot_cube``: True where its visit count passed
    disclosure control. Returns one row per facility x department x weekday x hour.
    """
    cubef = slot_cube.assign(_released=released.to_numpy(dtype=bool))
    real = {d: cubef[d] != ALL for d in CUBE_DIMS}
    slots = cubef[real["facility_id"] & real["department"] & real["weekday"] & real["hour"]]
    fdh = cubef[real["facility_id"] & real["department"] & ~real["weekday"] & real["hour"]]
    fd = cubef[real["facility_id"] & real["department"] & ~real["weekday"] & ~real["hour"]]
    cols = ["visits", "_released", *QUANTILES]
    out = slots[[*CUBE_DIMS, *cols]].merge(
        fdh[["facility_id", "department", "hour", *cols]].add_suffix("_fdh").rename(
            columns={"facility_id_fdh": "facility_id", "department_fdh": "department", "hour_fdh": "hour"}),
        on=["facility_id", "department", "hour"], how="left",
    ).merge(
        fd[["facility_id", "department", *cols]].add_suffix("_fd").rename(
            columns={"facility_id_fd": "facility_id", "department_fd": "department"}),
        on=["facility_id", "department"], how="left",
    )
    w_slot = _weight(out["visits"], out["_released"].fillna(False))
    w_fdh = _weight(out["visits_fdh"], out["_released_fdh"].fillna(False))
    base_ok = out["_released_fd"].fillna(False).to_numpy(dtype=bool)
    result = out[list(CUBE_DIMS)].copy()
    for q in QUANTILES:
        log = {lvl: np.log(pd.to_numeric(out[f"{q}{sfx}"], errors="coerce").to_numpy(dtype=float).clip(min=1e-3))
               for lvl, sfx in (("slot", ""), ("fdh", "_fdh"), ("fd", "_fd"))}
        fdh_hat = w_fdh * np.nan_to_num(log["fdh"]) + (1 - w_fdh) * log["fd"]
        slot_hat = w_slot * np.nan_to_num(log["slot"]) + (1 - w_slot) * fdh_hat
        result[q] = np.where(base_ok, np.exp(slot_hat), np.nan)
    result["weight_slot"] = np.where(base_ok, w_slot, np.nan)
    result["weight_hour"] = np.where(base_ok, w_fdh, np.nan)
    result["level"] = np.select(
        [~base_ok, out["_released"].fillna(False).to_numpy(dtype=bool), out["_released_fdh"].fillna(False).to_numpy(dtype=bool)],
        [LEVEL_NONE, LEVEL_SLOT, LEVEL_HOUR], LEVEL_DEPT,
    )
    return result.reset_index(drop=True)


def backtest(con: duckdb.DuckDBPyConnection, cutoff: date,
             protect: Callable[[dict[str, pd.DataFrame]], pd.Series]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fit on visits before ``cutoff``, score on visits from it on.

    ``protect`` takes the training aggregates and returns the released mask of the training slot
    cube, so the backtest fits exactly the way the published estimates are fitted. Returns the
    scores per facility x department (with CUBE margins; ``n_test`` unprotected) and the fitted
    training estimates.
    """
    train = raw_tables(con, "train", [cutoff])
    mask = protect(train)
    est = estimates(train["slot_cube"], mask)
    est = est[est["level"] != LEVEL_NONE]
    tc = train["slot_cube"]
    base = tc[(tc["facility_id"] != ALL) & (tc["department"] != ALL) & (tc["weekday"] == ALL) & (tc["hour"] == ALL)]
    base = base[["facility_id", "department", "mean_wait"]]
    cols = ", ".join(f"COALESCE(v.{d}, '{ALL}') AS {d}" for d in BACKTEST_DIMS)
    con.register("_wt_est", est[[*CUBE_DIMS, "p50", "p90"]])
    con.register("_wt_base", base)
    try:
        frame = con.execute(f"""
        WITH v AS (
            SELECT facility_id, department, CAST(weekday AS VARCHAR) AS weekday,
                   lpad(CAST(hour AS VARCHAR), 2, '0') AS hour, wait_min
            FROM {SOURCE} WHERE {_WHERE["test"]}
        )
        SELECT {cols},
          COUNT(*)::BIGINT AS n_test,
          median(abs(v.wait_min - e.p50)) AS mae_p50,
          avg(CASE WHEN v.wait_min <= e.p90 THEN 1.0 ELSE 0.0 END) AS within_p90,
          median(abs(v.wait_min - b.mean_wait)) AS mae_baseline,
          avg(CASE WHEN v.wait_min <= b.mean_wait THEN 1.0 ELSE 0.0 END) AS within_baseline
        FROM v
        JOIN _wt_est e ON e.facility_id = v.facility_id AND e.department = v.department
             AND e.weekday = v.weekday AND e.hour = v.hour
        JOIN _wt_base b ON b.facility_id = v.facility_id AND b.department = v.department
        GROUP BY CUBE (v.facility_id, v.department)
        """, [cutoff]).df()  # noqa: S608 - identifiers from the fixed lists above
    finally:
        con.unregister("_wt_est")
        con.unregister("_wt_base")
    for d in BACKTEST_DIMS:
        frame[d] = frame[d].astype(str)
    return frame.sort_values(list(BACKTEST_DIMS)).reset_index(drop=True), est


def lineage(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute(f"SELECT DISTINCT transfer_id FROM {SOURCE} ORDER BY 1").fetchall()]  # noqa: S608

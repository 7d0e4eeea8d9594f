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
    CV_FOLDS,
    K_GRID,
    LEVEL_DEPT,
    LEVEL_EFFECTS,
    LEVEL_NONE,
    LEVEL_SLOT,
    QUANTILES,
    TEST_WEEKS,
    size_band,
)

SOURCE = "outpatient_visits"
CUBE_DIMS = ("facility_id", "department", "weekday", "hour")
DOCTOR_DIMS = ("facility_id", "department", "doctor_code")
TYPE_DIMS = ("facility_id", "department", "visit_type")
BACKTEST_DIMS = ("facility_id", "department", "size_band", "day_type")
_DIM_SQL = {
    "facility_id": "facility_id",
    "department": "department",
    "weekday": "CAST(weekday AS VARCHAR)",
    "hour": "lpad(CAST(hour AS VARCHAR), 2, '0')",
    "doctor_code": "doctor_code",
    "visit_type": "visit_type",
}
# Row filters, chosen from this list only.
_WHERE = {"all": "TRUE", "train": "visit_date < ?", "test": "visit_date >= ?",
          "between": "visit_date >= ? AND visit_date < ?"}


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
    SELECT {keys}, COUNT(*)::BIGINT AS visits, sum(round(wait_min * 60))::BIGINT AS total_s,
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
    # Whole seconds summed as integers (exact below 2**53 in float64): the same mean on every run,
    # whatever order DuckDB's threads add the waits in.
    total = np.bincount(code, weights=cells["total_s"].to_numpy(dtype=np.float64), minlength=groups) / 60.0
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


def _weight(n: pd.Series, released: pd.Series, k: float) -> np.ndarray:
    n = pd.to_numeric(n, errors="coerce").fillna(0).to_numpy(dtype=float)
    return np.where(released.to_numpy(dtype=bool), n / (n + k), 0.0)


def _level(cubef: pd.DataFrame, real: dict, pattern: str) -> pd.DataFrame:
    """Rows of one level: pattern gives, per CUBE_DIMS position, 'r' (a real value) or 'a' (ALL)."""
    mask = np.ones(len(cubef), dtype=bool)
    for d, c in zip(CUBE_DIMS, pattern, strict=True):
        mask &= real[d].to_numpy() if c == "r" else ~real[d].to_numpy()
    return cubef[mask]


def estimates(slot_cube: pd.DataFrame, released: pd.Series, k: float) -> pd.DataFrame:
    """Shrunk p50/p90 per base slot (spec's rule, shrinkage constant ``k``), using only released levels.

    ``released`` is a boolean Series aligned to ``slot_cube``: True where its visit count passed
    disclosure control. Returns one row per facility x department x weekday x hour.
    """
    cubef = slot_cube.assign(_released=released.to_numpy(dtype=bool))
    real = {d: cubef[d] != ALL for d in CUBE_DIMS}
    cols = ["visits", "_released", *QUANTILES]
    out = _level(cubef, real, "rrrr")[[*CUBE_DIMS, *cols]]
    for sfx, pattern, keys in (("_fdw", "rrra", ["facility_id", "department", "weekday"]),
                               ("_fdh", "rrar", ["facility_id", "department", "hour"]),
                               ("_fd", "rraa", ["facility_id", "department"])):
        part = _level(cubef, real, pattern)[[*keys, *cols]]
        out = out.merge(part.rename(columns={c: c + sfx for c in cols}), on=keys, how="left")
    rel = {lvl: out[f"_released{sfx}"].fillna(False).astype(bool) for lvl, sfx in
           (("slot", ""), ("fdw", "_fdw"), ("fdh", "_fdh"), ("fd", "_fd"))}
    w = {lvl: _weight(out[f"visits{sfx}"], rel[lvl], k) for lvl, sfx in
         (("slot", ""), ("fdw", "_fdw"), ("fdh", "_fdh"))}
    base_ok = rel["fd"].to_numpy()
    result = out[list(CUBE_DIMS)].copy()
    for q in QUANTILES:
        log = {lvl: np.log(pd.to_numeric(out[f"{q}{sfx}"], errors="coerce").to_numpy(dtype=float).clip(min=1e-3))
               for lvl, sfx in (("slot", ""), ("fdw", "_fdw"), ("fdh", "_fdh"), ("fd", "_fd"))}
        # A suppressed level has weight 0 and a masked (NaN) statistic: its effect is exactly 0.
        weekday_effect = w["fdw"] * np.nan_to_num(log["fdw"] - log["fd"])
        hour_effect = w["fdh"] * np.nan_to_num(log["fdh"] - log["fd"])
        target = log["fd"] + weekday_effect + hour_effect
        slot_hat = w["slot"] * np.nan_to_num(log["slot"]) + (1 - w["slot"]) * target
        result[q] = np.where(base_ok, np.exp(slot_hat), np.nan)
    result["weight_slot"] = np.where(base_ok, w["slot"], np.nan)
    result["weight_weekday"] = np.where(base_ok, w["fdw"], np.nan)
    result["weight_hour"] = np.where(base_ok, w["fdh"], np.nan)
    result["level"] = np.select(
        [~base_ok, rel["slot"].to_numpy(), (rel["fdw"] | rel["fdh"]).to_numpy()],
        [LEVEL_NONE, LEVEL_SLOT, LEVEL_EFFECTS], LEVEL_DEPT,
    )
    return result.reset_index(drop=True)


def _visits(con: duckdb.DuckDBPyConnection, where: str, params: list) -> pd.DataFrame:
    """Visits with slot keys as strings, in a fixed order (so every sum over them is reproducible)."""
    frame = con.execute(f"""
    SELECT facility_id, department, CAST(weekday AS VARCHAR) AS weekday,
           lpad(CAST(hour AS VARCHAR), 2, '0') AS hour, wait_min
    FROM {SOURCE} WHERE {_WHERE[where]}
    ORDER BY facility_id, department, weekday, hour, wait_min
    """, params).df()  # noqa: S608 - identifiers from the fixed lists above
    return frame


def pinball(y: np.ndarray, pred: np.ndarray, q: float) -> np.ndarray:
    """The quantile (pinball) loss of predicting ``pred`` for the q-quantile when ``y`` happens."""
    diff = y - pred
    return np.maximum(q * diff, (q - 1) * diff)


def choose_k(con: duckdb.DuckDBPyConnection, cutoff: date, min_cell: int) -> tuple[int, pd.DataFrame]:
    """K by rolling-origin cross-validation on the weeks before ``cutoff`` (the training weeks only).

    Fold j fits on the visits before ``cutoff - j weeks`` and scores the week that follows by the mean
    pinball loss of P50 and P90. For speed the folds treat levels under ``min_cell`` as suppressed
    (primary suppression) instead of re-running secondary suppression. Returns the K with the lowest
    loss over all folds (the smaller K on a tie) and the table of losses.
    """
    first = con.execute(f"SELECT min(visit_date) FROM {SOURCE}").fetchall()[0][0]  # noqa: S608
    totals = {k: [0.0, 0.0] for k in K_GRID}
    n_total, folds = 0, 0
    for j in range(1, CV_FOLDS + 1):
        start = cutoff - timedelta(weeks=j)
        if start - timedelta(weeks=1) < first:
            break
        train = cube(con, CUBE_DIMS, "train", [start])
        mask = pd.to_numeric(train["visits"]) >= min_cell
        val = _visits(con, "between", [start, start + timedelta(weeks=1)])
        if val.empty:
            continue
        folds += 1
        for k in K_GRID:
            est = estimates(train, mask, k)
            est = est[est["level"] != LEVEL_NONE]
            scored = val.merge(est[[*CUBE_DIMS, "p50", "p90"]], on=list(CUBE_DIMS), how="inner")
            y = scored["wait_min"].to_numpy(dtype=float)
            totals[k][0] += float(np.sum(pinball(y, scored["p50"].to_numpy(dtype=float), 0.5)))
            totals[k][1] += float(np.sum(pinball(y, scored["p90"].to_numpy(dtype=float), 0.9)))
            if k == K_GRID[0]:
                n_total += len(scored)
    table = pd.DataFrame({"k": list(K_GRID),
                          "loss_p50": [totals[k][0] / max(n_total, 1) for k in K_GRID],
                          "loss_p90": [totals[k][1] / max(n_total, 1) for k in K_GRID]})
    table["loss"] = table["loss_p50"] + table["loss_p90"]
    table.attrs.update(folds=folds, n=n_total)
    if not folds or not n_total:
        return 20, table  # too short a span to validate: the former fixed K, said so in the metadata
    return int(table.loc[table["loss"].idxmin(), "k"]), table


def backtest(con: duckdb.DuckDBPyConnection, cutoff: date,
             protect: Callable[[dict[str, pd.DataFrame]], pd.Series], k: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fit on visits before ``cutoff`` with shrinkage ``k``, score on visits from it on.

    ``protect`` takes the training aggregates and returns the released mask of the training slot
    cube, so the backtest fits exactly the way the published estimates are fitted. The baseline is
    the facility x department P50 (typical wait) and P90 (bound) of the same training weeks, where
    that level is released (exactly where an estimate exists). Returns the scores per facility x
    department x slot-size band x day type (with CUBE margins; ``n_test`` unprotected) and the
    fitted training estimates (with the slot's size band and the baseline).
    """
    train = raw_tables(con, "train", [cutoff])
    mask = protect(train)
    tc = train["slot_cube"].assign(_released=mask.to_numpy(dtype=bool))
    est = estimates(train["slot_cube"], mask, k)
    real = (tc[list(CUBE_DIMS)] != ALL).all(axis=1)
    slots = tc[real][[*CUBE_DIMS, "visits", "_released"]]
    slots = slots.assign(size_band=[size_band(float(n), r) for n, r in zip(slots["visits"], slots["_released"],
                                                                              strict=True)])
    fd = tc[(tc["facility_id"] != ALL) & (tc["department"] != ALL) & (tc["weekday"] == ALL) & (tc["hour"] == ALL)
            & tc["_released"]]
    base = fd[["facility_id", "department", "p50", "p90"]].rename(columns={"p50": "base_p50", "p90": "base_p90"})
    est = est.merge(slots[[*CUBE_DIMS, "size_band"]], on=list(CUBE_DIMS), how="left")
    est = est.merge(base, on=["facility_id", "department"], how="left")
    est = est[est["level"] != LEVEL_NONE].reset_index(drop=True)
    cols = ", ".join(f"COALESCE({d}, '{ALL}') AS {d}" for d in BACKTEST_DIMS)
    con.register("_wt_est", est[[*CUBE_DIMS, "p50", "p90", "base_p50", "base_p90", "size_band"]])
    try:
        frame = con.execute(f"""
        WITH v AS (
            SELECT v.facility_id, v.department, e.size_band,
                   CASE WHEN v.weekday >= 6 THEN 'weekend' ELSE 'weekday' END AS day_type,
                   v.wait_min, e.p50, e.p90, e.base_p50, e.base_p90
            FROM {SOURCE} v
            JOIN _wt_est e ON e.facility_id = v.facility_id AND e.department = v.department
                 AND e.weekday = CAST(v.weekday AS VARCHAR) AND e.hour = lpad(CAST(v.hour AS VARCHAR), 2, '0')
            WHERE v.visit_date >= ?
        )
        SELECT {cols},
          COUNT(*)::BIGINT AS n_test,
          median(abs(wait_min - p50)) AS mae_p50,
          avg(CASE WHEN wait_min <= p90 THEN 1.0 ELSE 0.0 END) AS within_p90,
          avg(CASE WHEN wait_min < p50 THEN 1.0 ELSE 0.0 END) AS below_p50,
          median(abs(wait_min - base_p50)) AS mae_baseline,
          avg(CASE WHEN wait_min <= base_p90 THEN 1.0 ELSE 0.0 END) AS within_baseline,
          avg(CASE WHEN wait_min < base_p50 THEN 1.0 ELSE 0.0 END) AS below_baseline
        FROM v
        GROUP BY CUBE (facility_id, department, size_band, day_type)
        """, [cutoff]).df()  # noqa: S608 - identifiers from the fixed lists above
    finally:
        con.unregister("_wt_est")
    for d in BACKTEST_DIMS:
        frame[d] = frame[d].astype(str)
    return frame.sort_values(list(BACKTEST_DIMS)).reset_index(drop=True), est


def lineage(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute(f"SELECT DISTINCT transfer_id FROM {SOURCE} ORDER BY 1").fetchall()]  # noqa: S608

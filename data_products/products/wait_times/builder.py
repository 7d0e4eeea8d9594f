"""Wait-time builder: restricted ``outpatient_visits`` -> unprotected aggregates, estimates and backtest.

Aggregation is SQL in DuckDB. Waits are whole seconds (timestamps to the second), so the exact
quantiles come from per-second histograms: DuckDB counts visits per finest cell and second, and every
margin's P50/P90 is read off the summed histogram at the disclosure rule's positions
(``disclosure.quantile_blend``: half a step off ``quantile_cont``'s, so a quantile blends two waits and
is never one visit's wait). Memory then grows with cells x seconds of wait, not with visits; should any
wait not be a whole second, ``GROUP BY CUBE`` over the rows' sorted waits does it instead (same figures).
The shrinkage (see ``spec``) runs in pandas over those small aggregate frames and is told which
counts disclosure control released: an estimate uses only released levels. Identifiers in SQL come
from the fixed lists here; values (the train/test cut-off) are parameters.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd

from data_products.disclosure import (
    ALL,
    quantile_blend_sql,
    quantile_ok_many,
    quantile_position_sql,
    quantile_rank_fraction,
    quantile_value_sql,
    shared_ok,
)
from data_products.products.histogram import Ranked, group_histogram
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
    """Over ``_w`` (visits, the sorted waits ``_l``, mean_wait): each quantile at the disclosure rule's
    positions, as the histograms compute it (a group of one visit blends its one wait with itself)."""
    out = []
    for k, v in QUANTILES.items():
        _, j = quantile_position_sql(v, "visits")
        out.append(f"{quantile_blend_sql(v, 'visits', f'_l[{j} + 1]', f'_l[least({j} + 2, visits)]')} AS {k}")
    return ", ".join(out)


def cube(con: duckdb.DuckDBPyConnection, dims: tuple[str, ...], where: str = "all",
         params: list | None = None, shared: bool = False) -> pd.DataFrame:
    """Visits and wait quantiles for every margin of ``dims`` (ALL where summed out); ``shared`` as in
    ``Histogram.cube`` (the row-wise fallback has no such counts: :func:`quantile_rule` then withholds)."""
    frame = _cube_histogram(con, dims, where, params, shared)
    if frame is None:
        frame = cube_rows(con, dims, where, params)
    return frame


def cube_rows(con: duckdb.DuckDBPyConnection, dims: tuple[str, ...], where: str = "all",
              params: list | None = None) -> pd.DataFrame:
    """``cube`` over the rows' sorted waits: holds every wait of every margin in memory."""
    cols = ", ".join(f"COALESCE({_DIM_SQL[d]}, '{ALL}') AS {d}" for d in dims)
    sql = f"""
    SELECT {", ".join(dims)}, visits, {_stats_sql()}, mean_wait FROM (
        SELECT {cols}, COUNT(*)::BIGINT AS visits, list_sort(list(wait_min)) AS _l, avg(wait_min) AS mean_wait
        FROM {SOURCE} WHERE {_WHERE[where]}
        GROUP BY CUBE ({", ".join(_DIM_SQL[d] for d in dims)}))
    """  # noqa: S608 - identifiers from the fixed lists above
    frame = con.execute(sql, params or []).df()
    for d in dims:
        frame[d] = frame[d].astype(str)
    return frame.sort_values(list(dims)).reset_index(drop=True)


# --- the one pass: per-cell histograms of the wait in seconds -----------------------------------

TABLE_DIMS = {"slot_cube": CUBE_DIMS, "doctors": DOCTOR_DIMS, "visit_type": TYPE_DIMS}
# What a cube built with ``shared`` adds per quantile, for :func:`quantile_rule` only (never released):
# how many of the cell's waits share the value as given to the second (or, for a value on a whole
# minute, that minute; 0 when it is no recorded wait), the whole minute it rounds to, and how many
# waits round to that minute.
SHARED = tuple(f"_{q}_{part}" for q in QUANTILES for part in ("exact", "minute", "in_minute"))
# Widest wait span (seconds) read through the histograms; 12 hours is the ingest limit.
_MAX_SPAN_S = 12 * 3600 + 1


@dataclass(frozen=True)
class Histogram:
    """Visits per finest cell of one table's dims, period and whole second of wait: the builder's
    pre-disclosure aggregate. Every margin, every quantile and every mean of the table is read off it
    exactly, so any engine that fills it (DuckDB here; Spark can too) gives the same cubes.

    ``cells`` holds one row per finest cell (dims as strings); ``cell``, ``period``, ``s`` and ``n`` are
    the histogram's rows: cell index, period (how many of ``boundaries`` are on or before the visit
    date), wait in whole seconds and visits. Rows are sorted by cell, then second.
    """

    dims: tuple[str, ...]
    boundaries: tuple[date, ...]
    cells: pd.DataFrame
    cell: np.ndarray
    period: np.ndarray
    s: np.ndarray
    n: np.ndarray

    def period_of(self, day: date | None, *, before: bool) -> int:
        """Rows before ``day`` have period < the result (``before``); rows from it, period >= it."""
        if day is None:
            return len(self.boundaries) + 1 if before else 0
        return self.boundaries.index(day) + 1

    def cube(self, lo: int = 0, hi: int | None = None, shared: bool = False) -> pd.DataFrame:
        """Every margin of ``dims`` over the visits of periods lo <= period < hi (with ``shared``, the
        counts :func:`quantile_rule` needs to withhold or coarsen a quantile that meets a rare wait)."""
        keep = self.period >= lo
        if hi is not None:
            keep &= self.period < hi
        cell, s, n = self.cell[keep], self.s[keep], self.n[keep]
        frame = margins(self.cells, self.dims, cell, s, n, shared)
        return frame


def histograms(con: duckdb.DuckDBPyConnection, boundaries: tuple[date, ...] = (),
               tables: dict[str, tuple[str, ...]] | None = None) -> dict[str, Histogram] | None:
    """One pass over the visits: a histogram per table of ``tables`` (all three by default).

    None when some wait is not a whole second or the waits span more than 12 hours: then the row-wise
    SQL (``cube_rows``) answers instead, with the same figures.
    """
    tables = tables or TABLE_DIMS
    boundaries = tuple(sorted(boundaries))
    period = " + ".join(["0", *("(visit_date >= ?)::TINYINT" for _ in boundaries)])
    names = list(tables)
    all_dims = list(dict.fromkeys(d for name in names for d in tables[name]))
    # Keys as stored (weekday and hour integers): their text form is made for the few cells only.
    keys = ", ".join(all_dims)
    sets = ", ".join("(" + ", ".join([*tables[name], "period", "s"]) + ")" for name in names)
    # GROUPING(...) tells the sets apart: bit i is set when all_dims[i] is summed out.
    gid = "GROUPING(" + ", ".join(all_dims) + ")"
    con.execute(f"""
    CREATE OR REPLACE TEMP TABLE _wt_hist AS
    SELECT {gid}::INTEGER AS gid, {", ".join(all_dims)}, period, s, COUNT(*)::BIGINT AS n,
           COUNT(*) FILTER (WHERE wait_min <> s::DOUBLE / 60)::BIGINT AS off_grid
    FROM (SELECT {keys}, ({period})::TINYINT AS period, round(wait_min * 60)::BIGINT AS s, wait_min
          FROM {SOURCE})
    GROUP BY GROUPING SETS ({sets})
    """, list(boundaries))  # noqa: S608 - identifiers from the fixed lists above
    try:
        off, s_min, s_max = con.execute(
            "SELECT COALESCE(sum(off_grid), 0), min(s), max(s) FROM _wt_hist").fetchall()[0]
        if s_min is None or off > 0 or s_max - s_min >= _MAX_SPAN_S:
            return None
        out = {}
        for name in names:
            dims = tables[name]
            mask = sum(1 << (len(all_dims) - 1 - i) for i, d in enumerate(all_dims) if d not in dims)
            cols = ", ".join(dims)
            cells = con.execute(f"""
            SELECT DISTINCT {cols} FROM _wt_hist WHERE gid = ?
            """, [mask]).df()  # noqa: S608 - identifiers from the fixed lists above
            # The cells in the order of their keys as text (the cube's order), numbered in that order.
            text = _cells_as_text(cells, dims)
            order = np.lexsort([text[d].to_numpy() for d in reversed(dims)])
            cells = cells.iloc[order].reset_index(drop=True)
            text = text.iloc[order].reset_index(drop=True)
            cells["cell"] = np.arange(len(cells), dtype=np.int32)
            con.register("_wt_cells", cells)
            try:
                on = " AND ".join(f"c.{d} = h.{d}" for d in dims)
                rows = con.execute(f"""
                SELECT c.cell, h.period, h.s, h.n FROM _wt_hist h JOIN _wt_cells c ON {on}
                WHERE h.gid = ? ORDER BY c.cell, h.s
                """, [mask]).fetchnumpy()  # noqa: S608 - identifiers from the fixed lists above
            finally:
                con.unregister("_wt_cells")
            out[name] = Histogram(tuple(dims), boundaries, text,
                                  rows["cell"].astype(np.int32), rows["period"].astype(np.int8),
                                  rows["s"].astype(np.int64), rows["n"].astype(np.int64))
        return out
    finally:
        con.execute("DROP TABLE IF EXISTS _wt_hist")


def _cells_as_text(cells: pd.DataFrame, dims: tuple[str, ...]) -> pd.DataFrame:
    """Cell keys as the cube shows them: weekday as text, hour as two digits."""
    out = pd.DataFrame(index=cells.index)
    for d in dims:
        v = cells[d]
        if d == "hour":
            out[d] = [f"{int(h):02d}" for h in v]
        else:
            out[d] = v.astype(str)
    return out


def _cube_histogram(con: duckdb.DuckDBPyConnection, dims: tuple[str, ...], where: str,
                    params: list | None, shared: bool = False) -> pd.DataFrame | None:
    """``cube`` from the per-second histogram; None when the waits are not whole seconds in a bounded span."""
    params = list(params or [])
    hist = histograms(con, tuple(params), {"t": dims})
    if hist is None:
        return None
    h = hist["t"]
    lo, hi = {"all": (0, None), "train": (0, 1), "test": (1, None), "between": (1, 2)}[where]
    frame = h.cube(lo, hi, shared)
    return frame if len(frame) else None


def margins(cells: pd.DataFrame, dims: tuple[str, ...], cell: np.ndarray, s: np.ndarray,
            n: np.ndarray, shared: bool = False) -> pd.DataFrame:
    """Every grouping set of ``dims`` from histogram rows (cell index, second, visits)."""
    if len(n) == 0:
        return pd.DataFrame(columns=[*dims, "visits", *QUANTILES, "mean_wait", *(SHARED if shared else ())])
    s_min = int(s.min())
    width = int(s.max()) - s_min + 1
    sec = s - s_min
    parts = []
    for size in range(len(dims), -1, -1):
        for kept in itertools.combinations(dims, size):
            parts.append(_margin(cells, cell, sec, n, dims, list(kept), s_min, width, shared))
    frame = pd.concat(parts, ignore_index=True)
    return frame.sort_values(list(dims)).reset_index(drop=True)


def _margin(cells: pd.DataFrame, cell: np.ndarray, sec: np.ndarray, n: np.ndarray, dims: tuple[str, ...],
            kept: list[str], s_min: int, width: int, shared: bool = False) -> pd.DataFrame:
    """One grouping set: the cells' histograms summed per group, then each group's quantiles."""
    if kept:
        code = cells.groupby(kept, sort=False).ngroup().to_numpy()
    else:
        code = np.zeros(len(cells), dtype=np.int64)
    groups = int(code.max()) + 1
    grp, gsec, cnt = group_histogram(code[cell], sec, n, groups, width, presorted=len(kept) == len(dims))
    present = np.zeros(groups, dtype=bool)
    present[grp] = True
    first = np.full(groups, -1)
    first[code[::-1]] = np.arange(len(code))[::-1]  # first cell of each group
    # Groups without a visit in the periods asked for are not rows of the cube.
    remap = np.cumsum(present) - 1
    grp = remap[grp]
    first = first[present]
    groups = int(present.sum())
    out = cells.iloc[first][kept].reset_index(drop=True)
    for d in dims:
        if d not in kept:
            out[d] = ALL
    visits = np.bincount(grp, weights=cnt, minlength=groups).astype(np.int64)
    # Whole seconds summed as integers (exact below 2**53 in float64): the same mean on every run,
    # whatever order the engine's threads add the waits in.
    total_s = np.bincount(grp, weights=(gsec + s_min) * cnt, minlength=groups)
    out["visits"] = visits
    ranked = Ranked(grp, gsec, cnt, groups)
    for k, q in QUANTILES.items():
        out[k] = ranked.released(q, 60.0, s_min)
    out["mean_wait"] = total_s / 60.0 / visits
    if not shared:
        return out[[*dims, "visits", *QUANTILES, "mean_wait"]]
    key = grp.astype(np.int64) * width + gsec
    run = np.cumsum(cnt)
    starts = np.searchsorted(grp, np.arange(groups))
    before = np.where(starts > 0, run[np.maximum(starts - 1, 0)], 0)

    def upto(code: np.ndarray) -> np.ndarray:
        """Waits of each group at or below second ``code`` (seconds past s_min, clipped into the span)."""
        k = np.arange(groups, dtype=np.int64) * width + np.clip(code, -1, width - 1)
        idx = np.searchsorted(key, k, side="right")
        return np.where(idx > 0, run[np.maximum(idx - 1, 0)], 0) - before

    for name, q in QUANTILES.items():
        # The released value times d, in integers: d·x[j] + a·(x[j+1] - x[j]) (seconds past s_min).
        j, a, d = quantile_rank_fraction(q, visits)
        lo, hi = ranked.at(j), ranked.at(j + 1)
        q_d = lo * d + a * (hi - lo)
        whole = q_d % d == 0
        second = q_d // d
        at = np.where(whole, upto(second) - upto(second - 1), 0)
        # The whole minute it rounds to (half a minute up), and the waits that round to that minute.
        minute = (q_d + (s_min + 30) * d) // (60 * d)
        first = minute * 60 - 30 - s_min
        in_minute = upto(first + 59) - upto(first - 1)
        on_minute = whole & ((second + s_min) % 60 == 0)
        out[f"_{name}_exact"] = np.where(at > 0, at, np.where(on_minute, in_minute, 0)).astype(np.int64)
        out[f"_{name}_minute"] = minute.astype(np.int64)
        out[f"_{name}_in_minute"] = in_minute.astype(np.int64)
    return out[[*dims, "visits", *QUANTILES, "mean_wait", *SHARED]]


class Aggregate:
    """The one pass of a build: histograms of the three tables, split at the dates the build needs
    (cross-validation folds, the backtest's cut-off), and every table read off them; or, where the
    waits are not whole seconds, the row-wise SQL for each."""

    def __init__(self, con: duckdb.DuckDBPyConnection, boundaries: tuple[date, ...] = ()) -> None:
        self.con = con
        self.boundaries = tuple(sorted(set(boundaries)))
        self.hist = histograms(con, self.boundaries)

    def cube(self, name: str, before: date | None = None, shared: bool = False) -> pd.DataFrame:
        dims = TABLE_DIMS[name]
        if self.hist is None or (before is not None and before not in self.boundaries):
            return cube_rows(self.con, dims, "all" if before is None else "train", [] if before is None else [before])
        h = self.hist[name]
        frame = h.cube(0, h.period_of(before, before=True), shared)
        if not len(frame):  # no visit before the date: the SQL's empty frame, with its types
            return cube_rows(self.con, dims, "all" if before is None else "train", [] if before is None else [before])
        return frame

    def tables(self, before: date | None = None, shared: bool = False) -> dict[str, pd.DataFrame]:
        """Unprotected aggregates of the visits before ``before`` (all if None); ``shared`` as in
        ``Histogram.cube``."""
        return {name: self.cube(name, before, shared) for name in TABLE_DIMS}


def split(con: duckdb.DuckDBPyConnection) -> dict:
    """Data span and the backtest's cut-off: the last TEST_WEEKS whole weeks are held out."""
    lo, hi = con.execute(f"SELECT min(visit_date), max(visit_date) FROM {SOURCE}").fetchall()[0]  # noqa: S608
    return span(lo, hi)


def span(lo: date | None, hi: date | None) -> dict:
    """The split of visits from ``lo`` to ``hi`` (whichever engine found them)."""
    if lo is None:
        raise ValueError(f"{SOURCE} is empty: nothing to estimate")
    last_monday = hi - timedelta(days=hi.weekday())
    cutoff = last_monday - timedelta(weeks=TEST_WEEKS - 1)
    return {"first_day": lo, "last_day": hi, "cutoff": cutoff if cutoff > lo else None}


def k_until(span: dict) -> date:
    """K is chosen on the visits before this day (the training weeks), so the backtest stays honest."""
    return span["cutoff"] or (span["last_day"] + timedelta(days=1))


def cuts(span: dict) -> tuple[date, ...]:
    """Every date a build cuts the visits at: the folds of the cross-validation, K's limit, the backtest's
    cut-off. One pass counts the histograms split at all of them."""
    until = k_until(span)
    return (*fold_starts(until), until, *([span["cutoff"]] if span["cutoff"] else []))


def raw_tables(con: duckdb.DuckDBPyConnection, where: str = "all", params: list | None = None,
               shared: bool = False) -> dict[str, pd.DataFrame]:
    """Unprotected aggregates. They never leave this process: the release protects them first."""
    if where == "all":
        return Aggregate(con).tables(shared=shared)
    if where == "train":
        return Aggregate(con, (params[0],)).tables(before=params[0], shared=shared)
    return {name: cube(con, dims, where, params, shared) for name, dims in TABLE_DIMS.items()}


def quantile_rule(frame: pd.DataFrame, min_cell: int, count: str = "visits") -> pd.DataFrame:
    """The disclosure rule for quantiles (``disclosure.quantile_ok``): a P50 or P90 stays only where at
    least ``min_cell`` waits lie below and above the two it blends (P50 from 22 visits, P90 from 102 at
    10), so no single wait is pinned; elsewhere it is NaN, like a statistic of a suppressed count.

    Ties (``disclosure.QUANTILE_TIES``): where the two waits blended are equal, the quantile is that
    wait; given to the second it would show that 2..min_cell-1 visits of the cell waited exactly that
    long. Then it is given to the whole minute instead, if at least ``min_cell`` of the cell's waits
    round to that minute, and withheld otherwise; a value on a whole minute stands for the minute.
    This needs the counts of a cube built with ``shared`` (``SHARED``, dropped here); a frame without
    them (the row-wise fallback) gets no quantile. The estimates, the cross-validation and the
    backtest all fit on what this leaves."""
    out = frame.copy()
    n = pd.to_numeric(out[count], errors="coerce").to_numpy(dtype=float)
    have = all(c in out.columns for c in SHARED)
    for q, level in QUANTILES.items():
        value = pd.to_numeric(out[q], errors="coerce").to_numpy(dtype=float)
        if have:
            exact = shared_ok(out[f"_{q}_exact"], min_cell)
            coarse = pd.to_numeric(out[f"_{q}_in_minute"], errors="coerce").to_numpy(dtype=float) >= min_cell
            minute = pd.to_numeric(out[f"_{q}_minute"], errors="coerce").to_numpy(dtype=float)
            value = np.where(exact, value, np.where(coarse, minute, np.nan))
        else:
            value = np.full(len(out), np.nan)
        out[q] = np.where(quantile_ok_many(level, n, min_cell), value, np.nan)
    return out.drop(columns=[c for c in SHARED if c in out.columns])


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
    levels = (("slot", ""), ("fdw", "_fdw"), ("fdh", "_fdh"), ("fd", "_fd"))
    result = out[list(CUBE_DIMS)].copy()
    used: dict[str, dict[str, np.ndarray]] = {}
    for q in QUANTILES:
        stat = {lvl: pd.to_numeric(out[f"{q}{sfx}"], errors="coerce").to_numpy(dtype=float) for lvl, sfx in levels}
        # A level counts for this quantile where its count is released and the statistic itself is
        # (the quantile rule withholds P90 of a slot that releases its P50).
        ok = {lvl: rel[lvl].to_numpy() & ~np.isnan(stat[lvl]) for lvl, _ in levels}
        w = {lvl: _weight(out[f"visits{sfx}"], pd.Series(ok[lvl]), k) for lvl, sfx in levels[:3]}
        log = {lvl: np.log(np.nan_to_num(stat[lvl], nan=1.0).clip(min=1e-3)) for lvl, _ in levels}
        # A level without the statistic has weight 0: its effect is exactly 0.
        weekday_effect = w["fdw"] * (log["fdw"] - log["fd"])
        hour_effect = w["fdh"] * (log["fdh"] - log["fd"])
        target = log["fd"] + weekday_effect + hour_effect
        slot_hat = w["slot"] * log["slot"] + (1 - w["slot"]) * target
        result[q] = np.where(ok["fd"], np.exp(slot_hat), np.nan)
        used[q] = {**ok, **{f"w_{lvl}": v for lvl, v in w.items()}}
    # Weights and level describe the typical wait (P50); P90 may fall back further (see its own NaN).
    u = used["p50"] if "p50" in used else next(iter(used.values()))
    base_ok = u["fd"]
    result["weight_slot"] = np.where(base_ok, u["w_slot"], np.nan)
    result["weight_weekday"] = np.where(base_ok, u["w_fdw"], np.nan)
    result["weight_hour"] = np.where(base_ok, u["w_fdh"], np.nan)
    result["level"] = np.select(
        [~base_ok, u["slot"], u["fdw"] | u["fdh"]],
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


def fold_starts(cutoff: date) -> list[date]:
    """The first day of each cross-validation fold's validation week, before ``cutoff``."""
    return [cutoff - timedelta(weeks=j) for j in range(1, CV_FOLDS + 1)]


def choose_k(con: duckdb.DuckDBPyConnection, cutoff: date, min_cell: int,
             agg: Aggregate | None = None) -> tuple[int, pd.DataFrame]:
    """K by rolling-origin cross-validation on the weeks before ``cutoff`` (the training weeks only).

    Fold j fits on the visits before ``cutoff - j weeks`` and scores the week that follows by the mean
    pinball loss of P50 and P90. For speed the folds treat levels under ``min_cell`` as suppressed
    (primary suppression) instead of re-running secondary suppression. Returns the K with the lowest
    loss over all folds (the smaller K on a tie) and the table of losses.
    """
    first = con.execute(f"SELECT min(visit_date) FROM {SOURCE}").fetchall()[0][0]  # noqa: S608

    def train_of(start: date) -> pd.DataFrame:
        return (agg.cube("slot_cube", before=start, shared=True) if agg is not None
                else cube(con, CUBE_DIMS, "train", [start], shared=True))

    def val_of(start: date) -> pd.DataFrame:
        val = _visits(con, "between", [start, start + timedelta(weeks=1)])
        return val.rename(columns={"wait_min": "y"}).assign(w=1.0)

    return cross_validate(first, cutoff, min_cell, train_of, val_of)


def cross_validate(first: date, cutoff: date, min_cell: int, train_of: Callable[[date], pd.DataFrame],
                   val_of: Callable[[date], pd.DataFrame]) -> tuple[int, pd.DataFrame]:
    """The folds of :func:`choose_k`, whichever engine read the visits: ``train_of(start)`` is the slot cube
    before ``start``, ``val_of(start)`` the following week's waits as rows of the slot keys, ``y`` (minutes)
    and ``w`` (how many visits waited ``y``: 1 per row, or a histogram's counts)."""
    totals = {k: [0.0, 0.0] for k in K_GRID}
    n_total, folds = 0, 0
    for start in fold_starts(cutoff):
        if start - timedelta(weeks=1) < first:
            break
        train = quantile_rule(train_of(start), min_cell)
        mask = pd.to_numeric(train["visits"]) >= min_cell
        val = val_of(start)
        if val.empty:
            continue
        folds += 1
        for k in K_GRID:
            est = estimates(train, mask, k)
            est = est[est["level"] != LEVEL_NONE]
            scored = val.merge(est[[*CUBE_DIMS, "p50", "p90"]], on=list(CUBE_DIMS), how="inner")
            y, w = scored["y"].to_numpy(dtype=float), scored["w"].to_numpy(dtype=float)
            # A P90 the quantile rule withholds down to the department level is no prediction: not scored.
            totals[k][0] += float(np.nansum(w * pinball(y, scored["p50"].to_numpy(dtype=float), 0.5)))
            totals[k][1] += float(np.nansum(w * pinball(y, scored["p90"].to_numpy(dtype=float), 0.9)))
            if k == K_GRID[0]:
                n_total += int(w.sum())
    table = pd.DataFrame({"k": list(K_GRID),
                          "loss_p50": [totals[k][0] / max(n_total, 1) for k in K_GRID],
                          "loss_p90": [totals[k][1] / max(n_total, 1) for k in K_GRID]})
    table["loss"] = table["loss_p50"] + table["loss_p90"]
    table.attrs.update(folds=folds, n=n_total)
    if not folds or not n_total:
        return 20, table  # too short a span to validate: the former fixed K, said so in the metadata
    return int(table.loc[table["loss"].idxmin(), "k"]), table


def backtest_fit(train: dict[str, pd.DataFrame], protect: Callable[[dict[str, pd.DataFrame]], pd.Series],
                 k: float, min_cell: int) -> pd.DataFrame:
    """The backtest's fitted estimates, whichever engine read the training weeks: fitted exactly as the
    published ones (released mask, quantile rule, K), with each slot's size band and the fair baseline
    (the released facility x department P50/P90). Only slots with an estimate."""
    mask = protect(train)
    fitted = quantile_rule(train["slot_cube"], min_cell)
    tc = fitted.assign(_released=mask.to_numpy(dtype=bool))
    est = estimates(fitted, mask, k)
    real = (tc[list(CUBE_DIMS)] != ALL).all(axis=1)
    slots = tc[real][[*CUBE_DIMS, "visits", "_released"]]
    slots = slots.assign(size_band=[size_band(float(n), r) for n, r in zip(slots["visits"], slots["_released"],
                                                                              strict=True)])
    fd = tc[(tc["facility_id"] != ALL) & (tc["department"] != ALL) & (tc["weekday"] == ALL) & (tc["hour"] == ALL)
            & tc["_released"]]
    base = fd[["facility_id", "department", "p50", "p90"]].rename(columns={"p50": "base_p50", "p90": "base_p90"})
    est = est.merge(slots[[*CUBE_DIMS, "size_band"]], on=list(CUBE_DIMS), how="left")
    est = est.merge(base, on=["facility_id", "department"], how="left")
    return est[est["level"] != LEVEL_NONE].reset_index(drop=True)


def _mae_sql(errors: str, min_cell: int) -> str:
    """The median of a backtest cell's absolute errors (the sorted list ``errors``) under the quantile rule:
    a median of |wait - estimate| equal to one visit's error would give that visit's wait to anyone who
    knows the estimate, so it blends two errors and needs ``min_cell`` errors below and above them."""
    n = f"len({errors})"
    _, j = quantile_position_sql(0.5, n)
    return quantile_value_sql(0.5, n, f"{errors}[{j} + 1]", f"{errors}[{j} + 2]", min_cell, None)


def backtest(con: duckdb.DuckDBPyConnection, cutoff: date,
             protect: Callable[[dict[str, pd.DataFrame]], pd.Series], k: float,
             min_cell: int, agg: Aggregate | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fit on visits before ``cutoff`` with shrinkage ``k``, score on visits from it on.

    ``protect`` takes the training aggregates and returns the released mask of the training slot
    cube, and the quantile rule (``quantile_rule``) is applied at ``min_cell``, so the backtest fits
    exactly the way the published estimates are fitted. The baseline is
    the facility x department P50 (typical wait) and P90 (bound) of the same training weeks, where
    that level is released (exactly where an estimate exists). Returns the scores per facility x
    department x slot-size band x day type (with CUBE margins; ``n_test`` unprotected) and the
    fitted training estimates (with the slot's size band and the baseline).
    """
    train = agg.tables(before=cutoff, shared=True) if agg is not None else raw_tables(con, "train", [cutoff], shared=True)
    est = backtest_fit(train, protect, k, min_cell)
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
        SELECT {", ".join(BACKTEST_DIMS)}, n_test, {_mae_sql("_e", min_cell)} AS mae_p50, within_p90, below_p50,
               {_mae_sql("_b", min_cell)} AS mae_baseline, within_baseline, below_baseline
        FROM (SELECT {cols},
          COUNT(*)::BIGINT AS n_test,
          list_sort(list(abs(wait_min - p50)) FILTER (WHERE p50 IS NOT NULL)) AS _e,
          avg(CASE WHEN p90 IS NULL THEN NULL WHEN wait_min <= p90 THEN 1.0 ELSE 0.0 END) AS within_p90,
          avg(CASE WHEN wait_min < p50 THEN 1.0 ELSE 0.0 END) AS below_p50,
          list_sort(list(abs(wait_min - base_p50)) FILTER (WHERE base_p50 IS NOT NULL)) AS _b,
          avg(CASE WHEN base_p90 IS NULL THEN NULL WHEN wait_min <= base_p90 THEN 1.0 ELSE 0.0 END) AS within_baseline,
          avg(CASE WHEN wait_min < base_p50 THEN 1.0 ELSE 0.0 END) AS below_baseline
        FROM v
        GROUP BY CUBE (facility_id, department, size_band, day_type))
        """, [cutoff]).df()  # noqa: S608 - identifiers from the fixed lists above
    finally:
        con.unregister("_wt_est")
    for d in BACKTEST_DIMS:
        frame[d] = frame[d].astype(str)
    return frame.sort_values(list(BACKTEST_DIMS)).reset_index(drop=True), est


# Each backtest median absolute error and the count of errors it blends (visits of the test weeks whose
# slot had that estimate): the count is released beside it, so approval can hold the median to the rule.
MAE_COUNTS = {"mae_p50": "mae_p50_n", "mae_baseline": "mae_baseline_n"}


def error_counts(aggregate: Aggregate, cutoff: date, est: pd.DataFrame) -> pd.DataFrame | None:
    """Per backtest row (``BACKTEST_DIMS`` with margins), how many errors each median absolute error
    blends: the test weeks' visits of slots with that estimate (p50, or the baseline's), counted on the
    slot histogram after aggregation, whichever engine filled it; ``est`` is the backtest's fit. None
    without histograms (waits off the second grid): the medians are then not released."""
    if aggregate.hist is None:
        return None
    h = aggregate.hist["slot_cube"]
    keep = h.period >= h.period_of(cutoff, before=False)
    visits = np.bincount(h.cell[keep], weights=h.n[keep], minlength=len(h.cells)).astype(np.int64)
    slots = h.cells.assign(_visits=visits)
    v = slots[slots["_visits"] > 0].merge(est[[*CUBE_DIMS, "p50", "base_p50", "size_band"]], on=list(CUBE_DIMS),
                                          how="inner")
    v["day_type"] = np.where(v["weekday"].astype(int) >= 6, "weekend", "weekday")
    for mae, col in (("mae_p50", "p50"), ("mae_baseline", "base_p50")):
        v[MAE_COUNTS[mae]] = v["_visits"] * v[col].notna()
    counts = list(MAE_COUNTS.values())
    parts = []
    for size in range(len(BACKTEST_DIMS), -1, -1):
        for kept in itertools.combinations(BACKTEST_DIMS, size):
            if kept:
                part = v.groupby(list(kept), sort=False, dropna=False)[counts].sum().reset_index()
            else:
                part = v[counts].sum().to_frame().T
            for d in BACKTEST_DIMS:
                if d not in kept:
                    part[d] = ALL
            parts.append(part[[*BACKTEST_DIMS, *counts]])
    out = pd.concat(parts, ignore_index=True)
    for d in BACKTEST_DIMS:
        out[d] = out[d].astype(str)
    return out.astype({c: np.int64 for c in counts})


def lineage(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute(f"SELECT DISTINCT transfer_id FROM {SOURCE} ORDER BY 1").fetchall()]  # noqa: S608

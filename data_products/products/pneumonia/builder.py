"""Pneumonia builder: restricted ``pneumonia_episodes`` -> the atlas's candidate tables.

One pass over the episodes fills, per finest cell of each table, the additive counts and a histogram
of every marker at the decimals the laboratory records it with; every margin is summed from those and
every released quantile read off the histograms exactly (:mod:`data_products.products.histogram`),
the rule and rounding of :func:`data_products.disclosure.quantile_sql` applied by DuckDB itself on the
small per-group frame. Should a marker value not lie on its recorded grid, ``GROUP BY CUBE`` over the
rows (``tables_rows``) answers instead, with the same figures. Disclosure control then decides what
may be shown. Identifiers interpolated into SQL come only from the fixed lists in ``spec``.
"""

from __future__ import annotations

import itertools

import duckdb
import numpy as np
import pandas as pd

from data_products.config import min_cell
from data_products.disclosure import ALL, quantile_rank, quantile_sql, quantile_value_sql, shared_ok
from data_products.products.histogram import Ranked, group_histogram
from data_products.products.pneumonia.spec import CUTOFFS, DECIMALS, MARKERS, PATHOGENS, QUANTILES

# The coarser step a quantile falls back to when its recorded value is rare: one decimal less than the
# laboratory records (CRP, IL-6 in whole units, neutrophils in whole percent; PCT, WBC to 0.1).
COARSE_DECIMALS = {m: DECIMALS[m] - 1 for m in MARKERS}
# How released marker quantiles meet recorded values, as pneumonia releases state it in their metadata
# (approval refuses a release of marker quantiles that does not state this one).
QUANTILE_TIES = ("a marker quantile is given at the decimals the laboratory records unless that value is the value "
                 "of 1 to min_cell-1 children of its cell; then at one decimal less (CRP, IL-6 and neutrophil % "
                 "in whole units; PCT and WBC to 0.1), the recorded-resolution value rounded half up, if at least "
                 "min_cell of the cell's values fall in that coarser step; else withheld. A value on the coarser "
                 "step stands for that step and needs no child's value or at least min_cell values in it")

TABLE_DIMS = {"district_cube": ("district", "month", "age_band", "sex"), "facility_month": ("facility_id", "month")}


def count_measures(cast: str = "::BIGINT") -> list[str]:
    """The count measures in their release order, as SQL aggregates (``cast``: DuckDB's ``::BIGINT``; Spark
    counts are already integers). Every engine and path counts with these."""
    parts = [f"COUNT(*){cast} AS cases"]
    for p in PATHOGENS:
        parts.append(f"COUNT(*) FILTER (WHERE {p} = 'POS'){cast} AS {p}_pos")
        parts.append(f"COUNT(*) FILTER (WHERE {p} = 'NEG'){cast} AS {p}_neg")
    for c in CUTOFFS:
        parts.append(f"COUNT(*) FILTER (WHERE {c.marker} {c.op} {c.threshold_sql()}){cast} AS {c.id}_above")
        parts.append(f"COUNT(*) FILTER (WHERE NOT ({c.marker} {c.op} {c.threshold_sql()})){cast} AS {c.id}_below")
    return parts


def _measure_sql() -> str:
    parts = count_measures()
    # One sorted list per marker and group: DuckDB sorts each group once for all five levels.
    for m in MARKERS:
        parts.append(quantile_sql(m, QUANTILES, min_cell(), DECIMALS[m])[0])
    return ",\n  ".join(parts)


def _unpack_quantiles() -> str:
    """The released quantiles (rule and rounding: :func:`data_products.disclosure.quantile_sql`)."""
    return ", ".join(f"{expr} AS {m}_{q}" for m in MARKERS
                     for q, expr in quantile_sql(m, QUANTILES, min_cell(), DECIMALS[m])[1].items())


def _internal_columns() -> str:
    return ", ".join(f"{m}__n, {m}__l" for m in MARKERS)


_BASE = """
SELECT *, strftime(admission_date, '%Y-%m') AS month
FROM pneumonia_episodes
"""


def _cube(con: duckdb.DuckDBPyConnection, dims: list[str]) -> pd.DataFrame:
    dim_sql = ", ".join(f"COALESCE({d}, '{ALL}') AS {d}" for d in dims)
    sql = f"""
    WITH base AS ({_BASE}),
    cube AS (
      SELECT {dim_sql},
        {_measure_sql()}
      FROM base
      GROUP BY CUBE ({", ".join(dims)})
    )
    SELECT * EXCLUDE ({_internal_columns()}), {_unpack_quantiles()} FROM cube
    """  # noqa: S608 - identifiers from spec, no values
    frame = con.execute(sql).df()
    for d in dims:
        frame[d] = frame[d].astype(str)
    return frame.sort_values(dims).reset_index(drop=True)


def _by_pathogen(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Marker quantiles among cases positive for each pathogen, by age band and overall."""
    frames = []
    for p in PATHOGENS:
        q = ", ".join(quantile_sql(m, QUANTILES, min_cell(), DECIMALS[m])[0] for m in MARKERS)
        sql = f"""
        WITH base AS ({_BASE}),
        g AS (
          SELECT '{p}' AS pathogen, COALESCE(age_band, '{ALL}') AS age_band, {q}
          FROM base WHERE {p} = 'POS'
          GROUP BY ROLLUP (age_band)
        )
        SELECT pathogen, age_band, {_unpack_quantiles()} FROM g
        """  # noqa: S608 - identifiers from spec
        frames.append(con.execute(sql).df())
    return pd.concat(frames, ignore_index=True).sort_values(["pathogen", "age_band"]).reset_index(drop=True)


def raw_tables(con: duckdb.DuckDBPyConnection) -> dict[str, pd.DataFrame]:
    """Unprotected aggregates. They never leave this process: the pipeline protects them first.
    Off the recorded grid (the row-wise fallback) no value's sharers can be counted on the histogram,
    so no marker quantile is given (:data:`QUANTILE_TIES`)."""
    out = tables_histogram(con)
    if out is not None:
        return out
    out = tables_rows(con)
    for frame in out.values():
        cols = [c for c in frame.columns if any(c == f"{m}_{q}" for m in MARKERS for q in QUANTILES)]
        frame[cols] = np.nan
    return out


def tie_rule(value: np.ndarray, group: np.ndarray, h_group: np.ndarray, h_code: np.ndarray, h_n: np.ndarray,
             decimals: int, k: int, offset: int = 0) -> np.ndarray:
    """:data:`QUANTILE_TIES` on released quantiles ``value`` (NaN: withheld) of one marker, each of
    histogram group ``group``; the histogram (group, code, count) sorted by group then code, a code being
    value x 10^decimals - ``offset``. Shared by the DuckDB and Spark paths."""
    value = np.asarray(value, dtype=np.float64)
    out = np.full(len(value), np.nan)
    ok = ~np.isnan(value)
    if not ok.any() or len(h_code) == 0:
        return out
    g = np.asarray(group)[ok].astype(np.int64)
    c = np.rint(value[ok] * 10.0 ** decimals).astype(np.int64)  # absolute code on the recorded grid
    coarse = np.floor_divide(c + 5, 10)  # half up, one decimal less
    a, b = coarse * 10 - 5 - offset, coarse * 10 + 4 - offset
    rel = c - offset
    base = min(int(h_code.min()), int(a.min())) - 1
    width = max(int(h_code.max()), int(b.max())) - base + 1
    key = h_group.astype(np.int64) * width + (h_code.astype(np.int64) - base)
    run = np.r_[0, np.cumsum(h_n.astype(np.int64))]

    def upto(code: np.ndarray) -> np.ndarray:
        """Values of the whole histogram up to (group g, ``code``): differences within a group count it."""
        return run[np.searchsorted(key, g * width + (code - base), side="right")]

    exact = upto(rel) - upto(rel - 1)
    in_step = upto(b) - upto(a - 1)
    on_step = c % 10 == 0
    shared = np.where(exact > 0, exact, np.where(on_step, in_step, 0))
    step = np.round(coarse / 10.0 ** (decimals - 1), decimals - 1)
    out[ok] = np.where(shared_ok(shared, k), value[ok], np.where(in_step >= k, step, np.nan))
    return out


def tables_rows(con: duckdb.DuckDBPyConnection) -> dict[str, pd.DataFrame]:
    """``raw_tables`` by ``GROUP BY CUBE`` over the rows (every marker value of every margin sorted)."""
    return {
        "district_cube": _cube(con, ["district", "month", "age_band", "sex"]),
        "facility_month": _cube(con, ["facility_id", "month"]),
        "pathogen_markers": _by_pathogen(con),
    }


def lineage(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute("SELECT DISTINCT transfer_id FROM pneumonia_episodes ORDER BY 1").fetchall()]


# --- the one pass: counts and marker histograms per finest cell ----------------------------------

_PATHOGEN_DIMS = {p: (p, "age_band") for p in PATHOGENS}
_ALL_DIMS = ("district", "month", "age_band", "sex", "facility_id", *PATHOGENS)


_COUNT_DIMS = _ALL_DIMS[:5]


def _mask(dims: tuple[str, ...], universe: tuple[str, ...] = _ALL_DIMS) -> int:
    """``GROUPING(universe)`` of a grouping set: bit set where a dimension is summed out."""
    return sum(1 << (len(universe) - 1 - i) for i, d in enumerate(universe) if d not in dims)


def tables_histogram(con: duckdb.DuckDBPyConnection, ties: bool = True) -> dict[str, pd.DataFrame] | None:
    """``raw_tables`` from per-cell counts and marker histograms; None when a marker value is off its grid.
    ``ties=False``: before :func:`tie_rule` (the figures of ``tables_rows``), for tests only."""
    gid = "GROUPING(" + ", ".join(_ALL_DIMS) + ")::INTEGER"
    sets = [*TABLE_DIMS.values(), *_PATHOGEN_DIMS.values()]
    scale = "CASE marker " + " ".join(f"WHEN '{m}' THEN {10.0 ** DECIMALS[m]!r}" for m in MARKERS) + " END"
    index = "CASE marker " + " ".join(f"WHEN '{m}' THEN {i}" for i, m in enumerate(MARKERS)) + " END"
    cols = ", ".join(_ALL_DIMS)
    # The counts need the episode (age for the WBC limit); the histograms one row per measured value.
    con.execute(f"""
    CREATE OR REPLACE TEMP TABLE _pn_base AS
    SELECT GROUPING({", ".join(_COUNT_DIMS)})::INTEGER AS gid, {", ".join(_COUNT_DIMS)}, {", ".join(count_measures())}
    FROM ({_BASE})
    GROUP BY GROUPING SETS ({", ".join("(" + ", ".join(d) + ")" for d in sets[:2])})
    """)  # noqa: S608 - identifiers from spec
    con.execute(f"""
    CREATE OR REPLACE TEMP TABLE _pn_hist AS
    SELECT {gid} AS gid, {cols}, mi, code, COUNT(*)::BIGINT AS n,
           COUNT(*) FILTER (WHERE v <> code::DOUBLE / sc)::BIGINT AS off_grid
    FROM (SELECT {cols}, ({index})::TINYINT AS mi, v, {scale} AS sc, round(v * sc)::BIGINT AS code
          FROM (UNPIVOT (SELECT {cols}, {", ".join(MARKERS)} FROM ({_BASE}))
                ON {", ".join(MARKERS)} INTO NAME marker VALUE v))
    GROUP BY GROUPING SETS ({", ".join("(" + ", ".join([*d, "mi", "code"]) + ")" for d in sets)})
    """)  # noqa: S608 - identifiers from spec
    try:
        off, lo, hi = con.execute("SELECT COALESCE(sum(off_grid), 0), min(code), max(code) FROM _pn_hist").fetchall()[0]
        if off:
            return None
        lo, hi = (0, 0) if lo is None else (int(lo), int(hi))
        out = {name: _table(con, dims, lo, hi - lo + 1, ties) for name, dims in TABLE_DIMS.items()}
        out["pathogen_markers"] = _pathogen_table(con, lo, hi - lo + 1, ties)
        return out
    finally:
        con.execute("DROP TABLE IF EXISTS _pn_base")
        con.execute("DROP TABLE IF EXISTS _pn_hist")


def _cells_and_rows(con: duckdb.DuckDBPyConnection, dims: tuple[str, ...], mask: int, cells: pd.DataFrame,
                    lo: int) -> dict[str, np.ndarray]:
    """Histogram rows of one grouping set, the cell given as its row in ``cells``, sorted by cell, marker, code."""
    keyed = cells[list(dims)].assign(cell=np.arange(len(cells), dtype=np.int64))
    con.register("_pn_cells", keyed)
    try:
        on = " AND ".join(f"c.{d} IS NOT DISTINCT FROM h.{d}" for d in dims)
        return con.execute(f"""
        SELECT c.cell, h.mi, h.code - ? AS code, h.n FROM _pn_hist h JOIN _pn_cells c ON {on}
        WHERE h.gid = ? ORDER BY c.cell, h.mi, h.code
        """, [lo, mask]).fetchnumpy()  # noqa: S608 - identifiers from spec
    finally:
        con.unregister("_pn_cells")


def _table(con: duckdb.DuckDBPyConnection, dims: tuple[str, ...], lo: int, width: int, ties: bool) -> pd.DataFrame:
    """Every margin of ``dims``: counts summed, quantiles read off the summed histograms."""
    sql = f"SELECT * EXCLUDE (gid) FROM _pn_base WHERE gid = ? ORDER BY {', '.join(dims)}"  # noqa: S608 - spec's
    cells = con.execute(sql, [_mask(dims, _COUNT_DIMS)]).df()
    rows = _cells_and_rows(con, dims, _mask(dims), cells, lo)
    counts = [c for c in cells.columns if c not in _ALL_DIMS]
    parts, ranks = [], []
    for size in range(len(dims), -1, -1):
        for kept in itertools.combinations(dims, size):
            code = cells.groupby(list(kept), sort=False, dropna=False).ngroup().to_numpy() if kept \
                else np.zeros(len(cells), dtype=np.int64)
            groups = int(code.max()) + 1 if len(code) else 0
            first = np.full(groups, -1)
            first[code[::-1]] = np.arange(len(code))[::-1]
            out = cells.iloc[first][list(kept)].reset_index(drop=True)
            for d in dims:
                if d not in kept:
                    out[d] = ALL
            for c in counts:
                out[c] = np.bincount(code, weights=cells[c].to_numpy(dtype=np.float64), minlength=groups).astype(np.int64)
            ranks.append(_ranks(code[rows["cell"]], rows["mi"], rows["code"], rows["n"], groups, lo, width,
                                presorted=len(kept) == len(dims)))
            parts.append(out[[*dims, *counts]])
    frame = pd.concat(parts, ignore_index=True)
    frame = pd.concat([frame, _released(con, ranks, ties)], axis=1)
    for d in dims:
        frame[d] = frame[d].fillna(ALL).astype(str)
    return frame.sort_values(list(dims)).reset_index(drop=True)


def _pathogen_table(con: duckdb.DuckDBPyConnection, lo: int, width: int, ties: bool) -> pd.DataFrame:
    """Marker quantiles among each pathogen's positives, by age band and overall."""
    frames, ranks = [], []
    for p, dims in _PATHOGEN_DIMS.items():
        mask = _mask(dims)
        sql = f"SELECT DISTINCT age_band FROM _pn_hist WHERE gid = ? AND {p} = 'POS' ORDER BY 1"  # noqa: S608 - spec's
        cells = con.execute(sql, [mask]).df()
        cells[p] = "POS"
        rows = _cells_and_rows(con, dims, mask, cells, lo)
        for kept in (True, False):
            code = np.arange(len(cells)) if kept else np.zeros(len(cells), dtype=np.int64)
            groups = len(cells) if kept else 1
            ranks.append(_ranks(code[rows["cell"]], rows["mi"], rows["code"], rows["n"], groups, lo, width,
                                presorted=kept))
            ages = cells["age_band"].astype(str).tolist() if kept else [ALL]
            frames.append(pd.DataFrame({"pathogen": p, "age_band": ages}))
    frame = pd.concat(frames, ignore_index=True)
    frame = pd.concat([frame, _released(con, ranks, ties)], axis=1)
    for d in ("pathogen", "age_band"):
        frame[d] = frame[d].astype(str)
    return frame.sort_values(["pathogen", "age_band"]).reset_index(drop=True)


def _ranks(group: np.ndarray, mi: np.ndarray, code: np.ndarray, n: np.ndarray, groups: int, lo: int,
           width: int, presorted: bool) -> dict[str, np.ndarray]:
    """Per group and marker: the number of values and the codes of the two values each released
    quantile blends, read off the summed histogram."""
    m_count = len(MARKERS)
    grp, c, cnt = group_histogram(group.astype(np.int64) * m_count + mi, code, n, groups * m_count, width,
                                  presorted=presorted)
    ranked = Ranked(grp, c, cnt, groups * m_count)
    small = {"mi": np.tile(np.arange(m_count), groups), "n": ranked.n, "_hist": (grp, c, cnt), "_lo": lo}
    for name, q in QUANTILES.items():
        # The same integer arithmetic as quantile_sql, so the same two neighbours are picked.
        j, _ = quantile_rank(q, ranked.n)
        small[f"{name}_lo"] = (lo + ranked.at(j)).astype(np.int64)
        small[f"{name}_hi"] = (lo + ranked.at(j + 1)).astype(np.int64)
    return small


def _released(con: duckdb.DuckDBPyConnection, ranks: list[dict[str, np.ndarray]], ties: bool) -> pd.DataFrame:
    """The released quantile columns, one row per group of ``ranks`` (in order): the rule, blend and
    rounding of :func:`quantile_sql` (:func:`quantile_value_sql`), run by DuckDB on the two values, then
    (``ties``) :func:`tie_rule` on the summed histograms."""
    frame = pd.DataFrame({k: np.concatenate([r[k] for r in ranks]) for k in ranks[0] if not k.startswith("_")})
    frame["g"] = np.arange(len(frame)) // len(MARKERS)
    groups = int(frame["g"].iloc[-1]) + 1 if len(frame) else 0
    # All blocks' histograms as one, its groups numbered like the rows of ``frame`` (group x marker).
    m_count, start, h = len(MARKERS), 0, []
    for r in ranks:
        grp, code, cnt = r["_hist"]
        h.append((grp + start * m_count, code, cnt))
        start += len(r["n"]) // m_count
    h_group, h_code, h_n = (np.concatenate([x[i] for x in h]) if h else np.zeros(0, np.int64) for i in range(3))
    lo = ranks[0]["_lo"] if ranks else 0
    out = pd.DataFrame(index=pd.RangeIndex(groups))
    con.register("_pn_small", frame)
    try:
        for i, m in enumerate(MARKERS):
            sc = 10.0 ** DECIMALS[m]
            exprs = [quantile_value_sql(q, "n", f"({name}_lo::DOUBLE / {sc!r})", f"({name}_hi::DOUBLE / {sc!r})",
                                        min_cell(), DECIMALS[m]) + f" AS {m}_{name}" for name, q in QUANTILES.items()]
            sql = f"SELECT {', '.join(exprs)} FROM _pn_small WHERE mi = ? ORDER BY g"  # noqa: S608 - spec's
            part = con.execute(sql, [i]).df()
            cell = np.arange(len(part), dtype=np.int64) * m_count + i
            for col in part.columns:
                value = part[col].to_numpy(dtype=np.float64)
                out[col] = tie_rule(value, cell, h_group, h_code, h_n, DECIMALS[m], min_cell(), lo) if ties else value
    finally:
        con.unregister("_pn_small")
    return out.reset_index(drop=True)

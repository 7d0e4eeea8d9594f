"""The pneumonia atlas's aggregation on Apache Spark: the same pre-disclosure tables as ``builder``.

Spark reads the restricted zone's Parquet layout and does, once, the work that grows with the records: the
counts of every margin (``GROUP BY CUBE``) and, per margin and marker, a histogram of the measured values
(``GROUP BY marker, value, CUBE(...)``: laboratory values have few distinct values, so this stays small
however many children are counted). The driver then reads each released quantile off the histogram: the
two values it blends are the order statistics at the positions :func:`disclosure.quantile_position_sql`
gives, found by cumulative counts, and the blend, the release rule and the rounding are the very SQL
expression the DuckDB builder uses (:func:`disclosure.quantile_value_sql`), run by DuckDB over that small
frame. So the figures are equal to the DuckDB builder's, not merely close. Identifiers in SQL come from
``spec`` only.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd

from data_products.config import min_cell
from data_products.disclosure import ALL, quantile_position_sql, quantile_value_sql
from data_products.products.histogram import Ranked
from data_products.products.pneumonia.builder import count_measures, tie_rule
from data_products.products.pneumonia.spec import DECIMALS, MARKERS, PATHOGENS, QUANTILES

TABLE = "pneumonia_episodes"
CUBES = {"district_cube": ("district", "month", "age_band", "sex"), "facility_month": ("facility_id", "month")}
_ROWS = "__rows"  # a pseudo-marker counted once per record: its groups exist even with no value measured
_BASE = f"SELECT *, date_format(admission_date, 'yyyy-MM') AS month FROM {TABLE}"  # noqa: S608


def _counts_sql() -> str:
    """The count measures, the DuckDB builder's own (Spark's counts are integers already)."""
    return ",\n  ".join(count_measures(cast=""))


def _stack(with_rows: bool) -> str:
    pairs = [f"'{m}', CAST({m} AS DOUBLE)" for m in MARKERS]
    if with_rows:
        pairs.insert(0, f"'{_ROWS}', CAST(0 AS DOUBLE)")
    return f"stack({len(pairs)}, {', '.join(pairs)}) AS (marker, value)"


def _dims_out(dims: tuple[str, ...]) -> str:
    return ", ".join(f"COALESCE({d}, '{ALL}') AS {d}" for d in dims)


@dataclass
class Aggregates:
    """What Spark counted: per cube its counts and its (margin, marker, value) histogram, the pathogens'
    histogram and the lineage. Small; the driver builds the tables from it as often as asked."""

    counts: dict[str, pd.DataFrame]
    hists: dict[str, pd.DataFrame]
    pathogens: pd.DataFrame
    lineage: list[str]


def source(src) -> Aggregates:
    """Count everything on Spark once (``src``: a ``restricted.spark.SparkSource``)."""
    src.table(TABLE)
    counts, hists = {}, {}
    for name, dims in CUBES.items():
        counts[name] = src.frame(f"""
        WITH base AS ({_BASE})
        SELECT {_dims_out(dims)}, {_counts_sql()}
        FROM base GROUP BY CUBE ({", ".join(dims)})
        """)  # noqa: S608 - identifiers from spec
        hists[name] = src.frame(f"""
        WITH base AS ({_BASE}),
        v AS (SELECT {", ".join(dims)}, {_stack(False)} FROM base)
        SELECT {_dims_out(dims)}, marker, value, count(*) AS n
        FROM v WHERE value IS NOT NULL
        GROUP BY marker, value, CUBE ({", ".join(dims)})
        """)  # noqa: S608 - identifiers from spec
    cols = ", ".join(MARKERS)
    pos = " UNION ALL ".join(
        f"SELECT '{p}' AS pathogen, age_band, {cols} FROM base WHERE {p} = 'POS'"  # noqa: S608 - spec
        for p in PATHOGENS)
    pathogens = src.frame(f"""
    WITH base AS ({_BASE}),
    v AS (SELECT pathogen, age_band, {_stack(True)} FROM ({pos}) p)
    SELECT pathogen, COALESCE(age_band, '{ALL}') AS age_band, marker, value, count(*) AS n
    FROM v WHERE value IS NOT NULL
    GROUP BY pathogen, marker, value, ROLLUP (age_band)
    """)  # noqa: S608 - identifiers from spec
    lineage = [r[0] for r in src.sql(f"SELECT DISTINCT transfer_id FROM {TABLE} ORDER BY 1").collect()]  # noqa: S608
    return Aggregates(counts, hists, pathogens, lineage)


def _cube(a: Aggregates, name: str, con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    dims = CUBES[name]
    frame = _with_quantiles(con, a.counts[name], a.hists[name], list(dims))
    for d in dims:
        frame[d] = frame[d].astype(str)
    return frame.sort_values(list(dims)).reset_index(drop=True)


def _by_pathogen(a: Aggregates, con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Marker quantiles among each pathogen's positives, by age band and overall."""
    hist = a.pathogens
    groups = hist.loc[hist["marker"] == _ROWS, ["pathogen", "age_band"]].drop_duplicates()
    frame = _with_quantiles(con, groups, hist[hist["marker"] != _ROWS], ["pathogen", "age_band"])
    return frame.sort_values(["pathogen", "age_band"]).reset_index(drop=True)


def _with_quantiles(con: duckdb.DuckDBPyConnection, groups: pd.DataFrame, hist: pd.DataFrame,
                    keys: list[str]) -> pd.DataFrame:
    """``groups`` with every marker's released quantiles beside it, from the (keys, marker, value, n)
    histogram, as DuckDB frames so the columns' types are the DuckDB builder's."""
    k = min_cell()
    hist = hist.sort_values([*keys, "marker", "value"], kind="stable").reset_index(drop=True)
    grp = hist.groupby([*keys, "marker"], sort=False).ngroup().to_numpy()
    first = np.r_[0, np.flatnonzero(np.diff(grp)) + 1] if len(grp) else np.zeros(0, dtype=np.int64)
    per = hist.iloc[first][[*keys, "marker"]].reset_index(drop=True)
    ranked = Ranked(grp, hist["value"].to_numpy(dtype=float), hist["n"].to_numpy(dtype=np.int64), len(first))
    per["cnt"] = ranked.n
    con.register("_pm_groups", per)
    try:
        positions = ", ".join(f"{quantile_position_sql(q, 'cnt')[1]} AS {name}" for name, q in QUANTILES.items())
        js = con.execute(f"SELECT {positions} FROM _pm_groups").df()  # noqa: S608 - identifiers from spec
    finally:
        con.unregister("_pm_groups")
    for name in QUANTILES:
        # The values at 0-based ranks j and j + 1 (positions j + 1 and j + 2); where the rule withholds the
        # level these may be clipped, and quantile_value_sql gives NULL there whatever they are.
        j = js[name].to_numpy(dtype=np.int64)
        per[f"{name}__lo"], per[f"{name}__hi"] = ranked.at(j), ranked.at(j + 1)
    out = groups.copy()
    con.register("_pm_out", out)
    con.register("_pm_per", per)
    try:
        cols, joins = [], []
        for i, m in enumerate(MARKERS):
            alias = f"m{i}"
            joins.append(f"LEFT JOIN (SELECT * FROM _pm_per WHERE marker = '{m}') {alias} USING ({', '.join(keys)})")  # noqa: S608
            cols += [f"{quantile_value_sql(q, f'{alias}.cnt', f'{alias}.{name}__lo', f'{alias}.{name}__hi', k, DECIMALS[m])}"
                     f" AS {m}_{name}" for name, q in QUANTILES.items()]
        frame = con.execute(f"SELECT _pm_out.*, {', '.join(cols)} FROM _pm_out {' '.join(joins)}").df()  # noqa: S608
    finally:
        con.unregister("_pm_out")
        con.unregister("_pm_per")
    # The tie rule on the same histogram, its values as codes on each marker's recorded grid.
    scale = hist["marker"].map({m: 10.0 ** d for m, d in DECIMALS.items()}).to_numpy(dtype=float)
    h_code = np.rint(hist["value"].to_numpy(dtype=float) * scale).astype(np.int64)
    h_n = hist["n"].to_numpy(dtype=np.int64)
    per["_g"] = np.arange(len(per), dtype=np.int64)
    for m in MARKERS:
        at = frame[keys].merge(per.loc[per["marker"] == m, [*keys, "_g"]], on=keys, how="left")["_g"]
        g = at.fillna(-1).to_numpy(dtype=np.int64)
        for name in QUANTILES:
            col = f"{m}_{name}"
            value = frame[col].to_numpy(dtype=np.float64)
            frame[col] = tie_rule(np.where(g >= 0, value, np.nan), g, grp, h_code, h_n, DECIMALS[m], k)
    return frame


def raw_tables(a: Aggregates) -> dict[str, pd.DataFrame]:
    """``builder.raw_tables`` from what Spark counted: unprotected aggregates, equal to DuckDB's."""
    con = duckdb.connect()
    try:
        return {
            "district_cube": _cube(a, "district_cube", con),
            "facility_month": _cube(a, "facility_month", con),
            "pathogen_markers": _by_pathogen(a, con),
        }
    finally:
        con.close()


def lineage(a: Aggregates) -> list[str]:
    return list(a.lineage)

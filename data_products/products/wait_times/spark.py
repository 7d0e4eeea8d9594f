"""The wait-time product's aggregation on Apache Spark: the builder's pre-disclosure histograms, filled by Spark.

Waits are whole seconds, so everything the product computes from the visits is a function of per-second
histograms (``builder.Histogram``: visits per finest cell, period and second). Spark reads the restricted
zone's Parquet layout once and counts them with one ``GROUPING SETS`` pass, the periods cut at the dates
the build cuts at (cross-validation folds, the backtest's cut-off), exactly as the DuckDB builder's one
pass does. The histograms grow with cells x seconds of wait x periods, not with visits; the driver does
the rest on them:

- the cubes with the builder's own code (``builder.Aggregate`` over these histograms), so they are equal
  to DuckDB's to the bit;
- the choice of K: the pinball loss of each validation week summed per (slot, second) with the visit count
  as weight, where DuckDB sums per visit (the same losses up to float rounding in the last places; they
  are published rounded to 6 decimals);
- the backtest: counts, shares and the median absolute error (the quantile rule's blend over the weighted
  values, ``histogram.Ranked``) per facility x department x size band x day type and their margins.

Like the DuckDB builder's histograms this needs waits on a whole-second grid within 12 hours; where the
DuckDB builder then falls back to quantiles over the rows, this one stops and says to build on DuckDB.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from data_products.disclosure import ALL, quantile_ok_many
from data_products.products.histogram import Ranked
from data_products.products.wait_times import builder

TABLE = "outpatient_visits"
_SECOND = "CAST(round(wait_min * 60) AS BIGINT)"


@dataclass
class Counted:
    """What Spark counted for one build: the span, the lineage and the histograms (``builder.Aggregate``)."""

    span: dict
    lineage: list[str]
    aggregate: builder.Aggregate


def source(src) -> Counted:
    """Count the histograms on Spark (``src``: a ``restricted.spark.SparkSource``)."""
    src.table(TABLE)
    row = src.sql(f"SELECT min(visit_date) AS lo, max(visit_date) AS hi FROM {TABLE}").collect()[0]  # noqa: S608
    if row["lo"] is None:
        raise ValueError(f"{TABLE} is empty: nothing to estimate")
    span = builder.span(row["lo"], row["hi"])
    boundaries = tuple(sorted(set(builder.cuts(span))))
    args = {f"b{i}": b for i, b in enumerate(boundaries)}
    period = " + ".join(["0", *(f"CASE WHEN visit_date >= :b{i} THEN 1 ELSE 0 END" for i in range(len(boundaries)))])
    names = list(builder.TABLE_DIMS)
    all_dims = list(dict.fromkeys(d for name in names for d in builder.TABLE_DIMS[name]))
    sets = ", ".join("(" + ", ".join([*builder.TABLE_DIMS[name], "period", "s"]) + ")" for name in names)
    # Bit i set when all_dims[i] is summed out, as DuckDB's GROUPING(...) numbers the sets.
    gid = " + ".join(f"grouping({d}) * {1 << (len(all_dims) - 1 - i)}" for i, d in enumerate(all_dims))
    hist = src.frame(f"""
    SELECT {gid} AS gid, {", ".join(all_dims)}, period, s, count(*) AS n,
           count_if(wait_min <> CAST(s AS DOUBLE) / 60.0D) AS off_grid
    FROM (SELECT {", ".join(all_dims)}, {period} AS period, {_SECOND} AS s, wait_min FROM {TABLE})
    GROUP BY GROUPING SETS ({sets})
    """, args)  # noqa: S608 - identifiers from the builder's fixed lists; dates are parameters
    if hist.empty or int(hist["off_grid"].sum()) or int(hist["s"].min()) < 0 \
            or int(hist["s"].max()) - int(hist["s"].min()) >= builder._MAX_SPAN_S:
        from data_products.restricted.spark import SparkBuildError  # runs on Spark only: the pages never load it

        raise SparkBuildError(f"{TABLE}: waits are not all whole seconds within 12 hours; the Spark engine counts "
                              "waits per second: build wait_times with --engine duckdb")
    hists = {}
    for name in names:
        dims = builder.TABLE_DIMS[name]
        mask = sum(1 << (len(all_dims) - 1 - i) for i, d in enumerate(all_dims) if d not in dims)
        part = hist[hist["gid"] == mask].copy()
        for d in ("weekday", "hour"):
            if d in dims:  # integers as stored (other sets' NULLs made the column float on the way)
                part[d] = part[d].astype(np.int64)
        cells = part[list(dims)].drop_duplicates().reset_index(drop=True)
        # The cells in the order of their keys as text (the cube's order), numbered in that order.
        text = builder._cells_as_text(cells, dims)
        order = np.lexsort([text[d].to_numpy() for d in reversed(dims)])
        cells = cells.iloc[order].reset_index(drop=True)
        text = text.iloc[order].reset_index(drop=True)
        cells["cell"] = np.arange(len(cells), dtype=np.int32)
        rows = part.merge(cells, on=list(dims), how="left")
        rows = rows.sort_values(["cell", "s"], kind="stable")
        hists[name] = builder.Histogram(tuple(dims), boundaries, text, rows["cell"].to_numpy().astype(np.int32),
                                        rows["period"].to_numpy().astype(np.int8),
                                        rows["s"].to_numpy().astype(np.int64), rows["n"].to_numpy().astype(np.int64))
    aggregate = builder.Aggregate.__new__(builder.Aggregate)
    aggregate.con, aggregate.boundaries, aggregate.hist = None, boundaries, hists
    lineage = [r[0] for r in src.sql(f"SELECT DISTINCT transfer_id FROM {TABLE} ORDER BY 1").collect()]  # noqa: S608
    return Counted(span, lineage, aggregate)


# --- the builder's record-reading functions, on what Spark counted ----------------------------------


def split(c: Counted) -> dict:
    return dict(c.span)


def lineage(c: Counted) -> list[str]:
    return list(c.lineage)


def Aggregate(c: Counted, cuts: tuple[date, ...]) -> builder.Aggregate:  # noqa: N802 - stands in for the class
    """The histograms Spark counted, as ``builder.Aggregate``; they were cut at the same dates."""
    if tuple(sorted(set(cuts))) != c.aggregate.boundaries:
        from data_products.restricted.spark import SparkBuildError

        raise SparkBuildError(f"counted at {c.aggregate.boundaries}, asked for {cuts}")
    return c.aggregate


def _rows(aggregate: builder.Aggregate, lo: int, hi: int | None = None) -> pd.DataFrame:
    """Slot-histogram rows of periods lo <= period < hi: slot keys as text, second, visits."""
    h = aggregate.hist["slot_cube"]
    keep = h.period >= lo
    if hi is not None:
        keep &= h.period < hi
    frame = h.cells.iloc[h.cell[keep]].reset_index(drop=True)
    frame["s"], frame["n"] = h.s[keep], h.n[keep]
    return frame.groupby(list(builder.CUBE_DIMS) + ["s"], sort=False, as_index=False)["n"].sum()


def choose_k(c: Counted, cutoff: date, min_cell: int,
             aggregate: builder.Aggregate) -> tuple[int, pd.DataFrame]:
    """``builder.choose_k``: the same folds and rule, each validation week as a weighted histogram."""
    h = aggregate.hist["slot_cube"]

    def val_of(start: date) -> pd.DataFrame:
        rows = _rows(aggregate, h.period_of(start, before=False), h.period_of(start + timedelta(weeks=1), before=True))
        return rows.assign(y=rows["s"].to_numpy(dtype=np.int64) / 60.0, w=rows["n"].to_numpy(dtype=float))

    return builder.cross_validate(c.span["first_day"], cutoff, min_cell,
                                  lambda start: aggregate.cube("slot_cube", before=start, shared=True), val_of)


def _weighted_quantile(group: np.ndarray, x: np.ndarray, w: np.ndarray, groups: int, q: float,
                       min_cell: int) -> np.ndarray:
    """The released quantile of each group's values ``x`` taken ``w`` times (NaN values left out, as SQL
    leaves out NULLs): the builder's ``_mae_sql``, read off the weighted values as a histogram
    (``histogram.Ranked``), NaN where the quantile rule withholds it (or the group has no value)."""
    keep = ~np.isnan(x) & (w > 0)
    order = np.lexsort((x[keep], group[keep]))
    ranked = Ranked(group[keep][order], x[keep][order], w[keep][order], groups)
    return np.where(quantile_ok_many(q, ranked.n, min_cell), ranked.released(q, 1.0), np.nan)


def backtest(c: Counted, cutoff: date, protect: Callable[[dict[str, pd.DataFrame]], pd.Series],
             k: float, min_cell: int, aggregate: builder.Aggregate) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``builder.backtest``: the same fit on the training weeks (quantile rule included), scored on the
    held-out weeks' histogram."""
    est = builder.backtest_fit(aggregate.tables(before=cutoff, shared=True), protect, k, min_cell)

    test = _rows(aggregate, aggregate.hist["slot_cube"].period_of(cutoff, before=False))
    v = test.merge(est[[*builder.CUBE_DIMS, "p50", "p90", "base_p50", "base_p90", "size_band"]],
                   on=list(builder.CUBE_DIMS), how="inner")
    v["day_type"] = np.where(v["weekday"].astype(int) >= 6, "weekend", "weekday")
    y = v["s"].to_numpy(dtype=np.int64) / 60.0
    w = v["n"].to_numpy(dtype=np.int64)
    parts = []
    dims = builder.BACKTEST_DIMS
    for size in range(len(dims), -1, -1):
        for kept in itertools.combinations(dims, size):
            code = (v.groupby(list(kept), sort=False).ngroup().to_numpy() if kept
                    else np.zeros(len(v), dtype=np.int64))
            groups = int(code.max()) + 1 if len(code) else 0
            if not groups:
                continue
            first = np.full(groups, -1)
            first[code[::-1]] = np.arange(len(code))[::-1]
            out = v.iloc[first][list(kept)].reset_index(drop=True)
            for d in dims:
                if d not in kept:
                    out[d] = ALL
            n = np.bincount(code, weights=w, minlength=groups)
            out["n_test"] = n.astype(np.int64)

            def share(hit: np.ndarray, bound: np.ndarray | None = None, code=code, groups=groups) -> np.ndarray:
                """avg(CASE WHEN bound IS NULL THEN NULL WHEN hit THEN 1.0 ELSE 0.0 END), the builder's SQL:
                visits with a NULL bound left out; without ``bound``, every visit counts (a NULL compares false)."""
                valid = np.ones(len(hit), dtype=bool) if bound is None else ~np.isnan(bound)
                den = np.bincount(code, weights=w * valid, minlength=groups)
                num = np.bincount(code, weights=w * (hit & valid), minlength=groups)
                with np.errstate(invalid="ignore", divide="ignore"):
                    return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)

            out["mae_p50"] = _weighted_quantile(code, np.abs(y - v["p50"].to_numpy(dtype=float)), w, groups, 0.5,
                                                min_cell)
            p50, p90 = v["p50"].to_numpy(dtype=float), v["p90"].to_numpy(dtype=float)
            out["within_p90"] = share(y <= p90, p90)
            out["below_p50"] = share(y < p50)
            out["mae_baseline"] = _weighted_quantile(code, np.abs(y - v["base_p50"].to_numpy(dtype=float)), w,
                                                     groups, 0.5, min_cell)
            b50, b90 = v["base_p50"].to_numpy(dtype=float), v["base_p90"].to_numpy(dtype=float)
            out["within_baseline"] = share(y <= b90, b90)
            out["below_baseline"] = share(y < b50)
            parts.append(out)
    frame = pd.concat(parts, ignore_index=True)
    for d in dims:
        frame[d] = frame[d].astype(str)
    return frame.sort_values(list(dims)).reset_index(drop=True), est


def raw_tables(c: Counted) -> dict[str, pd.DataFrame]:
    """``builder.raw_tables``: every table's unprotected cube, from what Spark counted."""
    return c.aggregate.tables()

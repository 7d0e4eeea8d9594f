"""Jaundice report builder: restricted ``bilirubin_pairs`` -> unprotected counts and statistics.

Counts (subgroup sizes, diagnostic 2x2x2 tables, binned plot grids) are SQL ``GROUP BY CUBE`` over
the restricted table, so every margin comes in the same pass. The method-comparison statistics need
the pairs (Passing-Bablok above all), so they are computed here, inside the space, with
``stats.compare``; only coefficients and intervals leave. Nothing from this module is released
before ``release`` has run disclosure control over it.
"""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pandas as pd

from data_products.disclosure import ALL
from data_products.products.jaundice import stats
from data_products.products.jaundice.spec import (
    AAP_MARGIN,
    BA_DIFF_EDGES,
    BA_MEAN_EDGES,
    CONFIDENCE,
    DECISION_LEVELS,
    ERROR_RATIO,
    GA_GROUP_SQL,
    MIN_PAIRS_FOR_STATS,
    SCATTER_EDGES,
    SOURCE,
    STAT_COLUMNS,
    SUBGROUPS,
    THRESHOLDS,
    UMOL_PER_MG_DL,
    bin_labels,
    cutoff,
)


def _base_sql() -> str:
    dims = ",\n  ".join(f"{expr} AS {name}" for name, (expr, _) in SUBGROUPS.items())
    return f"""
SELECT tsb_umol_l AS tsb, tcb_umol_l AS tcb,
  {dims},
  {GA_GROUP_SQL} AS ga_group
FROM {SOURCE}
"""  # noqa: S608 - expressions and names are fixed text in spec


def _bin_sql(expr: str, edges: np.ndarray) -> str:
    """Bin index of ``expr`` (values beyond the edges clipped into the end bins) as a zero-padded label key."""
    lo, width, k = float(edges[0]), float(edges[1] - edges[0]), len(edges) - 1
    return f"LEAST(GREATEST(CAST(FLOOR(({expr} - {lo!r}) / {width!r}) AS INTEGER), 0), {k - 1})"


def _cube(con: duckdb.DuckDBPyConnection, select: dict[str, str], where: str = "") -> pd.DataFrame:
    """COUNT(*) by CUBE over named expressions; margins as ALL. Names and expressions are fixed text."""
    names = list(select)
    inner = ", ".join(f"{expr} AS {name}" for name, expr in select.items())
    outer = ", ".join(f"COALESCE(CAST({n} AS VARCHAR), '{ALL}') AS {n}" for n in names)
    sql = f"""
    WITH base AS ({_base_sql()}), b AS (SELECT {inner} FROM base {where})
    SELECT {outer}, COUNT(*)::BIGINT AS pairs FROM b GROUP BY CUBE ({", ".join(names)})
    """  # noqa: S608 - fixed identifiers and numeric constants from spec
    frame = con.execute(sql).df()
    for n in names:
        frame[n] = frame[n].astype(str)
    return frame


def _complete(frame: pd.DataFrame, levels: dict[str, list[str]]) -> pd.DataFrame:
    """Every combination of levels (and ALL) present, zeros where no pair fell: empty cells are released
    as 0, and a fixed shape does not reveal which cells were empty by their absence."""
    names = list(levels)
    full = pd.MultiIndex.from_product([[*lv, ALL] for lv in levels.values()], names=names)
    out = frame.set_index(names)["pairs"].reindex(full, fill_value=0).reset_index()
    out["pairs"] = out["pairs"].astype("int64")
    return out


def pairs(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The pairs with their subgroup labels (in memory, inside the builder only)."""
    return con.execute(f"WITH base AS ({_base_sql()}) SELECT * FROM base").df()  # noqa: S608


def subgroup_counts(con: duckdb.DuckDBPyConnection, device_levels: list[str]) -> dict[str, pd.DataFrame]:
    out = {}
    for name, (_, levels) in SUBGROUPS.items():
        lv = list(levels) if levels else device_levels
        out[name] = _complete(_cube(con, {name: name}), {name: lv})
    out["ga_site"] = _complete(_cube(con, {"ga_group": "ga_group", "site": "site"}),
                               {"ga_group": ["preterm", "term"], "site": ["forehead", "sternum"]})
    return out


def diagnostic_counts(con: duckdb.DuckDBPyConnection) -> dict[str, pd.DataFrame]:
    """Per threshold: TSB >= threshold x TcB >= threshold x TcB >= threshold - 3 mg/dL, with margins."""
    out = {}
    yn = lambda cond: f"CASE WHEN {cond} THEN 'yes' ELSE 'no' END"  # noqa: E731
    for th in THRESHOLDS:
        select = {
            "tsb_ge_threshold": yn(f"tsb >= {th.tsb!r}"),
            "tcb_ge_threshold": yn(f"tcb >= {cutoff(th, 'same')!r}"),
            "tcb_ge_aap": yn(f"tcb >= {cutoff(th, 'aap')!r}"),
        }
        out[th.id] = _complete(_cube(con, select), {k: ["no", "yes"] for k in select})
    return out


def grids(con: duckdb.DuckDBPyConnection) -> dict[str, pd.DataFrame]:
    """Binned Bland-Altman (pair mean x difference) and scatter (TSB x TcB) count grids with margins."""
    ba = _cube(con, {"mean_bin": _bin_sql("(tcb + tsb) / 2.0", BA_MEAN_EDGES),
                     "diff_bin": _bin_sql("(tcb - tsb)", BA_DIFF_EDGES)})
    sc = _cube(con, {"tsb_bin": _bin_sql("tsb", SCATTER_EDGES), "tcb_bin": _bin_sql("tcb", SCATTER_EDGES)})
    out = {}
    for key, frame, axes in (("ba_grid", ba, {"mean_bin": BA_MEAN_EDGES, "diff_bin": BA_DIFF_EDGES}),
                             ("scatter_grid", sc, {"tsb_bin": SCATTER_EDGES, "tcb_bin": SCATTER_EDGES})):
        labels = {}
        for col, edges in axes.items():
            names = bin_labels(edges)
            mapping = {str(i): lab for i, lab in enumerate(names)}
            frame[col] = frame[col].map(lambda v, m=mapping: m.get(v, v))
            labels[col] = names
        out[key] = _complete(frame, labels)
    return out


def _row(res: stats.MethodComparison) -> dict:
    ba, p, o, d, pb = res.bland_altman, res.pearson, res.ols, res.deming, res.passing_bablok
    return {
        "bias": ba.bias, "bias_ci_low": ba.bias_ci_low, "bias_ci_high": ba.bias_ci_high, "sd": ba.sd,
        "loa_lower": ba.lower, "loa_lower_ci_low": ba.lower_ci_low, "loa_lower_ci_high": ba.lower_ci_high,
        "loa_upper": ba.upper, "loa_upper_ci_low": ba.upper_ci_low, "loa_upper_ci_high": ba.upper_ci_high,
        "pearson_r": p.r, "pearson_ci_low": p.ci_low, "pearson_ci_high": p.ci_high,
        "ols_slope": o.slope, "ols_intercept": o.intercept,
        "deming_slope": d.slope, "deming_slope_ci_low": d.slope_ci_low, "deming_slope_ci_high": d.slope_ci_high,
        "deming_intercept": d.intercept, "deming_intercept_ci_low": d.intercept_ci_low,
        "deming_intercept_ci_high": d.intercept_ci_high,
        "pb_slope": pb.slope, "pb_slope_ci_low": pb.slope_ci_low, "pb_slope_ci_high": pb.slope_ci_high,
        "pb_intercept": pb.intercept, "pb_intercept_ci_low": pb.intercept_ci_low,
        "pb_intercept_ci_high": pb.intercept_ci_high,
    }


def _overall_extras(res: stats.MethodComparison) -> dict:
    """The choices the report makes over all pairs: the primary line, the form of the limits and the
    heteroscedasticity test behind it (Bland & Altman 1999 regression of |residual| on the pair mean)."""
    out = {"primary_regression": res.primary_regression, "regression_reason": res.regression_reason,
           "loa_method": res.loa_method}
    rl = res.regression_limits
    if rl is not None:
        out.update({f"rl_{k}": getattr(rl, k) for k in (
            "bias_intercept", "bias_slope", "abs_intercept", "abs_slope", "abs_slope_ci_low", "abs_slope_ci_high",
            "abs_slope_p", "factor")})
    return out


def limits_table(res: stats.MethodComparison) -> pd.DataFrame:
    """Limits of agreement at each decision level (read as a pair mean), regression-based and constant;
    ``chosen`` marks the form the heteroscedasticity test selected (the verdict uses those)."""
    rows = []
    for level in DECISION_LEVELS:
        forms = [("constant", stats.constant_limits_at(res.bland_altman, level))]
        if res.regression_limits is not None:
            forms.insert(0, ("regression", res.regression_limits.at(level)))
        for method, lim in forms:
            rows.append({"level": level, "mg_dl": level / UMOL_PER_MG_DL, "method": method,
                         "chosen": method == res.loa_method, **{k: v for k, v in lim.to_dict().items() if k != "level"}})
    return pd.DataFrame(rows)


def compare_pairs(tsb: np.ndarray, tcb: np.ndarray, *, with_extras: bool = False) -> stats.MethodComparison:
    """``stats.compare`` as the report runs it, on every pair (Passing-Bablok is exact for any n).

    The report's settings are fixed here so ``dataspace method-compare`` with the same error ratio,
    levels and thresholds reproduces the same figures.
    """
    x, y = np.asarray(tsb, float), np.asarray(tcb, float)
    levels = DECISION_LEVELS if with_extras else ()
    thresholds = [(th.tsb, cutoff(th, r)) for th in THRESHOLDS for r in ("same", "aap")] if with_extras else []
    return stats.compare(x, y, error_ratio=ERROR_RATIO, confidence=CONFIDENCE, decision_levels=levels,
                         thresholds=thresholds, reference_name="TSB", test_name="TcB")


def statistics(frame: pd.DataFrame, device_levels: list[str]) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(overall + subgroup statistics, decision-level biases, notes). A subgroup below
    ``MIN_PAIRS_FOR_STATS`` or where a statistic is undefined gets NaN and a reason."""
    rows = []
    notes: dict = {}

    def one(dimension: str, level: str, sel: np.ndarray, extras: bool = False):
        x, y = frame["tsb"].to_numpy(float)[sel], frame["tcb"].to_numpy(float)[sel]
        row = {"dimension": dimension, "level": level, "n_pairs": int(x.size), "stats_reason": ""}
        res = None
        if x.size < MIN_PAIRS_FOR_STATS:
            row["stats_reason"] = "too_few"
        else:
            try:
                res = compare_pairs(x, y, with_extras=extras)
                row.update(_row(res))
                row["mean_tsb"], row["mean_tcb"] = float(x.mean()), float(y.mean())
            except ValueError as exc:
                row["stats_reason"] = "not_computable"
                notes.setdefault("not_computable", []).append(f"{dimension}={level}: {exc}")
        rows.append(row)
        return res

    everything = np.ones(len(frame), dtype=bool)
    overall = one("overall", ALL, everything, extras=True)
    if overall is not None:
        rows[0].update(_overall_extras(overall))
        notes["limits"] = limits_table(overall)
    for name, (_, levels) in SUBGROUPS.items():
        for lv in (levels or device_levels):
            one(name, lv, (frame[name] == lv).to_numpy())
    for g in ("preterm", "term"):
        for s in ("forehead", "sternum"):
            one("ga_site", f"{g}/{s}", ((frame["ga_group"] == g) & (frame["site"] == s)).to_numpy())
    out = pd.DataFrame(rows)
    for c in STAT_COLUMNS:
        if c not in out:
            out[c] = math.nan
    dl = pd.DataFrame([d.to_dict() for d in overall.decision_levels]) if overall is not None else pd.DataFrame(
        columns=["level", "predicted", "bias", "ci_low", "ci_high"])
    notes["aap_margin"] = AAP_MARGIN
    return out, dl, notes


def lineage(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute(f"SELECT DISTINCT transfer_id FROM {SOURCE} ORDER BY 1").fetchall()]  # noqa: S608


def device_levels(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute(f"SELECT DISTINCT device_model FROM {SOURCE} ORDER BY 1").fetchall()]  # noqa: S608


def period(con: duckdb.DuckDBPyConnection) -> list[str]:
    row = con.execute(f"SELECT MIN(measure_month), MAX(measure_month) FROM {SOURCE}").fetchall()[0]  # noqa: S608
    return [row[0], row[1]] if row[0] else []

"""Jaundice report release: counts protected by disclosure control, statistics only where they may be.

Released tables:

* ``subgroups`` -- long form: one row per (dimension, level) incl. the ALL margin of each dimension,
  the protected pair count and the method-comparison statistics (NaN with ``stats_reason`` where the
  count is suppressed, below ``MIN_PAIRS_FOR_STATS`` or not computable). Dimension ``ga_site`` is the
  2-D gestational group x site table, its level written ``<ga_group>/<site>``.
* ``overall`` -- the statistics over all pairs, with the primary regression line and the form of the
  limits of agreement (and the heteroscedasticity test behind it); ``decision_levels`` -- Deming bias at
  205/256/291; ``limits`` -- regression-based and constant limits of agreement at those levels.
* ``diagnostic`` -- per threshold the 2x2x2 counts (TSB >= T, TcB >= T, TcB >= T - 3 mg/dL) with margins.
* ``accuracy`` -- sensitivity, specificity, PPV, NPV per threshold and rule, from released counts only.
* ``ba_grid``, ``scatter_grid`` -- binned plots as protected count grids; never a single point.

One declaration of the count tables and their relations serves protection and the approval check.
"""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pandas as pd

from data_products import disclosure
from data_products.disclosure import ALL, Link, Table
from data_products.products.base import Candidate
from data_products.products.jaundice import builder, stats
from data_products.products.jaundice.spec import (  # noqa: F401 - PRODUCT_ID names the release
    AAP_MARGIN,
    AGREEMENT_LIMIT,
    CONFIDENCE,
    DECISION_LEVELS,
    ERROR_RATIO,
    GA_BAND_GROUP,
    MIN_PAIRS_FOR_STATS,
    PRODUCT_ID,
    RULES,
    SCREENING_MIN_SENSITIVITY,
    STAT_COLUMNS,
    SUBGROUPS,
    THRESHOLDS,
    cutoff,
)

DIAG_DIMS = ("tsb_ge_threshold", "tcb_ge_threshold", "tcb_ge_aap")
GRID_DIMS = {"ba_grid": ("mean_bin", "diff_bin"), "scatter_grid": ("tsb_bin", "tcb_bin")}
# Cross-table relations: a gestational group's pairs are its bands' pairs; a site's pairs are the
# sum over gestational groups. The grand total (all pairs) is in every table; check() requires it
# released and equal everywhere, so it links nothing that is hidden.
LINKS = (
    Link(total="ga_site", component="sub_ga_band", on={"ga_group": "ga_group"}, over=("ga_band",)),
    Link(total="sub_site", component="ga_site", on={"site": "site"}, over=("ga_group",)),
)
ACCURACY_MEASURES = ("sensitivity", "specificity", "ppv", "npv")
LIMIT_COLUMNS = ("level", "mg_dl", "method", "chosen", "bias", "lower", "upper", "lower_ci_low", "lower_ci_high",
                 "upper_ci_low", "upper_ci_high")


# --- declarations shared by build and check ---------------------------------------------------


def _subgroup_tables(sub: pd.DataFrame) -> list[Table]:
    out = []
    for name in SUBGROUPS:
        rows = sub[sub["dimension"] == name]
        frame = pd.DataFrame({name: rows["level"].astype(str).to_numpy(), "pairs": rows["pairs"].to_numpy()})
        if "pairs_flag" in rows:
            frame["pairs_flag"] = rows["pairs_flag"].to_numpy()
        if name == "ga_band":
            frame["ga_group"] = frame["ga_band"].map(lambda b: GA_BAND_GROUP.get(b, ALL))
        out.append(Table(f"sub_{name}", frame, (name,), ("pairs",)))
    rows = sub[sub["dimension"] == "ga_site"]
    parts = rows["level"].astype(str).str.split("/", n=1, expand=True)
    frame = pd.DataFrame({"ga_group": parts[0].to_numpy(), "site": parts[1].to_numpy(), "pairs": rows["pairs"].to_numpy()})
    if "pairs_flag" in rows:
        frame["pairs_flag"] = rows["pairs_flag"].to_numpy()
    out.append(Table("ga_site", frame, ("ga_group", "site"), ("pairs",)))
    return out


def _declared(tables: dict[str, pd.DataFrame]) -> list[Table]:
    out = _subgroup_tables(tables["subgroups"])
    diag = tables["diagnostic"]
    for th in THRESHOLDS:
        rows = diag[diag["threshold"] == th.id].drop(columns=["threshold"]).reset_index(drop=True)
        out.append(Table(f"diag_{th.id}", rows, DIAG_DIMS, ("pairs",)))
    for name, dims in GRID_DIMS.items():
        out.append(Table(name, tables[name], dims, ("pairs",)))
    return out


# The count tables this release protects, by name: what `approve` compares with earlier releases.
count_tables = _declared


# --- build ----------------------------------------------------------------------------------------


def _long_subgroups(counts: dict[str, pd.DataFrame]) -> pd.DataFrame:
    parts = []
    for name in SUBGROUPS:
        f = counts[name]
        parts.append(pd.DataFrame({"dimension": name, "level": f[name].astype(str), "pairs": f["pairs"]}))
    g = counts["ga_site"]
    parts.append(pd.DataFrame({"dimension": "ga_site", "level": g["ga_group"] + "/" + g["site"], "pairs": g["pairs"]}))
    return pd.concat(parts, ignore_index=True)


def _mask_stats(sub: pd.DataFrame, computed: pd.DataFrame) -> pd.DataFrame:
    """Attach statistics to released subgroup counts; a hidden count hides its statistics too
    (interval widths would give the count back)."""
    key = ["dimension", "level"]
    stats_cols = ["stats_reason", *STAT_COLUMNS]
    out = sub.merge(computed[key + stats_cols], on=key, how="left")
    margin = out["level"].str.contains(ALL, regex=False)
    out.loc[margin, "stats_reason"] = "margin"
    hidden = out["pairs"].isna()
    out.loc[hidden, "stats_reason"] = out.loc[hidden, "pairs_flag"]
    blank = out["stats_reason"].fillna("") != ""
    out.loc[blank, list(STAT_COLUMNS)] = math.nan
    out["stats_reason"] = out["stats_reason"].fillna("").astype(str)
    return out


def _accuracy(diag: pd.DataFrame) -> pd.DataFrame:
    """Sensitivity etc. per threshold and rule from the released 2x2 margins (other rule = ALL)."""
    rows = []
    for th in THRESHOLDS:
        d = diag[diag["threshold"] == th.id]
        for rule in RULES:
            other = next(r.column for r in RULES if r.column != rule.column)
            cells = d[(d[other] == ALL) & (d["tsb_ge_threshold"] != ALL) & (d[rule.column] != ALL)]
            get = {(a, b): v for a, b, v in zip(cells["tsb_ge_threshold"], cells[rule.column], cells["pairs"], strict=True)}
            tp, fp, fn, tn = get[("yes", "yes")], get[("no", "yes")], get[("yes", "no")], get[("no", "no")]
            row = {"threshold": th.id, "tsb_threshold": th.tsb, "mg_dl": th.mg_dl, "rule": rule.id,
                   "tcb_cutoff": cutoff(th, rule.id), "tp": tp, "fp": fp, "fn": fn, "tn": tn}
            for m, (k, n) in {"sensitivity": (tp, (tp, fn)), "specificity": (tn, (tn, fp)),
                              "ppv": (tp, (tp, fp)), "npv": (tn, (tn, fn))}.items():
                if any(pd.isna(v) for v in (k, *n)) or sum(int(v) for v in n) == 0:
                    row.update({m: math.nan, f"{m}_ci_low": math.nan, f"{m}_ci_high": math.nan})
                    continue
                total = int(n[0]) + int(n[1])
                lo, hi = stats.wilson_ci(int(k), total, CONFIDENCE)
                row.update({m: int(k) / total, f"{m}_ci_low": lo, f"{m}_ci_high": hi})
            row["released"] = not any(pd.isna(v) for v in (tp, fp, fn, tn))
            rows.append(row)
    out = pd.DataFrame(rows)
    for c in ("tp", "fp", "fn", "tn"):
        out[c] = pd.array(out[c], dtype="Int64")
    return out


def build(con: duckdb.DuckDBPyConnection):
    devices = builder.device_levels(con)
    counts = builder.subgroup_counts(con, devices)
    diag = builder.diagnostic_counts(con)
    grids = builder.grids(con)
    raw = {
        "subgroups": _long_subgroups(counts),
        "diagnostic": pd.concat([f.assign(threshold=k) for k, f in diag.items()], ignore_index=True),
        **grids,
    }
    declared = _declared(raw)
    protected = disclosure.protect_tables(declared, LINKS)

    # _declared keeps the long table's row order (dimension by dimension), so the protected
    # columns line up with it row for row.
    sub = raw["subgroups"].copy()
    sub_tables = [t.name for t in declared[: len(SUBGROUPS) + 1]]
    sub["pairs"] = pd.array(pd.concat([protected[n]["pairs"] for n in sub_tables], ignore_index=True), dtype="Int64")
    sub["pairs_flag"] = pd.concat([protected[n]["pairs_flag"] for n in sub_tables], ignore_index=True).astype(str)
    diag_out = pd.concat([protected[f"diag_{th.id}"].assign(threshold=th.id) for th in THRESHOLDS], ignore_index=True)
    diag_out = diag_out[["threshold", *DIAG_DIMS, "pairs", "pairs_flag"]]

    frame = builder.pairs(con)
    computed, decision_levels, notes = builder.statistics(frame, devices)
    subgroups = _mask_stats(sub, computed)
    overall = computed[computed["dimension"] == "overall"].drop(columns=["dimension", "level"]).reset_index(drop=True)
    overall = overall.rename(columns={"n_pairs": "pairs"})

    meta = {
        "source": "bilirubin_pairs (restricted zone): TcB device readings paired with serum bilirubin (TSB) "
                  "taken within 2 hours, from the producing hospital",
        "producer_facility": "F0602",
        "lineage": builder.lineage(con),
        "time_span": builder.period(con),
        "unit": "µmol/L",
        "difference": "TcB - TSB",
        "devices": devices,
        "error_ratio": ERROR_RATIO,
        "confidence": CONFIDENCE,
        "decision_levels": list(DECISION_LEVELS),
        "aap_margin": AAP_MARGIN,
        "agreement_limit": AGREEMENT_LIMIT,
        "hetero_alpha": stats.HETERO_ALPHA,
        "pb_lambda_factor": stats.PB_LAMBDA_FACTOR,
        "screening_min_sensitivity": SCREENING_MIN_SENSITIVITY,
        "min_pairs_for_stats": MIN_PAIRS_FOR_STATS,
        "suppression_rule": (
            "No count from 1 to min_cell-1 is shown (primary); further cells are hidden so that no hidden "
            "count can be recovered from margins (secondary). Statistics of a subgroup are shown only when its "
            f"count is shown and it has at least {MIN_PAIRS_FOR_STATS} pairs; sensitivity and specificity "
            "only when their 2x2 counts are shown. Plots are count grids, never single measurements."
        ),
    }
    tables = {
        "subgroups": subgroups,
        "overall": overall,
        "decision_levels": decision_levels,
        "limits": notes.get("limits", pd.DataFrame(columns=LIMIT_COLUMNS)),
        "diagnostic": diag_out,
        "accuracy": _accuracy(diag_out),
        "ba_grid": protected["ba_grid"],
        "scatter_grid": protected["scatter_grid"],
    }
    return Candidate(PRODUCT_ID, tables, meta)


# --- check ----------------------------------------------------------------------------------------


def check(tables: dict[str, pd.DataFrame], meta: dict) -> list[str]:
    k = meta.get("min_cell") or 10
    problems = disclosure.check_tables(_declared(tables), LINKS, min_cell=meta.get("min_cell"))

    totals = []
    for t in _declared(tables):
        f = t.frame
        grand = f[np.logical_and.reduce([f[d].astype(str) == ALL for d in t.dims])]["pairs"]
        if len(grand) != 1 or pd.isna(grand.iloc[0]):
            problems.append(f"[{t.name}] grand total is missing or suppressed")
        else:
            totals.append(int(grand.iloc[0]))
    overall = tables["overall"]
    if len(set(totals)) > 1 or (totals and len(overall) == 1 and int(overall["pairs"].iloc[0]) != totals[0]):
        problems.append(f"grand totals differ between tables: {sorted(set(totals))}")

    sub = tables["subgroups"]
    has_stats = sub[list(STAT_COLUMNS)].notna().any(axis=1)
    for i in sub.index[has_stats & sub["pairs"].isna()]:
        problems.append(f"[subgroups row {i}] statistics released for a suppressed count")
    small = has_stats & sub["pairs"].notna() & (sub["pairs"].fillna(0) < max(MIN_PAIRS_FOR_STATS, k))
    for i in sub.index[small]:
        problems.append(f"[subgroups row {i}] statistics released for fewer than {MIN_PAIRS_FOR_STATS} pairs")
    for i in sub.index[~has_stats & (sub["stats_reason"].astype(str) == "")]:
        problems.append(f"[subgroups row {i}] statistics missing without a reason")

    limits = tables.get("limits")
    if limits is not None and len(overall) == 1 and "loa_method" in overall:
        chosen = set(limits.loc[limits["chosen"].astype(bool), "method"])
        if len(limits) and chosen != {overall["loa_method"].iloc[0]}:
            problems.append(f"[limits] chosen form {sorted(chosen)} differs from overall loa_method")

    acc = tables["accuracy"]
    expected = _accuracy(tables["diagnostic"])
    for c in ("tp", "fp", "fn", "tn"):
        a, e = acc[c].astype("Float64"), expected[c].astype("Float64")
        if not (a.isna().equals(e.isna()) and (a.fillna(-1) == e.fillna(-1)).all()):
            problems.append(f"[accuracy] column {c} differs from the released diagnostic counts")
    for m in ACCURACY_MEASURES:
        leaked = acc[m].notna() & expected[m].isna()
        problems += [f"[accuracy row {i}] {m} released without its counts" for i in acc.index[leaked]]
    return problems

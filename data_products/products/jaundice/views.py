"""Jaundice report views: approved release -> frames, verdict and downloads. Every function asks the gate.

Nothing here reads the restricted zone. Where a figure rests on a suppressed count the frames carry
NaN and a reason; the page and the PDF show the reason, never a number.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import pandas as pd

from data_products import approved
from data_products.disclosure import ALL
from data_products.governance.gate import Grant, deliver, use
from data_products.i18n import t
from data_products.products.jaundice.spec import (
    AGREEMENT_LIMIT,
    PRODUCT_ID,
    SCREENING_MIN_SENSITIVITY,
    STAT_COLUMNS,
    SUBGROUPS,
    bin_mid,
)
from data_products.reference import facilities


def _release(grant: Grant, action: str = "view"):
    """The release and decision a grant covers; a download needs a download grant."""
    g = use(grant, PRODUCT_ID, ("download",) if action == "download" else ("view", "download"))
    return g.release, g.decision


def _source(rel: approved.Release, decision, lang: str) -> str:
    """The producing hospital by name only where the row scope names facilities (commission, itself)."""
    fid = rel.meta.get("producer_facility")
    scope = decision.row_scope
    if fid and (scope.facility_names == "all" or scope.own_facility == fid):
        row = facilities().set_index("facility_id").loc[fid]
        return str(row["name_en"] if lang == "en" else row["name_zh"])
    return t("jaundice.source_anon", lang)


def release_info(grant: Grant, lang: str = "zh") -> dict:
    rel, decision = _release(grant)
    return {"release_id": rel.release_id, "meta": rel.meta, "approval": rel.approval,
            "source": _source(rel, decision, lang), "scope": decision.row_scope}


@dataclass(frozen=True)
class Verdict:
    """The two acceptance criteria, each decided on a confidence bound, never on a point estimate.

    ``agreement`` / ``screening``: "met" (the bound meets the criterion), "not_met" (even the
    favourable bound fails it), "not_shown" (the point estimate may pass but the bound does not:
    not demonstrated) or, for screening, "unknown" (a count is suppressed). The deciding figure is
    kept with its bound: agreement at the worst decision level, screening at the worst threshold.
    """

    n: int
    bias: float
    bias_ci_low: float
    bias_ci_high: float
    sd: float
    loa_lower: float
    loa_upper: float
    agreement_limit: float
    agreement_met: bool
    screening_min_sensitivity: float
    screening_sensitivities: dict[str, float]
    screening_met: bool | None  # None: a sensitivity is suppressed, so it cannot be assessed
    loa_method: str = "constant"
    agreement: str = "not_shown"
    agreement_level: float = math.nan
    agreement_side: str = "upper"
    agreement_value: float = math.nan
    agreement_bound: float = math.nan
    limits_at: tuple[tuple[float, float, float], ...] = ()  # (level, lower, upper) of the chosen form
    screening: str = "unknown"
    screening_mg_dl: float = math.nan
    screening_k: int = 0
    screening_total: int = 0
    screening_value: float = math.nan
    screening_bound: float = math.nan

    def lines(self, lang: str) -> list[str]:
        out = [t("jaundice.bias_line", lang, bias=self.bias, lo=self.bias_ci_low, hi=self.bias_ci_high, sd=self.sd,
                 lower=self.loa_lower, upper=self.loa_upper, n=self.n)]
        if self.loa_method == "regression" and self.limits_at:
            parts = "; ".join(f"{lv:g} µmol/L: {lo:+.1f} / {hi:+.1f}" for lv, lo, hi in self.limits_at)
            out.append(t("jaundice.loa_regression_line", lang, parts=parts))
        side = t(f"jaundice.side_{self.agreement_side}", lang)
        out.append(t(f"jaundice.agree_{self.agreement}", lang, level=self.agreement_level, side=side,
                     value=self.agreement_value, bound=self.agreement_bound, limit=self.agreement_limit))
        out.append(t(f"jaundice.screen_{self.screening}", lang, mg=self.screening_mg_dl, k=self.screening_k,
                     n=self.screening_total, value=100 * self.screening_value, bound=100 * self.screening_bound,
                     sens=100 * self.screening_min_sensitivity))
        return out


def _agreement(limits: pd.DataFrame, limit: float) -> dict:
    """Met only if, at every decision level, the lower limit's lower bound is >= -L and the upper
    limit's upper bound <= L; not met if some limit lies beyond +/-L with its whole interval."""
    chosen = limits[limits["chosen"].astype(bool)].sort_values("level")
    # (how far the unfavourable bound is past the criterion, level, side, limit, unfavourable bound,
    #  favourable bound, whole interval beyond the criterion)
    checks = []
    for r in chosen.itertuples():
        checks.append((r.upper_ci_high - limit, r.level, "upper", r.upper, r.upper_ci_high, r.upper_ci_low,
                       r.upper_ci_low > limit))
        checks.append((-limit - r.lower_ci_low, r.level, "lower", r.lower, r.lower_ci_low, r.lower_ci_high,
                       r.lower_ci_high < -limit))
    if not checks:
        return {"agreement": "not_shown"}
    failed = [c for c in checks if c[6]]
    if failed:  # shown with its favourable bound, which is still beyond the criterion
        worst = max(failed, key=lambda c: c[0])
        state, bound = "not_met", worst[5]
    else:
        worst = max(checks, key=lambda c: c[0])
        state, bound = ("met" if worst[0] <= 0 else "not_shown"), worst[4]
    return {"agreement": state, "agreement_level": float(worst[1]), "agreement_side": worst[2],
            "agreement_value": float(worst[3]), "agreement_bound": float(bound),
            "limits_at": tuple((float(r.level), float(r.lower), float(r.upper)) for r in chosen.itertuples())}


def _screening(aap: pd.DataFrame, minimum: float) -> dict:
    """Met only if the Wilson lower bound of every threshold's sensitivity is >= the minimum; not met if
    some Wilson upper bound is below it; unknown if a sensitivity is suppressed."""
    if aap.empty or aap["sensitivity"].isna().any():
        return {"screening": "unknown"}
    rows = list(aap.itertuples())
    below = [r for r in rows if r.sensitivity_ci_high < minimum]
    if below:
        r = min(below, key=lambda r: r.sensitivity_ci_high)
        state, bound = "not_met", r.sensitivity_ci_high
    else:
        r = min(rows, key=lambda r: r.sensitivity_ci_low)
        state, bound = ("met" if r.sensitivity_ci_low >= minimum else "not_shown"), r.sensitivity_ci_low
    return {"screening": state, "screening_mg_dl": float(r.mg_dl), "screening_k": int(r.tp),
            "screening_total": int(r.tp) + int(r.fn), "screening_value": float(r.sensitivity),
            "screening_bound": float(bound)}


def _verdict(rel: approved.Release) -> Verdict:
    o = rel.table("overall").iloc[0]
    acc = rel.table("accuracy")
    aap = acc[acc["rule"] == "aap"]
    sens = {str(k): float(v) for k, v in zip(aap["threshold"], aap["sensitivity"], strict=True)}
    if "limits" in rel.tables:
        limits = rel.table("limits")
    else:  # a release made before the limits table: its constant limits at no particular level
        limits = pd.DataFrame([{"level": math.nan, "chosen": True, "lower": o["loa_lower"], "upper": o["loa_upper"],
                                "lower_ci_low": o["loa_lower_ci_low"], "lower_ci_high": o["loa_lower_ci_high"],
                                "upper_ci_low": o["loa_upper_ci_low"], "upper_ci_high": o["loa_upper_ci_high"]}])
    agreement = _agreement(limits, AGREEMENT_LIMIT)
    screening = _screening(aap, SCREENING_MIN_SENSITIVITY)
    return Verdict(
        n=int(o["pairs"]), bias=float(o["bias"]), bias_ci_low=float(o["bias_ci_low"]),
        bias_ci_high=float(o["bias_ci_high"]), sd=float(o["sd"]), loa_lower=float(o["loa_lower"]),
        loa_upper=float(o["loa_upper"]), agreement_limit=AGREEMENT_LIMIT,
        agreement_met=agreement["agreement"] == "met",
        screening_min_sensitivity=SCREENING_MIN_SENSITIVITY, screening_sensitivities=sens,
        screening_met=None if screening["screening"] == "unknown" else screening["screening"] == "met",
        loa_method=str(o.get("loa_method", "constant")), **agreement, **screening,
    )


def verdict(grant: Grant) -> Verdict:
    rel, _ = _release(grant)
    return _verdict(rel)


def overall(grant: Grant) -> pd.Series:
    rel, _ = _release(grant)
    return rel.table("overall").iloc[0]


def regression(grant: Grant) -> pd.DataFrame:
    """OLS, Deming and Passing-Bablok lines over all pairs (coefficients only)."""
    rel, _ = _release(grant)
    return _regression(rel.table("overall").iloc[0])


def limits(grant: Grant) -> pd.DataFrame:
    """Limits of agreement at the decision levels, regression-based and constant; ``chosen`` marks the form used."""
    rel, _ = _release(grant)
    return _limits(rel)


def _limits(rel: approved.Release) -> pd.DataFrame:
    return rel.table("limits") if "limits" in rel.tables else pd.DataFrame()


def _regression(o: pd.Series) -> pd.DataFrame:
    nan = math.nan
    rows = [
        ("ols", o["ols_slope"], nan, nan, o["ols_intercept"], nan, nan),
        ("deming", o["deming_slope"], o["deming_slope_ci_low"], o["deming_slope_ci_high"], o["deming_intercept"],
         o["deming_intercept_ci_low"], o["deming_intercept_ci_high"]),
        ("passing_bablok", o["pb_slope"], o["pb_slope_ci_low"], o["pb_slope_ci_high"], o["pb_intercept"],
         o["pb_intercept_ci_low"], o["pb_intercept_ci_high"]),
    ]
    out = pd.DataFrame(rows, columns=["method", "slope", "slope_ci_low", "slope_ci_high", "intercept",
                                      "intercept_ci_low", "intercept_ci_high"])
    out["primary"] = out["method"] == o.get("primary_regression", "deming")
    return out


def decision_levels(grant: Grant) -> pd.DataFrame:
    rel, _ = _release(grant)
    return rel.table("decision_levels")


def accuracy(grant: Grant) -> pd.DataFrame:
    rel, _ = _release(grant)
    return rel.table("accuracy")


def _subgroups(rel: approved.Release) -> pd.DataFrame:
    sub = rel.table("subgroups")
    sub = sub[~sub["level"].str.contains(ALL, regex=False)].copy()
    order = {d: i for i, d in enumerate([*SUBGROUPS, "ga_site"])}
    sub["_o"] = sub["dimension"].map(order)
    return sub.sort_values("_o", kind="stable").drop(columns="_o").reset_index(drop=True)


def subgroups(grant: Grant) -> pd.DataFrame:
    """One row per subgroup level (margins dropped): pairs, flag, statistics or a reason."""
    rel, _ = _release(grant)
    return _subgroups(rel)


def _grid(frame: pd.DataFrame, dims: tuple[str, str]) -> pd.DataFrame:
    inner = frame[(frame[dims[0]] != ALL) & (frame[dims[1]] != ALL)].copy()
    inner["x"] = inner[dims[0]].map(bin_mid)
    inner["y"] = inner[dims[1]].map(bin_mid)
    inner["pairs"] = inner["pairs"].astype("Float64").astype(float)  # suppressed -> NaN
    return inner[["x", "y", dims[0], dims[1], "pairs", "pairs_flag"]].reset_index(drop=True)


def ba_grid(grant: Grant) -> pd.DataFrame:
    """Interior cells of the binned Bland-Altman grid: x = pair-mean bin centre, y = difference bin centre."""
    rel, _ = _release(grant)
    return _grid(rel.table("ba_grid"), ("mean_bin", "diff_bin"))


def scatter_grid(grant: Grant) -> pd.DataFrame:
    rel, _ = _release(grant)
    return _grid(rel.table("scatter_grid"), ("tsb_bin", "tcb_bin"))


def report_data(grant: Grant, lang: str = "zh", action: str = "view") -> dict:
    """Everything the page or the PDF shows, read once from the release (one gate decision)."""
    rel, decision = _release(grant, action)
    return {
        "release_id": rel.release_id, "meta": rel.meta, "approval": rel.approval,
        "source": _source(rel, decision, lang), "verdict": _verdict(rel), "overall": rel.table("overall").iloc[0],
        "regression": _regression(rel.table("overall").iloc[0]), "decision_levels": rel.table("decision_levels"),
        "limits": _limits(rel),
        "accuracy": rel.table("accuracy"), "subgroups": _subgroups(rel),
        "ba_grid": _grid(rel.table("ba_grid"), ("mean_bin", "diff_bin")),
        "scatter_grid": _grid(rel.table("scatter_grid"), ("tsb_bin", "tcb_bin")),
    }


# The tidy download: one table per file, each row one observation of that table's unit.
TIDY_TABLES = {
    "overall": "the whole comparison: one row, every statistic (bias and limits in the release's unit)",
    "subgroups": "one row per subgroup (dimension x level): pairs (blank when suppressed, with its flag) and statistics",
    "accuracy": "one row per TSB treatment threshold: the TcB screening rule's counts and diagnostic accuracy",
    "decision_levels": "one row per medical decision level: the bias there from the primary regression line",
    "limits": "one row per method x decision level: limits of agreement and their confidence intervals",
}


def _tidy_tables(data: dict) -> dict[str, pd.DataFrame]:
    o = data["overall"]
    overall = pd.DataFrame([{"pairs": o["pairs"], **{c: o[c] for c in STAT_COLUMNS},
                             "primary_regression": o.get("primary_regression"), "loa_method": o.get("loa_method")}])
    sub = data["subgroups"]
    return {
        "overall": overall,
        "subgroups": sub[["dimension", "level", "pairs", "pairs_flag", "stats_reason", *STAT_COLUMNS]],
        "accuracy": data["accuracy"], "decision_levels": data["decision_levels"], "limits": data["limits"],
    }


def _entry(name: str):
    """A zip entry with a fixed time stamp: the same release gives the same bytes on every download."""
    import zipfile

    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def statistics_zip(grant: Grant) -> bytes:
    """Every released statistic as tidy tables (one CSV per table) and a metadata JSON, in one zip;
    decided and audited like any download."""
    import json
    import zipfile

    use(grant, PRODUCT_ID, ("view", "download"))

    def make(dl: Grant) -> bytes:
        data = report_data(dl, action="download")
        meta, appr = data["meta"], data["approval"]
        tables = _tidy_tables(data)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for name, frame in tables.items():
                z.writestr(_entry(f"{name}.csv"), frame.to_csv(index=False, float_format="%.6g").encode("utf-8-sig"))
            z.writestr(_entry("metadata.json"), json.dumps({
                "product": PRODUCT_ID, "release": data["release_id"], "approved_by": appr.get("approved_by"),
                "approved_at": appr.get("approved_at"), "unit": meta.get("unit"), "difference": meta.get("difference"),
                "time_span": meta.get("time_span"), "suppression_rule": meta.get("suppression_rule"),
                "blank_cells": "a blank value is suppressed or not computable; its reason is in pairs_flag/stats_reason",
                "tables": {f"{name}.csv": {"description": TIDY_TABLES[name], "columns": list(frame.columns),
                                           "rows": len(frame)} for name, frame in tables.items()},
                "synthetic": bool(meta.get("synthetic")), "notice": meta.get("notice"),
            }, ensure_ascii=False, indent=2).encode("utf-8"))
        return buf.getvalue()

    return deliver(grant, f"{grant.release_id}_statistics.zip", make)


def report_pdf(grant: Grant, lang: str = "zh") -> bytes:
    """The whole report as a PDF in ``lang``; decided and audited like any download."""
    from data_products.products.jaundice import report_pdf as pdf

    use(grant, PRODUCT_ID, ("view", "download"))
    return deliver(grant, f"{grant.release_id}_{lang}.pdf", lambda dl: pdf.render(report_data(dl, lang, "download"), lang))

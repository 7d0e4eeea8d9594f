"""What the pneumonia atlas measures: pathogens, markers, clinical cut-offs and age bands.

Shared by the builder (which computes them) and the views and pages (which label them), so a cut-off
is defined once.
"""

from __future__ import annotations

from dataclasses import dataclass

from data_products.contracts.person import SEXES
from data_products.contracts.pneumonia import AGE_BANDS, MARKERS, PATHOGENS

__all__ = ["AGE_BANDS", "CUTOFFS", "MARKERS", "PATHOGENS", "PRODUCT_ID", "QUANTILES", "SEXES", "Cutoff"]

PRODUCT_ID = "pneumonia_atlas"
QUANTILES = {"p10": 0.10, "p25": 0.25, "p50": 0.50, "p75": 0.75, "p90": 0.90}
# Decimals the laboratories record each marker with: released quantiles are rounded to them.
DECIMALS = {"crp_mg_l": 1, "pct_ng_ml": 2, "wbc_10e9_l": 2, "neut_pct": 1, "il6_pg_ml": 1}


# Upper limits of the WBC reference intervals (×10⁹/L, venous blood) by age, from WS/T 779-2021
# (儿童血细胞分析参考区间): (from age in completed months, upper limit). Under 28 days the standard has
# no interval; the 28 d-<6 mo limit is used there (stated on the page). All six intervals (both limits:
# 4.3-14.2, 4.8-14.6, 5.1-14.1, 4.4-11.9, 4.3-11.3, 4.1-11.0) agree with an independent transcription of
# the standard's venous table in a paediatric hospital's laboratory rules (whose haemoglobin and platelet
# rows also match the standard); the standard's own text was not reachable offline.
WBC_ULN_BY_AGE = ((0, 14.2), (6, 14.6), (12, 14.1), (24, 11.9), (72, 11.3), (156, 11.0))


@dataclass(frozen=True)
class Cutoff:
    id: str
    marker: str
    op: str  # ">" or ">="
    value: float | None  # None: age-specific, see by_age
    source: str
    by_age: tuple[tuple[int, float], ...] = ()  # (from age in months, value), ascending

    def threshold_sql(self) -> str:
        """The cut-off as SQL: a constant, or a CASE on age in months (``age_months`` is kept under 2 y)."""
        if not self.by_age:
            return repr(float(self.value))
        months = "COALESCE(age_months, age_years * 12)"
        whens = " ".join(f"WHEN {months} >= {m} THEN {float(v)!r}" for m, v in reversed(self.by_age[1:]))
        return f"(CASE {whens} ELSE {float(self.by_age[0][1])!r} END)"

    def threshold(self, age_months: int) -> float:
        if not self.by_age:
            return float(self.value)
        return float([v for m, v in self.by_age if age_months >= m][-1])


CUTOFFS = (
    Cutoff("crp_gt10", "crp_mg_l", ">", 10, "CRP > 10 mg/L counts as raised (some use > 8)."),
    Cutoff("crp_ge40", "crp_mg_l", ">=", 40, "CRP 40 mg/L best separates bacterial from viral pneumonia (sens 0.55, spec 0.88)."),
    Cutoff("pct_gt05", "pct_ng_ml", ">", 0.5, "PCT > 0.5 ng/mL is the common 'raised' cut-off."),
    Cutoff("pct_ge025", "pct_ng_ml", ">=", 0.25, "PCT < 0.25 ng/mL ruled out typical bacterial CAP with 96% NPV."),
    Cutoff("wbc_gt_uln", "wbc_10e9_l", ">", None,
           "WBC above the upper limit of the age's reference interval, WS/T 779-2021 (venous): 28 d–<6 mo 14.2, "
           "6 mo–<1 y 14.6, 1–<2 y 14.1, 2–<6 y 11.9, 6–<13 y 11.3, ≥13 y 11.0 ×10⁹/L (under 28 d: 14.2).",
           by_age=WBC_ULN_BY_AGE),
    Cutoff("neut_gt70", "neut_pct", ">", 70, "Neutrophils > 70%: neutrophil-dominant picture (bacteria, influenza, adenovirus)."),
    Cutoff("il6_ge1475", "il6_pg_ml", ">=", 14.75, "IL-6 ≥ 14.75 pg/mL predicted refractory Mycoplasma pneumonia."),
)


def count_measures() -> list[str]:
    """The additive counts of a cell, each protected by disclosure control on its own."""
    out = ["cases"]
    for p in PATHOGENS:
        out += [f"{p}_pos", f"{p}_neg"]
    for c in CUTOFFS:
        out += [f"{c.id}_above", f"{c.id}_below"]
    return out


def quantile_columns() -> list[str]:
    return [f"{m}_{q}" for m in MARKERS for q in QUANTILES]

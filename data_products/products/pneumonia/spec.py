"""What the pneumonia atlas measures: pathogens, markers, clinical cut-offs and age bands.

Shared by the builder (which computes them) and the views and pages (which label them), so a cut-off
is defined once.
"""

from __future__ import annotations

from dataclasses import dataclass

PRODUCT_ID = "pneumonia_atlas"
AGE_BANDS = ("lt1", "1to5", "6to13")
SEXES = ("M", "F")
PATHOGENS = ("mp", "rsv", "flua", "flub", "adv")
MARKERS = ("crp_mg_l", "pct_ng_ml", "wbc_10e9_l", "neut_pct", "il6_pg_ml")
QUANTILES = {"p10": 0.10, "p25": 0.25, "p50": 0.50, "p75": 0.75, "p90": 0.90}


@dataclass(frozen=True)
class Cutoff:
    id: str
    marker: str
    op: str  # ">" or ">="
    value: float
    source: str


CUTOFFS = (
    Cutoff("crp_gt10", "crp_mg_l", ">", 10, "CRP > 10 mg/L counts as raised (some use > 8)."),
    Cutoff("crp_ge40", "crp_mg_l", ">=", 40, "CRP 40 mg/L best separates bacterial from viral pneumonia (sens 0.55, spec 0.88)."),
    Cutoff("pct_gt05", "pct_ng_ml", ">", 0.5, "PCT > 0.5 ng/mL is the common 'raised' cut-off."),
    Cutoff("pct_ge025", "pct_ng_ml", ">=", 0.25, "PCT < 0.25 ng/mL ruled out typical bacterial CAP with 96% NPV."),
    Cutoff("wbc_gt15", "wbc_10e9_l", ">", 15, "WBC > 15 ×10⁹/L: leukocytosis (typical bacteria median ≈16)."),
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

"""Pneumonia release: aggregate (builder), protect (disclosure), and re-check at approval.

One declaration of the release's tables and their relations serves both protection and the check, so
approval tests exactly the relations the builder protected against.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from data_products import disclosure
from data_products.config import min_cell
from data_products.disclosure import ALL, Identity, Link, Table
from data_products.products.base import Candidate
from data_products.products.pneumonia import builder
from data_products.products.pneumonia.spec import (  # noqa: F401 - PRODUCT_ID names the release
    CUTOFFS,
    MARKERS,
    PATHOGENS,
    PRODUCT_ID,
    QUANTILES,
    count_measures,
    quantile_columns,
)

DIMS = {
    "district_cube": ("district", "month", "age_band", "sex"),
    "facility_month": ("facility_id", "month"),
}
# The city's monthly totals appear in both tables; declaring that each city-month total is the sum
# of the facilities' months stops a facility's figure being had by subtraction across tables.
LINKS = (Link(total="district_cube", component="facility_month", on={"month": "month"}, over=("facility_id",)),)
QUANTILE_RULE = (
    "A quantile is released only when at least min_cell measured values lie below and above the two values "
    "it blends (P10/P90 from about 100 values, P25/P75 from about 40, the median from 22); it is the "
    "linear interpolation moved by half a position step, so it never equals one child's value; rounded to "
    "the decimals the laboratory records; minima and maxima are never released."
)


# Pathogens reported by one test: the influenza panel gives A and B together, so both have the same
# number of children tested in every cell.
TESTED_TOGETHER = (("flua", "flub"),)


def _marker_pair(marker: str) -> tuple[str, str]:
    """The counts above and below the marker's first cut-off: together, the children measured."""
    c = next(c for c in CUTOFFS if c.marker == marker)
    return f"{c.id}_above", f"{c.id}_below"


def identities() -> tuple[Identity, ...]:
    """Counts of a cell that share a denominator, as a reader sees them: the two cut-offs of one
    marker split the same measured children; pathogens tested together split the same tested ones."""
    pairs = []
    for m in MARKERS:
        cuts = [c for c in CUTOFFS if c.marker == m]
        pairs += [((f"{a.id}_above", f"{a.id}_below"), (f"{b.id}_above", f"{b.id}_below"))
                  for a, b in zip(cuts, cuts[1:], strict=False)]
    pairs += [((f"{a}_pos", f"{a}_neg"), (f"{b}_pos", f"{b}_neg")) for a, b in TESTED_TOGETHER]
    return tuple(Identity(name, left, right) for name in DIMS for left, right in pairs)


IDENTITIES = identities()


def _declared(tables: dict[str, pd.DataFrame]) -> list[Table]:
    measures = tuple(count_measures())
    return [Table(name, tables[name], dims, measures) for name, dims in DIMS.items()]


# The count tables this release protects, by name: what `approve` compares with earlier releases.
count_tables = _declared


def _quantile_withheld(frame: pd.DataFrame, k: int) -> dict[str, pd.Series]:
    """Per quantile column, the rows where it must not be released: the cell's case count or the
    marker's measured count (above + below its cut-off) is hidden, or too few values were measured
    for that level (:func:`disclosure.quantile_ok`)."""
    out = {}
    for m in MARKERS:
        above, below = _marker_pair(m)
        n = frame[above].astype("Float64") + frame[below].astype("Float64")
        unknown = frame["cases"].isna() | n.isna()
        nn = n.fillna(0).astype(float)
        for q, level in QUANTILES.items():
            # The rule is monotone in n: from its smallest n on, every larger n passes too.
            out[f"{m}_{q}"] = unknown | (nn < disclosure.quantile_min_n(level, k))
    return out


def _mask_quantiles(frame: pd.DataFrame, k: int) -> pd.DataFrame:
    for col, hidden in _quantile_withheld(frame, k).items():
        frame.loc[hidden, col] = float("nan")
    return frame


def _mask_pathogen_markers(markers: pd.DataFrame, cube: pd.DataFrame) -> pd.DataFrame:
    """Quantiles among a pathogen's positives only where that positive count is released."""
    city = cube[(cube["district"] == ALL) & (cube["month"] == ALL) & (cube["sex"] == ALL)].set_index("age_band")
    out = markers.copy()
    n = [city.at[a, f"{p}_pos"] if a in city.index else pd.NA for p, a in zip(out["pathogen"], out["age_band"], strict=True)]
    out["n"] = pd.array(n, dtype="Int64")
    hidden = out["n"].isna() | (out["n"] == 0)
    for col in quantile_columns():
        out.loc[hidden, col] = float("nan")
    return out


def _pathogen_rule_problems(pm: pd.DataFrame, k: int) -> list[str]:
    """Measured values among positives are at most the positives: a level needs at least that many."""
    out = []
    n = pm["n"].astype("Float64").fillna(0).astype(float)
    for m in MARKERS:
        for q, level in QUANTILES.items():
            need = disclosure.quantile_min_n(level, k)
            bad = pm[f"{m}_{q}"].notna() & (n < need)
            out += [f"[pathogen_markers row {i}] {m}_{q} released for fewer than {need} values" for i in pm.index[bad]]
    return out


def build(con: duckdb.DuckDBPyConnection, agg=builder):
    """The candidate release. ``agg`` is the engine that aggregates the records: ``builder`` (DuckDB, ``con``
    a connection to the restricted store) or ``spark`` (``con`` a Spark source); protection is the same code."""
    raw = agg.raw_tables(con)
    k = min_cell()
    protected = disclosure.protect_tables(_declared(raw), LINKS, IDENTITIES)
    cube = _mask_quantiles(protected["district_cube"], k)
    facility = _mask_quantiles(protected["facility_month"], k)
    markers = _mask_pathogen_markers(raw["pathogen_markers"], cube)
    months = sorted(m for m in cube["month"].unique() if m != ALL)
    meta = {
        "source": "pneumonia_episodes (restricted zone), children under 14 admitted with pneumonia",
        "lineage": agg.lineage(con),
        "time_span": [months[0], months[-1]] if months else [],
        "suppression_rule": (
            "No count from 1 to min_cell-1 is shown (primary); further cells are hidden so that no hidden "
            "cell's feasible range, from every released count of the release and the relations between them "
            "(margins, facilities in the city, cut-offs of one marker, pathogens tested together), is narrower "
            "than min_cell (secondary). Rates and shares are computed only from released cells. "
            + QUANTILE_RULE
        ),
        "quantile_ties": builder.QUANTILE_TIES,
        "quantile_min_values": {q: disclosure.quantile_min_n(level, k) for q, level in QUANTILES.items()},
        "measures": count_measures(),
        "quantiles": list(QUANTILES),
        "markers": list(MARKERS),
        "pathogens": list(PATHOGENS),
    }
    return Candidate(PRODUCT_ID, {"district_cube": cube, "facility_month": facility, "pathogen_markers": markers}, meta)


def check(tables: dict[str, pd.DataFrame], meta: dict) -> list[str]:
    k = max(meta.get("min_cell") or 0, min_cell())
    problems = disclosure.check_tables(_declared(tables), LINKS, IDENTITIES, min_cell=meta.get("min_cell"))
    if meta.get("quantile_ties") != builder.QUANTILE_TIES:
        # Which recorded values the quantiles meet is known only to the build: a release states the rule it applied.
        problems.append("marker quantiles not released under the disclosure rule for ties "
                        f"(metadata says {meta.get('quantile_ties')!r})")
    for name in DIMS:
        frame = tables[name]
        for col, withheld in _quantile_withheld(frame, k).items():
            leaked = withheld & frame[col].notna()
            problems += [f"[{name} row {i}] {col} released without enough measured values behind it "
                         "(or with its counts hidden)" for i in frame.index[leaked]]
    pm = tables["pathogen_markers"]
    problems += _pathogen_rule_problems(pm, k)
    leaked = (pm["n"].isna() | (pm["n"] == 0)) & pm[quantile_columns()].notna().any(axis=1)
    problems += [f"[pathogen_markers row {i}] quantiles released without a released count" for i in pm.index[leaked]]
    small = pm["n"].notna() & (pm["n"] > 0) & (pm["n"] < (meta.get("min_cell") or 10))
    problems += [f"[pathogen_markers row {i}] count below min_cell" for i in pm.index[small]]
    return problems

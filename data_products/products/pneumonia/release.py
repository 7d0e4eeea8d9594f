"""Pneumonia release: aggregate (builder), protect (disclosure), and re-check at approval.

One declaration of the release's tables and their relations serves both protection and the check, so
approval tests exactly the relations the builder protected against.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from data_products import disclosure
from data_products.disclosure import ALL, Link, Table
from data_products.products.pneumonia import builder
from data_products.products.pneumonia.spec import (  # noqa: F401 - PRODUCT_ID names the release
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


def _declared(tables: dict[str, pd.DataFrame]) -> list[Table]:
    measures = tuple(count_measures())
    return [Table(name, tables[name], dims, measures) for name, dims in DIMS.items()]


def _mask_quantiles(frame: pd.DataFrame) -> pd.DataFrame:
    """Quantiles only where the cell's case count is itself released."""
    hidden = frame["cases"].isna()
    for col in quantile_columns():
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


def build(con: duckdb.DuckDBPyConnection):
    from data_products.pipeline import Candidate

    raw = builder.raw_tables(con)
    protected = disclosure.protect_tables(_declared(raw), LINKS)
    cube = _mask_quantiles(protected["district_cube"])
    facility = _mask_quantiles(protected["facility_month"])
    markers = _mask_pathogen_markers(raw["pathogen_markers"], cube)
    months = sorted(m for m in cube["month"].unique() if m != ALL)
    meta = {
        "title_zh": "儿童肺炎常用感染指标分布图谱",
        "title_en": "Pediatric pneumonia infection-marker atlas",
        "source": "pneumonia_episodes (restricted zone), children under 14 admitted with pneumonia",
        "lineage": builder.lineage(con),
        "time_span": [months[0], months[-1]] if months else [],
        "suppression_rule": (
            "No count from 1 to min_cell-1 is shown (primary); further cells are hidden so that no hidden "
            "cell can be recovered from totals or margins (secondary). Rates, shares and quantiles are "
            "computed only from released cells."
        ),
        "measures": count_measures(),
        "quantiles": list(QUANTILES),
        "markers": list(MARKERS),
        "pathogens": list(PATHOGENS),
    }
    return Candidate(PRODUCT_ID, {"district_cube": cube, "facility_month": facility, "pathogen_markers": markers}, meta)


def check(tables: dict[str, pd.DataFrame], meta: dict) -> list[str]:
    problems = disclosure.check_tables(_declared(tables), LINKS, min_cell=meta.get("min_cell"))
    for name in DIMS:
        frame = tables[name]
        leaked = frame["cases"].isna() & frame[quantile_columns()].notna().any(axis=1)
        problems += [f"[{name} row {i}] quantiles released for a suppressed cell" for i in frame.index[leaked]]
    pm = tables["pathogen_markers"]
    leaked = (pm["n"].isna() | (pm["n"] == 0)) & pm[quantile_columns()].notna().any(axis=1)
    problems += [f"[pathogen_markers row {i}] quantiles released without a released count" for i in pm.index[leaked]]
    small = pm["n"].notna() & (pm["n"] > 0) & (pm["n"] < (meta.get("min_cell") or 10))
    problems += [f"[pathogen_markers row {i}] count below min_cell" for i in pm.index[small]]
    return problems

"""Elderly body-weight release: count cubes through disclosure control, re-checked at approval."""

from __future__ import annotations

import duckdb
import pandas as pd

from data_products import disclosure
from data_products.disclosure import Link, Table
from data_products.products.base import Candidate
from data_products.products.elderly_weight import builder
from data_products.products.elderly_weight.spec import (
    AGE_BANDS,
    BMI_CUTS,
    CATEGORIES,
    CLASSIFICATION_SOURCES,
    OLDER_CATEGORIES,
    OLDER_CUTS,
    PRODUCT_ID,
)

__all__ = ["PRODUCT_ID", "build", "check", "count_tables"]

DIMS = {
    "district_cube": ("district", "age_band", "sex", "category"),
    "facility_cube": ("facility_id", "category"),
    "older_district_cube": ("district", "age_band", "sex", "category"),
    "older_facility_cube": ("facility_id", "category"),
}
# The city's category totals appear in both tables of a classification: each equals the sum over the
# centres. Both classifications count the same people, so each measured total (category ALL) of one
# is the sum of the other's categories: declared, so no hidden cell is had across classifications.
LINKS = (
    Link(total="district_cube", component="facility_cube", on={"category": "category"}, over=("facility_id",)),
    Link(total="older_district_cube", component="older_facility_cube", on={"category": "category"},
         over=("facility_id",)),
    Link(total="district_cube", component="older_district_cube",
         on={"district": "district", "age_band": "age_band", "sex": "sex"}, over=("category",)),
    Link(total="facility_cube", component="older_facility_cube", on={"facility_id": "facility_id"},
         over=("category",)),
)


def _declared(tables: dict[str, pd.DataFrame]) -> list[Table]:
    return [Table(name, tables[name], dims, ("n",)) for name, dims in DIMS.items()]


# The count tables this release protects, by name: what `approve` compares with earlier releases.
count_tables = _declared


def build(con: duckdb.DuckDBPyConnection):
    raw = builder.raw_tables(con)
    protected = disclosure.protect_tables(_declared(raw), LINKS)
    meta = {
        "source": "elderly_measurements (restricted zone): height and weight of residents aged 65+ measured at "
                  "community health centres",
        "lineage": builder.lineage(con),
        "time_span": builder.span(con),
        "categories": list(CATEGORIES),
        "bmi_cuts": list(BMI_CUTS),
        "older_categories": list(OLDER_CATEGORIES),
        "older_cuts": {band: list(cuts) for band, cuts in OLDER_CUTS.items()},
        "classification_sources": dict(CLASSIFICATION_SOURCES),
        "classification_rule": (
            "Height and weight as recorded (0.01 cm / 0.01 kg) are compared with each cut-off in integer "
            "arithmetic (10^7 * weight_0.01kg >= 10 * cut * height_0.01cm^2), so a BMI exactly at a cut-off "
            "falls in the upper class (160.0 cm, 61.44 kg: BMI 24.0, overweight)."
        ),
        "age_bands": list(AGE_BANDS),
        "suppression_rule": (
            "No count from 1 to min_cell-1 is shown (primary); further cells are hidden so that no hidden "
            "cell can be recovered from totals (secondary). Shares use released counts only."
        ),
    }
    return Candidate(PRODUCT_ID, protected, meta)


def check(tables: dict[str, pd.DataFrame], meta: dict) -> list[str]:
    return disclosure.check_tables(_declared(tables), LINKS, min_cell=meta.get("min_cell"))

"""Elderly body-weight release: count cubes through disclosure control, re-checked at approval."""

from __future__ import annotations

import duckdb
import pandas as pd

from data_products import disclosure
from data_products.disclosure import Link, Table
from data_products.products.elderly_weight import builder
from data_products.products.elderly_weight.spec import AGE_BANDS, BMI_CUTS, CATEGORIES, PRODUCT_ID

__all__ = ["PRODUCT_ID", "build", "check"]

DIMS = {
    "district_cube": ("district", "age_band", "sex", "category"),
    "facility_cube": ("facility_id", "category"),
}
# The city's category totals appear in both tables: each equals the sum over the centres.
LINKS = (Link(total="district_cube", component="facility_cube", on={"category": "category"}, over=("facility_id",)),)


def _declared(tables: dict[str, pd.DataFrame]) -> list[Table]:
    return [Table(name, tables[name], dims, ("n",)) for name, dims in DIMS.items()]


def build(con: duckdb.DuckDBPyConnection):
    from data_products.pipeline import Candidate

    raw = builder.raw_tables(con)
    protected = disclosure.protect_tables(_declared(raw), LINKS)
    meta = {
        "title_zh": "基层老年人体重指标图谱",
        "title_en": "Primary-care elderly body-weight atlas",
        "source": "elderly_measurements (restricted zone): height and weight of residents aged 65+ measured at "
                  "community health centres",
        "lineage": builder.lineage(con),
        "time_span": builder.span(con),
        "categories": list(CATEGORIES),
        "bmi_cuts": list(BMI_CUTS),
        "age_bands": list(AGE_BANDS),
        "suppression_rule": (
            "No count from 1 to min_cell-1 is shown (primary); further cells are hidden so that no hidden "
            "cell can be recovered from totals (secondary). Shares use released counts only."
        ),
    }
    return Candidate(PRODUCT_ID, protected, meta)


def check(tables: dict[str, pd.DataFrame], meta: dict) -> list[str]:
    return disclosure.check_tables(_declared(tables), LINKS, min_cell=meta.get("min_cell"))

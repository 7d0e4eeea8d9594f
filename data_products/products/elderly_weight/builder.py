"""Elderly body-weight builder: restricted ``elderly_measurements`` -> candidate count tables.

BMI category is a dimension, not a set of measures: with ``ALL`` as the category total, every
"total = sum of categories" relation is one the disclosure cube already knows, so no hidden category
can be had as total minus the others. Measurements without a BMI (height or weight blank) are left out.

Two classifications of the same people: the adult one stored at ingest (``bmi_category``) and the
older-adult one (``spec.classify_older``), computed here from the stored height and weight with the
same exact integer comparison; both count the same measured residents.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from data_products.disclosure import ALL
from data_products.products.elderly_weight.spec import TABLE, classify_older

_BASE = f"SELECT *, bmi_category AS category FROM {TABLE} WHERE bmi_category IS NOT NULL AND district IS NOT NULL"  # noqa: S608


def _cube(con: duckdb.DuckDBPyConnection, dims: list[str], base: str = _BASE) -> pd.DataFrame:
    dim_sql = ", ".join(f"COALESCE({d}, '{ALL}') AS {d}" for d in dims)
    sql = f"""
    WITH base AS ({base})
    SELECT {dim_sql}, COUNT(*)::BIGINT AS n
    FROM base
    GROUP BY CUBE ({", ".join(dims)})
    """  # noqa: S608 - identifiers from fixed lists, no values
    frame = con.execute(sql).df()
    for d in dims:
        frame[d] = frame[d].astype(str)
    return frame.sort_values(dims).reset_index(drop=True)


def raw_tables(con: duckdb.DuckDBPyConnection) -> dict[str, pd.DataFrame]:
    """Unprotected counts; they never leave the pipeline unprotected."""
    rows = con.execute(
        f"SELECT facility_id, district, age_band, sex, height_cm, weight_kg FROM {TABLE} "  # noqa: S608
        "WHERE bmi_category IS NOT NULL AND district IS NOT NULL").df()
    rows["category"] = classify_older(rows["height_cm"], rows["weight_kg"], rows["age_band"])
    con.register("_ew_older", rows.drop(columns=["height_cm", "weight_kg"]))
    try:
        older = "SELECT * FROM _ew_older"
        return {
            "district_cube": _cube(con, ["district", "age_band", "sex", "category"]),
            "facility_cube": _cube(con, ["facility_id", "category"]),
            "older_district_cube": _cube(con, ["district", "age_band", "sex", "category"], older),
            "older_facility_cube": _cube(con, ["facility_id", "category"], older),
        }
    finally:
        con.unregister("_ew_older")


def span(con: duckdb.DuckDBPyConnection) -> list[str]:
    row = con.execute(f"SELECT min(measure_month), max(measure_month) FROM {TABLE}").fetchall()[0]  # noqa: S608
    return [row[0], row[1]] if row[0] else []


def lineage(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute(f"SELECT DISTINCT transfer_id FROM {TABLE} ORDER BY 1").fetchall()]  # noqa: S608

"""Guangzhou's 11 districts: the committed boundaries and the reference table."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pandas as pd

DATA = Path(__file__).parent / "data"
GEOJSON = DATA / "guangzhou_districts.geojson"
# The 2020 census put 13.87% of the city's residents at age 0-14; no district split is
# published in our sources, so per-district children are this share of residents (an estimate).
CHILD_SHARE_2020 = 0.1387
OFFICIAL_CITY_AREA_KM2 = 7434.4


@cache
def _districts() -> pd.DataFrame:
    df = pd.read_csv(DATA / "districts.csv", dtype={"adcode": str})
    df["children_0_14_est"] = (df["population_2020"] * CHILD_SHARE_2020).round().astype("int64")
    df["density_2023"] = df["population_2023"] / df["area_km2"]
    return df


def districts() -> pd.DataFrame:
    """One row per district: adcode, names, official area, residents 2020 and 2023, children (est.)."""
    return _districts().copy()


@cache
def _geojson_text() -> str:
    return GEOJSON.read_text(encoding="utf-8")


def district_geojson() -> dict:
    """The FeatureCollection (feature ``id`` = adcode). A fresh dict each call: callers may mutate."""
    return json.loads(_geojson_text())


def district_name(adcode: str, lang: str) -> str:
    row = _districts().set_index("adcode").loc[adcode]
    return row["name_zh"] if lang == "zh" else row["name_en"]

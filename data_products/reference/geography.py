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
# Census bulletin No. 4 (2020): 0-14 y 2,590,189 and 0-15 y 2,721,175 of 18,676,605 residents. The
# pneumonia cases are aged 0-13, so the denominator drops age 14; the census gives no single year,
# and the age-15 cohort (0-15 minus 0-14 = 130,986) stands in for it (the 10-14 band is the trough
# of the city's age pyramid, so neighbouring single years are close). 0-13: 2,459,203, 13.167%.
CENSUS_RESIDENTS_2020 = 18_676_605
CENSUS_AGED_0_14 = 2_590_189
CENSUS_AGED_0_15 = 2_721_175
CHILD_0_13_SHARE = (CENSUS_AGED_0_14 - (CENSUS_AGED_0_15 - CENSUS_AGED_0_14)) / CENSUS_RESIDENTS_2020
OFFICIAL_CITY_AREA_KM2 = 7434.4


@cache
def _districts() -> pd.DataFrame:
    df = pd.read_csv(DATA / "districts.csv", dtype={"adcode": str})
    df["children_0_14_est"] = (df["population_2020"] * CHILD_SHARE_2020).round().astype("int64")
    # The latest residents (end-2023) times the city's 0-13 share: the same share in every district,
    # because no district age structure is in our sources (an assumption, stated wherever it is used).
    df["children_0_13_est"] = (df["population_2023"] * CHILD_0_13_SHARE).round().astype("int64")
    df["density_2023"] = df["population_2023"] / df["area_km2"]
    return df


def districts() -> pd.DataFrame:
    """One row per district: adcode, names, official area, residents 2020 and 2023, children 0-14 (2020)
    and 0-13 (end-2023), both estimates."""
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

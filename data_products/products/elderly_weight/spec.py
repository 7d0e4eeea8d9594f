"""What the elderly body-weight atlas measures: BMI categories, age bands, the measured population.

Shared by the hospital generator (its truth), the ingest spec (the category stored per record), the
builder and the views, so a threshold is defined once.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PRODUCT_ID = "elderly_weight_atlas"
KIND = "elderly_weight"
TABLE = "elderly_measurements"
MIN_AGE = 65
AGE_BANDS = ("65-69", "70-74", "75-79", "80+")
SEXES = ("M", "F")
# Chinese adult BMI categories (WS/T 428-2013): underweight < 18.5, normal 18.5-23.9,
# overweight 24.0-27.9, obese >= 28.0.
CATEGORIES = ("underweight", "normal", "overweight", "obese")
BMI_CUTS = (18.5, 24.0, 28.0)
CATEGORY_ZH = {"underweight": "体重过低", "normal": "体重正常", "overweight": "超重", "obese": "肥胖"}
CATEGORY_EN = {"underweight": "Underweight", "normal": "Normal", "overweight": "Overweight", "obese": "Obese"}

# Older-adult ranges, beside the adult ones. The Chinese Dietary Guidelines 2022 (中国居民膳食指南(2022),
# 老年人膳食指南, 中国营养学会) advise people aged 65-79 to keep BMI within 20.0-26.9; the Chinese
# Nutrition Society's 2022 guideline for people aged 80+ (《中国高龄老年人体质指数适宜范围与体重管理
# 指南》, released 17 Sep 2022) gives 22.0-26.9. Both read from secondary reports of the guidelines, not
# from their full text: the page says so.
OLDER_CATEGORIES = ("below_range", "in_range", "above_range")
OLDER_CUTS = {"65-79": (20.0, 27.0), "80+": (22.0, 27.0)}
OLDER_ZH = {"below_range": "低于老年适宜范围", "in_range": "老年适宜范围内", "above_range": "高于老年适宜范围"}
OLDER_EN = {"below_range": "Below the older-adult range", "in_range": "Within the older-adult range",
            "above_range": "Above the older-adult range"}
SCHEMES = ("adult", "older")
CLASSIFICATION_SOURCES = {
    "adult": "WS/T 428-2013 成人体重判定 (Chinese adult cut-offs: <18.5, 18.5-23.9, 24.0-27.9, >=28.0 kg/m2)",
    "older": "中国居民膳食指南(2022) 老年人膳食指南: 65-79 y keep BMI 20.0-26.9; 中国营养学会《中国高龄老年人"
             "体质指数适宜范围与体重管理指南》(2022): 80+ y 22.0-26.9 (ranges as reported; full texts not checked)",
}


def bmi(height_cm: np.ndarray | pd.Series, weight_kg: np.ndarray | pd.Series) -> np.ndarray:
    """kg/m² for display and plausibility checks only: classification never compares this float."""
    h = np.asarray(height_cm, dtype=float) / 100.0
    return np.asarray(weight_kg, dtype=float) / (h * h)


def bmi_sql(height: str, weight: str) -> str:
    """The same formula in SQL; arguments are column names from this module, never input."""
    return f"({weight} / (({height} / 100.0) * ({height} / 100.0)))"


def _at_least(height_cm, weight_kg, cuts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each cut-off c (kg/m², one decimal), whether BMI >= c, decided in integers.

    Height and weight are taken as recorded, to 0.01 cm and 0.01 kg (H, W integers); then
    BMI >= c  <=>  W/100 / (H/10000)^2 >= c10/10  <=>  10^7 * W >= c10 * H^2, with c10 = 10 c.
    No floating-point quotient is compared, so 160.0 cm / 61.44 kg (exactly 24.0) is 24.0, not
    23.999999999999993. int64 holds both sides up to 300 kg and 300 cm.
    """
    h = np.asarray(height_cm, dtype=float)
    w = np.asarray(weight_kg, dtype=float)
    ok = ~(np.isnan(h) | np.isnan(w)) & (h > 0)
    big_h = np.where(ok, np.rint(h * 100), 0).astype(np.int64)
    big_w = np.where(ok, np.rint(w * 100), 0).astype(np.int64)
    c10 = np.rint(np.asarray(cuts, dtype=float) * 10).astype(np.int64)
    lhs = 10_000_000 * big_w
    rhs = big_h * big_h
    if c10.ndim == 1:
        above = lhs[:, None] >= c10[None, :] * rhs[:, None]
    else:  # one row of cut-offs per measurement
        above = lhs[:, None] >= c10 * rhs[:, None]
    return above, ok


def classify(height_cm, weight_kg) -> np.ndarray:
    """Adult category of each measurement, exactly at the cut-offs ('' where height or weight is missing)."""
    above, ok = _at_least(height_cm, weight_kg, np.array(BMI_CUTS))
    out = np.array(CATEGORIES, dtype=object)[above.sum(axis=1)]
    return np.where(ok, out, "").astype(str)


def classify_older(height_cm, weight_kg, age_bands) -> np.ndarray:
    """Older-adult category (65-79: 20.0-26.9; 80+: 22.0-26.9), exactly at the cut-offs ('' if missing)."""
    bands = np.asarray(age_bands, dtype=str)
    cuts = np.where((bands == "80+")[:, None], np.array(OLDER_CUTS["80+"]), np.array(OLDER_CUTS["65-79"]))
    above, ok = _at_least(height_cm, weight_kg, cuts)
    out = np.array(OLDER_CATEGORIES, dtype=object)[above.sum(axis=1)]
    return np.where(ok, out, "").astype(str)


def category(values: np.ndarray | pd.Series) -> np.ndarray:
    """A recorded BMI (already rounded, as a clinic writes it) -> adult category ('' where missing).

    For height and weight use :func:`classify`, which does not round through a float quotient.
    """
    v = np.asarray(values, dtype=float)
    idx = np.searchsorted(np.array(BMI_CUTS), v, side="right")
    out = np.array(CATEGORIES, dtype=object)[np.clip(idx, 0, 3)]
    return np.where(np.isnan(v), "", out).astype(str)


def age_band(age_years: np.ndarray | pd.Series) -> np.ndarray:
    a = np.asarray(age_years)
    return np.select([a < 70, a < 75, a < 80], ["65-69", "70-74", "75-79"], "80+").astype(str)

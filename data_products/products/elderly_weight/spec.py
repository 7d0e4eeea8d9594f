"""What the elderly body-weight atlas releases: the product's id, labels and the older-adult scheme.

The vocabulary it shares with the hospital generator and the ingest (BMI formula, adult categories,
age bands, the measured population) is the kind's contract, ``contracts.elderly_weight``; it is
re-exported here for the builder, views and pages.
"""

from __future__ import annotations

import numpy as np

from data_products.contracts.elderly_weight import (
    AGE_BANDS,
    BMI_CUTS,
    CATEGORIES,
    KIND,
    MIN_AGE,
    TABLE,
    age_band,
    at_least,
    bmi,
    bmi_sql,
    category,
    classify,
)
from data_products.contracts.person import SEXES

__all__ = ["AGE_BANDS", "BMI_CUTS", "CATEGORIES", "CATEGORY_EN", "CATEGORY_ZH", "CLASSIFICATION_SOURCES", "KIND",
           "MIN_AGE", "OLDER_CATEGORIES", "OLDER_CUTS", "OLDER_EN", "OLDER_ZH", "PRODUCT_ID", "SCHEMES", "SEXES",
           "TABLE", "age_band", "bmi", "bmi_sql", "category", "classify", "classify_older"]

PRODUCT_ID = "elderly_weight_atlas"
CATEGORY_ZH = {"underweight": "体重过低", "normal": "体重正常", "overweight": "超重", "obese": "肥胖"}
CATEGORY_EN = {"underweight": "Underweight", "normal": "Normal", "overweight": "Overweight", "obese": "Obese"}

# Older-adult ranges, beside the adult ones. 80+: WS/T 868-2025 《高龄老年人体质指数适宜范围与体重管理标准》,
# the commission's recommended industry standard (published 15 Jul 2025, in force 1 Feb 2026), 22.0-26.9,
# the range the Chinese Nutrition Society's 2022 guideline for people aged 80+ had given. 65-79: the
# Chinese Dietary Guidelines 2022 (中国居民膳食指南(2022), 老年人膳食指南, 中国营养学会), 20.0-26.9.
# Both checked against several independent reports of the texts (news releases of the commission and of
# the society), not against the full texts, which were not reachable offline.
OLDER_CATEGORIES = ("below_range", "in_range", "above_range")
OLDER_CUTS = {"65-79": (20.0, 27.0), "80+": (22.0, 27.0)}
OLDER_ZH = {"below_range": "低于老年适宜范围", "in_range": "老年适宜范围内", "above_range": "高于老年适宜范围"}
OLDER_EN = {"below_range": "Below the older-adult range", "in_range": "Within the older-adult range",
            "above_range": "Above the older-adult range"}
SCHEMES = ("adult", "older")
CLASSIFICATION_SOURCES = {
    "adult": "WS/T 428-2013 成人体重判定 (Chinese adult cut-offs: <18.5, 18.5-23.9, 24.0-27.9, >=28.0 kg/m2)",
    "older": "中国居民膳食指南(2022) 老年人膳食指南: 65-79 y keep BMI 20.0-26.9; WS/T 868-2025 高龄老年人体质指数"
             "适宜范围与体重管理标准 (in force 2026-02-01): 80+ y 22.0-26.9",
}


def classify_older(height_cm, weight_kg, age_bands) -> np.ndarray:
    """Older-adult category (65-79: 20.0-26.9; 80+: 22.0-26.9), exactly at the cut-offs ('' if missing)."""
    bands = np.asarray(age_bands, dtype=str)
    cuts = np.where((bands == "80+")[:, None], np.array(OLDER_CUTS["80+"]), np.array(OLDER_CUTS["65-79"]))
    above, ok = at_least(height_cm, weight_kg, cuts)
    out = np.array(OLDER_CATEGORIES, dtype=object)[above.sum(axis=1)]
    return np.where(ok, out, "").astype(str)

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


def bmi(height_cm: np.ndarray | pd.Series, weight_kg: np.ndarray | pd.Series) -> np.ndarray:
    """kg/m². Written as a product (not a power) so SQL computes bit-identical values."""
    h = np.asarray(height_cm, dtype=float) / 100.0
    return np.asarray(weight_kg, dtype=float) / (h * h)


def bmi_sql(height: str, weight: str) -> str:
    """The same formula in SQL; arguments are column names from this module, never input."""
    return f"({weight} / (({height} / 100.0) * ({height} / 100.0)))"


def category(values: np.ndarray | pd.Series) -> np.ndarray:
    """BMI -> category name ('' where BMI is missing)."""
    v = np.asarray(values, dtype=float)
    idx = np.searchsorted(np.array(BMI_CUTS), v, side="right")
    out = np.array(CATEGORIES, dtype=object)[np.clip(idx, 0, 3)]
    return np.where(np.isnan(v), "", out).astype(str)


def age_band(age_years: np.ndarray | pd.Series) -> np.ndarray:
    a = np.asarray(age_years)
    return np.select([a < 70, a < 75, a < 80], ["65-69", "70-74", "75-79"], "80+").astype(str)

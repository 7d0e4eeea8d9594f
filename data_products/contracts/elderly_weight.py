"""Kind ``elderly_weight``: height and weight of residents 65+ at community health centres.

The BMI formula and the Chinese adult BMI categories (WS/T 428-2013) are written here once: the
generator's truth, the ingest (the category stored per record), the builder's SQL and the views
all use them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

KIND = "elderly_weight"
TABLE = "elderly_measurements"

COLUMNS = (
    "facility_id", "record_id", "patient_name", "id_card", "phone", "address", "birth_date", "sex",
    "measure_date", "height_cm", "weight_kg",
)
MIN_AGE = 65
AGE_BANDS = ("65-69", "70-74", "75-79", "80+")
# Chinese adult BMI categories (WS/T 428-2013): underweight < 18.5, normal 18.5-23.9,
# overweight 24.0-27.9, obese >= 28.0.
CATEGORIES = ("underweight", "normal", "overweight", "obese")
BMI_CUTS = (18.5, 24.0, 28.0)


def bmi(height_cm: np.ndarray | pd.Series, weight_kg: np.ndarray | pd.Series) -> np.ndarray:
    """kg/m² for display and plausibility checks only: classification never compares this float."""
    h = np.asarray(height_cm, dtype=float) / 100.0
    return np.asarray(weight_kg, dtype=float) / (h * h)


def bmi_sql(height: str, weight: str) -> str:
    """The same formula in SQL; arguments are column names from a contract, never input."""
    return f"({weight} / (({height} / 100.0) * ({height} / 100.0)))"


def at_least(height_cm, weight_kg, cuts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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
    above, ok = at_least(height_cm, weight_kg, np.array(BMI_CUTS))
    out = np.array(CATEGORIES, dtype=object)[above.sum(axis=1)]
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


RECORDS = {
    "pseudonym": "VARCHAR NOT NULL",
    "record_key": "VARCHAR NOT NULL",
    "facility_id": "VARCHAR NOT NULL",
    "district": "VARCHAR",
    "age_years": "INTEGER NOT NULL",
    "age_band": "VARCHAR NOT NULL",
    "sex": "VARCHAR NOT NULL",
    "measure_date": "DATE NOT NULL",
    "measure_month": "VARCHAR NOT NULL",
    "height_cm": "DOUBLE",
    "weight_kg": "DOUBLE",
    "bmi": "DOUBLE",
    "bmi_category": "VARCHAR",
}

"""Kind ``pneumonia``: pediatric pneumonia episodes (children under 14 admitted with pneumonia)."""

from __future__ import annotations

import numpy as np
import pandas as pd

KIND = "pneumonia"
TABLE = "pneumonia_episodes"

PATHOGENS = ("mp", "rsv", "flua", "flub", "adv")
MARKERS = ("crp_mg_l", "pct_ng_ml", "wbc_10e9_l", "neut_pct", "il6_pg_ml")

# What the hospital writes, in order.
COLUMNS = (
    "facility_id", "episode_id", "patient_name", "id_card", "phone", "address", "birth_date", "sex",
    "admission_time", *MARKERS, *(f"{p}_result" for p in PATHOGENS),
)
RESULT_CODES = ("POS", "NEG")

# Age bands of the Guangzhou surveillance figures: under 1, 1-5 and 6-13 completed years. The codes
# are identifiers (they appear in URLs and message keys); labels live with the pages.
AGE_BANDS = ("lt1", "1to5", "6to13")
MAX_AGE_YEARS = 14


def age_band(age_years: np.ndarray | pd.Series) -> np.ndarray:
    """Completed years of age -> band code."""
    a = np.asarray(age_years)
    return np.where(a < 1, "lt1", np.where(a <= 5, "1to5", "6to13"))


# The restricted zone's record table: column -> SQL type. ``age_months`` is kept under 2 years only.
RECORDS = {
    "pseudonym": "VARCHAR NOT NULL",
    "episode_key": "VARCHAR NOT NULL",
    "facility_id": "VARCHAR NOT NULL",
    "district": "VARCHAR",
    "age_years": "INTEGER NOT NULL",
    "age_months": "INTEGER",
    "age_band": "VARCHAR NOT NULL",
    "sex": "VARCHAR NOT NULL",
    "admission_date": "DATE NOT NULL",
    "admission_month": "VARCHAR NOT NULL",
    **{m: "DOUBLE" for m in MARKERS},
    **{p: "VARCHAR" for p in PATHOGENS},
}

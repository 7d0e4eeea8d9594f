"""Kind ``bilirubin``: paired transcutaneous (TcB) and serum (TSB) bilirubin of newborns."""

from __future__ import annotations

import numpy as np

KIND = "bilirubin"
TABLE = "bilirubin_pairs"

COLUMNS = (
    "facility_id", "pair_id", "mother_name", "baby_name", "mother_id_card", "phone", "address",
    "birth_time", "sex", "gestational_age_weeks", "birth_weight_g", "skin_tone", "phototherapy",
    "device_model", "site", "tcb_time", "tcb_umol_l", "tsb_time", "tsb_umol_l",
)
SKIN_TONES = ("light", "medium", "dark")
SITES = ("forehead", "sternum")
UMOL_PER_MG_DL = 17.1

# Gestational-age bands (completed weeks) and hours-of-life bands.
GA_BANDS = ("lt34", "34to36", "ge37")
GA_GROUPS = ("preterm", "term")
HOL_BANDS = ("lt24", "24to47", "48to95", "ge96")


def ga_band(weeks: np.ndarray) -> np.ndarray:
    w = np.asarray(weeks, dtype=float)
    return np.where(w < 34, "lt34", np.where(w < 37, "34to36", "ge37"))


def ga_group(weeks: np.ndarray) -> np.ndarray:
    return np.where(np.asarray(weeks, dtype=float) < 37, "preterm", "term")


def hol_band(hours: np.ndarray) -> np.ndarray:
    h = np.asarray(hours, dtype=float)
    return np.where(h < 24, "lt24", np.where(h < 48, "24to47", np.where(h < 96, "48to95", "ge96")))


# The same bands in SQL over the record table's columns (fixed text, never built from input).
GA_BAND_SQL = ("CASE WHEN gestational_age_weeks < 34 THEN 'lt34' WHEN gestational_age_weeks < 37 THEN '34to36' "
               "ELSE 'ge37' END")
GA_GROUP_SQL = "CASE WHEN gestational_age_weeks < 37 THEN 'preterm' ELSE 'term' END"
HOL_BAND_SQL = ("CASE WHEN hours_of_life < 24 THEN 'lt24' WHEN hours_of_life < 48 THEN '24to47' "
                "WHEN hours_of_life < 96 THEN '48to95' ELSE 'ge96' END")

RECORDS = {
    "pseudonym": "VARCHAR NOT NULL",
    "pair_key": "VARCHAR NOT NULL",
    "facility_id": "VARCHAR NOT NULL",
    "measure_month": "VARCHAR NOT NULL",
    "hours_of_life": "DOUBLE NOT NULL",
    "gestational_age_weeks": "DOUBLE NOT NULL",
    "birth_weight_g": "INTEGER NOT NULL",
    "sex": "VARCHAR NOT NULL",
    "skin_tone": "VARCHAR NOT NULL",
    "phototherapy": "BOOLEAN NOT NULL",
    "device_model": "VARCHAR NOT NULL",
    "site": "VARCHAR NOT NULL",
    "minutes_apart": "INTEGER NOT NULL",
    "tcb_umol_l": "DOUBLE NOT NULL",
    "tsb_umol_l": "DOUBLE NOT NULL",
}

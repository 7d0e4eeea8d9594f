"""Kind ``tumor``: malignant tumor diagnoses (ICD-10 C00-C97) at the city's facilities."""

from __future__ import annotations

import numpy as np
import pandas as pd

KIND = "tumor"
TABLE = "tumor_diagnoses"

COLUMNS = (
    "facility_id", "diagnosis_id", "patient_name", "id_card", "phone", "address", "birth_date", "sex",
    "diagnosis_date", "icd10", "stage",
)
# "" in the extract = not staged (leukaemia is not TNM-staged).
STAGES = ("I", "II", "III", "IV")
# Home district of a patient whose address is outside Guangzhou.
OUTSIDE = "outside"

AGE_BANDS = ("0-14", "15-44", "45-59", "60-74", "75+")


def age_band(age_years: np.ndarray | pd.Series) -> np.ndarray:
    a = np.asarray(age_years)
    return np.select([a < 15, a < 45, a < 60, a < 75], list(AGE_BANDS[:4]), AGE_BANDS[4])


# ICD-10 3-character category ranges -> tumor group (FACTS.md "Cancer in Guangzhou"). Any other
# malignant category (C00-C97) is 'other'.
ICD10_GROUPS: tuple[tuple[str, str, str], ...] = (
    ("C11", "C11", "nasopharynx"),
    ("C15", "C15", "oesophagus"),
    ("C16", "C16", "stomach"),
    ("C18", "C21", "colorectum"),
    ("C22", "C22", "liver"),
    ("C25", "C25", "pancreas"),
    ("C33", "C34", "lung"),
    ("C44", "C44", "skin_nmsc"),  # non-melanoma skin: the product shows it apart from the totals
    ("C50", "C50", "breast"),
    ("C53", "C53", "cervix"),
    ("C61", "C61", "prostate"),
    ("C73", "C73", "thyroid"),
    ("C91", "C95", "leukaemia"),
)
OTHER_GROUP = "other"

RECORDS = {
    "pseudonym": "VARCHAR NOT NULL",
    "diagnosis_key": "VARCHAR NOT NULL",
    "facility_id": "VARCHAR NOT NULL",
    "home_district": "VARCHAR NOT NULL",
    "age_years": "INTEGER NOT NULL",
    "sex": "VARCHAR NOT NULL",
    "diagnosis_date": "DATE NOT NULL",
    "icd10": "VARCHAR NOT NULL",
    "icd10_category": "VARCHAR NOT NULL",
    "tumor_group": "VARCHAR NOT NULL",
    "stage": "VARCHAR NOT NULL",
}

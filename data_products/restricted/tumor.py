"""Ingest spec for new tumor diagnoses (kind ``tumor``).

De-identification: the resident ID becomes a keyed pseudonym, the birth date the age in completed
years at diagnosis, the address its Guangzhou district ('outside' when it names none), the
diagnosis date stays a date (quarters and years are derived from it). The tumor group is derived
from the ICD-10 code by the published category ranges below, independently of how the hospital
system labels its diagnoses.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pandera.pandas as pa

from data_products.contracts import ddl
from data_products.contracts.person import completed_years
from data_products.contracts.tumor import COLUMNS, ICD10_GROUPS, KIND, OTHER_GROUP, OUTSIDE, RECORDS, STAGES, TABLE
from data_products.restricted import deid
from data_products.restricted.specs import (
    IngestSpec,
    matches,
    one_of,
    person_checks,
    person_columns,
    text,
    valid_datetime,
)

EARLIEST = pd.Timestamp("2000-01-01")
MAX_AGE_YEARS = 110

# Sites that a record of the other sex cannot carry: an error in the extract, not a rare case.
FEMALE_ONLY = ("C51", "C52", "C53", "C54", "C55", "C56", "C57", "C58")
MALE_ONLY = ("C60", "C61", "C62", "C63")



def tumor_group(icd10: pd.Series) -> np.ndarray:
    """Group of each ICD-10 code by its 3-character category (e.g. 'C34.1' -> 'lung')."""
    cat = icd10.str.slice(0, 3).to_numpy(dtype=str)
    out = np.full(cat.shape, OTHER_GROUP, dtype=object)
    for lo, hi, group in ICD10_GROUPS:
        out[(cat >= lo) & (cat <= hi)] = group
    return out



def _site_fits_sex(df: pd.DataFrame) -> pd.Series:
    cat = df["icd10"].str.slice(0, 3)
    return ~((cat.isin(FEMALE_ONLY) & (df["sex"] == "M")) | (cat.isin(MALE_ONLY) & (df["sex"] == "F")))


class TumorSpec(IngestSpec):
    kind = KIND
    table = TABLE
    schema_version = "tumor/1"
    columns = COLUMNS
    identifiers = ("patient_name", "id_card", "phone", "address", "birth_date", "diagnosis_id")
    record_key = "diagnosis_key"
    record_id = "diagnosis_id"
    date_field = "diagnosis_date"
    derived_fields = {"_age_years": "birth_date", "_diagnosis": "diagnosis_date", "_birth": "birth_date"}

    def ddl(self) -> str:
        return ddl(TABLE, RECORDS)

    def text_schema(self, folder: str) -> pa.DataFrameSchema:
        return pa.DataFrameSchema(
            {
                **person_columns(folder, "diagnosis_id", "a diagnosis id"),
                "diagnosis_date": text(matches(r"\d{4}-\d{2}-\d{2}", "a date YYYY-MM-DD"),
                                       valid_datetime("%Y-%m-%d", "calendar date")),
                "icd10": text(matches(r"C\d{2}(\.\d)?", "an ICD-10 malignant neoplasm code (C00-C97, e.g. C34.1)"),
                              pa.Check(lambda s: s.str.slice(1, 3).astype(int) <= 97, error="not a C00-C97 category")),
                "stage": text(one_of(STAGES), nullable=True),
            },
            checks=[
                *person_checks(),
                pa.Check(_site_fits_sex, name="icd10|a sex-specific site (cervix, ovary, prostate...) in the other sex",
                         error="icd10|a sex-specific site (cervix, ovary, prostate...) in the other sex"),
            ],
            strict=True,
        )

    def typed(self, frame: pd.DataFrame) -> pd.DataFrame:
        out = pd.DataFrame(index=frame.index)
        for c in ("facility_id", "diagnosis_id", "id_card", "address", "sex", "icd10"):
            out[c] = frame[c]
        out["stage"] = frame["stage"].fillna("").replace("", "unknown")
        out["_birth"] = pd.to_datetime(frame["birth_date"], format="%Y-%m-%d")
        out["_diagnosis"] = pd.to_datetime(frame["diagnosis_date"], format="%Y-%m-%d")
        out["_age_years"] = completed_years(out["_birth"], out["_diagnosis"])
        return out

    def typed_schema(self, now: datetime) -> pa.DataFrameSchema:
        limit = pd.Timestamp(now)
        dates = lambda what: pa.Column("datetime64[us]", [  # noqa: E731
            pa.Check(lambda s: s >= EARLIEST, error=f"{what} before 2000-01-01"),
            pa.Check(lambda s: s <= limit, error=f"{what} in the future"),
        ], coerce=True)
        return pa.DataFrameSchema(
            {
                "_birth": pa.Column("datetime64[us]", [pa.Check(lambda s: s <= limit, error="birth date in the future")],
                                    coerce=True),
                "_diagnosis": dates("diagnosis date"),
                "_age_years": pa.Column(int, [
                    pa.Check.ge(0, error="born after the diagnosis"),
                    pa.Check.le(MAX_AGE_YEARS, error=f"age at diagnosis above {MAX_AGE_YEARS}"),
                ]),
            },
            strict=False,
        )

    def deidentify(self, typed: pd.DataFrame, key: bytes) -> pd.DataFrame:
        district = deid.district_of(typed["address"])
        return pd.DataFrame({
            "pseudonym": deid.pseudonyms(key, typed["id_card"]),
            "diagnosis_key": deid.record_keys(key, typed["facility_id"], typed["diagnosis_id"]),
            "facility_id": typed["facility_id"],
            "home_district": district.where(district.notna(), OUTSIDE).astype(str),
            "age_years": typed["_age_years"].astype("int32"),
            "sex": typed["sex"],
            "diagnosis_date": typed["_diagnosis"].dt.normalize(),
            "icd10": typed["icd10"],
            "icd10_category": typed["icd10"].str.slice(0, 3),
            "tumor_group": tumor_group(typed["icd10"]),
            "stage": typed["stage"],
        }, index=typed.index)[list(RECORDS)]


TUMOR = TumorSpec()
SPECS = (TUMOR,)

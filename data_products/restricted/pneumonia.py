"""Ingest spec for pediatric pneumonia episodes (kind ``pneumonia``)."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pandera.pandas as pa

from data_products.hospital.identity import id_checksum_ok
from data_products.reference.facilities import facility_ids
from data_products.restricted import deid
from data_products.restricted.specs import IngestSpec, in_range, matches, no_formula, one_of, register, valid_datetime

COLUMNS = (
    "facility_id", "episode_id", "patient_name", "id_card", "phone", "address", "birth_date", "sex",
    "admission_time", "crp_mg_l", "pct_ng_ml", "wbc_10e9_l", "neut_pct", "il6_pg_ml",
    "mp_result", "rsv_result", "flua_result", "flub_result", "adv_result",
)
RESULTS = ("mp", "rsv", "flua", "flub", "adv")
# Plausible ranges in the contract's units. A CRP column in mg/dL is 10x too small: the file-level
# median check below catches it, since hospitalised pneumonia CRP medians are well above 2 mg/L.
MARKER_RANGES = {
    "crp_mg_l": (0.0, 500.0, "mg/L"),
    "pct_ng_ml": (0.0, 1000.0, "ng/mL"),
    "wbc_10e9_l": (0.1, 100.0, "x10^9/L"),
    "neut_pct": (0.0, 100.0, "%"),
    "il6_pg_ml": (0.0, 50000.0, "pg/mL"),
}
CRP_MEDIAN_FLOOR = 2.0
UNIT_CHECK_MIN_ROWS = 20
EARLIEST = pd.Timestamp("2000-01-01")
MAX_AGE_YEARS = 14

DDL = """
CREATE TABLE IF NOT EXISTS pneumonia_episodes (
    pseudonym VARCHAR NOT NULL,
    episode_key VARCHAR NOT NULL,
    facility_id VARCHAR NOT NULL,
    district VARCHAR,
    age_years INTEGER NOT NULL,
    age_months INTEGER,
    age_band VARCHAR NOT NULL,
    sex VARCHAR NOT NULL,
    admission_date DATE NOT NULL,
    admission_month VARCHAR NOT NULL,
    crp_mg_l DOUBLE,
    pct_ng_ml DOUBLE,
    wbc_10e9_l DOUBLE,
    neut_pct DOUBLE,
    il6_pg_ml DOUBLE,
    mp VARCHAR,
    rsv VARCHAR,
    flua VARCHAR,
    flub VARCHAR,
    adv VARCHAR,
    transfer_id VARCHAR NOT NULL
)
"""
OUT_COLUMNS = (
    "pseudonym", "episode_key", "facility_id", "district", "age_years", "age_months", "age_band", "sex",
    "admission_date", "admission_month", "crp_mg_l", "pct_ng_ml", "wbc_10e9_l", "neut_pct", "il6_pg_ml",
    *RESULTS,
)


def age_band(age_years: pd.Series) -> np.ndarray:
    """Bands of the Guangzhou surveillance figures: under 1, 1-5, 6-13 completed years."""
    a = age_years.to_numpy()
    return np.where(a < 1, "<1", np.where(a <= 5, "1-5", "6-13"))


def _id_birth_matches(df: pd.DataFrame) -> pd.Series:
    return df["id_card"].str.slice(6, 14) == df["birth_date"].str.replace("-", "", regex=False)


def _id_sex_matches(df: pd.DataFrame) -> pd.Series:
    odd = pd.to_numeric(df["id_card"].str.slice(16, 17), errors="coerce") % 2 == 1
    return odd == (df["sex"] == "M")


class PneumoniaSpec(IngestSpec):
    kind = "pneumonia"
    table = "pneumonia_episodes"
    schema_version = "pneumonia/1"
    columns = COLUMNS
    identifiers = ("patient_name", "id_card", "phone", "address", "birth_date", "admission_time", "episode_id")
    record_key = "episode_key"
    derived_fields = {"_age_years": "birth_date", "_age_months": "birth_date", "_admission": "admission_time",
                      "_birth": "birth_date"}

    def ddl(self) -> str:
        return DDL

    def text_schema(self, folder: str) -> pa.DataFrameSchema:
        known = sorted(facility_ids())
        text = lambda *checks, nullable=False, unique=False: pa.Column(  # noqa: E731
            None, list(checks), nullable=nullable, unique=unique)  # all text by construction
        number = matches(r"-?\d+(\.\d+)?", "a decimal number")
        return pa.DataFrameSchema(
            {
                "facility_id": text(
                    pa.Check(lambda s: s.isin(known), error="facility not in the registry"),
                    pa.Check(lambda s: s == folder, error=f"differs from its folder {folder}"),
                ),
                "episode_id": text(no_formula(), matches(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,39}", "an episode id"),
                                   unique=True),
                "patient_name": text(no_formula(), pa.Check.str_length(1, 50, error="longer than 50 characters")),
                "id_card": text(matches(r"\d{17}[\dXx]", "an 18-character resident ID number"),
                                pa.Check(id_checksum_ok, error="resident ID check digit is wrong (GB 11643)")),
                "phone": text(matches(r"1[3-9]\d{9}", "an 11-digit mobile number")),
                "address": text(no_formula(), pa.Check.str_length(4, 200, error="not a street address")),
                "birth_date": text(matches(r"\d{4}-\d{2}-\d{2}", "a date YYYY-MM-DD"),
                                   valid_datetime("%Y-%m-%d", "calendar date")),
                "sex": text(one_of(("M", "F"))),
                "admission_time": text(matches(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", "YYYY-MM-DD HH:MM:SS"),
                                       valid_datetime("%Y-%m-%d %H:%M:%S", "date and time")),
                **{m: text(number, nullable=True) for m in MARKER_RANGES},
                **{f"{r}_result": text(one_of(("POS", "NEG")), nullable=True) for r in RESULTS},
            },
            checks=[
                pa.Check(_id_birth_matches, name="id_card|birth date inside the ID number differs from birth_date",
                         error="id_card|birth date inside the ID number differs from birth_date"),
                pa.Check(_id_sex_matches, name="id_card|sex digit of the ID number differs from sex",
                         error="id_card|sex digit of the ID number differs from sex"),
            ],
            strict=True,
        )

    def typed(self, frame: pd.DataFrame) -> pd.DataFrame:
        out = pd.DataFrame(index=frame.index)
        for c in ("facility_id", "episode_id", "id_card", "address", "sex", *(f"{r}_result" for r in RESULTS)):
            out[c] = frame[c]
        out["_birth"] = pd.to_datetime(frame["birth_date"], format="%Y-%m-%d")
        out["_admission"] = pd.to_datetime(frame["admission_time"], format="%Y-%m-%d %H:%M:%S")
        months = deid.completed_months(out["_birth"], out["_admission"].dt.normalize())
        out["_age_months"] = months
        out["_age_years"] = months // 12
        for m in MARKER_RANGES:
            out[m] = pd.to_numeric(frame[m]).astype("float64")
        return out

    def typed_schema(self, now: datetime) -> pa.DataFrameSchema:
        limit = pd.Timestamp(now)
        dates = lambda what: pa.Column("datetime64[us]", [  # noqa: E731
            pa.Check(lambda s: s >= EARLIEST, error=f"{what} before 2000-01-01"),
            pa.Check(lambda s: s <= limit, error=f"{what} in the future"),
        ], coerce=True)
        markers = {m: pa.Column(float, [in_range(lo, hi, unit)], nullable=True) for m, (lo, hi, unit) in MARKER_RANGES.items()}
        markers["crp_mg_l"] = pa.Column(float, [
            in_range(*MARKER_RANGES["crp_mg_l"]),
            pa.Check(lambda s: s.notna().sum() < UNIT_CHECK_MIN_ROWS or s.median() >= CRP_MEDIAN_FLOOR,
                     error=f"median CRP below {CRP_MEDIAN_FLOOR:g}: values look like mg/dL, the contract is mg/L"),
        ], nullable=True)
        return pa.DataFrameSchema(
            {
                "_birth": dates("birth date"),
                "_admission": dates("admission time"),
                "_age_months": pa.Column(int, pa.Check.ge(0, error="born after the admission")),
                "_age_years": pa.Column(int, pa.Check.lt(MAX_AGE_YEARS, error=f"age at admission is {MAX_AGE_YEARS} "
                                                         "or more; pneumonia extracts cover children under 14")),
                **markers,
            },
            strict=False,
        )

    def deidentify(self, typed: pd.DataFrame, key: bytes) -> pd.DataFrame:
        age_y = typed["_age_years"].astype("int32")
        return pd.DataFrame({
            "pseudonym": deid.pseudonyms(key, typed["id_card"]),
            "episode_key": deid.record_keys(key, typed["facility_id"], typed["episode_id"]),
            "facility_id": typed["facility_id"],
            "district": deid.district_of(typed["address"]),
            "age_years": age_y,
            "age_months": pd.Series(typed["_age_months"], dtype="Int32").where(age_y < 2),
            "age_band": age_band(age_y),
            "sex": typed["sex"],
            "admission_date": typed["_admission"].dt.normalize(),
            "admission_month": typed["_admission"].dt.strftime("%Y-%m"),
            **{m: typed[m] for m in MARKER_RANGES},
            **{r: typed[f"{r}_result"] for r in RESULTS},
        }, index=typed.index)[list(OUT_COLUMNS)]


PNEUMONIA = register(PneumoniaSpec())

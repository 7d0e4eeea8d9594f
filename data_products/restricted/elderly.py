"""Ingest spec for elderly body-weight measurements at community health centres (kind ``elderly_weight``)."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pandera.pandas as pa

from data_products.hospital.identity import id_checksum_ok
from data_products.products.elderly_weight.spec import KIND, MIN_AGE, TABLE, age_band, bmi, category
from data_products.reference.facilities import facilities
from data_products.restricted import deid
from data_products.restricted.specs import IngestSpec, in_range, matches, no_formula, one_of, register, valid_datetime

COLUMNS = (
    "facility_id", "record_id", "patient_name", "id_card", "phone", "address", "birth_date", "sex",
    "measure_date", "height_cm", "weight_kg",
)
RANGES = {"height_cm": (100.0, 220.0, "cm"), "weight_kg": (20.0, 250.0, "kg")}
# A BMI outside this band is a unit or keying error (height in metres, weight in jin), not a person.
BMI_PLAUSIBLE = (10.0, 70.0)
EARLIEST = pd.Timestamp("2000-01-01")
MAX_AGE_YEARS = 120

DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    pseudonym VARCHAR NOT NULL,
    record_key VARCHAR NOT NULL,
    facility_id VARCHAR NOT NULL,
    district VARCHAR,
    age_years INTEGER NOT NULL,
    age_band VARCHAR NOT NULL,
    sex VARCHAR NOT NULL,
    measure_date DATE NOT NULL,
    measure_month VARCHAR NOT NULL,
    height_cm DOUBLE,
    weight_kg DOUBLE,
    bmi DOUBLE,
    bmi_category VARCHAR,
    transfer_id VARCHAR NOT NULL
)
"""
OUT_COLUMNS = ("pseudonym", "record_key", "facility_id", "district", "age_years", "age_band", "sex", "measure_date",
               "measure_month", "height_cm", "weight_kg", "bmi", "bmi_category")


def _id_birth_matches(df: pd.DataFrame) -> pd.Series:
    return df["id_card"].str.slice(6, 14) == df["birth_date"].str.replace("-", "", regex=False)


def _id_sex_matches(df: pd.DataFrame) -> pd.Series:
    odd = pd.to_numeric(df["id_card"].str.slice(16, 17), errors="coerce") % 2 == 1
    return odd == (df["sex"] == "M")


def _bmi_plausible(df: pd.DataFrame) -> pd.Series:
    v = pd.Series(bmi(df["height_cm"], df["weight_kg"]), index=df.index)
    return v.isna() | v.between(*BMI_PLAUSIBLE)


class ElderlySpec(IngestSpec):
    kind = KIND
    table = TABLE
    schema_version = "elderly_weight/1"
    columns = COLUMNS
    identifiers = ("patient_name", "id_card", "phone", "address", "birth_date", "record_id")
    record_key = "record_key"
    derived_fields = {"_age_years": "birth_date", "_birth": "birth_date", "_measured": "measure_date"}

    def ddl(self) -> str:
        return DDL

    def text_schema(self, folder: str) -> pa.DataFrameSchema:
        fac = facilities()
        chc = sorted(fac.loc[fac["tier"] == "chc", "facility_id"])
        text = lambda *checks, nullable=False, unique=False: pa.Column(  # noqa: E731
            None, list(checks), nullable=nullable, unique=unique)
        number = matches(r"\d+(\.\d+)?", "a decimal number")
        return pa.DataFrameSchema(
            {
                "facility_id": text(
                    pa.Check(lambda s: s.isin(chc), error="not a community health centre in the registry"),
                    pa.Check(lambda s: s == folder, error=f"differs from its folder {folder}"),
                ),
                "record_id": text(no_formula(), matches(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,39}", "a record id"), unique=True),
                "patient_name": text(no_formula(), pa.Check.str_length(1, 50, error="longer than 50 characters")),
                "id_card": text(matches(r"\d{17}[\dXx]", "an 18-character resident ID number"),
                                pa.Check(id_checksum_ok, error="resident ID check digit is wrong (GB 11643)")),
                "phone": text(matches(r"1[3-9]\d{9}", "an 11-digit mobile number")),
                "address": text(no_formula(), pa.Check.str_length(4, 200, error="not a street address")),
                "birth_date": text(matches(r"\d{4}-\d{2}-\d{2}", "a date YYYY-MM-DD"),
                                   valid_datetime("%Y-%m-%d", "calendar date")),
                "sex": text(one_of(("M", "F"))),
                "measure_date": text(matches(r"\d{4}-\d{2}-\d{2}", "a date YYYY-MM-DD"),
                                     valid_datetime("%Y-%m-%d", "calendar date")),
                "height_cm": text(number, nullable=True),
                "weight_kg": text(number, nullable=True),
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
        for c in ("facility_id", "record_id", "id_card", "address", "sex"):
            out[c] = frame[c]
        out["_birth"] = pd.to_datetime(frame["birth_date"], format="%Y-%m-%d")
        out["_measured"] = pd.to_datetime(frame["measure_date"], format="%Y-%m-%d")
        out["_age_years"] = deid.completed_months(out["_birth"], out["_measured"]) // 12
        for c in RANGES:
            out[c] = pd.to_numeric(frame[c]).astype("float64")
        return out

    def typed_schema(self, now: datetime) -> pa.DataFrameSchema:
        limit = pd.Timestamp(now)
        dates = lambda what: pa.Column("datetime64[us]", [  # noqa: E731
            pa.Check(lambda s: s >= pd.Timestamp("1890-01-01") if what == "birth date" else s >= EARLIEST,
                     error=f"{what} implausibly early"),
            pa.Check(lambda s: s <= limit, error=f"{what} in the future"),
        ], coerce=True)
        return pa.DataFrameSchema(
            {
                "_birth": dates("birth date"),
                "_measured": dates("measure date"),
                "_age_years": pa.Column(int, [
                    pa.Check.ge(MIN_AGE, error=f"under {MIN_AGE} at the measurement; the extract covers residents {MIN_AGE}+"),
                    pa.Check.le(MAX_AGE_YEARS, error=f"age above {MAX_AGE_YEARS}"),
                ]),
                **{c: pa.Column(float, [in_range(lo, hi, unit)], nullable=True) for c, (lo, hi, unit) in RANGES.items()},
            },
            checks=[pa.Check(_bmi_plausible, name="weight_kg|BMI outside 10-70: check units (cm, kg)",
                             error="weight_kg|BMI outside 10-70: check units (cm, kg)")],
            strict=False,
        )

    def deidentify(self, typed: pd.DataFrame, key: bytes) -> pd.DataFrame:
        age = typed["_age_years"].astype("int32")
        value = bmi(typed["height_cm"], typed["weight_kg"])
        cat = pd.Series(category(value), index=typed.index).replace("", None)
        return pd.DataFrame({
            "pseudonym": deid.pseudonyms(key, typed["id_card"]),
            "record_key": deid.record_keys(key, typed["facility_id"], typed["record_id"]),
            "facility_id": typed["facility_id"],
            "district": deid.district_of(typed["address"]),
            "age_years": age,
            "age_band": age_band(age.to_numpy()),
            "sex": typed["sex"],
            "measure_date": typed["_measured"],
            "measure_month": typed["_measured"].dt.strftime("%Y-%m"),
            "height_cm": typed["height_cm"],
            "weight_kg": typed["weight_kg"],
            "bmi": value,
            "bmi_category": cat,
        }, index=typed.index)[list(OUT_COLUMNS)]


ELDERLY = register(ElderlySpec())

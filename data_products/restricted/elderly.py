"""Ingest spec for elderly body-weight measurements at community health centres (kind ``elderly_weight``)."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pandera.pandas as pa

from data_products.contracts import ddl
from data_products.contracts.elderly_weight import COLUMNS, KIND, MIN_AGE, RECORDS, TABLE, age_band, bmi, classify
from data_products.contracts.person import completed_years
from data_products.reference.facilities import facilities
from data_products.restricted import deid
from data_products.restricted.specs import (
    IngestSpec,
    in_range,
    matches,
    person_checks,
    person_columns,
    text,
    valid_datetime,
)

RANGES = {"height_cm": (100.0, 220.0, "cm"), "weight_kg": (20.0, 250.0, "kg")}
# A BMI outside this band is a unit or keying error (height in metres, weight in jin), not a person.
BMI_PLAUSIBLE = (10.0, 70.0)
EARLIEST = pd.Timestamp("2000-01-01")
MAX_AGE_YEARS = 120




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
    record_id = "record_id"
    date_field = "measure_date"
    derived_fields = {"_age_years": "birth_date", "_birth": "birth_date", "_measured": "measure_date"}

    def ddl(self) -> str:
        return ddl(TABLE, RECORDS)

    def text_schema(self, folder: str) -> pa.DataFrameSchema:
        fac = facilities()
        chc = sorted(fac.loc[fac["tier"] == "chc", "facility_id"])
        number = matches(r"\d+(\.\d+)?", "a decimal number")
        return pa.DataFrameSchema(
            {
                **person_columns(folder, "record_id", "a record id", producers=chc,
                                 producers_error="not a community health centre in the registry"),
                "measure_date": text(matches(r"\d{4}-\d{2}-\d{2}", "a date YYYY-MM-DD"),
                                     valid_datetime("%Y-%m-%d", "calendar date")),
                "height_cm": text(number, nullable=True),
                "weight_kg": text(number, nullable=True),
            },
            checks=[
                *person_checks(),
            ],
            strict=True,
        )

    def typed(self, frame: pd.DataFrame) -> pd.DataFrame:
        out = pd.DataFrame(index=frame.index)
        for c in ("facility_id", "record_id", "id_card", "address", "sex"):
            out[c] = frame[c]
        out["_birth"] = pd.to_datetime(frame["birth_date"], format="%Y-%m-%d")
        out["_measured"] = pd.to_datetime(frame["measure_date"], format="%Y-%m-%d")
        out["_age_years"] = completed_years(out["_birth"], out["_measured"])
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
        # Exact at the cut-offs (integers, not the float quotient): 160.0 cm / 61.44 kg is overweight.
        cat = pd.Series(classify(typed["height_cm"], typed["weight_kg"]), index=typed.index).replace("", None)
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
        }, index=typed.index)[list(RECORDS)]


ELDERLY = ElderlySpec()
SPECS = (ELDERLY,)

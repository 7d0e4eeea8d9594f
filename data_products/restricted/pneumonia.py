"""Ingest spec for pediatric pneumonia episodes (kind ``pneumonia``)."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pandera.pandas as pa

from data_products.contracts import ddl
from data_products.contracts.person import completed_months
from data_products.contracts.pneumonia import COLUMNS, KIND, MAX_AGE_YEARS, RECORDS, RESULT_CODES, TABLE, age_band
from data_products.contracts.pneumonia import PATHOGENS as RESULTS
from data_products.restricted import deid
from data_products.restricted.specs import (
    IngestSpec,
    in_range,
    matches,
    one_of,
    person_checks,
    person_columns,
    text,
    valid_datetime,
)

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



class PneumoniaSpec(IngestSpec):
    kind = KIND
    table = TABLE
    schema_version = "pneumonia/1"
    columns = COLUMNS
    identifiers = ("patient_name", "id_card", "phone", "address", "birth_date", "admission_time", "episode_id")
    record_key = "episode_key"
    record_id = "episode_id"
    date_field = "admission_time"
    derived_fields = {"_age_years": "birth_date", "_age_months": "birth_date", "_admission": "admission_time",
                      "_birth": "birth_date"}

    def ddl(self) -> str:
        return ddl(TABLE, RECORDS)

    def text_schema(self, folder: str) -> pa.DataFrameSchema:
        number = matches(r"-?\d+(\.\d+)?", "a decimal number")
        return pa.DataFrameSchema(
            {
                **person_columns(folder, "episode_id", "an episode id"),
                "admission_time": text(matches(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", "YYYY-MM-DD HH:MM:SS"),
                                       valid_datetime("%Y-%m-%d %H:%M:%S", "date and time")),
                **{m: text(number, nullable=True) for m in MARKER_RANGES},
                **{f"{r}_result": text(one_of(RESULT_CODES), nullable=True) for r in RESULTS},
            },
            checks=[
                *person_checks(),
            ],
            strict=True,
        )

    def typed(self, frame: pd.DataFrame) -> pd.DataFrame:
        out = pd.DataFrame(index=frame.index)
        for c in ("facility_id", "episode_id", "id_card", "address", "sex", *(f"{r}_result" for r in RESULTS)):
            out[c] = frame[c]
        out["_birth"] = pd.to_datetime(frame["birth_date"], format="%Y-%m-%d")
        out["_admission"] = pd.to_datetime(frame["admission_time"], format="%Y-%m-%d %H:%M:%S")
        months = completed_months(out["_birth"], out["_admission"].dt.normalize())
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
            "age_band": age_band(age_y.to_numpy()),
            "sex": typed["sex"],
            "admission_date": typed["_admission"].dt.normalize(),
            "admission_month": typed["_admission"].dt.strftime("%Y-%m"),
            **{m: typed[m] for m in MARKER_RANGES},
            **{r: typed[f"{r}_result"] for r in RESULTS},
        }, index=typed.index)[list(RECORDS)]


PNEUMONIA = PneumoniaSpec()
SPECS = (PNEUMONIA,)

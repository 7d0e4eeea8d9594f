"""Ingest spec for paired neonatal bilirubin measurements (kind ``bilirubin``): TcB device vs serum TSB.

De-identification keeps what the method comparison needs and nothing that names a family: names,
the mother's ID number, phone, address and the exact birth and sampling times are dropped; the
mother becomes a keyed pseudonym, birth time becomes hours of life at the TcB, the sampling times
become the minutes between the two measurements and the TcB month.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pandera.pandas as pa

from data_products.contracts import ddl
from data_products.contracts.bilirubin import COLUMNS, KIND, RECORDS, SITES, SKIN_TONES, TABLE
from data_products.contracts.person import id_checksum_ok
from data_products.reference.facilities import facility_ids
from data_products.restricted import deid
from data_products.restricted.specs import IngestSpec, in_range, matches, no_formula, one_of, valid_datetime

DEVICE_MODEL = r"[A-Za-z0-9][A-Za-z0-9\-]{0,19}"
# Plausible ranges in µmol/L (1 mg/dL = 17.1 µmol/L): devices read up to ~30 mg/dL; a TSB above
# 40 mg/dL (684) is an exchange-transfusion emergency, not a screening pair.
TCB_RANGE = (0.0, 600.0)
TSB_RANGE = (5.0, 700.0)
# Neonatal TSB medians are far above 30 µmol/L; a file whose median is below it is in mg/dL.
MG_DL_MEDIAN_CEILING = 30.0
UNIT_CHECK_MIN_ROWS = 20
MAX_MINUTES_APART = 120
MAX_HOURS_OF_LIFE = 28 * 24
GA_RANGE = (22.0, 44.0)
WEIGHT_RANGE = (300.0, 6500.0)
EARLIEST = pd.Timestamp("2000-01-01")
TIME = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}"
TIME_FMT = "%Y-%m-%d %H:%M:%S"



def _female_id(df: pd.DataFrame) -> pd.Series:
    # The 17th digit of a GB 11643 number is odd for men; the column holds the mother's number.
    return pd.to_numeric(df["mother_id_card"].str.slice(16, 17), errors="coerce") % 2 == 0


class BilirubinSpec(IngestSpec):
    kind = KIND
    table = TABLE
    schema_version = "bilirubin/1"
    columns = COLUMNS
    identifiers = ("mother_name", "baby_name", "mother_id_card", "phone", "address", "birth_time", "tcb_time",
                   "tsb_time", "pair_id")
    record_key = "pair_key"
    record_id = "pair_id"
    date_field = "tcb_time"
    derived_fields = {"_birth": "birth_time", "_tcb": "tcb_time", "_tsb": "tsb_time", "_hours": "tcb_time",
                      "_minutes_apart": "tsb_time"}

    def ddl(self) -> str:
        return ddl(TABLE, RECORDS)

    def text_schema(self, folder: str) -> pa.DataFrameSchema:
        known = sorted(facility_ids())
        text = lambda *checks, unique=False: pa.Column(None, list(checks), nullable=False, unique=unique)  # noqa: E731
        number = matches(r"\d+(\.\d+)?", "a non-negative decimal number")
        stamp = lambda: text(matches(TIME, "YYYY-MM-DD HH:MM:SS"), valid_datetime(TIME_FMT, "date and time"))  # noqa: E731
        return pa.DataFrameSchema(
            {
                "facility_id": text(
                    pa.Check(lambda s: s.isin(known), error="facility not in the registry"),
                    pa.Check(lambda s: s == folder, error=f"differs from its folder {folder}"),
                ),
                "pair_id": text(no_formula(), matches(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,39}", "a pair id"), unique=True),
                "mother_name": text(no_formula(), pa.Check.str_length(1, 50, error="longer than 50 characters")),
                "baby_name": text(no_formula(), pa.Check.str_length(1, 50, error="longer than 50 characters")),
                "mother_id_card": text(matches(r"\d{17}[\dXx]", "an 18-character resident ID number"),
                                       pa.Check(id_checksum_ok, error="resident ID check digit is wrong (GB 11643)")),
                "phone": text(matches(r"1[3-9]\d{9}", "an 11-digit mobile number")),
                "address": text(no_formula(), pa.Check.str_length(4, 200, error="not a street address")),
                "birth_time": stamp(),
                "sex": text(one_of(("M", "F"))),
                "gestational_age_weeks": text(number),
                "birth_weight_g": text(matches(r"\d{3,4}", "whole grams")),
                "skin_tone": text(one_of(SKIN_TONES)),
                "phototherapy": text(one_of(("Y", "N"))),
                "device_model": text(no_formula(), matches(DEVICE_MODEL, "a device model code")),
                "site": text(one_of(SITES)),
                "tcb_time": stamp(),
                "tcb_umol_l": text(number),
                "tsb_time": stamp(),
                "tsb_umol_l": text(number),
            },
            checks=[pa.Check(_female_id, name="mother_id_card|sex digit is male; the column holds the mother's ID",
                             error="mother_id_card|sex digit is male; the column holds the mother's ID")],
            strict=True,
        )

    def typed(self, frame: pd.DataFrame) -> pd.DataFrame:
        out = pd.DataFrame(index=frame.index)
        for c in ("facility_id", "pair_id", "mother_id_card", "sex", "skin_tone", "phototherapy", "device_model",
                  "site"):
            out[c] = frame[c]
        out["_birth"] = pd.to_datetime(frame["birth_time"], format=TIME_FMT)
        out["_tcb"] = pd.to_datetime(frame["tcb_time"], format=TIME_FMT)
        out["_tsb"] = pd.to_datetime(frame["tsb_time"], format=TIME_FMT)
        out["_hours"] = (out["_tcb"] - out["_birth"]).dt.total_seconds() / 3600.0
        out["_minutes_apart"] = ((out["_tsb"] - out["_tcb"]).dt.total_seconds() / 60.0).round()
        for c in ("gestational_age_weeks", "birth_weight_g", "tcb_umol_l", "tsb_umol_l"):
            out[c] = pd.to_numeric(frame[c]).astype("float64")
        return out

    def typed_schema(self, now: datetime) -> pa.DataFrameSchema:
        limit = pd.Timestamp(now)
        dates = lambda what: pa.Column("datetime64[us]", [  # noqa: E731
            pa.Check(lambda s: s >= EARLIEST, error=f"{what} before 2000-01-01"),
            pa.Check(lambda s: s <= limit, error=f"{what} in the future"),
        ], coerce=True)
        return pa.DataFrameSchema(
            {
                "_birth": dates("birth time"),
                "_tcb": dates("TcB time"),
                "_tsb": dates("TSB time"),
                "_hours": pa.Column(float, [
                    pa.Check.ge(0, error="TcB taken before the recorded birth time"),
                    pa.Check.le(MAX_HOURS_OF_LIFE, error=f"TcB more than {MAX_HOURS_OF_LIFE // 24} days after "
                                                         "birth; the evaluation covers newborns"),
                ]),
                "_minutes_apart": pa.Column(float, pa.Check(
                    lambda s: s.abs() <= MAX_MINUTES_APART,
                    error=f"TcB and TSB more than {MAX_MINUTES_APART} minutes apart; not a valid pair")),
                "gestational_age_weeks": pa.Column(float, in_range(*GA_RANGE, "weeks")),
                "birth_weight_g": pa.Column(float, in_range(*WEIGHT_RANGE, "g")),
                "tcb_umol_l": pa.Column(float, in_range(*TCB_RANGE, "µmol/L")),
                "tsb_umol_l": pa.Column(float, [
                    in_range(*TSB_RANGE, "µmol/L"),
                    pa.Check(lambda s: len(s) < UNIT_CHECK_MIN_ROWS or s.median() >= MG_DL_MEDIAN_CEILING,
                             error=f"median TSB below {MG_DL_MEDIAN_CEILING:g}: values look like mg/dL, "
                                   "the contract is µmol/L (1 mg/dL = 17.1 µmol/L)"),
                ]),
            },
            strict=False,
        )

    def deidentify(self, typed: pd.DataFrame, key: bytes) -> pd.DataFrame:
        return pd.DataFrame({
            "pseudonym": deid.pseudonyms(key, typed["mother_id_card"]),
            "pair_key": deid.record_keys(key, typed["facility_id"], typed["pair_id"]),
            "facility_id": typed["facility_id"],
            "measure_month": typed["_tcb"].dt.strftime("%Y-%m"),
            # Whole hours are enough for every band and keep the exact birth time out.
            "hours_of_life": np.floor(typed["_hours"]).astype("float64"),
            "gestational_age_weeks": typed["gestational_age_weeks"],
            "birth_weight_g": typed["birth_weight_g"].round().astype("int32"),
            "sex": typed["sex"],
            "skin_tone": typed["skin_tone"],
            "phototherapy": typed["phototherapy"] == "Y",
            "device_model": typed["device_model"],
            "site": typed["site"],
            "minutes_apart": typed["_minutes_apart"].astype("int32"),
            "tcb_umol_l": typed["tcb_umol_l"],
            "tsb_umol_l": typed["tsb_umol_l"],
        }, index=typed.index)[list(RECORDS)]


BILIRUBIN = BilirubinSpec()
SPECS = (BILIRUBIN,)

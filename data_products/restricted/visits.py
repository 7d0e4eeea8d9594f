"""Ingest spec for outpatient visits (kind ``visits``): queue timestamps -> waits in minutes.

The restricted table keeps the day, weekday and hour of check-in and the durations, not the
timestamps; the doctor's staff code is pseudonymised with the same keyed HMAC as patients (scoped
by facility, since staff codes repeat between hospitals).

Rejected whole, with file, line and field: a call before check-in, a consultation starting before
the call (timestamps out of order), one ending before it starts (negative duration), any timestamp
in the future, and waits or consultations too long to be one visit.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pandera.pandas as pa

from data_products.contracts import ddl
from data_products.contracts.person import id_checksum_ok
from data_products.contracts.visits import COLUMNS, KIND, RECORDS, TABLE, VISIT_TYPES
from data_products.contracts.visits import TIME_COLUMNS as TIMES
from data_products.contracts.visits import TIME_FORMAT as TS_FORMAT
from data_products.reference.facilities import facilities, facility_ids
from data_products.restricted import deid
from data_products.restricted.specs import IngestSpec, matches, no_formula, one_of, register, valid_datetime

EARLIEST = pd.Timestamp("2000-01-01")
MAX_WAIT_MIN = 12 * 60
MAX_CONSULT_MIN = 4 * 60
DOCTOR_CODE_HEX = 10  # released doctor codes: "D" + first hex digits of the keyed hash



def _departments_of(folder: str) -> tuple[str, ...]:
    fac = facilities().set_index("facility_id")
    return tuple(fac.at[folder, "departments"].split()) if folder in fac.index else ()


def _minutes(later: pd.Series, earlier: pd.Series) -> pd.Series:
    return (later - earlier).dt.total_seconds() / 60.0


def doctor_codes(key: bytes, facility: pd.Series, staff: pd.Series) -> list[str]:
    """Pseudonymous doctor code: keyed HMAC of facility and staff code, shortened for display."""
    return ["D" + h[:DOCTOR_CODE_HEX] for h in deid.record_keys(key, facility, "doctor:" + staff)]


def _wide(field: str, message: str, fn) -> pa.Check:
    name = f"{field}|{message}"
    return pa.Check(fn, name=name, error=name)


class VisitsSpec(IngestSpec):
    kind = KIND
    table = TABLE
    schema_version = "visits/1"
    columns = COLUMNS
    identifiers = ("patient_name", "id_card", "phone", "visit_id", "doctor_id", *TIMES)
    record_key = "visit_key"
    derived_fields = {f"_{c}": c for c in TIMES}

    def ddl(self) -> str:
        return ddl(TABLE, RECORDS)

    def text_schema(self, folder: str) -> pa.DataFrameSchema:
        known = sorted(facility_ids())
        depts = _departments_of(folder)
        text = lambda *checks, unique=False: pa.Column(None, list(checks), nullable=False, unique=unique)  # noqa: E731
        stamp = lambda: text(matches(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", "YYYY-MM-DD HH:MM:SS"),  # noqa: E731
                             valid_datetime(TS_FORMAT, "date and time"))
        return pa.DataFrameSchema(
            {
                "facility_id": text(
                    pa.Check(lambda s: s.isin(known), error="facility not in the registry"),
                    pa.Check(lambda s: s == folder, error=f"differs from its folder {folder}"),
                ),
                "visit_id": text(no_formula(), matches(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,39}", "a visit id"), unique=True),
                "patient_name": text(no_formula(), pa.Check.str_length(1, 50, error="longer than 50 characters")),
                "id_card": text(matches(r"\d{17}[\dXx]", "an 18-character resident ID number"),
                                pa.Check(id_checksum_ok, error="resident ID check digit is wrong (GB 11643)")),
                "phone": text(matches(r"1[3-9]\d{9}", "an 11-digit mobile number")),
                "department": text(pa.Check(lambda s: s.isin(depts),
                                            error=f"not a department of {folder} in the registry")),
                "doctor_id": text(no_formula(), matches(r"[A-Za-z0-9][A-Za-z0-9_\-]{0,19}", "a staff code")),
                "visit_type": text(one_of(VISIT_TYPES)),
                **{c: stamp() for c in TIMES},
            },
            strict=True,
        )

    def typed(self, frame: pd.DataFrame) -> pd.DataFrame:
        out = pd.DataFrame(index=frame.index)
        for c in ("facility_id", "visit_id", "id_card", "department", "doctor_id", "visit_type"):
            out[c] = frame[c]
        for c in TIMES:
            out[f"_{c}"] = pd.to_datetime(frame[c], format=TS_FORMAT)
        return out

    def typed_schema(self, now: datetime) -> pa.DataFrameSchema:
        limit = pd.Timestamp(now)
        dates = lambda what: pa.Column("datetime64[us]", [  # noqa: E731
            pa.Check(lambda s: s >= EARLIEST, error=f"{what} before 2000-01-01"),
            pa.Check(lambda s: s <= limit, error=f"{what} in the future"),
        ], coerce=True)
        reg, call, start, end = (f"_{c}" for c in TIMES)
        return pa.DataFrameSchema(
            {f"_{c}": dates(c.replace("_", " ")) for c in TIMES},
            checks=[
                _wide("call_time", "called before check-in (call_time earlier than registration_time)",
                      lambda df: df[call] >= df[reg]),
                _wide("consult_start", "timestamps out of order: consultation starts before the call",
                      lambda df: df[start] >= df[call]),
                _wide("consult_end", "negative consultation duration: consult_end earlier than consult_start",
                      lambda df: df[end] >= df[start]),
                _wide("consult_start", f"wait before consultation over {MAX_WAIT_MIN // 60} hours",
                      lambda df: _minutes(df[start], df[reg]) <= MAX_WAIT_MIN),
                _wide("consult_end", f"consultation longer than {MAX_CONSULT_MIN // 60} hours",
                      lambda df: _minutes(df[end], df[start]) <= MAX_CONSULT_MIN),
            ],
            strict=False,
        )

    def deidentify(self, typed: pd.DataFrame, key: bytes) -> pd.DataFrame:
        reg, call, start, end = (typed[f"_{c}"] for c in TIMES)
        return pd.DataFrame({
            "pseudonym": deid.pseudonyms(key, typed["id_card"]),
            "visit_key": deid.record_keys(key, typed["facility_id"], typed["visit_id"]),
            "facility_id": typed["facility_id"],
            "department": typed["department"],
            "doctor_code": doctor_codes(key, typed["facility_id"], typed["doctor_id"]),
            "visit_type": typed["visit_type"],
            "visit_date": reg.dt.normalize(),
            "weekday": (reg.dt.day_of_week + 1).astype("int32"),  # ISO: Monday = 1
            "hour": reg.dt.hour.astype("int32"),
            "wait_min": _minutes(start, reg),
            "call_wait_min": _minutes(call, reg),
            "consult_min": _minutes(end, start),
        }, index=typed.index)[list(RECORDS)]


VISITS = register(VisitsSpec())

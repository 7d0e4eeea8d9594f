"""Ingest spec for outpatient visits (kind ``visits``): queue timestamps -> waits in minutes.

The restricted table keeps the day, weekday and hour of check-in and the durations, not the
timestamps; the doctor's staff code is pseudonymised with the same keyed HMAC as patients (scoped
by facility, since staff codes repeat between hospitals).

Visits come by the hundred million, so this kind is checked and de-identified in bulk inside
DuckDB (``restricted.bulk``): its rules below are SQL predicates, its pseudonyms the SQL HMAC.
Rejected whole, with file, line and field: a call before check-in, a consultation starting before
the call (timestamps out of order), one ending before it starts (negative duration), any timestamp
in the future, waits or consultations too long to be one visit, and a check-in in another year than
the file name's.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from data_products.contracts import ddl
from data_products.contracts.visits import COLUMNS, KIND, RECORDS, TABLE, VISIT_TYPES
from data_products.contracts.visits import TIME_COLUMNS as TIMES
from data_products.reference.facilities import facilities, facility_ids
from data_products.restricted import deid
from data_products.restricted.bulk import Rule, hmac_sql, id_check_digit_sql, id_parts_sql, matches, no_formula, one_of
from data_products.restricted.specs import IngestSpec

EARLIEST = "2000-01-01 00:00:00"
MAX_WAIT_MIN = 12 * 60
MAX_CONSULT_MIN = 4 * 60
DOCTOR_CODE_HEX = 10  # released doctor codes: "D" + first hex digits of the keyed hash
STAMP = r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}"
STAMP_FORMAT = "%Y-%m-%d %H:%M:%S"


def _departments_of(folder: str) -> tuple[str, ...]:
    fac = facilities().set_index("facility_id")
    return tuple(fac.at[folder, "departments"].split()) if folder in fac.index else ()


def doctor_codes(key: bytes, facility: pd.Series, staff: pd.Series) -> list[str]:
    """Pseudonymous doctor code: keyed HMAC of facility and staff code, shortened for display."""
    return ["D" + h[:DOCTOR_CODE_HEX] for h in deid.record_keys(key, facility, "doctor:" + staff)]


class VisitsSpec(IngestSpec):
    kind = KIND
    table = TABLE
    schema_version = "visits/1"
    columns = COLUMNS
    identifiers = ("patient_name", "id_card", "phone", "visit_id", "doctor_id", *TIMES)
    record_key = "visit_key"
    record_id = "visit_id"
    date_field = "registration_time"
    bulk = True

    def ddl(self) -> str:
        return ddl(TABLE, RECORDS)

    # --- bulk (SQL) ---------------------------------------------------------------------------

    def typed_sql(self) -> str:
        return ", ".join([*(f"try_strptime({c}, '{STAMP_FORMAT}') AS _{c}" for c in TIMES), id_parts_sql("id_card")])

    def rules(self, folder: str, year: int, now: datetime) -> tuple[list[Rule], dict]:
        """Every check, as (field, message, SQL true where a row fails); and the values they bind."""
        params = {"known": sorted(facility_ids()), "folder": folder, "depts": list(_departments_of(folder)),
                  "now": now.replace(tzinfo=None), "year": year}
        # In a rule "A AND B" the rarely true part comes first: DuckDB evaluates B only where A holds, so the
        # regular expression behind a failed parse or a wrong check digit runs on those rows alone.
        rules = [Rule(c, "missing value", f"{c} IS NULL") for c in COLUMNS]
        rules += [
            Rule("facility_id", "facility not in the registry", "NOT list_contains($known, facility_id)"),
            Rule("facility_id", f"differs from its folder {folder}", "facility_id <> $folder"),
            no_formula("visit_id"),
            matches("visit_id", r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,39}", "a visit id"),
            no_formula("patient_name"),
            Rule("patient_name", "longer than 50 characters", "length(patient_name) > 50"),
            matches("id_card", "[0-9]{17}[0-9Xx]", "an 18-character resident ID number"),
            Rule("id_card", "resident ID check digit is wrong (GB 11643)",
                 f"{id_check_digit_sql('id_card')} <> upper(right(id_card, 1)) "
                 "AND regexp_full_match(id_card, '[0-9]{17}[0-9Xx]')"),
            matches("phone", "1[3-9][0-9]{9}", "an 11-digit mobile number"),
            Rule("department", f"not a department of {folder} in the registry",
                 "NOT list_contains($depts, department)"),
            no_formula("doctor_id"),
            matches("doctor_id", r"[A-Za-z0-9][A-Za-z0-9_\-]{0,19}", "a staff code"),
            one_of("visit_type", VISIT_TYPES),
        ]
        for c in TIMES:
            what = c.replace("_", " ")
            rules += [
                matches(c, STAMP, "YYYY-MM-DD HH:MM:SS"),
                Rule(c, "not a real date and time", f"_{c} IS NULL AND regexp_full_match({c}, '{STAMP}')"),
                Rule(c, f"{what} before 2000-01-01", f"_{c} < TIMESTAMP '{EARLIEST}'"),
                Rule(c, f"{what} in the future", f"_{c} > $now"),
            ]
        reg, call, start, end = (f"_{c}" for c in TIMES)
        rules += [
            Rule("registration_time", f"check-in not in {year}, the year in the file name", f"year({reg}) <> $year"),
            Rule("call_time", "called before check-in (call_time earlier than registration_time)", f"{call} < {reg}"),
            Rule("consult_start", "timestamps out of order: consultation starts before the call", f"{start} < {call}"),
            Rule("consult_end", "negative consultation duration: consult_end earlier than consult_start",
                 f"{end} < {start}"),
            Rule("consult_start", f"wait before consultation over {MAX_WAIT_MIN // 60} hours",
                 f"epoch({start} - {reg}) > {MAX_WAIT_MIN * 60}"),
            Rule("consult_end", f"consultation longer than {MAX_CONSULT_MIN // 60} hours",
                 f"epoch({end} - {start}) > {MAX_CONSULT_MIN * 60}"),
        ]
        return rules, params

    def lookups(self) -> dict[str, str]:
        """Whole-file aggregates the de-identification binds: the staff codes, hashed once each."""
        return {"doctors": "list(DISTINCT doctor_id) FILTER (WHERE doctor_id IS NOT NULL)"}

    def record_key_sql(self) -> str:
        return hmac_sql("facility_id || ':' || visit_id")

    def deidentify_sql(self, source: str) -> str:
        """SELECT of the restricted rows from ``source`` (text and typed columns): columns in DDL order;
        pads bound as $opad/$ipad, the file's staff codes as $doctors and its facility as $folder."""
        reg, call, start, end = (f"_{c}" for c in TIMES)
        code = hmac_sql("$folder || ':doctor:' || d")
        doctors = (f"(SELECT d AS doctor_id, 'D' || left({code}, {DOCTOR_CODE_HEX}) AS doctor_code "  # noqa: S608
                   "FROM (SELECT unnest($doctors) AS d))")
        return "SELECT " + ", ".join([  # noqa: S608 - SQL of the spec, no input
            f"{hmac_sql('upper(id_card)')} AS pseudonym",
            f"{self.record_key_sql()} AS visit_key",
            "facility_id", "department",
            "doctor_code",
            "visit_type",
            f"CAST({reg} AS DATE) AS visit_date",
            f"CAST(isodow({reg}) AS INTEGER) AS weekday",
            f"CAST(hour({reg}) AS INTEGER) AS hour",
            f"epoch({start} - {reg}) / 60.0 AS wait_min",
            f"epoch({call} - {reg}) / 60.0 AS call_wait_min",
            f"epoch({end} - {start}) / 60.0 AS consult_min",
        ]) + f" FROM {source} JOIN {doctors} USING (doctor_id)"


VISITS = VisitsSpec()
SPECS = (VISITS,)

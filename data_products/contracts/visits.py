"""Kind ``visits``: outpatient visits with their queue timestamps (registration to consultation end)."""

from __future__ import annotations

KIND = "visits"
TABLE = "outpatient_visits"

TIME_COLUMNS = ("registration_time", "call_time", "consult_start", "consult_end")
COLUMNS = (
    "facility_id", "visit_id", "patient_name", "id_card", "phone", "department", "doctor_id", "visit_type",
    *TIME_COLUMNS,
)
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
VISIT_TYPES = ("APPT", "WALKIN")

RECORDS = {
    "pseudonym": "VARCHAR NOT NULL",
    "visit_key": "VARCHAR NOT NULL",
    "facility_id": "VARCHAR NOT NULL",
    "department": "VARCHAR NOT NULL",
    "doctor_code": "VARCHAR NOT NULL",
    "visit_type": "VARCHAR NOT NULL",
    "visit_date": "DATE NOT NULL",
    "weekday": "INTEGER NOT NULL",  # ISO: Monday = 1
    "hour": "INTEGER NOT NULL",
    "wait_min": "DOUBLE NOT NULL",
    "call_wait_min": "DOUBLE NOT NULL",
    "consult_min": "DOUBLE NOT NULL",
}

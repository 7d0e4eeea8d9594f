"""Per-kind ingest specs: schema, de-identification, table. The machinery in ``ingest`` is generic.

A spec validates in two passes, both pandera: the *text* schema sees the cells as written (codes,
formats, formula injection, ID checksums) and the *typed* schema sees converted values (ranges,
units, dates, ages). A later kind adds a module declaring its spec (``SPECS``) and lists it in ``restricted.registry``.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from datetime import datetime

import pandas as pd
import pandera.pandas as pa

from data_products.contracts.person import id_checksum_ok
from data_products.restricted.extract import Extract, Issue

FORMULA_LEAD = ("=", "+", "-", "@", "\t", "\r")
_IDENT = re.compile(r"^[a-z][a-z0-9_]*$")


def no_formula() -> pa.Check:
    """Refuse cells a spreadsheet would run as a formula (CSV injection, e.g. =HYPERLINK(...))."""
    return pa.Check(lambda s: ~s.str.startswith(FORMULA_LEAD), element_wise=False,
                    error="starts with = + - @ or a control character (spreadsheet formula injection)")


def matches(pattern: str, what: str) -> pa.Check:
    # ASCII: Python's \d also matches full-width and other Unicode digits ("２０２４" is not a year here).
    return pa.Check(lambda s: s.str.fullmatch(pattern, flags=re.ASCII).fillna(False).astype(bool), error=f"not {what}")


def valid_datetime(fmt: str, what: str) -> pa.Check:
    return pa.Check(lambda s: pd.to_datetime(s, format=fmt, errors="coerce").notna(), error=f"not a real {what}")


def one_of(values: tuple[str, ...]) -> pa.Check:
    return pa.Check(lambda s: s.isin(values), error=f"code not one of {'/'.join(values)}")


def in_range(lo: float, hi: float, unit: str) -> pa.Check:
    return pa.Check(lambda s: s.between(lo, hi), error=f"outside the plausible range {lo:g}-{hi:g} {unit}")


class IngestSpec(ABC):
    kind: str
    table: str
    schema_version: str
    columns: tuple[str, ...]
    # Columns carrying a direct identifier; none of them, nor any value of them, may reach the store.
    identifiers: tuple[str, ...]
    # The column (after de-identification) that identifies a record across transfers.
    record_key: str

    @abstractmethod
    def ddl(self) -> str:
        """CREATE TABLE IF NOT EXISTS for the kind's restricted table (includes transfer_id)."""

    # The text column whose year must be the year in the file name (``<kind>_<YYYY>.csv``), and the
    # column holding the hospital's own record id.
    date_field: str | None = None
    record_id: str | None = None
    # True: checked and de-identified by SQL inside DuckDB (restricted.bulk), not row frames.
    bulk: bool = False

    def text_schema(self, folder: str) -> pa.DataFrameSchema:
        raise NotImplementedError(f"{self.kind} is ingested in bulk (SQL rules), not by a pandera schema")

    def typed(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Text frame (already passed text_schema) -> typed frame with derived columns."""
        raise NotImplementedError(f"{self.kind} is ingested in bulk (SQL rules), not by a pandera schema")

    def typed_schema(self, now: datetime) -> pa.DataFrameSchema:
        raise NotImplementedError(f"{self.kind} is ingested in bulk (SQL rules), not by a pandera schema")

    def deidentify(self, typed: pd.DataFrame, key: bytes) -> pd.DataFrame:
        """Rows for the restricted table, in DDL order, without transfer_id."""
        raise NotImplementedError(f"{self.kind} is ingested in bulk (SQL rules), not by a pandera schema")

    # Derived columns of ``typed`` name the raw field they come from in error messages.
    derived_fields: dict[str, str] = {}

    def validate(self, extract: Extract, folder: str, now: datetime,
                 year: int | None = None) -> tuple[pd.DataFrame | None, list[Issue]]:
        """The typed frame if every row passes, else every issue (file, line, field, message): the
        typed checks (ranges, dates, units) run on the rows whose text passed, so a file's problems
        are all reported at once."""
        hide = frozenset(self.identifiers)
        issues, bad = _run(self.text_schema(folder), extract.frame, extract, self.derived_fields, hide)
        if self.date_field and year is not None and self.date_field in extract.frame:
            # The file is named for a year: every event in it must fall in that year.
            years = extract.frame[self.date_field].str.slice(0, 4)
            off = years.notna() & (years != f"{year:04d}")
            issues += [Issue(extract.file, int(line), self.date_field, f"not in {year}, the year in the file name")
                       for line in extract.lines[off.to_numpy()]]
        ok = extract.frame.drop(index=list(bad))
        typed = None
        if len(ok):
            typed = self.typed(ok)
            more, _ = _run(self.typed_schema(now), typed, extract, self.derived_fields, hide)
            issues += more
        if issues:
            return None, sorted(set(issues), key=lambda i: (i.line or 0, i.field or "", i.message))
        return typed, []


def _run(schema: pa.DataFrameSchema, frame: pd.DataFrame, extract: Extract,
         derived: dict[str, str], hide: frozenset[str]) -> tuple[list[Issue], set]:
    """Issues, and the frame index labels of the rows they are on."""
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        bad = {int(i) for i in cases["index"] if i is not None and not (isinstance(i, float) and pd.isna(i))}
        return _issues(cases, extract, derived, hide), bad
    return [], set()


def _issues(cases: pd.DataFrame, extract: Extract, derived: dict[str, str], hide: frozenset[str]) -> list[Issue]:
    """Failure cases -> issues. Values of identifier columns are never quoted: issues are stored."""
    out = []
    for case in cases.itertuples(index=False):
        column = case.column if isinstance(case.column, str) else None
        check = str(case.check)
        field = derived.get(column, column) if column else None
        # Wide (row-wise, several-column) checks are named "<field>|<message>"; pandera reports one
        # failure case per cell of the failing row, so only the row and the check are kept.
        wide = "|" in check
        if wide:
            field, check = check.split("|", 1)
        idx = case.index
        line = None
        if idx is not None and not (isinstance(idx, float) and pd.isna(idx)):
            line = int(extract.lines[int(idx)])
        if line is None:
            message = f"{check} (checked over all {len(extract.lines)} rows)"
        elif check in ("not_nullable",):
            message = "missing value"
        elif check == "field_uniqueness":
            message = "duplicate value" if column in hide else f"duplicate value {case.failure_case!r}"
        elif column and not wide and column not in derived and column not in hide:
            message = f"{check}: {case.failure_case!r}"
        else:
            message = check
        out.append(Issue(extract.file, line, field, message))
    return sorted(set(out), key=lambda i: (i.line or 0, i.field or "", i.message))


def plain_names(spec: IngestSpec) -> None:
    # Kind and table names are written into SQL (DDL, table names): plain identifiers only.
    if not _IDENT.match(spec.table) or not _IDENT.match(spec.kind):
        raise ValueError(f"table/kind names must be plain identifiers: {spec.kind!r}, {spec.table!r}")


# --- the identified columns every person-level extract carries, checked the same way everywhere ----------


def text(*checks: pa.Check, nullable: bool = False, unique: bool = False) -> pa.Column:
    """A column as written in the extract (all cells are text until the typed pass)."""
    return pa.Column(None, list(checks), nullable=nullable, unique=unique)


def _id_birth_matches(df: pd.DataFrame) -> pd.Series:
    return df["id_card"].str.slice(6, 14) == df["birth_date"].str.replace("-", "", regex=False)


def _id_sex_matches(df: pd.DataFrame) -> pd.Series:
    odd = pd.to_numeric(df["id_card"].str.slice(16, 17), errors="coerce") % 2 == 1
    return odd == (df["sex"] == "M")


def person_columns(folder: str, record_id: str, record_what: str, *, producers: list[str] | None = None,
                   producers_error: str = "facility not in the registry") -> dict[str, pa.Column]:
    """Facility, record id, and the patient's identified columns (name, resident ID with its GB 11643
    check digit, mobile, address, birth date, sex): the part of a text schema every kind shares.
    ``producers`` narrows the facilities that may send this kind (default: the whole registry)."""
    from data_products.reference.facilities import facility_ids

    known = sorted(producers if producers is not None else facility_ids())
    return {
        "facility_id": text(
            pa.Check(lambda s: s.isin(known), error=producers_error),
            pa.Check(lambda s: s == folder, error=f"differs from its folder {folder}"),
        ),
        record_id: text(no_formula(), matches(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,39}", record_what), unique=True),
        "patient_name": text(no_formula(), pa.Check.str_length(1, 50, error="longer than 50 characters")),
        "id_card": text(matches(r"\d{17}[\dXx]", "an 18-character resident ID number"),
                        pa.Check(id_checksum_ok, error="resident ID check digit is wrong (GB 11643)")),
        "phone": text(matches(r"1[3-9]\d{9}", "an 11-digit mobile number")),
        "address": text(no_formula(), pa.Check.str_length(4, 200, error="not a street address")),
        "birth_date": text(matches(r"\d{4}-\d{2}-\d{2}", "a date YYYY-MM-DD"), valid_datetime("%Y-%m-%d", "calendar date")),
        "sex": text(one_of(("M", "F"))),
    }


def person_checks() -> list[pa.Check]:
    """The resident ID must agree with the birth date and sex columns."""
    return [
        pa.Check(_id_birth_matches, name="id_card|birth date inside the ID number differs from birth_date",
                 error="id_card|birth date inside the ID number differs from birth_date"),
        pa.Check(_id_sex_matches, name="id_card|sex digit of the ID number differs from sex",
                 error="id_card|sex digit of the ID number differs from sex"),
    ]

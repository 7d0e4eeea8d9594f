"""Ingest specs of the specialty kinds (cerebrovascular disease, cerebral infarction, liver cancer).

One spec class reads its checks from the dataset's data dictionary (``data_products.specialty``): code
lists, ranges, units, nullability, and the derived columns (year and month of admission, risk-factor
flags; for liver cancer the Child-Pugh class, AFP band, CNLC and BCLC stages and survival times, all
computed from the written fields, never taken from the extract).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import numpy as np
import pandas as pd
import pandera.pandas as pa

from data_products.contracts.person import completed_years
from data_products.reference.facilities import facilities
from data_products.restricted import deid
from data_products.restricted.extract import Extract, Issue
from data_products.restricted.specs import IngestSpec, _run, person_checks, person_columns
from data_products.specialty import cerebrovascular, infarction, liver
from data_products.specialty.dictionary import MAX_AGE, RISK_FACTORS, Dictionary, Field

IDENTIFIED = ("facility_id", "admission_id", "patient_name", "id_card", "phone", "address", "birth_date", "sex")
EARLIEST = pd.Timestamp("2000-01-01")
MIN_AGE = 18


def _bad_text(f: Field, s: pd.Series) -> tuple[pd.Series, str]:
    """Rows whose written (non-blank) value does not fit the field, and what is wrong with them."""
    present = s.notna()
    v = s.fillna("")
    if f.type == "code":
        return present & ~v.isin(f.codes), f"code not one of {'/'.join(f.codes)}"
    if f.type == "int":
        return present & ~v.str.fullmatch(r"[0-9]+"), "not a whole number"
    if f.type == "float":
        return present & ~v.str.fullmatch(r"[0-9]+(\.[0-9]+)?"), "not a decimal number"
    if f.type == "date":
        ok = v.str.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}") & pd.to_datetime(v, format="%Y-%m-%d", errors="coerce").notna()
        return present & ~ok, "not a real calendar date YYYY-MM-DD"
    if f.type == "bool":
        return present & ~v.isin(("0", "1")), "not 0 or 1"
    if f.type == "set":
        allowed = set(f.codes)
        return present & ~v.map(lambda x: set(x.split(";")) <= allowed).astype(bool), \
            f"not a ';'-separated list of {'/'.join(f.codes)}"
    return present & False, ""


Wide = tuple[str, str, Callable[[pd.DataFrame], pd.Series]]


def _wide(field: str, message: str, fn: Callable[[pd.DataFrame], pd.Series]) -> Wide:
    """A row-wise rule across fields: the field it is reported under, its message, rows that pass."""
    return field, message, fn


def _after(a: str, b: str) -> Callable[[pd.DataFrame], pd.Series]:
    return lambda df: df[a].isna() | df[b].isna() | (df[a] >= df[b])


# --- per-kind consistency checks on the typed frame --------------------------------------------------------

def _cvd_checks() -> list[Wide]:
    return [
        _wide("hunt_hess", "Hunt-Hess grade given for a stroke that is not SAH",
              lambda df: df["hunt_hess"].isna() | (df["stroke_type"] == "SAH")),
        _wide("mrs_90d", "patient died in hospital but 90-day mRS is not 6",
              lambda df: (df["discharge_disposition"] != "death") | (df["mrs_90d"] == 6)),
    ]


def _ci_checks() -> list[Wide]:
    ivt = ("IVT_alteplase", "IVT_tenecteplase", "IVT_EVT")
    return [
        _wide("door_to_needle_min", "door-to-needle time given without intravenous thrombolysis",
              lambda df: df["door_to_needle_min"].isna() | df["reperfusion"].isin(ivt)),
        _wide("sich_36h", "sICH recorded for a patient who was not reperfused",
              lambda df: df["sich_36h"].isna() | (df["reperfusion"] != "none")),
        _wide("mrs_90d", "patient died in hospital but 90-day mRS is not 6",
              lambda df: (df["discharge_disposition"] != "death") | (df["mrs_90d"] == 6)),
    ]


def _lc_checks() -> list[Wide]:
    return [
        _wide("treatment_date", "first treatment before admission", _after("treatment_date", "_admitted")),
        _wide("last_contact_date", "last contact before first treatment", _after("last_contact_date", "treatment_date")),
        _wide("death_date", "death date differs from the last contact", lambda df: df["death_date"].isna()
              | (df["death_date"] == df["last_contact_date"])),
        _wide("recurrence_date", "recurrence before treatment or after last contact",
              lambda df: df["recurrence_date"].isna() | ((df["recurrence_date"] >= df["treatment_date"])
                                                         & (df["recurrence_date"] <= df["last_contact_date"]))),
        _wide("recurrence_date", "recurrence recorded after a non-curative first treatment",
              lambda df: df["recurrence_date"].isna() | df["first_treatment"].isin(liver.CURATIVE)),
    ]


# --- derived columns -------------------------------------------------------------------------------------

def _risk(out: pd.DataFrame, typed: pd.DataFrame) -> None:
    parts = typed["risk_factors"].fillna("").str.split(";")
    for c in RISK_FACTORS:
        out[f"rf_{c.lower()}"] = parts.map(lambda xs, c=c: c in xs).astype(bool)


def _liver_derived(out: pd.DataFrame, typed: pd.DataFrame) -> None:
    cp = liver.child_pugh_class(typed["child_pugh_score"])
    args = (typed["tumour_number"], typed["max_tumour_size_cm"], typed["vascular_invasion"], typed["ecog_ps"], cp)
    out["afp_band"] = liver.afp_band(typed["afp_ng_ml"])
    out["child_pugh"] = cp
    out["cnlc_stage"] = liver.cnlc_stage(*args)
    out["bclc_stage"] = liver.bclc_stage(*args)
    end = typed["death_date"].fillna(typed["last_contact_date"])
    out["os_months"] = liver.months_between(typed["treatment_date"], end)
    out["died"] = typed["death_date"].notna()
    curative = typed["first_treatment"].isin(liver.CURATIVE).to_numpy()
    out["recurred"] = pd.array(np.where(curative, typed["recurrence_date"].notna(), pd.NA), dtype="boolean")
    rfs_end = typed["recurrence_date"].fillna(end)
    out["rfs_months"] = np.where(curative, liver.months_between(typed["treatment_date"], rfs_end), np.nan)


CHECKS: dict[str, Callable[[], list[Wide]]] = {
    cerebrovascular.KIND: _cvd_checks, infarction.KIND: _ci_checks, liver.KIND: _lc_checks,
}
DERIVE: dict[str, list[Callable[[pd.DataFrame, pd.DataFrame], None]]] = {
    cerebrovascular.KIND: [_risk], infarction.KIND: [_risk], liver.KIND: [_liver_derived],
}


def _issues_at(extract: Extract, bad: pd.Series, field: str, message: str,
               values: pd.Series | None = None) -> list[Issue]:
    """One issue per failing row, with the file's line number; quotes the value when given."""
    hit = np.flatnonzero(np.asarray(bad, dtype=bool))
    out = []
    for i in hit:
        text = message if values is None else f"{message}: {values.iloc[i]!r}"
        out.append(Issue(extract.file, int(extract.lines[i]), field, text))
    return out


class SpecialtySpec(IngestSpec):
    identifiers = ("patient_name", "id_card", "phone", "address", "birth_date", "admission_id")
    record_key = "record_key"
    record_id = "admission_id"
    date_field = "admission_date"

    def __init__(self, d: Dictionary) -> None:
        self.d = d
        self.kind = d.kind
        self.table = d.table
        self.schema_version = f"{d.kind}/1"
        self.columns = IDENTIFIED + tuple(f.name for f in d.raw_fields() if f.name != "sex")
        self.derived_fields = {"_age_years": "birth_date", "_birth": "birth_date", "_admitted": "admission_date"}
        self._raw = [f for f in d.raw_fields() if f.name != "sex"]

    def ddl(self) -> str:
        cols = ["pseudonym VARCHAR NOT NULL", "record_key VARCHAR NOT NULL", "facility_id VARCHAR NOT NULL"]
        cols += [f"{f.name} {f.sql_type}{'' if f.nullable else ' NOT NULL'}" for f in self.d.fields
                 if f.name != "pseudonym"]
        cols.append("transfer_id VARCHAR NOT NULL")
        return f"CREATE TABLE IF NOT EXISTS {self.table} (\n    " + ",\n    ".join(cols) + "\n)"

    def out_columns(self) -> list[str]:
        return ["pseudonym", "record_key", "facility_id", *(f.name for f in self.d.fields if f.name != "pseudonym")]

    def text_schema(self, folder: str) -> pa.DataFrameSchema:
        """The identified columns every kind shares (pandera); the dictionary's fields are checked in
        ``validate`` with one vectorised rule per field, since pandera's per-check overhead would
        dominate files of a few dozen rows with thirty fields."""
        fac = facilities()
        hospitals = sorted(fac.loc[fac["tier"].isin(("tertiary", "secondary")), "facility_id"])
        return pa.DataFrameSchema(
            person_columns(folder, "admission_id", "an admission id", producers=hospitals,
                           producers_error="not a hospital in the registry"),
            checks=person_checks(),
            strict=False,
        )

    def validate(self, extract: Extract, folder: str, now: datetime,
                 year: int | None = None) -> tuple[pd.DataFrame | None, list[Issue]]:
        hide = frozenset(self.identifiers)
        issues, _ = _run(self.text_schema(folder), extract.frame, extract, self.derived_fields, hide)
        frame = extract.frame
        if year is not None:
            off = frame["admission_date"].notna() & (frame["admission_date"].str.slice(0, 4) != f"{year:04d}")
            issues += _issues_at(extract, off, "admission_date", f"not in {year}, the year in the file name")
        for f in self._raw:
            s = frame[f.name]
            if not f.nullable:
                issues += _issues_at(extract, s.isna(), f.name, "missing value")
            bad, message = _bad_text(f, s)
            issues += _issues_at(extract, bad, f.name, message, s)
        # The typed checks run on the rows whose text passed, so a file's problems are reported at once.
        keep = ~np.isin(extract.lines, [i.line for i in issues if i.line is not None])
        if not keep.any():
            return None, sorted(set(issues), key=lambda i: (i.line or 0, i.field or "", i.message))
        text_issues = issues
        extract = Extract(extract.file, extract.sha256, frame[keep].reset_index(drop=True), extract.lines[keep])
        frame = extract.frame
        typed = self.typed(frame)
        issues, _ = _run(self.typed_schema(now), typed, extract, self.derived_fields, hide)
        issues += text_issues
        for f in self._raw:
            if f.type in ("int", "float") and f.lo is not None:
                s = typed[f.name]
                bad = s.notna() & ~s.between(f.lo, f.hi)
                issues += _issues_at(extract, bad, f.name,
                                     f"outside the plausible range {f.lo:g}-{f.hi:g} {f.unit or ''}".rstrip(), frame[f.name])
            elif f.type == "date" and f.name != "admission_date":
                s = typed[f.name]
                issues += _issues_at(extract, s.notna() & (s < EARLIEST), f.name, "implausibly early", frame[f.name])
                issues += _issues_at(extract, s.notna() & (s > pd.Timestamp(now)), f.name, "in the future",
                                     frame[f.name])
        for field, message, fn in CHECKS[self.kind]():
            issues += _issues_at(extract, ~fn(typed).fillna(True).astype(bool), field, message)
        if issues:
            return None, sorted(set(issues), key=lambda i: (i.line or 0, i.field or "", i.message))
        return typed, []

    def typed(self, frame: pd.DataFrame) -> pd.DataFrame:
        out = pd.DataFrame(index=frame.index)
        for c in ("facility_id", "admission_id", "id_card", "address", "sex"):
            out[c] = frame[c]
        out["_birth"] = pd.to_datetime(frame["birth_date"], format="%Y-%m-%d")
        out["_admitted"] = pd.to_datetime(frame["admission_date"], format="%Y-%m-%d")
        out["_age_years"] = completed_years(out["_birth"], out["_admitted"])
        for f in self._raw:
            col = frame[f.name]
            if f.type in ("int", "float"):
                out[f.name] = pd.to_numeric(col).astype("float64")
            elif f.type == "date":
                out[f.name] = pd.to_datetime(col, format="%Y-%m-%d")
            elif f.type == "bool":
                out[f.name] = col.map({"1": True, "0": False}).astype("boolean")
            else:
                out[f.name] = col
        return out

    def typed_schema(self, now: datetime) -> pa.DataFrameSchema:
        limit = pd.Timestamp(now)

        def dates(what: str) -> pa.Column:
            floor = pd.Timestamp("1890-01-01") if what == "birth date" else EARLIEST
            return pa.Column("datetime64[us]", [
                pa.Check(lambda s: s >= floor, error=f"{what} implausibly early"),
                pa.Check(lambda s: s <= limit, error=f"{what} in the future"),
            ], coerce=True)

        return pa.DataFrameSchema({
            "_birth": dates("birth date"),
            "_admitted": dates("admission date"),
            "_age_years": pa.Column(int, [pa.Check.ge(MIN_AGE, error=f"under {MIN_AGE} at admission; adults only"),
                                          pa.Check.le(120, error="age above 120")]),
        }, strict=False)

    def deidentify(self, typed: pd.DataFrame, key: bytes) -> pd.DataFrame:
        tiers = facilities().set_index("facility_id")["tier"]
        out = pd.DataFrame(index=typed.index)
        out["pseudonym"] = deid.pseudonyms(key, typed["id_card"])
        out["record_key"] = deid.record_keys(key, typed["facility_id"], typed["admission_id"])
        out["facility_id"] = typed["facility_id"]
        out["hospital_tier"] = typed["facility_id"].map(tiers).astype(str)
        out["district"] = deid.district_of(typed["address"])
        out["age_years"] = np.minimum(typed["_age_years"].to_numpy(), MAX_AGE).astype("int32")
        out["sex"] = typed["sex"]
        out["admission_date"] = typed["_admitted"]
        out["admission_year"] = typed["_admitted"].dt.year.astype("int32")
        out["admission_month"] = typed["_admitted"].dt.strftime("%Y-%m")
        for f in self._raw:
            if f.name in ("admission_date",):
                continue
            col = typed[f.name]
            out[f.name] = col.astype("Int32") if f.type == "int" else col
        for fn in DERIVE[self.kind]:
            fn(out, typed)
        return out[self.out_columns()]


SPECS = tuple(SpecialtySpec(d) for d in (cerebrovascular.DICTIONARY, infarction.DICTIONARY, liver.DICTIONARY))

"""Per-kind ingest specs: schema, de-identification, table. The machinery in ``ingest`` is generic.

A spec validates in two passes, both pandera: the *text* schema sees the cells as written (codes,
formats, formula injection, ID checksums) and the *typed* schema sees converted values (ranges,
units, dates, ages). A later kind adds a module with its subclass and calls ``register``.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from datetime import datetime

import pandas as pd
import pandera.pandas as pa

from data_products.restricted.extract import Extract, Issue

FORMULA_LEAD = ("=", "+", "-", "@", "\t", "\r")
_IDENT = re.compile(r"^[a-z][a-z0-9_]*$")


def no_formula() -> pa.Check:
    """Refuse cells a spreadsheet would run as a formula (CSV injection, e.g. =HYPERLINK(...))."""
    return pa.Check(lambda s: ~s.str.startswith(FORMULA_LEAD), element_wise=False,
                    error="starts with = + - @ or a control character (spreadsheet formula injection)")


def matches(pattern: str, what: str) -> pa.Check:
    return pa.Check(lambda s: s.str.fullmatch(pattern).fillna(False).astype(bool), error=f"not {what}")


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

    @abstractmethod
    def text_schema(self, folder: str) -> pa.DataFrameSchema: ...

    @abstractmethod
    def typed(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Text frame (already passed text_schema) -> typed frame with derived columns."""

    @abstractmethod
    def typed_schema(self, now: datetime) -> pa.DataFrameSchema: ...

    @abstractmethod
    def deidentify(self, typed: pd.DataFrame, key: bytes) -> pd.DataFrame:
        """Rows for the restricted table, in DDL order, without transfer_id."""

    # Derived columns of ``typed`` name the raw field they come from in error messages.
    derived_fields: dict[str, str] = {}

    def validate(self, extract: Extract, folder: str, now: datetime) -> tuple[pd.DataFrame | None, list[Issue]]:
        """The typed frame if every row passes, else the issues (file, line, field, message)."""
        hide = frozenset(self.identifiers)
        issues = _run(self.text_schema(folder), extract.frame, extract, self.derived_fields, hide)
        if issues:
            return None, issues
        typed = self.typed(extract.frame)
        issues = _run(self.typed_schema(now), typed, extract, self.derived_fields, hide)
        return (None, issues) if issues else (typed, [])


def _run(schema: pa.DataFrameSchema, frame: pd.DataFrame, extract: Extract,
         derived: dict[str, str], hide: frozenset[str]) -> list[Issue]:
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        return _issues(exc.failure_cases, extract, derived, hide)
    return []


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


SPECS: dict[str, IngestSpec] = {}


def register(spec: IngestSpec) -> IngestSpec:
    if not _IDENT.match(spec.table) or not _IDENT.match(spec.kind):
        raise ValueError(f"table/kind names must be plain identifiers: {spec.kind!r}, {spec.table!r}")
    if spec.kind in SPECS and SPECS[spec.kind] is not spec:
        raise ValueError(f"spec for {spec.kind!r} registered twice")
    SPECS[spec.kind] = spec
    return spec


def get_spec(kind: str) -> IngestSpec:
    try:
        return SPECS[kind]
    except KeyError:
        raise KeyError(f"no ingest spec for kind {kind!r}; known: {sorted(SPECS)}") from None

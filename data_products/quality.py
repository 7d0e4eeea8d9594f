"""Data-quality checks on what each facility sent: completeness, validity, timeliness, duplicates.

Computed inside the pipeline from the restricted zone (manifests, rejections and each kind's table);
only the aggregate results leave it, as the ``supplier_quality`` release. Every check is relative to
the city where a fixed bar would be wrong for a kind (IL-6 is measured for 60% of children by design,
so a bar of 95% would fail every hospital): a transfer fails when it is clearly worse than the city's
transfers of the same kind.

- completeness: per field, share of rows with a value; fails when more than ``completeness_drop``
  percentage points below the city's share for that kind and field.
- validity: a received file is valid when it was accepted; a facility fails while one of its files
  stands rejected with no accepted transfer of the same file name after it.
- timeliness: days from the transfer's latest event to its arrival; fails when more than
  ``timeliness_slack_days`` above the city's median for the same kind and year (a stale extract).
  The median days from event to transfer are reported beside it.
- duplicates: rows whose (patient pseudonym, facility, event date) repeats an earlier row, as a share
  of the transfer's rows; fails above ``duplicate_pct``.

``passed`` is a nullable boolean: missing where a check has no value to judge (a kind whose table
carries no event date, such as the bilirubin pairs' month, has no lag), never "passed" by default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd

from data_products.restricted.registry import SPECS

CHECKS = ("completeness", "validity", "timeliness", "duplicates")
_YEAR = re.compile(r"_(\d{4})\.csv$")
# Columns that every restricted table carries for bookkeeping, not as data.
_BOOKKEEPING = {"transfer_id"}


@dataclass(frozen=True)
class Thresholds:
    completeness_drop: float = 10.0
    timeliness_slack_days: float = 31.0
    duplicate_pct: float = 1.0


@dataclass(frozen=True)
class KindTable:
    kind: str
    table: str
    fields: tuple[str, ...]
    event: str | None
    has_pseudonym: bool


def kind_tables(con: duckdb.DuckDBPyConnection) -> list[KindTable]:
    """Each registered kind's table as it exists in the store, with its event-date column (the first
    DATE or TIMESTAMP column) and its data fields. Names come from the store's own catalog."""
    out = []
    existing = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    for kind, spec in sorted(SPECS.items()):
        if spec.table not in existing:
            continue
        cols = con.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? "
                           "ORDER BY ordinal_position", [spec.table]).fetchall()
        names = [c for c, _ in cols if c not in _BOOKKEEPING]
        event = next((c for c, t in cols if t.upper() in ("DATE", "TIMESTAMP") or t.upper().startswith("TIMESTAMP")), None)
        out.append(KindTable(kind, spec.table, tuple(names), event, "pseudonym" in names))
    return out


def _q(name: str) -> str:
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise ValueError(f"unexpected column name {name!r} in the restricted store")
    return f'"{name}"'


def transfers(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Live transfers (not superseded) with rows, event span, lag and duplicates."""
    manifests = con.execute(
        "SELECT transfer_id, facility_id, kind, file_name, rows_accepted, rows_rejected, schema_version, ingested_at "
        "FROM manifests WHERE superseded_by IS NULL ORDER BY facility_id, kind, file_name").df()
    parts = []
    for kt in kind_tables(con):
        if kt.event is None:
            continue
        ev, tb = _q(kt.event), _q(kt.table)
        dup = (f"COUNT(*) - COUNT(DISTINCT (t.pseudonym, t.facility_id, CAST(t.{ev} AS DATE)))" if kt.has_pseudonym else "0")
        sql = f"""
        SELECT t.transfer_id,
               MIN(CAST({ev} AS DATE)) AS first_event,
               MAX(CAST({ev} AS DATE)) AS last_event,
               median(date_diff('day', CAST({ev} AS DATE), CAST(m.ingested_at AS DATE)))::DOUBLE AS median_lag_days,
               date_diff('day', MAX(CAST({ev} AS DATE)), CAST(ANY_VALUE(m.ingested_at) AS DATE))::DOUBLE AS last_event_lag_days,
               ({dup})::BIGINT AS duplicate_rows
        FROM {tb} t JOIN manifests m USING (transfer_id)
        GROUP BY t.transfer_id
        """  # noqa: S608 - identifiers from the store's catalog, checked by _q
        parts.append(con.execute(sql).df())
    stats = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["transfer_id"])
    out = manifests.merge(stats, on="transfer_id", how="left")
    out["year"] = out["file_name"].str.extract(_YEAR, expand=False).fillna("")
    out["duplicate_pct"] = 100.0 * out["duplicate_rows"] / out["rows_accepted"].where(out["rows_accepted"] > 0)
    return out


def field_completeness(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Long frame: transfer_id, kind, field, filled, rows (only live transfers are in the tables)."""
    parts = []
    for kt in kind_tables(con):
        sel = ", ".join(f"COUNT({_q(f)})::BIGINT AS {_q(f)}" for f in kt.fields)
        wide = con.execute(f"SELECT transfer_id, COUNT(*)::BIGINT AS _rows, {sel} FROM {_q(kt.table)} "  # noqa: S608
                           "GROUP BY transfer_id").df()
        long = wide.melt(id_vars=["transfer_id", "_rows"], var_name="field", value_name="filled")
        parts.append(long.rename(columns={"_rows": "rows"}).assign(kind=kt.kind))
    if not parts:
        return pd.DataFrame(columns=["transfer_id", "kind", "field", "filled", "rows"])
    out = pd.concat(parts, ignore_index=True)
    return out[["transfer_id", "kind", "field", "filled", "rows"]]


def rejections(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Rejected files, each marked resolved when an accepted transfer of that file arrived later."""
    rej = con.execute("SELECT facility_id, kind, file_name, issues, rejected_at, reason FROM rejections "
                      "ORDER BY rejected_at").df()
    acc = con.execute("SELECT facility_id, file_name, MAX(ingested_at) AS accepted_at FROM manifests "
                      "GROUP BY facility_id, file_name").df()
    rej = rej.merge(acc, on=["facility_id", "file_name"], how="left")
    rej["resolved"] = rej["accepted_at"].notna() & (rej["accepted_at"] >= rej["rejected_at"])
    rej["first_issue"] = rej["reason"].str.split("\n").str[0].str.slice(0, 300)
    return rej.drop(columns=["reason", "accepted_at"])


NOT_ASSESSED = "not assessed: this kind's table has no event date (or no rows), so there is no value to judge"


def _judged(value, reference, ok) -> bool | None:
    """A check's status from its own value: passed or failed when there is a value to judge, else
    missing (not assessed). A missing value must never read as "passed" (issue 15)."""
    if pd.isna(value) or pd.isna(reference):
        return None
    return bool(ok(value, reference))


def evaluate(trans: pd.DataFrame, completeness: pd.DataFrame, rejected: pd.DataFrame,
             th: Thresholds = Thresholds()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-transfer checks, per-field completeness with the city's share and pass/fail)."""
    comp = completeness.copy()
    comp["pct"] = 100.0 * comp["filled"] / comp["rows"].where(comp["rows"] > 0)
    city = comp.groupby(["kind", "field"])[["filled", "rows"]].sum()
    comp = comp.join((100.0 * city["filled"] / city["rows"]).rename("city_pct"), on=["kind", "field"])
    comp["passed"] = ~(comp["pct"] < comp["city_pct"] - th.completeness_drop)
    worst = comp.assign(gap=comp["city_pct"] - comp["pct"]).sort_values("gap", ascending=False)
    worst = worst.groupby("transfer_id").head(1).set_index("transfer_id")
    failed_fields = comp[~comp["passed"]].groupby("transfer_id")["field"].apply(lambda s: ", ".join(sorted(s)))

    t = trans.copy()
    med = t.groupby(["kind", "year"])["last_event_lag_days"].median().rename("city_lag_days")
    t = t.join(med, on=["kind", "year"])
    rows = []
    for r in t.itertuples(index=False):
        base = {"transfer_id": r.transfer_id, "facility_id": r.facility_id, "kind": r.kind, "file_name": r.file_name,
                "year": r.year}
        w = worst.loc[r.transfer_id] if r.transfer_id in worst.index else None
        rows.append({**base, "check": "completeness",
                     "value": float(w["pct"]) if w is not None else np.nan,
                     "reference": float(w["city_pct"]) if w is not None else np.nan,
                     "passed": r.transfer_id not in failed_fields.index,
                     "detail": failed_fields.get(r.transfer_id, "")})
        rows.append({**base, "check": "validity", "value": 100.0, "reference": 100.0, "passed": True, "detail": ""})
        lag, city_lag = r.last_event_lag_days, r.city_lag_days
        rows.append({**base, "check": "timeliness", "value": lag, "reference": city_lag,
                     "passed": _judged(lag, city_lag, lambda v, ref: v <= ref + th.timeliness_slack_days),
                     "detail": f"median days from event to transfer: {r.median_lag_days:.0f}"
                     if pd.notna(r.median_lag_days) else NOT_ASSESSED if pd.isna(lag) else ""})
        dup = r.duplicate_pct
        rows.append({**base, "check": "duplicates", "value": dup, "reference": th.duplicate_pct,
                     "passed": _judged(dup, th.duplicate_pct, lambda v, ref: v <= ref),
                     "detail": NOT_ASSESSED if pd.isna(dup) else ""})
    for r in rejected.itertuples(index=False):
        year = _YEAR.search(r.file_name)
        rows.append({"transfer_id": "", "facility_id": r.facility_id, "kind": r.kind or "", "file_name": r.file_name,
                     "year": year.group(1) if year else "", "check": "validity", "value": 0.0, "reference": 100.0,
                     "passed": bool(r.resolved), "detail": f"rejected ({r.issues} issues): {r.first_issue}"})
    checks = pd.DataFrame(rows, columns=["transfer_id", "facility_id", "kind", "file_name", "year", "check", "value",
                                         "reference", "passed", "detail"])
    checks["passed"] = checks["passed"].astype("boolean")
    return checks, comp.drop(columns=["filled"])


def run(con: duckdb.DuckDBPyConnection, th: Thresholds = Thresholds()) -> dict[str, pd.DataFrame]:
    """Everything the supplier report needs, before disclosure control."""
    trans = transfers(con)
    comp = field_completeness(con)
    rej = rejections(con)
    checks, comp = evaluate(trans, comp, rej, th)
    return {"transfers": trans, "completeness": comp, "rejections": rej, "checks": checks}

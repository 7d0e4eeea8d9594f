"""Supplier-quality release: transfers, rejections and data-quality checks per facility.

Row counts per facility, kind and year are the only person counts here; they go through disclosure
control, and every percentage resting on a transfer's rows (completeness, duplicates) is released only
where that transfer's count is. File-level facts (names, arrival times, rejections, lags) are about
transfers, not people, and are released as they are; event dates are coarsened to months.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from data_products import disclosure, quality
from data_products.disclosure import ALL, Table
from data_products.products.supplier_quality import PRODUCT_ID  # noqa: E402,F401 - the pipeline reads it here

DIMS = ("facility_id", "kind", "year")
ROW_DEPENDENT_CHECKS = ("completeness", "duplicates")


def _declared(tables: dict[str, pd.DataFrame]) -> list[Table]:
    return [Table("transfer_rows", tables["transfer_rows"], DIMS, ("rows",))]


def _released_cells(rows: pd.DataFrame) -> set[tuple[str, str, str]]:
    ok = rows[rows["rows"].notna() & (rows[list(DIMS)] != ALL).all(axis=1)]
    return set(map(tuple, ok[list(DIMS)].to_numpy().tolist()))


def _mask(frame: pd.DataFrame, released: set, columns: list[str], where: pd.Series | None = None) -> pd.DataFrame:
    key = list(zip(frame["facility_id"], frame["kind"], frame["year"], strict=True))
    hidden = pd.Series([k not in released for k in key], index=frame.index)
    if where is not None:
        hidden &= where
    frame = frame.copy()
    for c in columns:
        frame.loc[hidden, c] = np.nan
    frame["suppressed"] = hidden
    return frame


def build(con: duckdb.DuckDBPyConnection):
    from data_products.pipeline import Candidate

    q = quality.run(con)
    trans = q["transfers"]
    counts = trans[trans["year"] != ""][list(DIMS) + ["rows_accepted"]].rename(columns={"rows_accepted": "rows"})
    cube = disclosure.add_margins(counts, DIMS, ["rows"])
    protected = disclosure.protect_tables(_declared({"transfer_rows": cube}))["transfer_rows"]
    released = _released_cells(protected)

    tr = trans.assign(first_event_month=pd.to_datetime(trans["first_event"]).dt.strftime("%Y-%m"),
                      last_event_month=pd.to_datetime(trans["last_event"]).dt.strftime("%Y-%m"))
    tr = tr[["transfer_id", "facility_id", "kind", "file_name", "year", "schema_version", "ingested_at",
             "first_event_month", "last_event_month", "median_lag_days", "last_event_lag_days", "duplicate_pct"]]
    tr = _mask(tr, released, ["duplicate_pct"])
    checks = _mask(q["checks"], released, ["value", "reference"], q["checks"]["check"].isin(ROW_DEPENDENT_CHECKS))
    comp = q["completeness"].merge(trans[["transfer_id", "facility_id", "year"]], on="transfer_id", how="left")
    comp = _mask(comp.drop(columns=["rows"]), released, ["pct"])
    rej = q["rejections"]
    meta = {
        "title_zh": "数据供给方质量报告",
        "title_en": "Supplier data-quality report",
        "source": "manifests, rejections and every kind's table in the restricted zone (aggregates only)",
        "lineage": sorted(trans["transfer_id"].tolist()),
        "thresholds": quality.Thresholds().__dict__,
        "checks": list(quality.CHECKS),
        "time_span": sorted(y for y in trans["year"].unique() if y) if len(trans) else [],
        "suppression_rule": "Row counts per facility, kind and year pass disclosure control; percentages that rest "
                            "on a suppressed count are withheld.",
    }
    tables = {"transfer_rows": protected, "transfers": tr.reset_index(drop=True), "checks": checks.reset_index(drop=True),
              "completeness": comp.reset_index(drop=True), "rejections": rej.reset_index(drop=True)}
    return Candidate(PRODUCT_ID, tables, meta)


def check(tables: dict[str, pd.DataFrame], meta: dict) -> list[str]:
    problems = disclosure.check_tables(_declared(tables), min_cell=meta.get("min_cell"))
    released = _released_cells(tables["transfer_rows"])
    for name, cols, only in (("checks", ["value", "reference"], True), ("completeness", ["pct"], False),
                             ("transfers", ["duplicate_pct"], False)):
        frame = tables[name]
        if frame.empty:
            continue
        key = pd.Series(list(zip(frame["facility_id"], frame["kind"], frame["year"], strict=True)), index=frame.index)
        hidden = ~key.isin(released)
        if only:
            hidden &= frame["check"].isin(ROW_DEPENDENT_CHECKS) & (frame["transfer_id"] != "")
        leaked = hidden & frame[cols].notna().any(axis=1)
        problems += [f"[{name} row {i}] value released for a suppressed transfer count" for i in frame.index[leaked]]
    if "rows_accepted" in tables["transfers"].columns:
        problems.append("[transfers] raw rows_accepted must not be released outside transfer_rows")
    return problems

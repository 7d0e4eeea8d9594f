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

from data_products import disclosure
from data_products.config import min_cell
from data_products.disclosure import ALL, Table
from data_products.products.base import Candidate
from data_products.products.supplier_quality import PRODUCT_ID  # noqa: E402,F401 - the pipeline reads it here

DIMS = ("facility_id", "kind", "year")
# Its row counts are other products' facility totals: protected against their new candidates.
PROCESS_LAST = True
ROW_DEPENDENT_CHECKS = ("completeness", "duplicates")


def _declared(tables: dict[str, pd.DataFrame]) -> list[Table]:
    return [Table("transfer_rows", tables["transfer_rows"], DIMS, ("rows",))]


# The count tables this release protects, by name: what `approve` compares with earlier releases.
count_tables = _declared


EVENT_COLUMNS = ("first_event_month", "last_event_month", "median_lag_days", "last_event_lag_days")


def _small(counts: pd.Series, k: int) -> pd.Series:
    c = pd.to_numeric(counts, errors="coerce")
    return (c >= 1) & (c < k)


# Row counts other products publish too, built from the same restricted records: kind -> (product,
# table, measure, the product's cell for a supplier cell (facility, year)). A facility's rows of a kind
# are that product's facility total; tumor also by year.
SHARED = {
    "pneumonia": ("pneumonia_atlas", "facility_month", "cases",
                  lambda f, y: {"facility_id": f, "month": ALL} if y == ALL else None),
    "tumor": ("tumor_distribution", "facility_year", "patients",
              lambda f, y: {"facility_id": f, "tumor_group": ALL, "year": y}),
    "elderly_weight": ("elderly_weight_atlas", "facility_cube", "n",
                       lambda f, y: {"facility_id": f, "category": ALL} if y == ALL else None),
    "visits": ("wait_times", "slot_cube", "visits",
               lambda f, y: {"facility_id": f, "department": ALL, "weekday": ALL, "hour": ALL} if y == ALL else None),
}


def _other_releases() -> dict[str, dict[str, pd.DataFrame]]:
    """Each sharing product's figures as they will be published: its newest candidate when newer than
    its current release (the pipeline processes this product last), else its current release."""
    from data_products import approved
    from data_products.config import paths

    out = {}
    for product, *_ in SHARED.values():
        live = approved.current_release_id(product)
        files = sorted((paths().candidates / product).glob("*.duckdb"))
        newest = files[-1].stem if files else None
        if newest and (live is None or newest > live):
            out[product] = approved.read_release_file(files[-1])[0]
        elif live:
            out[product] = approved.current(product).tables
    return out


def _partners(cube: pd.DataFrame, others: dict[str, dict[str, pd.DataFrame]]) -> pd.Series:
    """For each supplier cell, the same figure in another product: its value, NaN where that product
    hides it, absent where no product publishes it. A kind is linked only where every figure both
    publish agrees (a reader would see that they are the same count)."""
    out = pd.Series(index=cube.index, dtype="Float64")
    for kind, (product, table, measure, cell) in SHARED.items():
        frame = others.get(product, {}).get(table)
        if frame is None or measure not in frame.columns:
            continue
        dims = [c for c in frame.columns if c in cell(ALL, ALL) or c in ("facility_id",)]
        index = {tuple(str(v) for v in key): val
                 for key, val in zip(frame[dims].itertuples(index=False, name=None), frame[measure], strict=True)}
        vals = {}
        for i, f, kd, y in zip(cube.index, cube["facility_id"], cube["kind"], cube["year"], strict=True):
            if kd != kind:
                continue
            want = cell(f, y)
            if want is None:
                continue
            key = tuple(str(want[d]) for d in dims)
            if key in index:
                vals[i] = index[key]
        if not vals:
            continue
        got = pd.Series(vals, dtype="Float64")
        own = pd.to_numeric(cube.loc[got.index, "rows"], errors="coerce").astype("Float64")
        both = got.notna() & own.notna()
        if both.any() and (got[both] == own[both]).all():
            out.loc[got.index] = got
    return out


def _shared_decisions(cube: pd.DataFrame, others: dict[str, dict[str, pd.DataFrame]]) -> tuple[np.ndarray, np.ndarray]:
    """Same figure, same decision: hide what the other product hides (forced), keep what it shows (fixed)."""
    partner = _partners(cube, others)
    linked = pd.Series(False, index=cube.index)
    linked.loc[partner.dropna().index] = True
    hidden_there = pd.Series(False, index=cube.index)
    for i in partner.index:
        if i in cube.index and pd.isna(partner.loc[i]) and _is_linked(cube, i, others):
            hidden_there.loc[i] = True
    return hidden_there.to_numpy(), linked.to_numpy()


def _is_linked(cube: pd.DataFrame, i, others) -> bool:
    kind = cube.at[i, "kind"]
    if kind not in SHARED:
        return False
    product, table, measure, cell = SHARED[kind]
    frame = others.get(product, {}).get(table)
    if frame is None:
        return False
    want = cell(cube.at[i, "facility_id"], cube.at[i, "year"])
    if want is None:
        return False
    sel = np.logical_and.reduce([frame[d].astype(str) == str(v) for d, v in want.items()])
    return bool(sel.any()) and bool(frame.loc[sel, measure].isna().all())


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
    # The quality checks read the restricted zone's specs: imported here, on the pipeline's side, so the
    # registry (which the pages import) never loads the restricted zone.
    from data_products import quality

    q = quality.run(con)
    trans = q["transfers"]
    counts = trans[trans["year"] != ""][list(DIMS) + ["rows_accepted"]].rename(columns={"rows_accepted": "rows"})
    cube = disclosure.add_margins(counts, DIMS, ["rows"])
    forced, fixed = _shared_decisions(cube, _other_releases())
    protected = disclosure.protect_tables(_declared({"transfer_rows": cube}), forced={"transfer_rows": {"rows": forced}},
                                          fixed={"transfer_rows": {"rows": fixed}})["transfer_rows"]
    released = _released_cells(protected)

    k = min_cell()
    tr = trans.assign(first_event_month=pd.to_datetime(trans["first_event"]).dt.strftime("%Y-%m"),
                      last_event_month=pd.to_datetime(trans["last_event"]).dt.strftime("%Y-%m"))
    # A duplicate share times the released rows is a count of duplicated records: withheld when 1..k-1.
    small_dup = _small(tr["duplicate_rows"], k) | _small(tr["rows_accepted"] - tr["duplicate_rows"], k)
    tr.loc[small_dup, "duplicate_pct"] = np.nan
    tr = tr[["transfer_id", "facility_id", "kind", "file_name", "year", "schema_version", "ingested_at",
             "first_event_month", "last_event_month", "median_lag_days", "last_event_lag_days", "duplicate_pct"]]
    # Event months and lags of a transfer whose row count is hidden would date its few records.
    tr = _mask(tr, released, ["duplicate_pct", *EVENT_COLUMNS])
    comp = q["completeness"].merge(trans[["transfer_id", "facility_id", "year"]], on="transfer_id", how="left")
    # A field's share times the released rows counts the records with (and without) a value.
    filled = (comp["pct"] * comp["rows"] / 100.0).round()
    small_field = _small(filled, k) | _small(comp["rows"] - filled, k)
    comp.loc[small_field, "pct"] = np.nan
    coarse = set(comp.loc[small_field, "transfer_id"])
    comp = _mask(comp.drop(columns=["rows"]), released, ["pct"])
    checks = q["checks"].copy()
    worst_hidden = (checks["check"] == "completeness") & checks["transfer_id"].isin(coarse)
    dup_hidden = (checks["check"] == "duplicates") & checks["transfer_id"].isin(set(trans.loc[small_dup, "transfer_id"]))
    checks.loc[worst_hidden | dup_hidden, "value"] = np.nan
    checks = _mask(checks, released, ["value", "reference"], checks["check"].isin(ROW_DEPENDENT_CHECKS))
    # Timeliness of a hidden transfer is the date of its last record: withheld with its count.
    late = _mask(checks, released, ["value"], checks["check"] == "timeliness")
    checks["value"] = late["value"]
    checks.loc[late["suppressed"], "detail"] = ""
    checks["suppressed"] = checks["suppressed"] | late["suppressed"]
    rej = q["rejections"]
    meta = {
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
    k = meta.get("min_cell") or min_cell()
    problems += _derived_count_problems(tables, k)
    problems += [p for p in _cross_product_problems(tables, k) if p not in problems]
    return problems


def _live_others() -> dict[str, dict[str, pd.DataFrame]]:
    from data_products import approved

    out = {}
    for product, *_ in SHARED.values():
        if approved.current_release_id(product):
            out[product] = approved.current(product).tables
    return out


def _cross_product_problems(tables: dict[str, pd.DataFrame], k: int) -> list[str]:
    """The release as a reader holding the other products' current releases sees it."""
    cube = tables["transfer_rows"].reset_index(drop=True)
    others = _live_others()
    forced, fixed = _shared_decisions(cube, others)
    partner = _partners(cube, others)
    out = []
    shown = cube["rows"].notna().to_numpy()
    for i in np.flatnonzero(forced & shown):
        out.append(f"[transfer_rows row {i}] rows released although the product sharing this figure hides it")
    view = cube.copy()
    fill = fixed & ~shown
    if fill.any():
        view.loc[fill, "rows"] = partner[fill].astype("Int64").to_numpy()
        view.loc[fill, "rows_flag"] = ""
    out += [f"with the other products' figures: {p}" for p in disclosure.check_tables(_declared({"transfer_rows": view}), min_cell=k)]
    return out


def _derived_count_problems(tables: dict[str, pd.DataFrame], k: int) -> list[str]:
    """What a reader derives: a share times the transfer's released rows is a count; event dates of a
    transfer whose count is hidden date its records."""
    rows = tables["transfer_rows"]
    cells = rows[(rows[list(DIMS)] != ALL).all(axis=1) & rows["rows"].notna()]
    count = {tuple(r[:3]): float(r[3]) for r in cells[[*DIMS, "rows"]].itertuples(index=False)}
    out = []
    for name, col in (("completeness", "pct"), ("transfers", "duplicate_pct")):
        frame = tables[name]
        if frame.empty or col not in frame.columns:
            continue
        for i, f, kd, y, pct in zip(frame.index, frame["facility_id"], frame["kind"], frame["year"], frame[col],
                                    strict=True):
            n = count.get((f, kd, y))
            if pd.isna(pct) or n is None:
                continue
            got = round(float(pct) * n / 100.0)
            if 1 <= got < k or 1 <= n - got < k:
                out.append(f"[{name} row {i}] {col} {float(pct):.4g}% of {n:.0f} released rows gives a count "
                           f"from 1 to {k - 1}")
    released = _released_cells(rows)
    tr = tables["transfers"]
    if len(tr):
        key = pd.Series(list(zip(tr["facility_id"], tr["kind"], tr["year"], strict=True)), index=tr.index)
        hidden = ~key.isin(released)
        present = [c for c in EVENT_COLUMNS if c in tr.columns]
        shown = tr[present].notna() & (tr[present].astype(str) != "")
        leaked = hidden & shown.any(axis=1)
        out += [f"[transfers row {i}] event months or lags released for a transfer whose count is hidden"
                for i in tr.index[leaked]]
    return out

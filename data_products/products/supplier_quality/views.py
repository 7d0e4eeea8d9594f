"""Supplier report views: a hospital gets its own facility's rows and the city's distribution only.

The commission may pass any ``facility``; a hospital's ``facility`` is always its own (row scope),
whatever it asks for; nobody else holds a scenario for this product.
"""

from __future__ import annotations

import pandas as pd

from data_products import approved
from data_products.disclosure import ALL
from data_products.governance.gate import Grant, use
from data_products.products.scope import peer_summary
from data_products.products.supplier_quality import PRODUCT_ID


def _scoped(grant: Grant, facility: str | None) -> tuple[approved.Release, str | None]:
    g = use(grant, PRODUCT_ID, ("view",))
    scope = g.row_scope
    if scope.facility_names == "all":
        return g.release, facility
    if scope.own_facility is None:
        # Defensive: a scope without a facility sees no facility rows.
        return g.release, "\x00none"
    return g.release, scope.own_facility


def _own(frame: pd.DataFrame, facility: str | None) -> pd.DataFrame:
    if facility is None:
        return frame.reset_index(drop=True)
    return frame[frame["facility_id"] == facility].reset_index(drop=True)


def release_info(grant: Grant) -> dict:
    rel, facility = _scoped(grant, None)
    return {"release_id": rel.release_id, "meta": rel.meta, "approval": rel.approval, "facility": facility}


def transfers(grant: Grant, facility: str | None = None) -> pd.DataFrame:
    """The facility's live transfers, newest first, with released row counts (Int64, NA when suppressed)."""
    rel, fac = _scoped(grant, facility)
    tr = _own(rel.table("transfers"), fac)
    rows = rel.table("transfer_rows")
    rows = rows[(rows["facility_id"] != ALL) & (rows["kind"] != ALL) & (rows["year"] != ALL)]
    tr = tr.merge(rows[["facility_id", "kind", "year", "rows", "rows_flag"]], on=["facility_id", "kind", "year"],
                  how="left")
    return tr.sort_values(["ingested_at", "file_name"], ascending=[False, True]).reset_index(drop=True)


def summary(grant: Grant, facility: str | None = None) -> dict:
    """Counts of files, released rows accepted, rejected files and the last transfer time."""
    rel, fac = _scoped(grant, facility)
    tr = transfers(grant, facility)
    rej = _own(rel.table("rejections"), fac)
    rows = rel.table("transfer_rows")
    total = rows[(rows["facility_id"] == (fac or ALL)) & (rows["kind"] == ALL) & (rows["year"] == ALL)]["rows"]
    return {
        "files_accepted": len(tr),
        "rows_accepted": None if total.empty or pd.isna(total.iloc[0]) else int(total.iloc[0]),
        "rows_rejected": 0,  # ingest accepts or rejects whole files; rejected files are counted below
        "files_rejected": len(rej),
        "files_rejected_open": int((~rej["resolved"].astype(bool)).sum()) if len(rej) else 0,
        "last_transfer": tr["ingested_at"].max() if len(tr) else None,
    }


def rejections(grant: Grant, facility: str | None = None) -> pd.DataFrame:
    rel, fac = _scoped(grant, facility)
    return _own(rel.table("rejections"), fac).sort_values("rejected_at", ascending=False).reset_index(drop=True)


def checks(grant: Grant, facility: str | None = None) -> pd.DataFrame:
    """Each check on each of the facility's transfers (and rejected files): value, city reference, passed."""
    rel, fac = _scoped(grant, facility)
    return _own(rel.table("checks"), fac)


def completeness(grant: Grant, facility: str | None = None) -> pd.DataFrame:
    """Per transfer and field: the facility's share filled beside the city's share, pass/fail."""
    rel, fac = _scoped(grant, facility)
    return _own(rel.table("completeness"), fac)


def trend(grant: Grant, facility: str | None = None) -> pd.DataFrame:
    """Pass rate (%) of each check by data year: the facility's beside the city's (all facilities)."""
    rel, fac = _scoped(grant, facility)
    allc = rel.table("checks")
    allc = allc[allc["year"] != ""]
    city = allc.groupby(["check", "year"])["passed"].mean().mul(100).rename("city_pass_pct")
    mine = _own(allc, fac).groupby(["check", "year"])["passed"].mean().mul(100).rename("own_pass_pct")
    return pd.concat([mine, city], axis=1).reset_index().sort_values(["check", "year"]).reset_index(drop=True)


def facility_comparison(grant: Grant) -> pd.DataFrame:
    """Data-quality indicators of the user's facility beside the distribution over supplying facilities."""
    rel, fac = _scoped(grant, None)
    allc = rel.table("checks")
    per = allc.groupby(["facility_id", "check"])["passed"].mean().mul(100).unstack("check")
    rows = []
    for check in per.columns:
        released = per[check].dropna()
        mine = per[check].get(fac, float("nan")) if fac else float("nan")
        rows.append({"metric": f"{check}_pass_pct", "own": mine, "own_suppressed": pd.isna(mine),
                     **peer_summary(released, mine, fac)})
    return pd.DataFrame(rows).set_index("metric")


_CHECK_NAMES = {
    "completeness": ("完整性", "Completeness"),
    "validity": ("有效性", "Validity"),
    "timeliness": ("及时性", "Timeliness"),
    "duplicates": ("无重复", "No duplicates"),
}


def metric_label(metric_id: str, lang: str) -> str:
    """Row labels of ``facility_comparison`` for other pages (My hospital)."""
    check = metric_id.removesuffix("_pass_pct")
    zh, en = _CHECK_NAMES.get(check, (check, check))
    return f"{zh}检查通过率（%）" if lang == "zh" else f"{en} checks passed (%)"

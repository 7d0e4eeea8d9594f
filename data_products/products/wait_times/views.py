"""Wait-time views: approved release -> frames for the page and the feed. Every function asks the gate.

Row scope: the commission sees every facility by name. A hospital reads its own facility's
estimates, departments and doctors; in city-wide rankings its peers appear only as "Peer facility N"
/ "同级机构 N". Per-doctor figures go to nobody but the doctor's own hospital.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from data_products.disclosure import ALL
from data_products.governance.gate import Grant, use
from data_products.governance.store import LOCAL
from data_products.products.scope import name_facilities
from data_products.products.wait_times.spec import LEVEL_NONE, PRODUCT_ID, WEEKDAYS
from data_products.reference import facilities
from data_products.reference.facilities import DEPARTMENTS


class OutOfScope(PermissionError):
    """A hospital asked for another facility's rows."""


def _release(grant: Grant, action: str = "view"):
    """The release and decision a grant covers; a download needs a download grant."""
    g = use(grant, PRODUCT_ID, ("download",) if action == "download" else ("view", "download"))
    return g.release, g.decision


def _allowed(decision, facility_id: str) -> None:
    scope = decision.row_scope
    if scope.facility_names != "all" and facility_id != scope.own_facility:
        raise OutOfScope(f"facility {facility_id} is outside this user's row scope")


def release_info(grant: Grant) -> dict:
    rel, decision = _release(grant)
    return {"release_id": rel.release_id, "meta": rel.meta, "approval": rel.approval, "scope": decision.row_scope,
            "computed_at": rel.meta.get("built_at")}


def facility_options(grant: Grant) -> pd.DataFrame:
    """Facilities the user may pick (all for the commission, its own for a hospital) and their departments."""
    rel, decision = _release(grant)
    est = _visible_estimates(rel, decision)
    reg = facilities().set_index("facility_id")
    rows = [{"facility_id": f, "name_zh": reg.at[f, "name_zh"], "name_en": reg.at[f, "name_en"],
             "departments": sorted(g["department"].unique())} for f, g in est.groupby("facility_id", sort=True)]
    return pd.DataFrame(rows, columns=["facility_id", "name_zh", "name_en", "departments"])


def department_name(department: str, lang: str) -> str:
    zh, en = DEPARTMENTS.get(department, (department, department))
    return en if lang == "en" else zh


def estimate(grant: Grant, facility_id: str, department: str, weekday: str, hour: str) -> dict:
    """The published estimate for one slot: p50, p90 (minutes), level, released n or its flag."""
    rel, decision = _release(grant)
    _allowed(decision, facility_id)
    est = rel.table("estimates")
    hit = est[(est["facility_id"] == facility_id) & (est["department"] == department)
              & (est["weekday"] == weekday) & (est["hour"] == hour)]
    if hit.empty:
        return {"p50": np.nan, "p90": np.nan, "level": LEVEL_NONE, "n": None, "flag": "", "open": False}
    r = hit.iloc[0]
    return {"p50": float(r["p50"]), "p90": float(r["p90"]), "level": r["level"],
            "n": None if pd.isna(r["visits"]) else int(r["visits"]), "flag": r["visits_flag"] or "",
            "weight_slot": float(r["weight_slot"]), "open": True}


def _visible_estimates(rel, decision) -> pd.DataFrame:
    est = rel.table("estimates")
    scope = decision.row_scope
    return est if scope.facility_names == "all" else est[est["facility_id"] == scope.own_facility]


def departments(grant: Grant) -> list[str]:
    """Departments of the facilities the user may see (the board's choices)."""
    rel, decision = _release(grant)
    return sorted(_visible_estimates(rel, decision)["department"].unique())


def board(grant: Grant, department: str, weekday: str, hour: str) -> pd.DataFrame:
    """The wait-time board: every facility the user may see that has ``department``, with its published
    estimate for that weekday and hour (p50, p90 in minutes, the level it came from), shortest wait first;
    a facility whose department is closed in that slot comes last with ``open`` False."""
    rel, decision = _release(grant)
    est = _visible_estimates(rel, decision)
    dept = est[est["department"] == department]
    slot = dept[(dept["weekday"] == weekday) & (dept["hour"] == hour)].set_index("facility_id")
    reg = facilities().set_index("facility_id")
    rows = []
    for f in sorted(dept["facility_id"].unique()):
        hit = f in slot.index
        rows.append({"facility_id": f, "name_zh": reg.at[f, "name_zh"], "name_en": reg.at[f, "name_en"],
                     "p50": float(slot.at[f, "p50"]) if hit else np.nan,
                     "p90": float(slot.at[f, "p90"]) if hit else np.nan,
                     "level": slot.at[f, "level"] if hit else LEVEL_NONE, "open": hit})
    out = pd.DataFrame(rows, columns=["facility_id", "name_zh", "name_en", "p50", "p90", "level", "open"])
    return out.sort_values(["open", "p50", "facility_id"], ascending=[False, True, True],
                           na_position="last").reset_index(drop=True)


def current_slot(grant: Grant, department: str, now: datetime) -> tuple[str, str, bool]:
    """What "now" means on the board for ``department``: this weekday and hour (Beijing time) if a facility the
    user may see holds a clinic then, else the next weekday and hour that one does (within the week ahead);
    and whether it is the current hour. Without any clinic of the department, today at the current hour if the
    release has that hour (else its first hour), closed: always a slot the board offers."""
    rel, decision = _release(grant)
    est = _visible_estimates(rel, decision)
    dept = est[est["department"] == department]
    open_slots = set(zip(dept["weekday"].astype(str), dept["hour"].astype(str), strict=True))
    here = now.astimezone(LOCAL).replace(minute=0, second=0, microsecond=0)
    for step in range(7 * 24):
        at = here + timedelta(hours=step)
        slot = (str(at.isoweekday()), f"{at.hour:02d}")
        if slot in open_slots:
            return (*slot, step == 0)
    hour, offered = f"{here.hour:02d}", _hours(rel)
    return str(here.isoweekday()), hour if hour in offered or not offered else offered[0], False


def hours(grant: Grant) -> list[str]:
    """The hours the release has estimates for (the board's choices)."""
    return _hours(_release(grant)[0])


def _hours(rel) -> list[str]:
    return sorted(rel.table("estimates")["hour"].unique())


def heatmap(grant: Grant, facility_id: str, department: str, stat: str = "p50") -> pd.DataFrame:
    """Weekday (rows, ISO 1-7) x hour (columns) of the published estimate; NaN where none exists."""
    if stat not in ("p50", "p90"):
        raise ValueError(f"stat must be p50 or p90, not {stat!r}")
    rel, decision = _release(grant)
    _allowed(decision, facility_id)
    est = rel.table("estimates")
    est = est[(est["facility_id"] == facility_id) & (est["department"] == department)]
    grid = est.pivot(index="weekday", columns="hour", values=stat)
    return grid.reindex(index=list(WEEKDAYS), columns=_hours(rel))


def levels(grant: Grant, facility_id: str, department: str) -> pd.DataFrame:
    """Weekday x hour of the level each estimate rests on (slot / coarser), for the heatmap's marks."""
    rel, decision = _release(grant)
    _allowed(decision, facility_id)
    est = rel.table("estimates")
    est = est[(est["facility_id"] == facility_id) & (est["department"] == department)]
    return est.pivot(index="weekday", columns="hour", values="level").reindex(index=list(WEEKDAYS))


def _backtest(rel) -> pd.DataFrame:
    bt = rel.table("backtest")
    if "size_band" not in bt.columns:  # a release from before the per-slice accuracy
        bt = bt.assign(size_band=ALL, day_type=ALL)
    return bt


def accuracy(grant: Grant, facility_id: str | None = None) -> pd.DataFrame:
    """Backtest rows over all slot sizes and days: the facility's departments and its total (or the
    city's departments), plus the city."""
    rel, decision = _release(grant)
    bt = _backtest(rel)
    bt = bt[(bt["size_band"] == ALL) & (bt["day_type"] == ALL)]
    if facility_id is None:
        rows = bt[bt["facility_id"] == ALL]
    else:
        _allowed(decision, facility_id)
        rows = bt[(bt["facility_id"] == facility_id) | ((bt["facility_id"] == ALL) & (bt["department"] == ALL))]
    return rows.reset_index(drop=True)


def accuracy_slices(grant: Grant, facility_id: str = ALL) -> pd.DataFrame:
    """Backtest rows of the city (or one facility) by slot-size band and by day type: every released
    (size_band, day_type) combination, margins included, across all departments."""
    rel, decision = _release(grant)
    if facility_id != ALL:
        _allowed(decision, facility_id)
    bt = _backtest(rel)
    rows = bt[(bt["facility_id"] == facility_id) & (bt["department"] == ALL)]
    return rows.reset_index(drop=True)


def accuracy_gain(row: pd.Series | dict) -> dict:
    """What the page claims for a backtest row, from its released figures only: the relative cut in
    median absolute error against the fair baseline, and the change in P90 coverage (points)."""
    if pd.isna(row["n_test"]) or pd.isna(row["mae_p50"]) or pd.isna(row["mae_baseline"]) or not row["mae_baseline"]:
        return {"mae_cut": np.nan, "coverage_change": np.nan}
    return {"mae_cut": 1.0 - float(row["mae_p50"]) / float(row["mae_baseline"]),
            "coverage_change": float(row["within_p90"]) - float(row["within_baseline"])}


def _named(frame: pd.DataFrame, scope) -> pd.DataFrame:
    return name_facilities(frame, scope).drop(columns=["own"])


def longest_waits(grant: Grant, top: int = 15) -> pd.DataFrame:
    """Facility-departments across the city, longest median wait first (released cells only)."""
    rel, decision = _release(grant)
    cube = rel.table("slot_cube")
    fd = cube[(cube["facility_id"] != ALL) & (cube["department"] != ALL) & (cube["weekday"] == ALL)
              & (cube["hour"] == ALL) & cube["visits"].notna()]
    fd = fd.sort_values(["p50", "facility_id", "department"], ascending=[False, True, True]).head(top)
    return _named(fd[["facility_id", "department", "visits", "p50", "p90", "mean_wait"]], decision.row_scope).reset_index(drop=True)


def overall(grant: Grant) -> dict:
    """Across every facility and department of the release: visits and the median and P90 wait (minutes);
    None where the cell is not released."""
    rel, _ = _release(grant)
    cube = rel.table("slot_cube")
    row = cube[(cube["facility_id"] == ALL) & (cube["department"] == ALL) & (cube["weekday"] == ALL)
               & (cube["hour"] == ALL)]
    if row.empty or pd.isna(row.iloc[0]["visits"]):
        return {"visits": None, "p50": None, "p90": None}
    r = row.iloc[0]
    return {"visits": int(r["visits"]), "p50": float(r["p50"]), "p90": float(r["p90"])}


def city_departments(grant: Grant) -> pd.DataFrame:
    """Each department across all facilities: visits, p50, p90 (released cells only)."""
    rel, _ = _release(grant)
    cube = rel.table("slot_cube")
    rows = cube[(cube["facility_id"] == ALL) & (cube["department"] != ALL) & (cube["weekday"] == ALL)
                & (cube["hour"] == ALL)]
    return rows[["department", "visits", "visits_flag", "p50", "p90"]].sort_values("p50", ascending=False).reset_index(drop=True)


def own_departments(grant: Grant) -> pd.DataFrame:
    """A hospital's own departments: visits, p50, p90, by appointment and walk-in."""
    rel, decision = _release(grant)
    own = decision.row_scope.own_facility
    vt = rel.table("visit_type")
    rows = vt[(vt["facility_id"] == own) & (vt["department"] != ALL)] if own else vt.iloc[0:0]
    return rows[["department", "visit_type", "visits", "visits_flag", "p50", "p90"]].reset_index(drop=True)


def doctors(grant: Grant) -> pd.DataFrame:
    """Pseudonymous per-doctor figures of the user's own hospital; empty for anyone without one."""
    rel, decision = _release(grant)
    own = decision.row_scope.own_facility
    doc = rel.table("doctors")
    if not own:
        return doc.iloc[0:0][["department", "doctor_code", "visits", "visits_flag", "p50", "p90"]]
    rows = doc[(doc["facility_id"] == own) & (doc["department"] != ALL) & (doc["doctor_code"] != ALL)]
    return rows[["department", "doctor_code", "visits", "visits_flag", "p50", "p90"]].sort_values(
        ["department", "doctor_code"]).reset_index(drop=True)

"""Tumor-distribution views: approved release -> frames for the page. Every function asks the gate.

Nothing here reads the restricted zone. Facility names follow the gate's row scope: the commission
sees every facility; a hospital sees its own facility and the others only as district aggregates and a
distribution (``scope.PEER_RULE``); any other scope sees no facility rows.
A figure resting on a suppressed cell comes back marked ``suppressed`` with its reason.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd

from data_products.disclosure import ALL
from data_products.governance.gate import Grant, use
from data_products.products.scope import (
    PEER_RULE,
    aggregate_ok,
    deliver,
    name_facilities,
    peer_summary,
    shown_aggregates,
)
from data_products.products.tumor.spec import AGE_BANDS, C44, GROUP_IDS, MEASURE, OUTSIDE, PRODUCT_ID, SEXES, TIERS
from data_products.reference import district_geojson, districts, facilities


def _release(grant: Grant, action: str = "view"):
    """The release and decision a grant covers; a download needs a download grant."""
    g = use(grant, PRODUCT_ID, ("download",) if action == "download" else ("view", "download"))
    return g.release, g.decision


def release_info(grant: Grant) -> dict:
    rel, decision = _release(grant)
    return {"release_id": rel.release_id, "meta": rel.meta, "approval": rel.approval, "scope": decision.row_scope}


def periods(grant: Grant) -> dict[str, list[str]]:
    rel, _ = _release(grant)
    fq = rel.table("facility_quarter")
    fy = rel.table("facility_year")
    return {"years": sorted(y for y in fy["year"].unique() if y != ALL),
            "quarters": sorted(q for q in fq["quarter"].unique() if q != ALL)}


def _check_group(group: str) -> None:
    if group != ALL and group not in GROUP_IDS:
        raise ValueError(f"unknown tumor group {group!r}; use ALL or one of {', '.join(GROUP_IDS)}")


def _period_rows(rel, period: str) -> pd.DataFrame:
    """Facility rows (facility real) of one period: ALL, a year 'YYYY' or a quarter 'YYYYQn'."""
    if period == ALL or (len(period) == 4 and period.isdigit()):
        fy = rel.table("facility_year")
        return fy[fy["year"] == period]
    fq = rel.table("facility_quarter")
    if period not in set(fq["quarter"]):
        raise ValueError(f"unknown period {period!r}; use ALL, a year or a quarter like 2023Q2")
    return fq[fq["quarter"] == period]


@cache
def _centroids() -> dict[str, tuple[float, float]]:
    """A rough centre per district (mean of its boundary vertices): where anonymised peers are drawn."""
    out = {}
    for feat in district_geojson()["features"]:
        code = str(feat["properties"]["adcode"])
        geom = feat["geometry"]
        polys = geom["coordinates"] if geom["type"] == "MultiPolygon" else [geom["coordinates"]]
        ring = max((p[0] for p in polys), key=len)
        arr = np.asarray(ring, dtype=float)
        out[code] = (float(arr[:, 0].mean()), float(arr[:, 1].mean()))
    return out


def _named(frame: pd.DataFrame, scope) -> pd.DataFrame:
    """Names and location as the row scope allows: every facility for the commission, only its own for
    a hospital (other facilities reach it as district aggregates, ``district_aggregates``)."""
    reg = facilities().set_index("facility_id")
    out = name_facilities(frame.sort_values("facility_id").reset_index(drop=True), scope)
    out["lon"] = out["facility_id"].map(reg["lon"]).astype(float)
    out["lat"] = out["facility_id"].map(reg["lat"]).astype(float)
    if scope.facility_names == "all":
        out["own"] = False
    return out


def _facility_rows(rel, group: str, period: str) -> pd.DataFrame:
    rows = _period_rows(rel, period)
    rows = rows[(rows["facility_id"] != ALL) & (rows["tumor_group"] == group)]
    frame = rows[["facility_id", "district", "tier", MEASURE, f"{MEASURE}_flag"]].rename(
        columns={f"{MEASURE}_flag": "reason"})
    frame["suppressed"] = frame[MEASURE].isna()
    return frame


def facilities_view(grant: Grant, group: str = ALL, period: str = ALL) -> pd.DataFrame:
    """One row per facility the row scope names (all for the commission, its own for a hospital): shown id,
    names, district, tier, lon/lat, patients, suppressed, reason, own."""
    _check_group(group)
    rel, decision = _release(grant)
    out = _named(_facility_rows(rel, group, period), decision.row_scope)
    return out[["facility_id", "name_zh", "name_en", "district", "tier", "lon", "lat", MEASURE, "suppressed",
                "reason", "own"]]


def district_aggregates(grant: Grant, group: str = ALL, period: str = ALL) -> pd.DataFrame:
    """Per district, the facilities other than the user's own taken together: contributing facilities,
    patients, and whether the aggregate may be shown (``shown``; patients NA when not).

    Only released facility counts are summed, so an aggregate is a function of released cells and
    recovers nothing hidden; the rule in ``scope.PEER_RULE`` keeps a district's total from being one
    facility's count. For the commission, which sees every facility, this is the same sum by district.
    """
    _check_group(group)
    rel, decision = _release(grant)
    own = decision.row_scope.own_facility if decision.row_scope.facility_names == "own_only" else None
    groups = _others_by(rel, group, period, own, "district")
    shown = set(groups) if decision.row_scope.facility_names == "all" else shown_aggregates(groups)
    cent = _centroids()
    rows = []
    for district, released in sorted(groups.items()):
        ok = district in shown
        rows.append({"district": district, "facilities": int(released.size),
                     MEASURE: int(released.astype(float).sum()) if ok else pd.NA, "shown": ok,
                     "lon": cent[district][0], "lat": cent[district][1]})
    out = pd.DataFrame(rows, columns=["district", "facilities", MEASURE, "shown", "lon", "lat"])
    out[MEASURE] = pd.array(out[MEASURE], dtype="Int64")
    return out.sort_values("district").reset_index(drop=True)


def own_standing(grant: Grant, group: str = ALL, period: str = ALL) -> dict:
    """A hospital's own patients beside the distribution over the other facilities (``peer_summary``)."""
    _check_group(group)
    rel, decision = _release(grant)
    frame = _facility_rows(rel, group, period).set_index("facility_id")
    own = decision.row_scope.own_facility
    released = frame.loc[~frame["suppressed"], MEASURE].astype(float)
    mine = float(released.get(own, np.nan)) if own else np.nan
    return {"own": mine, "own_suppressed": bool(frame["suppressed"].get(own, True)) if own else True,
            **peer_summary(released, mine, own)}


def top_facilities(grant: Grant, group: str = ALL, period: str = ALL, n: int = 5) -> pd.DataFrame:
    """The n facilities with most released patients, with their share of the group's city total.

    Empty for a scope that does not name every facility: a ranking of anonymous peers by size names
    them again.
    """
    _check_group(group)
    rel, decision = _release(grant)
    f = _named(_facility_rows(rel, group, period), decision.row_scope)
    if decision.row_scope.facility_names != "all":
        f = f.iloc[0:0]
    total = city_total(grant, group, period)
    shown = f[~f["suppressed"]].sort_values([MEASURE, "facility_id"], ascending=[False, True]).head(n).copy()
    shown["share"] = shown[MEASURE].astype(float) / total if total else np.nan
    shown.insert(0, "rank", range(1, len(shown) + 1))
    return shown.reset_index(drop=True)


def city_total(grant: Grant, group: str = ALL, period: str = ALL) -> int | None:
    _check_group(group)
    rel, _ = _release(grant)
    rows = _period_rows(rel, period)
    v = rows.loc[(rows["facility_id"] == ALL) & (rows["tumor_group"] == group), MEASURE]
    return None if v.empty or pd.isna(v.iloc[0]) else int(v.iloc[0])


OTHER_DISTRICTS = "other_districts"


def _others_by(rel, group: str, period: str, own: str | None, key: str) -> dict[str, pd.Series]:
    """Released patients of each facility other than ``own``, grouped by ``key`` (district or tier); a group
    whose facilities are all suppressed is absent (it adds nothing to any total shown)."""
    frame = _facility_rows(rel, group, period)
    frame = frame[(frame["facility_id"] != own) & ~frame["suppressed"]]
    return {k: g.set_index("facility_id")[MEASURE] for k, g in frame.groupby(key)}


def flows(grant: Grant, group: str = ALL) -> pd.DataFrame:
    """Whole-span patients from each home district (or 'outside') to each facility district.

    Only released, non-zero flows; a suppressed flow is listed with ``suppressed`` True and no count.
    For a hospital a facility district is a destination only where the other facilities in it pass the
    district-aggregate rule (``scope.PEER_RULE``); the rest are merged into ``other_districts`` (itself
    dropped if even the merged facilities fail the rule), so a district's inflow is never one facility's.
    """
    _check_group(group)
    rel, decision = _release(grant)
    fl = rel.table("flows")
    rows = fl[(fl["tumor_group"] == group) & (fl["home_district"] != ALL) & (fl["facility_district"] != ALL)]
    out = rows[["home_district", "facility_district", MEASURE, f"{MEASURE}_flag"]].rename(
        columns={f"{MEASURE}_flag": "reason"})
    out["suppressed"] = out[MEASURE].isna()
    if decision.row_scope.facility_names != "all":
        own = decision.row_scope.own_facility
        others = _others_by(rel, group, ALL, own, "district")
        fine = shown_aggregates(others)
        rest = [v for d, v in others.items() if d not in fine]
        merged_ok = bool(rest) and aggregate_ok(pd.concat(rest))
        out = out.assign(facility_district=out["facility_district"].where(
            out["facility_district"].isin(fine), OTHER_DISTRICTS))
        if not merged_ok:
            out = out[out["facility_district"] != OTHER_DISTRICTS]
        # Merged destinations: the sum of their released flows (a function of released cells only).
        out = (out.groupby(["home_district", "facility_district"], as_index=False)
               .agg(**{MEASURE: (MEASURE, lambda v: v.dropna().sum() if v.notna().any() else pd.NA),
                       "reason": ("reason", lambda r: "" if (r == "").all() else "partial"),
                       "suppressed": ("suppressed", "all")}))
        out[MEASURE] = pd.array(out[MEASURE], dtype="Int64")
    out = out[out["suppressed"] | (out[MEASURE] > 0)]
    return out.sort_values(["home_district", "facility_district"]).reset_index(drop=True)


def leaving(grant: Grant, group: str = ALL) -> pd.DataFrame:
    """Per home district (and the city, ALL) and year (and ALL): resident patients treated in their own
    district, elsewhere in the city, and the share leaving. Non-residents are in neither count (they
    are 'nonresident' in the release; see ``nonresidents``). A share is shown only where both counts
    are released."""
    _check_group(group)
    rel, _ = _release(grant)
    o = rel.table("outflow")
    o = o[(o["tumor_group"] == group) & (o["home_district"] != OUTSIDE)]
    wide = o.pivot_table(index=["home_district", "year"], columns="treated", values=MEASURE, aggfunc="first",
                         dropna=False)
    flags = o.pivot_table(index=["home_district", "year"], columns="treated", values=f"{MEASURE}_flag",
                          aggfunc="first", dropna=False)
    out = pd.DataFrame(index=wide.index)
    for c in ("own", "other", ALL):
        out[c] = pd.array(wide[c], dtype="Int64") if c in wide else pd.array([pd.NA] * len(wide), dtype="Int64")
    ok = out["own"].notna() & out["other"].notna() & ((out["own"] + out["other"]) > 0)
    out["share_leaving"] = np.where(ok, out["other"].astype("Float64") / (out["own"] + out["other"]).astype("Float64"),
                                    np.nan).astype(float)
    out["suppressed"] = ~ok
    reasons = flags.reindex(columns=["own", "other"]).fillna("")
    out["reason"] = np.where(ok, "", np.where((reasons == "primary").any(axis=1), "primary", "secondary"))
    return out.reset_index()


def nonresidents(grant: Grant, group: str = ALL) -> pd.DataFrame:
    """Per year (and ALL): patients living outside Guangzhou, all patients, and their share; a share
    only where both counts are released."""
    _check_group(group)
    rel, _ = _release(grant)
    o = rel.table("outflow")
    o = o[(o["tumor_group"] == group) & (o["home_district"] == ALL)]
    non = o[o["treated"] == "nonresident"].set_index("year")
    allp = o[o["treated"] == ALL].set_index("year")
    years = sorted(allp.index, key=lambda y: (y == ALL, y))
    out = pd.DataFrame({"year": years})
    out["nonresident"] = pd.array(non[MEASURE].reindex(years).to_numpy(), dtype="Int64")
    out["patients"] = pd.array(allp[MEASURE].reindex(years).to_numpy(), dtype="Int64")
    ok = out["nonresident"].notna() & out["patients"].notna() & (out["patients"].fillna(0) > 0)
    out["share"] = np.where(ok, out["nonresident"].astype("Float64") / out["patients"].astype("Float64"),
                            np.nan).astype(float)
    out["suppressed"] = ~ok
    return out


def c44(grant: Grant, period: str = ALL) -> dict:
    """C44 (non-melanoma skin) patients, shown apart from the totals: the city's count for a year or the
    whole span, and per year. None where suppressed."""
    rel, _ = _release(grant)
    t = rel.table("c44")
    city = t[t["facility_id"] == ALL].set_index("year")[MEASURE]
    value = city.get(period, pd.NA)
    return {"group": C44.id, "icd10": C44.icd10, "name_zh": C44.name_zh, "name_en": C44.name_en,
            "patients": None if pd.isna(value) else int(value),
            "by_year": {y: (None if pd.isna(v) else int(v)) for y, v in city.items() if y != ALL}}


def _tier_shown(rel, decision, group: str, year: str) -> set[str]:
    """Tiers whose figures a scope may see: all for the commission; for a hospital the tiers whose
    other facilities pass the aggregate rule (the cancer hospital alone is a tier of its own)."""
    if decision.row_scope.facility_names == "all":
        return set(TIERS)
    return shown_aggregates(_others_by(rel, group, year, decision.row_scope.own_facility, "tier"))


def tier_split(grant: Grant, group: str = ALL, year: str = ALL) -> pd.DataFrame:
    _check_group(group)
    rel, decision = _release(grant)
    tp = rel.table("tier_profile")
    rows = tp[(tp["tumor_group"] == group) & (tp["year"] == year) & (tp["age_band"] == ALL) & (tp["sex"] == ALL)
              & (tp["tier"] != ALL)]
    out = rows.set_index("tier").reindex(list(TIERS))[[MEASURE, f"{MEASURE}_flag"]].rename(
        columns={f"{MEASURE}_flag": "reason"})
    hide = ~out.index.isin(list(_tier_shown(rel, decision, group, year)))
    out.loc[hide, MEASURE] = pd.NA
    out.loc[hide, "reason"] = "peer_rule"
    out["suppressed"] = out[MEASURE].isna()
    total = out[MEASURE].sum() if not out["suppressed"].any() else np.nan
    out["share"] = out[MEASURE].astype(float) / total if total and pd.notna(total) else np.nan
    return out.reset_index()


def age_sex(grant: Grant, group: str = ALL, year: str = ALL, tier: str = ALL) -> pd.DataFrame:
    _check_group(group)
    rel, decision = _release(grant)
    if tier != ALL and tier not in _tier_shown(rel, decision, group, year):
        raise ValueError(f"tier {tier!r} is not shown to this scope (peer rule)")
    tp = rel.table("tier_profile")
    rows = tp[(tp["tumor_group"] == group) & (tp["year"] == year) & (tp["tier"] == tier)
              & (tp["age_band"] != ALL) & (tp["sex"] != ALL)]
    out = rows[["age_band", "sex", MEASURE, f"{MEASURE}_flag"]].rename(columns={f"{MEASURE}_flag": "reason"})
    out["suppressed"] = out[MEASURE].isna()
    order = {a: i for i, a in enumerate(AGE_BANDS)}
    return out.sort_values(["age_band", "sex"], key=lambda s: s.map(order) if s.name == "age_band"
                           else s.map({x: i for i, x in enumerate(SEXES)})).reset_index(drop=True)


def sex_ratio(grant: Grant, group: str, year: str = ALL) -> float | None:
    """Male:female ratio of a group's patients (city, all ages) from released cells; None if hidden."""
    rel, _ = _release(grant)
    tp = rel.table("tier_profile")
    rows = tp[(tp["tumor_group"] == group) & (tp["year"] == year) & (tp["tier"] == ALL) & (tp["age_band"] == ALL)]
    v = rows.set_index("sex")[MEASURE]
    m, f = v.get("M", pd.NA), v.get("F", pd.NA)
    if pd.isna(m) or pd.isna(f) or f == 0:
        return None
    return float(m) / float(f)


def group_totals(grant: Grant, period: str = ALL) -> pd.DataFrame:
    """City patients per tumor group (for ranking sites), with share of all diagnoses."""
    rel, _ = _release(grant)
    rows = _period_rows(rel, period)
    rows = rows[rows["facility_id"] == ALL].set_index("tumor_group")
    total = rows.at[ALL, MEASURE]
    out = rows.reindex(list(GROUP_IDS))[[MEASURE, f"{MEASURE}_flag"]].rename(columns={f"{MEASURE}_flag": "reason"})
    out["suppressed"] = out[MEASURE].isna()
    out["share"] = out[MEASURE].astype(float) / float(total) if pd.notna(total) else np.nan
    return out.reset_index()


def trend(grant: Grant, group: str = ALL, by: str = "year") -> pd.DataFrame:
    """City patients of a group per year or quarter."""
    _check_group(group)
    rel, _ = _release(grant)
    name, col = ("facility_year", "year") if by == "year" else ("facility_quarter", "quarter")
    t = rel.table(name)
    rows = t[(t["facility_id"] == ALL) & (t["tumor_group"] == group) & (t[col] != ALL)]
    out = rows[[col, MEASURE, f"{MEASURE}_flag"]].rename(columns={col: "period", f"{MEASURE}_flag": "reason"})
    out["suppressed"] = out[MEASURE].isna()
    return out.sort_values("period").reset_index(drop=True)


def download(grant: Grant, group: str = ALL, period: str = ALL) -> tuple[bytes, bytes]:
    """The facility table shown as CSV (suppression flags), and its metadata JSON; gated and audited.

    The commission's file has every facility; a hospital's has its own facility and the district
    aggregates of the others that pass the rule (``row_kind`` says which a row is).
    """
    _, decision = _release(grant)

    def frame(dl: Grant) -> pd.DataFrame:
        return _download_frame(dl, group, period)

    return deliver(grant, PRODUCT_ID, f"tumor_{group}_{period}.csv", {"tumor_group": group, "period": period}, frame,
                   peer_rule=PEER_RULE["en"] if decision.row_scope.facility_names != "all" else None)


def _download_frame(grant: Grant, group: str, period: str) -> pd.DataFrame:
    _, decision = _release(grant)
    d = districts().set_index("adcode")
    f = facilities_view(grant, group, period).drop(columns=["lon", "lat"])
    f.insert(0, "row_kind", np.where(f["own"], "own_facility", "facility"))
    f["facilities"] = 1
    if decision.row_scope.facility_names != "all":
        agg = district_aggregates(grant, group, period)
        agg = agg[agg["shown"]].drop(columns=["lon", "lat", "shown"])
        agg = agg.assign(row_kind="other_facilities_in_district", facility_id="", name_zh="", name_en="", tier="",
                         suppressed=False, reason="", own=False)
        f = pd.concat([f, agg[f.columns]], ignore_index=True)
    out = f.copy()
    out.insert(5, "district_name_zh", out["district"].map(d["name_zh"]))
    out.insert(6, "district_name_en", out["district"].map(d["name_en"]))
    out[MEASURE] = out[MEASURE].astype(object).where(~out["suppressed"].astype(bool), "")
    out = out.rename(columns={"reason": "suppression_reason"})
    out.insert(0, "tumor_group", group)
    out.insert(1, "period", period)
    return out

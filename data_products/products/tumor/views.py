"""Tumor-distribution views: approved release -> frames for the page. Every function asks the gate.

Nothing here reads the restricted zone. Facility names follow the gate's row scope: the commission
sees every facility; a hospital sees its own facility named and its peers as "Peer facility N"
(placed at their district's centre, tier withheld); any other scope sees no facility names.
A figure resting on a suppressed cell comes back marked ``suppressed`` with its reason.
"""

from __future__ import annotations

import hashlib
import io
import json
from functools import cache

import numpy as np
import pandas as pd

from data_products import approved
from data_products.disclosure import ALL
from data_products.governance import Principal, record_download, require
from data_products.products.scope import name_facilities
from data_products.products.tumor.spec import AGE_BANDS, C44, GROUP_IDS, MEASURE, OUTSIDE, PRODUCT_ID, SEXES, TIERS
from data_products.reference import district_geojson, districts, facilities

PEER_TIER = "peer"


def _release(user: Principal, action: str = "view"):
    decision = require(user, PRODUCT_ID, action)
    return approved.current(PRODUCT_ID), decision


def release_info(user: Principal) -> dict:
    rel, decision = _release(user)
    return {"release_id": rel.release_id, "meta": rel.meta, "approval": rel.approval, "scope": decision.row_scope}


def periods(user: Principal) -> dict[str, list[str]]:
    rel, _ = _release(user)
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
    """Add names, tier and location as the row scope allows; peers keep only their district."""
    reg = facilities().set_index("facility_id")
    out = frame.sort_values("facility_id").reset_index(drop=True)
    out["lon"] = out["facility_id"].map(reg["lon"]).astype(float)
    out["lat"] = out["facility_id"].map(reg["lat"]).astype(float)
    out = name_facilities(out, scope)
    if scope.facility_names == "all":
        out["own"] = False
        return out
    # Peers also lose their tier and exact position: they sit at their district's centre.
    peers = ~out["own"]
    cent = _centroids()
    out.loc[peers, "tier"] = PEER_TIER
    out.loc[peers, "lon"] = [cent[d][0] for d in out.loc[peers, "district"]]
    out.loc[peers, "lat"] = [cent[d][1] for d in out.loc[peers, "district"]]
    return out


def facilities_view(user: Principal, group: str = ALL, period: str = ALL) -> pd.DataFrame:
    """One row per facility: shown id, names, district, tier, lon/lat, patients, suppressed, reason, own."""
    _check_group(group)
    rel, decision = _release(user)
    rows = _period_rows(rel, period)
    rows = rows[(rows["facility_id"] != ALL) & (rows["tumor_group"] == group)]
    frame = rows[["facility_id", "district", "tier", MEASURE, f"{MEASURE}_flag"]].rename(
        columns={f"{MEASURE}_flag": "reason"})
    frame["suppressed"] = frame[MEASURE].isna()
    out = _named(frame, decision.row_scope)
    return out[["facility_id", "name_zh", "name_en", "district", "tier", "lon", "lat", MEASURE, "suppressed",
                "reason", "own"]]


def top_facilities(user: Principal, group: str = ALL, period: str = ALL, n: int = 5) -> pd.DataFrame:
    """The n facilities with most released patients, with their share of the group's city total."""
    f = facilities_view(user, group, period)
    total = city_total(user, group, period)
    shown = f[~f["suppressed"]].sort_values([MEASURE, "facility_id"], ascending=[False, True]).head(n).copy()
    shown["share"] = shown[MEASURE].astype(float) / total if total else np.nan
    shown.insert(0, "rank", range(1, len(shown) + 1))
    return shown.reset_index(drop=True)


def city_total(user: Principal, group: str = ALL, period: str = ALL) -> int | None:
    _check_group(group)
    rel, _ = _release(user)
    rows = _period_rows(rel, period)
    v = rows.loc[(rows["facility_id"] == ALL) & (rows["tumor_group"] == group), MEASURE]
    return None if v.empty or pd.isna(v.iloc[0]) else int(v.iloc[0])


def flows(user: Principal, group: str = ALL) -> pd.DataFrame:
    """Whole-span patients from each home district (or 'outside') to each facility district.

    Only released, non-zero flows; a suppressed flow is listed with ``suppressed`` True and no count.
    """
    _check_group(group)
    rel, _ = _release(user)
    fl = rel.table("flows")
    rows = fl[(fl["tumor_group"] == group) & (fl["home_district"] != ALL) & (fl["facility_district"] != ALL)]
    out = rows[["home_district", "facility_district", MEASURE, f"{MEASURE}_flag"]].rename(
        columns={f"{MEASURE}_flag": "reason"})
    out["suppressed"] = out[MEASURE].isna()
    out = out[out["suppressed"] | (out[MEASURE] > 0)]
    return out.sort_values(["home_district", "facility_district"]).reset_index(drop=True)


def leaving(user: Principal, group: str = ALL) -> pd.DataFrame:
    """Per home district (and the city, ALL) and year (and ALL): resident patients treated in their own
    district, elsewhere in the city, and the share leaving. Non-residents are in neither count (they
    are 'nonresident' in the release; see ``nonresidents``). A share is shown only where both counts
    are released."""
    _check_group(group)
    rel, _ = _release(user)
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


def nonresidents(user: Principal, group: str = ALL) -> pd.DataFrame:
    """Per year (and ALL): patients living outside Guangzhou, all patients, and their share; a share
    only where both counts are released."""
    _check_group(group)
    rel, _ = _release(user)
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


def c44(user: Principal, period: str = ALL) -> dict:
    """C44 (non-melanoma skin) patients, shown apart from the totals: the city's count for a year or the
    whole span, and per year. None where suppressed."""
    rel, _ = _release(user)
    t = rel.table("c44")
    city = t[t["facility_id"] == ALL].set_index("year")[MEASURE]
    value = city.get(period, pd.NA)
    return {"group": C44.id, "icd10": C44.icd10, "name_zh": C44.name_zh, "name_en": C44.name_en,
            "patients": None if pd.isna(value) else int(value),
            "by_year": {y: (None if pd.isna(v) else int(v)) for y, v in city.items() if y != ALL}}


def tier_split(user: Principal, group: str = ALL, year: str = ALL) -> pd.DataFrame:
    _check_group(group)
    rel, _ = _release(user)
    tp = rel.table("tier_profile")
    rows = tp[(tp["tumor_group"] == group) & (tp["year"] == year) & (tp["age_band"] == ALL) & (tp["sex"] == ALL)
              & (tp["tier"] != ALL)]
    out = rows.set_index("tier").reindex(list(TIERS))[[MEASURE, f"{MEASURE}_flag"]].rename(
        columns={f"{MEASURE}_flag": "reason"})
    out["suppressed"] = out[MEASURE].isna()
    total = out[MEASURE].sum() if not out["suppressed"].any() else np.nan
    out["share"] = out[MEASURE].astype(float) / total if total and pd.notna(total) else np.nan
    return out.reset_index()


def age_sex(user: Principal, group: str = ALL, year: str = ALL, tier: str = ALL) -> pd.DataFrame:
    _check_group(group)
    rel, _ = _release(user)
    tp = rel.table("tier_profile")
    rows = tp[(tp["tumor_group"] == group) & (tp["year"] == year) & (tp["tier"] == tier)
              & (tp["age_band"] != ALL) & (tp["sex"] != ALL)]
    out = rows[["age_band", "sex", MEASURE, f"{MEASURE}_flag"]].rename(columns={f"{MEASURE}_flag": "reason"})
    out["suppressed"] = out[MEASURE].isna()
    order = {a: i for i, a in enumerate(AGE_BANDS)}
    return out.sort_values(["age_band", "sex"], key=lambda s: s.map(order) if s.name == "age_band"
                           else s.map({x: i for i, x in enumerate(SEXES)})).reset_index(drop=True)


def sex_ratio(user: Principal, group: str, year: str = ALL) -> float | None:
    """Male:female ratio of a group's patients (city, all ages) from released cells; None if hidden."""
    rel, _ = _release(user)
    tp = rel.table("tier_profile")
    rows = tp[(tp["tumor_group"] == group) & (tp["year"] == year) & (tp["tier"] == ALL) & (tp["age_band"] == ALL)]
    v = rows.set_index("sex")[MEASURE]
    m, f = v.get("M", pd.NA), v.get("F", pd.NA)
    if pd.isna(m) or pd.isna(f) or f == 0:
        return None
    return float(m) / float(f)


def group_totals(user: Principal, period: str = ALL) -> pd.DataFrame:
    """City patients per tumor group (for ranking sites), with share of all diagnoses."""
    rel, _ = _release(user)
    rows = _period_rows(rel, period)
    rows = rows[rows["facility_id"] == ALL].set_index("tumor_group")
    total = rows.at[ALL, MEASURE]
    out = rows.reindex(list(GROUP_IDS))[[MEASURE, f"{MEASURE}_flag"]].rename(columns={f"{MEASURE}_flag": "reason"})
    out["suppressed"] = out[MEASURE].isna()
    out["share"] = out[MEASURE].astype(float) / float(total) if pd.notna(total) else np.nan
    return out.reset_index()


def trend(user: Principal, group: str = ALL, by: str = "year") -> pd.DataFrame:
    """City patients of a group per year or quarter."""
    _check_group(group)
    rel, _ = _release(user)
    name, col = ("facility_year", "year") if by == "year" else ("facility_quarter", "quarter")
    t = rel.table(name)
    rows = t[(t["facility_id"] == ALL) & (t["tumor_group"] == group) & (t[col] != ALL)]
    out = rows[[col, MEASURE, f"{MEASURE}_flag"]].rename(columns={col: "period", f"{MEASURE}_flag": "reason"})
    out["suppressed"] = out[MEASURE].isna()
    return out.sort_values("period").reset_index(drop=True)


def download(user: Principal, group: str = ALL, period: str = ALL) -> tuple[bytes, bytes]:
    """The facility table shown (names per row scope, suppression flags) as CSV, and its metadata JSON."""
    rel, decision = _release(user, "download")
    f = facilities_view(user, group, period)
    d = districts().set_index("adcode")
    out = f.drop(columns=["lon", "lat"]).copy()
    out.insert(4, "district_name_zh", out["district"].map(d["name_zh"]))
    out.insert(5, "district_name_en", out["district"].map(d["name_en"]))
    out[MEASURE] = out[MEASURE].astype(object).where(~out["suppressed"], "")
    out = out.rename(columns={"reason": "suppression_reason"})
    out.insert(0, "tumor_group", group)
    out.insert(1, "period", period)
    out["synthetic"] = bool(rel.meta.get("synthetic"))
    buf = io.StringIO()
    out.to_csv(buf, index=False)
    csv_bytes = buf.getvalue().encode("utf-8-sig")
    meta = {
        "product": PRODUCT_ID,
        "title_zh": rel.meta.get("title_zh"),
        "title_en": rel.meta.get("title_en"),
        "release_id": rel.release_id,
        "source": rel.meta.get("source"),
        "approval": {k: rel.approval.get(k) for k in ("approved_by", "approved_at", "content_hash")},
        "time_span": rel.meta.get("time_span"),
        "selection": {"tumor_group": group, "period": period},
        "facility_names": decision.row_scope.facility_names,
        "suppression_rule": rel.meta.get("suppression_rule"),
        "min_cell": rel.meta.get("min_cell"),
        "synthetic_notice": rel.meta.get("notice") or None,
    }
    meta_bytes = json.dumps(meta, ensure_ascii=False, indent=1).encode("utf-8")
    record_download(user, PRODUCT_ID, f"tumor_{group}_{period}.csv", sha256=hashlib.sha256(csv_bytes).hexdigest(),
                    n_bytes=len(csv_bytes))
    return csv_bytes, meta_bytes

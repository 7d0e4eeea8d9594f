"""Elderly body-weight atlas views: approved release -> frames for the page. Every function asks the gate.

Shares are category count / measured total of the same cell, both released; where either is hidden
the row says so (``suppressed`` with the reason) instead of showing a number.
"""

from __future__ import annotations

import hashlib
import io
import json

import numpy as np
import pandas as pd

from data_products import approved
from data_products.disclosure import ALL
from data_products.governance import Principal, record_download, require
from data_products.products.elderly_weight.spec import AGE_BANDS, CATEGORIES, PRODUCT_ID, SEXES
from data_products.reference import districts, facilities

BREAKDOWNS = {"age_band": AGE_BANDS, "sex": SEXES}


def _release(user: Principal, action: str = "view"):
    decision = require(user, PRODUCT_ID, action)
    return approved.current(PRODUCT_ID), decision


def release_info(user: Principal) -> dict:
    rel, decision = _release(user)
    return {"release_id": rel.release_id, "meta": rel.meta, "approval": rel.approval, "scope": decision.row_scope}


def _shares(cells: pd.DataFrame, key: str) -> pd.DataFrame:
    """Long frame key x category: count, measured, share (%), suppressed, reason."""
    total = cells[cells["category"] == ALL].set_index(key)
    rows = []
    for _, r in cells[cells["category"] != ALL].iterrows():
        k = r[key]
        den = total["n"].get(k, pd.NA)
        num = r["n"]
        hidden = pd.isna(num) or pd.isna(den)
        reason = ""
        if hidden:
            flags = {str(r["n_flag"]), str(total["n_flag"].get(k, "secondary"))}
            reason = "primary" if "primary" in flags else "secondary"
        rows.append({key: k, "category": r["category"], "count": num, "measured": den,
                     "share": np.nan if hidden or not den else 100.0 * float(num) / float(den),
                     "suppressed": hidden, "reason": reason})
    out = pd.DataFrame(rows, columns=[key, "category", "count", "measured", "share", "suppressed", "reason"])
    out["count"] = pd.array(out["count"], dtype="Int64")
    out["measured"] = pd.array(out["measured"], dtype="Int64")
    return out


def district_values(user: Principal, category: str, age_band: str = ALL, sex: str = ALL) -> pd.DataFrame:
    """One row per district (adcode index) plus 'ALL' for the city: count, measured, share, suppressed, reason."""
    if category not in CATEGORIES:
        raise ValueError(f"category: {category!r} is not one of {CATEGORIES}")
    rel, _ = _release(user)
    cube = rel.table("district_cube")
    rows = cube[(cube["age_band"] == age_band) & (cube["sex"] == sex)]
    shares = _shares(rows, "district")
    out = shares[shares["category"] == category].set_index("district").drop(columns="category")
    out = out.reindex([*districts()["adcode"], ALL])
    out["suppressed"] = out["suppressed"].fillna(True).astype(bool)
    out["reason"] = out["reason"].fillna("secondary")
    return out


def breakdown(user: Principal, by: str, district: str = ALL) -> pd.DataFrame:
    """Category shares by age band or sex (long form), city-wide or for one district."""
    if by not in BREAKDOWNS:
        raise ValueError(f"by: {by!r} is not one of {sorted(BREAKDOWNS)}")
    rel, _ = _release(user)
    cube = rel.table("district_cube")
    other = "sex" if by == "age_band" else "age_band"
    rows = cube[(cube["district"] == district) & (cube[other] == ALL) & (cube[by] != ALL)]
    return _shares(rows, by).sort_values([by, "category"]).reset_index(drop=True)


def city_profile(user: Principal) -> pd.DataFrame:
    """The city's category shares over everyone measured."""
    rel, _ = _release(user)
    cube = rel.table("district_cube")
    rows = cube[(cube["district"] == ALL) & (cube["age_band"] == ALL) & (cube["sex"] == ALL)].assign(key=ALL)
    return _shares(rows, "key").drop(columns="key").set_index("category").reindex(list(CATEGORIES))


def facility_comparison(user: Principal) -> pd.DataFrame:
    """A hospital's own centre beside the distribution over centres (quartiles, percentile rank); no peer names."""
    rel, decision = _release(user)
    own = decision.row_scope.own_facility
    fc = rel.table("facility_cube")
    fc = fc[fc["facility_id"] != ALL]
    shares = _shares(fc, "facility_id")
    rows = []
    measured = fc[fc["category"] == ALL].set_index("facility_id")
    metrics = {"measured": measured.assign(value=measured["n"].astype("Float64"), suppressed=measured["n"].isna())}
    for c in CATEGORIES:
        s = shares[shares["category"] == c].set_index("facility_id")
        metrics[f"{c}_share"] = s.assign(value=s["share"])
    for mid, vals in metrics.items():
        released = vals.loc[~vals["suppressed"].astype(bool) & vals["value"].notna(), "value"].astype(float)
        mine = float(vals["value"].get(own)) if own in vals.index and pd.notna(vals["value"].get(own)) else np.nan
        rows.append({
            "metric": mid,
            "own": mine,
            "own_suppressed": bool(vals["suppressed"].get(own, True)) if own else True,
            "facilities": int(released.size),
            "p25": released.quantile(0.25) if released.size else np.nan,
            "median": released.median() if released.size else np.nan,
            "p75": released.quantile(0.75) if released.size else np.nan,
            "percentile_rank": (100.0 * (released < mine).sum() + 50.0 * (released == mine).sum()) / released.size
            if released.size and not np.isnan(mine) else np.nan,
        })
    return pd.DataFrame(rows).set_index("metric")


def facility_table(user: Principal) -> pd.DataFrame:
    """Measured residents and category shares per centre, named as the row scope allows."""
    rel, decision = _release(user)
    scope = decision.row_scope
    fc = rel.table("facility_cube")
    fc = fc[fc["facility_id"] != ALL]
    wide = _shares(fc, "facility_id").pivot(index="facility_id", columns="category", values="share")
    total = fc[fc["category"] == ALL].set_index("facility_id")["n"]
    out = wide.reindex(columns=list(CATEGORIES)).add_suffix("_share")
    out.insert(0, "measured", total.reindex(out.index))
    out = out.reset_index().sort_values("facility_id").reset_index(drop=True)
    reg = facilities().set_index("facility_id")
    out.insert(1, "name_zh", out["facility_id"].map(reg["name_zh"]))
    out.insert(2, "name_en", out["facility_id"].map(reg["name_en"]))
    if scope.facility_names != "all":
        mine = out["facility_id"] == scope.own_facility
        peers = (~mine).cumsum()
        out.loc[~mine, "name_zh"] = [f"同级机构 {i}" for i in peers[~mine]]
        out.loc[~mine, "name_en"] = [f"Peer facility {i}" for i in peers[~mine]]
        out.loc[~mine, "facility_id"] = [f"peer-{i}" for i in peers[~mine]]
        if scope.facility_names == "none":
            out.loc[mine, ["name_zh", "name_en"]] = ["同级机构", "Peer facility"]
    return out


def download(user: Principal, category: str, age_band: str = ALL, sex: str = ALL) -> tuple[bytes, bytes]:
    """The district table shown on the page as CSV (with suppression reasons) and its metadata; audited."""
    rel, _ = _release(user, "download")
    values = district_values(user, category, age_band, sex).reset_index()
    d = districts().set_index("adcode")
    values.insert(1, "name_zh", values["district"].map(d["name_zh"]).fillna("广州市"))
    values.insert(2, "name_en", values["district"].map(d["name_en"]).fillna("Guangzhou"))
    values["share"] = values["share"].round(2).astype(object).where(~values["suppressed"], "")
    values = values.rename(columns={"reason": "suppression_reason", "share": "share_pct"})
    values["category"], values["age_band"], values["sex"] = category, age_band, sex
    values["synthetic"] = bool(rel.meta.get("synthetic"))
    buf = io.StringIO()
    values.to_csv(buf, index=False)
    csv_bytes = buf.getvalue().encode("utf-8-sig")
    meta = {
        "product": PRODUCT_ID, "release_id": rel.release_id, "title_zh": rel.meta.get("title_zh"),
        "title_en": rel.meta.get("title_en"), "source": rel.meta.get("source"),
        "approval": {k: rel.approval.get(k) for k in ("approved_by", "approved_at", "content_hash")},
        "time_span": rel.meta.get("time_span"), "bmi_cuts": rel.meta.get("bmi_cuts"),
        "selection": {"category": category, "age_band": age_band, "sex": sex},
        "suppression_rule": rel.meta.get("suppression_rule"), "min_cell": rel.meta.get("min_cell"),
        "synthetic_notice": rel.meta.get("notice") or None,
    }
    meta_bytes = json.dumps(meta, ensure_ascii=False, indent=1).encode("utf-8")
    record_download(user, PRODUCT_ID, f"elderly_weight_{category}_{age_band}_{sex}.csv",
                    sha256=hashlib.sha256(csv_bytes).hexdigest(), n_bytes=len(csv_bytes))
    return csv_bytes, meta_bytes

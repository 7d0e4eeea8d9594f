"""Elderly body-weight atlas views: approved release -> frames for the page. Every function takes the page's grant.

Shares are category count / measured total of the same cell, both released; where either is hidden
the row says so (``suppressed`` with the reason) instead of showing a number.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from data_products.disclosure import ALL
from data_products.governance.gate import Grant, use
from data_products.products.elderly_weight.spec import (
    AGE_BANDS,
    CATEGORIES,
    OLDER_CATEGORIES,
    PRODUCT_ID,
    SCHEMES,
    SEXES,
)
from data_products.products.scope import deliver, name_facilities, peer_summary, with_district_names
from data_products.reference import districts

BREAKDOWNS = {"age_band": AGE_BANDS, "sex": SEXES}
# Which classification: the Chinese adult cut-offs, or the older-adult ranges beside them (spec).
SCHEME_CATEGORIES = {"adult": CATEGORIES, "older": OLDER_CATEGORIES}
_TABLES = {"adult": ("district_cube", "facility_cube"), "older": ("older_district_cube", "older_facility_cube")}


def _scheme(scheme: str) -> tuple[tuple[str, ...], str, str]:
    if scheme not in SCHEMES:
        raise ValueError(f"scheme: {scheme!r} is not one of {SCHEMES}")
    return (SCHEME_CATEGORIES[scheme], *_TABLES[scheme])


def _release(grant: Grant, action: str = "view"):
    """The release and decision a grant covers; a download needs a download grant."""
    g = use(grant, PRODUCT_ID, ("download",) if action == "download" else ("view", "download"))
    return g.release, g.decision


def release_info(grant: Grant) -> dict:
    rel, decision = _release(grant)
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


def district_values(grant: Grant, category: str, age_band: str = ALL, sex: str = ALL,
                    scheme: str = "adult") -> pd.DataFrame:
    """One row per district (adcode index) plus 'ALL' for the city: count, measured, share, suppressed, reason."""
    rel, _ = _release(grant)
    cats, district_table, _ = _scheme(scheme)
    if category not in cats:
        raise ValueError(f"category: {category!r} is not one of {cats}")
    cube = rel.table(district_table)
    rows = cube[(cube["age_band"] == age_band) & (cube["sex"] == sex)]
    shares = _shares(rows, "district")
    out = shares[shares["category"] == category].set_index("district").drop(columns="category")
    out = out.reindex([*districts()["adcode"], ALL])
    out["suppressed"] = out["suppressed"].fillna(True).astype(bool)
    out["reason"] = out["reason"].fillna("secondary")
    return out


def breakdown(grant: Grant, by: str, district: str = ALL, scheme: str = "adult") -> pd.DataFrame:
    """Category shares by age band or sex (long form), city-wide or for one district."""
    rel, _ = _release(grant)
    if by not in BREAKDOWNS:
        raise ValueError(f"by: {by!r} is not one of {sorted(BREAKDOWNS)}")
    _, district_table, _ = _scheme(scheme)
    cube = rel.table(district_table)
    other = "sex" if by == "age_band" else "age_band"
    rows = cube[(cube["district"] == district) & (cube[other] == ALL) & (cube[by] != ALL)]
    return _shares(rows, by).sort_values([by, "category"]).reset_index(drop=True)


def city_profile(grant: Grant, scheme: str = "adult") -> pd.DataFrame:
    """The city's category shares over everyone measured."""
    cats, district_table, _ = _scheme(scheme)
    rel, _ = _release(grant)
    cube = rel.table(district_table)
    rows = cube[(cube["district"] == ALL) & (cube["age_band"] == ALL) & (cube["sex"] == ALL)].assign(key=ALL)
    return _shares(rows, "key").drop(columns="key").set_index("category").reindex(list(cats))


def facility_comparison(grant: Grant) -> pd.DataFrame:
    """A hospital's own centre beside the distribution over centres (quartiles, percentile rank); no peer names."""
    rel, decision = _release(grant)
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
            **peer_summary(released, mine, own),
        })
    return pd.DataFrame(rows).set_index("metric")


def facility_table(grant: Grant, scheme: str = "adult") -> pd.DataFrame:
    """Measured residents and category shares per centre, named as the row scope allows."""
    cats, _, facility_table_name = _scheme(scheme)
    rel, decision = _release(grant)
    scope = decision.row_scope
    fc = rel.table(facility_table_name)
    fc = fc[fc["facility_id"] != ALL]
    wide = _shares(fc, "facility_id").pivot(index="facility_id", columns="category", values="share")
    total = fc[fc["category"] == ALL].set_index("facility_id")["n"]
    out = wide.reindex(columns=list(cats)).add_suffix("_share")
    out.insert(0, "measured", total.reindex(out.index))
    out = out.reset_index().sort_values("facility_id").reset_index(drop=True)
    return name_facilities(out, scope)


def download(grant: Grant, category: str, age_band: str = ALL, sex: str = ALL,
             scheme: str = "adult") -> tuple[bytes, bytes]:
    """The district table shown on the page as CSV (with suppression reasons) and its metadata; the gate
    decides the download and records it."""
    rel, _ = _release(grant)

    def frame(dl: Grant) -> pd.DataFrame:
        values = with_district_names(district_values(dl, category, age_band, sex, scheme).reset_index())
        values["share"] = values["share"].round(2).astype(object).where(~values["suppressed"], "")
        values = values.rename(columns={"reason": "suppression_reason", "share": "share_pct"})
        values["classification"], values["category"], values["age_band"], values["sex"] = scheme, category, age_band, sex
        return values

    return deliver(grant, PRODUCT_ID, f"elderly_weight_{scheme}_{category}_{age_band}_{sex}.csv",
                   {"classification": scheme, "category": category, "age_band": age_band, "sex": sex}, frame,
                   bmi_cuts=rel.meta.get("bmi_cuts"), older_cuts=rel.meta.get("older_cuts"),
                   classification_sources=rel.meta.get("classification_sources"))


def metric_label(metric_id: str, lang: str) -> str:
    """Row labels of ``facility_comparison`` for other pages (My hospital)."""
    from data_products.products.elderly_weight.spec import CATEGORY_EN, CATEGORY_ZH

    if metric_id == "measured":
        return "测量人数" if lang == "zh" else "Residents measured"
    category = metric_id.removesuffix("_share")
    names = CATEGORY_ZH if lang == "zh" else CATEGORY_EN
    return f"{names.get(category, category)}（%）" if lang == "zh" else f"{names.get(category, category)} (%)"

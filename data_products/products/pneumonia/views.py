"""Pneumonia atlas views: approved release -> frames for the page. Every function asks the gate.

Nothing here reads the restricted zone; it reads only the current approved release. Where a figure
would rest on a suppressed cell, the result says so (``suppressed`` with a reason) instead of
showing a number.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import pandas as pd

from data_products import approved
from data_products.disclosure import ALL
from data_products.governance.gate import Grant, use
from data_products.products.pneumonia.labels import metric_label  # noqa: F401 - the My-hospital page labels rows with it
from data_products.products.pneumonia.spec import AGE_BANDS, CUTOFFS, MARKERS, PATHOGENS, PRODUCT_ID, QUANTILES
from data_products.products.scope import deliver, name_facilities, peer_summary, with_district_names
from data_products.reference import districts

# The cases are aged 0-13, so the denominator is children aged 0-13: end-2023 residents times the
# census's 0-13 share (reference.geography; the same share in every district, an assumption). A
# band's share assumes ages spread evenly over the 14 single years 0-13.
BAND_YEARS = {"lt1": 1, "1to5": 5, "6to13": 8, ALL: 14}
RATE_PER = 10_000

REASON_PRIMARY = "primary"
REASON_SECONDARY = "secondary"
REASON_RANGE = "range"  # a quantile cannot be pooled over a range of months
REASON_EMPTY = "empty"


@dataclass(frozen=True)
class Metric:
    id: str
    kind: str  # count | rate | quantile | share | positivity
    num: str | None = None
    den: str | None = None
    column: str | None = None


def metrics() -> dict[str, Metric]:
    out = {"cases": Metric("cases", "count", num="cases"), "rate": Metric("rate", "rate", num="cases")}
    for m in MARKERS:
        out[f"{m}_p50"] = Metric(f"{m}_p50", "quantile", column=f"{m}_p50")
    for c in CUTOFFS:
        out[f"{c.id}_share"] = Metric(f"{c.id}_share", "share", num=f"{c.id}_above", den=f"{c.id}_below")
    for p in PATHOGENS:
        out[f"{p}_positivity"] = Metric(f"{p}_positivity", "positivity", num=f"{p}_pos", den=f"{p}_neg")
    return out


METRICS = metrics()


def _release(grant: Grant, action: str = "view") -> tuple[approved.Release, object]:
    """The release and decision a grant covers; a download needs a download grant."""
    g = use(grant, PRODUCT_ID, ("download",) if action == "download" else ("view", "download"))
    return g.release, g.decision


_memo: dict[tuple, object] = {}
_memo_lock = threading.Lock()


def _memoised(fn):
    """Cache a pure computation on the approved release, keyed by the release id: results are
    computed once per release and argument set, after the caller has passed the gate."""

    def wrapper(rel: approved.Release, *args):
        key = (fn.__name__, rel.release_id, args)
        with _memo_lock:
            if key in _memo:
                return _memo[key].copy()
        result = fn(rel, *args)
        with _memo_lock:
            if len(_memo) > 4096:
                _memo.clear()
            _memo[key] = result
        return result.copy()

    return wrapper


def months(grant: Grant) -> list[str]:
    rel, _ = _release(grant)
    return _months(rel)


def _months(rel: approved.Release) -> list[str]:
    return sorted(m for m in rel.tables["district_cube"]["month"].unique() if m != ALL)


def release_info(grant: Grant) -> dict:
    rel, decision = _release(grant)
    return {"release_id": rel.release_id, "meta": rel.meta, "approval": rel.approval, "scope": decision.row_scope,
            "months": _months(rel)}


def _window(cube: pd.DataFrame, start: str, end: str, all_months: list[str]) -> tuple[pd.DataFrame, bool]:
    if start == all_months[0] and end == all_months[-1]:
        return cube[cube["month"] == ALL], True
    return cube[(cube["month"] >= start) & (cube["month"] <= end) & (cube["month"] != ALL)], False


def _aggregate(rows: pd.DataFrame, key: str, metric: Metric, whole: bool, single: bool) -> pd.DataFrame:
    """One value per ``key`` over the selected months, or a suppression reason (vectorised)."""
    # A quantile rests on its cell's case count: hidden when that count is hidden.
    cols = [c for c in (metric.num, metric.den) if c] or ["cases"]
    by = rows[key]
    hidden = rows[cols].isna().any(axis=1).groupby(by, sort=True).any()
    primary = pd.concat([rows[c + "_flag"] == REASON_PRIMARY for c in cols], axis=1).any(axis=1).groupby(by, sort=True).any()
    out = pd.DataFrame(index=hidden.index)
    out.index.name = key
    out["suppressed"] = hidden
    out["reason"] = np.where(hidden, np.where(primary, REASON_PRIMARY, REASON_SECONDARY), "")
    sums = rows[cols].astype("Float64").groupby(by, sort=True).sum()
    if metric.kind == "quantile":
        n = rows["cases"].astype("Float64").groupby(by, sort=True).sum()
        first = rows.groupby(by, sort=True)[metric.column].first()
        count = rows.groupby(by, sort=True).size()
        out["n"] = n
        out["value"] = first.where((count == 1) & ~hidden).astype(float)
        ranged = ~hidden & ~(whole or single)
        out.loc[ranged, ["suppressed", "reason"]] = [True, REASON_RANGE]
        out.loc[ranged, "value"] = np.nan
        empty = ~out["suppressed"] & (n == 0)
        out.loc[empty, "reason"] = REASON_EMPTY
    elif metric.kind in ("count", "rate"):
        out["n"] = sums[metric.num]
        out["value"] = sums[metric.num].astype(float)
    else:
        den = sums[metric.num] + sums[metric.den]
        out["n"] = den
        out["value"] = (100.0 * sums[metric.num] / den.where(den > 0)).astype(float)
        out.loc[~hidden & (den == 0), "reason"] = REASON_EMPTY
    out.loc[out["suppressed"], ["value"]] = np.nan
    out["n"] = pd.array(out["n"].where(~out["suppressed"]).round().astype("Float64"), dtype="Int64")
    return out.reset_index()[[key, "value", "n", "suppressed", "reason"]]


def children(age_band: str = ALL) -> pd.Series:
    """Estimated children of the band per district (adcode index): the rate's denominator."""
    d = districts().set_index("adcode")
    return d["children_0_13_est"] * BAND_YEARS[age_band] / BAND_YEARS[ALL]


def window_years(start: str, end: str) -> float:
    """Calendar months from ``start`` to ``end`` (YYYY-MM, inclusive) in years: rates are per year."""
    (y0, m0), (y1, m1) = (map(int, start.split("-")), map(int, end.split("-")))
    months = (y1 * 12 + m1) - (y0 * 12 + m0) + 1
    if months < 1:
        raise ValueError(f"period {start}..{end} ends before it starts")
    return months / 12


def district_values(grant: Grant, metric: str, start: str, end: str, age_band: str = ALL, sex: str = ALL) -> pd.DataFrame:
    """One row per district (adcode index): value, n, suppressed, reason, plus the city row 'ALL'."""
    rel, _ = _release(grant)
    if metric not in METRICS:
        raise KeyError(f"unknown metric {metric!r}")
    return _district_values(rel, metric, start, end, age_band, sex)


@_memoised
def _district_values(rel: approved.Release, metric: str, start: str, end: str, age_band: str, sex: str) -> pd.DataFrame:
    m = METRICS[metric]
    cube = rel.table("district_cube")
    all_months = sorted(x for x in cube["month"].unique() if x != ALL)
    rows, whole = _window(cube, start, end, all_months)
    rows = rows[(rows["age_band"] == age_band) & (rows["sex"] == sex)]
    out = _aggregate(rows, "district", m, whole, start == end).set_index("district")
    out = out.reindex([*districts()["adcode"], ALL])
    if m.kind == "rate":
        # Cases per 10,000 children per year: the window's cases over the estimated children, annualised.
        kids = children(age_band)
        kids[ALL] = kids.sum()
        out["value"] = out["value"] / kids.reindex(out.index) * RATE_PER / window_years(start, end)
    out["suppressed"] = out["suppressed"].fillna(True).astype(bool)
    out["reason"] = out["reason"].fillna(REASON_SECONDARY)
    return out


def season(grant: Grant, age_band: str = ALL, sex: str = ALL, district: str = ALL) -> pd.DataFrame:
    """Positivity of each pathogen by month (long form: month, pathogen, value, n, suppressed, reason)."""
    rel, _ = _release(grant)
    return _season(rel, age_band, sex, district)


@_memoised
def _season(rel: approved.Release, age_band: str, sex: str, district: str) -> pd.DataFrame:
    cube = rel.tables["district_cube"]
    rows = cube[(cube["district"] == district) & (cube["age_band"] == age_band) & (cube["sex"] == sex) & (cube["month"] != ALL)]
    parts = []
    for p in PATHOGENS:
        f = _aggregate(rows, "month", METRICS[f"{p}_positivity"], False, True)
        f["pathogen"] = p
        parts.append(f)
    return pd.concat(parts, ignore_index=True)[["month", "pathogen", "value", "n", "suppressed", "reason"]]


def district_by_month(grant: Grant, metric: str, age_band: str = ALL, sex: str = ALL) -> pd.DataFrame:
    """A district x month grid of one metric (long form: district, month, value, n, suppressed, reason):
    where and when it peaked, at a glance."""
    rel, _ = _release(grant)
    if metric not in METRICS or METRICS[metric].kind == "rate":
        raise KeyError(f"no district x month grid for {metric!r}")
    return _district_by_month(rel, metric, age_band, sex)


@_memoised
def _district_by_month(rel: approved.Release, metric: str, age_band: str, sex: str) -> pd.DataFrame:
    cube = rel.tables["district_cube"]
    rows = cube[(cube["district"] != ALL) & (cube["month"] != ALL) & (cube["age_band"] == age_band) & (cube["sex"] == sex)]
    rows = rows.assign(cell=rows["district"] + "|" + rows["month"])
    out = _aggregate(rows, "cell", METRICS[metric], False, True)
    out[["district", "month"]] = out["cell"].str.split("|", n=1, expand=True)
    return out.drop(columns=["cell"])[["district", "month", "value", "n", "suppressed", "reason"]]


def quantiles_by_age(grant: Grant, marker: str, district: str = ALL) -> pd.DataFrame:
    """Released quantiles of a marker per age band (whole span, both sexes): box-style, never records."""
    rel, _ = _release(grant)
    cube = rel.table("district_cube")
    rows = cube[(cube["district"] == district) & (cube["month"] == ALL) & (cube["sex"] == ALL)]
    cols = [f"{marker}_{q}" for q in QUANTILES]
    out = rows.set_index("age_band").reindex([*AGE_BANDS, ALL])[["cases", *cols]]
    out.columns = ["n", *QUANTILES]
    return out


def quantiles_by_pathogen(grant: Grant, marker: str, age_band: str = ALL) -> pd.DataFrame:
    rel, _ = _release(grant)
    pm = rel.table("pathogen_markers")
    rows = pm[pm["age_band"] == age_band].set_index("pathogen").reindex(list(PATHOGENS))
    out = rows[["n", *[f"{marker}_{q}" for q in QUANTILES]]]
    out.columns = ["n", *QUANTILES]
    return out


def profile(grant: Grant, district: str, start: str, end: str, age_band: str = ALL, sex: str = ALL) -> pd.DataFrame:
    """Every metric for one district beside the city's value and the district's rank among the 11."""
    rel, _ = _release(grant)
    rows = []
    for mid in METRICS:
        v = _district_values(rel, mid, start, end, age_band, sex)
        shown = v.drop(index=ALL)
        ranked = shown.loc[~shown["suppressed"], "value"].rank(ascending=False)
        rows.append({
            "metric": mid,
            "district": v.at[district, "value"],
            "district_suppressed": bool(v.at[district, "suppressed"]),
            "district_reason": v.at[district, "reason"],
            "city": v.at[ALL, "value"],
            "city_suppressed": bool(v.at[ALL, "suppressed"]),
            "rank": ranked.get(district, np.nan),
            "ranked_of": int(ranked.notna().sum()),
        })
    return pd.DataFrame(rows).set_index("metric")


def facility_comparison(grant: Grant) -> pd.DataFrame:
    """For a hospital: its own facility's whole-span figures beside the distribution across facilities.

    Peers appear only as a distribution (min, quartiles, max) and the hospital's percentile rank,
    never by name. The commission gets every facility by name from ``facility_table``.
    """
    rel, decision = _release(grant)
    own = decision.row_scope.own_facility
    rows = []
    for mid, m in METRICS.items():
        if m.kind == "rate":
            continue
        vals = _facility_values(rel, mid)
        released = vals.loc[~vals["suppressed"] & vals["value"].notna(), "value"]
        mine = vals["value"].get(own, np.nan) if own else np.nan
        rows.append({
            "metric": mid,
            "own": mine,
            "own_suppressed": bool(vals["suppressed"].get(own, True)) if own else True,
            **peer_summary(released, mine, own),
        })
    return pd.DataFrame(rows).set_index("metric")


@_memoised
def _facility_values(rel: approved.Release, metric: str) -> pd.DataFrame:
    """Whole-span value of a metric for every facility (internal: names are applied by the caller's scope)."""
    fm = rel.tables["facility_month"]
    whole = fm[(fm["month"] == ALL) & (fm["facility_id"] != ALL)]
    return _aggregate(whole, "facility_id", METRICS[metric], True, False).set_index("facility_id")


def facility_table(grant: Grant) -> pd.DataFrame:
    """Whole-span cases per facility, named as the gate's row scope allows (others anonymised)."""
    rel, decision = _release(grant)
    scope = decision.row_scope
    fm = rel.table("facility_month")
    whole = fm[(fm["month"] == ALL) & (fm["facility_id"] != ALL)][["facility_id", "cases", "cases_flag"]]
    return name_facilities(whole.sort_values("facility_id").reset_index(drop=True), scope)


def download(grant: Grant, metric: str, start: str, end: str, age_band: str = ALL, sex: str = ALL) -> tuple[bytes, bytes]:
    """The shown table as CSV (with suppression flags) and its metadata JSON; decided and audited by the gate."""
    use(grant, PRODUCT_ID, ("view", "download"))

    def frame(dl: Grant) -> pd.DataFrame:
        values = with_district_names(district_values(dl, metric, start, end, age_band, sex).reset_index())
        values["value"] = values["value"].round(3).astype(object).where(~values["suppressed"], "")
        values["n"] = values["n"].astype(object).where(~values["suppressed"], "")
        values = values.rename(columns={"reason": "suppression_reason"})
        values.insert(3, "metric", metric)
        values["period"] = f"{start}..{end}"
        values["age_band"] = age_band
        values["sex"] = sex
        return values

    return deliver(grant, PRODUCT_ID, f"pneumonia_{metric}_{start}_{end}.csv",
                   {"metric": metric, "period": [start, end], "age_band": age_band, "sex": sex}, frame)

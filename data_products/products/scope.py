"""What every product's views share: facility rows under the gate's row scope, a facility's place
among its peers, and the metadata that travels with a download.

One implementation so that "peers appear only as a distribution, never as rows" means the same thing
on every page: ``PEER_RULE`` says it in both languages.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from data_products.disclosure import safe_quantile
from data_products.reference import facilities

# Peers reach a hospital only as a distribution over at least this many other facilities: fewer
# and a quartile sits close to one peer's own value (with two peers the median is their mean).
MIN_PEERS = 5
# Quartiles at the disclosure rule's shifted positions (``disclosure.quantile_rank``): each blends
# two neighbouring facilities' values with non-zero weights, so none equals one facility's value (an
# ordinary median over an odd number of facilities is exactly the middle one's figure).
PEER_LEVELS = {"p25": 0.25, "median": 0.5, "p75": 0.75}
# A district aggregate of other facilities (the tumor map and flows for a hospital) is shown only
# when at least this many facilities other than the viewer's own contribute to it, and none of them
# holds more than DOMINANCE of its patients (the (n, k) dominance rule of business statistics): a
# lone facility, or one that makes up nearly all of a district, is not exposed by its district.
DISTRICT_MIN_FACILITIES = 3
DOMINANCE = 0.7

PEER_RULE = {
    "zh": f"同级机构只以分布出现：至少 {MIN_PEERS} 家其他机构时才给出四分位数与百分位排名；不列出单个同级机构，"
          f"也不按编号、所在区或规模排列。区级汇总只在至少 {DISTRICT_MIN_FACILITIES} 家其他机构参与、"
          f"且任何一家不超过该区患者的 {DOMINANCE:.0%} 时显示；未显示各区之和（可由全市合计推出）也须满足同一规则，"
          f"否则再隐去最小的区。",
    "en": f"Peers appear only as a distribution: quartiles and a percentile rank need at least {MIN_PEERS} other "
          f"facilities; no peer is listed on its own, nor ordered by identifier, district or size. A district total of "
          f"other facilities is shown only when at least {DISTRICT_MIN_FACILITIES} of them contribute and none holds more "
          f"than {DOMINANCE:.0%} of its patients; the districts not shown, taken together (a reader gets them from the "
          f"city total), must pass the same rule, or the smallest shown district is hidden too.",
}


def name_facilities(frame: pd.DataFrame, scope) -> pd.DataFrame:
    """Add ``name_zh``/``name_en`` and an ``own`` flag to rows keyed by ``facility_id``, as ``scope`` allows.

    ``facility_names='all'`` (the commission): every row, every real name. ``'own_only'`` (a hospital):
    its own facility's rows only. Other facilities' rows are dropped, not renamed: a "Peer facility N"
    row keeps its exact figures, and numbering, district or size give the name back (the hospital
    sector of a city is public knowledge). Peers reach a hospital through ``peer_summary`` only.
    ``'none'`` (a company): no facility rows at all.
    """
    reg = facilities().set_index("facility_id")
    own = scope.own_facility if scope.facility_names == "own_only" else None
    if scope.facility_names == "all":
        out = frame.copy()
    else:
        out = frame[frame["facility_id"] == own].copy() if own else frame.iloc[0:0].copy()
    out["name_zh"] = out["facility_id"].map(reg["name_zh"])
    out["name_en"] = out["facility_id"].map(reg["name_en"])
    out["own"] = (out["facility_id"] == own).to_numpy() if own else False
    return out.reset_index(drop=True)


def aggregate_ok(values: pd.Series) -> bool:
    """The aggregate rule: at least ``DISTRICT_MIN_FACILITIES`` contributors, none above ``DOMINANCE``."""
    values = values.dropna().astype(float)
    total = float(values.sum())
    return len(values) >= DISTRICT_MIN_FACILITIES and total > 0 and float(values.max()) <= DOMINANCE * total


def shown_aggregates(groups: dict[str, pd.Series]) -> set[str]:
    """Which groups (districts, tiers) of other facilities may be shown as totals, each a Series of its
    facilities' released values.

    A group is shown when it passes ``aggregate_ok``, and the groups not shown, taken together, must pass it
    too: the reader has the city total and their own figure, so the hidden remainder is one subtraction
    away. While it fails, the smallest shown group joins it (secondary suppression, as for cells).
    """
    shown = {k for k, v in groups.items() if aggregate_ok(v)}
    while shown:
        rest = [v for k, v in groups.items() if k not in shown]
        if not rest or aggregate_ok(pd.concat(rest)):
            break
        shown.discard(min(shown, key=lambda k: (float(groups[k].sum()), k)))
    return shown


def peer_summary(released: pd.Series, mine: float, own_facility: str | None = None) -> dict:
    """A facility's value against the released values of the facilities: quartiles (``PEER_LEVELS``) and
    percentile rank (mid-rank for ties), never the peers' identities.

    ``released`` is indexed by facility. The distribution is given only when at least ``MIN_PEERS``
    facilities other than ``own_facility`` have a released value; otherwise every figure is NaN and
    ``facilities`` says how many there were.
    """
    released = released.dropna().astype(float)
    peers = int(released.size - (own_facility in released.index if own_facility is not None else 0))
    size = int(released.size)
    enough = peers >= MIN_PEERS
    rank = np.nan
    if enough and pd.notna(mine):
        rank = (100.0 * (released < mine).sum() + 50.0 * (released == mine).sum()) / size
    return {
        "facilities": size,
        "peers": peers,
        **{name: safe_quantile(released.to_numpy(), q, 0) if enough else np.nan for name, q in PEER_LEVELS.items()},
        "percentile_rank": rank,
    }


def download_metadata(rel, product_id: str, selection: dict, **extra) -> dict:
    """The metadata file that goes with every CSV a product hands out: where it comes from, which
    approved release, the suppression rule and the synthetic-data notice."""
    return {
        "product": product_id,
        "title_zh": rel.meta.get("title_zh"),
        "title_en": rel.meta.get("title_en"),
        "release_id": rel.release_id,
        "source": rel.meta.get("source"),
        "approval": {k: rel.approval.get(k) for k in ("approved_by", "approved_at", "content_hash")},
        "time_span": rel.meta.get("time_span"),
        "selection": selection,
        "suppression_rule": rel.meta.get("suppression_rule"),
        "min_cell": rel.meta.get("min_cell"),
        "synthetic_notice": rel.meta.get("notice") or None,
        **extra,
    }


def with_district_names(frame: pd.DataFrame, column: str = "district", at: int = 1) -> pd.DataFrame:
    """Chinese and English district names beside an adcode column; the city row (ALL) reads 广州市 / Guangzhou."""
    from data_products.reference import districts

    d = districts().set_index("adcode")
    out = frame.copy()
    out.insert(at, "name_zh", out[column].map(d["name_zh"]).fillna("广州市"))
    out.insert(at + 1, "name_en", out[column].map(d["name_en"]).fillna("Guangzhou"))
    return out


def deliver(grant, product_id: str, file_name: str, selection: dict, frame, **extra) -> tuple[bytes, bytes]:
    """Hand out a table through the gate: ``frame(download_grant)`` builds it (every suppressed value
    blanked by the caller), written as CSV (UTF-8 with BOM so spreadsheets read the Chinese) with its
    metadata JSON, once the gate has decided the download and recorded it with the file's hash."""
    import io
    import json

    from data_products.governance.gate import deliver as gate_deliver

    def make(dl) -> tuple[bytes, bytes]:
        rel = dl.release
        out = frame(dl).copy()
        out["synthetic"] = bool(rel.meta.get("synthetic"))
        buf = io.StringIO()
        out.to_csv(buf, index=False)
        meta = download_metadata(rel, product_id, selection, facility_names=dl.row_scope.facility_names, **extra)
        return buf.getvalue().encode("utf-8-sig"), json.dumps(meta, ensure_ascii=False, indent=1,
                                                              default=str).encode("utf-8")

    return gate_deliver(grant, file_name, make)

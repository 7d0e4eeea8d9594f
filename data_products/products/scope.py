"""What every product's views share: facility names under the gate's row scope, a facility's place
among its peers, and the metadata that travels with a download.

One implementation so that "peers appear only as a distribution, never by name" means the same thing
on every page.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from data_products.reference import facilities

PEER_ZH = "同级机构"
PEER_EN = "Peer facility"


def name_facilities(frame: pd.DataFrame, scope) -> pd.DataFrame:
    """Add ``name_zh``/``name_en`` and an ``own`` flag to rows keyed by ``facility_id``, as ``scope`` allows.

    ``facility_names='all'`` (the commission): every real name. ``'own_only'`` (a hospital): its own
    facility named, every other one renamed "Peer facility N" with its id replaced by ``peer-N``
    (N numbered by the hidden ids, so the same peer keeps its number across rows). ``'none'`` (a
    company): nobody named.
    """
    reg = facilities().set_index("facility_id")
    out = frame.copy()
    out["name_zh"] = out["facility_id"].map(reg["name_zh"])
    out["name_en"] = out["facility_id"].map(reg["name_en"])
    own = scope.own_facility if scope.facility_names == "own_only" else None
    mine = (out["facility_id"] == own) if own else pd.Series(False, index=out.index)
    out["own"] = mine.to_numpy()
    if scope.facility_names == "all":
        return out
    peers = sorted(f for f in out["facility_id"].unique() if f != own)
    number = {f: i + 1 for i, f in enumerate(peers)}
    hidden = ~mine
    n = out.loc[hidden, "facility_id"].map(number)
    out.loc[hidden, "name_zh"] = [f"{PEER_ZH} {i}" for i in n]
    out.loc[hidden, "name_en"] = [f"{PEER_EN} {i}" for i in n]
    out.loc[hidden, "facility_id"] = [f"peer-{i}" for i in n]
    return out


def peer_summary(released: pd.Series, mine: float) -> dict:
    """A facility's value against the released values of all facilities: quartiles and percentile rank
    (mid-rank for ties), never the peers' identities."""
    released = released.dropna().astype(float)
    size = int(released.size)
    rank = np.nan
    if size and pd.notna(mine):
        rank = (100.0 * (released < mine).sum() + 50.0 * (released == mine).sum()) / size
    return {
        "facilities": size,
        "p25": released.quantile(0.25) if size else np.nan,
        "median": released.median() if size else np.nan,
        "p75": released.quantile(0.75) if size else np.nan,
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


def deliver(user, rel, product_id: str, frame: pd.DataFrame, file_name: str, selection: dict,
            **extra) -> tuple[bytes, bytes]:
    """Hand out a table: CSV (UTF-8 with BOM so spreadsheets read the Chinese) and its metadata JSON,
    recorded in the audit ledger with the file's hash. The caller has blanked every suppressed value."""
    import hashlib
    import io
    import json

    from data_products.governance import record_download

    out = frame.copy()
    out["synthetic"] = bool(rel.meta.get("synthetic"))
    buf = io.StringIO()
    out.to_csv(buf, index=False)
    csv_bytes = buf.getvalue().encode("utf-8-sig")
    meta = download_metadata(rel, product_id, selection, **extra)
    meta_bytes = json.dumps(meta, ensure_ascii=False, indent=1, default=str).encode("utf-8")
    record_download(user, product_id, file_name, sha256=hashlib.sha256(csv_bytes).hexdigest(), n_bytes=len(csv_bytes))
    return csv_bytes, meta_bytes

"""The wait-time estimates as a JSON feed an appointment platform can poll.

``export_wait_times(out, service)`` writes the current *approved* release (never the restricted zone) to
``out`` atomically, under a named service principal: the gate decides (``gate.export``) whether that
principal holds an approved scenario covering ``export`` for this product, and records the export in the
ledger (action ``export``, with the file's hash) or the refusal (``gate.deny``). Nothing is written
when it refuses.

Feed format (``schema_version`` "wait_times_feed/1")::

    {
      "schema_version": "wait_times_feed/1",
      "generated_at": "2025-06-01T08:00:00+00:00",   # when this file was written (UTC, ISO 8601)
      "computed_at": "2025-06-01T07:55:10+00:00",    # when the release's estimates were computed
      "release_id": "wait_times@20250601T075510-1a2b3c4d",
      "approved_at": "...", "approved_by": "official",
      "synthetic": true,                              # demo data: describes no real facility
      "time_span": ["2024-09-02", "2024-11-10"],      # visits the estimates rest on
      "units": "minutes", "wait_definition": "consultation start - check-in",
      "weekday_convention": "ISO 8601: 1 = Monday ... 7 = Sunday",
      "hour_convention": "slot starting at HH:00 local time (Asia/Shanghai), by check-in time",
      "estimate_rule": "...", "backtest_rule": "...",
      "accuracy": {"mae_p50_min": 4.78, "within_p90": 0.90, "mae_baseline_min": 5.62,
                   "within_baseline": 0.90, "n_test": 59990},   # city-wide backtest (null if suppressed)
      "facilities": [
        {"facility_id": "F0301", "name_zh": "...", "name_en": "...",
         "departments": [
           {"department": "internal_medicine", "name_zh": "内科", "name_en": "Internal medicine",
            "slots": [
              {"weekday": 1, "hour": 8, "p50": 15.6, "p90": 44.2,
               "n": 569,                # visits the slot rests on; null when suppressed
               "flag": "",              # "" released | "primary" (under min_cell) | "secondary" (hidden to protect one)
               "level": "slot"}          # slot | department_weekday_hour | facility_department
            ]}
        ]}
      ]
    }

Slots for which no estimate may be published (level "none") are left out. Minutes are rounded to
0.1. A consumer should show ``p50`` as "usually N minutes" and ``p90`` as "9 in 10 within M".
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from data_products.disclosure import ALL
from data_products.governance.accounts import Principal
from data_products.governance.gate import Grant, export, use
from data_products.products.wait_times.spec import LEVEL_NONE, PRODUCT_ID
from data_products.reference import facilities
from data_products.reference.facilities import DEPARTMENTS

SCHEMA_VERSION = "wait_times_feed/1"


def _num(v, digits: int = 1):
    return None if v is None or pd.isna(v) else round(float(v), digits)


def feed(grant: Grant, generated_at: datetime | None = None) -> dict:
    """The feed document for the approved release an export grant covers."""
    release = use(grant, PRODUCT_ID, ("export",)).release
    est = release.table("estimates")
    est = est[est["level"] != LEVEL_NONE]
    bt = release.table("backtest")
    city = bt[(bt[["facility_id", "department", "size_band", "day_type"]] == ALL).all(axis=1)] if len(bt) else bt
    acc = None
    if len(city):
        r = city.iloc[0]
        acc = {"mae_p50_min": _num(r["mae_p50"], 2), "within_p90": _num(r["within_p90"], 4),
               "mae_baseline_min": _num(r["mae_baseline"], 2), "within_baseline": _num(r["within_baseline"], 4),
               "n_test": None if pd.isna(r["n_test"]) else int(r["n_test"])}
    reg = facilities().set_index("facility_id")
    out_fac = []
    for fid, fg in est.groupby("facility_id", sort=True):
        depts = []
        for dept, dg in fg.groupby("department", sort=True):
            dg = dg.sort_values(["weekday", "hour"])
            slots = [{"weekday": int(r.weekday), "hour": int(r.hour), "p50": _num(r.p50), "p90": _num(r.p90),
                      "n": None if pd.isna(r.visits) else int(r.visits), "flag": r.visits_flag or "",
                      "level": r.level} for r in dg.itertuples()]
            zh, en = DEPARTMENTS.get(dept, (dept, dept))
            depts.append({"department": dept, "name_zh": zh, "name_en": en, "slots": slots})
        out_fac.append({"facility_id": fid, "name_zh": reg.at[fid, "name_zh"], "name_en": reg.at[fid, "name_en"],
                        "departments": depts})
    meta, appr = release.meta, release.approval
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": (generated_at or datetime.now(UTC)).isoformat(timespec="seconds"),
        "computed_at": meta.get("built_at"),
        "release_id": release.release_id,
        "approved_at": appr.get("approved_at"),
        "approved_by": appr.get("approved_by"),
        "synthetic": bool(meta.get("synthetic")),
        "time_span": meta.get("time_span"),
        "units": "minutes",
        "wait_definition": "consultation start - check-in",
        "weekday_convention": "ISO 8601: 1 = Monday ... 7 = Sunday",
        "hour_convention": "slot starting at HH:00 local time (Asia/Shanghai), by check-in time",
        "estimate_rule": meta.get("estimate_rule"),
        "backtest_rule": meta.get("backtest_rule"),
        "accuracy": acc,
        "facilities": out_fac,
    }


@dataclass(frozen=True)
class Exported:
    path: Path
    facilities: int
    slots: int
    release_id: str


def export_wait_times(out: Path, service: Principal, audit: dict | None = None) -> Exported:
    """`dataspace export wait-times --out FILE.json --service NAME`: write the feed under ``service``, the
    signed-in service principal (``audit``: where the command ran, added to the ledger entry). Raises ``AccessDenied``
    (refused, audited) or ``approved.NoRelease``."""
    doc: dict = {}

    def make(grant: Grant) -> bytes:
        doc.update(feed(grant))
        return (json.dumps(doc, ensure_ascii=False, indent=1) + "\n").encode("utf-8")

    out = Path(out)
    data = export(service, PRODUCT_ID, out.name, make, audit=audit)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, out)
    slots = sum(len(d["slots"]) for f in doc["facilities"] for d in f["departments"])
    return Exported(out, len(doc["facilities"]), slots, doc["release_id"])

"""The catalog: published products and the space's 28 high-quality datasets, with their lifecycle.

Lifecycle (the space's five steps): scenario approval -> data out of hospital -> product processing
-> compliance listing -> transaction. A dataset that backs a product here gets its stage and figures
from what the pipeline left behind: the supplier report's transfers (data out of hospital), candidate
release files (processing; only their names are read), approved releases (listing) and approved
applied scenarios (transaction). The other datasets are descriptive entries, marked as such.

The catalog never opens a dataset, nor the restricted store. What it tells a user is the gate's
decision (``gate.catalog_detail``, one ledger entry per read): the commission reads it in full, with the
contributing facilities by name; everyone else reads a brochure (``BROCHURE_*``): what exists, its
fields, time span and frequency, and whether it is listed, never exact totals, facility counts,
versions, approvers or whether it was sold.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path

import pandas as pd

from data_products import approved
from data_products.config import paths
from data_products.disclosure import ALL
from data_products.governance import Principal, Scenario, allowed, apply, current, list_scenarios
from data_products.governance.gate import catalog_detail
from data_products.products.base import describe
from data_products.products.registry import all_products
from data_products.reference import facilities
from data_products.specialty import DICTIONARIES

STAGES = ("scenario_approval", "data_out_of_hospital", "product_processing", "compliance_listing", "transaction")
STAGE_NAMES = {
    "scenario_approval": ("场景审批", "Scenario approval"),
    "data_out_of_hospital": ("数据出院", "Data out of hospital"),
    "product_processing": ("产品加工", "Product processing"),
    "compliance_listing": ("合规上架", "Compliance listing"),
    "transaction": ("交易流通", "Transaction"),
}
DATA_FILE = Path(__file__).parent / "catalog_data" / "datasets.json"
# The approval note DATA_FILE gives a listed dataset; a page shows it in the reader's language.
LISTED_NOTE = "合规审核通过，挂牌上架（描述性条目）"
MESSAGES = {
    **{f"cat.stage.{stage}": {"zh": zh, "en": en} for stage, (zh, en) in STAGE_NAMES.items()},
    "cat.note.listed": {"zh": LISTED_NOTE, "en": "Compliance review passed; listed for trading (descriptive entry)"},
}
# What a brochure says of a product and of a dataset; the rest of an entry is blanked.
BROCHURE_PRODUCT = ("product_id", "name_zh", "name_en", "standing", "applicable_by", "facility_level", "listed",
                    "time_span", "synthetic")
BROCHURE_DATASET_BLANK = ("facilities", "rows", "transfers", "last_transfer", "version", "approval",
                          "facility_names")
# A brochure says listed or not; "transaction" (someone bought it) is the seller's business.
BROCHURE_LAST_STAGE = "compliance_listing"
SUPPLIER = "supplier_quality"


@cache
def _dataset_file() -> tuple[dict, ...]:
    doc = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    items = tuple(doc["datasets"])
    for i, d in enumerate(items):
        if d["stage"] is not None and d["stage"] not in STAGES:
            raise ValueError(f"{DATA_FILE.name}: dataset {i} ({d['id']}), field stage: unknown {d['stage']!r}")
    return items


def dataset_descriptions() -> tuple[dict, ...]:
    """The datasets of the JSON file, each with the product that backs it (from the product definitions'
    catalog entries; None for a descriptive dataset or one used only through analyses)."""
    items = _dataset_file()
    backs = {d.catalog.dataset: d.id for d in all_products().values() if d.catalog.dataset}
    unknown = sorted(set(backs) - {d["id"] for d in items})
    if unknown:
        raise ValueError(f"{DATA_FILE.name}: no dataset {unknown} named by a product definition's catalog entry")
    return tuple({**d, "product_id": backs.get(d["id"])} for d in items)


def _current(product_id: str) -> approved.Release | None:
    try:
        return approved.current(product_id)
    except approved.NoRelease:
        return None


@dataclass(frozen=True)
class KindSupply:
    facilities: tuple[str, ...]
    transfers: int
    rows: int | None
    years: tuple[str, ...]
    last_transfer: str | None


def supply_by_kind() -> dict[str, KindSupply]:
    """Per kind, from the approved supplier report: facilities, transfers, released row total, years."""
    rel = _current(SUPPLIER)
    if rel is None:
        return {}
    tr = rel.table("transfers")
    rows = rel.table("transfer_rows")
    out = {}
    for kind, g in tr.groupby("kind"):
        total = rows[(rows["facility_id"] == ALL) & (rows["kind"] == kind) & (rows["year"] == ALL)]["rows"]
        out[str(kind)] = KindSupply(
            facilities=tuple(sorted(g["facility_id"].unique())),
            transfers=len(g),
            rows=None if total.empty or pd.isna(total.iloc[0]) else int(total.iloc[0]),
            years=tuple(sorted(y for y in g["year"].unique() if y)),
            last_transfer=str(g["ingested_at"].max()),
        )
    return out


def _has_candidate(product_id: str) -> bool:
    folder = paths().candidates / product_id
    return folder.is_dir() and any(folder.glob("*.duckdb"))


def _traded(product_id: str) -> int:
    """Approved applied scenarios (orders and applications) for a product: its transactions."""
    return sum(1 for s in list_scenarios(product_id=product_id, state="approved") if s.kind != "standing")


def _stage(product_id: str, kind: str | None, supply: dict[str, KindSupply]) -> str:
    stage = "scenario_approval"  # the product exists in the registry: its scenario was approved
    if kind in supply:
        stage = "data_out_of_hospital"
    if _has_candidate(product_id):
        stage = "product_processing"
    if approved.current_release_id(product_id) is not None:
        stage = "compliance_listing"
        if _traded(product_id):
            stage = "transaction"
    return stage


def products(user: Principal | None = None, *, level: str | None = None) -> list[dict]:
    """Every registered product with its current approved release (if any) and history length.

    ``user`` reads it at the level the gate decides (``level`` passes a decision already made on this
    page); without a user (the operator's command line) in full.
    """
    level = _level(user, level)
    out = []
    for p in all_products().values():
        rel = _current(p.id)
        plain = describe(p)
        out.append({
            **{k: plain[k] for k in ("product_id", "name_zh", "name_en", "standing", "applicable_by", "facility_level")},
            "release_id": rel.release_id if rel else None,
            "approved_by": rel.approval.get("approved_by") if rel else None,
            "approved_at": rel.approval.get("approved_at") if rel else None,
            "content_hash": rel.approval.get("content_hash") if rel else None,
            "time_span": rel.meta.get("time_span") if rel else None,
            "transfers_in_lineage": len(rel.meta.get("lineage") or []) if rel else 0,
            "releases": len(approved.history(p.id)),
            "synthetic": bool(rel.meta.get("synthetic")) if rel else None,
            "listed": rel is not None,
        })
    if level == "brochure":
        out = [{k: p[k] for k in BROCHURE_PRODUCT} for p in out]
    return out


def _level(user: Principal | None, level: str | None) -> str:
    if level is not None:
        if level not in ("full", "brochure"):
            raise ValueError(f"catalog level must be full or brochure, not {level!r}")
        return level if user is not None else "full"
    if user is None:
        return "full"
    decided = catalog_detail(user)
    if decided is None:
        raise PermissionError("the catalog needs a live session")
    return decided


def read_level(user: Principal) -> str:
    """The gate's decision for this page: ``full`` or ``brochure`` (one ledger entry)."""
    return _level(user, None)


def datasets(user: Principal | None = None, *, level: str | None = None) -> list[dict]:
    """The 28 datasets, at the level the gate decides for ``user`` (facility names only in full, and
    only for a user: the command line prints counts)."""
    level = _level(user, level)
    names = user is not None and level == "full"
    supply = supply_by_kind()
    reg = facilities().set_index("facility_id")["name_zh"]
    out = []
    for d in dataset_descriptions():
        entry = {k: v for k, v in d.items()}
        entry["facility_names"] = None
        if d["product_id"] is not None:
            s = supply.get(d["kind"])
            rel = _current(d["product_id"])
            entry["stage"] = _stage(d["product_id"], d["kind"], supply)
            entry["facilities"] = len(s.facilities) if s else 0
            entry["rows"] = s.rows if s else None
            entry["transfers"] = s.transfers if s else 0
            entry["last_transfer"] = s.last_transfer if s else None
            entry["time_span"] = (rel.meta.get("time_span") if rel else None) or (list(s.years) if s else None)
            entry["version"] = rel.release_id if rel else None
            entry["approval"] = ({"by": rel.approval.get("approved_by"), "at": rel.approval.get("approved_at"),
                                  "content_hash": rel.approval.get("content_hash")} if rel else None)
            if names and s:
                entry["facility_names"] = [str(reg.get(f, f)) for f in s.facilities]
        elif d["kind"] is not None and not d["descriptive"]:
            # A dataset used through analyses (no product of its own): its real supply, and its dictionary.
            s = supply.get(d["kind"])
            entry["stage"] = "data_out_of_hospital" if s else "scenario_approval"
            entry["facilities"] = len(s.facilities) if s else 0
            entry["rows"] = s.rows if s else None
            entry["transfers"] = s.transfers if s else 0
            entry["last_transfer"] = s.last_transfer if s else None
            entry["time_span"] = list(s.years) if s else None
            entry["usable"] = True
            if names and s:
                entry["facility_names"] = [str(reg.get(f, f)) for f in s.facilities]
        else:
            entry["rows"] = None
            entry["transfers"] = None
            entry["last_transfer"] = None
        entry.setdefault("usable", False)
        if level == "brochure":
            for k in BROCHURE_DATASET_BLANK:
                entry[k] = None
            if entry["stage"] and STAGES.index(entry["stage"]) > STAGES.index(BROCHURE_LAST_STAGE):
                entry["stage"] = BROCHURE_LAST_STAGE
        entry["stage_index"] = STAGES.index(entry["stage"]) if entry["stage"] else None
        out.append(entry)
    return out


def can_apply(user: Principal, product_id: str | None) -> bool:
    """Whether the catalog offers an application for this entry to this user: the gate's policy, from the
    store (it rules again when the application is made)."""
    return product_id is not None and allowed(user, "scenario.apply", product_id)


def apply_from_catalog(user: Principal, dataset_or_product: str, purpose: str, valid_from: date, valid_to: date,
                       scope: tuple[str, ...] = ("view",)) -> Scenario:
    """Apply for the product behind a catalog entry; lands pending in the commission's inbox."""
    product_id = dataset_or_product
    if product_id not in all_products():
        entry = next((d for d in dataset_descriptions() if d["id"] == dataset_or_product), None)
        if entry is None:
            raise KeyError(f"catalog: no product or dataset {dataset_or_product!r}")
        if entry["product_id"] is None and not entry["descriptive"] and entry["kind"] is not None:
            # A usable dataset: the application is a research scenario (analyses inside the space).
            from data_products.analyses.service import apply_research

            sid = apply_research(user, dataset_or_product, purpose, valid_from, valid_to)
            return next(s for s in list_scenarios(org_id=user.org_id) if s.id == sid)
        if entry["product_id"] is None:
            raise ValueError(f"catalog: dataset {dataset_or_product!r} is descriptive; it backs no product to apply for")
        product_id = entry["product_id"]
    return apply(user, product_id, purpose, valid_from, valid_to, scope)


def display_name(resource_id: str, lng: str) -> str:
    """A product's or (for a research scenario) a dataset's name in the page's language; an id the
    space does not know shows as stored."""
    p = all_products().get(resource_id) or DICTIONARIES.get(resource_id)
    if p is None:
        return resource_id
    return p.name_en if lng == "en" else p.name_zh


def default_window(days: int = 180) -> tuple[date, date]:
    today = date.today()
    return today, today + timedelta(days=days)


def releases_awaiting_approval(product_ids: list[str] | None = None) -> list[dict]:
    """Candidate releases not yet approved, by file name only (a candidate is never opened here)."""
    out = []
    for pid in product_ids or list(all_products()):
        folder = paths().candidates / pid
        if not folder.is_dir():
            continue
        done = {h.get("release_id") for h in approved.history(pid)} if (paths().approved / pid).is_dir() else set()
        for f in sorted(folder.glob("*.duckdb")):
            if f.stem not in done:
                out.append({"product_id": pid, "release_id": f.stem})
    return out


def my_applications(user: Principal, state: str | None = "pending") -> list[Scenario]:
    """The user's organisation's applied scenarios (pending by default); the organisation is the one the
    governance store holds for this live session, not the session's copy."""
    check = current(user)
    if not check.ok:
        return []
    return [s for s in list_scenarios(org_id=check.row["org_id"], state=state) if s.kind != "standing"]

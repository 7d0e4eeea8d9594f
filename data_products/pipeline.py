"""The space's one-way pipeline: generate -> ingest -> process -> approve.

``process`` runs each product's builder over the restricted zone and writes a candidate release;
``approve`` re-runs the disclosure checks on that candidate, records who approved which content
(with its lineage) in the governance store, and publishes it to the approved zone atomically.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb
import pandas as pd

from data_products import approved
from data_products.config import min_cell, paths


def _discover() -> dict[str, str]:
    """Product id -> module: every ``data_products.products.<name>.release`` module with a
    ``PRODUCT_ID``, ``build(con) -> Candidate`` and ``check(tables, meta) -> list[str]``."""
    import pkgutil

    import data_products.products as pkg

    found = {}
    for m in pkgutil.iter_modules(pkg.__path__):
        if not m.ispkg:
            continue
        name = f"{pkg.__name__}.{m.name}.release"
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        found[mod.PRODUCT_ID] = name
    return dict(sorted(found.items()))


BUILDERS = _discover()
SYNTHETIC_NOTICE = "Synthetic demonstration data: generated, describes no real patient or facility. 合成演示数据。"


@dataclass
class Candidate:
    product_id: str
    tables: dict[str, pd.DataFrame]
    meta: dict


class ApprovalRefused(Exception):
    pass


def _module(product_id: str):
    try:
        return importlib.import_module(BUILDERS[product_id])
    except KeyError:
        raise KeyError(f"no builder for product {product_id!r}; known: {sorted(BUILDERS)}") from None


def process(products: list[str] | None = None) -> list[str]:
    """Build candidate releases; returns their ids."""
    p = paths().ensure()
    if not p.restricted_db.exists():
        raise FileNotFoundError(f"{p.restricted_db} does not exist: run `dataspace ingest` first")
    con = duckdb.connect(str(p.restricted_db), read_only=True)
    ids = []
    try:
        for product_id in products or list(BUILDERS):
            cand: Candidate = _module(product_id).build(con)
            now = datetime.now(UTC)
            cand.meta.update(
                product_id=product_id,
                built_at=now.isoformat(timespec="seconds"),
                min_cell=min_cell(),
                synthetic=(p.home / "DEMO").exists(),
                notice=SYNTHETIC_NOTICE if (p.home / "DEMO").exists() else "",
            )
            digest = approved.content_hash(cand.tables, cand.meta)
            release_id = f"{product_id}@{now.strftime('%Y%m%dT%H%M%S')}-{digest[:8]}"
            cand.meta["release_id"] = release_id
            approved.write_release_file(approved.candidate_path(release_id), cand.tables, cand.meta)
            ids.append(release_id)
    finally:
        con.close()
    return ids


def latest_candidate(product_id: str) -> str:
    files = sorted((paths().candidates / product_id).glob("*.duckdb"))
    if not files:
        raise FileNotFoundError(f"no candidate release of {product_id}: run `dataspace process` first")
    return files[-1].stem


def approve(release_id: str, by: str) -> dict:
    """Check, record and publish. Raises ApprovalRefused with every reason when it must not publish."""
    from data_products.governance import ledger, record_approval, users

    if release_id.startswith("latest:"):
        release_id = latest_candidate(release_id.removeprefix("latest:"))
    path = approved.candidate_path(release_id)
    if not path.exists():
        raise FileNotFoundError(f"no candidate release {release_id!r} at {path}")
    approver = next((u for u in users() if u["username"] == by), None)
    if approver is None or approver.get("disabled") or approver["role"] != "commission_official":
        raise ApprovalRefused(f"{by!r} is not an active commission official; only they approve releases")
    tables, meta = approved.read_release_file(path)
    problems = _module(meta["product_id"]).check(tables, meta)
    if meta.get("min_cell", 0) < min_cell():
        problems.append(f"built with min_cell={meta.get('min_cell')} below the configured {min_cell()}")
    if problems:
        ledger.record(by, "release.refused", release_id, {"problems": problems[:20], "count": len(problems)})
        raise ApprovalRefused("; ".join(problems[:10]) + (f" (+{len(problems) - 10} more)" if len(problems) > 10 else ""))
    digest = approved.content_hash(tables, meta)
    record = {
        "release_id": release_id,
        "product_id": meta["product_id"],
        "content_hash": digest,
        "approved_by": by,
        "approved_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "lineage": meta.get("lineage", []),
        "min_cell": meta.get("min_cell"),
        "built_at": meta.get("built_at"),
    }
    record_approval(release_id, meta["product_id"], digest, by, meta.get("lineage", []))
    approved.publish(release_id, record)
    return record


# --- command-line wrappers ---------------------------------------------------------------------


def cli_process(products: list[str] | None = None) -> int:
    try:
        ids = process(products)
    except (FileNotFoundError, KeyError) as exc:
        print(f"error: {exc}")
        return 2
    for i in ids:
        print(f"candidate {i}")
    return 0


def cli_approve(release_id: str, by: str) -> int:
    try:
        record = approve(release_id, by)
    except (FileNotFoundError, ApprovalRefused) as exc:
        print(f"refused: {exc}")
        return 1
    print(json.dumps(record, ensure_ascii=False, indent=1))
    return 0


def build_demo(seed: int = 2024, scale: str = "demo", log=print) -> list[dict]:
    from data_products.governance import seed_demo
    from data_products.hospital import generate
    from data_products.restricted import ingest

    p = paths().ensure()
    (p.home / "DEMO").write_text("synthetic demonstration space\n", encoding="utf-8")
    log(f"generate (seed {seed}, {scale}) -> {p.hospitals}")
    generate(p, seed=seed, scale=scale)
    log(f"ingest -> {p.restricted_db}")
    report = ingest(p)
    if getattr(report, "rejected", None):
        raise RuntimeError(f"demo extracts rejected: {report}")
    accounts = seed_demo()
    official = next(u for u, role in accounts.items() if role == "commission_official")
    records = []
    for release_id in process():
        log(f"approve {release_id}")
        records.append(approve(release_id, official))
    return records


def cli_build_demo(seed: int = 2024) -> int:
    import time

    t0 = time.perf_counter()
    records = build_demo(seed)
    print(f"built {len(records)} approved release(s) in {time.perf_counter() - t0:.1f} s under {paths().home}")
    return 0

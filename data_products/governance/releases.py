"""Release approvals: which candidate release of a product was approved, by whom, with its content
hash and lineage. Written by `dataspace approve`; each approval is also a ledger entry."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from data_products.governance import ledger
from data_products.governance.store import GovernanceStore, from_db, resolve, to_db, utcnow
from data_products.products.registry import PRODUCTS


class ReleaseError(ValueError):
    pass


@dataclass(frozen=True)
class ReleaseApproval:
    id: int
    release_id: str
    product_id: str
    content_hash: str
    approved_by: str
    approved_at: datetime
    lineage: Any
    audit_seq: int | None = None


def _field(value: object, name: str, limit: int = 256) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ReleaseError(f"{name}: must be non-empty text")
    if len(value) > limit:
        raise ReleaseError(f"{name}: {len(value)} characters, at most {limit} allowed")
    return value.strip()


def record_approval(release_id: str, product_id: str, content_hash: str, approved_by: str, lineage: Any,
                    *, store: GovernanceStore | None = None) -> ReleaseApproval:
    """Record that ``approved_by`` approved ``release_id`` of ``product_id``. Recording the same
    approval again returns the first one; the same release with a different hash is refused."""
    release_id = _field(release_id, "release_id")
    content_hash = _field(content_hash, "content_hash")
    approved_by = _field(approved_by, "approved_by")
    if product_id not in PRODUCTS:
        raise ReleaseError(f"product_id: unknown product {product_id!r}")
    try:
        lineage_text = ledger.canonical_json(lineage)
    except (TypeError, ValueError) as exc:
        raise ReleaseError(f"lineage: not JSON-serialisable ({exc})") from None
    store = resolve(store)
    with store.write() as tx:
        row = tx.one("SELECT * FROM release_approvals WHERE release_id = ? AND product_id = ?", (release_id, product_id))
        if row is not None:
            if row["content_hash"] != content_hash:
                raise ReleaseError(
                    f"release {release_id} of {product_id} was approved with hash {row['content_hash']}, "
                    f"not {content_hash}"
                )
            return _approval(row)
        stamp = to_db(utcnow())
        rid = tx.insert(
            "INSERT INTO release_approvals (release_id, product_id, content_hash, approved_by, approved_at, lineage)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (release_id, product_id, content_hash, approved_by, stamp, lineage_text),
        )
        seq = ledger.append(tx, approved_by, "release.approve", product_id,
                            {"release_id": release_id, "content_hash": content_hash, "approval_id": rid})
        return ReleaseApproval(rid, release_id, product_id, content_hash, approved_by, from_db(stamp),
                               json.loads(lineage_text), seq)


def _approval(row) -> ReleaseApproval:
    return ReleaseApproval(row["id"], row["release_id"], row["product_id"], row["content_hash"], row["approved_by"],
                           from_db(row["approved_at"]), json.loads(row["lineage"]))


def approvals(product_id: str | None = None, *, store: GovernanceStore | None = None) -> list[ReleaseApproval]:
    """Approvals of one product (or all), newest first."""
    store = resolve(store)
    if product_id is None:
        rows = store.query("SELECT * FROM release_approvals ORDER BY id DESC")
    else:
        rows = store.query("SELECT * FROM release_approvals WHERE product_id = ? ORDER BY id DESC", (product_id,))
    return [_approval(r) for r in rows]

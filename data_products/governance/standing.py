"""Standing scenarios: what an organisation may use without applying, by the registry's policy.

The commission uses every product, a hospital the facility-level products and any product built
from its own data. Kept apart from ``scenarios`` (applications, decisions, orders) so that adding an
organisation in ``accounts`` can grant them without ``accounts`` and ``scenarios`` importing each other.
"""

from __future__ import annotations

from data_products.governance import ledger
from data_products.governance.policy import standing_products
from data_products.governance.store import Tx, to_db, utcnow

__all__ = ["STANDING_SCOPE", "grant_standing", "standing_products"]

STANDING_SCOPE = ("view", "download")


def grant_standing(tx: Tx, org_id: int, *, actor: str = "system") -> int:
    """Create the organisation's missing standing scenarios. A revoked one stays revoked."""
    org = tx.one("SELECT type, facility_id FROM orgs WHERE id = ?", (org_id,))
    created = 0
    stamp = to_db(utcnow())
    for product_id in standing_products(org["type"], org["facility_id"]):
        if tx.one("SELECT 1 FROM scenarios WHERE org_id = ? AND product_id = ? AND kind = 'standing'",
                  (org_id, product_id)) is not None:
            continue
        sid = tx.insert(
            "INSERT INTO scenarios (org_id, product_id, kind, purpose, scope, valid_from, valid_to, state,"
            " applied_by, applied_at, decided_by, decided_at, decision_reason)"
            " VALUES (?, ?, 'standing', ?, ?, ?, NULL, 'approved', ?, ?, ?, ?, ?)",
            (org_id, product_id, "standing scenario (products/registry.py)", ",".join(STANDING_SCOPE), stamp,
             actor, stamp, actor, stamp, "standing by registry"),
        )
        ledger.append(tx, actor, "scenario.standing", product_id, {"scenario_id": sid, "org_id": org_id})
        created += 1
    return created

"""The demo research organisation's approved research scenario (demo mode only, from `dataspace build --demo`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from data_products.analyses import service
from data_products.governance import accounts, demo_passwords, scenarios
from data_products.governance.store import GovernanceStore, resolve, utcnow

DEMO_USER = "research_org"
DEMO_DATASET = "ds_liver_cancer"
PURPOSE = "乙肝相关肝癌不同CNLC分期的首次治疗方式与生存分析，用于临床研究方案设计（演示）"


def seed(store: GovernanceStore | None = None, *, now: datetime | None = None) -> int | None:
    """Give the demo research organisation an approved research scenario on the liver-cancer dataset
    (once); returns its id. Acts through the same functions people use, so the ledger shows each step."""
    store = resolve(store)
    now = now or utcnow()
    if DEMO_USER not in {u["username"] for u in accounts.users(store)}:
        return None
    service.ensure_schema(store)
    org_name = next(u["org"] for u in accounts.users(store) if u["username"] == DEMO_USER)
    org = next(o["id"] for o in accounts.orgs(store) if o["name"] == org_name)
    existing = store.one("SELECT id FROM scenarios WHERE org_id = ? AND product_id = ? AND scope = ?",
                         (org, DEMO_DATASET, service.SCOPE))
    if existing is not None:
        return int(existing["id"])
    who = _sign_in(store, DEMO_USER, now - timedelta(days=7))
    sid = service.apply_research(who, DEMO_DATASET, PURPOSE, (now - timedelta(days=7)).date(),
                                 (now + timedelta(days=180)).date(), now=now - timedelta(days=7), store=store)
    official = _sign_in(store, "official", now - timedelta(days=6))
    scenarios.approve(official, sid, "用途明确、期限半年、仅限该数据集的空间内分析（演示）", now=now - timedelta(days=6),
                      store=store)
    accounts.sign_out(who, store=store)
    accounts.sign_out(official, store=store)
    return sid


def _sign_in(store: GovernanceStore, username: str, at: datetime) -> accounts.Principal:
    result = accounts.sign_in(username, demo_passwords()[username], now=at, store=store)
    if not result.ok:
        raise RuntimeError(f"analyses demo seed: cannot sign in {username}: {result.reason}")
    return result.principal

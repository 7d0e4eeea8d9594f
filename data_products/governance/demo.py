"""Demo accounts, created only by ``seed_demo`` (called from `dataspace build --demo`).

The passwords are fixed, public strings so the README can list them; they exist only in a demo
data home and are no secret of any deployment.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from data_products.governance import accounts, scenarios
from data_products.governance.store import GovernanceStore, resolve, utcnow
from data_products.reference.facilities import facilities

COMMISSION = "广州市卫生健康委员会（演示）"
COMPANY_BOUGHT = "粤康医疗器械有限公司（虚构）"
COMPANY_NONE = "穗数健康科技有限公司（虚构）"
# A research institution: registered as an external organisation (type 'company') until organisations
# have a type of their own for research; it uses datasets through analyses only (data_products.analyses).
RESEARCH_ORG = "岭南临床医学研究院（虚构）"
JAUNDICE_PRODUCER = "F0602"
# The appointment platform polls the wait-time feed under this service principal and its own scenario.
FEED_SERVICE = "wait_times_feed"
FEED_ORG = "健康广州预约挂号平台（演示）"
OTHER_HOSPITAL = "F0301"
# The demo organisations' names in English (the store holds one name; hospitals' come from the registry).
ORG_NAMES_EN = {
    COMMISSION: "Guangzhou Municipal Health Commission (demo)",
    COMPANY_BOUGHT: "Yuekang Medical Devices Co., Ltd. (fictional)",
    COMPANY_NONE: "Suishu Health Technology Co., Ltd. (fictional)",
    RESEARCH_ORG: "Lingnan Institute of Clinical Medicine (fictional)",
    FEED_ORG: "Healthy Guangzhou appointment platform (demo)",
}

# username -> (role, organisation, facility)
_ACCOUNTS: dict[str, tuple[str, str | None, str | None]] = {
    "official": ("commission_official", COMMISSION, None),
    # The second pair of eyes every release needs (two different officials approve it).
    "official2": ("commission_official", COMMISSION, None),
    "analyst": ("commission_analyst", COMMISSION, None),
    "hospital_f0602": ("hospital", None, JAUNDICE_PRODUCER),
    "hospital_f0301": ("hospital", None, OTHER_HOSPITAL),
    "company_jaundice": ("company", COMPANY_BOUGHT, None),
    "company_none": ("company", COMPANY_NONE, None),
    "research_org": ("company", RESEARCH_ORG, None),
}


def demo_passwords() -> dict[str, str]:
    """Demo username -> password (demo only)."""
    return {name: f"demo-{name.replace('_', '-')}-2025" for name in _ACCOUNTS}


def demo_accounts() -> list[dict[str, str | None]]:
    """For the README and the sign-in page: username, password, role, organisation, facility."""
    names = facilities().set_index("facility_id")["name_zh"]
    out = []
    for username, (role, org, facility) in _ACCOUNTS.items():
        out.append({"username": username, "password": demo_passwords()[username], "role": role,
                    "org": org or names[facility], "facility": facility})
    return out


def demo_session(username: str, *, client: str, store: GovernanceStore | None = None) -> accounts.Principal:
    """A session for a demo account with no credential, for the command line in a demo space only (the
    demo's passwords are public; its feed service has none). Refused anywhere else."""
    from data_products.config import demo_mode

    if not demo_mode():
        raise accounts.AccountError("demo sessions exist only in a demo space (built with --demo)")
    name = accounts.normalize_username(username)
    if name not in {*_ACCOUNTS, FEED_SERVICE}:
        raise accounts.AccountError(f"username: {name!r} is not a demo account")
    return accounts.session_without_credential(name, client=client, via="demo", store=store)


def seed_demo(store: GovernanceStore | None = None, *, now: datetime | None = None) -> dict[str, str]:
    """Create the demo organisations, users and scenarios; running it again changes nothing.
    Returns username -> role."""
    store = resolve(store)
    now = now or utcnow()
    existing = {u["username"] for u in accounts.users(store)}
    for row in demo_accounts():
        if row["username"] in existing:
            continue
        accounts.add_user(row["username"], row["password"], row["role"], row["org"], facility=row["facility"],
                          actor="seed_demo", store=store)
    scenarios.ensure_standing(store, actor="seed_demo")
    org_ids = {o["name"]: o["id"] for o in accounts.orgs(store)}
    if not scenarios.scenarios(org_id=org_ids[COMPANY_BOUGHT], product_id="jaundice_report", store=store):
        buyer = _sign_in(store, "company_jaundice", now - timedelta(days=30))
        sc = scenarios.order(buyer, "jaundice_report",
                             "评估本公司经皮黄疸仪（TcB）与血清胆红素的一致性，用于产品注册材料（演示）",
                             (now - timedelta(days=30)).date(), (now + timedelta(days=365)).date(),
                             ("view", "download"), now=now - timedelta(days=30), store=store)
        official = _sign_in(store, "official", now - timedelta(days=29))
        scenarios.approve(official, sc.id, "用途明确，期限一年，仅限本公司产品评估（演示）",
                          now=now - timedelta(days=29), store=store)
        accounts.sign_out(buyer, store=store)
        accounts.sign_out(official, store=store)
    f0301 = next(o["id"] for o in accounts.orgs(store) if o["facility_id"] == OTHER_HOSPITAL)
    if not scenarios.scenarios(org_id=f0301, product_id="jaundice_report", store=store):
        applicant = _sign_in(store, "hospital_f0301", now)
        scenarios.apply(applicant, "jaundice_report", "对比本院新生儿科在用黄疸仪的测量表现（演示）",
                        now.date(), (now + timedelta(days=180)).date(), ("view",), now=now, store=store)
        accounts.sign_out(applicant, store=store)
    _seed_feed_service(store, now)
    return {row["username"]: row["role"] for row in demo_accounts()}


def _seed_feed_service(store: GovernanceStore, now: datetime) -> None:
    """The wait-time feed's service principal with an approved export scenario (so the README's
    `dataspace export wait-times` works in the demo). Its password is random and never shown: a
    service does not sign in to the app."""
    if not any(u["username"] == FEED_SERVICE for u in accounts.users(store)):
        accounts.add_user(FEED_SERVICE, secrets.token_urlsafe(32), "service", FEED_ORG, actor="seed_demo", store=store)
    org_id = next(o["id"] for o in accounts.orgs(store) if o["name"] == FEED_ORG)
    if scenarios.scenarios(org_id=org_id, product_id="wait_times", store=store):
        return
    # One official files it, another approves it (four eyes, like every application).
    filer, approver = _sign_in(store, "official", now), _sign_in(store, "official2", now)
    sc = scenarios.apply_for_service(filer, FEED_SERVICE, "wait_times",
                                     "向预约挂号平台发布各院候诊时间估计，供患者选择就诊时段（演示）",
                                     (now - timedelta(days=1)).date(), (now + timedelta(days=365)).date(),
                                     now=now, store=store)
    scenarios.approve(approver, sc.id, "仅发布已批准的汇总估计（演示）", now=now, store=store)
    accounts.sign_out(filer, store=store)
    accounts.sign_out(approver, store=store)


def _sign_in(store: GovernanceStore, username: str, at: datetime) -> accounts.Principal:
    # Seeding acts through the same API as people do, so its steps land in the ledger as theirs.
    result = accounts.sign_in(username, demo_passwords()[username], now=at, store=store)
    if not result.ok:
        raise RuntimeError(f"seed_demo: cannot sign in {username}: {result.reason}")
    return result.principal

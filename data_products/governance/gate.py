"""The access gate: the one place that decides whether a user may view or download a product.

``decide`` asks: is this user's session live, and does their organisation hold a scenario for this
product that is approved, inside its window, covering this action (and, for a company, backed by an
active order)? It answers with a machine reason, a message in both languages that says why and how
to apply, the scenario used and the row scope. Every decision, allow or deny, goes to the ledger in
the same transaction that restarts the session's idle clock.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from data_products.governance import ledger
from data_products.governance.accounts import Principal, check_session
from data_products.governance.store import LOCAL, GovernanceStore, Tx, from_db, resolve, to_db, utcnow
from data_products.i18n import t
from data_products.products.registry import ACTIONS, PRODUCTS

FacilityNames = Literal["all", "own_only", "none"]

ALLOW_REASONS = ("standing_scenario", "approved_scenario")
# Deny reasons about the organisation's scenarios, most useful to tell the user first.
_STATUS_PRIORITY = (
    "action_not_in_scope", "order_not_active", "scenario_not_yet_valid", "scenario_pending",
    "scenario_expired", "scenario_revoked", "scenario_withdrawn", "scenario_rejected",
)
DENY_REASONS = (
    "no_session", "session_expired", "user_disabled", "unknown_action", "unknown_product",
    *_STATUS_PRIORITY, "no_scenario", "not_eligible",
)

_HOWTO = {
    "company": {
        "zh": "请在“产品目录”中订购本产品，填写用途与使用期限，经广州市卫生健康委员会审批通过后开通。",
        "en": "Order this product in the Catalog with its purpose and period; it opens once the Guangzhou Health "
              "Commission approves the scenario.",
    },
    "hospital": {
        "zh": "请在“产品目录”中提交使用场景申请（用途、期限、范围），由广州市卫生健康委员会审批。",
        "en": "Apply for a usage scenario (purpose, period, scope) in the Catalog; the Guangzhou Health Commission "
              "approves it.",
    },
    "none": {
        "zh": "如需访问，请联系广州市卫生健康委员会数据空间管理员。",
        "en": "To get access, contact the Guangzhou Health Commission's data-space administrator.",
    },
}

MESSAGES = {
    "gov.gate.standing_scenario": {"zh": "已授权：贵机构对“{product}”持有常设使用场景（#{scenario}）。",
                               "en": "Allowed: your organisation holds a standing scenario (#{scenario}) for “{product}”."},
    "gov.gate.approved_scenario": {"zh": "已授权：依据已批准的使用场景 #{scenario}，有效期至 {until}。",
                               "en": "Allowed under approved scenario #{scenario}, valid through {until}."},
    "gov.gate.no_session": {"zh": "未登录或会话已结束，请重新登录。", "en": "You are not signed in, or your session has ended. Please sign in."},
    "gov.gate.session_expired": {"zh": "会话因长时间无操作已超时，请重新登录。",
                             "en": "Your session timed out after a period of inactivity. Please sign in again."},
    "gov.gate.user_disabled": {"zh": "该账户已停用。", "en": "This account is disabled."},
    "gov.gate.unknown_action": {"zh": "不支持的操作“{action}”。", "en": "Unsupported action “{action}”."},
    "gov.gate.unknown_product": {"zh": "不存在数据产品“{product}”。", "en": "There is no data product “{product}”."},
    "gov.gate.action_not_in_scope": {"zh": "使用场景 #{scenario} 的范围不包含“{action_zh}”。",
                                 "en": "Scenario #{scenario} does not cover “{action}”; apply for a scenario whose scope includes it."},
    "gov.gate.order_not_active": {"zh": "订单未生效（场景 #{scenario}）。", "en": "The order behind scenario #{scenario} is not active."},
    "gov.gate.scenario_not_yet_valid": {"zh": "使用场景 #{scenario} 尚未生效，自 {start} 起可用。",
                                    "en": "Scenario #{scenario} is not yet valid; it opens on {start}."},
    "gov.gate.scenario_pending": {"zh": "使用场景申请 #{scenario} 正在等待市卫健委审批。",
                              "en": "Your application #{scenario} is waiting for the commission's approval."},
    "gov.gate.scenario_expired": {"zh": "使用场景 #{scenario} 有效期至 {until}，现已到期。", "en": "Scenario #{scenario} expired after {until}."},
    "gov.gate.scenario_revoked": {"zh": "使用场景 #{scenario} 已被撤销。", "en": "Scenario #{scenario} was revoked."},
    "gov.gate.scenario_withdrawn": {"zh": "使用场景申请 #{scenario} 已撤回。", "en": "Application #{scenario} was withdrawn."},
    "gov.gate.scenario_rejected": {"zh": "使用场景申请 #{scenario} 未获批准。", "en": "Application #{scenario} was rejected."},
    "gov.gate.no_scenario": {"zh": "贵机构没有“{product}”的有效使用场景。",
                         "en": "Your organisation holds no scenario for “{product}”."},
    "gov.gate.not_eligible": {"zh": "贵机构类型不能使用“{product}”。", "en": "Your type of organisation cannot use “{product}”."},
}

_ACTION_ZH = {"view": "查看", "download": "下载"}


@dataclass(frozen=True)
class RowScope:
    """Which facility names the user may see in a product's rows."""

    own_facility: str | None
    facility_names: FacilityNames


NO_ROWS = RowScope(None, "none")


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    message_zh: str
    message_en: str
    product_id: str
    action: str
    username: str
    scenario_id: int | None
    row_scope: RowScope
    valid_to: datetime | None = None
    audit_seq: int | None = None

    def message(self, lang: str) -> str:
        return self.message_en if lang == "en" else self.message_zh

    def __bool__(self) -> bool:
        return self.allowed


class AccessDenied(PermissionError):
    def __init__(self, decision: Decision):
        super().__init__(f"{decision.reason}: {decision.message_en}")
        self.decision = decision


def row_scope_for(org_type: str, facility_id: str | None) -> RowScope:
    if org_type == "commission":
        return RowScope(None, "all")
    if org_type == "hospital":
        return RowScope(facility_id, "own_only")
    return NO_ROWS


def _fmt(moment: datetime | None, *, end: bool = False) -> str:
    """Local time; an exclusive window end at midnight reads as the last day it covers."""
    if moment is None:
        return "—"
    local = moment.astimezone(LOCAL)
    if end and (local.hour, local.minute, local.second, local.microsecond) == (0, 0, 0, 0):
        return (local - timedelta(days=1)).strftime("%Y-%m-%d")
    return local.strftime("%Y-%m-%d %H:%M")


def _make(allowed: bool, reason: str, username: str, product_id: Any, action: Any, *, org_type: str | None = None,
          scenario: Any = None, scope: RowScope = NO_ROWS) -> Decision:
    product = PRODUCTS.get(product_id) if isinstance(product_id, str) else None
    valid_to = from_db(scenario["valid_to"]) if scenario is not None else None
    values = {
        "scenario": scenario["id"] if scenario is not None else "",
        "until": _fmt(valid_to, end=True),
        "start": _fmt(from_db(scenario["valid_from"])) if scenario is not None else "—",
        "action": ledger.clean_text(action, 40),
        "action_zh": _ACTION_ZH.get(action, ledger.clean_text(action, 40)) if isinstance(action, str) else "?",
    }
    texts = {}
    for lang in ("zh", "en"):
        name = (product.name_en if lang == "en" else product.name_zh) if product else ledger.clean_text(product_id, 80)
        text = t(f"gov.gate.{reason}", lang, product=name, **values)
        if not allowed and reason not in ("no_session", "session_expired", "user_disabled", "unknown_action",
                                          "unknown_product", "scenario_pending"):
            eligible = product is not None and org_type in product.applicable_by
            text += " " + _HOWTO[org_type if eligible and org_type in _HOWTO else "none"][lang]
        texts[lang] = text
    return Decision(allowed, reason, texts["zh"], texts["en"], ledger.clean_text(product_id, 80),
                    ledger.clean_text(action, 40), username, scenario["id"] if scenario is not None else None,
                    scope if allowed else NO_ROWS, valid_to)


def _status(row, now_text: str) -> str:
    state = row["state"]
    if state != "approved":
        return state
    if now_text < row["valid_from"]:
        return "not_yet_valid"
    if row["valid_to"] is not None and now_text >= row["valid_to"]:
        return "expired"
    return "active"


def _claimed(principal: Any) -> str:
    return ledger.clean_text(getattr(principal, "username", None) or "anonymous", 128)


def evaluate(tx: Tx, principal: Principal, product_id: str, action: str, now: datetime, *, touch: bool) -> Decision:
    """The decision without writing it to the ledger (``decide`` writes it)."""
    check = check_session(tx, principal, now, touch=touch)
    username = check.row["username"] if check.row is not None else _claimed(principal)
    if not check.ok:
        return _make(False, check.reason, username, product_id, action)
    who = check.row
    org_type = who["org_type"]
    if action not in ACTIONS:
        return _make(False, "unknown_action", username, product_id, action, org_type=org_type)
    if not isinstance(product_id, str) or product_id not in PRODUCTS:
        return _make(False, "unknown_product", username, product_id, action, org_type=org_type)
    rows = tx.all(
        "SELECT s.id, s.kind, s.scope, s.valid_from, s.valid_to, s.state, s.order_id, r.state AS order_state"
        " FROM scenarios s LEFT JOIN orders r ON r.id = s.order_id"
        " WHERE s.org_id = ? AND s.product_id = ? ORDER BY s.id DESC",
        (who["org_id"], product_id),
    )
    now_text = to_db(now)
    best: tuple[int, Any] | None = None
    allow: list[Any] = []
    for row in rows:
        status = _status(row, now_text)
        if status == "active":
            if action not in row["scope"].split(","):
                status = "action_not_in_scope"
            elif org_type == "company" and (row["order_id"] is None or row["order_state"] != "active"):
                status = "order_not_active"
            else:
                allow.append(row)
                continue
        else:
            status = f"scenario_{status}"
        rank = _STATUS_PRIORITY.index(status)
        if best is None or rank < best[0]:
            best = (rank, row)
    if allow:
        # A standing scenario first; otherwise the approved one that lasts longest.
        chosen = max(allow, key=lambda r: (r["kind"] == "standing", r["valid_to"] or "~", r["id"]))
        reason = "standing_scenario" if chosen["kind"] == "standing" else "approved_scenario"
        return _make(True, reason, username, product_id, action, org_type=org_type, scenario=chosen,
                     scope=row_scope_for(org_type, who["facility_id"]))
    if best is not None:
        return _make(False, _STATUS_PRIORITY[best[0]], username, product_id, action, org_type=org_type,
                     scenario=best[1])
    product = PRODUCTS[product_id]
    eligible = org_type in product.applicable_by or org_type in product.standing
    return _make(False, "no_scenario" if eligible else "not_eligible", username, product_id, action,
                 org_type=org_type)


def _audit(tx: Tx, decision: Decision, principal: Any, now: datetime | None, extra: dict[str, Any] | None = None) -> int:
    detail: dict[str, Any] = {
        "action": decision.action,
        "reason": decision.reason,
        "scenario_id": decision.scenario_id,
        "facility_names": decision.row_scope.facility_names,
    }
    if decision.reason in ("no_session",):
        detail["claimed_user"] = True
    if now is not None:
        detail["evaluated_at"] = to_db(now)
    if extra:
        detail.update(extra)
    return ledger.append(tx, decision.username, "gate.allow" if decision.allowed else "gate.deny",
                         decision.product_id, detail)


def decide(user: Principal, product_id: str, action: str, *, now: datetime | None = None,
           store: GovernanceStore | None = None) -> Decision:
    """Allow or deny ``action`` ('view' | 'download') on ``product_id``; always audited."""
    store = resolve(store)
    at = now or utcnow()
    with store.write() as tx:
        decision = evaluate(tx, user, product_id, action, at, touch=True)
        seq = _audit(tx, decision, user, now)
    return replace(decision, audit_seq=seq)


def require(user: Principal, product_id: str, action: str, *, now: datetime | None = None,
            store: GovernanceStore | None = None) -> Decision:
    """``decide``, raising ``AccessDenied`` on a deny."""
    decision = decide(user, product_id, action, now=now, store=store)
    if not decision.allowed:
        raise AccessDenied(decision)
    return decision


def record_download(user: Principal, product_id: str, artifact: str, *, sha256: str | None = None,
                    n_bytes: int | None = None, now: datetime | None = None,
                    store: GovernanceStore | None = None) -> Decision:
    """Check and record one delivered download (file name, its hash and size) in one entry;
    raises ``AccessDenied`` (after auditing the deny) if the user may not download."""
    store = resolve(store)
    at = now or utcnow()
    with store.write() as tx:
        decision = evaluate(tx, user, product_id, "download", at, touch=True)
        if decision.allowed:
            seq = ledger.append(tx, decision.username, "download", decision.product_id, {
                "artifact": ledger.clean_text(artifact), "sha256": sha256, "bytes": n_bytes,
                "scenario_id": decision.scenario_id, "facility_names": decision.row_scope.facility_names,
            })
        else:
            seq = _audit(tx, decision, user, now, {"artifact": ledger.clean_text(artifact)})
    decision = replace(decision, audit_seq=seq)
    if not decision.allowed:
        raise AccessDenied(decision)
    return decision


def visible_products(user: Principal, *, now: datetime | None = None,
                     store: GovernanceStore | None = None) -> list[str]:
    """Products the user could view right now, for navigation. Not audited (opening one is) and
    does not count as activity for the idle timeout."""
    store = resolve(store)
    at = now or utcnow()
    with store.read() as tx:
        return [pid for pid in PRODUCTS if evaluate(tx, user, pid, "view", at, touch=False).allowed]


# Governance pages (the scenario inbox, the audit ledger) are not products, but they are decided here
# too, from the role the store holds now, and every decision is in the ledger like a product's.
GOVERNANCE_AREAS: dict[str, tuple[str, ...]] = {
    "scenarios": ("commission_official", "commission_analyst"),
    "audit": ("commission_official", "commission_analyst"),
}


def governance_role(user: Principal, area: str, *, now: datetime | None = None,
                    store: GovernanceStore | None = None) -> str | None:
    """The user's current role if it may open governance ``area``, else None; audited either way.
    What each role may do there (only officials decide) is enforced by the scenario functions."""
    store = resolve(store)
    at = now or utcnow()
    with store.write() as tx:
        check = check_session(tx, user, at, touch=True)
        role = check.row["role"] if check.ok else None
        allowed = role in GOVERNANCE_AREAS.get(area, ())
        ledger.append(tx, user.username, "gate.governance", area,
                      {"allowed": allowed, "reason": "role" if check.ok else check.reason, "role": role})
    return role if allowed else None


# The catalog is not a product, but what it tells is decided here too. The commission reads it in full
# (exact record totals, contributing facilities, versions, approvals, whether a product was sold); every
# other user reads what a signed-out brochure would say: what exists, its fields, time span and update
# frequency, and whether it is listed. Sale status, totals and facility counts are business facts of the
# space and of the hospitals supplying it, not something a prospective buyer needs to apply.
CATALOG_FULL_ROLES = ("commission_official", "commission_analyst")


def catalog_detail(user: Principal, *, now: datetime | None = None,
                   store: GovernanceStore | None = None) -> Literal["full", "brochure"] | None:
    """How much of the catalog the user may read ('full' or 'brochure'), or None without a live session;
    audited either way, like a page open."""
    store = resolve(store)
    at = now or utcnow()
    with store.write() as tx:
        check = check_session(tx, user, at, touch=True)
        role = check.row["role"] if check.ok else None
        level = ("full" if role in CATALOG_FULL_ROLES else "brochure") if check.ok else None
        ledger.append(tx, _claimed(user) if not check.ok else check.row["username"], "gate.catalog", "catalog",
                      {"level": level, "reason": "role" if check.ok else check.reason, "role": role})
    return level

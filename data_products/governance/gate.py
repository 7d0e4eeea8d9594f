"""The access gate: the one place that decides who may use a product, and hands out grants.

``evaluate`` (pure, writes no ledger entry) asks: is this user's session live, and does their
organisation hold a scenario for this product that is approved, inside its window, covering this
action (and, for a company, backed by an active order)? It answers with a machine reason, a message in
both languages that says why and how to apply, the scenario used and the row scope. ``decide`` is the
same decision written to the ledger in the transaction that restarts the session's idle clock.

A use of a product goes through a **grant**: ``open_product`` (a page open), ``deliver`` (a download)
and ``export`` (a feed, under a service principal) each decide once, write one ledger entry, and
return a ``Grant`` carrying the decision, the row scope and the approved release it covers. Product
view functions take a grant and refuse anything else (``use``): only this module can mint one, so a
view cannot be reached without a decision. Re-running a page under a live grant (a filter change)
writes nothing new: ``renew`` re-evaluates it purely and hands back the same grant.

Decisions that need no scenario (who approves releases, decides scenarios, opens governance pages,
applies from the catalog) are ``allowed(actor, action, resource)``, the role policy of ``policy``.
"""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from data_products.governance import ledger
from data_products.governance.accounts import Principal, check_session, normalize_username, username_key
from data_products.governance.policy import ACTIONS, Actor, actor_of, products
from data_products.governance.policy import allowed as role_allowed
from data_products.governance.store import LOCAL, GovernanceStore, Tx, from_db, resolve, to_db, utcnow
from data_products.i18n import t

FacilityNames = Literal["all", "own_only", "none"]

ALLOW_REASONS = ("standing_scenario", "approved_scenario")
# Deny reasons about the organisation's scenarios, most useful to tell the user first.
_STATUS_PRIORITY = (
    "action_not_in_scope", "order_not_active", "scenario_not_yet_valid", "scenario_pending",
    "scenario_expired", "scenario_revoked", "scenario_withdrawn", "scenario_rejected",
)
DENY_REASONS = (
    "no_session", "session_expired", "user_disabled", "no_service", "unknown_action", "unknown_product",
    *_STATUS_PRIORITY, "no_scenario", "not_eligible",
)
# A page open under a grant is re-evaluated on every rerun, but the grant itself lasts at most this long.
GRANT_TTL = timedelta(minutes=30)

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
    "gov.gate.no_service": {"zh": "该名称不是数据空间登记的服务主体。",
                            "en": "No service principal of that name is registered in the data space."},
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

_ACTION_ZH = {"view": "查看", "download": "下载", "export": "导出"}


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
    # A service principal's feed is what its approved scenario describes; the commission approved it
    # knowing what the feed publishes (the wait-time feed names facilities for patients).
    if org_type in ("commission", "service"):
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
    product = products().get(product_id) if isinstance(product_id, str) else None
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
        if not allowed and reason not in ("no_session", "session_expired", "user_disabled", "no_service",
                                          "unknown_action", "unknown_product", "scenario_pending"):
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
    if action == "export":
        # People look and download; only a service principal exports, under its own scenario.
        return _make(False, "unknown_action", username, product_id, action, org_type=check.row["org_type"])
    return _scenario_decision(tx, check.row, username, product_id, action, now)


def _service_row(tx: Tx, service: str):
    try:
        key = username_key(normalize_username(service))
    except Exception:  # noqa: BLE001 - any malformed name is simply no service
        return None
    return tx.one("SELECT u.id AS user_id, u.username, u.role, u.disabled, u.org_id, o.name AS org_name,"
                  " o.type AS org_type, o.facility_id FROM users u JOIN orgs o ON o.id = u.org_id"
                  " WHERE u.username_key = ?", (key,))


def evaluate_service(tx: Tx, service: Principal, product_id: str, action: str, now: datetime) -> Decision:
    """A service principal's decision, without the ledger: the service proved who it is (its token) and
    its live session says so; a name alone is never a service."""
    check = check_session(tx, service, now, touch=False)
    username = check.row["username"] if check.row is not None else _claimed(service)
    if not check.ok:
        return _make(False, check.reason, username, product_id, action)
    row = check.row
    if row["role"] != "service":
        return _make(False, "no_service", username, product_id, action)
    if action != "export":
        return _make(False, "unknown_action", username, product_id, action, org_type=row["org_type"])
    return _scenario_decision(tx, row, username, product_id, action, now)


def _scenario_decision(tx: Tx, who: Any, username: str, product_id: str, action: str, now: datetime) -> Decision:
    org_type = who["org_type"]
    if action not in ACTIONS:
        return _make(False, "unknown_action", username, product_id, action, org_type=org_type)
    if not isinstance(product_id, str) or product_id not in products():
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
    product = products()[product_id]
    eligible = org_type in product.applicable_by or org_type in product.standing or org_type == "service"
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
        return [pid for pid in products() if evaluate(tx, user, pid, "view", at, touch=False).allowed]


# --- the role policy (decisions that need no scenario) ------------------------------------------------


def actor(tx: Tx, who: Principal | str, now: datetime, *, touch: bool = False) -> tuple[Actor | None, str]:
    """Who acts, read from the store: a signed-in principal through its live session, or a user named
    on the command line (role, organisation and state as stored now, never a session's copy)."""
    if isinstance(who, str):
        row = _service_row(tx, who)
        if row is None:
            return None, "no_user"
        if row["disabled"]:
            return None, "user_disabled"
        return actor_of(row), "ok"
    check = check_session(tx, who, now, touch=touch)
    if not check.ok:
        return None, check.reason
    return actor_of(check.row), "ok"


def allowed(who: Principal | str, action: str, resource: str | None = None, *, audit: bool = False,
            now: datetime | None = None, store: GovernanceStore | None = None) -> bool:
    """datasette's ``allowed(actor, action, resource)`` for the role policy (``policy.ROLE_ACTIONS`` and
    ``scenario.apply``). With ``audit`` the decision goes to the ledger (governance page opens)."""
    store = resolve(store)
    at = now or utcnow()
    with (store.write() if audit else store.read()) as tx:
        return allowed_in(tx, who, action, resource, at, audit=audit)


def allowed_in(tx: Tx, who: Principal | str, action: str, resource: str | None, now: datetime, *,
               audit: bool = False) -> bool:
    """``allowed`` inside the caller's transaction (so a decision and what it permits commit together)."""
    who_actor, why = actor(tx, who, now, touch=audit)
    ok, reason = role_allowed(who_actor, action, resource) if who_actor is not None else (False, why)
    if audit:
        name = who_actor.username if who_actor else (who if isinstance(who, str) else _claimed(who))
        ledger.append(tx, ledger.clean_text(name, 128), "gate.policy", ledger.clean_text(resource or action, 80),
                      {"action": action, "allowed": ok, "reason": reason,
                       "role": who_actor.role if who_actor else None})
    return ok


def governance_role(user: Principal, area: str, *, now: datetime | None = None,
                    store: GovernanceStore | None = None) -> str | None:
    """The user's current role if it may open governance ``area``, else None; audited either way.
    What each role may do there (only officials decide) is enforced by the scenario functions."""
    store = resolve(store)
    at = now or utcnow()
    with store.write() as tx:
        who, why = actor(tx, user, at, touch=True)
        ok, reason = role_allowed(who, "area.open", area) if who is not None else (False, why)
        ledger.append(tx, user.username, "gate.governance", area,
                      {"allowed": ok, "reason": reason, "role": who.role if who else None})
    return who.role if ok and who else None


def catalog_detail(user: Principal, *, now: datetime | None = None,
                   store: GovernanceStore | None = None) -> Literal["full", "brochure"] | None:
    """How much of the catalog the user may read ('full' or 'brochure', by the policy's ``catalog.full``),
    or None without a live session; audited either way, like a page open."""
    store = resolve(store)
    at = now or utcnow()
    with store.write() as tx:
        who, why = actor(tx, user, at, touch=True)
        level = None if who is None else ("full" if role_allowed(who, "catalog.full")[0] else "brochure")
        ledger.append(tx, who.username if who else _claimed(user), "gate.catalog", "catalog",
                      {"level": level, "reason": "role" if who else why, "role": who.role if who else None})
    return level


# --- grants ------------------------------------------------------------------------------------------

_SEAL = object()
# Every grant the gate minted, by identity: a copy made with ``dataclasses.replace`` (say, with a wider
# row scope) carries the seal but is not here, so ``use`` refuses it.
_MINTED: weakref.WeakSet[Grant] = weakref.WeakSet()


class GrantError(PermissionError):
    """A view was called without a grant that covers it (wrong product, action, or expired)."""


@dataclass(frozen=True, eq=False)
class Grant:
    """One decided use of a product: the decision, the row scope and the approved release it covers.

    Only the gate mints grants (the seal is private to this module); view functions ``use`` them.
    """

    decision: Decision
    release: Any = field(repr=False)
    issued_at: datetime = field(default_factory=utcnow)
    expires_at: datetime = field(default_factory=utcnow)
    filters: Mapping[str, Any] = field(default_factory=dict)
    principal: Any = field(default=None, repr=False)
    _seal: object = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self._seal is not _SEAL:
            raise GrantError("only the gate mints grants (governance.gate.open_product / deliver / export)")

    @property
    def product_id(self) -> str:
        return self.decision.product_id

    @property
    def action(self) -> str:
        return self.decision.action

    @property
    def row_scope(self) -> RowScope:
        return self.decision.row_scope

    @property
    def username(self) -> str:
        return self.decision.username

    @property
    def release_id(self) -> str | None:
        return getattr(self.release, "release_id", None)


def use(grant: Any, product_id: str, actions: Iterable[str] = ("view", "download"), *,
        now: datetime | None = None) -> Grant:
    """What a view function does first: refuse anything but a live grant for this product and action."""
    if not isinstance(grant, Grant) or grant._seal is not _SEAL or grant not in _MINTED:
        raise GrantError(f"{product_id}: a view needs a Grant from the gate, got {type(grant).__name__}")
    if grant.product_id != product_id:
        raise GrantError(f"grant for {grant.product_id!r} used on {product_id!r}")
    actions = tuple(actions)
    if grant.action not in actions:
        raise GrantError(f"grant for {grant.action!r} on {product_id!r} used for {'/'.join(actions)}")
    if (now or utcnow()) >= grant.expires_at:
        raise GrantError(f"grant for {product_id!r} expired at {grant.expires_at.isoformat()}")
    return grant


def _load_release(product_id: str):
    return products()[product_id].release()


def _mint(decision: Decision, release: Any, at: datetime, filters: Mapping[str, Any], principal: Any) -> Grant:
    end = at + GRANT_TTL
    if decision.valid_to is not None:
        end = min(end, decision.valid_to)
    grant = Grant(decision, release, at, end, dict(filters), principal, _SEAL)
    _MINTED.add(grant)
    return grant


def _clean_filters(filters: Mapping[str, Any] | None) -> dict[str, Any]:
    return {ledger.clean_text(k, 40): ledger.clean_text(v, 200) for k, v in (filters or {}).items()}


def open_product(user: Principal, product_id: str, *, action: str = "view", filters: Mapping[str, Any] | None = None,
                 page: str | None = None, now: datetime | None = None, store: GovernanceStore | None = None) -> Grant:
    """A page open: decide once, write one ledger entry (with the filters the page opened with and the
    release it shows) and return the grant. Raises ``AccessDenied`` after auditing a deny, and the
    approved zone's ``NoRelease`` when the product has no release yet (the allow is still recorded)."""
    store = resolve(store)
    at = now or utcnow()
    clean = _clean_filters(filters)
    release, missing = None, None
    with store.write() as tx:
        decision = evaluate(tx, user, product_id, action, at, touch=True)
        extra: dict[str, Any] = {"filters": clean}
        if page:
            extra["page"] = ledger.clean_text(page, 80)
        if decision.allowed:
            try:
                release = _load_release(decision.product_id)
                extra["release_id"] = release.release_id
            except LookupError as exc:
                missing = exc
                extra["release_id"] = None
        seq = _audit(tx, decision, user, now, extra)
    decision = replace(decision, audit_seq=seq)
    if not decision.allowed:
        raise AccessDenied(decision)
    if missing is not None:
        raise missing
    return _mint(decision, release, at, clean, user)


def renew(grant: Grant, *, now: datetime | None = None, store: GovernanceStore | None = None) -> Grant | None:
    """The same grant if it still holds (session live, same scenario and row scope, same current release,
    not expired), else None. Pure re-evaluation: restarts the idle clock, writes no ledger entry."""
    use(grant, grant.product_id, (grant.action,), now=now)
    store = resolve(store)
    at = now or utcnow()
    with store.write() as tx:
        decision = evaluate(tx, grant.principal, grant.product_id, grant.action, at, touch=True)
    if not (decision.allowed and decision.scenario_id == grant.decision.scenario_id
            and decision.row_scope == grant.row_scope):
        return None
    try:
        current = _load_release(grant.product_id)
    except LookupError:
        return None
    return grant if current.release_id == grant.release_id else None


def open_products(user: Principal, product_ids: Iterable[str], *, page: str, filters: Mapping[str, Any] | None = None,
                  now: datetime | None = None, store: GovernanceStore | None = None) -> dict[str, Grant]:
    """A page that shows several products (My hospital): every decision in one ledger entry; returns
    the grants of the products allowed and released (the others are simply not shown)."""
    store = resolve(store)
    at = now or utcnow()
    clean = _clean_filters(filters)
    allowed_now: dict[str, tuple[Decision, Any]] = {}
    outcomes: dict[str, Any] = {}
    with store.write() as tx:
        check = check_session(tx, user, at, touch=True)
        username = check.row["username"] if check.row is not None else _claimed(user)
        for pid in product_ids:
            decision = evaluate(tx, user, pid, "view", at, touch=False) if check.ok else \
                _make(False, check.reason, username, pid, "view")
            outcome: dict[str, Any] = {"allowed": decision.allowed, "reason": decision.reason,
                                       "scenario_id": decision.scenario_id,
                                       "facility_names": decision.row_scope.facility_names}
            if decision.allowed:
                try:
                    release = _load_release(pid)
                    outcome["release_id"] = release.release_id
                    allowed_now[pid] = (decision, release)
                except LookupError:
                    outcome["release_id"] = None
            outcomes[pid] = outcome
        seq = ledger.append(tx, username, "gate.page", ledger.clean_text(page, 80),
                            {"decisions": outcomes, "filters": clean, "evaluated_at": to_db(at)})
    return {pid: _mint(replace(d, audit_seq=seq), rel, at, clean, user) for pid, (d, rel) in allowed_now.items()}


Payload = bytes | tuple[bytes, ...]


def _digest(payload: Payload) -> tuple[str, int]:
    first = payload[0] if isinstance(payload, tuple) else payload
    return hashlib.sha256(first).hexdigest(), sum(len(b) for b in (payload if isinstance(payload, tuple) else (payload,)))


def deliver(grant: Grant, artifact: str, make: Callable[[Grant], Payload], *, now: datetime | None = None,
            store: GovernanceStore | None = None) -> Payload:
    """A download: decide ``download`` for the grant's user on the grant's release, make the bytes under a
    download grant and hand them out after one ledger entry (file name, hash, size). A deny is audited
    and raised as ``AccessDenied``; no byte leaves without the entry."""
    use(grant, grant.product_id, ("view", "download"), now=now)
    store = resolve(store)
    at = now or utcnow()
    name = ledger.clean_text(artifact)
    with store.read() as tx:
        first = evaluate(tx, grant.principal, grant.product_id, "download", at, touch=False)
    payload: Payload | None = None
    if first.allowed:
        payload = make(_mint(first, grant.release, at, grant.filters, grant.principal))
        sha, size = _digest(payload)
    with store.write() as tx:
        # Decided again with the bytes in hand, so a revocation in between wins.
        decision = evaluate(tx, grant.principal, grant.product_id, "download", at, touch=True)
        if decision.allowed and payload is None:
            decision = first
        if decision.allowed:
            seq = ledger.append(tx, decision.username, "download", decision.product_id, {
                "artifact": name, "sha256": sha, "bytes": size, "release_id": grant.release_id,
                "scenario_id": decision.scenario_id, "facility_names": decision.row_scope.facility_names,
                "filters": dict(grant.filters)})
        else:
            seq = _audit(tx, decision, grant.principal, now, {"artifact": name})
    if not decision.allowed:
        raise AccessDenied(replace(decision, audit_seq=seq))
    return payload


def export(service: Principal, product_id: str, artifact: str, make: Callable[[Grant], Payload], *,
           now: datetime | None = None, store: GovernanceStore | None = None,
           audit: dict[str, Any] | None = None) -> Payload:
    """A feed for a system outside the space, under a signed-in service principal (its session, opened by
    its token) and its own approved scenario covering ``export``: one ledger entry (file, hash, size;
    ``audit``: where the command ran, e.g. the OS account) or an audited deny (``AccessDenied``)."""
    store = resolve(store)
    at = now or utcnow()
    name = ledger.clean_text(artifact)
    with store.read() as tx:
        first = evaluate_service(tx, service, product_id, "export", at)
    payload: Payload | None = None
    if first.allowed:
        release = _load_release(product_id)
        payload = make(_mint(first, release, at, {}, service))
        sha, size = _digest(payload)
    with store.write() as tx:
        decision = evaluate_service(tx, service, product_id, "export", at)
        if decision.allowed and payload is None:
            decision = first
        if decision.allowed:
            seq = ledger.append(tx, decision.username, "export", decision.product_id, {
                **(audit or {}), "artifact": name, "sha256": sha, "bytes": size, "release_id": release.release_id,
                "scenario_id": decision.scenario_id})
        else:
            seq = ledger.append(tx, decision.username, "gate.deny", decision.product_id, {
                **(audit or {}), "action": "export", "reason": decision.reason, "artifact": name,
                "evaluated_at": to_db(at)})
    if not decision.allowed:
        raise AccessDenied(replace(decision, audit_seq=seq))
    return payload

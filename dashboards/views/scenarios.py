"""Scenario approval and orders, for the commission.

Officials decide (approve, reject, revoke, each with a reason); analysts see the same tables without
the controls. The governance functions refuse a decision from anyone but an official, so hiding the
controls only spares the analyst a refusal.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import streamlit as st

from dashboards.ui import lang, org_label, require_principal, show_table, synthetic_banner
from data_products.catalog import display_name as product_name
from data_products.governance import (
    ScenarioError,
    approve,
    governance_role,
    list_scenarios,
    orders,
    pending,
    reject,
    revoke,
)
from data_products.governance.store import LOCAL
from data_products.i18n import t

FLASH_KEY = "scenarios_flash"

MESSAGES = {
    "scn.title": {"zh": "使用场景审批与订单", "en": "Usage scenarios and orders"},
    "scn.not_commission": {"zh": "本页仅供广州市卫生健康委员会使用。", "en": "This page is for the Guangzhou Health Commission only."},
    "scn.read_only": {
        "zh": "只读：您是数据分析人员，审批、驳回与撤销须由委员会审批人员操作。",
        "en": "Read only: you are an analyst; only a commission official approves, rejects or revokes.",
    },
    "scn.tab.inbox": {"zh": "待审批申请（{n}）", "en": "Applications ({n})"},
    "scn.tab.active": {"zh": "生效中（{n}）", "en": "Active ({n})"},
    "scn.tab.expired": {"zh": "已到期（{n}）", "en": "Expired ({n})"},
    "scn.tab.closed": {"zh": "已驳回/撤销/撤回（{n}）", "en": "Rejected / revoked / withdrawn ({n})"},
    "scn.tab.orders": {"zh": "企业订单（{n}）", "en": "Company orders ({n})"},
    "scn.inbox.empty": {"zh": "没有待审批的申请。", "en": "No application is waiting for a decision."},
    "scn.none": {"zh": "无。", "en": "None."},
    "scn.pick": {"zh": "选择申请", "en": "Application"},
    "scn.pick_active": {"zh": "选择要撤销的场景", "en": "Scenario to revoke"},
    "scn.reason": {"zh": "理由", "en": "Reason"},
    "scn.reason_help": {
        "zh": "驳回与撤销必须填写理由；理由记入审计日志。",
        "en": "Rejecting or revoking needs a reason; it is written to the audit ledger.",
    },
    "scn.approve": {"zh": "批准", "en": "Approve"},
    "scn.reject": {"zh": "驳回", "en": "Reject"},
    "scn.revoke": {"zh": "撤销", "en": "Revoke"},
    "scn.reason_required": {"zh": "请填写理由。", "en": "Please give a reason."},
    "scn.done.approve": {"zh": "已批准申请 #{id}。", "en": "Application #{id} approved."},
    "scn.done.reject": {"zh": "已驳回申请 #{id}。", "en": "Application #{id} rejected."},
    "scn.done.revoke": {"zh": "已撤销场景 #{id}。", "en": "Scenario #{id} revoked."},
    "scn.refused": {"zh": "操作未执行：{why}", "en": "Not done: {why}"},
    "scn.show_standing": {"zh": "包括常设场景", "en": "Include standing scenarios"},
    "scn.col.id": {"zh": "编号", "en": "ID"},
    "scn.col.org": {"zh": "机构", "en": "Organisation"},
    "scn.col.org_type": {"zh": "机构类型", "en": "Type"},
    "scn.col.product": {"zh": "数据产品", "en": "Product"},
    "scn.col.purpose": {"zh": "用途", "en": "Purpose"},
    "scn.col.period": {"zh": "使用期限", "en": "Period"},
    "scn.col.scope": {"zh": "范围", "en": "Scope"},
    "scn.col.kind": {"zh": "类别", "en": "Kind"},
    "scn.col.status": {"zh": "状态", "en": "Status"},
    "scn.col.applied": {"zh": "申请人 / 时间", "en": "Applied by / at"},
    "scn.col.decided": {"zh": "决定人 / 时间 / 理由", "en": "Decided by / at / reason"},
    "scn.col.revoked": {"zh": "撤销人 / 时间 / 理由", "en": "Revoked by / at / reason"},
    "scn.col.order": {"zh": "订单", "en": "Order"},
    "scn.col.state": {"zh": "订单状态", "en": "Order state"},
    "scn.col.placed": {"zh": "下单时间", "en": "Placed"},
    "scn.col.updated": {"zh": "更新时间", "en": "Updated"},
    "scn.col.scenario": {"zh": "场景", "en": "Scenario"},
    "scn.open_ended": {"zh": "长期", "en": "open-ended"},
    "scn.kind.standing": {"zh": "常设", "en": "standing"},
    "scn.kind.applied": {"zh": "申请", "en": "applied"},
    "scn.scope.view": {"zh": "查看", "en": "view"},
    "scn.scope.download": {"zh": "下载", "en": "download"},
    "scn.scope.analyse": {"zh": "分析", "en": "analyse"},
    "scn.scope.export": {"zh": "导出", "en": "export"},
    "scn.org.service": {"zh": "服务", "en": "service"},
    "scn.status.pending": {"zh": "待审批", "en": "pending"},
    "scn.status.active": {"zh": "生效中", "en": "active"},
    "scn.status.expired": {"zh": "已到期", "en": "expired"},
    "scn.status.not_yet_valid": {"zh": "未到生效日", "en": "not yet valid"},
    "scn.status.rejected": {"zh": "已驳回", "en": "rejected"},
    "scn.status.revoked": {"zh": "已撤销", "en": "revoked"},
    "scn.status.withdrawn": {"zh": "已撤回", "en": "withdrawn"},
    "scn.order.pending_approval": {"zh": "待审批", "en": "pending approval"},
    "scn.order.active": {"zh": "生效", "en": "active"},
    "scn.order.cancelled": {"zh": "已取消", "en": "cancelled"},
    "scn.org.commission": {"zh": "卫健委", "en": "commission"},
    "scn.org.hospital": {"zh": "医疗机构", "en": "hospital"},
    "scn.org.company": {"zh": "企业", "en": "company"},
}


def local(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(LOCAL).strftime("%Y-%m-%d %H:%M")


def last_day(end: datetime | None, lng: str) -> str:
    """Windows are half-open; an end at local midnight reads as the last day it covers."""
    if end is None:
        return t("scn.open_ended", lng)
    moment = end.astimezone(LOCAL)
    if (moment.hour, moment.minute, moment.second, moment.microsecond) == (0, 0, 0, 0):
        return (moment - timedelta(days=1)).strftime("%Y-%m-%d")
    return moment.strftime("%Y-%m-%d %H:%M")


def label(prefix: str, value: str | None, lng: str) -> str:
    """A translated state; a value this page does not know shows as stored rather than failing."""
    if value is None:
        return ""
    try:
        return t(f"{prefix}.{value}", lng)
    except KeyError:
        return value


def scenario_frame(items, lng: str, columns: tuple[str, ...]) -> pd.DataFrame:
    now = datetime.now(LOCAL)
    rows = []
    for s in items:
        row = {
            "id": s.id,
            "org": org_label(s.org_name, lng),
            "org_type": label("scn.org", s.org_type, lng),
            "product": product_name(s.product_id, lng),
            "purpose": s.purpose,
            "period": f"{s.valid_from.astimezone(LOCAL):%Y-%m-%d} — {last_day(s.valid_to, lng)}",
            "scope": "、".join(label("scn.scope", a, lng) for a in s.scope) if lng == "zh"
            else ", ".join(label("scn.scope", a, lng) for a in s.scope),
            "kind": label("scn.kind", s.kind, lng),
            "status": label("scn.status", s.status(now), lng),
            "applied": f"{s.applied_by} · {local(s.applied_at)}",
            "decided": " · ".join(x for x in (s.decided_by, local(s.decided_at), s.decision_reason) if x),
            "revoked": " · ".join(x for x in (s.revoked_by, local(s.revoked_at), s.revoke_reason) if x),
            "order": "" if s.order_id is None else f"#{s.order_id} {label('scn.order', s.order_state, lng)}",
        }
        rows.append({t(f"scn.col.{c}", lng): row[c] for c in columns})
    return pd.DataFrame(rows, columns=[t(f"scn.col.{c}", lng) for c in columns])


def show(frame: pd.DataFrame, lng: str, key: str) -> None:
    if frame.empty:
        st.caption(t("scn.none", lng))
    else:
        show_table(frame, hide_index=True, width="stretch", key=key)


def choice_label(s, lng: str) -> str:
    return f"#{s.id} · {org_label(s.org_name, lng)} · {product_name(s.product_id, lng)}"


def act(kind: str, fn, scenario_id: int, reason: str) -> None:
    """Run one decision; the outcome is shown after the rerun so the tables reflect it."""
    try:
        fn(user, scenario_id, reason)
    except ScenarioError as exc:
        st.session_state[FLASH_KEY] = ("error", t("scn.refused", lng, why=str(exc)))
    else:
        st.session_state[FLASH_KEY] = ("success", t(f"scn.done.{kind}", lng, id=scenario_id))
    st.rerun()


lng = lang()
user = require_principal()
st.title(t("scn.title", lng))
synthetic_banner(lng)

# The governance gate answers from the role the store holds now, not the one the session remembers.
role = governance_role(user, "scenarios")
if role is None:
    st.error(t("scn.not_commission", lng), icon=":material/block:")
    st.stop()
official = role == "commission_official"
if not official:
    st.info(t("scn.read_only", lng), icon=":material/visibility:")

flash = st.session_state.pop(FLASH_KEY, None)
if flash is not None:
    (st.success if flash[0] == "success" else st.error)(flash[1])

now = datetime.now(LOCAL)
inbox = pending()
everything = list_scenarios()
approved_ = [s for s in everything if s.state == "approved"]
live = [s for s in approved_ if s.status(now) in ("active", "not_yet_valid")]
expired = [s for s in approved_ if s.status(now) == "expired"]
closed = [s for s in everything if s.state in ("rejected", "revoked", "withdrawn")]
all_orders = orders()

tabs = st.tabs([
    t("scn.tab.inbox", lng, n=len(inbox)),
    t("scn.tab.active", lng, n=len(live)),
    t("scn.tab.expired", lng, n=len(expired)),
    t("scn.tab.closed", lng, n=len(closed)),
    t("scn.tab.orders", lng, n=len(all_orders)),
])

with tabs[0]:
    if not inbox:
        st.caption(t("scn.inbox.empty", lng))
    else:
        show(scenario_frame(inbox, lng, ("id", "org", "org_type", "product", "purpose", "period", "scope", "applied",
                                         "order")), lng, "scn_inbox")
        if official:
            inbox_by_id = {s.id: s for s in inbox}
            with st.form("scn_decide"):
                picked = st.selectbox(t("scn.pick", lng), list(inbox_by_id),
                                      format_func=lambda i, m=inbox_by_id: choice_label(m[i], lng) if i in m else f"#{i}",
                                      key="scn_decide_id")
                reason = st.text_area(t("scn.reason", lng), max_chars=2000, help=t("scn.reason_help", lng),
                                      key="scn_decide_reason")
                cols = st.columns(2)
                do_approve = cols[0].form_submit_button(t("scn.approve", lng), type="primary",
                                                        icon=":material/check:")
                do_reject = cols[1].form_submit_button(t("scn.reject", lng), icon=":material/close:")
            if do_approve:
                act("approve", approve, picked, reason)
            elif do_reject:
                if not reason.strip():
                    st.error(t("scn.reason_required", lng))
                else:
                    act("reject", reject, picked, reason)

with tabs[1]:
    standing = st.toggle(t("scn.show_standing", lng), value=False, key="scn_show_standing")
    shown = [s for s in live if standing or s.kind != "standing"]
    show(scenario_frame(shown, lng, ("id", "org", "org_type", "product", "kind", "purpose", "period", "scope", "status",
                                     "decided", "order")), lng, "scn_active")
    if official and shown:
        live_by_id = {s.id: s for s in shown}
        with st.form("scn_revoke"):
            picked = st.selectbox(t("scn.pick_active", lng), list(live_by_id),
                                  format_func=lambda i, m=live_by_id: choice_label(m[i], lng) if i in m else f"#{i}",
                                  key="scn_revoke_id")
            reason = st.text_area(t("scn.reason", lng), max_chars=2000, help=t("scn.reason_help", lng),
                                  key="scn_revoke_reason")
            do_revoke = st.form_submit_button(t("scn.revoke", lng), icon=":material/block:")
        if do_revoke:
            if not reason.strip():
                st.error(t("scn.reason_required", lng))
            else:
                act("revoke", revoke, picked, reason)

with tabs[2]:
    show(scenario_frame(expired, lng, ("id", "org", "org_type", "product", "purpose", "period", "scope", "decided",
                                       "order")), lng, "scn_expired")

with tabs[3]:
    show(scenario_frame(closed, lng, ("id", "org", "org_type", "product", "purpose", "period", "status", "decided",
                                      "revoked", "order")), lng, "scn_closed")

with tabs[4]:
    frame = pd.DataFrame(
        [{
            t("scn.col.order", lng): f"#{o.id}",
            t("scn.col.org", lng): org_label(o.org_name, lng),
            t("scn.col.product", lng): product_name(o.product_id, lng),
            t("scn.col.state", lng): label("scn.order", o.state, lng),
            t("scn.col.placed", lng): local(o.placed_at),
            t("scn.col.updated", lng): local(o.updated_at),
            t("scn.col.scenario", lng): "" if o.scenario_id is None else f"#{o.scenario_id}",
        } for o in all_orders],
        columns=[t(f"scn.col.{c}", lng) for c in ("order", "org", "product", "state", "placed", "updated", "scenario")],
    )
    show(frame, lng, "scn_orders")

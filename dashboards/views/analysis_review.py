"""The commission's review inbox for analysis outputs (the airlock).

Each output that passed the automatic checks waits here with its checks, the query or model, the
research scenario it runs under and the requester's history on the dataset. Two different reviewers,
neither of them the requester, must release it; one rejection rejects it. Opening an output and each
decision are ledger entries.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards.ui import lang, org_label, require_principal, show_table, synthetic_banner
from data_products.analyses import service
from data_products.governance import list_scenarios
from data_products.i18n import t

MESSAGES = {
    "rv.title": {"zh": "分析结果审核", "en": "Analysis output review"},
    "rv.intro": {"zh": "每项结果须由两名不同的审核员（均非申请人）放行；任一审核员拒绝即不予放行。",
                 "en": "Each output needs two different reviewers, neither the requester, to release it; one "
                       "rejection rejects it."},
    "rv.empty": {"zh": "没有等待您审核的结果。", "en": "No output waits for your review."},
    "rv.scenario": {"zh": "使用场景", "en": "Scenario"},
    "rv.request": {"zh": "请求", "en": "Request"},
    "rv.checks": {"zh": "自动检查", "en": "Automatic checks"},
    "rv.output": {"zh": "结果", "en": "Output"},
    "rv.history": {"zh": "申请机构在该数据集上的分析记录", "en": "The requester's history on this dataset"},
    "rv.reviews": {"zh": "已有审核", "en": "Reviews so far"},
    "rv.decision": {"zh": "决定", "en": "Decision"},
    "rv.reason": {"zh": "理由", "en": "Reason"},
    "rv.submit": {"zh": "提交审核", "en": "Submit review"},
    "rv.done": {"zh": "已记录：分析 #{id} 现为 {state}", "en": "Recorded: analysis #{id} is now {state}"},
    "rv.open": {"zh": "打开结果（记入审计日志）", "en": "Open output (recorded in the ledger)"},
    "rv.all": {"zh": "全部分析", "en": "All analyses"},
}

lng = lang()
user = require_principal()
st.title(t("rv.title", lng))
synthetic_banner(lng)
st.caption(t("rv.intro", lng))

try:
    waiting = service.inbox(user)
except service.AnalysisError as exc:
    st.error(str(exc))
    st.stop()
if not waiting:
    st.info(t("rv.empty", lng))
scenarios = {s.id: s for s in list_scenarios()}
for a in waiting:
    sc = scenarios.get(a.scenario_id)
    with st.expander(f"#{a.id} · {a.dataset_id} · {a.requester} · {a.submitted_at:%Y-%m-%d %H:%M}", expanded=True):
        if sc is not None:
            until = f"{sc.valid_to:%Y-%m-%d}" if sc.valid_to else "—"
            st.markdown(f"**{t('rv.scenario', lng)} #{sc.id}** · {org_label(sc.org_name, lng)} · {sc.purpose} · "
                        f"{sc.valid_from:%Y-%m-%d} – {until}")
        st.markdown(f"**{t('rv.request', lng)}** ({a.kind})")
        st.code(a.request, language="sql" if a.kind == "sql" else "json")
        st.markdown(f"**{t('rv.checks', lng)}**")
        st.table(pd.DataFrame(a.checks))
        key = f"rv_out_{a.id}"
        if st.button(t("rv.open", lng), key=f"rv_open_{a.id}"):
            st.session_state[key] = service.view(user, a.id)
        shown = st.session_state.get(key)
        if shown is not None and shown.output:
            st.markdown(f"**{t('rv.output', lng)}**")
            st.table(pd.DataFrame(shown.output["rows"], columns=shown.output["columns"]))
            if shown.output.get("notes"):
                st.caption(", ".join(f"{k}: {v}" for k, v in shown.output["notes"].items()))
        if a.reviews:
            st.markdown(f"**{t('rv.reviews', lng)}**")
            st.table(pd.DataFrame(a.reviews)[["reviewer", "decision", "reason", "at"]])
        st.markdown(f"**{t('rv.history', lng)}**")
        st.table(pd.DataFrame(service.history(a.org_id, a.dataset_id)))
        with st.form(f"rv_form_{a.id}"):
            decision = st.radio(t("rv.decision", lng), ["release", "reject"], horizontal=True, key=f"rv_dec_{a.id}")
            reason = st.text_input(t("rv.reason", lng), max_chars=2000, key=f"rv_reason_{a.id}")
            if st.form_submit_button(t("rv.submit", lng)):
                try:
                    done = service.review(user, a.id, decision, reason)
                    st.success(t("rv.done", lng, id=done.id, state=done.state))
                except service.AnalysisError as exc:
                    st.error(str(exc))

st.header(t("rv.all", lng))
everything = service.listing(user)
if everything:
    show_table(pd.DataFrame([{"id": a.id, "dataset": a.dataset_id, "requester": a.requester, "kind": a.kind,
                                "state": a.state, "reviews": len(a.reviews), "message": a.message or ""}
                               for a in everything]), hide_index=True, width="stretch", key="rv_all")

"""The commission's review inbox for analysis outputs (the airlock).

Each output that passed the automatic checks waits here with its checks, the query or model, the
research scenario it runs under and the requester's history on the dataset. Two different reviewers,
neither of them the requester, must release it; one rejection rejects it. Opening an output and each
decision are ledger entries.
"""

from __future__ import annotations

import streamlit as st

from dashboards.ui import (
    analysis_detail,
    analysis_list,
    lang,
    org_label,
    require_principal,
    synthetic_banner,
)
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
    "rv.history": {"zh": "申请机构在该数据集上的分析记录", "en": "The requester's history on this dataset"},
    "rv.decision": {"zh": "决定", "en": "Decision"},
    "rv.reason": {"zh": "理由", "en": "Reason"},
    "rv.submit": {"zh": "提交审核", "en": "Submit review"},
    "rv.done": {"zh": "已记录：分析 #{id} 现为 {state}", "en": "Recorded: analysis #{id} is now {state}"},
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
        analysis_detail(user, a, lng, page="rv")
        st.markdown(f"**{t('rv.history', lng)}**")
        analysis_list(service.history(a.org_id, a.dataset_id), lng, key=f"rv_history_{a.id}")
        with st.form(f"rv_form_{a.id}"):
            decision = st.radio(t("rv.decision", lng), ["release", "reject"], horizontal=True, key=f"rv_dec_{a.id}",
                                format_func=lambda d: t(f"ui.an.decision.{d}", lng))
            reason = st.text_input(t("rv.reason", lng), max_chars=2000, key=f"rv_reason_{a.id}")
            if st.form_submit_button(t("rv.submit", lng)):
                try:
                    done = service.review(user, a.id, decision, reason)
                    st.success(t("rv.done", lng, id=done.id, state=t(f"ui.an.state.{done.state}", lng)))
                except service.AnalysisError as exc:
                    st.error(str(exc))

st.header(t("rv.all", lng))
everything = service.listing(user)
if everything:
    analysis_list([{"id": a.id, "dataset": a.dataset_id, "requester": a.requester, "kind": a.kind, "state": a.state,
                    "reviews": len(a.reviews), "message": a.message or ""} for a in everything], lng, key="rv_all")

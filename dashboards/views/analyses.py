"""My analyses: use a dataset without seeing it (数据可用不可见).

Under an approved research scenario the organisation downloads the dataset's dummy data, writes a
query or picks a model with the data dictionary beside the editor, and submits it. It runs inside the
space (a separate worker process), its output is checked automatically and waits for two commission
reviewers; until they release it this page shows the status and the check results only.
"""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from dashboards.ui import (
    analysis_detail,
    dictionary_table,
    download_button,
    lang,
    require_principal,
    show_table,
    synthetic_banner,
)
from data_products.analyses import service
from data_products.i18n import keys, pick, t
from data_products.specialty import dictionary

MESSAGES = {
    "an.title": {"zh": "我的分析", "en": "My analyses"},
    "an.intro": {"zh": "在数据空间内对数据集运行查询或模型：数据可用不可见。结果经自动检查并由两名市卫健委审核员放行后方可查看和下载。",
                 "en": "Run a query or a model on a dataset inside the space: usable, not visible. Outputs are checked "
                       "automatically and released by two commission reviewers before you can see or download them."},
    "an.scenarios": {"zh": "本机构的科研使用场景", "en": "Your organisation's research scenarios"},
    "an.none": {"zh": "本机构尚无科研使用场景。请在“产品与数据目录”中对可用数据集提交申请。",
                "en": "Your organisation holds no research scenario. Apply for a usable dataset in the Catalog."},
    "an.scenario": {"zh": "使用场景", "en": "Scenario"},
    "an.no_active": {"zh": "没有生效中的科研使用场景。", "en": "No research scenario is active."},
    "an.dummy": {"zh": "模拟数据按数据字典生成，不含任何真实记录。", "en": "Dummy data are made from the dictionary and hold no real record."},
    "an.dummy_get": {"zh": "下载模拟数据 CSV", "en": "Download dummy data CSV"},
    "an.dictionary": {"zh": "数据字典与列控制规则", "en": "Data dictionary and column control list"},
    "an.kind": {"zh": "分析方式", "en": "Kind of analysis"},
    "an.sql": {"zh": "SQL 查询（只读，单条 SELECT）", "en": "SQL query (read-only, one SELECT)"},
    "an.model": {"zh": "模型（JSON）", "en": "Model (JSON)"},
    "an.submit": {"zh": "提交分析", "en": "Submit analysis"},
    "an.running": {"zh": "正在数据空间内运行…", "en": "Running inside the space…"},
    "an.submitted": {"zh": "分析 #{id}：{state}", "en": "Analysis #{id}: {state}"},
    "an.mine": {"zh": "分析记录", "en": "Your analyses"},
    "an.download": {"zh": "下载结果 CSV", "en": "Download output CSV"},
    "an.col.id": {"zh": "编号", "en": "No."}, "an.col.dataset": {"zh": "数据集", "en": "Dataset"},
    "an.col.purpose": {"zh": "用途", "en": "Purpose"}, "an.col.status": {"zh": "状态", "en": "Status"},
    "an.col.from": {"zh": "生效日期", "en": "Valid from"}, "an.col.to": {"zh": "截止日期", "en": "Valid to"},
    "an.status.pending": {"zh": "待审批", "en": "pending"}, "an.status.active": {"zh": "生效中", "en": "active"},
    "an.status.not_yet_valid": {"zh": "尚未生效", "en": "not yet valid"}, "an.status.expired": {"zh": "已过期", "en": "expired"},
    "an.status.rejected": {"zh": "未获批准", "en": "rejected"}, "an.status.revoked": {"zh": "已撤销", "en": "revoked"},
    "an.hidden": {"zh": "结果在两名审核员放行前不可见。", "en": "The output stays hidden until two reviewers release it."},
}

MODEL_EXAMPLE = {
    "ds_liver_cancer": {"model": "kaplan_meier", "time": "os_months", "event": "died", "group_by": "cnlc_stage",
                        "times": [6, 12, 24]},
    "ds_cerebral_infarction": {"model": "logistic", "outcome": "recurrence_1y",
                               "predictors": ["age_years", "sex", "rf_af", "nihss_adm"]},
    "ds_cerebrovascular": {"model": "summary", "group_by": ["stroke_type", "hospital_tier"],
                           "measures": [{"stat": "count"}, {"stat": "median", "column": "los_days"}]},
}
SQL_EXAMPLE = {
    "ds_liver_cancer": "SELECT cnlc_stage, first_treatment, count(*) AS patients\nFROM ds_liver_cancer\n"
                       "GROUP BY cnlc_stage, first_treatment\nORDER BY cnlc_stage",
    "ds_cerebral_infarction": "SELECT hospital_tier, reperfusion, count(*) AS admissions,\n"
                              "       median(door_to_needle_min) AS median_dnt\nFROM ds_cerebral_infarction\n"
                              "GROUP BY hospital_tier, reperfusion",
    "ds_cerebrovascular": "SELECT stroke_type, count(*) AS admissions, avg(los_days) AS mean_los\n"
                          "FROM ds_cerebrovascular\nGROUP BY stroke_type",
}

lng = lang()
user = require_principal()
st.title(t("an.title", lng))
synthetic_banner(lng)
st.caption(t("an.intro", lng))


def state_label(state: str) -> str:
    return t(f"ui.an.state.{state}", lng)


st.header(t("an.scenarios", lng))
scenarios = service.research_scenarios(user)
if not scenarios:
    st.info(t("an.none", lng))
else:
    show_table(pd.DataFrame({
        t("an.col.id", lng): [s["id"] for s in scenarios],
        t("an.col.dataset", lng): [s["dataset_id"] for s in scenarios],
        t("an.col.purpose", lng): [s["purpose"] for s in scenarios],
        t("an.col.status", lng): [t(f"an.status.{s['status']}", lng) if f"an.status.{s['status']}" in keys()
                                  else s["status"] for s in scenarios],
        t("an.col.from", lng): [f"{s['valid_from']:%Y-%m-%d}" for s in scenarios],
        t("an.col.to", lng): [f"{s['valid_to']:%Y-%m-%d}" if s["valid_to"] else "—" for s in scenarios],
    }), hide_index=True, width="stretch", key="an_scenarios")

active = [s for s in scenarios if s["status"] == "active"]
if scenarios and not active:
    st.warning(t("an.no_active", lng))
if active:
    chosen = st.selectbox(t("an.scenario", lng), active, key="an_scenario",
                          format_func=lambda s: f"#{s['id']} · {s['dataset_id']} · {s['purpose'][:60]}")
    d = dictionary(chosen["dataset_id"])
    st.subheader(pick(lng, d.name_zh, d.name_en))
    # One click: the gate's decision, the file and its ledger entry happen when the browser fetches it.
    download_button(t("an.dummy_get", lng), lambda ds=d.dataset_id: service.dummy_download(user, ds)[1],
                    f"{d.dataset_id}_dummy.csv", "text/csv", key="an_dummy_get")
    st.caption(t("an.dummy", lng))
    left, right = st.columns([3, 2])
    with right:
        st.markdown(f"**{t('an.dictionary', lng)}**")
        dictionary_table(d, lng, key="an_dictionary", code_system=False, height=520)
    with left:
        kind = st.radio(t("an.kind", lng), ["sql", "model"], horizontal=True, key="an_kind",
                        format_func=lambda k: t(f"an.{k}", lng))
        with st.form("an_form"):
            if kind == "sql":
                text = st.text_area(t("an.sql", lng), value=SQL_EXAMPLE.get(d.dataset_id, ""), height=220,
                                    max_chars=service.MAX_REQUEST, key=f"an_sql_{d.dataset_id}")
            else:
                text = st.text_area(t("an.model", lng), value=json.dumps(MODEL_EXAMPLE.get(d.dataset_id, {}), indent=1),
                                    height=220, max_chars=service.MAX_REQUEST, key=f"an_model_{d.dataset_id}")
            go = st.form_submit_button(t("an.submit", lng), type="primary")
        if go:
            try:
                a = service.submit(user, chosen["id"], d.dataset_id, sql=text if kind == "sql" else None,
                                   model=text if kind == "model" else None, run_now=False)
                if a.state == "queued":
                    with st.spinner(t("an.running", lng)):
                        a = service.run_in_worker(a.id)
                st.session_state["an_last"] = (a.id, a.state, a.message)
            except service.AnalysisError as exc:
                st.error(str(exc))
        last = st.session_state.get("an_last")
        if last:
            msg = t("an.submitted", lng, id=last[0], state=state_label(last[1])) + (f" — {last[2]}" if last[2] else "")
            (st.success if last[1] == "awaiting_review" else st.warning)(msg)

st.header(t("an.mine", lng))
for a in service.listing(user):
    with st.expander(f"#{a.id} · {a.dataset_id} · {state_label(a.state)} · {a.submitted_at:%Y-%m-%d %H:%M}"):
        if a.message:
            st.write(a.message)
        # Until two reviewers release it, the requester sees status and checks only.
        analysis_detail(user, a, lng, page="an", can_open=a.state == "released")
        if a.state != "released":
            st.caption(t("an.hidden", lng))
            continue
        download_button(t("an.download", lng), lambda aid=a.id: service.download(user, aid)[1],
                        f"analysis_{a.id}_{a.dataset_id}.csv", "text/csv", key=f"an_get_{a.id}")

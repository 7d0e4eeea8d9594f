"""Catalog: the published products and the space's 28 datasets, their lifecycle, and how to apply.

Entries describe; nothing here opens a dataset. Applying creates a pending scenario in the
commission's inbox (the gate opens the product once it is approved).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards.ui import download_button, lang, require_principal, show_table, synthetic_banner
from data_products import catalog
from data_products.analyses import service as analyses
from data_products.governance import ScenarioError
from data_products.i18n import pick, register, t
from data_products.specialty import DICTIONARIES

register({
    "cat.title": {"zh": "产品与数据集目录", "en": "Catalog of products and datasets"},
    "cat.products": {"zh": "已发布的数据产品", "en": "Published data products"},
    "cat.datasets": {"zh": "高质量数据集（{n} 个）", "en": "High-quality datasets ({n})"},
    "cat.filter_specialty": {"zh": "专科", "en": "Specialty"},
    "cat.filter_stage": {"zh": "生命周期阶段", "en": "Lifecycle stage"},
    "cat.all": {"zh": "全部", "en": "All"},
    "cat.descriptive": {"zh": "描述性条目（本部署无对应产品）", "en": "Descriptive entry (no product in this deployment)"},
    "cat.backs": {"zh": "支撑产品：{p}（数据来自已批准发布与传输清单）", "en": "Backs product: {p} (figures from approved releases and transfer manifests)"},
    "cat.fields": {"zh": "字段", "en": "Fields"},
    "cat.facilities": {"zh": "贡献机构", "en": "Contributing facilities"},
    "cat.rows": {"zh": "记录数", "en": "Records"},
    "cat.span": {"zh": "时间范围", "en": "Time span"},
    "cat.freq": {"zh": "更新频率", "en": "Update frequency"},
    "cat.version": {"zh": "版本", "en": "Version"},
    "cat.approval": {"zh": "审批", "en": "Approval"},
    "cat.stage": {"zh": "生命周期", "en": "Lifecycle"},
    "cat.apply": {"zh": "申请使用", "en": "Apply for access"},
    "cat.purpose": {"zh": "用途", "en": "Purpose"},
    "cat.from": {"zh": "开始日期", "en": "Valid from"},
    "cat.to": {"zh": "结束日期", "en": "Valid to"},
    "cat.scope": {"zh": "范围", "en": "Scope"},
    "cat.submit": {"zh": "提交申请", "en": "Submit application"},
    "cat.submitted": {"zh": "已提交申请 #{id}，等待市卫健委审批。", "en": "Application #{id} submitted; it awaits the commission's approval."},
    "cat.not_released": {"zh": "尚未发布", "en": "not released"},
    "cat.release": {"zh": "当前发布", "en": "Current release"},
    "cat.approved_by": {"zh": "批准人", "en": "Approved by"},
    "cat.usable": {"zh": "可用于空间内分析（数据可用不可见）：实际供给数据，数据字典如下", "en": "Usable through analyses inside the space (usable, not visible): real supply, dictionary below"},
    "cat.dictionary": {"zh": "数据字典（含各医疗机构设定的列控制规则）", "en": "Data dictionary (with the column control list the hospitals set)"},
    "cat.research_apply": {"zh": "申请科研使用场景（一个机构、一个用途、一个期限、一个数据集）", "en": "Apply for a research scenario (one organisation, one purpose, one window, one dataset)"},
    "cat.research_submitted": {"zh": "已提交科研使用场景申请 #{id}，等待市卫健委审批。", "en": "Research scenario application #{id} submitted; it awaits the commission's approval."},
    "cat.dummy": {"zh": "准备模拟数据", "en": "Prepare dummy data"},
    "cat.dummy_get": {"zh": "下载模拟数据 CSV（按字典生成，无真实记录）", "en": "Download dummy data CSV (from the dictionary, no real record)"},
    "cat.approved_at": {"zh": "批准时间", "en": "Approved at"},
    "cat.name": {"zh": "产品", "en": "Product"},
    "cat.releases": {"zh": "发布次数", "en": "Releases"},
    "cat.listed": {"zh": "已上架", "en": "Listed"},
    "cat.never_opened": {"zh": "目录只描述数据集，不提供数据本身；使用需经场景审批（一场景一授权）。",
                         "en": "The catalog describes datasets and never opens them; use needs an approved scenario "
                               "(one authorisation per scenario)."},
})
for stage, (zh, en) in catalog.STAGE_NAMES.items():
    register({f"cat.stage.{stage}": {"zh": zh, "en": en}})

lng = lang()
user = require_principal()
st.title(t("cat.title", lng))
synthetic_banner(lng)
st.caption(t("cat.never_opened", lng))

st.header(t("cat.products", lng))
try:
    level = catalog.read_level(user)  # the gate decides how much the catalog tells this user
except PermissionError:
    st.warning(t("ui.session_ended", lng))
    st.stop()
prods = pd.DataFrame(catalog.products(user, level=level))
prods["name"] = [pick(lng, z, e) for z, e in zip(prods["name_zh"], prods["name_en"], strict=True)]
prods["span"] = [f"{s[0]} – {s[-1]}" if isinstance(s, list) and s else "—" for s in prods["time_span"]]
if level == "full":
    prods["release_id"] = prods["release_id"].fillna(t("cat.not_released", lng))
    show_table(prods[["name", "product_id", "release_id", "approved_by", "approved_at", "span", "releases"]].rename(
        columns={"name": t("cat.name", lng), "release_id": t("cat.release", lng),
                 "approved_by": t("cat.approved_by", lng), "approved_at": t("cat.approved_at", lng),
                 "span": t("cat.span", lng), "releases": t("cat.releases", lng)}), key="cat_products")
else:
    prods["listed"] = [t("cat.listed", lng) if v else t("cat.not_released", lng) for v in prods["listed"]]
    show_table(prods[["name", "listed", "span"]].rename(columns={
        "name": t("cat.name", lng), "listed": t("cat.stage", lng), "span": t("cat.span", lng)}), key="cat_products")

entries = catalog.datasets(user, level=level)
st.header(t("cat.datasets", lng, n=len(entries)))
specialties = sorted({d["specialty"] for d in entries})
c1, c2 = st.columns(2)
qp = st.query_params
spec_choice = c1.selectbox(t("cat.filter_specialty", lng), ["", *specialties],
                           index=([""] + specialties).index(qp.get("spec", "")) if qp.get("spec", "") in specialties else 0,
                           format_func=lambda s: s or t("cat.all", lng), key="cat_spec")
stage_choice = c2.selectbox(t("cat.filter_stage", lng), ["", *catalog.STAGES],
                            index=(["", *catalog.STAGES]).index(qp.get("stage", "")) if qp.get("stage", "") in catalog.STAGES else 0,
                            format_func=lambda s: t(f"cat.stage.{s}", lng) if s else t("cat.all", lng), key="cat_stage")
qp["spec"], qp["stage"] = spec_choice, stage_choice

for d in entries:
    if spec_choice and d["specialty"] != spec_choice:
        continue
    if stage_choice and d["stage"] != stage_choice:
        continue
    name = pick(lng, d["name_zh"], d["name_en"])
    stage_label = t(f"cat.stage.{d['stage']}", lng) if d["stage"] else "—"
    with st.expander(f"{name} · {stage_label}"):
        st.write(pick(lng, d["description_zh"], d["description_en"]))
        st.caption(t("cat.descriptive", lng) if d["descriptive"] else t("cat.usable", lng) if d.get("usable")
                   else t("cat.backs", lng, p=d["product_id"]))
        if d["stage_index"] is not None:
            steps = [("● " if i <= d["stage_index"] else "○ ") + t(f"cat.stage.{s}", lng) for i, s in enumerate(catalog.STAGES)]
            st.markdown(f"**{t('cat.stage', lng)}:** " + " → ".join(steps))
        span = d["time_span"]
        if level == "full":
            cols = st.columns(4)
            cols[0].metric(t("cat.facilities", lng), d["facilities"] if d["facilities"] is not None else "—")
            cols[1].metric(t("cat.rows", lng), f"{d['rows']:,}" if d.get("rows") is not None else "—")
            cols[2].metric(t("cat.span", lng), f"{span[0]} – {span[-1]}" if span else "—")
            cols[3].metric(t("cat.freq", lng), d["update_frequency"] or "—")
        else:
            cols = st.columns(2)
            cols[0].metric(t("cat.span", lng), f"{span[0]} – {span[-1]}" if span else "—")
            cols[1].metric(t("cat.freq", lng), d["update_frequency"] or "—")
        st.markdown(f"**{t('cat.fields', lng)}:** " + ", ".join(f"`{f}`" for f in d["fields"]))
        if level == "full":
            st.markdown(f"**{t('cat.version', lng)}:** {d['version'] or '—'}")
        if d["approval"]:
            st.markdown(f"**{t('cat.approval', lng)}:** " + ", ".join(f"{k}: {v}" for k, v in d["approval"].items() if v))
        if d["facility_names"]:
            st.markdown(f"**{t('cat.facilities', lng)}:** " + "、".join(d["facility_names"]))
        if catalog.can_apply(user, d["product_id"]):
            with st.form(f"apply_{d['id']}"):
                st.markdown(f"**{t('cat.apply', lng)}**")
                start, end = catalog.default_window()
                purpose = st.text_area(t("cat.purpose", lng), key=f"purpose_{d['id']}", max_chars=2000)
                f1, f2 = st.columns(2)
                valid_from = f1.date_input(t("cat.from", lng), value=start, key=f"from_{d['id']}")
                valid_to = f2.date_input(t("cat.to", lng), value=end, key=f"to_{d['id']}")
                scope = st.multiselect(t("cat.scope", lng), ["view", "download"], default=["view"], key=f"scope_{d['id']}")
                if st.form_submit_button(t("cat.submit", lng)):
                    try:
                        sc = catalog.apply_from_catalog(user, d["id"], purpose, valid_from, valid_to, tuple(scope) or ("view",))
                        st.success(t("cat.submitted", lng, id=sc.id))
                    except (ScenarioError, ValueError) as exc:
                        st.error(str(exc))
        if d.get("usable") and d["id"] in DICTIONARIES:
            dd = DICTIONARIES[d["id"]]
            st.markdown(f"**{t('cat.dictionary', lng)}**")
            show_table(dd.frame(lng)[["field", "name", "type", "unit", "values", "code_system", "ccl_text"]],
                         hide_index=True, width="stretch", key=f"dict_{d['id']}")
            mine = [s for s in analyses.research_scenarios(user) if s["dataset_id"] == d["id"]] \
                if user.role in ("company", "hospital") else []
            if any(s["status"] == "active" for s in mine):
                if st.button(t("cat.dummy", lng), key=f"dummy_{d['id']}"):
                    try:
                        st.session_state[f"dummy_{d['id']}_data"] = analyses.dummy_download(user, d["id"])
                    except analyses.AnalysisError as exc:
                        st.error(str(exc))
                got = st.session_state.get(f"dummy_{d['id']}_data")
                if got:
                    download_button(t("cat.dummy_get", lng), lambda got=got: got[1], got[0], "text/csv",
                                    key=f"dummy_get_{d['id']}")
            elif user.role in ("company", "hospital") and not any(s["status"] == "pending" for s in mine):
                with st.form(f"research_{d['id']}"):
                    st.markdown(f"**{t('cat.research_apply', lng)}**")
                    start, end = catalog.default_window()
                    purpose = st.text_area(t("cat.purpose", lng), key=f"rpurpose_{d['id']}", max_chars=2000)
                    f1, f2 = st.columns(2)
                    valid_from = f1.date_input(t("cat.from", lng), value=start, key=f"rfrom_{d['id']}")
                    valid_to = f2.date_input(t("cat.to", lng), value=end, key=f"rto_{d['id']}")
                    if st.form_submit_button(t("cat.submit", lng)):
                        try:
                            sid = analyses.apply_research(user, d["id"], purpose, valid_from, valid_to)
                            st.success(t("cat.research_submitted", lng, id=sid))
                        except (analyses.AnalysisError, ValueError) as exc:
                            st.error(str(exc))

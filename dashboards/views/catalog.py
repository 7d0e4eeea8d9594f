"""Catalog: the published products and the space's 28 datasets, their lifecycle, and how to apply.

Entries describe; nothing here opens a dataset. Applying creates a pending scenario in the
commission's inbox (the gate opens the product once it is approved).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import headline
from dashboards.ui import (
    dictionary_table,
    download_button,
    lang,
    org_label,
    require_principal,
    show_table,
    synthetic_banner,
)
from data_products import catalog
from data_products.analyses import service as analyses
from data_products.governance import ScenarioError
from data_products.i18n import pick, t
from data_products.products.registry import all_products
from data_products.specialty import DICTIONARIES

MESSAGES = {
    "cat.scope.view": {"zh": "查看", "en": "view"}, "cat.scope.download": {"zh": "下载", "en": "download"},
    "cat.appr.by": {"zh": "审批方", "en": "by"},
    "cat.appr.at": {"zh": "时间（北京时间）", "en": "at (Beijing time)"},
    "cat.appr.note": {"zh": "说明", "en": "note"},
    "cat.appr.content_hash": {"zh": "内容哈希", "en": "content hash"},
    "cat.freq.daily": {"zh": "每日", "en": "daily"}, "cat.freq.weekly": {"zh": "每周", "en": "weekly"},
    "cat.freq.monthly": {"zh": "每月", "en": "monthly"}, "cat.freq.quarterly": {"zh": "每季度", "en": "quarterly"},
    "cat.freq.semester": {"zh": "每学期", "en": "each school term"},
    "cat.spec.primary_care": {"zh": "基层医疗", "en": "Primary care"},
    "cat.spec.neurology": {"zh": "神经内科", "en": "Neurology"},
    "cat.spec.oncology": {"zh": "肿瘤", "en": "Oncology"},
    "cat.spec.pediatrics": {"zh": "儿科", "en": "Pediatrics"},
    "cat.spec.neonatology": {"zh": "新生儿科", "en": "Neonatology"},
    "cat.spec.obstetrics": {"zh": "产科", "en": "Obstetrics"},
    "cat.spec.respiratory": {"zh": "呼吸内科", "en": "Respiratory medicine"},
    "cat.spec.cardiology": {"zh": "心血管内科", "en": "Cardiology"},
    "cat.spec.outpatient": {"zh": "门诊", "en": "Outpatient care"},
    "cat.spec.ophthalmology": {"zh": "眼科", "en": "Ophthalmology"},
    "cat.spec.infectious_disease": {"zh": "感染性疾病", "en": "Infectious disease"},
    "cat.spec.nephrology": {"zh": "肾内科", "en": "Nephrology"},
    "cat.spec.tcm": {"zh": "中医", "en": "Traditional Chinese medicine"},
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
}

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
    prods["approved_at"] = [headline.beijing(v) if isinstance(v, str) and v else "—" for v in prods["approved_at"]]
    show_table(prods[["name", "release_id", "approved_by", "approved_at", "span", "releases"]].rename(
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
                           format_func=lambda s: t(f"cat.spec.{s}", lng) if s else t("cat.all", lng), key="cat_spec")
stage_choice = c2.selectbox(t("cat.filter_stage", lng), ["", *catalog.STAGES],
                            index=(["", *catalog.STAGES]).index(qp.get("stage", "")) if qp.get("stage", "") in catalog.STAGES else 0,
                            format_func=lambda s: t(f"cat.stage.{s}", lng) if s else t("cat.all", lng), key="cat_stage")
qp["spec"], qp["stage"] = spec_choice, stage_choice

def _product_name(pid: str | None) -> str:
    defs = all_products()
    return defs[pid].name(lng) if pid in defs else (pid or "—")


def _approval(appr: dict) -> str:
    """An approval's fields under translated labels: who (an organisation by its name in this language),
    when (Beijing time), the note (the catalogue's one standard note, translated) and the content hash."""
    parts = []
    for k, v in appr.items():
        if not v:
            continue
        if k == "by":
            v = org_label(v, lng)
        elif k == "at":
            v = headline.beijing(v)
        elif k == "note":
            v = t("cat.note.listed", lng) if v == catalog.LISTED_NOTE else v
        elif k == "content_hash":
            v = f"`{v[:16]}…`"
        parts.append(f"{t(f'cat.appr.{k}', lng)} {v}")
    return "; ".join(parts)


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
                   else t("cat.backs", lng, p=_product_name(d["product_id"])))
        if d["stage_index"] is not None:
            steps = [("● " if i <= d["stage_index"] else "○ ") + t(f"cat.stage.{s}", lng) for i, s in enumerate(catalog.STAGES)]
            st.markdown(f"**{t('cat.stage', lng)}:** " + " → ".join(steps))
        span = d["time_span"]
        if level == "full":
            cols = st.columns(4)
            cols[0].metric(t("cat.facilities", lng), d["facilities"] if d["facilities"] is not None else "—")
            cols[1].metric(t("cat.rows", lng), f"{d['rows']:,}" if d.get("rows") is not None else "—")
            cols[2].metric(t("cat.span", lng), f"{span[0]} – {span[-1]}" if span else "—")
            cols[3].metric(t("cat.freq", lng), t(f"cat.freq.{d['update_frequency']}", lng) if d["update_frequency"] else "—")
        else:
            cols = st.columns(2)
            cols[0].metric(t("cat.span", lng), f"{span[0]} – {span[-1]}" if span else "—")
            cols[1].metric(t("cat.freq", lng), t(f"cat.freq.{d['update_frequency']}", lng) if d["update_frequency"] else "—")
        st.markdown(f"**{t('cat.fields', lng)}:** " + ", ".join(f"`{f}`" for f in d["fields"]))
        if level == "full":
            st.markdown(f"**{t('cat.version', lng)}:** {d['version'] or '—'}")
        if d["approval"]:
            st.markdown(f"**{t('cat.approval', lng)}:** " + _approval(d["approval"]))
        if d["facility_names"]:
            st.markdown(f"**{t('cat.facilities', lng)}:** "
                        + ("、" if lng == "zh" else "; ").join(org_label(n, lng) for n in d["facility_names"]))
        if catalog.can_apply(user, d["product_id"]):
            with st.form(f"apply_{d['id']}"):
                st.markdown(f"**{t('cat.apply', lng)}**")
                start, end = catalog.default_window()
                purpose = st.text_area(t("cat.purpose", lng), key=f"purpose_{d['id']}", max_chars=2000)
                f1, f2 = st.columns(2)
                valid_from = f1.date_input(t("cat.from", lng), value=start, key=f"from_{d['id']}")
                valid_to = f2.date_input(t("cat.to", lng), value=end, key=f"to_{d['id']}")
                scope = st.multiselect(t("cat.scope", lng), ["view", "download"], default=["view"], key=f"scope_{d['id']}",
                                       format_func=lambda a: t(f"cat.scope.{a}", lng))
                if st.form_submit_button(t("cat.submit", lng)):
                    try:
                        sc = catalog.apply_from_catalog(user, d["id"], purpose, valid_from, valid_to, tuple(scope) or ("view",))
                        st.success(t("cat.submitted", lng, id=sc.id))
                    except (ScenarioError, ValueError) as exc:
                        st.error(str(exc))
        if d.get("usable") and d["id"] in DICTIONARIES:
            dd = DICTIONARIES[d["id"]]
            st.markdown(f"**{t('cat.dictionary', lng)}**")
            dictionary_table(dd, lng, key=f"dict_{d['id']}")
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

"""My hospital: the facility's own indicators beside the city's distribution, its transfers, the
data-quality checks on what it sent, and what awaits approval. Peers are never named."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from dashboards import ui
from dashboards.ui import lang, page_grants, require_principal, show_table, synthetic_banner
from data_products import catalog
from data_products.governance.store import LOCAL
from data_products.i18n import keys, pick, t
from data_products.products.registry import all_products
from data_products.products.supplier_quality import PRODUCT_ID as SUPPLIER
from data_products.products.supplier_quality import views as supplier
from data_products.reference import facilities

MESSAGES = {
    "mh.pass_pct": {"zh": "通过率（%）", "en": "Pass rate (%)"},
    "mh.detail.not_assessed": {"zh": "未评估：该类数据表无事件日期（或无记录），无可评判的值",
                               "en": "not assessed: this kind's table has no event date (or no rows), so there is no value to judge"},
    "mh.detail.rejected": {"zh": "已拒收（{n} 个问题）：{first}", "en": "rejected ({n} issues): {first}"},
    "mh.detail.lag": {"zh": "事件至传输的中位天数：{days}", "en": "median days from event to transfer: {days}"},
    "mh.pr.product_id": {"zh": "产品", "en": "Product"}, "mh.pr.release_id": {"zh": "候选发布", "en": "Candidate release"},
    "mh.app.product": {"zh": "产品或数据集", "en": "Product or dataset"}, "mh.app.purpose": {"zh": "用途", "en": "Purpose"},
    "mh.app.from": {"zh": "起始", "en": "From"}, "mh.app.to": {"zh": "截止", "en": "To"},
    "mh.app.applied": {"zh": "申请时间", "en": "Applied"},
    "mh.title": {"zh": "我的医院", "en": "My hospital"},
    "mh.indicators": {"zh": "本机构指标与全市分布", "en": "Our indicators beside the city's distribution"},
    "mh.indicators_note": {"zh": "同级机构只以分布（四分位数、百分位排名）出现，不显示名称。",
                           "en": "Peers appear only as a distribution (quartiles, percentile rank), never by name."},
    "mh.none": {"zh": "暂无可显示的产品指标。", "en": "No product indicators to show yet."},
    "mh.metric": {"zh": "指标", "en": "Metric"},
    "mh.own": {"zh": "本机构", "en": "Ours"},
    "mh.median": {"zh": "全市中位数", "en": "City median"},
    "mh.iqr": {"zh": "四分位距", "en": "Interquartile range"},
    "mh.rank": {"zh": "百分位排名", "en": "Percentile rank"},
    "mh.n_fac": {"zh": "参与机构数", "en": "Facilities"},
    "mh.transfers": {"zh": "数据传输", "en": "Transfers"},
    "mh.files": {"zh": "已接收文件", "en": "Files accepted"},
    "mh.rows": {"zh": "接收记录数", "en": "Rows accepted"},
    "mh.rejected": {"zh": "被拒文件", "en": "Files rejected"},
    "mh.last": {"zh": "最近一次传输", "en": "Last transfer"},
    "mh.quality": {"zh": "数据质量检查", "en": "Data-quality checks"},
    "mh.passed": {"zh": "通过", "en": "Passed"},
    "mh.failed": {"zh": "未通过", "en": "Failed"},
    "mh.trend": {"zh": "各年度通过率：本机构与全市", "en": "Pass rate by data year: ours and the city's"},
    "mh.fields": {"zh": "字段完整性（本机构 vs 全市）", "en": "Field completeness (ours vs the city)"},
    "mh.rejections": {"zh": "被拒传输", "en": "Rejected transfers"},
    "mh.no_rejections": {"zh": "没有被拒的传输。", "en": "No rejected transfers."},
    "mh.pending": {"zh": "待审批事项", "en": "Awaiting approval"},
    "mh.pending_releases": {"zh": "待批准的候选发布", "en": "Candidate releases awaiting approval"},
    "mh.pending_apps": {"zh": "本机构待审批的使用场景申请", "en": "Our scenario applications awaiting approval"},
    "mh.nothing_pending": {"zh": "没有待审批事项。", "en": "Nothing awaiting approval."},
    "mh.check.completeness": {"zh": "完整性", "en": "Completeness"},
    "mh.check.validity": {"zh": "有效性", "en": "Validity"},
    "mh.check.timeliness": {"zh": "及时性", "en": "Timeliness"},
    "mh.check.duplicates": {"zh": "重复记录", "en": "Duplicates"},
    "mh.not_assessed": {"zh": "未评估", "en": "Not assessed"},
    "mh.result_withheld": {"zh": "{result}（数值未发布）", "en": "{result} (value withheld)"},
    "mh.ref.timeliness": {"zh": "≤ {limit} 天（全市中位数 {city} 天 + {slack} 天）",
                          "en": "≤ {limit} days (city median {city} + {slack} days)"},
    "mh.ref.completeness": {"zh": "≥ {limit}（全市 {city} − {drop} 个百分点）",
                            "en": "≥ {limit} (city {city} − {drop} points)"},
    "mh.rule": {"zh": "判定规则：及时性——本传输最晚事件至到达的天数不超过同类同年全市中位数 + {slack} 天；"
                      "完整性——任一字段填写率不低于全市 {drop} 个百分点以上。两者都是与全市相比的相对标准。",
                "en": "How each check is judged: timeliness passes when this transfer's latest event reached the space "
                      "no more than {slack} days later than the city's median for the same kind and year; completeness "
                      "when no field is filled more than {drop} points below the city. Both are relative to the city."},
    "mh.withheld": {"zh": "“—”：该值未发布（所依据的记录数小于最小单元格或可被反推），或无可计算的数据。",
                    "en": "\"—\": not released (the row count it rests on is below the minimum cell or recoverable), "
                          "or nothing to compute it from."},
    "mh.times": {"zh": "时间均为北京时间。", "en": "Times are Beijing time."},
    "mh.col.file": {"zh": "文件", "en": "File"},
    "mh.col.kind": {"zh": "数据类型", "en": "Kind"},
    "mh.col.year": {"zh": "数据年份", "en": "Data year"},
    "mh.col.ingested": {"zh": "接收时间", "en": "Received at"},
    "mh.col.rows": {"zh": "记录数", "en": "Rows"},
    "mh.col.first": {"zh": "最早事件月", "en": "First event month"},
    "mh.col.last": {"zh": "最晚事件月", "en": "Last event month"},
    "mh.col.last_lag": {"zh": "最晚事件至传输（天）", "en": "Latest event to transfer (days)"},
    "mh.col.median_lag": {"zh": "事件至传输中位数（天）", "en": "Median event to transfer (days)"},
    "mh.col.check": {"zh": "检查", "en": "Check"},
    "mh.col.result": {"zh": "结果", "en": "Result"},
    "mh.col.value": {"zh": "本传输", "en": "This transfer"},
    "mh.col.reference": {"zh": "参照", "en": "Reference"},
    "mh.col.detail": {"zh": "说明", "en": "Detail"},
    "mh.col.field": {"zh": "字段", "en": "Field"},
    "mh.col.pct": {"zh": "填写率", "en": "Filled"},
    "mh.col.city_pct": {"zh": "全市填写率", "en": "City filled"},
    "mh.not_supplier": {"zh": "供给方质量报告尚未发布。", "en": "The supplier quality report has not been released yet."},
}

# Metrics that count people or records: whole numbers, never "4,377.00".
_COUNT_METRICS = {"cases", "measured", "patients", "visits"}
# Days from the latest event to the transfer; the other checks are percentages.
_DAY_CHECKS = {"timeliness"}


def _number_format(metric_id: str) -> str:
    if metric_id in _COUNT_METRICS:
        return "{:,.0f}"
    return "{:,.1f}" if metric_id.endswith("_pct") else "{:,.2f}"


def _count(v) -> str:
    return "—" if pd.isna(v) else f"{float(v):,.0f}"


def _pct(v) -> str:
    return "—" if pd.isna(v) else f"{float(v):.1f}%"


def _check_value(check: str, v) -> str:
    if pd.isna(v):
        return "—"
    return f"{float(v):,.0f} {'天' if lng == 'zh' else 'days'}" if check in _DAY_CHECKS else _pct(v)


def _result(ok, value=0.0) -> str:
    """The product's status in words; a check with no value to judge is "not assessed", never "passed"; a
    judged check whose value is withheld says so, so that "passed" never stands beside a bare "—"."""
    if pd.isna(ok):
        return t("mh.not_assessed", lng)
    result = t("mh.passed" if ok else "mh.failed", lng)
    return t("mh.result_withheld", lng, result=result) if pd.isna(value) else result


def _reference(check: str, ref, rule: dict) -> str:
    """The bar a check was judged against, not only the city's figure it was derived from."""
    if pd.isna(ref):
        return "—"
    if check == "timeliness" and "timeliness_slack_days" in rule:
        slack = rule["timeliness_slack_days"]
        return t("mh.ref.timeliness", lng, limit=f"{ref + slack:,.0f}", city=f"{ref:,.0f}", slack=f"{slack:g}")
    if check == "completeness" and "completeness_drop" in rule:
        drop = rule["completeness_drop"]
        return t("mh.ref.completeness", lng, limit=_pct(ref - drop), city=_pct(ref), drop=f"{drop:g}")
    return _check_value(check, ref)


def _beijing(ts) -> str:
    """A stored UTC time as Beijing time to the minute (the store holds naive UTC)."""
    if ts is None or pd.isna(ts):
        return "—"
    stamp = pd.Timestamp(ts)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp
    return stamp.tz_convert(LOCAL).strftime("%Y-%m-%d %H:%M")


def _kind(kind: str, lng: str) -> str:
    """A data kind (the transfer's file family) by its catalogue dataset's name, else as stored."""
    from data_products.catalog import dataset_descriptions

    d = next((d for d in dataset_descriptions() if d.get("kind") == kind), None)
    return kind if d is None else pick(lng, d["name_zh"], d["name_en"])


def _product(pid: str, lng: str) -> str:
    """A product's name, or a dataset's (a research application names a catalogue dataset)."""
    from data_products.catalog import dataset_descriptions

    defs = all_products()
    if pid in defs:
        return defs[pid].name(lng)
    d = next((d for d in dataset_descriptions() if d["id"] == pid), None)
    return pid if d is None else pick(lng, d["name_zh"], d["name_en"])


def _detail(detail, lng: str) -> str:
    """A check's detail line in the page's language (the quality module writes one known English form)."""
    import re

    if detail is None or (isinstance(detail, float) and pd.isna(detail)):
        return ""
    if str(detail).startswith("not assessed:"):  # quality.NOT_ASSESSED (a page does not import the quality module)
        return t("mh.detail.not_assessed", lng)
    m = re.fullmatch(r"median days from event to transfer: (\d+)", str(detail))
    if m:
        return t("mh.detail.lag", lng, days=m.group(1))
    m = re.fullmatch(r"rejected \((\d+) issues\): (.*)", str(detail), re.S)
    # The first issue is the ingest's own message (file, row, field): kept as written.
    return t("mh.detail.rejected", lng, n=m.group(1), first=m.group(2)) if m else str(detail)


lng = lang()
user = require_principal()
st.title(t("mh.title", lng))
synthetic_banner(lng)
reg = facilities().set_index("facility_id")
if user.facility_id in reg.index:
    st.subheader(pick(lng, reg.at[user.facility_id, "name_zh"], reg.at[user.facility_id, "name_en"]))

# --- indicators from every product this hospital may see -------------------------------------
st.header(t("mh.indicators", lng))
st.caption(t("mh.indicators_note", lng))
products = all_products()
# One gate decision per product shown, all in one ledger entry for this page open.
grants = page_grants("my-hospital", [pid for pid, d in products.items() if d.indicators or pid == SUPPLIER])
shown_any = False
for product_id, grant in grants.items():
    p = products[product_id]
    if p.indicators is None:
        continue
    frame = p.indicators.compare(grant)
    if frame is None or frame.empty:
        continue
    shown_any = True
    st.markdown(f"**{p.name(lng)}**")
    view = frame.reset_index()
    view["metric"] = view["metric"].map(lambda m, label=p.indicators.label: label(m, lng))
    fmts = [_number_format(m) for m in frame.index]
    view["own"] = [("—" if (pd.isna(v) or h) else f.format(v))
                   for v, h, f in zip(view["own"], view["own_suppressed"], fmts, strict=True)]
    view["median"] = ["—" if pd.isna(v) else f.format(v) for v, f in zip(view["median"], fmts, strict=True)]
    view["iqr"] = [f"{f.format(a)} – {f.format(b)}" if pd.notna(a) and pd.notna(b) else "—"
                   for a, b, f in zip(view["p25"], view["p75"], fmts, strict=True)]
    view = view[["metric", "own", "median", "iqr", "percentile_rank", "facilities"]].rename(columns={
        "metric": t("mh.metric", lng), "own": t("mh.own", lng), "median": t("mh.median", lng), "iqr": t("mh.iqr", lng),
        "percentile_rank": t("mh.rank", lng), "facilities": t("mh.n_fac", lng)})
    show_table(view, hide_index=True, width="stretch", key=f"mh_ind_{product_id}",
                 column_config={t("mh.rank", lng): st.column_config.ProgressColumn(min_value=0, max_value=100, format="%.0f")})
if not shown_any:
    st.info(t("mh.none", lng))

# --- transfers and data quality (from the approved supplier report) -------------------------
st.header(t("mh.transfers", lng))
sq = grants.get(SUPPLIER)
summary = supplier.summary(sq) if sq is not None else None
if sq is None:
    st.warning(t("mh.not_supplier", lng))

if summary is not None:
    c = st.columns(4)
    c[0].metric(t("mh.files", lng), summary["files_accepted"])
    c[1].metric(t("mh.rows", lng), "—" if summary["rows_accepted"] is None else f"{summary['rows_accepted']:,}")
    c[2].metric(t("mh.rejected", lng), summary["files_rejected"])
    c[3].metric(t("mh.last", lng), _beijing(summary["last_transfer"]))
    tr = supplier.transfers(sq)
    show_table(pd.DataFrame({
        t("mh.col.file", lng): tr["file_name"], t("mh.col.kind", lng): tr["kind"].map(lambda k: _kind(k, lng)),
        t("mh.col.year", lng): tr["year"],
        t("mh.col.ingested", lng): tr["ingested_at"].map(_beijing), t("mh.col.rows", lng): tr["rows"].map(_count),
        t("mh.col.first", lng): tr["first_event_month"].fillna("—"), t("mh.col.last", lng): tr["last_event_month"].fillna("—"),
        t("mh.col.last_lag", lng): tr["last_event_lag_days"].map(_count),
        t("mh.col.median_lag", lng): tr["median_lag_days"].map(_count),
    }), hide_index=True, width="stretch", key="mh_transfers")
    st.caption(f"{t('mh.times', lng)} {t('mh.withheld', lng)}")

    st.header(t("mh.quality", lng))
    checks = supplier.checks(sq)
    rule = supplier.release_info(sq)["meta"].get("thresholds", {})
    if not checks.empty:
        counts = checks.groupby("check")["passed"].agg(["sum", "count"])
        cols = st.columns(len(counts))
        for col, (check, row) in zip(cols, counts.iterrows(), strict=True):
            failed = int(row["count"] - row["sum"])
            col.metric(t(f"mh.check.{check}", lng), f"{int(row['sum'])}/{int(row['count'])}",
                       delta=f"{failed} {t('mh.failed', lng)}" if failed else t("mh.passed", lng),
                       delta_color="inverse" if failed else "off")
        # Plain words, no emoji: the reader's machine may have no emoji font (an empty box, issue 15).
        show_table(pd.DataFrame({
            t("mh.col.file", lng): checks["file_name"],
            t("mh.col.check", lng): checks["check"].map(lambda c: t(f"mh.check.{c}", lng)),
            t("mh.col.result", lng): [_result(ok, v) for ok, v in zip(checks["passed"], checks["value"], strict=True)],
            t("mh.col.value", lng): [_check_value(c, v) for c, v in zip(checks["check"], checks["value"], strict=True)],
            t("mh.col.reference", lng): [_reference(c, v, rule) for c, v in zip(checks["check"], checks["reference"],
                                                                                strict=True)],
            t("mh.col.detail", lng): [_detail(d, lng) for d in checks["detail"]],
        }), hide_index=True, width="stretch", key="mh_checks")
        st.caption(t("mh.withheld", lng))
        if {"timeliness_slack_days", "completeness_drop"} <= rule.keys():
            st.caption(t("mh.rule", lng, slack=f"{rule['timeliness_slack_days']:g}", drop=f"{rule['completeness_drop']:g}"))
    tr_frame = supplier.trend(sq)
    if not tr_frame.empty:
        st.subheader(t("mh.trend", lng))
        long = tr_frame.melt(id_vars=["check", "year"], value_vars=["own_pass_pct", "city_pass_pct"], var_name="who",
                             value_name="pass_pct")
        long["who"] = long["who"].map({"own_pass_pct": t("mh.own", lng), "city_pass_pct": t("mh.median", lng)})
        long["check"] = long["check"].map(lambda c: t(f"mh.check.{c}", lng))
        fig = px.line(long, x="year", y="pass_pct", color="who", facet_col="check", markers=True, range_y=[0, 105],
                      labels={"year": t("mh.col.year", lng), "pass_pct": t("mh.pass_pct", lng), "who": "",
                              "check": t("mh.col.check", lng)})
        fig.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1]))  # facet titles: the check's name only
        fig.update_layout(height=300, margin={"l": 0, "r": 0, "t": 30, "b": 0})
        ui.chart(fig, key="mh_trend", grant=sq, name="my_hospital_data_quality_trend", lng=lng)
    comp = supplier.completeness(sq)
    if not comp.empty:
        st.subheader(t("mh.fields", lng))
        latest = comp.sort_values("year").groupby(["kind", "field"]).tail(1)
        show_table(pd.DataFrame({
            t("mh.col.kind", lng): latest["kind"].map(lambda k: _kind(k, lng)), t("mh.col.field", lng): latest["field"],
            t("mh.col.year", lng): latest["year"], t("mh.col.pct", lng): latest["pct"].map(_pct),
            t("mh.col.city_pct", lng): latest["city_pct"].map(_pct),
            t("mh.col.result", lng): latest["passed"].map(_result),
        }), hide_index=True, width="stretch", key="mh_fields")
    st.subheader(t("mh.rejections", lng))
    rej = supplier.rejections(sq)
    if rej.empty:
        st.caption(t("mh.no_rejections", lng))
    else:
        show_table(rej.assign(rejected_at=rej["rejected_at"].map(_beijing)), hide_index=True, width="stretch",
                     key="mh_rejections")

# --- what awaits approval ----------------------------------------------------------------------
st.header(t("mh.pending", lng))
mine = [p.id for p in products.values() if p.facility_level or p.producer_facility == user.facility_id]
pending_releases = catalog.releases_awaiting_approval(mine)
apps = catalog.my_applications(user)
if not pending_releases and not apps:
    st.caption(t("mh.nothing_pending", lng))
if pending_releases:
    st.markdown(f"**{t('mh.pending_releases', lng)}**")
    pr = pd.DataFrame(pending_releases)
    pr["product_id"] = pr["product_id"].map(lambda p: _product(p, lng))
    show_table(pr.rename(columns={c: t(f"mh.pr.{c}", lng) if f"mh.pr.{c}" in keys() else c for c in pr.columns}),
               hide_index=True, width="stretch", key="mh_pending_releases")
if apps:
    st.markdown(f"**{t('mh.pending_apps', lng)}**")
    show_table(pd.DataFrame([{"ID": s.id, t("mh.app.product", lng): _product(s.product_id, lng),
                              t("mh.app.purpose", lng): s.purpose, t("mh.app.from", lng): _beijing(s.valid_from),
                              t("mh.app.to", lng): _beijing(s.valid_to) if s.valid_to else "—",
                              t("mh.app.applied", lng): _beijing(s.applied_at)}
                             for s in apps]), hide_index=True, width="stretch", key="mh_pending_apps")

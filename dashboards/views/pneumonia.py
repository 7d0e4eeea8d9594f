"""Pediatric pneumonia infection-marker atlas (儿童肺炎常用感染指标分布图谱).

Renders only the approved release through the product's view functions (each asks the gate).
Every filter is bound to the URL, so a view can be shared as a link.
"""

from __future__ import annotations

import time

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboards import headline, ui
from dashboards.charts import class_breaks, district_choropleth, district_ranking, quantile_boxes
from dashboards.ui import (
    download_button,
    from_url,
    guard,
    lang,
    product_grant,
    show_table,
    synthetic_banner,
    to_url,
    wide_or_narrow,
    zipped,
)
from data_products.disclosure import ALL
from data_products.i18n import pick, t
from data_products.products.intervals import add_intervals
from data_products.products.pneumonia import labels, views
from data_products.products.pneumonia.spec import AGE_BANDS, CUTOFFS, MARKERS, PATHOGENS
from data_products.products.pneumonia.views import METRICS
from data_products.products.registry import product
from data_products.reference import districts

MESSAGES = {
    "pn.release": {"zh": "发布版本 {rid} · {who} 于 {at}（北京时间）批准 · 时间范围 {span}",
                   "en": "Release {rid} · approved by {who} at {at} (Beijing time) · covers {span}"},
    "pn.metric": {"zh": "指标", "en": "Metric"},
    "pn.period": {"zh": "时间范围（月）", "en": "Period (months)"},
    "pn.age": {"zh": "年龄组", "en": "Age band"},
    "pn.sex": {"zh": "性别", "en": "Sex"},
    "pn.pathogen": {"zh": "病原体", "en": "Pathogen"},
    "pn.marker": {"zh": "检验指标", "en": "Marker"},
    "pn.play": {"zh": "按月播放", "en": "Play the months"},
    "pn.tab.map": {"zh": "地图", "en": "Map"},
    "pn.tab.dist": {"zh": "指标分布", "en": "Distributions"},
    "pn.tab.season": {"zh": "季节性", "en": "Seasons"},
    "pn.tab.profile": {"zh": "区概况", "en": "District profile"},
    "pn.tab.facility": {"zh": "本院对比", "en": "My facility"},
    "pn.tab.table": {"zh": "数据表与下载", "en": "Table and download"},
    "pn.tab.about": {"zh": "关于数据", "en": "About this data"},
    "pn.suppressed": {"zh": "已抑制（计数 < {k} 或可被反推）", "en": "Suppressed (count < {k} or recoverable)"},
    "pn.reason.primary": {"zh": "小于 {k} 的计数（一级抑制）", "en": "count below {k} (primary)"},
    "pn.reason.secondary": {"zh": "为保护其他单元而隐藏（二级抑制）", "en": "hidden to protect another cell (secondary)"},
    "pn.reason.range": {"zh": "分位数只按单月或全时段发布", "en": "quantiles are released per month or for the whole span"},
    "pn.reason.empty": {"zh": "无病例", "en": "no cases"},
    "pn.ranking": {"zh": "各区排名（虚线：全市）", "en": "Districts ranked (dashed line: Guangzhou)"},
    "pn.interval_note": {"zh": "横线为 95% 置信区间（比例用 Wilson 区间，计数与率用精确泊松区间）。",
                         "en": "Whiskers are 95% intervals (Wilson for shares, exact Poisson for counts and rates)."},
    "pn.classes_note": {"zh": "颜色分级为所示各区数值的五分位（按两位有效数字取整）；灰色为已抑制。",
                        "en": "Colour classes are quintiles of the districts shown (edges rounded to two significant "
                              "figures); grey is suppressed."},
    "pn.click_hint": {"zh": "点击地图上的区可查看该区概况。", "en": "Click a district on the map to open its profile."},
    "pn.district": {"zh": "区", "en": "District"},
    "pn.facility": {"zh": "机构", "en": "Facility"},
    "pn.city": {"zh": "全市", "en": "Guangzhou"},
    "pn.rank": {"zh": "排名", "en": "Rank"},
    "pn.value": {"zh": "数值", "en": "Value"},
    "pn.by_age": {"zh": "按年龄组（全时段）", "en": "By age band (whole span)"},
    "pn.by_pathogen": {"zh": "按病原体阳性（全时段）", "en": "By positive pathogen (whole span)"},
    "pn.cutoff_line": {"zh": "临床界值", "en": "Clinical cut-off"},
    "pn.heatmap": {"zh": "各月病原体阳性率（%）", "en": "Pathogen positivity by month (%)"},
    "pn.trend": {"zh": "阳性率趋势", "en": "Positivity trend"},
    "pn.district_month": {"zh": "各区各月：{metric}", "en": "By district and month: {metric}"},
    "pn.grey_hidden": {"zh": "灰色格为已抑制的单元（计数 < {k} 或可被反推）。", "en": "Grey cells are suppressed (count < {k} or recoverable)."},
    "pn.own": {"zh": "本院", "en": "Own facility"},
    "pn.facilities_n": {"zh": "机构数", "en": "Facilities"},
    "pn.pct_rank": {"zh": "百分位", "en": "Percentile rank"},
    "pn.own_note": {"zh": "同级机构仅以分布显示，不显示名称。", "en": "Peers appear only as a distribution, never by name."},
    "pn.download": {"zh": "下载本表（CSV 与元数据，zip；记入审计日志）",
                    "en": "Download this table (CSV and metadata, zip; recorded in the audit log)"},
    "pn.no_district": {"zh": "请选择一个区。", "en": "Pick a district."},
    "pn.n": {"zh": "病例数", "en": "Cases"},
    "pn.about": {
        "zh": ("**数据来源**：各医院上报的 14 岁以下肺炎住院病例（去标识化后在受限区处理），仅发布通过统计披露控制并经审批的汇总表。\n\n"
               "**抑制规则**：任何 1–{k1} 的计数不发布（一级抑制）；另外隐藏部分单元，使任何被隐藏的数不能由合计或边际反推（二级抑制）。"
               "比例、率和分位数只由可发布的单元计算；被隐藏的值一律标注原因，绝不以 0 代替。\n\n"
               "**率**：每万名儿童每年病例数。病例为 0–13 岁，分母也取 0–13 岁儿童：各区 2023 年末常住人口 × 13.167%。"
               "13.167% 由 2020 年普查公报（第四号）推得：0–14 岁 2,590,189 人，0–15 岁 2,721,175 人；普查未公布单岁人口，"
               "以 15 岁人数（130,986）代替 14 岁人数，0–13 岁约 2,459,203 人，占常住人口 18,676,605 的 13.167%。"
               "**假设**：我们的资料中没有各区的年龄结构，因此每个区都用全市同一比例；儿童比例高于（低于）全市的区，其率被高估（低估）。"
               "年龄组的分母按 0–13 岁各单岁均匀分布估算。所选月份的病例数除以所选月数再乘以 12，即为年率。\n\n"
               "**白细胞升高**：按年龄别参考区间上限判定（WS/T 779-2021《儿童血细胞分析参考区间》，静脉血）："
               "28 天–<6 月 14.2，6 月–<1 岁 14.6，1–<2 岁 14.1，2–<6 岁 11.9，6–<13 岁 11.3，≥13 岁 11.0（×10⁹/L）；"
               "不足 28 天者按 14.2。这些数值据标准表格摘录，临床使用前请与标准原文核对。\n\n"
               "**分位数**：每个单元内的 P10、P25、中位数、P75、P90，由受限区内的原始记录计算，只发布分位数，不发布记录。"),
        "en": ("**Source**: pneumonia admissions of children under 14 reported by the hospitals, de-identified and processed in the "
               "restricted zone; only aggregate tables that passed disclosure control and an approval are published.\n\n"
               "**Suppression**: no count from 1 to {k1} is shown (primary); further cells are hidden so no hidden value can be "
               "recovered from totals or margins (secondary). Shares, rates and quantiles are computed only from releasable "
               "cells; a hidden value always carries its reason and is never shown as 0.\n\n"
               "**Rates**: cases per 10,000 children per year. The cases are aged 0–13, and so is the denominator: each "
               "district's end-2023 residents × 13.167%. The share comes from the 2020 census bulletin No. 4: 2,590,189 aged "
               "0–14 and 2,721,175 aged 0–15; with no single years published, the age-15 cohort (130,986) stands in for age 14, "
               "giving about 2,459,203 aged 0–13, 13.167% of 18,676,605 residents. **Assumption**: our sources hold no "
               "age structure per district, so every district gets the city's share; a district with more (fewer) children "
               "than the city average shows too high (too low) a rate. Age bands split the 0–13 denominator evenly over "
               "single years. The cases of the chosen months are divided by the number of months and multiplied by 12.\n\n"
               "**Raised WBC**: above the upper limit of the age's reference interval (WS/T 779-2021, children's blood-cell "
               "reference intervals, venous blood): 28 d–<6 mo 14.2, 6 mo–<1 y 14.6, 1–<2 y 14.1, 2–<6 y 11.9, 6–<13 y 11.3, "
               "≥13 y 11.0 ×10⁹/L; under 28 days 14.2 is used. Values as read from the standard's table: check them against "
               "its text before clinical use.\n\n"
               "**Quantiles**: P10, P25, median, P75 and P90 within each cell, computed on the records inside the restricted "
               "zone; only the quantiles leave it."),
    },
    "pn.cutoffs": {"zh": "临床界值及来源", "en": "Clinical cut-offs and their sources"},
    "pn.month": {"zh": "月份", "en": "Month"},
    "pn.cutoff": {"zh": "界值", "en": "Cut-off"},
    "pn.cutoff_source": {"zh": "含义与来源", "en": "Meaning and source"},
}

lng = lang()
grant = product_grant(views.PRODUCT_ID, lng)
st.title(product(views.PRODUCT_ID).name(lng))
synthetic_banner(lng)

info = guard(lambda: views.release_info(grant), lng)
months = info["months"]  # one gate decision for the page header, not two
k = info["meta"].get("min_cell", 10)
dnames = districts().set_index("adcode").apply(lambda r: pick(lng, r["name_zh"], r["name_en"]), axis=1)
dnames[ALL] = t("pn.city", lng)
st.caption(t("pn.release", lng, rid=info["release_id"], who=info["approval"].get("approved_by", "?"),
             at=headline.beijing(info["approval"].get("approved_at")), span=" – ".join(info["meta"].get("time_span", []))))


# --- headline: the latest month for the whole city, against the month before ------------------------
def _city(mid: str, month: str):
    row = guard(lambda: views.district_values(grant, mid, month, month), lng).loc[ALL]
    return None if row["suppressed"] else row["value"]


_kinds = {"cases": "count", "rate": "rate", "mp_positivity": "share"}
_last, _prev = months[-1], (months[-2] if len(months) > 1 else None)
headline.show([headline.Figure(labels.metric_label(mid, lng), _city(mid, _last), kind,
                               _city(mid, _prev) if _prev else None) for mid, kind in _kinds.items()],
              lng, period=_last, previous=_prev, updated=headline.updated_at(info))


def cutoff_label(c) -> str:
    return labels.cutoff_label(c, lng)


def metric_label(mid: str) -> str:
    return labels.metric_label(mid, lng)


def reason_label(reason: str) -> str:
    return t(f"pn.reason.{reason}", lng, k=k) if reason else ""


# --- filters (bound to the URL) -----------------------------------------------------------------
metric_ids = list(views.METRICS)
from_url("metric", metric_ids, "mp_positivity")
# A range slider takes its shape from `value`, so the period's URL seed goes there (once), not into state.
if "period" not in st.session_state:  # arriving on the page (the slider's state is gone): seed from the URL again
    st.session_state.pop("_period_seed", None)
from_url("_period_seed", months, (months[0], months[-1]), parse=lambda v: tuple(v.split("..", 1)), param="period")
from_url("age", [ALL, *AGE_BANDS], ALL)
from_url("sex", [ALL, "M", "F"], ALL)
from_url("marker", list(MARKERS), MARKERS[0])
from_url("district", list(districts()["adcode"]), districts()["adcode"].iloc[0])
c1, c2, c3, c4 = st.columns([3, 4, 2, 2])
metric = c1.selectbox(t("pn.metric", lng), metric_ids, format_func=metric_label, key="metric")
start, end = c2.select_slider(t("pn.period", lng), months, value=st.session_state["_period_seed"], key="period")
age = c3.selectbox(t("pn.age", lng), [ALL, *AGE_BANDS], format_func=lambda a: t(f"age.{a}", lng), key="age")
sex = c4.selectbox(t("pn.sex", lng), [ALL, "M", "F"], format_func=lambda s: t(f"sex.{s}", lng), key="sex")

tabs = st.tabs([t(f"pn.tab.{x}", lng) for x in ("map", "dist", "season", "profile", "facility", "table", "about")])

# --- map ------------------------------------------------------------------------------------------
values = guard(lambda: views.district_values(grant, metric, start, end, age, sex), lng)
shown = values.drop(index=ALL)


def fmt(v: float, mid: str | None = None) -> str:
    if pd.isna(v):
        return "—"
    return f"{v:,.0f}" if (mid or metric) == "cases" else f"{v:,.1f}" if abs(v) >= 10 else f"{v:,.2f}"


with tabs[0]:
    hover = pd.Series({a: (fmt(shown.at[a, "value"]) if not shown.at[a, "suppressed"] else reason_label(shown.at[a, "reason"]))
                       for a in shown.index})
    breaks = class_breaks(shown.loc[~shown["suppressed"], "value"])
    city = values.loc[ALL]
    city_value = None if city["suppressed"] else city["value"]
    m_col, r_col = st.columns([3, 2])
    fig = district_choropleth(shown, value="value", label=metric_label(metric), names=dnames, hover_text=hover,
                              suppressed=shown["suppressed"], suppressed_label=t("pn.suppressed", lng, k=k),
                              colorscale="YlOrRd", breaks=breaks, fmt=fmt)
    view = f"{metric}_{start}_{end}_{age}_{sex}"
    with m_col:
        event = ui.chart(fig, key="pn_map", grant=grant, name=f"pneumonia_map_{view}", lng=lng,
                         on_select="rerun", selection_mode="points")
    ranked = add_intervals(shown[~shown["suppressed"]], METRICS[metric].kind)
    with r_col:
        st.markdown(f"**{t('pn.ranking', lng)}**")
        ui.chart(district_ranking(ranked, value="value", names=dnames, label=metric_label(metric),
                                  city=city_value, city_label=t("pn.city", lng), lo="lo", hi="hi",
                                  breaks=breaks, colorscale="YlOrRd", fmt=fmt),
                 key="pn_rank", grant=grant, name=f"pneumonia_ranking_{view}", lng=lng)
        if ranked["lo"].notna().any():
            st.caption(t("pn.interval_note", lng))
    points = (event or {}).get("selection", {}).get("points", []) if isinstance(event, dict) else (
        event.selection.points if event else [])
    if points:
        loc = points[0].get("location") or points[0].get("customdata")
        # Only a new click moves the profile; a selection that persists across reruns must not
        # override a district picked in the profile's own selector.
        if loc in dnames.index and loc != ALL and st.session_state.get("_pn_clicked") != loc:
            st.session_state["_pn_clicked"] = loc
            st.session_state["district"] = loc
    st.metric(f"{t('pn.city', lng)} · {metric_label(metric)}",
              fmt(city["value"]) if not city["suppressed"] else reason_label(city["reason"]))
    st.caption(t("pn.classes_note", lng) + " " + t("pn.click_hint", lng))
    if st.toggle(t("pn.play", lng), key="play"):
        frame_box = st.empty()
        window = months[months.index(start): months.index(end) + 1]
        frames = {m: views.district_values(grant, metric, m, m, age, sex).drop(index=ALL) for m in window}
        # One scale for the whole timeline, so a darker district in a later month means a higher value.
        fixed = class_breaks(pd.concat([f.loc[~f["suppressed"], "value"] for f in frames.values()]))
        for m, mv in frames.items():
            mh = pd.Series({a: fmt(mv.at[a, "value"]) if not mv.at[a, "suppressed"] else reason_label(mv.at[a, "reason"])
                            for a in mv.index})
            f = district_choropleth(mv, value="value", label=f"{metric_label(metric)} · {m}", names=dnames, hover_text=mh,
                                    suppressed=mv["suppressed"], suppressed_label=t("pn.suppressed", lng, k=k),
                                    colorscale="YlOrRd", breaks=fixed, fmt=fmt)
            ui.chart(f, key=f"play_{m}", container=frame_box)
            time.sleep(0.7)

# --- distributions -----------------------------------------------------------------------------------
with tabs[1]:
    marker = st.selectbox(t("pn.marker", lng), list(MARKERS), format_func=lambda m: t("marker." + m, lng), key="marker")

    def box(frame: pd.DataFrame, names: list[str], title: str) -> go.Figure:
        # An age-specific cut-off (WBC) has no single line across ages.
        lines = [(c.value, f"{t('pn.cutoff_line', lng)} {c.op} {c.value:g}") for c in CUTOFFS
                 if c.marker == marker and c.value is not None]
        return quantile_boxes(frame, names, title=title, axis_title=t("marker." + marker, lng), lines=lines,
                              log=marker in ("pct_ng_ml", "il6_pg_ml", "crp_mg_l"))

    d1, d2 = st.columns(2)
    qa = guard(lambda: views.quantiles_by_age(grant, marker), lng)
    ui.chart(box(qa, [t(f"age.{a}", lng) for a in qa.index], t("pn.by_age", lng)), key="box_age", container=d1,
             grant=grant, name=f"pneumonia_{marker}_by_age", lng=lng)
    qp = guard(lambda: views.quantiles_by_pathogen(grant, marker, age), lng)
    ui.chart(box(qp, [t(f"path.{p}", lng) for p in qp.index], t("pn.by_pathogen", lng)), key="box_path",
             container=d2, grant=grant, name=f"pneumonia_{marker}_by_pathogen_{age}", lng=lng)
    st.caption("P10 · P25 · P50 · P75 · P90")

# --- seasons -------------------------------------------------------------------------------------
with tabs[2]:
    s = guard(lambda: views.season(grant, age, sex), lng)
    grid = s.pivot(index="pathogen", columns="month", values="value").reindex(list(PATHOGENS))
    hidden = s.pivot(index="pathogen", columns="month", values="suppressed").reindex(list(PATHOGENS))
    text = grid.round(1).astype(object).where(~hidden.astype(bool), "×")
    heat = go.Figure(go.Heatmap(z=grid.values, x=list(grid.columns), y=[t(f"path.{p}", lng) for p in grid.index],
                                text=text.values, texttemplate="%{text}", colorscale="YlOrRd",
                                colorbar={"title": {"text": "%"}}, hoverongaps=False))
    heat.update_layout(title=t("pn.heatmap", lng), height=330, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    wide, narrow = wide_or_narrow("season_heat")
    ui.chart(heat, key="season_heat", container=wide, grant=grant, name=f"pneumonia_season_{age}_{sex}", lng=lng)
    with narrow:  # a phone: a month per row, a pathogen per column
        st.markdown(f"**{t('pn.heatmap', lng)}**")
        season_tbl = text.map(lambda v: "—" if pd.isna(v) else v if isinstance(v, str) else f"{v:.1f}")
        season_tbl.index = [t(f"path.{p}", lng) for p in season_tbl.index]
        show_table(season_tbl.T.reset_index(names=t("pn.month", lng)), key="season_table")
    st.caption("× = " + t("pn.suppressed", lng, k=k))
    trend = go.Figure()
    for p in PATHOGENS:
        r = s[s["pathogen"] == p]
        trend.add_trace(go.Scatter(x=r["month"], y=r["value"].where(~r["suppressed"].astype(bool)), mode="lines+markers",
                                   name=t(f"path.{p}", lng), connectgaps=False))
    trend.update_layout(title=t("pn.trend", lng), height=360, yaxis_title="%", margin={"l": 10, "r": 10, "t": 40, "b": 10})
    ui.chart(trend, key="season_trend", grant=grant, name=f"pneumonia_positivity_trend_{age}_{sex}", lng=lng)
    if views.METRICS[metric].kind != "rate":
        dm = guard(lambda: views.district_by_month(grant, metric, age, sex), lng)
        zgrid = dm.pivot(index="district", columns="month", values="value").reindex(list(districts()["adcode"]))
        hgrid = dm.pivot(index="district", columns="month", values="suppressed").reindex(zgrid.index).fillna(True)
        zgrid = zgrid.where(~hgrid.astype(bool))
        dmap = go.Figure(go.Heatmap(z=zgrid.values, x=list(zgrid.columns), y=[dnames[a] for a in zgrid.index],
                                    colorscale="YlOrRd", hoverongaps=False, colorbar={"title": {"text": ""}}))
        dmap.update_layout(title=t("pn.district_month", lng, metric=metric_label(metric)), height=420,
                           margin={"l": 10, "r": 10, "t": 40, "b": 10}, plot_bgcolor="#d9d9d9")
        wide, narrow = wide_or_narrow("district_month")
        ui.chart(dmap, key="district_month", container=wide, grant=grant,
                 name=f"pneumonia_district_month_{metric}_{age}_{sex}", lng=lng)
        with narrow:  # a phone: a month per row, a district per column, hidden cells as ×
            st.markdown(f"**{t('pn.district_month', lng, metric=metric_label(metric))}**")
            dm_tbl = zgrid.apply(lambda col: col.map(lambda v: "×" if pd.isna(v) else fmt(v)))
            dm_tbl.index = [dnames[a] for a in dm_tbl.index]
            show_table(dm_tbl.T.reset_index(names=t("pn.month", lng)), key="district_month_table")
        st.caption(t("pn.grey_hidden", lng, k=k))

# --- district profile -------------------------------------------------------------------------------
with tabs[3]:
    adcodes = list(districts()["adcode"])
    district = st.selectbox(t("pn.district", lng), adcodes, format_func=dnames.__getitem__, key="district")
    to_url(metric=metric, period=(start, end), age=age, sex=sex, marker=marker, district=district)
    prof = guard(lambda: views.profile(grant, district, start, end, age, sex), lng)
    table = pd.DataFrame({
        t("pn.metric", lng): [metric_label(m) for m in prof.index],
        dnames[district]: [fmt(v, m) if not h else reason_label(r) for m, v, h, r in
                           zip(prof.index, prof["district"], prof["district_suppressed"], prof["district_reason"], strict=True)],
        t("pn.city", lng): [fmt(v, m) if not h else "—" for m, v, h in zip(prof.index, prof["city"], prof["city_suppressed"], strict=True)],
        t("pn.rank", lng): [f"{int(r)} / {n}" if pd.notna(r) else "—" for r, n in zip(prof["rank"], prof["ranked_of"], strict=True)],
    })
    show_table(table, hide_index=True, width="stretch", key="profile_table", height=35 * (len(table) + 1) + 3)

# --- own facility (hospitals) ---------------------------------------------------------------------------
with tabs[4]:
    fac = guard(lambda: views.facility_comparison(grant), lng)
    if info["scope"].own_facility:
        st.caption(t("pn.own_note", lng))
        own_tbl = pd.DataFrame({
            t("pn.metric", lng): [metric_label(m) for m in fac.index],
            t("pn.own", lng): [fmt(v, m) if not h else "—" for m, v, h in zip(fac.index, fac["own"], fac["own_suppressed"], strict=True)],
            "P25": [fmt(v, m) for m, v in fac["p25"].items()], "P50": [fmt(v, m) for m, v in fac["median"].items()],
            "P75": [fmt(v, m) for m, v in fac["p75"].items()],
            t("pn.pct_rank", lng): fac["percentile_rank"].map(lambda v: "—" if pd.isna(v) else f"{v:.0f}"),
            t("pn.facilities_n", lng): fac["facilities"],
        })
        show_table(own_tbl, hide_index=True, width="stretch", key="own_table")
    ft = guard(lambda: views.facility_table(grant), lng)
    ft_show = pd.DataFrame({
        "ID": ft["facility_id"],
        t("pn.facility", lng): ft["name_zh"] if lng == "zh" else ft["name_en"],
        t("pn.n", lng): [str(v) if pd.notna(v) else reason_label(f) for v, f in zip(ft["cases"], ft["cases_flag"], strict=True)],
    })
    show_table(ft_show, hide_index=True, width="stretch", key="facility_table")

# --- table and download ----------------------------------------------------------------------------------
with tabs[5]:
    out = values.reset_index()
    out_show = pd.DataFrame({
        t("pn.district", lng): out["district"].map(dnames),
        metric_label(metric): [fmt(v) if not h else "—" for v, h in zip(out["value"], out["suppressed"], strict=True)],
        "n": [str(v) if (pd.notna(v) and not h) else "—" for v, h in zip(out["n"], out["suppressed"], strict=True)],
        t("pn.reason.secondary", lng).split("（")[0].split(" (")[0]: out["reason"].map(reason_label),
    })
    show_table(out_show, hide_index=True, width="stretch", key="shown_table")
    stem = f"pneumonia_{metric}_{start}_{end}_{age}_{sex}"
    download_button(t("pn.download", lng),
                    lambda: zipped(stem, *views.download(grant, metric, start, end, age, sex)),
                    f"{stem}.zip", "application/zip", key="dl_zip")

# --- about -------------------------------------------------------------------------------------------------
with tabs[6]:
    st.markdown(t("pn.about", lng, k1=k - 1))
    st.subheader(t("pn.cutoffs", lng))
    show_table(pd.DataFrame({t("pn.cutoff", lng): [cutoff_label(c) for c in CUTOFFS],
                             t("pn.cutoff_source", lng): [t(f"pn.cutoff_src.{c.id}", lng) for c in CUTOFFS]}),
                 hide_index=True, width="stretch", key="cutoff_table")

"""Tumor patients across Guangzhou's facilities (不同瘤种诊断的患者在广州医疗机构分布图谱).

Renders only: every figure comes from ``data_products.products.tumor.views`` (which asks the gate
and reads the approved release). Filters live in the URL (``?group=nasopharynx&period=2023``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboards import headline, ui
from dashboards.charts import (
    LEGEND_ROOM,
    MAP_HEIGHT,
    MAP_STYLE_URL,
    SUPPRESSED_COLOR,
    add_district_names,
    city_view,
    class_breaks,
    class_colors,
    classify,
    district_ranking,
)
from dashboards.ui import download_button, guard, lang, product_grant, show_table, synthetic_banner, zipped
from data_products.disclosure import ALL
from data_products.i18n import pick, t
from data_products.products.registry import product
from data_products.products.scope import PEER_RULE
from data_products.products.tumor import views
from data_products.products.tumor.spec import GROUP_BY_ID, GROUP_IDS, OUTSIDE, TIER_NAMES
from data_products.reference import district_geojson, districts

MESSAGES = {
    "tumor.other_codes": {"zh": "其余", "en": "other"},
    "tumor.hl.year": {"zh": "{period} 年患者数", "en": "Patients in {period}"},
    "tumor.hl.quarter": {"zh": "{period} 季度患者数", "en": "Patients in {period}"},
    "tumor.caption": {"zh": "2022–2024 年新确诊恶性肿瘤（ICD-10 C00–C97）患者，按确诊机构统计。",
                      "en": "Patients newly diagnosed with a malignant tumor (ICD-10 C00–C97), 2022–2024, by diagnosing facility."},
    "tumor.group": {"zh": "瘤种", "en": "Tumor type"},
    "tumor.period": {"zh": "时期", "en": "Period"},
    "tumor.all_groups": {"zh": "全部瘤种", "en": "All tumor types"},
    "tumor.all_periods": {"zh": "全部（2022–2024）", "en": "All (2022–2024)"},
    "tumor.total": {"zh": "患者数（全市，每年去重）", "en": "Patients (city, distinct per year)"},
    "tumor.nonres": {"zh": "市外患者占比", "en": "Patients living outside Guangzhou"},
    "tumor.nonres_table": {"zh": "市外患者（不计入各区外流比例）", "en": "Non-residents (not in any district's leaving share)"},
    "tumor.nonresident": {"zh": "市外患者数", "en": "Non-resident patients"},
    "tumor.c44": {"zh": "非黑色素瘤皮肤癌（C44，不计入合计）", "en": "Non-melanoma skin cancer (C44, not in the totals)"},
    "tumor.about": {"zh": "关于数据", "en": "About this data"},
    "tumor.about.text": {
        "zh": "**患者 = 每年去重的人**：同一人（按假名）一年内可在多家机构确诊或复诊，诊断记录不等于患者。"
              "本产品每人每个自然年只计一次，取其当年第一条诊断记录（最早日期）的机构、瘤种、季度、年龄和居住区；"
              "全期数字为各年相加（两个年份都确诊的人计两次）。本发布：诊断记录 {records:,} 条，对应人·年 {patients:,}（含 C44）。\n\n"
              "**居民与市外患者分开**：居住地不在广州的患者记为“市外”。“在户籍区外就诊比例”只以广州居民为分母"
              "（在本区就诊 + 在市内其他区就诊），市外患者另列人数与占比。\n\n"
              "**C44 单列**：非黑色素瘤皮肤癌常见、极少致死且登记不全，肿瘤登记通常不计入“全部恶性肿瘤”；"
              "本产品将其单独发布，不计入任何合计或排名。\n\n"
              "**小样本保护**：1 至 {k1} 的计数不显示，另有单元格被隐藏以防由合计、边际或其他表反推。",
        "en": "**Patients are people counted once a year**: the same person (pseudonym) may be diagnosed or seen again at "
              "several facilities in a year, so diagnosis records are not patients. Each person counts once per calendar "
              "year, on the first diagnosis record of that year (earliest date): its facility, tumor type, quarter, age and "
              "home district; whole-span figures add the years (a person diagnosed in two years counts twice). This "
              "release: {records:,} diagnosis records, {patients:,} person-years (C44 included).\n\n"
              "**Residents and non-residents apart**: patients living outside Guangzhou are 'outside'. The share "
              "\"treated outside the home district\" has residents only in its denominator (treated in their own district "
              "+ elsewhere in the city); non-residents are counted and shown apart.\n\n"
              "**C44 apart**: non-melanoma skin cancer is common, rarely fatal and unevenly recorded, so cancer registries "
              "usually leave it out of \"all cancers\"; it is released on its own and is in no total or ranking here.\n\n"
              "**Small-cell protection**: no count from 1 to {k1} is shown, and further cells are hidden so that none can "
              "be recovered from totals, margins or other tables.",
    },
    "tumor.top_share": {"zh": "前 5 家机构占比", "en": "Share in top 5 facilities"},
    "tumor.leave_share": {"zh": "居民在居住区外就诊比例", "en": "Residents treated outside home district"},
    "tumor.map": {"zh": "医疗机构分布（圆圈大小 = 患者数）", "en": "Facilities (circle size = patients)"},
    "tumor.ranking": {"zh": "各区医疗机构的患者数（排名）", "en": "Patients treated in each district's facilities, ranked"},
    "tumor.ranking_others": {"zh": "各区其他机构的患者数（区汇总，排名）",
                             "en": "Patients of the other facilities in each district (district totals), ranked"},
    "tumor.ranking_none": {"zh": "没有一个区的其他机构汇总满足区级汇总规则，因此不作排名（见下方本院与其他机构的分布）。",
                           "en": "No district's total of the other facilities passes the district-aggregate rule, so none "
                                 "is ranked (your facility beside the others' distribution is below)."},
    "tumor.city_mean": {"zh": "全市平均每区", "en": "City mean per district"},
    "tumor.ranking_note": {"zh": "虚线为全市患者数 ÷ {n} 个区。未发布的合计不画条形（不是 0）。",
                           "en": "The dashed line is the city's patients ÷ {n} districts. A total not released draws no "
                                 "bar (it is not 0)."},
    "tumor.classes_note": {"zh": "圆圈按患者数分为至多 5 级（分位数分级，图例标出各级范围），灰色为已隐藏的数字。",
                           "en": "Circles fall in up to 5 classes of patients (quantile classes, each range in the "
                                 "legend); grey ones are hidden figures."},
    "tumor.partial_note": {"zh": "“≥”：该区有机构的数字被隐藏，合计只含已发布的机构。",
                           "en": "\"≥\": a facility in that district is hidden, so its total holds the released ones only."},
    "tumor.suppressed": {"zh": "已抑制（<10 或可反推）", "en": "Suppressed (<10 or recoverable)"},
    "tumor.patients": {"zh": "患者数", "en": "Patients"},
    "tumor.top": {"zh": "患者最多的 5 家机构", "en": "Five facilities treating most patients"},
    "tumor.rank": {"zh": "排名", "en": "Rank"},
    "tumor.facility": {"zh": "机构", "en": "Facility"},
    "tumor.district": {"zh": "所在区", "en": "District"},
    "tumor.tier": {"zh": "机构类别", "en": "Facility tier"},
    "tumor.share": {"zh": "占比", "en": "Share"},
    "tumor.flows": {"zh": "患者流向：居住区 → 就诊机构所在区（2022–2024）",
                    "en": "Patient flows: home district → facility district (2022–2024)"},
    "tumor.flows_note": {"zh": "仅显示已发布（未抑制）的流向。", "en": "Only released (unsuppressed) flows are drawn."},
    "tumor.leaving": {"zh": "各区居民患者在本区以外就诊的比例", "en": "Share of each district's resident patients treated outside it"},
    "tumor.year": {"zh": "年份", "en": "Year"},
    "tumor.home": {"zh": "居住区", "en": "Home district"},
    "tumor.outside": {"zh": "广州市外", "en": "Outside Guangzhou"},
    "tumor.tiers": {"zh": "按机构类别", "en": "By facility tier"},
    "tumor.trend": {"zh": "年度趋势", "en": "Trend by year"},
    "tumor.age_sex": {"zh": "年龄与性别", "en": "Age and sex"},
    "tumor.male": {"zh": "男", "en": "Male"},
    "tumor.female": {"zh": "女", "en": "Female"},
    "tumor.table": {"zh": "机构明细", "en": "Facility table"},
    "tumor.download": {"zh": "下载本表（CSV 与元数据，zip；记入审计日志）",
                       "en": "Download this table (CSV and metadata, zip; recorded in the audit log)"},
    "tumor.scope_own": {"zh": "地图只标出本院；其他机构以所在区汇总（区中心的灰色圆圈）出现。",
                        "en": "The map marks your facility only; other facilities appear as district totals (grey circles "
                              "at each district's centre)."},
    "tumor.others": {"zh": "其他机构（区汇总）", "en": "Other facilities (district total)"},
    "tumor.others_in": {"zh": "{d}其他 {n} 家机构", "en": "{n} other facilities in {d}"},
    "tumor.others_hidden": {"zh": "未达汇总规则的区不显示：{d}", "en": "Districts below the aggregate rule are not shown: {d}"},
    "tumor.own_standing": {"zh": "本院与其他机构的分布", "en": "Your facility beside the distribution of the others"},
    "tumor.own": {"zh": "本院患者数", "en": "Your patients"},
    "tumor.pct_rank": {"zh": "百分位排名", "en": "Percentile rank"},
    "tumor.peers_n": {"zh": "其他机构数", "en": "Other facilities"},
    "tumor.too_few": {"zh": "其他机构不足，不显示分布。", "en": "Too few other facilities to show a distribution."},
    "tumor.row_own": {"zh": "本院", "en": "Your facility"},
    "tumor.other_districts": {"zh": "其他区（合并）", "en": "Other districts (combined)"},
    "tumor.release": {"zh": "发布版本 {rid}，批准人 {by}，{at}", "en": "Release {rid}, approved by {by} at {at}"},
    "tumor.quarter_note": {"zh": "按类别、年龄、性别的统计按年发布；所选季度显示其所在年份。",
                           "en": "Tier, age and sex figures are released by year; a quarter shows its year."},
}

# Years are whole numbers: one tick per year ("2022", never "2,022.5"), counts and shares from 0.
_YEAR_AXES = {"xaxis": {"dtick": 1, "tickformat": "d"}, "yaxis": {"rangemode": "tozero"}}
_PCT = "%.1f%%"

TIER_COLORS = {"tertiary_cancer": "#c0392b", "tertiary_general": "#2e86c1", "secondary_general": "#27ae60"}
OTHERS_COLOR = "#8e8e8e"
OWN_COLOR = "#c0392b"


lng = lang()
grant = product_grant(views.PRODUCT_ID, lng)
available = guard(lambda: views.periods(grant), lng)
info = guard(lambda: views.release_info(grant), lng)

st.title(product(views.PRODUCT_ID).name(lng))
synthetic_banner(lng)
st.caption(t("tumor.caption", lng))

# Headline: the latest year and quarter, each against the one before (all tumour groups, the user's scope).
_years, _quarters = available["years"], available["quarters"]
_figs, _now, _before = [], [], []
for _periods, _key in ((_years, "tumor.hl.year"), (_quarters, "tumor.hl.quarter")):
    if _periods:
        _p, _pp = _periods[-1], (_periods[-2] if len(_periods) > 1 else None)
        _figs.append(headline.Figure(t(_key, lng, period=_p), guard(lambda p=_p: views.city_total(grant, ALL, p), lng),
                                     "count", views.city_total(grant, ALL, _pp) if _pp else None, vs=_pp))
        _now.append(_p)
        _before += [_pp] if _pp else []
if _figs:
    headline.show(_figs, lng, period=" / ".join(_now), previous=" / ".join(_before) or None,
                  updated=headline.updated_at(info))

dist = districts().set_index("adcode")
dname = {a: pick(lng, r["name_zh"], r["name_en"]) for a, r in dist.iterrows()}
dname[OUTSIDE] = t("tumor.outside", lng)
dname[ALL] = pick(lng, "全市", "City")


def group_label(g: str) -> str:
    if g == ALL:
        return t("tumor.all_groups", lng)
    spec = GROUP_BY_ID[g]
    codes = spec.icd10.replace("other ", t("tumor.other_codes", lng) + " ") if spec.icd10.startswith("other ") else spec.icd10
    return f"{pick(lng, spec.name_zh, spec.name_en)} ({codes})"


def tier_label(tier: str) -> str:
    zh, en = TIER_NAMES[tier]
    return pick(lng, zh, en)


groups = [ALL, *GROUP_IDS]
period_options = [ALL, *available["years"], *available["quarters"]]
q_group = st.query_params.get("group", ALL)
q_period = st.query_params.get("period", ALL)
c1, c2 = st.columns(2)
group = c1.selectbox(t("tumor.group", lng), groups, index=groups.index(q_group) if q_group in groups else 0,
                     format_func=group_label, key="tumor_group")
period = c2.selectbox(t("tumor.period", lng), period_options,
                      index=period_options.index(q_period) if q_period in period_options else 0,
                      format_func=lambda p: t("tumor.all_periods", lng) if p == ALL else p, key="tumor_period")
if (st.query_params.get("group"), st.query_params.get("period")) != (group, period):
    st.query_params["group"] = group  # always in the URL, defaults too: a copied link names the whole view
    st.query_params["period"] = period

year = period if period == ALL else period[:4]
fac = views.facilities_view(grant, group, period)
top = views.top_facilities(grant, group, period)
total = views.city_total(grant, group, period)
leave = views.leaving(grant, group)
scope = info["scope"]
if scope.facility_names != "all":
    st.caption(t("tumor.scope_own", lng) + " " + PEER_RULE[lng])
# For the commission the same sums over every released facility; for a hospital, over the others only.
others = views.district_aggregates(grant, group, period)

nonres = views.nonresidents(grant, group)
skin = views.c44(grant, year)
m1, m2, m3, m4 = st.columns(4)
m1.metric(t("tumor.total", lng), f"{total:,}" if total is not None else "—")
if scope.facility_names == "all":
    m2.metric(t("tumor.top_share", lng), f"{top[views.MEASURE].sum() / total:.1%}" if total and len(top) == 5 else "—")
else:
    standing = views.own_standing(grant, group, period)
    m2.metric(t("tumor.own", lng), "—" if standing["own_suppressed"] else f"{int(standing['own']):,}")
city_leave = leave[(leave["home_district"] == ALL) & (leave["year"] == year)]
m3.metric(t("tumor.leave_share", lng),
          f"{city_leave['share_leaving'].iloc[0]:.1%}" if len(city_leave) and not city_leave["suppressed"].iloc[0] else "—")
city_non = nonres[nonres["year"] == year]
m4.metric(t("tumor.nonres", lng),
          f"{city_non['share'].iloc[0]:.1%}" if len(city_non) and not city_non["suppressed"].iloc[0] else "—")
st.caption(f"{t('tumor.c44', lng)}: {skin['patients']:,}" if skin["patients"] is not None
           else f"{t('tumor.c44', lng)}: {t('tumor.suppressed', lng)}")

# --- map and the districts ranked ----------------------------------------------------------------
st.subheader(t("tumor.map", lng))
geo = district_geojson()
fig = go.Figure()
shown = fac[~fac["suppressed"]]
hidden = fac[fac["suppressed"]]
agg = others[others["shown"]]
# One size scale for every circle drawn: the facilities, and for a hospital the district totals beside its own.
drawn = [*shown[views.MEASURE].astype(float), *(agg[views.MEASURE].astype(float) if scope.facility_names != "all" else [])]
biggest = max([1.0, *drawn])


def _size(n: np.ndarray) -> np.ndarray:
    return 8 + 42 * np.sqrt(n / biggest)  # area follows patients, one scale for every circle on the map


def _facility_text(part: pd.DataFrame) -> list[str]:
    return [f"{pick(lng, a, b)}<br>{dname[d]} · {tier_label(k)}<br>{t('tumor.patients', lng)}: {int(v):,}"
            for a, b, d, k, v in zip(part["name_zh"], part["name_en"], part["district"], part["tier"],
                                     part[views.MEASURE], strict=True)]


def _fmt_count(v: float) -> str:
    return f"{v:,.0f}"


if scope.facility_names == "all":
    # Classed, as the atlas maps: a few quantile classes of patients, each labelled with its range, so a
    # circle's class is read off the legend rather than guessed from its size; hidden counts apart in grey.
    breaks = class_breaks(shown[views.MEASURE])
    cls = classify(shown[views.MEASURE].astype(float), breaks)
    for i, color in enumerate(class_colors(len(breaks) - 1, "YlOrRd") if breaks else []):
        part = shown[cls == i]
        fig.add_trace(go.Scattermap(
            lon=part["lon"].tolist(), lat=part["lat"].tolist(), mode="markers",
            marker={"size": _size(part[views.MEASURE].astype(float).to_numpy()), "color": color, "opacity": 0.85,
                    "sizemode": "diameter"},
            text=_facility_text(part), hoverinfo="text", customdata=part["facility_id"].tolist(),
            name=f"{_fmt_count(breaks[i])} – {_fmt_count(breaks[i + 1])}", legendrank=i,
        ))
else:
    # A hospital's own facility is the one circle it may see by name; the others are district totals.
    fig.add_trace(go.Scattermap(
        lon=shown["lon"].tolist(), lat=shown["lat"].tolist(), mode="markers",
        marker={"size": _size(shown[views.MEASURE].astype(float).to_numpy()), "color": OWN_COLOR, "opacity": 0.9,
                "sizemode": "diameter"},
        text=_facility_text(shown), hoverinfo="text", name=t("tumor.row_own", lng),
        customdata=shown["facility_id"].tolist(), legendrank=0,
    ))
    n_agg = agg[views.MEASURE].astype(float).to_numpy()
    fig.add_trace(go.Scattermap(
        lon=agg["lon"].tolist(), lat=agg["lat"].tolist(), mode="markers",
        marker={"size": _size(n_agg), "color": OTHERS_COLOR, "opacity": 0.55, "sizemode": "diameter"},
        text=[f"{t('tumor.others_in', lng, d=dname[d], n=k)}<br>{t('tumor.patients', lng)}: {int(v):,}"
              for d, k, v in zip(agg["district"], agg["facilities"], n_agg, strict=True)],
        hoverinfo="text", name=t("tumor.others", lng), legendrank=1,
    ))
if len(hidden):
    fig.add_trace(go.Scattermap(
        lon=hidden["lon"].tolist(), lat=hidden["lat"].tolist(), mode="markers",
        marker={"size": 9, "color": SUPPRESSED_COLOR, "opacity": 0.9},
        text=[f"{pick(lng, a, b)}<br>{t('tumor.suppressed', lng)}" for a, b in zip(hidden["name_zh"], hidden["name_en"], strict=True)],
        hoverinfo="text", name=t("tumor.suppressed", lng), customdata=hidden["facility_id"].tolist(), legendrank=99,
    ))
# The names last, so they stand above the circles.
add_district_names(fig, pd.Series({a: dname[a] for a in dist.index}))
fig.update_layout(
    # Fitted to the city's bounds (the atlas maps' view): the whole city on a 390 px phone, legend below it.
    map={"style": MAP_STYLE_URL, **city_view(MAP_HEIGHT - LEGEND_ROOM),
         "layers": [{"source": geo, "type": "fill", "color": "#f1f3f5", "below": "traces"},
                    {"source": geo, "type": "line", "color": "#7f8c8d", "line": {"width": 1.2}}]},
    margin={"l": 0, "r": 0, "t": 0, "b": 0}, height=MAP_HEIGHT,
    legend={"orientation": "h", "yanchor": "top", "y": -0.01, "xanchor": "left", "x": 0.0,
            "title": {"text": t("tumor.patients", lng)}},
)
# Patients treated in each district's facilities, ranked: the commission's sums every released facility (a
# district holding a hidden facility reads "≥"); a hospital's are the district totals of the other facilities
# that pass the aggregate rule, so the ranking names no peer. A hidden total is no bar, never a zero.
ranked = agg.set_index("district")[[views.MEASURE]].astype({views.MEASURE: "Float64"}).astype(float)
partial = set(hidden["district"]) if scope.facility_names == "all" else set()
ranked_text = pd.Series({d: ("≥ " if d in partial else "") + _fmt_count(v) for d, v in ranked[views.MEASURE].items()},
                        dtype=object)
city_mean = total / len(dist) if total is not None else None
m_col, r_col = st.columns([3, 2])
with m_col:
    ui.chart(fig, key="tumor_map", grant=grant, name=f"tumor_map_{group}_{period}", lng=lng)
with r_col:
    st.markdown(f"**{t('tumor.ranking' if scope.facility_names == 'all' else 'tumor.ranking_others', lng)}**")
    if ranked[views.MEASURE].notna().any():
        ui.chart(district_ranking(ranked, value=views.MEASURE, names=pd.Series(dname), label=t("tumor.patients", lng),
                                  city=city_mean, city_label=t("tumor.city_mean", lng), fmt=_fmt_count,
                                  text=ranked_text),
                 key="tumor_rank", grant=grant, name=f"tumor_ranking_{group}_{period}", lng=lng)
        st.caption(t("tumor.ranking_note", lng, n=len(dist)) +
                   (" " + t("tumor.partial_note", lng) if partial & set(ranked.index) else ""))
    else:
        st.info(t("tumor.ranking_none", lng))
if scope.facility_names == "all":
    st.caption(t("tumor.classes_note", lng))

# --- top facilities (commission) or the own facility's standing (hospital) ---------------------------
if scope.facility_names == "all":
    st.subheader(f"{t('tumor.top', lng)} · {group_label(group)}")
    show_table(pd.DataFrame({
        t("tumor.rank", lng): top["rank"],
        t("tumor.facility", lng): [pick(lng, a, b) for a, b in zip(top["name_zh"], top["name_en"], strict=True)],
        t("tumor.district", lng): top["district"].map(dname),
        t("tumor.tier", lng): top["tier"].map(tier_label),
        t("tumor.patients", lng): top[views.MEASURE].astype(int),
        t("tumor.share", lng): (100 * top["share"]).round(1),
    }), decimals=1, column_config={t("tumor.share", lng): st.column_config.NumberColumn(format=_PCT)})
else:
    st.subheader(f"{t('tumor.own_standing', lng)} · {group_label(group)}")
    if pd.isna(standing["median"]):
        st.info(t("tumor.too_few", lng))
    show_table(pd.DataFrame([{
        t("tumor.own", lng): "—" if standing["own_suppressed"] else f"{int(standing['own']):,}",
        "P25": "—" if pd.isna(standing["p25"]) else f"{standing['p25']:,.0f}",
        "P50": "—" if pd.isna(standing["median"]) else f"{standing['median']:,.0f}",
        "P75": "—" if pd.isna(standing["p75"]) else f"{standing['p75']:,.0f}",
        t("tumor.pct_rank", lng): "—" if pd.isna(standing["percentile_rank"]) else f"{standing['percentile_rank']:.0f}",
        t("tumor.peers_n", lng): standing["peers"],
    }]))

# --- flows and leaving share ---------------------------------------------------------------------
st.subheader(t("tumor.flows", lng))
fl = views.flows(grant, group)
fl = fl[~fl["suppressed"]]
homes = sorted(fl["home_district"].unique(), key=lambda a: (a == OUTSIDE, a))
targets = sorted(fl["facility_district"].unique())
dname[views.OTHER_DISTRICTS] = t("tumor.other_districts", lng)
labels = [dname[h] for h in homes] + [f"→ {dname[d]}" for d in targets]
src = [homes.index(h) for h in fl["home_district"]]
dst = [len(homes) + targets.index(d) for d in fl["facility_district"]]
sankey = go.Figure(go.Sankey(
    node={"label": labels, "pad": 12, "thickness": 14},
    link={"source": src, "target": dst, "value": fl[views.MEASURE].astype(int).tolist()},
))
sankey.update_layout(height=620, margin={"l": 10, "r": 10, "t": 10, "b": 10})
ui.chart(sankey, key="tumor_sankey", grant=grant, name=f"tumor_flows_{group}", lng=lng)
st.caption(t("tumor.flows_note", lng))

st.subheader(t("tumor.leaving", lng))
lv = leave[(leave["home_district"] != ALL)].copy()
lv["pct"] = (100 * lv["share_leaving"]).round(1)
table = lv.pivot(index="home_district", columns="year", values="pct")
table.index = [dname[a] for a in table.index]
table.columns = [t("tumor.all_periods", lng) if c == ALL else c for c in table.columns]
show_table(table, hide_index=False, decimals=1,
           column_config={c: st.column_config.NumberColumn(format=_PCT) for c in table.columns})
by_year = lv[lv["year"] != ALL]
line = go.Figure()
for home, g in by_year.groupby("home_district"):
    line.add_trace(go.Scatter(x=g["year"].astype(int).tolist(), y=g["pct"], mode="lines+markers", name=dname[home]))
line.update_layout(height=360, yaxis_title="%", xaxis_title=t("tumor.year", lng), margin={"t": 10}, **_YEAR_AXES)
line.update_yaxes(ticksuffix="%")
ui.chart(line, key="tumor_leaving", grant=grant, name=f"tumor_leaving_{group}", lng=lng)
st.caption(t("tumor.nonres_table", lng))
show_table(pd.DataFrame({
    t("tumor.year", lng): [t("tumor.all_periods", lng) if y == ALL else y for y in nonres["year"]],
    t("tumor.nonresident", lng): nonres["nonresident"].astype(object).where(~nonres["suppressed"], "—"),
    t("tumor.patients", lng): nonres["patients"].astype(object).where(nonres["patients"].notna(), "—"),
    t("tumor.share", lng): (100 * nonres["share"]).round(1),
}), hide_index=True, width="stretch", key="tumor_nonres",
    column_config={t("tumor.share", lng): st.column_config.NumberColumn(format=_PCT)})

# --- tiers, trend, age/sex -----------------------------------------------------------------------
c1, c2 = st.columns(2)
with c1:
    st.subheader(t("tumor.tiers", lng))
    if period not in (ALL, *available["years"]):
        st.caption(t("tumor.quarter_note", lng))
    ts = views.tier_split(grant, group, year)
    # A hidden count is not a zero: no bar, and a blank in the chart's CSV.
    bar = go.Figure(go.Bar(x=[tier_label(x) for x in ts["tier"]], y=ts[views.MEASURE].astype(float),
                           marker_color=[TIER_COLORS[x] if not s else SUPPRESSED_COLOR
                                         for x, s in zip(ts["tier"], ts["suppressed"], strict=True)]))
    bar.update_layout(height=320, margin={"t": 10}, yaxis_title=t("tumor.patients", lng))
    ui.chart(bar, key="tumor_tiers", grant=grant, name=f"tumor_tiers_{group}_{year}", lng=lng)
with c2:
    st.subheader(t("tumor.trend", lng))
    # Yearly only: the quarterly line looked like the year's total ÷ 4 and was read as a trend (issue 15);
    # the axis starts at 0 so that a few percent does not look like a doubling.
    ty = views.trend(grant, group, by="year")
    tr = go.Figure()
    tr.add_trace(go.Scatter(x=ty["period"].astype(int).tolist(), y=ty[views.MEASURE].astype("Float64"),
                            mode="lines+markers", name=t("tumor.patients", lng)))
    tr.update_layout(height=320, margin={"t": 10}, yaxis_title=t("tumor.patients", lng), **_YEAR_AXES)
    ui.chart(tr, key="tumor_trend", grant=grant, name=f"tumor_trend_{group}", lng=lng)
    show_table(ty.assign(period=ty["period"]).rename(columns={"period": t("tumor.year", lng),
                                                                 views.MEASURE: t("tumor.patients", lng)})
                 [[t("tumor.year", lng), t("tumor.patients", lng)]], hide_index=True, width="stretch")

st.subheader(t("tumor.age_sex", lng))
ag = views.age_sex(grant, group, year)
pyr = go.Figure()
for sex, label in (("M", t("tumor.male", lng)), ("F", t("tumor.female", lng))):
    part = ag[ag["sex"] == sex]
    pyr.add_trace(go.Bar(x=part["age_band"], y=part[views.MEASURE].astype(float), name=label))  # hidden: no bar
pyr.update_layout(barmode="group", height=320, margin={"t": 10}, yaxis_title=t("tumor.patients", lng))
ui.chart(pyr, key="tumor_age_sex", grant=grant, name=f"tumor_age_sex_{group}_{year}", lng=lng)

# --- table and download --------------------------------------------------------------------------
st.subheader(t("tumor.table", lng))
rows = pd.DataFrame({
    t("tumor.facility", lng): [pick(lng, a, b) for a, b in zip(fac["name_zh"], fac["name_en"], strict=True)],
    t("tumor.district", lng): fac["district"].map(dname),
    t("tumor.tier", lng): fac["tier"].map(tier_label),
    t("tumor.patients", lng): [f"{int(v):,}" if not h else t("tumor.suppressed", lng)
                               for v, h in zip(fac[views.MEASURE], fac["suppressed"], strict=True)],
})
if scope.facility_names != "all":
    agg = others[others["shown"]]
    rows = pd.concat([rows, pd.DataFrame({
        t("tumor.facility", lng): [t("tumor.others_in", lng, d=dname[d], n=k) for d, k in
                                   zip(agg["district"], agg["facilities"], strict=True)],
        t("tumor.district", lng): agg["district"].map(dname),
        t("tumor.tier", lng): "—",
        t("tumor.patients", lng): [f"{int(v):,}" for v in agg[views.MEASURE]],
    })], ignore_index=True)
    unshown = others.loc[~others["shown"], "district"].map(dname).tolist()
    if unshown:
        st.caption(t("tumor.others_hidden", lng, d="、".join(unshown) if lng == "zh" else ", ".join(unshown)))
show_table(rows)
stem = f"tumor_{group}_{period}"
download_button(t("tumor.download", lng), lambda: zipped(stem, *views.download(grant, group, period)),
                f"{stem}.zip", "application/zip", key="tumor_zip")
st.caption(t("tumor.release", lng, rid=info["release_id"], by=info["approval"].get("approved_by", "—"),
             at=info["approval"].get("approved_at", "—")))

with st.expander(t("tumor.about", lng)):
    counts = info["meta"].get("counts", {})
    st.markdown(t("tumor.about.text", lng, records=int(counts.get("diagnosis_records", 0)),
                  patients=int(counts.get("patient_years", 0)), k1=int(info["meta"].get("min_cell") or 10) - 1))

"""Primary-care elderly body-weight atlas: BMI categories of residents 65+ by district, age band and sex."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from dashboards import headline, ui
from dashboards.charts import class_breaks, district_choropleth, district_ranking
from dashboards.ui import download_button, guard, lang, product_grant, show_table, synthetic_banner, zipped
from data_products.disclosure import ALL
from data_products.i18n import pick, t
from data_products.products.elderly_weight import views
from data_products.products.elderly_weight.spec import (
    AGE_BANDS,
    CATEGORY_EN,
    CATEGORY_ZH,
    OLDER_EN,
    OLDER_ZH,
    SCHEMES,
)
from data_products.products.intervals import add_intervals
from data_products.products.registry import product
from data_products.reference import districts

MESSAGES = {
    "ew.count": {"zh": "人数", "en": "People"},
    "ew.reason": {"zh": "隐藏原因", "en": "Why hidden"},
    "ew.reason.primary": {"zh": "人数少于最小单元", "en": "count below the minimum cell"},
    "ew.reason.secondary": {"zh": "为防推算而隐藏", "en": "hidden so no other cell can be recovered"},
    "ew.hl.measured": {"zh": "测量人数", "en": "People measured"},
    "ew.hl.share": {"zh": "{cat}占比", "en": "Share {cat}"},
    "ew.caption": {"zh": "社区卫生服务中心为65岁及以上居民体检测得的BMI分类（中国标准：<18.5 过低，18.5–23.9 正常，24–27.9 超重，≥28 肥胖）。",
                   "en": "BMI categories of residents 65+ measured at community health centres (Chinese cut-offs: <18.5 under, "
                         "18.5–23.9 normal, 24–27.9 overweight, ≥28 obese)."},
    "ew.category": {"zh": "BMI 分类", "en": "BMI category"},
    "ew.centre": {"zh": "社区卫生服务中心", "en": "Community health centre"},
    "ew.age_band": {"zh": "年龄组", "en": "Age band"},
    "ew.sex": {"zh": "性别", "en": "Sex"},
    "ew.all": {"zh": "全部", "en": "All"},
    "ew.M": {"zh": "男", "en": "Men"},
    "ew.F": {"zh": "女", "en": "Women"},
    "ew.share": {"zh": "占比 (%)", "en": "Share (%)"},
    "ew.classes_note": {"zh": "颜色分级为所示各区占比的五分位（按两位有效数字取整）；灰色为已抑制。",
                        "en": "Colour classes are quintiles of the districts' shares (edges rounded to two significant "
                              "figures); grey is suppressed."},
    "ew.interval_note": {"zh": "虚线为全市；横线为 95% Wilson 置信区间。",
                         "en": "Dashed line: Guangzhou; whiskers are 95% Wilson intervals."},
    "ew.suppressed": {"zh": "已抑制（小样本保护）", "en": "Suppressed (small-cell protection)"},
    "ew.city": {"zh": "全市", "en": "City"},
    "ew.measured": {"zh": "测量人数", "en": "Measured residents"},
    "ew.by_age": {"zh": "按年龄组", "en": "By age band"},
    "ew.by_sex": {"zh": "按性别", "en": "By sex"},
    "ew.table": {"zh": "各区数值", "en": "District values"},
    "ew.district": {"zh": "区", "en": "District"},
    "ew.centres": {"zh": "社区卫生服务中心", "en": "Community health centres"},
    "ew.download": {"zh": "下载本表（CSV 与元数据，zip）", "en": "Download this table (CSV and metadata, zip)"},
    "ew.release": {"zh": "发布版本 {rid}，{by} 于 {at} 批准", "en": "Release {rid}, approved by {by} at {at}"},
    "ew.scheme": {"zh": "分类标准", "en": "Classification"},
    "ew.scheme.adult": {"zh": "成人标准（WS/T 428-2013）", "en": "Adult cut-offs (WS/T 428-2013)"},
    "ew.scheme.older": {"zh": "老年人适宜范围（65–79 岁 20.0–26.9；80 岁及以上 22.0–26.9）",
                        "en": "Older-adult range (65–79: 20.0–26.9; 80+: 22.0–26.9)"},
    "ew.about": {"zh": "关于数据", "en": "About this data"},
    "ew.about.text": {
        "zh": "**测量对象**：社区卫生服务中心老年人健康管理中测得身高和体重的65岁及以上居民（合成数据）；身高或体重缺失者不计入。\n\n"
              "**成人分类**：WS/T 428-2013《成人体重判定》：BMI <18.5 体重过低，18.5–23.9 正常，24.0–27.9 超重，≥28.0 肥胖。\n\n"
              "**老年人分类（并列提供）**：老年人身高随年龄缩短、体脂比例上升，中国指南对老年人建议的适宜范围与成人不同："
              "《中国居民膳食指南（2022）》老年人膳食指南建议65–79岁保持 BMI 20.0–26.9；卫生行业标准 WS/T 868-2025"
              "《高龄老年人体质指数适宜范围与体重管理标准》（2026年2月1日起实施）推荐80岁及以上 22.0–26.9。"
              "这些范围据国家卫生健康委和中国营养学会的公开发布核对，未核对标准和指南全文；两种分类针对同一批测量，互不替代。\n\n"
              "**临界值处的精确计算**：分类不比较浮点数的 BMI 商。身高和体重按记录值（精确到 0.01 cm、0.01 kg）取整数 H、W，"
              "以整数比较 10⁷·W ≥ 10·临界值·H²。因此 BMI 恰好等于临界值时归入上一档：160.0 cm、61.44 kg 的 BMI 恰为 24.0，归为超重"
              "（浮点计算得 23.999999999999993，会被误归为正常）。\n\n"
              "**小样本保护**：1 至 {k1} 的计数不显示，另有单元格被隐藏以防由合计反推；两种分类的合计相同，这一关系也在保护之内。占比只用已发布的计数。",
        "en": "**Who is measured**: residents aged 65+ whose height and weight were measured at a community health centre "
              "in the annual older-adult health check (synthetic data); anyone with height or weight missing is left out.\n\n"
              "**Adult classification**: WS/T 428-2013: BMI <18.5 underweight, 18.5–23.9 normal, 24.0–27.9 overweight, "
              "≥28.0 obese.\n\n"
              "**Older-adult classification (beside it)**: older people lose height and gain body fat, and Chinese guidance "
              "gives them a different suitable range: the Chinese Dietary Guidelines 2022 (older-adult section) advise BMI "
              "20.0–26.9 at ages 65–79; the health commission's standard WS/T 868-2025 (in force since 1 February 2026) recommends "
              "22.0–26.9 at 80+. These ranges were checked against the commission's and the Nutrition Society's public "
              "announcements, not against the full texts. Both classifications count the same measurements; neither replaces the other.\n\n"
              "**Exact at the cut-offs**: no floating-point BMI quotient is compared. Height and weight as recorded (to "
              "0.01 cm and 0.01 kg) become integers H and W, and 10⁷·W ≥ 10·cut-off·H² is tested in integers. A BMI exactly "
              "at a cut-off falls in the upper class: 160.0 cm with 61.44 kg is BMI 24.0 exactly, overweight (floating "
              "point gives 23.999999999999993 and would call it normal).\n\n"
              "**Small-cell protection**: no count from 1 to {k1} is shown, and further cells are hidden so that none can "
              "be recovered from totals; both classifications share their totals, and that relation is protected too. "
              "Shares use released counts only.",
    },
}

lng = lang()
grant = product_grant(views.PRODUCT_ID, lng)
st.title(product(views.PRODUCT_ID).name(lng))
synthetic_banner(lng)
info = guard(lambda: views.release_info(grant), lng)
st.caption(t("ew.caption", lng))
st.caption(t("ew.release", lng, rid=info["release_id"], by=info["approval"].get("approved_by"),
             at=headline.beijing(info["approval"].get("approved_at"))))

# Headline: the city over everyone measured in the release (one period: the release's whole span).
_city = {c: guard(lambda c=c: views.district_values(grant, c, ALL, ALL, "adult"), lng).loc[ALL]
         for c in ("underweight", "obese")}
_measured = _city["obese"]["measured"]
headline.show([
    headline.Figure(t("ew.hl.measured", lng), None if pd.isna(_measured) else int(_measured), "count"),
    *[headline.Figure(t("ew.hl.share", lng, cat=pick(lng, CATEGORY_ZH[c], CATEGORY_EN[c])),
                      None if r["suppressed"] else r["share"], "share") for c, r in _city.items()],
], lng, period=" – ".join(info["meta"].get("time_span", [])), previous=None, updated=headline.updated_at(info))

qp = st.query_params
scheme = qp.get("scheme") if qp.get("scheme") in SCHEMES else "adult"
scheme = st.radio(t("ew.scheme", lng), SCHEMES, index=SCHEMES.index(scheme), horizontal=True,
                  format_func=lambda s: t(f"ew.scheme.{s}", lng), key="ew_scheme")
CATEGORIES = views.SCHEME_CATEGORIES[scheme]
_names_zh, _names_en = (CATEGORY_ZH, CATEGORY_EN) if scheme == "adult" else (OLDER_ZH, OLDER_EN)
cat_label = lambda c: pick(lng, _names_zh[c], _names_en[c])  # noqa: E731
default = "obese" if scheme == "adult" else "below_range"
category = qp.get("cat") if qp.get("cat") in CATEGORIES else default
band = qp.get("age") if qp.get("age") in (ALL, *AGE_BANDS) else ALL
sex = qp.get("sex") if qp.get("sex") in (ALL, "M", "F") else ALL

c1, c2, c3 = st.columns(3)
category = c1.selectbox(t("ew.category", lng), CATEGORIES, index=CATEGORIES.index(category), format_func=cat_label,
                        key="ew_cat")
bands = (ALL, *AGE_BANDS)
band = c2.selectbox(t("ew.age_band", lng), bands, index=bands.index(band),
                    format_func=lambda b: t("ew.all", lng) if b == ALL else b, key="ew_age")
sexes = (ALL, "M", "F")
sex = c3.selectbox(t("ew.sex", lng), sexes, index=sexes.index(sex),
                   format_func=lambda s: t("ew.all", lng) if s == ALL else t(f"ew.{s}", lng), key="ew_sex")
qp["scheme"], qp["cat"], qp["age"], qp["sex"] = scheme, category, band, sex

values = guard(lambda: views.district_values(grant, category, band, sex, scheme), lng)
d = districts().set_index("adcode")
names = d.apply(lambda r: pick(lng, r["name_zh"], r["name_en"]), axis=1)
shown = values.drop(index=ALL)
hover = shown.apply(lambda r: f"{r['share']:.1f}%" if r["share"] == r["share"] else t("ew.suppressed", lng), axis=1)
pct = lambda v: f"{v:.1f}%"  # noqa: E731
breaks = class_breaks(shown.loc[~shown["suppressed"], "share"])
fig = district_choropleth(shown, value="share", label=t("ew.share", lng), names=names, hover_text=hover,
                          suppressed=shown["suppressed"], suppressed_label=t("ew.suppressed", lng), colorscale="YlOrRd",
                          breaks=breaks, fmt=pct)
left, right = st.columns([3, 2])
view = f"{scheme}_{category}_{band}_{sex}"
ui.chart(fig, key="ew_map", container=left, grant=grant, name=f"elderly_weight_map_{view}", lng=lng)
left.caption(t("ew.classes_note", lng))
city = values.loc[ALL]
right.metric(f"{t('ew.city', lng)} · {cat_label(category)}",
             "—" if city["suppressed"] else f"{city['share']:.1f}%",
             help=f"{t('ew.measured', lng)}: {city['measured']}")
ranked = add_intervals(shown[~shown["suppressed"]].rename(columns={"share": "value", "measured": "n"}), "share")
ui.chart(district_ranking(ranked, value="value", names=names, label=t("ew.share", lng),
                          city=None if city["suppressed"] else city["share"], city_label=t("ew.city", lng),
                          lo="lo", hi="hi", breaks=breaks, fmt=pct),
         key="ew_rank", container=right, grant=grant, name=f"elderly_weight_ranking_{view}", lng=lng)
right.caption(t("ew.interval_note", lng))
table = shown.assign(district=names.reindex(shown.index))[["district", "count", "measured", "share", "reason"]]
table["reason"] = table["reason"].map(lambda r: t(f"ew.reason.{r}", lng) if r else "")
with right:
    show_table(table.rename(columns={"district": t("ew.district", lng), "measured": t("ew.measured", lng),
                                     "share": t("ew.share", lng), "count": t("ew.count", lng),
                                     "reason": t("ew.reason", lng)}),
               key="ew_districts", column_config={t("ew.share", lng): st.column_config.NumberColumn(format="%.1f")})

district_choice = ALL
for by, title in (("age_band", "ew.by_age"), ("sex", "ew.by_sex")):
    st.subheader(t(title, lng))
    frame = guard(lambda by=by: views.breakdown(grant, by, district_choice, scheme), lng)
    frame["label"] = frame["category"].map(cat_label)
    if by == "sex":
        frame["sex"] = frame["sex"].map(lambda s: t(f"ew.{s}", lng))
    chart = px.bar(frame, x=by, y="share", color="label", barmode="stack",
                   category_orders={"label": [cat_label(c) for c in CATEGORIES]},
                   # An ordered scale: thin, normal, heavy, heavier reads in sequence, not as four unrelated hues.
                   color_discrete_sequence=(["#9ecae1", "#74c476", "#fd8d3c", "#d94801"] if scheme == "adult"
                                            else ["#9ecae1", "#74c476", "#fd8d3c"]),
                   labels={"share": t("ew.share", lng), by: t(f"ew.{by}", lng), "label": t("ew.category", lng)})
    chart.update_layout(height=320, margin={"l": 0, "r": 0, "t": 10, "b": 0})
    ui.chart(chart, key=f"ew_chart_{by}", grant=grant, name=f"elderly_weight_{scheme}_by_{by}", lng=lng)

st.subheader(t("ew.centres", lng))
centres = guard(lambda: views.facility_table(grant, scheme), lng)
centres = centres.assign(name=centres["name_zh"] if lng == "zh" else centres["name_en"])
share_cols = [f"{c}_share" for c in CATEGORIES]
show_table(
    centres[["name", "measured", *share_cols]].rename(
        columns={"name": t("ew.centre", lng), "measured": t("ew.measured", lng),
                 **{f"{c}_share": f"{cat_label(c)} (%)" for c in CATEGORIES}}),
    hide_index=True, width="stretch",
    column_config={f"{cat_label(c)} (%)": st.column_config.NumberColumn(format="%.1f") for c in CATEGORIES},
)

stem = f"elderly_weight_{scheme}_{category}_{band}_{sex}"
download_button(t("ew.download", lng), lambda: zipped(stem, *views.download(grant, category, band, sex, scheme)),
                f"{stem}.zip", "application/zip", key="ew_dl")

with st.expander(t("ew.about", lng)):
    st.markdown(t("ew.about.text", lng, k1=int(info["meta"].get("min_cell") or 10) - 1))

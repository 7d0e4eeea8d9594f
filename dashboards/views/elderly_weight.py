"""Primary-care elderly body-weight atlas: BMI categories of residents 65+ by district, age band and sex."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from dashboards.charts import district_choropleth
from dashboards.ui import guard, lang, require_principal, synthetic_banner
from data_products.disclosure import ALL
from data_products.i18n import pick, register, t
from data_products.products.elderly_weight import views
from data_products.products.elderly_weight.spec import AGE_BANDS, CATEGORIES, CATEGORY_EN, CATEGORY_ZH
from data_products.reference import districts

register({
    "ew.title": {"zh": "基层老年人体重指标图谱", "en": "Primary-care elderly body-weight atlas"},
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
    "ew.suppressed": {"zh": "已抑制（小样本保护）", "en": "Suppressed (small-cell protection)"},
    "ew.city": {"zh": "全市", "en": "City"},
    "ew.measured": {"zh": "测量人数", "en": "Measured residents"},
    "ew.by_age": {"zh": "按年龄组", "en": "By age band"},
    "ew.by_sex": {"zh": "按性别", "en": "By sex"},
    "ew.table": {"zh": "各区数值", "en": "District values"},
    "ew.district": {"zh": "区", "en": "District"},
    "ew.centres": {"zh": "社区卫生服务中心", "en": "Community health centres"},
    "ew.download": {"zh": "下载本表（CSV）", "en": "Download this table (CSV)"},
    "ew.release": {"zh": "发布版本 {rid}，{by} 于 {at} 批准", "en": "Release {rid}, approved by {by} at {at}"},
})

lng = lang()
user = require_principal()
st.title(t("ew.title", lng))
synthetic_banner(lng)
info = guard(lambda: views.release_info(user), lng)
st.caption(t("ew.caption", lng))
st.caption(t("ew.release", lng, rid=info["release_id"], by=info["approval"].get("approved_by"),
             at=info["approval"].get("approved_at")))

cat_label = lambda c: pick(lng, CATEGORY_ZH[c], CATEGORY_EN[c])  # noqa: E731
qp = st.query_params
category = qp.get("cat", "obese") if qp.get("cat") in CATEGORIES else "obese"
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
qp["cat"], qp["age"], qp["sex"] = category, band, sex

values = guard(lambda: views.district_values(user, category, band, sex), lng)
d = districts().set_index("adcode")
names = d.apply(lambda r: pick(lng, r["name_zh"], r["name_en"]), axis=1)
shown = values.drop(index=ALL)
hover = shown["share"].map(lambda v: f"{v:.1f}%" if v == v else "")
fig = district_choropleth(shown, value="share", label=t("ew.share", lng), names=names, hover_text=hover,
                          suppressed=shown["suppressed"], suppressed_label=t("ew.suppressed", lng), colorscale="OrRd")
left, right = st.columns([3, 2])
left.plotly_chart(fig, width="stretch", config={"displayModeBar": False}, key="ew_map")
city = values.loc[ALL]
right.metric(f"{t('ew.city', lng)} · {cat_label(category)}",
             "—" if city["suppressed"] else f"{city['share']:.1f}%",
             help=f"{t('ew.measured', lng)}: {city['measured']}")
table = shown.assign(district=names.reindex(shown.index))[["district", "count", "measured", "share", "reason"]]
right.dataframe(table.rename(columns={"district": t("ew.district", lng), "measured": t("ew.measured", lng),
                                      "share": t("ew.share", lng)}),
                hide_index=True, width="stretch",
                column_config={t("ew.share", lng): st.column_config.NumberColumn(format="%.1f")})

district_choice = ALL
for by, title in (("age_band", "ew.by_age"), ("sex", "ew.by_sex")):
    st.subheader(t(title, lng))
    frame = guard(lambda by=by: views.breakdown(user, by, district_choice), lng)
    frame["label"] = frame["category"].map(cat_label)
    if by == "sex":
        frame["sex"] = frame["sex"].map(lambda s: t(f"ew.{s}", lng))
    chart = px.bar(frame, x=by, y="share", color="label", barmode="stack",
                   category_orders={"label": [cat_label(c) for c in CATEGORIES]},
                   # An ordered scale: thin, normal, heavy, heavier reads in sequence, not as four unrelated hues.
                   color_discrete_sequence=["#9ecae1", "#74c476", "#fd8d3c", "#d94801"],
                   labels={"share": t("ew.share", lng), by: t(f"ew.{by}", lng), "label": t("ew.category", lng)})
    chart.update_layout(height=320, margin={"l": 0, "r": 0, "t": 10, "b": 0})
    st.plotly_chart(chart, width="stretch", key=f"ew_chart_{by}")

st.subheader(t("ew.centres", lng))
centres = guard(lambda: views.facility_table(user), lng)
centres = centres.assign(name=centres["name_zh"] if lng == "zh" else centres["name_en"])
share_cols = [f"{c}_share" for c in CATEGORIES]
st.dataframe(
    centres[["name", "measured", *share_cols]].rename(
        columns={"name": t("ew.centre", lng), "measured": t("ew.measured", lng),
                 **{f"{c}_share": f"{cat_label(c)} (%)" for c in CATEGORIES}}),
    hide_index=True, width="stretch",
    column_config={f"{cat_label(c)} (%)": st.column_config.NumberColumn(format="%.1f") for c in CATEGORIES},
)

if st.button(t("ew.download", lng), key="ew_dl_prepare", icon=":material/download:"):
    csv_bytes, _meta = guard(lambda: views.download(user, category, band, sex), lng)
    st.download_button(t("ew.download", lng), csv_bytes, file_name=f"elderly_weight_{category}.csv", mime="text/csv",
                       key="ew_dl")

"""Overview: Guangzhou's 11 districts with reference population and the facilities in the space."""

from __future__ import annotations

import streamlit as st

from dashboards import ui
from dashboards.charts import district_choropleth
from dashboards.ui import lang, show_table, synthetic_banner
from data_products.i18n import pick, t
from data_products.reference import districts, facilities

lng = lang()
st.title(t("overview.title", lng))
synthetic_banner(lng)

table = districts().set_index("adcode")
table["facilities"] = facilities().groupby("district").size().reindex(table.index, fill_value=0)
names = table.apply(lambda r: pick(lng, r["name_zh"], r["name_en"]), axis=1)

metrics = {
    "density_2023": t("overview.density", lng),
    "population_2023": t("overview.population", lng),
    "facilities": t("overview.facilities", lng),
}
metric = st.segmented_control(
    t("overview.metric", lng), list(metrics), format_func=metrics.__getitem__, default="density_2023", key="ov_metric"
) or "density_2023"

def fmt(v: float) -> str:
    return f"{v:,.0f}"


fig = district_choropleth(
    table, value=metric, label=metrics[metric], names=names, hover_text=table[metric].map(fmt), colorscale="Teal"
)
ui.chart(fig, key="overview_map")  # public reference figures, no product: nothing to download

cols = st.columns(3)
cols[0].metric(t("overview.population", lng), f"{table['population_2023'].sum():,.0f}")
cols[1].metric(t("col.area", lng), f"{table['area_km2'].sum():,.1f}")
cols[2].metric(t("overview.facilities", lng), f"{int(table['facilities'].sum())}")

st.subheader(t("overview.table", lng))
shown = table.assign(district=names)[["district", "area_km2", "population_2020", "population_2023", "density_2023", "facilities"]]
show_table(
    shown.rename(
        columns={
            "district": t("col.district", lng),
            "area_km2": t("col.area", lng),
            "population_2020": t("col.pop2020", lng),
            "population_2023": t("col.pop2023", lng),
            "density_2023": t("col.density", lng),
            "facilities": t("col.facilities", lng),
        }
    ),
    hide_index=True,
    width="stretch",
    column_config={t("col.density", lng): st.column_config.NumberColumn(format="%.0f")},
)
st.caption(t("overview.sources", lng))

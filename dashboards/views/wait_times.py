"""Outpatient wait-time estimates (候诊时间估计): pick a slot, read the expected wait and its accuracy."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboards import headline, ui
from dashboards.ui import guard, lang, product_grant, show_table, synthetic_banner, wide_or_narrow
from data_products.i18n import pick, t
from data_products.products.registry import product
from data_products.products.wait_times import views
from data_products.products.wait_times.spec import LEVEL_SLOT, WEEKDAYS

MESSAGES = {
    "wt.hl.visits": {"zh": "就诊人次（全部机构与科室）", "en": "Visits (all facilities and departments)"},
    "wt.hl.p50": {"zh": "候诊时间中位数", "en": "Median wait"},
    "wt.hl.p90": {"zh": "十人中九人的候诊不超过", "en": "9 in 10 waited at most"},
    "wt.facility": {"zh": "医疗机构", "en": "Facility"},
    "wt.department": {"zh": "科室", "en": "Department"},
    "wt.weekday": {"zh": "星期", "en": "Day"},
    "wt.hour": {"zh": "时段", "en": "Time"},
    "wt.usually": {"zh": "通常候诊约 {n} 分钟；十人中九人在 {m} 分钟内就诊。",
                   "en": "Usually {n} minutes; 9 in 10 within {m} minutes."},
    "wt.no_estimate": {"zh": "该时段没有可发布的估计（数据不足或已被抑制）。",
                       "en": "No estimate can be published for this slot (too few visits, or suppressed)."},
    "wt.level.slot": {"zh": "依据本时段 {n} 次就诊（结合同科室其他时段）。",
                      "en": "Based on {n} visits in this slot (blended with the department's other slots)."},
    "wt.level.coarser": {"zh": "本时段就诊数过少已被抑制，估计取自较粗层级：{level}。",
                         "en": "Too few visits in this slot (suppressed); the estimate comes from a coarser level: {level}."},
    "wt.level.department_weekday_hour": {"zh": "本科室的星期效应与时段效应之和",
                                         "en": "this department's weekday and hour effects combined"},
    "wt.level.facility_department": {"zh": "本科室全部时段", "en": "this department, all slots"},
    "wt.heatmap": {"zh": "星期 × 时段 预计候诊（分钟）", "en": "Expected wait by day and hour (minutes)"},
    "wt.stat": {"zh": "统计量", "en": "Statistic"},
    "wt.stat.p50": {"zh": "中位数", "en": "Median"},
    "wt.stat.p90": {"zh": "第90百分位", "en": "90th percentile"},
    "wt.heatmap_note": {"zh": "带 * 的格子：本时段就诊数被抑制，数值取自较粗层级。",
                        "en": "Cells marked *: the slot's count is suppressed; the value comes from a coarser level."},
    "wt.accuracy": {"zh": "准确度（留出后续周检验）", "en": "Accuracy on held-out later weeks"},
    "wt.mae": {"zh": "中位数估计的中位绝对误差", "en": "Median absolute error of the median"},
    "wt.within": {"zh": "候诊不超过 P90 的比例", "en": "Share of visits within the stated P90"},
    "wt.baseline": {"zh": "基线（本科室训练期 P50/P90）", "en": "Baseline (facility × department P50/P90, same weeks)"},
    "wt.gain": {"zh": "相对基线：中位绝对误差降低 {cut:.0%}，P90 覆盖率变化 {cov:+.1%}。",
                "en": "Against the baseline: median absolute error {cut:.0%} lower, P90 coverage {cov:+.1%}."},
    "wt.below": {"zh": "低于中位数估计的比例", "en": "Share below the stated median"},
    "wt.slices": {"zh": "按时段规模与星期类型的准确度（全市）", "en": "Accuracy by slot size and day type (city)"},
    "wt.col.band": {"zh": "时段规模（训练期就诊数）", "en": "Slot size (training visits)"},
    "wt.col.daytype": {"zh": "星期类型", "en": "Day type"},
    "wt.band.suppressed": {"zh": "已抑制（取自科室层级）", "en": "suppressed (from department level)"},
    "wt.band.lt30": {"zh": "少于 30", "en": "under 30"}, "wt.band.30to99": {"zh": "30–99", "en": "30–99"},
    "wt.band.100to299": {"zh": "100–299", "en": "100–299"}, "wt.band.300plus": {"zh": "300 及以上", "en": "300 or more"},
    "wt.band.ALL": {"zh": "全部", "en": "All"},
    "wt.daytype.weekday": {"zh": "工作日", "en": "Weekdays"}, "wt.daytype.weekend": {"zh": "周末", "en": "Weekends"},
    "wt.daytype.ALL": {"zh": "全部", "en": "All days"},
    "wt.about": {"zh": "关于数据与方法", "en": "About the data and the method"},
    "wt.about.text": {
        "zh": "**估计方法**：每个“机构 × 科室 × 星期 × 时段”的候诊中位数和 P90，在对数尺度上向一个保留星期和时段结构的目标收缩："
              "目标 = 本科室水平 + 星期效应 + 时段效应，每个效应和本时段各按就诊数 n 取权重 n/(n+K)。"
              "K 不是固定值：在训练期内做滚动起点交叉验证（用前面各周拟合，逐周检验最后 {folds} 个训练周，以 P50 和 P90 的分位数损失评分），"
              "从 {grid} 中选出 K = {k}。被抑制的层级权重为 0。\n\n"
              "**公平基线**：同一训练期内本机构本科室的 P50（作为通常候诊）和 P90（作为上限），不含星期和时段细节。"
              "比较只在两者都有估计的就诊上进行。\n\n"
              "**准确度**：用训练截止前的数据拟合，检验最后 {w} 周的就诊：中位数估计的中位绝对误差、候诊不超过 P90 的比例、"
              "低于中位数的比例（应约为 50%），分机构 × 科室、按时段规模（该时段训练期的已发布就诊数）和工作日/周末分别发布，不只给全市合计。"
              "页面上“误差降低”的百分比 = 1 − 估计误差 / 基线误差，由已发布的数字直接算出。\n\n"
              "**小样本保护**：1 至 {k1} 的计数不显示；留出检验的就诊数被抑制时，其误差和覆盖率也不显示。",
        "en": "**Method**: the median and P90 of the wait per facility × department × weekday × hour are shrunk on the log "
              "scale towards a target that keeps the weekday and hour pattern: the department's level plus a weekday effect "
              "plus an hour effect, the slot and each effect weighted n/(n+K) by its visit count n. K is not fixed: "
              "rolling-origin cross-validation on the training weeks (fit on the weeks before, score each of the last "
              "{folds} training weeks by the pinball loss of P50 and P90) picked K = {k} from {grid}. A suppressed level "
              "gets weight 0.\n\n"
              "**Fair baseline**: the facility × department P50 (typical wait) and P90 (bound) of the same training weeks, "
              "with no weekday or hour detail, scored on the same visits as the estimates.\n\n"
              "**Accuracy**: fitted on the weeks before the cut-off and scored on the last {w} weeks: the median absolute "
              "error of the median, the share of visits within the stated P90, and the share below the stated median "
              "(about 50% when calibrated), published per facility × department, per slot size (the slot's released "
              "training visits) and for weekdays and weekends, not only pooled. The page's \"error lower by\" is "
              "1 − estimate error / baseline error, computed from the released figures.\n\n"
              "**Small-cell protection**: no count from 1 to {k1} is shown; where a held-out count is suppressed, so are "
              "its errors and coverage.",
    },
    "wt.estimate": {"zh": "本估计", "en": "These estimates"},
    "wt.min": {"zh": "{v:.1f} 分钟", "en": "{v:.1f} min"},
    "wt.pct": {"zh": "{v:.1%}", "en": "{v:.1%}"},
    "wt.n_test": {"zh": "留出就诊数", "en": "Held-out visits"},
    "wt.split": {"zh": "训练截至 {d} 之前，检验最后 {w} 周。", "en": "Trained on visits before {d}; tested on the last {w} weeks."},
    "wt.computed": {"zh": "估计计算时间：{at}（发布 {rid}）", "en": "Estimates computed at {at} (release {rid})"},
    "wt.rule": {"zh": "估计方法", "en": "How the estimates are made"},
    "wt.city": {"zh": "全市候诊最长的科室", "en": "Departments with the longest waits across the city"},
    "wt.city_depts": {"zh": "各科室全市汇总", "en": "Each department across the city"},
    "wt.own": {"zh": "本院各科室（预约 / 非预约）", "en": "Own departments (appointment / walk-in)"},
    "wt.doctors": {"zh": "本院医生（假名化代码）", "en": "Own doctors (pseudonymous codes)"},
    "wt.no_doctors": {"zh": "医生层面数据仅向其所在医院提供。", "en": "Per-doctor figures are shown only to the doctor's own hospital."},
    "wt.col.facility": {"zh": "机构", "en": "Facility"},
    "wt.col.department": {"zh": "科室", "en": "Department"},
    "wt.col.visits": {"zh": "就诊数", "en": "Visits"},
    "wt.col.p50": {"zh": "中位候诊（分钟）", "en": "Median wait (min)"},
    "wt.col.p90": {"zh": "P90 候诊（分钟）", "en": "P90 wait (min)"},
    "wt.col.type": {"zh": "类型", "en": "Type"},
    "wt.col.doctor": {"zh": "医生代码", "en": "Doctor code"},
    "wt.type.APPT": {"zh": "预约", "en": "Appointment"},
    "wt.type.WALKIN": {"zh": "现场挂号", "en": "Walk-in"},
    "wt.suppressed": {"zh": "已抑制", "en": "suppressed"},
    "wt.no_facility": {"zh": "本发布中没有您可查看的机构。", "en": "This release holds no facility you may view."},
    "wt.day.1": {"zh": "周一", "en": "Mon"}, "wt.day.2": {"zh": "周二", "en": "Tue"},
    "wt.day.3": {"zh": "周三", "en": "Wed"}, "wt.day.4": {"zh": "周四", "en": "Thu"},
    "wt.day.5": {"zh": "周五", "en": "Fri"}, "wt.day.6": {"zh": "周六", "en": "Sat"},
    "wt.day.7": {"zh": "周日", "en": "Sun"},
}

lng = lang()
grant = product_grant(views.PRODUCT_ID, lng)
st.title(product(views.PRODUCT_ID).name(lng))
synthetic_banner(lng)

info = guard(lambda: views.release_info(grant), lng)
_all = guard(lambda: views.overall(grant), lng)
headline.show([
    headline.Figure(t("wt.hl.visits", lng), _all["visits"], "count"),
    headline.Figure(t("wt.hl.p50", lng), _all["p50"], "minutes"),
    headline.Figure(t("wt.hl.p90", lng), _all["p90"], "minutes"),
], lng, period=" – ".join(info["meta"].get("time_span", [])), previous=None, updated=headline.updated_at(info))
options = guard(lambda: views.facility_options(grant), lng)
if options.empty:
    st.warning(t("wt.no_facility", lng))
    st.stop()
hours = guard(lambda: views.hours(grant), lng)


def _choice(key: str, values: list[str], default: str) -> str:
    """Filters live in the URL so a view can be shared."""
    v = st.query_params.get(key, default)
    return v if v in values else default


def _dept(d: str) -> str:
    return views.department_name(d, lng)


def _acc_columns() -> dict:
    """Accuracy as people read it: minutes to one decimal, coverage as a percentage (values are ×100)."""
    minutes = st.column_config.NumberColumn(format=t("wt.min", lng).replace("{v:.1f}", "%.1f"))
    pct = st.column_config.NumberColumn(format="%.1f%%")
    return {**{f"{t('wt.mae', lng)} · {t(k, lng)}": minutes for k in ("wt.estimate", "wt.baseline")},
            **{f"{t(m, lng)} · {t(k, lng)}": pct for m in ("wt.within", "wt.below") for k in ("wt.estimate", "wt.baseline")}}


def _fmt_n(v) -> str:
    return t("wt.suppressed", lng) if pd.isna(v) else f"{int(v):,}"


fac_ids = list(options["facility_id"])
fac_names = {r.facility_id: pick(lng, r.name_zh, r.name_en) for r in options.itertuples()}
c1, c2, c3, c4 = st.columns([3, 2, 1, 1])
facility = c1.selectbox(t("wt.facility", lng), fac_ids, index=fac_ids.index(_choice("facility", fac_ids, fac_ids[0])),
                        format_func=fac_names.__getitem__, key="wt_facility")
depts = list(options.set_index("facility_id").at[facility, "departments"])
department = c2.selectbox(t("wt.department", lng), depts, index=depts.index(_choice("department", depts, depts[0])),
                          format_func=_dept, key="wt_department")
weekday = c3.selectbox(t("wt.weekday", lng), list(WEEKDAYS), index=WEEKDAYS.index(_choice("weekday", list(WEEKDAYS), "1")),
                       format_func=lambda d: t(f"wt.day.{d}", lng), key="wt_weekday")
hour = c4.selectbox(t("wt.hour", lng), hours, index=hours.index(_choice("hour", hours, hours[0])),
                    format_func=lambda h: f"{h}:00", key="wt_hour")
st.query_params.update({"facility": facility, "department": department, "weekday": weekday, "hour": hour})

est = guard(lambda: views.estimate(grant, facility, department, weekday, hour), lng)
if not est["open"] or pd.isna(est["p50"]):
    st.warning(t("wt.no_estimate", lng))
else:
    st.success(t("wt.usually", lng, n=round(est["p50"]), m=round(est["p90"])), icon=":material/schedule:")
    if est["level"] == LEVEL_SLOT:
        st.caption(t("wt.level.slot", lng, n=f"{est['n']:,}"))
    else:
        st.caption(t("wt.level.coarser", lng, level=t(f"wt.level.{est['level']}", lng)))

st.subheader(t("wt.heatmap", lng))
stats = {"p50": t("wt.stat.p50", lng), "p90": t("wt.stat.p90", lng)}
stat = st.segmented_control(t("wt.stat", lng), list(stats), format_func=stats.__getitem__, default="p50",
                            key="wt_stat") or "p50"
grid = guard(lambda: views.heatmap(grant, facility, department, stat), lng)
lv = guard(lambda: views.levels(grant, facility, department), lng).reindex(index=grid.index, columns=grid.columns)
text = [[("" if pd.isna(v) else f"{v:.0f}" + ("" if lvl == LEVEL_SLOT else "*")) for v, lvl in zip(row_v, row_l, strict=True)]
        for row_v, row_l in zip(grid.to_numpy(), lv.to_numpy(), strict=True)]
fig = go.Figure(go.Heatmap(
    z=grid.to_numpy(), x=[f"{h}:00" for h in grid.columns], y=[t(f"wt.day.{d}", lng) for d in grid.index],
    text=text, texttemplate="%{text}", colorscale="YlOrRd", colorbar={"title": {"text": stats[stat]}},
    hovertemplate="%{y} %{x}: %{z:.1f}<extra></extra>",
))
fig.update_layout(height=360, margin={"l": 10, "r": 10, "t": 10, "b": 10}, yaxis={"autorange": "reversed"})
wide, narrow = wide_or_narrow("wt_heatmap")
ui.chart(fig, key="wt_heatmap", container=wide, grant=grant, name=f"wait_times_{facility}_{department}_{stat}", lng=lng)
# On a phone: the same numbers as a table, an hour per row and a day per column.
phone = pd.DataFrame([[cell for cell in row] for row in text], index=[t(f"wt.day.{d}", lng) for d in grid.index],
                     columns=[f"{h}:00" for h in grid.columns]).T
with narrow:
    show_table(phone.reset_index(names=t("wt.hour", lng)), key="wt_heat_table")
st.caption(t("wt.heatmap_note", lng))

st.subheader(t("wt.accuracy", lng))
acc = guard(lambda: views.accuracy(grant, facility), lng)
split = info["meta"].get("backtest_split", {})
if acc.empty or split.get("train_until") is None:
    st.info(t("wt.no_estimate", lng))
else:
    own_total = acc[(acc["facility_id"] == facility) & (acc["department"] == "ALL")]
    row = acc[(acc["facility_id"] == facility) & (acc["department"] == department)]
    show = row if not row.empty and row["n_test"].notna().all() else own_total
    if not show.empty and show["n_test"].notna().all():
        r = show.iloc[0]
        m1, m2, m3 = st.columns(3)
        m1.metric(t("wt.mae", lng), t("wt.min", lng, v=r["mae_p50"]),
                  delta=t("wt.min", lng, v=r["mae_p50"] - r["mae_baseline"]), delta_color="inverse")
        m2.metric(t("wt.within", lng), t("wt.pct", lng, v=r["within_p90"]),
                  delta=f"{r['within_p90'] - r['within_baseline']:+.1%}")
        m3.metric(t("wt.n_test", lng), f"{int(r['n_test']):,}")
        gain = views.accuracy_gain(r)
        if gain["mae_cut"] == gain["mae_cut"]:
            st.caption(t("wt.gain", lng, cut=gain["mae_cut"], cov=gain["coverage_change"]))
    table = acc.assign(
        facility=[fac_names.get(f, f) if f != "ALL" else pick(lng, "全市", "City") for f in acc["facility_id"]],
        dept=[_dept(d) if d != "ALL" else pick(lng, "全部", "All") for d in acc["department"]],
        within_p90=100 * acc["within_p90"], within_baseline=100 * acc["within_baseline"],
    )
    show_table(
        table[["facility", "dept", "n_test", "mae_p50", "mae_baseline", "within_p90", "within_baseline"]].rename(columns={
            "facility": t("wt.col.facility", lng), "dept": t("wt.col.department", lng), "n_test": t("wt.n_test", lng),
            "mae_p50": f"{t('wt.mae', lng)} · {t('wt.estimate', lng)}",
            "mae_baseline": f"{t('wt.mae', lng)} · {t('wt.baseline', lng)}",
            "within_p90": f"{t('wt.within', lng)} · {t('wt.estimate', lng)}",
            "within_baseline": f"{t('wt.within', lng)} · {t('wt.baseline', lng)}",
        }),
        hide_index=True, width="stretch", column_config=_acc_columns(),
    )
    st.caption(t("wt.split", lng, d=split["train_until"], w=split["test_weeks"]))
    st.subheader(t("wt.slices", lng))
    sl = guard(lambda: views.accuracy_slices(grant), lng)
    sl = sl[(sl["size_band"] == "ALL") | (sl["day_type"] == "ALL")]
    show_table(pd.DataFrame({
        t("wt.col.band", lng): sl["size_band"].map(lambda b: t(f"wt.band.{b}", lng)),
        t("wt.col.daytype", lng): sl["day_type"].map(lambda d: t(f"wt.daytype.{d}", lng)),
        t("wt.n_test", lng): sl["n_test"].map(_fmt_n),
        f"{t('wt.mae', lng)} · {t('wt.estimate', lng)}": sl["mae_p50"],
        f"{t('wt.mae', lng)} · {t('wt.baseline', lng)}": sl["mae_baseline"],
        f"{t('wt.within', lng)} · {t('wt.estimate', lng)}": 100 * sl["within_p90"],
        f"{t('wt.within', lng)} · {t('wt.baseline', lng)}": 100 * sl["within_baseline"],
        f"{t('wt.below', lng)} · {t('wt.estimate', lng)}": 100 * sl["below_p50"],
    }), hide_index=True, width="stretch", key="wt_slices", column_config=_acc_columns())

scope = info["scope"]
if scope.facility_names == "all":
    st.subheader(t("wt.city", lng))
    top = guard(lambda: views.longest_waits(grant), lng)
    show_table(pd.DataFrame({
        t("wt.col.facility", lng): [pick(lng, a, b) for a, b in zip(top["name_zh"], top["name_en"], strict=True)],
        t("wt.col.department", lng): top["department"].map(_dept),
        t("wt.col.visits", lng): top["visits"].map(_fmt_n),
        t("wt.col.p50", lng): top["p50"].round(1), t("wt.col.p90", lng): top["p90"].round(1),
    }), hide_index=True, width="stretch")
    st.subheader(t("wt.city_depts", lng))
    cd = guard(lambda: views.city_departments(grant), lng)
    show_table(pd.DataFrame({
        t("wt.col.department", lng): cd["department"].map(_dept), t("wt.col.visits", lng): cd["visits"].map(_fmt_n),
        t("wt.col.p50", lng): cd["p50"].round(1), t("wt.col.p90", lng): cd["p90"].round(1),
    }), hide_index=True, width="stretch")
else:
    st.subheader(t("wt.own", lng))
    od = guard(lambda: views.own_departments(grant), lng)
    show_table(pd.DataFrame({
        t("wt.col.department", lng): od["department"].map(_dept),
        t("wt.col.type", lng): od["visit_type"].map(lambda v: t(f"wt.type.{v}", lng) if v in ("APPT", "WALKIN") else v),
        t("wt.col.visits", lng): od["visits"].map(_fmt_n),
        t("wt.col.p50", lng): od["p50"].round(1), t("wt.col.p90", lng): od["p90"].round(1),
    }), hide_index=True, width="stretch")
    st.subheader(t("wt.doctors", lng))
    docs = guard(lambda: views.doctors(grant), lng)
    if docs.empty:
        st.info(t("wt.no_doctors", lng))
    else:
        show_table(pd.DataFrame({
            t("wt.col.department", lng): docs["department"].map(_dept), t("wt.col.doctor", lng): docs["doctor_code"],
            t("wt.col.visits", lng): docs["visits"].map(_fmt_n),
            t("wt.col.p50", lng): docs["p50"].round(1), t("wt.col.p90", lng): docs["p90"].round(1),
        }), hide_index=True, width="stretch")

with st.expander(t("wt.about", lng)):
    meta = info["meta"]
    ks = meta.get("k_selection", {})
    st.markdown(t("wt.about.text", lng, folds=ks.get("folds", "—"), grid=ks.get("grid", "—"), k=meta.get("shrink_k"),
                  w=meta.get("backtest_split", {}).get("test_weeks"), k1=int(meta.get("min_cell") or 10) - 1))
st.caption(t("wt.computed", lng, at=info["computed_at"], rid=info["release_id"]))

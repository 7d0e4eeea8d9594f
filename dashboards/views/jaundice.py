"""Neonatal jaundice device evaluation report: verdict, binned plots, tables, subgroups, downloads.

Renders only: every figure comes from ``views`` (which asks the gate and reads the approved release).
"""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboards import headline, ui
from dashboards.ui import download_button, guard, lang, product_grant, show_table, synthetic_banner
from data_products.i18n import t
from data_products.products.jaundice import views
from data_products.products.jaundice.spec import MIN_PAIRS_FOR_STATS, NAME, UMOL_PER_MG_DL

lng = lang()
grant = product_grant(views.PRODUCT_ID, lng)
data = guard(lambda: views.report_data(grant, lng), lng)
meta, o, v = data["meta"], data["overall"], data["verdict"]
k = meta.get("min_cell", 10)

st.title(NAME["en" if lng == "en" else "zh"])
st.caption(t("jaundice.subtitle", lng))
synthetic_banner(lng)
span = meta.get("time_span") or ["", ""]
st.caption(t("jaundice.source", lng, source=data["source"], start=span[0], end=span[-1]))
st.caption(t("jaundice.release", lng, release=data["release_id"], by=data["approval"].get("approved_by"),
             at=headline.beijing(data["approval"].get("approved_at"))))

# --- verdict -------------------------------------------------------------------------------------
st.subheader(t("jaundice.verdict", lng))
# The report's files on the first screen, beside the verdict they document. Made (and the download
# gated and audited) only when clicked; fetchable once, by this browser.
d1, d2, d3 = st.columns([1, 1, 2])
download_button(t("jaundice.download_pdf", lng), lambda: views.report_pdf(grant, lng),
                f"jaundice_report_{lng}.pdf", "application/pdf", key="jaundice_pdf", container=d1)
download_button(t("jaundice.download_csv", lng), lambda: views.statistics_zip(grant),
                "jaundice_statistics.zip", "application/zip", key="jaundice_csv", container=d2)
d3.caption(t("jaundice.download_note", lng))
lines = v.lines(lng)
box = st.success if v.agreement_met and v.screening_met else st.warning
box("\n\n".join(lines), icon=":material/fact_check:")
st.caption(t("jaundice.criteria", lng, limit=v.agreement_limit, sens=100 * v.screening_min_sensitivity))

cols = st.columns(5)
cols[0].metric(t("jaundice.pairs", lng), f"{v.n:,}")
cols[1].metric(f"{t('jaundice.bias', lng)} (µmol/L)", f"{v.bias:+.1f}", help=f"95% CI {v.bias_ci_low:+.1f} – {v.bias_ci_high:+.1f}")
cols[2].metric(t("jaundice.sd", lng), f"{v.sd:.1f}")
if v.loa_method == "regression" and v.limits_at:
    lv, lo_, hi_ = v.limits_at[-1]
    cols[3].metric(t("jaundice.loa", lng), f"{lo_:+.0f} / {hi_:+.0f}", help=f"{lv:g} µmol/L")
else:
    cols[3].metric(t("jaundice.loa", lng), f"{v.loa_lower:+.0f} / {v.loa_upper:+.0f}")
cols[4].metric(t("jaundice.r", lng), f"{o['pearson_r']:.3f}")



def _heatmap(grid: pd.DataFrame, xlabel: str, ylabel: str) -> go.Figure:
    """Suppressed cells are drawn as a grey layer; empty cells stay blank; no single point anywhere."""
    z = grid.pivot(index="y", columns="x", values="pairs").sort_index()
    shown = z.where(z > 0)
    hidden = z.isna().astype(float).where(z.isna())
    fig = go.Figure()
    fig.add_trace(go.Heatmap(x=hidden.columns, y=hidden.index, z=hidden.to_numpy(), showscale=False,
                             colorscale=[[0, "#cccccc"], [1, "#cccccc"]], hoverinfo="skip",
                             name=t("jaundice.suppressed", lng)))
    fig.add_trace(go.Heatmap(x=shown.columns, y=shown.index, z=shown.to_numpy(), colorscale="Blues",
                             colorbar={"title": t("jaundice.pairs_cell", lng)},
                             hovertemplate="x %{x}<br>y %{y}<br>%{z} " + t("jaundice.pairs_cell", lng) + "<extra></extra>"))
    fig.update_layout(xaxis_title=xlabel, yaxis_title=ylabel, height=480, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                      legend={"orientation": "h", "y": 1.08})
    return fig


tab_ba, tab_reg, tab_diag, tab_sub, tab_methods = st.tabs([
    t("jaundice.tab_ba", lng), t("jaundice.tab_reg", lng), t("jaundice.tab_diag", lng), t("jaundice.tab_sub", lng),
    t("jaundice.tab_methods", lng)])

with tab_ba:
    st.markdown(f"**{t('jaundice.ba_title', lng, k=k)}**")
    fig = _heatmap(data["ba_grid"], t("jaundice.ba_x", lng), t("jaundice.ba_y", lng))
    for y, name, color, dash in ((o["bias"], t("jaundice.bias", lng), "#c62828", "solid"),
                                 (o["loa_lower"], "LoA", "#555555", "dash"), (o["loa_upper"], "LoA", "#555555", "dash"),
                                 (v.agreement_limit, "+3 mg/dL", "#2e7d32", "dot"),
                                 (-v.agreement_limit, "−3 mg/dL", "#2e7d32", "dot")):
        fig.add_hline(y=float(y), line={"color": color, "dash": dash, "width": 2}, annotation_text=name)
    if v.loa_method == "regression" and not pd.isna(o.get("rl_factor")):
        # Regression-based limits follow the scatter: bias line and limits as functions of the pair mean.
        grid_x = sorted(data["ba_grid"]["x"].unique())
        xs_ba = [min(grid_x) - 12.5, max(grid_x) + 12.5]
        centre = [o["rl_bias_intercept"] + o["rl_bias_slope"] * a for a in xs_ba]
        half = [o["rl_factor"] * (o["rl_abs_intercept"] + o["rl_abs_slope"] * a) for a in xs_ba]
        lower = [c - h for c, h in zip(centre, half, strict=True)]
        upper = [c + h for c, h in zip(centre, half, strict=True)]
        for i, ys in enumerate((centre, lower, upper)):
            fig.add_trace(go.Scatter(x=xs_ba, y=ys, mode="lines", showlegend=i == 0,
                                     name=t("jaundice.ba_regression_lines", lng),
                                     line={"color": "#6a1b9a", "width": 3 if i == 0 else 2}))
    ui.chart(fig, key="jaundice_ba", grant=grant, name="jaundice_bland_altman", lng=lng)
    st.markdown(f"**{t('jaundice.limits_title', lng)}**")
    lim = data["limits"]
    if not lim.empty:
        show_table(pd.DataFrame({
            t("jaundice.level", lng): [f"{lv:g} ({lv / UMOL_PER_MG_DL:.0f} mg/dL)" for lv in lim["level"]],
            t("jaundice.loa_form", lng): [t(f"jaundice.loa_form.{m}", lng) for m in lim["method"]],
            t("jaundice.bias", lng): lim["bias"].round(1),
            t("jaundice.lower", lng): [f"{a:+.1f} ({b:+.1f} – {c:+.1f})" for a, b, c in
                                      zip(lim["lower"], lim["lower_ci_low"], lim["lower_ci_high"], strict=True)],
            t("jaundice.upper", lng): [f"{a:+.1f} ({b:+.1f} – {c:+.1f})" for a, b, c in
                                      zip(lim["upper"], lim["upper_ci_low"], lim["upper_ci_high"], strict=True)],
            t("jaundice.used", lng): ["✓" if c else "" for c in lim["chosen"]],
        }), hide_index=True, width="stretch")

with tab_reg:
    st.markdown(f"**{t('jaundice.sc_title', lng, k=k)}**")
    fig = _heatmap(data["scatter_grid"], t("jaundice.sc_x", lng), t("jaundice.sc_y", lng))
    xs = [0.0, 500.0]
    reg = data["regression"].set_index("method")
    primary = str(o.get("primary_regression", "deming"))
    for key, name, a, b, color in (
            ("identity", t("jaundice.identity", lng), 0.0, 1.0, "#777777"),
            ("deming", t("jaundice.deming", lng), reg.at["deming", "intercept"], reg.at["deming", "slope"], "#e6550d"),
            ("passing_bablok", t("jaundice.pb", lng), reg.at["passing_bablok", "intercept"],
             reg.at["passing_bablok", "slope"], "#2ca02c")):
        main_line = key == primary
        fig.add_trace(go.Scatter(x=xs, y=[a + b * x for x in xs], mode="lines",
                                 name=name + (f" ({t('jaundice.primary', lng)})" if main_line else ""),
                                 line={"color": color, "width": 3 if main_line else 1.5,
                                       "dash": "solid" if main_line or key == "identity" else "dash"}))
    fig.update_xaxes(range=[0, 500])
    fig.update_yaxes(range=[0, 500])
    ui.chart(fig, key="jaundice_scatter", grant=grant, name="jaundice_regression", lng=lng)
    st.markdown(f"**{t('jaundice.reg_table', lng)}**")
    names = {"ols": t("jaundice.ols", lng), "deming": f"{t('jaundice.deming', lng)} (λ={meta.get('error_ratio'):g})",
             "passing_bablok": t("jaundice.pb", lng)}
    shown = data["regression"].assign(method=lambda f: f["method"].map(names),
                                      primary=lambda f: f["primary"].map({True: "✓", False: ""}))
    ci = t("jaundice.ci", lng)
    shown = pd.DataFrame({
        t("jaundice.method", lng): shown["method"],
        t("jaundice.slope", lng): shown["slope"].round(3),
        f"{t('jaundice.slope', lng)} · {ci}": ["—" if pd.isna(a) else f"{a:.3f} – {b:.3f}" for a, b in
                                               zip(shown["slope_ci_low"], shown["slope_ci_high"], strict=True)],
        t("jaundice.intercept", lng): shown["intercept"].round(1),
        f"{t('jaundice.intercept', lng)} · {ci}": ["—" if pd.isna(a) else f"{a:.1f} – {b:.1f}" for a, b in
                                                   zip(shown["intercept_ci_low"], shown["intercept_ci_high"], strict=True)],
        t("jaundice.primary", lng): shown["primary"],
    })
    show_table(shown, hide_index=True, width="stretch")
    pb_b = float(reg.at["passing_bablok", "slope"])
    st.caption(t("jaundice.pb_primary" if primary == "passing_bablok" else "jaundice.pb_caveat", lng,
                 lam=meta.get("error_ratio"), b2=pb_b * pb_b, f=meta.get("pb_lambda_factor", 2.0), pb=pb_b))
    st.markdown(f"**{t('jaundice.dl_title', lng)}**")
    dl = data["decision_levels"].assign(mg_dl=lambda f: (f["level"] / UMOL_PER_MG_DL).round(0))
    show_table(dl.rename(columns={"level": t("jaundice.level", lng), "predicted": t("jaundice.predicted", lng),
                                    "bias": t("jaundice.bias", lng), "mg_dl": "mg/dL",
                                    "ci_low": f"{t('jaundice.bias', lng)} · {t('jaundice.ci', lng)} ↓",
                                    "ci_high": f"{t('jaundice.bias', lng)} · {t('jaundice.ci', lng)} ↑"}),
               hide_index=True, width="stretch")

with tab_diag:
    st.markdown(f"**{t('jaundice.diag_title', lng)}**")
    acc = data["accuracy"].copy()
    acc["rule"] = acc["rule"].map(lambda r: t(f"jaundice.rule_{r}", lng))
    for m in ("sensitivity", "specificity", "ppv", "npv"):
        acc[m] = acc.apply(lambda r, m=m: "—" if pd.isna(r[m]) else
                           f"{100 * r[m]:.1f}% ({100 * r[m + '_ci_low']:.1f}–{100 * r[m + '_ci_high']:.1f})", axis=1)
    show_table(acc[["tsb_threshold", "mg_dl", "rule", "tcb_cutoff", "tp", "fp", "fn", "tn", "sensitivity",
                      "specificity", "ppv", "npv"]].rename(columns={
        "tsb_threshold": t("jaundice.threshold", lng), "mg_dl": "mg/dL", "rule": t("jaundice.rule", lng),
        "tcb_cutoff": t("jaundice.cutoff", lng), "sensitivity": t("jaundice.sens", lng),
        "specificity": t("jaundice.spec", lng), "ppv": t("jaundice.ppv", lng), "npv": t("jaundice.npv", lng)}),
        hide_index=True, width="stretch")

with tab_sub:
    st.markdown(f"**{t('jaundice.sub_title', lng)}**")
    sub = data["subgroups"].copy()

    def label(dim: str, level: str) -> str:
        if dim == "device_model":
            return level
        if dim == "ga_site":
            g, s = level.split("/")
            return f"{t(f'jaundice.lv.{g}', lng)} · {t(f'jaundice.lv.{s}', lng)}"
        return t(f"jaundice.lv.{level}", lng)

    def reason(r: str) -> str:
        if not r:
            return ""
        return t(f"jaundice.reason.{r}", lng, n=MIN_PAIRS_FOR_STATS) if r == "too_few" else t(f"jaundice.reason.{r}", lng)

    sub["dim_label"] = sub["dimension"].map(lambda d: t(f"jaundice.dim.{d}", lng))
    sub["label"] = [f"{dl} · {label(d, lv)}" for dl, d, lv in zip(sub["dim_label"], sub["dimension"], sub["level"], strict=True)]
    ok = sub[sub["bias"].notna()]
    fig = go.Figure(go.Scatter(
        x=ok["bias"], y=ok["label"], mode="markers", marker={"size": 9, "color": "#1f77b4"},
        error_x={"type": "data", "symmetric": False, "array": ok["bias_ci_high"] - ok["bias"],
                 "arrayminus": ok["bias"] - ok["bias_ci_low"]}, name=t("jaundice.bias", lng)))
    fig.add_vline(x=float(o["bias"]), line={"color": "#c62828", "dash": "dash"})
    fig.update_layout(height=max(320, 26 * len(ok)), xaxis_title=t("jaundice.ba_y", lng),
                      yaxis={"autorange": "reversed"}, margin={"l": 10, "r": 10, "t": 20, "b": 10})
    ui.chart(fig, key="jaundice_forest", grant=grant, name="jaundice_subgroups", lng=lng)
    table = pd.DataFrame({
        t("jaundice.dimension", lng): sub["dim_label"],
        t("jaundice.group", lng): [label(d, lv) for d, lv in zip(sub["dimension"], sub["level"], strict=True)],
        t("jaundice.pairs", lng): sub["pairs"],
        t("jaundice.bias", lng): sub["bias"].round(1),
        t("jaundice.ci", lng): [("—" if math.isnan(a) else f"{a:.1f} – {b:.1f}") for a, b in
                                zip(sub["bias_ci_low"], sub["bias_ci_high"], strict=True)],
        t("jaundice.sd", lng): sub["sd"].round(1),
        # the primary line's slope (Deming unless Passing-Bablok's assumption holds)
        ("PB " if o.get("primary_regression") == "passing_bablok" else "Deming ") + t("jaundice.slope", lng):
            sub["pb_slope" if o.get("primary_regression") == "passing_bablok" else "deming_slope"].round(3),
        t("jaundice.reason", lng): [reason(r or f) for r, f in zip(sub["stats_reason"], sub["pairs_flag"], strict=True)],
    })
    show_table(table, hide_index=True, width="stretch")

with tab_methods:
    st.markdown(f"**{t('jaundice.about', lng)}**")
    st.markdown(t("jaundice.methods", lng, lam=meta.get("error_ratio"), minp=MIN_PAIRS_FOR_STATS, k1=k - 1))
    st.caption(t("jaundice.suppression_rule", lng, k1=k - 1))

"""Figures shared by the pages. Pure functions of frames: no data access, no access decisions."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from data_products.reference import district_geojson

CENTER = {"lat": 23.27, "lon": 113.50}
SUPPRESSED_COLOR = "#b9b9b9"
_GEOJSON = district_geojson()


def district_choropleth(
    frame: pd.DataFrame,
    *,
    value: str,
    label: str,
    names: pd.Series,
    hover_text: pd.Series | None = None,
    suppressed: pd.Series | None = None,
    suppressed_label: str = "",
    colorscale: str = "Blues",
    height: int = 520,
) -> go.Figure:
    """Districts coloured by ``value`` (``frame`` indexed by adcode); suppressed districts in grey.

    A MapLibre map with the ``white-bg`` style draws no tiles, so it renders with no network.
    Suppressed districts get their own grey trace and legend entry so a hidden figure never
    looks like a low one.
    """
    frame = frame.copy()
    shown = frame if suppressed is None else frame[~suppressed.reindex(frame.index).fillna(False).astype(bool)]
    text = hover_text if hover_text is not None else frame[value].map(lambda v: f"{v:,.1f}" if pd.notna(v) else "")
    fig = go.Figure()
    fig.add_trace(
        go.Choroplethmap(
            geojson=_GEOJSON,
            featureidkey="properties.adcode",
            locations=list(shown.index),
            z=shown[value].astype(float).tolist(),
            text=[f"{names[a]}<br>{label}: {text[a]}" for a in shown.index],
            hoverinfo="text",
            colorscale=colorscale,
            marker={"line": {"color": "white", "width": 1.2}, "opacity": 0.9},
            colorbar={"title": {"text": label}, "thickness": 14},
            name=label,
            customdata=list(shown.index),
        )
    )
    if suppressed is not None and suppressed.any():
        hidden = [a for a in frame.index if bool(suppressed.get(a, False))]
        fig.add_trace(
            go.Choroplethmap(
                geojson=_GEOJSON,
                featureidkey="properties.adcode",
                locations=hidden,
                z=[1] * len(hidden),
                colorscale=[[0, SUPPRESSED_COLOR], [1, SUPPRESSED_COLOR]],
                showscale=False,
                text=[f"{names[a]}<br>{suppressed_label}" for a in hidden],
                hoverinfo="text",
                marker={"line": {"color": "white", "width": 1.2}, "opacity": 0.9},
                name=suppressed_label,
                showlegend=True,
                customdata=hidden,
            )
        )
    fig.update_layout(
        map={"style": "white-bg", "center": CENTER, "zoom": 7.75},
        margin={"l": 0, "r": 0, "t": 0, "b": 0},
        height=height,
        legend={"yanchor": "bottom", "y": 0.01, "xanchor": "left", "x": 0.01},
    )
    return fig


def quantile_boxes(
    frame: pd.DataFrame,
    names: list[str],
    *,
    title: str,
    axis_title: str,
    lines: list[tuple[float, str]] = (),
    log: bool = False,
    height: int = 380,
) -> go.Figure:
    """Box plots drawn from released quantiles (P10/P25/P50/P75/P90 columns), never from records.

    Reference lines (clinical cut-offs) are placed in the axis's own coordinates: on a log axis Plotly
    positions shapes by log10 of the value, so a line at 40 mg/L drawn at y=40 would sit at 10^40 and
    flatten every box. The axis range is fixed to the data and the lines, with a small margin.
    """
    import math

    fig = go.Figure()
    ok = frame[["p10", "p25", "p50", "p75", "p90"]].notna().all(axis=1)
    shown = frame.loc[ok]
    fig.add_trace(go.Box(
        x=[lab for lab, good in zip(names, ok, strict=True) if good],
        q1=shown["p25"].tolist(), median=shown["p50"].tolist(), q3=shown["p75"].tolist(),
        lowerfence=shown["p10"].tolist(), upperfence=shown["p90"].tolist(),
        name=title, marker_color="#1f6f8b", boxpoints=False,
    ))
    values = [*shown["p10"].tolist(), *shown["p90"].tolist(), *(v for v, _ in lines)]
    if log:
        values = [v for v in values if v > 0]
    if values:
        lo, hi = min(values), max(values)
        if log:
            lo, hi = math.log10(lo), math.log10(hi)
        pad = (hi - lo) * 0.08 or 0.5
        fig.update_yaxes(range=[lo - pad, hi + pad])
    for value, text in lines:
        if log and value <= 0:
            continue
        y = math.log10(value) if log else value
        fig.add_shape(type="line", xref="paper", x0=0, x1=1, yref="y", y0=y, y1=y,
                      line={"dash": "dash", "color": "#c0392b"})
        fig.add_annotation(xref="paper", x=0, yref="y", y=y, text=text, showarrow=False, xanchor="left",
                           yanchor="bottom", font={"color": "#c0392b", "size": 11})
    fig.update_layout(title=title, height=height, margin={"l": 10, "r": 10, "t": 40, "b": 10}, showlegend=False,
                      yaxis_title=axis_title)
    if log:
        fig.update_yaxes(type="log")
    return fig

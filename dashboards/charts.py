"""Figures shared by the pages. Pure functions of frames: no data access, no access decisions."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from data_products.reference import district_geojson

CENTER = {"lat": 23.27, "lon": 113.50}
SUPPRESSED_COLOR = "#b9b9b9"
_GEOJSON = district_geojson()


# Sequential classes, light to dark (ColorBrewer YlOrRd / Blues, 5 classes): a class is read off the legend,
# not guessed from a shade on a stretched continuous scale.
PALETTES = {
    "YlOrRd": ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"),
    "Blues": ("#eff3ff", "#bdd7e7", "#6baed6", "#3182bd", "#08519c"),
}


def _nice(v: float) -> float:
    """``v`` rounded to two significant figures, so class edges read as numbers people use."""
    if v == 0 or not math.isfinite(v):
        return v
    digits = 1 - int(math.floor(math.log10(abs(v))))
    return round(v, digits)


def class_breaks(values, k: int = 5) -> list[float]:
    """Quantile class edges (k classes, so k+1 edges) over the values shown, rounded to two significant
    figures; duplicate edges collapse, so a flat map gets fewer classes rather than empty ones. Pass the
    values of every frame of a timeline to keep one scale across it."""
    v = pd.Series(values, dtype="float64").dropna()
    if v.empty:
        return []
    qs = [_nice(float(x)) for x in v.quantile([i / k for i in range(k + 1)], interpolation="linear")]
    qs[0] = min(qs[0], float(v.min()))
    qs[-1] = max(qs[-1], float(v.max()))
    edges: list[float] = []
    for q in qs:
        if not edges or q > edges[-1]:
            edges.append(q)
    return edges if len(edges) > 1 else [edges[0], edges[0]]


def classify(values: pd.Series, breaks: list[float]) -> pd.Series:
    """Class index (0..len(breaks)-2) of each value; NaN stays NaN. Upper edges are inclusive."""
    if len(breaks) < 2:
        return pd.Series(np.nan, index=values.index)
    inner = np.asarray(breaks[1:-1], dtype=float)
    idx = np.searchsorted(inner, values.to_numpy(dtype=float), side="left").astype(float)
    idx[np.isnan(values.to_numpy(dtype=float))] = np.nan
    return pd.Series(idx, index=values.index)


def class_colors(n: int, palette: str = "YlOrRd") -> list[str]:
    colors = PALETTES.get(palette, PALETTES["YlOrRd"])
    if n >= len(colors):
        return list(colors)
    # Spread fewer classes over the whole ramp so the first and last stay light and dark.
    return [colors[round(i * (len(colors) - 1) / max(n - 1, 1))] for i in range(n)]


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
    breaks: list[float] | None = None,
    fmt=None,
) -> go.Figure:
    """Districts coloured by ``value`` (``frame`` indexed by adcode); suppressed districts in grey.

    A MapLibre map with the ``white-bg`` style draws no tiles, so it renders with no network.
    With ``breaks`` the map is classed: one legend entry per class (its range, formatted with ``fmt``),
    the legend below the map so a phone keeps the whole city in view. (District names are not drawn on
    the map: MapLibre needs glyph files for any text, and Plotly's styles fetch them from the internet;
    the ranking beside each map names every district.) Suppressed districts get their own grey trace and legend entry so a hidden figure never looks
    like a low one.
    """
    frame = frame.copy()
    fmt = fmt or (lambda v: f"{v:,.1f}")
    hidden_mask = (pd.Series(False, index=frame.index) if suppressed is None
                   else suppressed.reindex(frame.index).fillna(False).astype(bool))
    shown = frame[~hidden_mask & frame[value].notna()]
    text = hover_text if hover_text is not None else frame[value].map(lambda v: fmt(v) if pd.notna(v) else "")
    fig = go.Figure()
    outline = {"line": {"color": "white", "width": 1.2}, "opacity": 0.9}
    if breaks:
        cls = classify(shown[value].astype(float), breaks)
        colors = class_colors(len(breaks) - 1, colorscale)
        for i, color in enumerate(colors):
            part = shown[cls == i]
            fig.add_trace(go.Choroplethmap(
                geojson=_GEOJSON, featureidkey="properties.adcode", locations=list(part.index),
                z=[1] * len(part), colorscale=[[0, color], [1, color]], showscale=False,
                text=[f"{names[a]}<br>{label}: {text[a]}" for a in part.index], hoverinfo="text",
                marker=outline, name=f"{fmt(breaks[i])} – {fmt(breaks[i + 1])}", showlegend=True,
                customdata=list(part.index), legendrank=i,
            ))
    else:
        fig.add_trace(go.Choroplethmap(
            geojson=_GEOJSON, featureidkey="properties.adcode", locations=list(shown.index),
            z=shown[value].astype(float).tolist(),
            text=[f"{names[a]}<br>{label}: {text[a]}" for a in shown.index], hoverinfo="text",
            colorscale=colorscale, marker=outline, colorbar={"title": {"text": label}, "thickness": 14},
            name=label, customdata=list(shown.index),
        ))
    hidden = [a for a in frame.index if bool(hidden_mask.get(a, False)) or (a not in shown.index and breaks)]
    if hidden:
        fig.add_trace(go.Choroplethmap(
            geojson=_GEOJSON, featureidkey="properties.adcode", locations=hidden, z=[1] * len(hidden),
            colorscale=[[0, SUPPRESSED_COLOR], [1, SUPPRESSED_COLOR]], showscale=False,
            text=[f"{names[a]}<br>{hover_text[a] if hover_text is not None else suppressed_label}" for a in hidden],
            hoverinfo="text",
            marker=outline, name=suppressed_label, showlegend=True, customdata=hidden, legendrank=99,
        ))
    fig.update_layout(
        map={"style": "white-bg", "center": CENTER, "zoom": 7.75},
        margin={"l": 0, "r": 0, "t": 0, "b": 0},
        height=height,
        legend={"orientation": "h", "yanchor": "top", "y": -0.01, "xanchor": "left", "x": 0.0,
                "title": {"text": label}} if breaks else
               {"yanchor": "bottom", "y": 0.01, "xanchor": "left", "x": 0.01},
    )
    return fig


def district_ranking(
    frame: pd.DataFrame,
    *,
    value: str,
    names: pd.Series,
    label: str,
    city: float | None = None,
    city_label: str = "",
    lo: str | None = None,
    hi: str | None = None,
    breaks: list[float] | None = None,
    colorscale: str = "YlOrRd",
    fmt=None,
    height: int | None = None,
) -> go.Figure:
    """The districts ranked by ``value`` (highest on top), coloured by the map's classes, with the city's
    value as a line and an interval per district where ``lo``/``hi`` are given. Suppressed or missing
    districts are left out of the ranking (the map shows them in grey)."""
    fmt = fmt or (lambda v: f"{v:,.1f}")
    shown = frame[frame[value].notna()].sort_values(value, ascending=True)
    color = "#1f6f8b"
    if breaks:
        cls = classify(shown[value].astype(float), breaks)
        palette = class_colors(len(breaks) - 1, colorscale)
        color = [palette[int(c)] if pd.notna(c) else SUPPRESSED_COLOR for c in cls]
    error = None
    if lo and hi and shown[[lo, hi]].notna().any().any():
        error = {"type": "data", "symmetric": False, "color": "#555", "thickness": 1.2, "width": 3,
                 "array": (shown[hi] - shown[value]).fillna(0).tolist(),
                 "arrayminus": (shown[value] - shown[lo]).fillna(0).tolist()}
    fig = go.Figure(go.Bar(
        x=shown[value].astype(float).tolist(), y=[str(names[a]) for a in shown.index], orientation="h",
        marker={"color": color, "line": {"color": "#777", "width": 0.5}}, error_x=error,
        # Values inside the bars' base, clear of the whiskers and the city line at their ends.
        text=[fmt(v) for v in shown[value]], textposition="inside", insidetextanchor="start",
        textfont={"color": "#1d2a2f"}, cliponaxis=False,
        hovertemplate="%{y}: %{text}<extra></extra>", customdata=list(shown.index),
    ))
    if city is not None and pd.notna(city):
        fig.add_vline(x=float(city), line_dash="dash", line_color="#333",
                      annotation_text=f"{city_label} {fmt(city)}", annotation_position="top")
    upper = max([*(shown[hi].dropna().tolist() if hi else []), *shown[value].tolist(), city or 0, 0]) or 1
    fig.update_layout(
        height=height or 60 + 28 * max(len(shown), 1), margin={"l": 10, "r": 30, "t": 30, "b": 10},
        xaxis={"title": {"text": label}, "range": [0, upper * 1.18], "rangemode": "tozero"},
        yaxis={"automargin": True}, showlegend=False,
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

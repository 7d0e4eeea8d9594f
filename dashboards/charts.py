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

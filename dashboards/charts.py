"""Figures shared by the pages. Pure functions of frames: no data access, no access decisions."""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from data_products.reference import district_geojson

SUPPRESSED_COLOR = "#b9b9b9"
_GEOJSON = district_geojson()
# The narrowest map a page draws: a 390 px phone less Streamlit's 16 px margin on each side. A map fitted to
# it shows the whole city on any wider screen too (the server never learns the screen's width).
PHONE_MAP_WIDTH = 358
MAP_HEIGHT = 560
# What a legend below a map takes from its height on a phone (its classes wrap to three rows): Plotly makes
# room for it inside the figure, so a map is fitted to what is left.
LEGEND_ROOM = 90


def _world(lon: float, lat: float) -> tuple[float, float]:
    """Web Mercator position at zoom 0, in MapLibre's pixels (a 512 px world)."""
    y = math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))
    return (lon + 180) / 360 * 512, (1 - y / math.pi) / 2 * 512


@cache
def city_bounds() -> tuple[float, float, float, float]:
    """(west, south, east, north) of the districts' polygons: the extent every map of the city must show."""
    lons: list[float] = []
    lats: list[float] = []

    def walk(coords) -> None:
        if coords and isinstance(coords[0], (int, float)):
            lons.append(float(coords[0]))
            lats.append(float(coords[1]))
        else:
            for c in coords:
                walk(c)

    for feature in _GEOJSON["features"]:
        walk(feature["geometry"]["coordinates"])
    return min(lons), min(lats), max(lons), max(lats)


def fit_view(bounds: tuple[float, float, float, float], *, width: int = PHONE_MAP_WIDTH, height: int = MAP_HEIGHT,
             pad: int = 10) -> dict:
    """The centre and the largest zoom (to 0.01, rounded down) at which ``bounds`` fit a ``width`` x ``height``
    px map with ``pad`` px to spare on every side: fitted, not a fixed zoom, so a map of any height keeps all
    of the city in view."""
    west, south, east, north = bounds
    x0, y1 = _world(west, south)
    x1, y0 = _world(east, north)
    zoom = math.log2(min((width - 2 * pad) / (x1 - x0), (height - 2 * pad) / (y1 - y0)))
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * cy / 512))))
    return {"center": {"lon": round(cx / 512 * 360 - 180, 4), "lat": round(lat, 4)},
            "zoom": math.floor(zoom * 100) / 100}


def city_view(height: int = MAP_HEIGHT, width: int = PHONE_MAP_WIDTH) -> dict:
    """``center`` and ``zoom`` of a map of the whole city (``fit_view`` of ``city_bounds``): every city map."""
    return fit_view(city_bounds(), width=width, height=height)


CENTER, ZOOM = city_view()["center"], city_view()["zoom"]  # a map of the default height

# Plotly's "white-bg" style names a glyph server on the internet (fonts.openmaptiles.org) for any text on a
# map. A style that names none makes MapLibre draw every glyph with the browser's own fonts (Chinese ones
# always are), so the district names render with no request leaving the page. The pages name it by its URL
# on this server (dashboards/static/map-style.json): given as an object, Plotly reloads the style on every
# update and a click on a district selects nothing.
MAP_STYLE_URL = "/app/static/map-style.json"


@cache
def map_style() -> dict:
    """The served style itself, for where no server answers its URL (the PNG renderer's page)."""
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parent / "static" / MAP_STYLE_URL.removeprefix("/app/static/")
    return json.loads(path.read_text(encoding="utf-8"))

# Where each district's name stands: at the district's pole of inaccessibility (the inside point farthest
# from its edges), so the name sits well inside it. The four central districts are too small at the city's
# zoom to hold a name: theirs stand in a column south-west of the city, outside every district and inside a
# phone's view, each with a leader line into its district; in this order no two lines cross. No two names
# touch at the zoom of any map's height (city_view), in either language (tests/dashboards/test_charts.py).
CALLOUT_LON = 113.20
_CALLOUT_LAT = {"440103": 23.00, "440104": 22.92, "440106": 22.84, "440105": 22.76}
LABEL_SIZE = 11


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


@cache
def _label_points() -> pd.DataFrame:
    from shapely.geometry import shape
    from shapely.ops import polylabel

    rows = {}
    for feature in _GEOJSON["features"]:
        adcode = feature["properties"]["adcode"]
        geom = shape(feature["geometry"])
        main = max(getattr(geom, "geoms", [geom]), key=lambda part: part.area)  # Huadu has an islet
        inside = polylabel(main, 0.001)
        callout = adcode in _CALLOUT_LAT
        rows[adcode] = {"lon": CALLOUT_LON if callout else inside.x, "lat": _CALLOUT_LAT.get(adcode, inside.y),
                        "at_lon": inside.x, "at_lat": inside.y, "callout": callout}
    return pd.DataFrame.from_dict(rows, orient="index")


def label_points() -> pd.DataFrame:
    """Per district (index adcode): where its name stands (lon, lat), the point inside it that a leader line
    reaches (at_lon, at_lat), and whether the name stands outside the city (callout)."""
    return _label_points().copy()


def _luminance(color: str) -> float:
    r, g, b = (int(color.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4))
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def add_district_names(fig: go.Figure, names: pd.Series, fills: dict[str, str] | None = None) -> go.Figure:
    """The districts' names on a map figure, drawn by MapLibre as text (no hover, no legend entry, so a click
    still reaches the district under a name). ``names`` maps adcode to the name in the page's language;
    ``fills`` the colour each district is filled with, so a name on a dark class is written in white."""
    pts = _label_points()
    pts = pts[pts.index.isin(names.index)]
    leaders = pts[pts["callout"]]
    if len(leaders):
        lon: list = []
        lat: list = []
        for _, p in leaders.iterrows():
            lon += [p["at_lon"], p["lon"], None]
            lat += [p["at_lat"], p["lat"], None]
        fig.add_trace(go.Scattermap(lon=lon, lat=lat, mode="lines", line={"color": "#4a4a4a", "width": 1},
                                    hoverinfo="skip", showlegend=False, name=""))
    groups: dict[tuple[str, str], list[str]] = {}
    for adcode, p in pts.iterrows():
        fill = None if p["callout"] else (fills or {}).get(adcode)
        color = "#ffffff" if fill and _luminance(fill) < 0.18 else "#1d2a2f"
        groups.setdefault((color, "middle left" if p["callout"] else "middle center"), []).append(adcode)
    for (color, position), codes in groups.items():
        # A name beside its point needs a marker (Plotly offsets the text by the marker's size and drops the
        # layer without one): the dot that ends the leader line.
        beside = position != "middle center"
        fig.add_trace(go.Scattermap(
            lon=pts.loc[codes, "lon"].tolist(), lat=pts.loc[codes, "lat"].tolist(),
            mode="markers+text" if beside else "text", marker={"size": 4, "color": "#4a4a4a"} if beside else None,
            text=[str(names[a]) for a in codes], customdata=codes, textposition=position,
            textfont={"size": LABEL_SIZE, "color": color}, hoverinfo="skip", showlegend=False, name="",
        ))
    return fig


def district_names_on(fig: go.Figure | dict) -> list[str]:
    """The names a map figure writes on itself (its text traces), for tests and checks."""
    data = fig["data"] if isinstance(fig, dict) else [t.to_plotly_json() for t in fig.data]
    return [str(x) for tr in data if tr.get("type") == "scattermap" and "text" in (tr.get("mode") or "")
            for x in tr.get("text", [])]


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
    height: int = 560,
    breaks: list[float] | None = None,
    fmt=None,
) -> go.Figure:
    """Districts coloured by ``value`` (``frame`` indexed by adcode); suppressed districts in grey.

    A MapLibre map with the ``white-bg`` style draws no tiles, so it renders with no network.
    With ``breaks`` the map is classed: one legend entry per class (its range, formatted with ``fmt``),
    the legend below the map so a phone keeps the whole city in view. Each district's name is written on the
    map (``add_district_names``) in the page's language, offline (``MAP_STYLE_URL``). Suppressed districts get
    their own grey trace and legend entry so a hidden figure never looks like a low one.
    """
    frame = frame.copy()
    fmt = fmt or (lambda v: f"{v:,.1f}")
    hidden_mask = (pd.Series(False, index=frame.index) if suppressed is None
                   else suppressed.reindex(frame.index).fillna(False).astype(bool))
    shown = frame[~hidden_mask & frame[value].notna()]
    text = hover_text if hover_text is not None else frame[value].map(lambda v: fmt(v) if pd.notna(v) else "")
    fig = go.Figure()
    outline = {"line": {"color": "white", "width": 1.2}, "opacity": 0.9}
    fills: dict[str, str] = {}
    if breaks:
        cls = classify(shown[value].astype(float), breaks)
        colors = class_colors(len(breaks) - 1, colorscale)
        for i, color in enumerate(colors):
            part = shown[cls == i]
            fills.update(dict.fromkeys(part.index, color))
            fig.add_trace(go.Choroplethmap(
                geojson=_GEOJSON, featureidkey="properties.adcode", locations=list(part.index),
                z=[1] * len(part), colorscale=[[0, color], [1, color]], showscale=False,
                text=[f"{names[a]}<br>{label}: {text[a]}" for a in part.index], hoverinfo="text",
                marker=outline, name=f"{fmt(breaks[i])} – {fmt(breaks[i + 1])}", showlegend=True,
                customdata=list(part.index), legendrank=i,
            ))
    else:
        from plotly.colors import sample_colorscale

        z = shown[value].astype(float)
        span = (z.max() - z.min()) or 1.0
        sampled = sample_colorscale(colorscale, ((z - z.min()) / span).clip(0, 1).tolist(), colortype="tuple")
        fills.update({a: "#" + "".join(f"{round(255 * c):02x}" for c in rgb[:3])
                      for a, rgb in zip(shown.index, sampled, strict=True)})
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
        fills.update(dict.fromkeys(hidden, SUPPRESSED_COLOR))
    add_district_names(fig, names.reindex([a for a in frame.index if a in names.index]), fills)
    fig.update_layout(
        map={"style": MAP_STYLE_URL, **city_view(height - LEGEND_ROOM if breaks else height)},
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
    text: pd.Series | None = None,
) -> go.Figure:
    """The districts ranked by ``value`` (highest on top), coloured by the map's classes, with the city's
    value as a line and an interval per district where ``lo``/``hi`` are given. Suppressed or missing
    districts are left out of the ranking (the map shows them in grey). ``text`` (by district) replaces a
    bar's printed value where it needs more than the number (a lower bound's "≥")."""
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
        text=[str(text[a]) if text is not None and a in text.index else fmt(v) for a, v in shown[value].items()],
        textposition="inside", insidetextanchor="start",
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


def _plain(text) -> str:
    """A hover or label text as one line of plain text (Plotly's <br> and tags out)."""
    import re

    return re.sub(r"<[^>]+>", "", re.sub(r"<br\s*/?>", " · ", str(text))).strip()


def _is_name_layer(trace: dict) -> bool:
    # The district names and their leader lines (add_district_names): drawn on the map, not figures.
    return trace.get("type") == "scattermap" and trace.get("hoverinfo") == "skip"


def _numbers(values) -> bool:
    """Whether a trace coordinate holds numbers (labels are strings)."""
    if values is None:
        return False
    vals = [v for v in (values if isinstance(values, (list, tuple, np.ndarray, pd.Series)) else [values])
            if v is not None]
    return bool(vals) and all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in vals)


def figure_table(fig: go.Figure | dict) -> pd.DataFrame:
    """Exactly the figures a chart draws, as one tidy table (a row per drawn value): what a chart's CSV holds.

    Read from the figure itself, trace by trace, so the file cannot hold a number the chart does not show
    (a suppressed value is missing in the figure and so in the file). Columns: ``series`` (the trace's
    legend name), then per kind of trace its coordinates and values."""
    data = fig["data"] if isinstance(fig, dict) else [tr.to_plotly_json() for tr in fig.data]
    parts: list[pd.DataFrame] = []

    def listed(v, n: int) -> list:
        if v is None:
            return [None] * n
        if isinstance(v, (list, tuple, np.ndarray, pd.Series)):
            return list(v)
        return [v] * n

    for tr in data:
        kind = tr.get("type", "scatter")
        name = _plain(tr.get("name") or "")
        if _is_name_layer(tr):
            continue
        if kind == "bar" or kind == "scatter":
            # A forest plot is a scatter of numbers along x against labels on y, like a horizontal bar.
            horizontal = tr.get("orientation") == "h" or (
                kind == "scatter" and _numbers(tr.get("x")) and not _numbers(tr.get("y")))
            cat, val = ("y", "x") if horizontal else ("x", "y")
            cats, vals = listed(tr.get(cat), 0), listed(tr.get(val), 0)
            frame = pd.DataFrame({"series": name, "category": cats, "value": vals})
            err = tr.get(f"error_{val}") or {}
            if err.get("array") is not None:
                frame["low"] = [v - m if v is not None and m is not None else None
                                for v, m in zip(vals, listed(err.get("arrayminus", err["array"]), len(vals)), strict=True)]
                frame["high"] = [v + p if v is not None and p is not None else None
                                 for v, p in zip(vals, listed(err["array"], len(vals)), strict=True)]
            parts.append(frame)
        elif kind == "heatmap":
            z = np.asarray(tr.get("z"), dtype=float)
            xs = listed(tr.get("x"), z.shape[1]) if tr.get("x") is not None else list(range(z.shape[1]))
            ys = listed(tr.get("y"), z.shape[0]) if tr.get("y") is not None else list(range(z.shape[0]))
            text = tr.get("text")
            rows = [{"series": name, "row": y, "column": x, "value": None if np.isnan(z[i, j]) else float(z[i, j]),
                     **({"shown": _plain(text[i][j])} if text is not None else {})}
                    for i, y in enumerate(ys) for j, x in enumerate(xs)]
            parts.append(pd.DataFrame(rows))
        elif kind == "box":
            parts.append(pd.DataFrame({
                "series": name, "category": listed(tr.get("x"), 0),
                **{col: listed(tr.get(col), len(tr.get("x") or [])) for col in
                   ("lowerfence", "q1", "median", "q3", "upperfence")}}))
        elif kind == "choroplethmap":
            locs = listed(tr.get("locations"), 0)
            parts.append(pd.DataFrame({"series": name, "location": locs,
                                       "shown": [_plain(x) for x in listed(tr.get("text"), len(locs))]}))
        elif kind == "scattermap":
            lons = listed(tr.get("lon"), 0)
            parts.append(pd.DataFrame({"series": name, "lon": lons, "lat": listed(tr.get("lat"), len(lons)),
                                       "shown": [_plain(x) for x in listed(tr.get("text"), len(lons))]}))
        elif kind == "sankey":
            labels = list(tr["node"]["label"])
            link = tr["link"]
            parts.append(pd.DataFrame({"series": name, "source": [labels[i] for i in link["source"]],
                                       "target": [labels[i] for i in link["target"]], "value": list(link["value"])}))
        else:
            raise ValueError(f"figure_table: no table for a {kind} trace")
    parts.append(_reference_lines(fig))
    return pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else \
        pd.DataFrame({"series": []})


def _reference_lines(fig: go.Figure | dict) -> pd.DataFrame:
    """The horizontal and vertical lines a chart draws (a city's value, a clinical cut-off, limits of
    agreement), each with the words written beside it; a log axis's line back in the data's units."""
    layout = fig["layout"] if isinstance(fig, dict) else fig.layout.to_plotly_json()
    notes = [(n.get("xref", ""), n.get("yref", ""), n.get("x"), n.get("y"), _plain(n.get("text", "")))
             for n in layout.get("annotations", []) or []]
    rows = []
    for shape in layout.get("shapes", []) or []:
        if shape.get("type", "line") != "line":
            continue
        for axis in ("y", "x"):
            ref = str(shape.get(f"{axis}ref", axis))
            lo, hi = shape.get(f"{axis}0"), shape.get(f"{axis}1")
            if lo is None or lo != hi or not ref.startswith(axis) or ref.endswith("domain"):
                continue
            log = (layout.get(f"{axis}axis") or {}).get("type") == "log"
            label = next((text for _xr, _yr, x, y, text in notes
                          if (y if axis == "y" else x) == lo and text), "")
            rows.append({"series": label or f"{axis} line", "line_axis": axis,
                         "value": 10 ** lo if log else lo})
    return pd.DataFrame(rows)

"""Shared figures: what a reader sees must sit inside the axis that shows it."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from dashboards.charts import LEGEND_ROOM, MAP_HEIGHT, PHONE_MAP_WIDTH, quantile_boxes


def _frame():
    # Released-quantile rows as the pneumonia views return them (CRP-like spread, mg/L).
    return pd.DataFrame(
        {"p10": [1.2, 3.0, None], "p25": [2.5, 6.0, None], "p50": [6.0, 14.0, 9.0],
         "p75": [18.0, 40.0, None], "p90": [55.0, 120.0, None]},
        index=["<1", "1-5", "6-13"],
    )


@pytest.mark.parametrize("log", [True, False])
def test_cutoff_lines_and_axis_range_follow_the_data(log):
    fig = quantile_boxes(_frame(), ["<1", "1-5", "6-13"], title="t", axis_title="CRP",
                         lines=[(10.0, "> 10"), (40.0, "≥ 40")], log=log)
    lo, hi = fig.layout.yaxis.range
    to_axis = math.log10 if log else (lambda v: v)
    # The axis spans the released P10..P90 (1.2..120) and the cut-offs, plus at most a small margin.
    assert lo <= to_axis(1.2) and hi >= to_axis(120.0)
    span = to_axis(120.0) - to_axis(1.2)
    assert lo >= to_axis(1.2) - 0.1 * span and hi <= to_axis(120.0) + 0.1 * span
    ys = sorted(s.y0 for s in fig.layout.shapes)
    assert ys == pytest.approx([to_axis(10.0), to_axis(40.0)])
    assert all(lo <= y <= hi for y in ys)
    assert fig.layout.yaxis.type == ("log" if log else None)


def test_only_fully_released_rows_are_drawn():
    fig = quantile_boxes(_frame(), ["a", "b", "c"], title="t", axis_title="x")
    assert list(fig.data[0].x) == ["a", "b"]
    assert list(fig.data[0].median) == [6.0, 14.0]


# --- district names on the maps ----------------------------------------------------------------------------


def _pixels(lon: float, lat: float, zoom: float) -> tuple[float, float]:
    """Web Mercator pixels of MapLibre (512 px tiles)."""
    size = 512 * 2**zoom
    return (lon + 180) / 360 * size, (1 - math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)) / math.pi) / 2 * size


def _label_boxes(zoom: float, lang: str):
    """Each name's box on screen: a generous estimate of the text (a Chinese character one font size wide,
    a Latin letter 0.62 of it, two pixels of padding), centred on its point or left of a callout's dot."""
    from shapely.geometry import box

    from dashboards.charts import LABEL_SIZE, label_points
    from data_products.reference import districts

    names = districts().set_index("adcode")["name_zh" if lang == "zh" else "name_en"]
    out = {}
    for adcode, p in label_points().iterrows():
        name = names[adcode]
        w = len(name) * LABEL_SIZE * (1.0 if lang == "zh" else 0.62) + 4
        h = LABEL_SIZE * 1.2 + 4
        x, y = _pixels(p["lon"], p["lat"], zoom)
        x0 = x - w - 4 if p["callout"] else x - w / 2
        out[adcode] = box(x0, y - h / 2, x0 + w, y + h / 2)
    return out


def _to_lonlat(x: float, y: float, zoom: float) -> tuple[float, float]:
    size = 512 * 2**zoom
    return x / size * 360 - 180, math.degrees(2 * math.atan(math.exp(math.pi * (1 - 2 * y / size))) - math.pi / 2)


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("height", [MAP_HEIGHT - LEGEND_ROOM])  # every city map, less its legend below
def test_district_names_stand_clear_of_each_other_and_in_the_right_place(lang, height):
    from shapely.geometry import LineString, Point, box, shape

    from dashboards.charts import city_view, label_points
    from data_products.reference import district_geojson

    view = city_view(height)
    zoom, center = view["zoom"], view["center"]
    shapes = {f["properties"]["adcode"]: shape(f["geometry"]) for f in district_geojson()["features"]}
    pts = label_points()
    assert set(pts.index) == set(shapes) and len(pts) == 11
    boxes = _label_boxes(zoom, lang)
    codes = sorted(boxes)
    touching = [(a, b) for i, a in enumerate(codes) for b in codes[i + 1:] if boxes[a].intersects(boxes[b])]
    assert touching == []
    for adcode, p in pts.iterrows():
        # A leader line (or the name itself) starts inside its own district.
        assert shapes[adcode].contains(Point(p["at_lon"], p["at_lat"])), adcode
        x0, y0, x1, y1 = boxes[adcode].bounds
        (lon0, lat1), (lon1, lat0) = _to_lonlat(x0, y0, zoom), _to_lonlat(x1, y1, zoom)
        where = box(lon0, lat0, lon1, lat1)
        if p["callout"]:
            # Outside every district, so it cannot be read as another district's name.
            assert not any(s.intersects(where) for s in shapes.values()), adcode
        else:
            assert shapes[adcode].contains(Point(p["lon"], p["lat"])), adcode
    # On a 390 px phone (358 px of map) every name is inside the view, and so is every district.
    cx, cy = _pixels(center["lon"], center["lat"], zoom)
    half = PHONE_MAP_WIDTH / 2
    assert all(cx - half <= b.bounds[0] and b.bounds[2] <= cx + half for b in boxes.values())
    assert all(cy - height / 2 <= b.bounds[1] and b.bounds[3] <= cy + height / 2 for b in boxes.values())
    for s in shapes.values():
        w, so, e, n = s.bounds
        (x0, y1), (x1, y0) = _pixels(w, so, zoom), _pixels(e, n, zoom)
        assert cx - half <= x0 and x1 <= cx + half and cy - height / 2 <= y0 and y1 <= cy + height / 2
    lines = [LineString([(p["at_lon"], p["at_lat"]), (p["lon"], p["lat"])]) for _, p in pts[pts["callout"]].iterrows()]
    assert len(lines) == 4
    assert not any(a.intersects(b) for i, a in enumerate(lines) for b in lines[i + 1:])


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_map_writes_every_district_name_offline(lang):
    import json

    from dashboards.charts import class_breaks, district_choropleth, district_names_on
    from data_products.reference import districts

    d = districts().set_index("adcode")
    names = d["name_zh" if lang == "zh" else "name_en"]
    frame = pd.DataFrame({"v": [float(i) for i in range(11)]}, index=d.index)
    hidden = pd.Series(False, index=d.index)
    hidden.iloc[3] = True
    fig = district_choropleth(frame, value="v", label="x", names=names, breaks=class_breaks(frame["v"][~hidden]),
                              suppressed=hidden, colorscale="YlOrRd")
    assert sorted(district_names_on(fig)) == sorted(names)
    # Nothing on the map reaches beyond the page: its style, served by the app, names no glyph server, no
    # tiles, no sprite (Plotly's white-bg names a glyph server on the internet).
    from dashboards.charts import MAP_STYLE_URL, map_style

    assert fig.layout.map.style == MAP_STYLE_URL and MAP_STYLE_URL.startswith("/app/static/")
    style = map_style()  # the served file
    assert "glyphs" not in style and "sprite" not in style
    assert "http" not in json.dumps(style) and style["sources"] == {}
    # A name on the darkest class is written in white, the others in the page's ink.
    dark = {c for tr in fig.data if tr.type == "scattermap" and tr.textfont.color == "#ffffff" for c in tr.customdata}
    assert dark and all(frame.at[a, "v"] >= 8 for a in dark)


# --- a chart's CSV ------------------------------------------------------------------------------------------


def test_a_charts_csv_holds_what_it_draws_and_leaves_one_ledger_entry(demo, signed_in):
    """The ranking beside the atlas map: its CSV holds each shown district's value and interval, the same
    numbers the product's view gives (the independent truth here), no suppressed district, the city line;
    the gate records the download once, with the file's hash."""
    import hashlib
    import io

    from dashboards.charts import district_ranking
    from dashboards.ui import chart_csv
    from data_products.disclosure import ALL
    from data_products.governance import ledger
    from data_products.governance.gate import open_product
    from data_products.products.intervals import add_intervals
    from data_products.products.pneumonia import views
    from data_products.reference import districts

    user = signed_in("official")
    grant = open_product(user, views.PRODUCT_ID)
    months = views.months(grant)
    values = views.district_values(grant, "mp_positivity", months[0], months[-1])
    shown = values.drop(index=ALL)
    ranked = add_intervals(shown[~shown["suppressed"]], views.METRICS["mp_positivity"].kind)
    names = districts().set_index("adcode")["name_en"]
    fig = district_ranking(ranked, value="value", names=names, label="MP", city=values.at[ALL, "value"],
                           city_label="City", lo="lo", hi="hi")
    before = len(ledger.entries(actor=user.username, action="download", limit=10_000))
    data = chart_csv(grant, fig, "ranking.csv")
    got = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig")
    bars = got[got["line_axis"].isna()].set_index("category")
    want = ranked.set_index(names.reindex(ranked.index))
    assert sorted(bars.index) == sorted(want.index) and len(bars) == (~shown["suppressed"]).sum()
    assert bars["value"].to_dict() == pytest.approx(want["value"].to_dict())
    assert bars["low"].to_dict() == pytest.approx(want["lo"].to_dict())
    assert bars["high"].to_dict() == pytest.approx(want["hi"].to_dict())
    city = got[got["line_axis"] == "x"]
    assert city["value"].tolist() == pytest.approx([values.at[ALL, "value"]])
    assert set(got["release_id"]) == {grant.release_id} and got["synthetic"].all()
    entries = ledger.entries(actor=user.username, action="download", limit=10_000)
    assert len(entries) == before + 1
    assert entries[0].detail["artifact"] == "ranking.csv"
    assert entries[0].detail["sha256"] == hashlib.sha256(data).hexdigest()


def test_figure_table_reads_every_kind_of_chart_the_pages_draw():
    import plotly.graph_objects as go

    from dashboards.charts import figure_table

    heat = go.Figure(go.Heatmap(z=[[1.0, None], [3.0, 4.0]], x=["2024-01", "2024-02"], y=["RSV", "MP"],
                                text=[["1.0", "×"], ["3.0", "4.0"]]))
    table = figure_table(heat)
    assert table[["row", "column"]].values.tolist() == [["RSV", "2024-01"], ["RSV", "2024-02"], ["MP", "2024-01"],
                                                       ["MP", "2024-02"]]
    assert table["value"].isna().tolist() == [False, True, False, False] and table["shown"][1] == "×"
    sankey = figure_table(go.Figure(go.Sankey(node={"label": ["A", "B", "→ C"]},
                                              link={"source": [0, 1], "target": [2, 2], "value": [12, 30]})))
    assert sankey[["source", "target", "value"]].values.tolist() == [["A", "→ C", 12], ["B", "→ C", 30]]
    line = go.Figure(go.Scatter(x=[2022, 2023], y=[5.0, 6.5], name="Tianhe"))
    line.add_hline(y=3.0, annotation_text="limit")
    out = figure_table(line)
    assert out.iloc[:2][["series", "category", "value"]].values.tolist() == [["Tianhe", 2022, 5.0], ["Tianhe", 2023, 6.5]]
    assert out.iloc[2][["series", "line_axis", "value"]].tolist() == ["limit", "y", 3.0]
    # The jaundice forest plot: biases along x against subgroup labels, with their intervals.
    forest = figure_table(go.Figure(go.Scatter(
        x=[1.5, -2.0], y=["GA · <37", "GA · ≥37"], mode="markers",
        error_x={"type": "data", "symmetric": False, "array": [0.5, 1.0], "arrayminus": [0.25, 2.0]})))
    assert forest[["category", "value", "low", "high"]].values.tolist() == [["GA · <37", 1.5, 1.25, 2.0],
                                                                          ["GA · ≥37", -2.0, -4.0, -1.0]]
    # A hidden count is drawn as no bar and written as a blank, never as 0.
    bars = figure_table(go.Figure(go.Bar(x=["tertiary", "secondary"], y=pd.Series([120, None], dtype="Int64")
                                         .astype(float))))
    assert bars["value"].iloc[0] == 120 and pd.isna(bars["value"].iloc[1])


def test_a_charts_png_is_drawn_offline_with_its_names_and_leaves_one_ledger_entry(demo, signed_in):
    """kaleido in Debian's Chromium: the atlas map as a PNG (with the district names and the release written on
    it), one ledger entry with the file's hash. No internet: the figure and kaleido's page name no URL."""
    import hashlib
    import io

    from PIL import Image

    from dashboards import png
    from dashboards.charts import class_breaks, district_choropleth
    from dashboards.ui import chart_png
    from data_products.disclosure import ALL
    from data_products.governance import ledger
    from data_products.governance.gate import open_product
    from data_products.products.pneumonia import views
    from data_products.reference import districts

    if not png.available():
        pytest.skip("kaleido or Chromium missing: pip install .[png]; apt-get install chromium")
    user = signed_in("official")
    grant = open_product(user, views.PRODUCT_ID)
    months = views.months(grant)
    shown = views.district_values(grant, "mp_positivity", months[0], months[-1]).drop(index=ALL)
    names = districts().set_index("adcode")["name_zh"]
    fig = district_choropleth(shown, value="value", label="MP", names=names, suppressed=shown["suppressed"],
                              breaks=class_breaks(shown.loc[~shown["suppressed"], "value"]), colorscale="YlOrRd")
    before = len(ledger.entries(actor=user.username, action="download", limit=10_000))
    data = chart_png(grant, fig, "map.png", "zh")
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG" and image.size == (900, 560 + 36)
    # Drawn, not blank: the classes' colours are on it (YlOrRd's light yellow and dark red ends).
    colours = {c[:3] for _, c in image.convert("RGBA").getcolors(maxcolors=1 << 20)}
    assert len(colours) > 50
    entries = ledger.entries(actor=user.username, action="download", limit=10_000)
    assert len(entries) == before + 1
    assert entries[0].detail["artifact"] == "map.png"
    assert entries[0].detail["sha256"] == hashlib.sha256(data).hexdigest()

"""AppTest of the atlas page: it renders for every allowed role and filter combination, plots exactly the
views' values (which other tests check against the approved table), and never shows a suppressed cell as
a number in the figure or the tables."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from dashboards.charts import SUPPRESSED_COLOR, class_breaks, classify
from data_products.disclosure import ALL
from data_products.governance.gate import open_product
from data_products.products.pneumonia import views

APP = str(Path(__file__).resolve().parents[2] / "dashboards" / "app.py")


def open_atlas(principal, **params) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    at.query_params["lang"] = "en"
    for k, v in params.items():
        at.query_params[k] = v
    at.session_state["principal"] = principal
    at.run()
    at.switch_page("views/pneumonia.py")
    return at.run()


def map_traces(at: AppTest) -> list[dict]:
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    return spec["data"]


def traces_of(at: AppTest) -> list[list[dict]]:
    return [json.loads(c.proto.spec)["data"] for c in at.get("plotly_chart")]


@pytest.mark.parametrize("username", ["official", "analyst", "hospital_f0301", "hospital_f0602"])
def test_renders_for_each_allowed_role(demo, username, signed_in):
    at = open_atlas(signed_in(username))
    assert not at.exception, at.exception
    assert at.title[0].value == "Pediatric pneumonia infection-marker atlas"
    assert len(at.get("plotly_chart")) >= 5
    # Plotly's modebar (its own "download as png") is off on every chart the browser gets.
    assert all(json.loads(c.proto.config)["displayModeBar"] is False for c in at.get("plotly_chart"))


@pytest.mark.parametrize(
    "metric,age,sex,period",
    [
        ("cases", "ALL", "ALL", None),
        ("rsv_positivity", "lt1", "M", ("2024-02", "2024-02")),
        ("crp_mg_l_p50", "6to13", "F", ("2023-11", "2023-11")),
        ("pct_gt05_share", "1to5", "ALL", ("2023-06", "2023-09")),
        ("rate", "6to13", "ALL", None),
    ],
)
def test_map_plots_the_views_values_and_never_a_suppressed_one(demo, metric, age, sex, period, signed_in):
    user = signed_in("official")
    months = views.months(open_product(user, views.PRODUCT_ID))
    start, end = period or (months[0], months[-1])
    at = open_atlas(signed_in("official"))
    # Set the filters as a user would, through the widgets.
    at.selectbox(key="metric").set_value(metric)
    at.selectbox(key="age").set_value(age)
    at.selectbox(key="sex").set_value(sex)
    at.select_slider(key="period").set_value((start, end))
    at.run()
    assert not at.exception, at.exception
    want = views.district_values(open_product(user, views.PRODUCT_ID), metric, start, end, age, sex).drop(index=ALL)
    traces = map_traces(at)
    polys = [tr for tr in traces if tr["type"] == "choroplethmap"]
    grey = [tr for tr in polys if tr["colorscale"][0][1] == SUPPRESSED_COLOR]
    classed = [tr for tr in polys if tr not in grey]
    shown = want[~want["suppressed"] & want["value"].notna()]
    hidden = want[want["suppressed"]]
    # Each district with a value sits in the class its value falls in (quantile classes of the shown values).
    located = {a: i for i, tr in enumerate(classed) for a in tr["locations"]}
    assert set(located) == set(shown.index)
    expected = classify(shown["value"], class_breaks(shown["value"]))
    assert all(located[a] == expected[a] for a in located)
    for tr in classed:
        assert set(tr["z"]) <= {1}  # the class is the colour; the figure is in the hover text and the ranking
    # The ranking beside the map plots exactly the views' values, one bar per shown district.
    bars = next(tr for tr in traces_of(at) if tr and tr[0]["type"] == "bar")[0]
    plotted = dict(zip(bars["customdata"], bars["x"], strict=True))
    assert set(plotted) == set(shown.index)
    for adcode, x in plotted.items():
        assert x == pytest.approx(shown.at[adcode, "value"])
    if len(hidden):
        assert len(grey) == 1
        assert set(hidden.index) <= set(grey[0]["locations"])
        assert set(grey[0]["z"]) == {1}  # a flat colour, no figure
        for code, text in zip(grey[0]["locations"], grey[0]["text"], strict=True):
            if code in hidden.index:
                assert not any(ch.isdigit() for ch in text.split("<br>")[1].replace("10", "")), text
    # The table of what is shown: hidden districts read "—", never a number.
    table = next(d.value for d in at.dataframe if "n" in d.value.columns)
    for _, row in table.iterrows():
        name = row.iloc[0]
        code = next((a for a in hidden.index if a in views.districts().set_index("adcode").index
                     and views.districts().set_index("adcode").at[a, "name_en"] == name), None)
        if code is not None:
            assert row.iloc[1] == "—" and row["n"] == "—"


def test_at_least_one_combination_has_suppressed_districts(demo, signed_in):
    """Guards the test above against passing vacuously."""
    user = signed_in("official")
    v = views.district_values(open_product(user, views.PRODUCT_ID), "rsv_positivity", "2024-02", "2024-02", "lt1", "M")
    assert v["suppressed"].any()


def test_hospital_sees_its_facility_beside_the_city(demo, signed_in):
    at = open_atlas(signed_in("hospital_f0301"))
    own = next(d.value for d in at.dataframe if "Own facility" in d.value.columns)
    assert {"P25", "P50", "P75", "Percentile rank"} <= set(own.columns)
    assert own["Own facility"].iloc[0] != "—"


def test_filters_live_in_the_url(demo, signed_in):
    at = open_atlas(signed_in("official"), metric="crp_mg_l_p50", age="6to13")
    assert at.selectbox(key="metric").value == "crp_mg_l_p50"
    assert at.selectbox(key="age").value == "6to13"


@pytest.mark.parametrize("marker", ["crp_mg_l", "pct_ng_ml", "il6_pg_ml", "wbc_10e9_l"])
def test_distribution_axes_lie_within_the_released_quantiles_and_cutoffs(demo, marker, signed_in):
    at = open_atlas(signed_in("official"))
    at.selectbox(key="marker").set_value(marker)
    at.run()
    assert not at.exception, at.exception
    boxes = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    boxes = [s for s in boxes if s["data"] and s["data"][0].get("type") == "box"]
    assert len(boxes) == 2
    for spec in boxes:
        trace, layout = spec["data"][0], spec["layout"]
        log = layout["yaxis"].get("type") == "log"
        to_axis = np.log10 if log else (lambda v: v)
        shapes = [s["y0"] for s in layout.get("shapes", [])]
        values = [*trace["lowerfence"], *trace["upperfence"]]
        ends = [to_axis(min(values)), to_axis(max(values))]
        ends = [min(ends[0], *shapes), max(ends[1], *shapes)] if shapes else ends
        lo, hi = layout["yaxis"]["range"]
        assert lo <= ends[0] and hi >= ends[1]
        assert hi - lo <= (ends[1] - ends[0]) * 1.2 + 1e-9

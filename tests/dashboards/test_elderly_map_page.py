"""AppTest of the elderly atlas map: classed districts and a ranking that plots exactly the view's shares."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboards.charts import SUPPRESSED_COLOR, class_breaks, classify
from data_products.disclosure import ALL
from data_products.governance.gate import open_product
from data_products.products.elderly_weight import views

APP = str(Path(__file__).resolve().parents[2] / "dashboards" / "app.py")


@pytest.mark.parametrize("category", ["obese", "normal"])
def test_map_classes_and_ranking_follow_the_released_shares(demo, category, signed_in):
    at = AppTest.from_file(APP, default_timeout=90)
    at.query_params["lang"] = "en"
    at.query_params["cat"] = category
    at.session_state["principal"] = signed_in("official")
    at.run()
    at.switch_page("views/elderly_weight.py")
    at.run()
    assert not at.exception, at.exception
    want = views.district_values(open_product(signed_in("official"), views.PRODUCT_ID), category).drop(index=ALL)
    shown = want[~want["suppressed"]]
    charts = [json.loads(c.proto.spec)["data"] for c in at.get("plotly_chart")]
    polys = [tr for tr in charts[0] if tr["type"] == "choroplethmap"]
    classed = [tr for tr in polys if tr["colorscale"][0][1] != SUPPRESSED_COLOR]
    located = {a: i for i, tr in enumerate(classed) for a in tr["locations"]}
    expected = classify(shown["share"], class_breaks(shown["share"]))
    assert located == {a: int(expected[a]) for a in shown.index}
    bars = next(d[0] for d in charts if d and d[0]["type"] == "bar" and d[0].get("orientation") == "h")
    plotted = dict(zip(bars["customdata"], bars["x"], strict=True))
    assert plotted == pytest.approx(shown["share"].to_dict())
    # Whiskers: a 95% interval around every plotted share.
    assert all(lo >= 0 and hi >= 0 for lo, hi in zip(bars["error_x"]["arrayminus"], bars["error_x"]["array"], strict=True))

"""The app opened in a real browser with the network blocked: sign-in, then the overview and its map."""

from __future__ import annotations

import json

import pytest

from dashboards.charts import MAP_STYLE_URL, map_style
from data_products.governance import demo_passwords

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("lng", ["zh", "en"])
def test_overview_renders_offline(demo, serve, browser, browser_sign_in, lng):
    with serve(demo) as url, browser() as b:
        browser_sign_in(b, url, "analyst", demo_passwords()["analyst"], lang=lng)
        # The choropleth drew the 11 districts (MapLibre draws to a canvas; the plot element holds the
        # trace data it drew from).
        b.page.wait_for_selector(".js-plotly-plot .maplibregl-canvas", timeout=20_000)
        n = b.page.evaluate(
            "() => { const p = document.querySelector('.js-plotly-plot');"
            " return p && p.data ? p.data[0].locations.length : 0 }"
        )
        assert n == 11
        text = b.page.inner_text("body")
        assert "Page not found" not in text
        if lng == "zh":
            assert "广州市 11 个区概览" in text and "合成" in text
        else:
            assert "Guangzhou's 11 districts" in text and "Synthetic" in text
        # The maps' style is served by the app itself, so the map needs no server beyond it: the browser gets
        # it (200) and it is the style the code defines.
        got = b.page.evaluate("async (u) => { const r = await fetch(u); return [r.status, await r.text()] }",
                              MAP_STYLE_URL)
        assert got[0] == 200 and json.loads(got[1]) == map_style()
        b.screenshot(f"overview-{lng}")
        assert b.failed == [], b.failed
        assert b.blocked == [], b.blocked

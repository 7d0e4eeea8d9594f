"""The app opened in a real browser with the network blocked: the shell and the overview map."""

from __future__ import annotations

import pytest

from tests.browser import browser, serve

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("lng", ["zh", "en"])
def test_overview_renders_offline(home, lng):
    with serve(home) as url, browser() as b:
        b.page.goto(f"{url}/?lang={lng}")
        b.wait_idle()
        # The choropleth drew the 11 districts as filled shapes (MapLibre draws to a canvas; the
        # plotly layer holds one path per feature in its hover layer, so check the canvas and the
        # trace data the plot received).
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
        b.screenshot(f"overview-{lng}")
        assert b.failed == [], b.failed

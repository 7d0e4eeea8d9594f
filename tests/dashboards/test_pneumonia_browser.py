"""The pneumonia atlas in a real browser, offline: map and charts draw, a district click opens its
profile, and the download delivers the CSV with its suppression flags."""

from __future__ import annotations

import io
import zipfile

import pandas as pd
import pytest
from shapely.geometry import shape

from data_products.governance import demo_passwords
from data_products.reference import district_geojson

pytestmark = pytest.mark.browser

CONGHUA = "440117"


def _inside(adcode: str) -> tuple[float, float]:
    feat = next(f for f in district_geojson()["features"] if f["properties"]["adcode"] == adcode)
    p = shape(feat["geometry"]).representative_point()
    return p.x, p.y


def test_atlas_offline_click_and_download(demo, serve, browser, browser_sign_in, open_page):
    with serve(demo) as url, browser() as b:
        browser_sign_in(b, url, "official", demo_passwords()["official"])
        open_page(b, "pneumonia")
        page = b.page
        page.wait_for_selector(".js-plotly-plot .maplibregl-canvas", timeout=30_000)
        drawn = page.evaluate("() => [...document.querySelectorAll('.js-plotly-plot')].map(p => (p.data || []).length)")
        assert drawn and drawn[0] >= 1
        b.screenshot("pneumonia-map")

        # Click inside Conghua on the map canvas: the profile switches to it.
        lon, lat = _inside(CONGHUA)
        xy = page.evaluate(
            """([lon, lat]) => { const gd = document.querySelector('.js-plotly-plot');
                const m = gd._fullLayout.map._subplot.map; const p = m.project([lon, lat]);
                const r = m.getCanvas().getBoundingClientRect(); return [r.left + p.x, r.top + p.y]; }""",
            [lon, lat],
        )
        page.mouse.click(xy[0], xy[1])
        page.wait_for_timeout(800)
        b.wait_idle()
        page.get_by_role("tab", name="District profile").click()
        page.wait_for_timeout(300)
        # The district filter is bound to the URL and its selector now reads Conghua.
        assert "district=440117" in page.url
        picker = page.locator('[data-testid="stSelectbox"]').filter(has_text="District").first
        shown = picker.text_content() + " ".join(picker.locator("input").evaluate_all("els => els.map(e => e.value)"))
        assert "Conghua" in shown, shown
        b.screenshot("pneumonia-profile")

        # Seasons and distributions drew their charts.
        page.get_by_role("tab", name="Seasons").click()
        page.wait_for_timeout(500)
        assert page.locator(".js-plotly-plot .heatmaplayer, .js-plotly-plot .hm image, .js-plotly-plot image").count() >= 1

        # Download: one click, a zip of the CSV (with the flags) and its metadata.
        page.get_by_role("tab", name="Table and download").click()
        b.wait_idle()
        button = page.locator('[data-testid="stDownloadButton"] button', has_text="Download this table")
        button.wait_for(timeout=30_000)
        with page.expect_download() as info:
            button.click()
        with zipfile.ZipFile(info.value.path()) as z:
            names = z.namelist()
            assert len(names) == 2 and any(n.endswith(".metadata.json") for n in names)
            csv_name = next(n for n in names if n.endswith(".csv"))
            frame = pd.read_csv(io.BytesIO(z.read(csv_name)), encoding="utf-8-sig", dtype=str, keep_default_na=False)
        assert {"district", "value", "suppressed", "suppression_reason"} <= set(frame.columns)
        assert len(frame) == 12  # 11 districts and the city
        b.screenshot("pneumonia-download")
        assert b.failed_other == [] and b.blocked == [], (b.failed, b.blocked)


def test_a_shared_link_opens_its_view_after_sign_in_and_not_past_the_gate(demo, serve, browser, browser_sign_in, open_page):
    with serve(demo) as url, browser() as b:
        page = b.page
        page.goto(f"{url}/pneumonia?lang=en&metric=crp_mg_l_p50&age=6to13")
        b.wait_idle()
        assert "Pediatric pneumonia" not in page.inner_text("body")  # nothing of the page before sign-in
        page.get_by_role("textbox", name="Username").fill("official")
        page.get_by_role("textbox", name="Password").fill(demo_passwords()["official"])
        page.get_by_role("button", name="Sign in").click()
        b.wait_idle()
        page.wait_for_timeout(1000)
        b.wait_idle()
        assert "/pneumonia" in page.url and "metric=crp_mg_l_p50" in page.url and "age=6to13" in page.url
        assert "Median CRP" in page.inner_text("body")
    with serve(demo) as url, browser() as b:
        b.page.goto(f"{url}/jaundice?lang=en")
        b.wait_idle()
        b.page.get_by_role("textbox", name="Username").fill("company_none")
        b.page.get_by_role("textbox", name="Password").fill(demo_passwords()["company_none"])
        b.page.get_by_role("button", name="Sign in").click()
        b.wait_idle()
        b.page.wait_for_timeout(1000)
        assert "/jaundice" not in b.page.url
        assert "Bland" not in b.page.inner_text("body")

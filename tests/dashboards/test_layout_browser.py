"""Phone (390 px) and desktop (1440 px) layouts in Debian's Chromium, outside requests aborted: every demo
role's product pages render with their main chart drawn, nothing wider than the screen, no metric or download
button cut off, every city map showing the whole city; on a
phone the heatmaps give way to tables and the sidebar closes after navigating. Screenshots go to
test-artifacts/layout-<role>-<page>-<width>.png."""

from __future__ import annotations

import pytest

from dashboards.charts import city_bounds
from data_products.governance import demo_passwords

pytestmark = pytest.mark.browser

PHONE, DESKTOP = 390, 1440
# Every demo role; the pages each must at least have (its navigation may offer more, and all are checked).
ROLES = ["official", "analyst", "hospital_f0301", "hospital_f0602", "company_jaundice", "company_none"]
AT_LEAST = {
    "official": ["pneumonia", "elderly-weight", "tumor", "wait-board", "wait-times", "jaundice"],
    "hospital_f0301": ["pneumonia", "wait-board", "wait-times"],
    "company_jaundice": ["jaundice"],
}
CHARTLESS = {"wait-board"}  # a list of facilities, no chart


def _charted(path: str, width: int) -> bool:
    # The slot view's main view is its day-by-hour heatmap, which a phone shows as a table (checked below).
    return path not in CHARTLESS and not (path == "wait-times" and width == PHONE)

LAYOUT_JS = """() => {
    const doc = document.documentElement;
    // A metric is clipped when its box, or anything inside it, is narrower than its text (ellipsis or hidden).
    const clipped = [...document.querySelectorAll(
            '[data-testid="stMetricValue"], [data-testid="stMetricLabel"], [data-testid="stDownloadButton"] button')]
        .filter(e => e.offsetParent !== null && [e, ...e.querySelectorAll('*')]
            .some(x => x.clientWidth > 0 && x.scrollWidth > x.clientWidth + 1))
        .map(e => e.innerText);
    const plots = [...document.querySelectorAll('.js-plotly-plot')].filter(p => p.offsetParent !== null);
    const drawn = plots.filter(p => p.data && p.data.length && p.querySelector('svg.main-svg, canvas')).length;
    // What each city map shows: MapLibre's own view of it (west, south, east, north), as drawn at this width.
    const maps = plots.filter(p => p._fullLayout && p._fullLayout.map && p._fullLayout.map._subplot
                                   && p._fullLayout.map._subplot.map)
        .map(p => { const b = p._fullLayout.map._subplot.map.getBounds();
                    return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]; });
    return {overflow: doc.scrollWidth - window.innerWidth, clipped, drawn, maps};
}"""
MAP_PAGES = {"pneumonia", "elderly-weight", "tumor"}  # each opens with a map of the whole city
MAPS_MADE_JS = """() => {
    const maps = [...document.querySelectorAll('.js-plotly-plot')].filter(p => p._fullLayout && p._fullLayout.map);
    return maps.length > 0 && maps.every(p => p._fullLayout.map._subplot && p._fullLayout.map._subplot.map);
}"""


def _wait_session_cookie(b) -> None:
    for _ in range(120):
        if any(c["name"] == "dsp_session" for c in b.context.cookies()):
            return
        b.page.wait_for_timeout(250)
    raise AssertionError("no session cookie after signing in")


def _open(b, url: str, path: str, width: int) -> dict:
    b.page.goto(f"{url}/{path}?lang=en")
    b.page.wait_for_selector('[data-testid="stSidebarNavLink"], [data-testid="stSidebarCollapsedControl"]',
                             state="attached", timeout=90_000)
    b.wait_idle(90_000)
    if _charted(path, width):
        b.page.wait_for_selector(".js-plotly-plot .main-svg >> visible=true", timeout=90_000)
    if path in MAP_PAGES:
        # Plotly makes a map's MapLibre view after its first draw: wait for it before reading its extent.
        b.page.wait_for_function(MAPS_MADE_JS, timeout=90_000)
    b.page.wait_for_timeout(400)
    return b.page.evaluate(LAYOUT_JS)


@pytest.fixture(scope="module")
def served(demo_home_built, serve, copy_demo, tmp_path_factory):
    """One served app for this module's tests (a server per test cost more than the pages it serves), on a
    private copy of the demo space: its sign-ins and ledger entries never reach the shared one."""
    with serve(copy_demo(demo_home_built, tmp_path_factory.mktemp("layout") / "home")) as url:
        yield url


def _product_pages(user) -> list[str]:
    from dashboards.navigation import allowed_pages
    from data_products.governance import visible_products

    return [s.url for s in allowed_pages(user, set(visible_products(user))) if s.product is not None]


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
def test_product_pages_fit_the_screen(demo, served, browser, browser_sign_in, signed_in, width):
    url = served
    checked = []
    seen: dict[tuple, str] = {}
    for username in ROLES:
        user = signed_in(username)
        pages = _product_pages(user)
        assert set(AT_LEAST.get(username, [])) <= set(pages), (username, pages)
        # Two users of the same kind of organisation with the same navigation see the same views of the
        # same pages (the commission's official and analyst): rendering them again costs a minute of CI
        # and checks nothing new.
        if not pages or seen.setdefault((user.org_type, *pages), username) != username:
            continue
        # A browser per role: its own cookies, so each role's session is its own.
        with browser(locale="en-US") as b:
            b.page.set_viewport_size({"width": width, "height": 844 if width == PHONE else 900})
            browser_sign_in(b, url, username, demo_passwords()[username], lang="en")
            _wait_session_cookie(b)  # later loads of a page's URL resume the session
            for path in pages:
                got = _open(b, url, path, width)
                b.screenshot(f"layout-{username}-{path}-{width}")
                where = (username, path)
                assert "Sign in to the data space" not in b.page.inner_text("body"), where
                assert got["overflow"] <= 0, (where, got)
                assert got["clipped"] == [], (where, got)
                if _charted(path, width):
                    assert got["drawn"] >= 1, (where, got)
                if path in MAP_PAGES:
                    # The whole city in view: every district's polygon inside the map's drawn extent.
                    west, south, east, north = city_bounds()
                    assert got["maps"], (where, got)
                    for w, so, e, n in got["maps"]:
                        assert w <= west and so <= south and e >= east and n >= north, (where, got["maps"])
                if path == "wait-times":
                    # The day-by-hour heatmap: a chart on a wide screen, a table on a phone.
                    heat = b.page.locator(".st-key-wide-wt_heatmap .js-plotly-plot")
                    table = b.page.locator(".st-key-narrow-wt_heatmap [data-testid='stDataFrame']")
                    assert (heat.is_visible(), table.is_visible()) == ((False, True) if width == PHONE else (True, False))
                checked.append(where)
            assert b.blocked == [] and b.failed_other == [], b.failed
    assert {u for u, _ in checked} >= set(AT_LEAST)


def test_the_phone_sidebar_closes_after_navigating(demo, served, browser, browser_sign_in):
    url = served
    with browser(locale="en-US") as b:
        page = b.page
        page.set_viewport_size({"width": PHONE, "height": 844})
        browser_sign_in(b, url, "official", demo_passwords()["official"], lang="en")
        sidebar = page.locator('[data-testid="stSidebar"]')
        page.locator('[data-testid="stExpandSidebarButton"]').click()
        page.wait_for_function("() => document.querySelector('[data-testid=\"stSidebar\"]')"
                               ".getBoundingClientRect().right > 100", timeout=30_000)
        page.locator('[data-testid="stSidebarNav"] a[href$="/wait-board"]').first.click()
        page.wait_for_url("**/wait-board**", timeout=60_000)
        b.wait_idle(90_000)
        # Folded away: off the screen, so the page it opened is not covered.
        page.wait_for_function("() => document.querySelector('[data-testid=\"stSidebar\"]')"
                               ".getBoundingClientRect().right <= 1", timeout=30_000)
        box = sidebar.bounding_box()
        assert box is None or box["x"] + box["width"] <= 1
        assert "Waiting times now" in page.inner_text("[data-testid='stMain']")
        b.screenshot("layout-phone-after-navigation")

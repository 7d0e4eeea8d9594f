"""`dataspace bench browser`: what a user waits for, in a real browser, from clicking a product page's
link to its main chart drawn (issue 15's "speed a user feels").

The app is served exactly as `dataspace serve` serves it (``dashboards/server.py``) against the current
data home, which must hold an approved demo build (the demo accounts sign in). Debian's Chromium, driven
by Playwright, signs in as the commission official and, per product page, clicks the sidebar link and
waits until the page's first chart (a Plotly figure or the map's canvas) is in the page and the script
has finished. "Cold" is the page's first open in the browser session; "warm" is each later open after
visiting another page. The server-side render of the atlas (`dataspace bench atlas`, AppTest) is the
figure to read these against: what is left is the browser and the transfer.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from data_products.config import paths
from data_products.products.registry import all_products

# Issue 15's targets: seconds from the click to the main chart drawn, first open and later opens.
TARGET_COLD, TARGET_WARM = 1.5, 0.8
# A Plotly figure (maps included: choropleth_map draws on a canvas inside it), or a folium map's frame.
CHART = ('[data-testid="stPlotlyChart"] .main-svg, [data-testid="stPlotlyChart"] canvas, '
         'iframe[title*="folium"], [data-testid="stCustomComponentV1"]')
AWAY = "catalog"


def _timed_open(b, url_path: str, timeout_ms: float = 60_000) -> float:
    """Seconds from the sidebar click to the first chart drawn and the script finished."""
    link = b.page.locator(f'[data-testid="stSidebarNav"] a[href$="/{url_path}"]').first
    t0 = time.perf_counter()
    link.click()
    # A click that lands while the previous page reruns (its filters written to the URL) can be lost; a
    # user clicks again, and so does this, with the clock still running from the first click.
    for _ in range(3):
        try:
            b.page.wait_for_function("p => location.pathname.endsWith('/' + p)", arg=url_path, timeout=3_000)
            break
        except Exception:  # noqa: BLE001 - Playwright's TimeoutError
            link.click()
    # The previous page's elements stay in the DOM, marked stale, until the new script replaces them:
    # wait for this page's address and a chart in an element that is not stale.
    try:
        b.page.wait_for_function(
            """([path, chart]) => {
                if (!location.pathname.endsWith('/' + path)) return false;
                for (const el of document.querySelectorAll(chart)) {
                    const box = el.closest('[data-testid="stElementContainer"]');
                    const r = el.getBoundingClientRect();
                    if (box && box.getAttribute('data-stale') !== 'true' && r.width > 0 && r.height > 0) return true;
                }
                return false;
            }""",
            arg=[url_path, CHART], timeout=timeout_ms, polling=50,
        )
    except Exception as exc:  # noqa: BLE001 - Playwright's TimeoutError: report the page, go on
        raise RuntimeError(f"/{url_path}: no chart drawn within {timeout_ms / 1000:.0f} s") from exc
    drawn = time.perf_counter() - t0
    b.wait_idle()
    return drawn


def _measure(browser, home, pages, results, repeats: int, user: str, password: str) -> None:
    with browser.serve(home) as url:
        for _ in range(repeats):
            with browser.browser("en") as b:  # a new browser: every page's first open is cold again
                browser.sign_in(b, url, user, password)
                for pid, path in pages:
                    results[pid]["cold"].append(_timed_open(b, path))
                for pid, path in pages:
                    browser.open_page(b, AWAY)
                    results[pid]["warm"].append(_timed_open(b, path))
                if b.blocked:
                    raise RuntimeError(f"the pages tried to reach outside loopback: {b.blocked[:3]}")


def run(log: Callable[[str], None], repeats: int = 3, user: str = "official") -> int:
    """Measure every product page; ``log`` gets a table and whether the targets are met. Raises
    FileNotFoundError when the data home holds no approved demo build or no browser is installed, and
    RuntimeError when a page draws no chart or reaches beyond loopback."""
    from data_products import browser
    from data_products.governance import demo_passwords

    home = paths().home
    if not (home / "DEMO").exists() or not (paths().approved / "pneumonia_atlas" / "CURRENT").exists():
        raise FileNotFoundError(f"{home} holds no approved demo build; run `dataspace build --demo` first")
    why = browser.missing()
    if why:
        raise FileNotFoundError(why)
    pages = [(d.id, d.page.url) for d in all_products().values() if d.page is not None]
    results: dict[str, dict[str, list[float]]] = {pid: {"cold": [], "warm": []} for pid, _ in pages}
    _measure(browser, home, pages, results, repeats, user, demo_passwords()[user])
    log(f"product pages in Chromium (headless, loopback), click to first chart drawn, median of {repeats}:")
    log(f"  {'page':<24}{'cold s':>9}{'warm s':>9}   target {TARGET_COLD} / {TARGET_WARM} s")
    met = True
    for pid, r in results.items():
        cold, warm = statistics.median(r["cold"]), statistics.median(r["warm"])
        ok = cold <= TARGET_COLD and warm <= TARGET_WARM
        met &= ok
        log(f"  {pid:<24}{cold:>9.2f}{warm:>9.2f}   {'met' if ok else 'NOT met'}")
    log("targets " + ("met on every page" if met else "not met on every page (see above)")
        + "; compare the server-side render: `dataspace bench atlas`")
    return 0

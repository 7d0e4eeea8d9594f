"""Every byte out is a decision, in a real browser against the real server (``dashboards/server.py``):
a download is one click and one ledger entry, and the ``/media`` URL it came from answers nobody after
that, neither a request without the session's cookie nor the same browser a second time; no table
offers its toolbar's CSV export.

On main the same URL answered anyone, without a session, for about ten minutes, and every table
exported itself as CSV with no ledger entry.
"""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from data_products.governance import demo_passwords, entries

pytestmark = pytest.mark.browser


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _downloads(actor: str) -> int:
    return len(entries(action="download", actor=actor, limit=10_000))


def test_a_download_is_one_click_one_entry_one_fetch(demo_copy, serve, browser, browser_sign_in):
    with serve(demo_copy) as url, browser(locale="en-US") as b:
        b.context.add_init_script("delete window.showSaveFilePicker;")
        browser_sign_in(b, url, "company_jaundice", demo_passwords()["company_jaundice"])
        page = b.page
        page.locator('[data-testid="stSidebarNavLink"][href$="/jaundice"]').click()
        page.wait_for_url("**/jaundice**")
        page.wait_for_selector('[role="tab"]', timeout=60_000)
        b.wait_idle()

        # The toolbar attack: no table offers "Download as CSV" (nor a clipboard copy of its data).
        tabs = page.get_by_role("tab")
        for i in range(tabs.count()):
            tabs.nth(i).click()
            b.wait_idle()
            grids = page.locator('[data-testid="stDataFrame"]:visible')
            for j in range(grids.count()):
                grids.nth(j).scroll_into_view_if_needed()
                grids.nth(j).hover()
                page.wait_for_timeout(200)
            assert page.locator('button[aria-label="Download as CSV"]').count() == 0

        # The files sit beside the verdict, on the first screen: no tab to find them in.
        page.get_by_role("tab").first.click()
        b.wait_idle()
        before = _downloads("company_jaundice")
        button = page.locator('[data-testid="stDownloadButton"] button', has_text="Statistics (CSV, zip)")
        button.wait_for(timeout=30_000)
        with page.expect_download(timeout=30_000) as info:
            button.click()
        got = info.value
        data = open(got.path(), "rb").read()
        assert data.startswith(b"PK")  # the zip of tidy CSV tables
        assert "/media/" in got.url
        assert _downloads("company_jaundice") == before + 1  # one click, one entry, no prepare step

        # The URL it came from: without the session's cookie, and then again in the same browser.
        assert _status(got.url) == 404
        again = b.context.request.get(got.url)
        assert again.status == 404 and again.body() == b""
        assert _downloads("company_jaundice") == before + 1

        # A second click is a second download, with its own entry.
        with page.expect_download(timeout=30_000) as info2:
            button.click()
        assert open(info2.value.path(), "rb").read() == data
        assert _downloads("company_jaundice") == before + 2
        b.screenshot("download-once")
        assert b.blocked == [] and b.failed_other == [], (b.blocked, b.failed)


def test_the_audit_page_puts_nothing_in_the_media_store_until_asked(demo_copy, serve, browser, browser_sign_in):
    """On main the audit page put the whole ledger into a /media URL on every load."""
    with serve(demo_copy) as url, browser(locale="en-US") as b:
        media: list[str] = []
        # Downloadable media only: the page's own logo image and the static fonts are not files handed out.
        b.page.on("request", lambda r: media.append(r.url)
                  if "/media/" in r.url and "/static/" not in r.url and not r.url.endswith(".png") else None)
        browser_sign_in(b, url, "official", demo_passwords()["official"])
        b.page.locator('[data-testid="stSidebarNavLink"][href$="/audit"]').click()
        b.page.wait_for_url("**/audit**")
        b.wait_idle()
        button = b.page.locator('[data-testid="stDownloadButton"] button', has_text="Export the filtered view (CSV)")
        button.wait_for(timeout=30_000)
        assert button.count() == 1
        exports = len(entries(action="audit.export", limit=10_000))
        assert media == []
        with b.page.expect_download(timeout=30_000) as info:
            button.click()
        assert len(entries(action="audit.export", limit=10_000)) == exports + 1
        assert _status(info.value.url) == 404

"""The user keeps their place: filters survive navigation and reload, a reload or a new tab stays signed in
through the session cookie, and a signed-out or revoked session is not resumed anywhere."""

from __future__ import annotations

import pytest

from data_products.governance import demo_passwords, set_disabled
from data_products.products.registry import product

pytestmark = pytest.mark.browser

SIGNIN = "Sign in to the data space"


def _param(url: str, name: str) -> str | None:
    from urllib.parse import parse_qs, urlparse

    return (parse_qs(urlparse(url).query).get(name) or [None])[0]


def _session_cookie(b):
    return [c for c in b.context.cookies() if c["name"] == "dsp_session"]


def _wait_cookie(b):
    for _ in range(40):
        if _session_cookie(b):
            return _session_cookie(b)[0]
        b.page.wait_for_timeout(250)
    raise AssertionError("the session cookie never arrived")


def test_filters_and_sign_in_survive_navigation_reload_and_new_tab(demo_copy, serve, browser, browser_sign_in,
                                                                   open_page):
    with serve(demo_copy) as url, browser() as b:
        page = b.page
        browser_sign_in(b, url, "official", demo_passwords()["official"], lang="en")
        cookie = _wait_cookie(b)
        # Only the browser's cookie jar holds it: HttpOnly (no script reads it), Strict, Secure, never in a URL.
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["secure"]
        assert cookie["value"] not in page.url
        assert page.evaluate("document.cookie").find("dsp_session") == -1

        open_page(b, "pneumonia")
        page.wait_for_selector('[role="tab"]', timeout=60_000)
        page.locator('[data-testid="stSelectbox"]', has_text="Age").first.click()
        page.locator('[role="option"]').nth(2).click()
        page.wait_for_function("() => /[?&]age=(?!ALL)/.test(location.search)", timeout=60_000)
        b.wait_idle()
        chosen = _param(page.url, "age")
        assert chosen not in (None, "ALL")

        # Away and back through the navigation: the filter is still set, in the widget and in the URL.
        open_page(b, "catalog")
        page.wait_for_url("**/catalog**", timeout=60_000)
        assert _param(page.url, "age") is None
        open_page(b, "pneumonia")
        page.wait_for_url("**/pneumonia**", timeout=60_000)
        page.wait_for_function("() => location.search.includes('age=')", timeout=60_000)
        assert _param(page.url, "age") == chosen

        # A reload is a new Streamlit session: still signed in (cookie), still the same filter (URL).
        page.reload()
        page.wait_for_selector('[role="tab"]', timeout=60_000)
        b.wait_idle()
        text = page.inner_text("body")
        assert SIGNIN not in text and "Signed in as official" in text
        assert _param(page.url, "age") == chosen and product("pneumonia_atlas").name_en in text

        # A new tab of the same browser: signed in too.
        other = b.context.new_page()
        other.goto(f"{url}/audit?lang=en")
        other.wait_for_selector('[data-testid="stSidebarNavLink"]', timeout=30_000)
        assert "Signed in as official" in other.inner_text("body")

        # Sign out in the new tab: the first tab's next run and its reload show only the sign-in form.
        other.get_by_role("button", name="Sign out").click()
        other.wait_for_selector("text=" + SIGNIN, timeout=30_000)
        page.reload()
        page.wait_for_selector("text=" + SIGNIN, timeout=60_000)
        b.wait_idle()
        text = page.inner_text("body")
        assert SIGNIN in text and "Signed in as" not in text
        assert page.locator('[data-testid="stSidebarNavLink"]').count() == 0
        b.screenshot("session-after-signout-reload")
        assert b.blocked == [] and b.failed_other == [], (b.blocked, b.failed)


def test_a_revoked_session_is_not_resumed_by_its_cookie(demo_copy, serve, browser, browser_sign_in):
    with serve(demo_copy) as url, browser() as b:
        browser_sign_in(b, url, "analyst", demo_passwords()["analyst"], lang="en")
        _wait_cookie(b)
        b.page.reload()
        b.page.wait_for_selector("text=Signed in as analyst", timeout=60_000)
        set_disabled("analyst", True, actor="official")  # ends the user's open sessions in the store
        b.page.reload()
        b.page.wait_for_selector("text=" + SIGNIN, timeout=60_000)
        b.wait_idle()
        text = b.page.inner_text("body")
        assert SIGNIN in text and "Signed in as" not in text
        # The cookie itself is useless now: re-enabled, the user still has to sign in again.
        set_disabled("analyst", False, actor="official")
        b.page.reload()
        b.page.wait_for_selector("text=" + SIGNIN, timeout=60_000)
        b.wait_idle()
        assert "Signed in as" not in b.page.inner_text("body")
        assert b.blocked == [] and b.failed_other == [], b.failed

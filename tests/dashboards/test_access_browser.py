"""Access in a real browser: pages reached by URL, the back button after sign-out, and a hospital's
view of the pneumonia atlas naming no other facility (checked in every table's full CSV, the page
text and the charts' data).
"""

from __future__ import annotations

import pytest

from data_products.governance import demo_passwords
from data_products.products.registry import all_products
from data_products.reference import facilities

pytestmark = pytest.mark.browser

SIGNIN_TITLE = {"zh": "登录数据空间", "en": "Sign in to the data space"}


def sign_in(b, url: str, username: str, lng: str = "en") -> None:
    page = b.page
    page.goto(f"{url}/?lang={lng}")
    b.wait_idle()
    page.get_by_role("textbox", name="Username" if lng == "en" else "用户名").fill(username)
    page.get_by_role("textbox", name="Password" if lng == "en" else "密码").fill(demo_passwords()[username])
    page.get_by_role("button", name="Sign in" if lng == "en" else "登录").click()
    page.wait_for_selector('[data-testid="stSidebarNavLink"]', timeout=30_000)
    b.wait_idle()


def nav_paths(b) -> set[str]:
    hrefs = b.page.locator('[data-testid="stSidebarNavLink"]').evaluate_all(
        "els => els.map(e => new URL(e.href).pathname)")
    return set(hrefs)


def open_in_session(b, path: str) -> None:
    """Type-a-URL within the live session: the app's router handles it without reloading (a reload
    starts a new Streamlit session, resumed from the session cookie; tested separately)."""
    b.page.evaluate("p => { history.pushState({}, '', p); dispatchEvent(new PopStateEvent('popstate')); }", path)
    b.wait_idle()


def body(b) -> str:
    return b.page.inner_text("body")


def test_company_without_an_order_cannot_open_the_jaundice_report_by_url(demo, serve, browser):
    jaundice = all_products()["jaundice_report"]
    with serve(demo) as url, browser() as b:
        sign_in(b, url, "company_none")
        assert "/jaundice" not in nav_paths(b)
        assert "Signed in as company_none" in body(b)

        # Within the session: the router does not know the page; neither the report nor any
        # other page outside this user's navigation shows anything of itself.
        for path, marks in {
            "/jaundice": (jaundice.name_en, jaundice.name_zh, "Neonatal jaundice"),
            "/scenarios": ("Usage scenarios and orders", "Applications ("),
            "/audit": ("Hash chain", "Audit ledger"),
            "/pneumonia": (all_products()["pneumonia_atlas"].name_en, "Mycoplasma"),
        }.items():
            open_in_session(b, f"{path}?lang=en")
            text = body(b)
            assert not any(m in text for m in marks), path
            # What shows instead is the default page (the overview of public reference data).
            assert "Guangzhou's 11 districts" in text, path
        b.screenshot("access-company-none-jaundice-in-session")

        # A fresh load of the URL is a new Streamlit session, resumed from the session cookie: still
        # company_none, and still no such page (the default page instead).
        b.page.goto(f"{url}/jaundice?lang=en")
        b.page.wait_for_selector('[data-testid="stSidebarNavLink"]', timeout=60_000)
        b.wait_idle()
        text = body(b)
        assert "Signed in as company_none" in text
        assert jaundice.name_en not in text and "Neonatal jaundice" not in text
        assert "/jaundice" not in nav_paths(b)
        b.screenshot("access-company-none-jaundice-url")

        # Without the cookie (another browser): the sign-in form and nothing else.
        b.context.clear_cookies()
        b.page.goto(f"{url}/jaundice?lang=en")
        b.page.wait_for_selector("text=" + SIGNIN_TITLE["en"], timeout=60_000)
        b.wait_idle()
        text = body(b)
        assert jaundice.name_en not in text and "Neonatal jaundice" not in text
        assert b.page.locator('[data-testid="stSidebarNavLink"]').count() == 0
        assert b.page.locator('[data-testid="stDataFrame"]').count() == 0
        assert b.blocked == [] and b.failed == [], (b.blocked, b.failed)


def test_back_button_after_sign_out_shows_only_the_sign_in_form(demo, serve, browser):
    with serve(demo) as url, browser() as b:
        sign_in(b, url, "official")
        b.page.locator('[data-testid="stSidebarNavLink"][href$="/audit"]').click()
        b.page.wait_for_url("**/audit**")
        b.wait_idle()
        before = body(b)
        assert "Hash chain" in before and b.page.locator('[data-testid="stDataFrame"]').count() >= 1

        b.page.get_by_role("button", name="Sign out").click()
        b.wait_idle()
        assert SIGNIN_TITLE["en"] in body(b)

        for step in ("back", "back", "forward"):
            (b.page.go_back if step == "back" else b.page.go_forward)()
            if b.page.url == "about:blank":  # went back past the app: nothing of it to show
                continue
            b.wait_idle()
            text = body(b)
            assert SIGNIN_TITLE["en"] in text, step
            assert "Hash chain" not in text and "Signed in as" not in text, step
            assert b.page.locator('[data-testid="stSidebarNavLink"]').count() == 0, step
            assert b.page.locator('[data-testid="stDataFrame"]').count() == 0, step
        b.screenshot("access-after-signout-back")
        assert b.blocked == [] and b.failed == [], (b.blocked, b.failed)


def table_csvs(b) -> list[str]:
    """Every visible dataframe's content as the browser holds it, read from the grid's cells (its
    toolbar has no CSV export: ``client.disableDataExport``, asserted here too)."""
    out = []
    containers = b.page.locator('[data-testid="stElementContainer"]:has([data-testid="stDataFrame"]):visible')
    for i in range(containers.count()):
        box = containers.nth(i)
        box.scroll_into_view_if_needed()
        box.hover()
        assert box.locator('button[aria-label="Download as CSV"]').count() == 0
        out.append("\n".join(box.locator('[role="gridcell"], [role="columnheader"]').all_inner_texts()))
    return out


def chart_data(b) -> str:
    return b.page.evaluate(
        "() => JSON.stringify([...document.querySelectorAll('.js-plotly-plot')].map(p => p.data || []))")


@pytest.mark.parametrize("lng", ["en", pytest.param("zh", marks=pytest.mark.slow)])
def test_hospital_sees_no_other_facility_name_on_the_pneumonia_page(demo, serve, browser, lng):
    ref = facilities()
    own = ref[ref["facility_id"] == "F0301"].iloc[0]
    others = {n for col in ("name_zh", "name_en") for n in ref.loc[ref["facility_id"] != "F0301", col]}
    # A peer's name inside the hospital's own name would turn its own rows into false alarms.
    assert others and not any(n in own["name_en"] or n in own["name_zh"] for n in others)
    with serve(demo) as url, browser() as b:
        sign_in(b, url, "hospital_f0301", lng)
        if "/pneumonia" not in nav_paths(b):
            pytest.fail("the pneumonia page is not in hospital_f0301's navigation")
        b.page.locator('[data-testid="stSidebarNavLink"][href$="/pneumonia"]').click()
        b.page.wait_for_url("**/pneumonia**")
        b.page.wait_for_selector('[role="tab"]', timeout=60_000)
        b.wait_idle()
        tabs = b.page.get_by_role("tab")
        seen_tables, seen_own = 0, False
        for i in range(tabs.count()):
            tabs.nth(i).click()
            b.wait_idle()
            texts = [body(b), chart_data(b), *table_csvs(b)]
            seen_tables += len(texts) - 2
            for text in texts:
                leaked = sorted(n for n in others if n in text)
                assert not leaked, (tabs.nth(i).inner_text(), leaked)
            own_name = own["name_en"] if lng == "en" else own["name_zh"]
            seen_own = seen_own or any(own_name in x for x in texts[2:])
            b.screenshot(f"access-f0301-pneumonia-{lng}-tab{i}")
        # The check looked at real tables, and they name the hospital itself.
        assert seen_tables >= 2
        assert seen_own
        assert b.blocked == [] and b.failed == [], (b.blocked, b.failed)

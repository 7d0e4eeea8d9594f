"""In a real browser: the demo research organisation opens "My analyses", sees the liver-cancer dictionary
beside the editor, and gets its dummy data (a download the ledger records)."""

from __future__ import annotations

import pytest

from data_products.governance import demo_passwords

pytestmark = pytest.mark.browser


def test_research_org_gets_dummy_data_and_sees_the_dictionary(demo, serve, browser, browser_sign_in, open_page):
    from data_products.governance import entries

    before = len(entries(actor="research_org", action="download", target="ds_liver_cancer"))
    with serve(demo) as url, browser() as b:
        browser_sign_in(b, url, "research_org", demo_passwords()["research_org"])
        open_page(b, "analyses")
        text = b.page.inner_text("body")
        assert "My analyses" in text and "Liver cancer specialty dataset" in text
        assert "Data dictionary and column control list" in text
        b.page.get_by_role("button", name="Prepare dummy data (made from the dictionary, no real record)").click()
        b.wait_idle()
        assert b.page.get_by_role("button", name="Download dummy data CSV").count() == 1
    after = entries(actor="research_org", action="download", target="ds_liver_cancer")
    assert len(after) == before + 1 and after[0].detail["dummy"] is True

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
        # One click, no prepare step: nothing is made or recorded until the file is fetched.
        assert len(entries(actor="research_org", action="download", target="ds_liver_cancer")) == before
        button = b.page.locator('[data-testid="stDownloadButton"] button', has_text="Download dummy data CSV")
        button.wait_for(timeout=30_000)
        with b.page.expect_download(timeout=30_000) as info:
            button.click()
        data = open(info.value.path(), "rb").read()
        lines = data.splitlines()
        assert lines[0].startswith(b"# DUMMY data for ds_liver_cancer") and lines[1].count(b",") >= 3  # then the fields
    after = entries(actor="research_org", action="download", target="ds_liver_cancer")
    assert len(after) == before + 1 and after[0].detail["dummy"] is True

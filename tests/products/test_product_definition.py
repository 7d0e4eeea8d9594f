"""Adding a product is one package and one registry line: a product defined in the test tree (and
added to the registry's list here) is built and approved by the pipeline, decided by the gate, listed by
the catalog and registered by the navigation, with no other file of the project changed."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from data_products.governance.gate import Grant, use
from data_products.products import registry
from data_products.products.base import Access, Candidate, CatalogEntry, Page, ProductDefinition


def signed_in(username: str):
    from data_products.governance import demo_passwords, sign_in

    result = sign_in(username, demo_passwords()[username])
    assert result.ok, result.reason
    return result.principal


APP = str(Path(__file__).resolve().parents[2] / "dashboards" / "app.py")

# --- the product: one definition, its build and check, one view, a page -----------------------------------

PRODUCT_ID = "tiny_counts"


def build(con) -> Candidate:
    counts = pd.DataFrame({"district": ["440103", "440104", "440106"], "n": [12, 30, 5]})
    # Its own disclosure control: counts under the threshold are not released.
    return Candidate(PRODUCT_ID, {"counts": counts[counts["n"] >= 10].reset_index(drop=True)},
                     {"lineage": [], "time_span": []})


def check(tables: dict[str, pd.DataFrame], meta: dict) -> list[str]:
    small = tables["counts"]["n"] < (meta.get("min_cell") or 10)
    return [f"[counts row {i}] n below min_cell" for i in tables["counts"].index[small]]


def counts(grant: Grant) -> pd.DataFrame:
    return use(grant, PRODUCT_ID).release.table("counts")


TINY = ProductDefinition(
    id=PRODUCT_ID,
    name_zh="小计数（测试产品）",
    name_en="Tiny counts (test product)",
    access=Access(standing=("commission",), applicable_by=("company",), facility_level=False),
    tables={"counts": ("district",)},
    build=build,
    check=check,
    views=sys.modules[__name__],
    page=Page(str(Path(__file__).with_name("tiny_product_page.py")), "tiny-counts", ":material/star:", "小计数",
              "Tiny counts"),
    catalog=CatalogEntry(None, "测试产品", "A product defined in the test tree"),
)


@pytest.fixture
def with_tiny(home, monkeypatch):
    from data_products.config import paths
    from data_products.governance import seed_demo

    monkeypatch.setattr(registry, "DEFINITIONS", (*registry.DEFINITIONS, TINY))
    (home / "DEMO").write_text("synthetic demonstration space\n", encoding="utf-8")
    seed_demo()
    # The tiny product builds from nothing, but the pipeline insists on a restricted zone to read.
    paths().ensure()
    duckdb.connect(str(paths().restricted_db)).close()
    return home


def test_a_product_defined_in_the_test_tree_is_seen_everywhere(with_tiny):
    from dashboards.navigation import allowed_pages
    from data_products import catalog, pipeline
    from data_products.governance import AccessDenied, entries, visible_products
    from data_products.governance.gate import open_product

    # The pipeline: built, refused for anyone but an official, approved and published.
    assert "tiny_counts" in registry.all_products()
    (candidate,) = pipeline.process(["tiny_counts"])
    with pytest.raises(pipeline.ApprovalRefused):
        pipeline.approve(candidate, signed_in("analyst"))
    assert pipeline.approve(candidate, signed_in("official"))["status"] == "awaiting_second_approval"
    record = pipeline.approve(candidate, signed_in("official2"))
    assert record["product_id"] == "tiny_counts" and record["status"] == "published"

    # The gate: the commission holds a standing scenario; a company may apply but holds none.
    official = signed_in("official")
    grant = open_product(official, "tiny_counts")
    assert grant.release_id == candidate
    assert list(counts(grant)["n"]) == [12, 30]
    with pytest.raises(AccessDenied) as denied:
        open_product(signed_in("company_none"), "tiny_counts")
    assert denied.value.decision.reason == "no_scenario"
    assert "Tiny counts (test product)" in denied.value.decision.message_en

    # The catalog: listed with its release; offered to the company to apply for.
    listed = {p["product_id"]: p for p in catalog.products()}
    assert listed["tiny_counts"]["release_id"] == candidate
    assert catalog.can_apply(signed_in("company_none"), "tiny_counts")

    # The navigation: the official's menu has its page, the company's does not.
    assert "tiny-counts" in {p.url for p in allowed_pages(official, set(visible_products(official)))}
    company = signed_in("company_none")
    assert "tiny-counts" not in {p.url for p in allowed_pages(company, set(visible_products(company)))}

    # And the app serves it from the definition's page, with one ledger entry for the open.
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["lang"] = "en"
    at.session_state["principal"] = official
    at.run()
    before = entries(limit=1)[0].seq
    at.switch_page(TINY.page.file).run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Tiny counts"
    new = [e for e in entries(limit=20) if e.seq > before]
    assert [(e.action, e.target) for e in new] == [("gate.allow", "tiny_counts")]

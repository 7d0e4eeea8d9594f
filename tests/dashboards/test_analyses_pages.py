"""AppTest: the research organisation's path through the pages — catalog dictionary and dummy download,
"My analyses" submission (run by the worker process), the commission's review inbox, release by two
reviewers, and the output the requester then sees. On the small liver-cancer home (conftest's ``analyses_space``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

DS = "ds_liver_cancer"  # the dataset the analyses_space fixture (conftest) opens for research

APP = str(Path(__file__).resolve().parents[2] / "dashboards" / "app.py")


@pytest.fixture
def env(analyses_space, monkeypatch):
    monkeypatch.setenv("DATASPACE_HOME", str(analyses_space["home"]))
    monkeypatch.setenv("DATASPACE_MIN_CELL", "10")
    return analyses_space


def _page(principal, page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["principal"] = principal
    at.run()
    at.switch_page(f"views/{page}")
    at.run()
    assert not at.exception, at.exception
    return at


def _text(at) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [str(s.value) for s in at.success]
    parts += [str(w.value) for w in at.warning] + [str(e.value) for e in at.error]
    parts += [df.value.to_csv() for df in at.dataframe] + [tb.value.to_csv() for tb in at.table]
    return "\n".join(parts)


RAW = {"field", "name", "type", "unit", "values", "code_system", "ccl_text", "rule", "passed", "detail", "reviewer",
       "decision", "reason", "at", "id", "dataset_id", "purpose", "status", "valid_from", "valid_to", "requester",
       "kind", "state", "submitted_at", "message", "dataset", "reviews"}


def _raw_headers(at) -> set[str]:
    """Column identifiers shown as table headers (every header must be in the page's language)."""
    return {str(c) for el in [*at.dataframe, *at.table] for c in el.value.columns} & RAW


def test_code_system_notes_are_in_both_languages():
    from data_products.i18n import t
    from data_products.specialty import DICTIONARIES
    from data_products.specialty.dictionary import code_system_key

    notes = {f.code_system for d in DICTIONARIES.values() for f in d.fields if f.code_system}
    assert len(notes) >= 20
    for note in notes:
        assert t(code_system_key(note), "en") == note
        zh = t(code_system_key(note), "zh")
        assert zh != note and any("\u4e00" <= ch <= "\u9fff" for ch in zh), note


def test_catalog_shows_real_counts_dictionary_and_research_application(env, signed_in):
    from data_products.pipeline import approve_demo, process

    # The catalog's counts come from the approved supplier report, as in the demo.
    for release in process(["supplier_quality"]):
        approve_demo(release)
    at = _page(signed_in("company_jaundice"), "catalog.py")
    text = _text(at)
    assert "only inside an aggregate" in text or "仅可出现在聚合函数内" in text
    # The dictionary's code-system notes in the page's language, as the rest of it (Chinese by default).
    assert "GB/T 2260 行政区划代码" in text and "GB/T 2260 adcode" not in text
    assert _raw_headers(at) == set()
    assert any(f.key == f"research_{DS}" for f in at.get("form")) or "rpurpose_" + DS in at.session_state
    from data_products import catalog

    entry = next(d for d in catalog.datasets(signed_in("official")) if d["id"] == DS)
    assert entry["usable"] and entry["rows"] == len(env["records"])


def test_my_analyses_submit_review_release_and_see_the_output(env, signed_in):
    from data_products.analyses import service

    company = signed_in("company_none")
    at = _page(company, "analyses.py")
    # The dictionary under headers in the page's language (Chinese by default), the field names as the data has them.
    assert any("访问级别" in df.value.columns and "treatment_date" in set(df.value["字段"]) for df in at.dataframe)
    assert _raw_headers(at) == set()
    sql = "SELECT first_treatment, count(*) AS patients FROM ds_liver_cancer GROUP BY first_treatment"
    at.text_area(key=f"an_sql_{DS}").input(sql)
    next(b for b in at.button if b.label in ("提交分析", "Submit analysis")).click()
    at.run()
    assert not at.exception, at.exception
    aid = at.session_state["an_last"][0]
    assert at.session_state["an_last"][1] == "awaiting_review", at.session_state["an_last"]
    assert service.get_for_system(aid).request == sql
    # The requester sees status and checks only.
    assert "patients" not in "".join(tb.value.to_csv() for tb in at.table if "first_treatment" in tb.value.columns)

    for reviewer in ("official", "analyst"):
        rv = _page(signed_in(reviewer), "analysis_review.py")
        assert f"#{aid}" in "".join(e.label for e in rv.expander)
        # The same rendering as the requester's page: checks, history and the list headed in Chinese.
        assert _raw_headers(rv) == set()
        checks = [tb.value for tb in rv.table if "规则" in tb.value.columns]
        assert checks and set(checks[0]["结果"]) <= {"通过", "未通过"} and "最小单元格" in set(checks[0]["规则"])
        rv.text_input(key=f"rv_reason_{aid}").input("aggregate counts over large groups")
        next(b for b in rv.button if b.label in ("提交审核", "Submit review") and f"rv_form_{aid}" in str(b.form_id)).click()
        rv.run()
        assert not rv.exception, rv.exception
    assert service.get_for_system(aid).state == "released"

    at = _page(company, "analyses.py")
    at.button(key=f"an_open_{aid}").click()
    at.run()
    shown = [tb.value for tb in at.table if "first_treatment" in tb.value.columns]
    assert shown and "patients" in shown[0].columns
    # One click, no prepare step: the button is there, and nothing is downloaded (or recorded) until it is used.
    assert any(getattr(el, "key", None) == f"an_get_{aid}" or f"an_get_{aid}" in str(getattr(el, "id", ""))
               for el in at.get("download_button")), "the released output's download button"

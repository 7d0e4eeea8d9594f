"""AppTest: the shell's logic (sign-in first, language, synthetic label, overview figures from the reference table)."""

from __future__ import annotations

import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

from data_products.reference import districts, facilities

APP = str(Path(__file__).resolve().parents[2] / "dashboards" / "app.py")


def run(user=None, lang: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    if lang:
        at.query_params["lang"] = lang
    if user is not None:
        at.session_state["principal"] = user
    return at.run()


def test_before_sign_in_only_the_sign_in_form_exists(demo):
    at = run()
    assert not at.exception
    assert at.title[0].value == "登录数据空间"
    assert len(at.text_input) == 2 and not at.get("plotly_chart")


def test_defaults_to_chinese_with_synthetic_label(demo, signed_in):
    at = run(signed_in("analyst"))
    assert not at.exception
    assert at.title[0].value == "广州市 11 个区概览"
    assert any("合成" in i.value for i in at.info)


def test_english_switch_changes_the_page_and_the_url(demo, signed_in):
    at = run(signed_in("analyst"))
    at.sidebar.radio[0].set_value("en").run()
    assert at.query_params["lang"] in (["en"], "en")
    assert at.title[0].value == "Guangzhou's 11 districts"
    assert any("Synthetic" in i.value for i in at.info)


def test_overview_map_plots_the_reference_values(demo, signed_in):
    at = run(signed_in("analyst"), "en")
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    trace = fig["data"][0]
    ref = districts().set_index("adcode")
    plotted = dict(zip(trace["locations"], trace["z"], strict=True))
    assert set(plotted) == set(ref.index)
    for code, z in plotted.items():
        assert abs(z - ref.loc[code, "population_2023"] / ref.loc[code, "area_km2"]) < 1e-6


def test_overview_facility_counts_match_the_registry(demo, signed_in):
    at = run(signed_in("analyst"), "en")
    table = at.dataframe[0].value
    counts = facilities().groupby("district").size()
    by_name = dict(zip(districts()["name_en"], districts()["adcode"], strict=True))
    for _, row in table.iterrows():
        assert row["Facilities"] == counts[by_name[row["District"]]]

"""AppTest: the tumor page's map and its ranking of the districts, as the commission and as a hospital.

The map is fitted to the city (the atlas maps' view) with a classed legend below it; beside it the districts
ranked by the patients their facilities treat, the city's mean per district marked. Checked against the
facility rows the commission sees (an independent sum, not the page's own district totals); a hidden count
is no bar (never a zero), and a hospital's ranking holds district totals of the others, never a peer's row.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

from data_products.disclosure import ALL
from data_products.governance.gate import open_product

APP = str(Path(__file__).resolve().parents[2] / "dashboards" / "app.py")
OWN = {"hospital_f0301": "F0301"}


def _render(user, lang: str, group: str, period: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["lang"] = lang
    at.session_state["principal"] = user
    at.run()
    at.switch_page("views/tumor.py")
    at.query_params["group"] = group
    at.query_params["period"] = period
    at.run()
    assert not at.exception, at.exception
    return at


def _specs(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def _map_and_ranking(specs: list[dict]) -> tuple[dict, dict | None]:
    (fmap,) = [s for s in specs if "map" in s["layout"] and any(tr.get("customdata") for tr in s["data"]
                                                                 if tr.get("type") == "scattermap")]
    ranks = [s for s in specs if s["data"] and s["data"][0].get("type") == "bar"
             and s["data"][0].get("orientation") == "h"]
    assert len(ranks) <= 1
    return fmap, (ranks[0] if ranks else None)


def _case(official) -> tuple[str, str, pd.DataFrame]:
    """A group and year in which some district holds both a hidden and a released facility."""
    from data_products.products.tumor import views

    grant = open_product(official, views.PRODUCT_ID)
    years = views.periods(grant)["years"]
    for group in [ALL, *views.GROUP_IDS]:
        for period in years:
            fac = views.facilities_view(grant, group, period)
            mixed = fac.groupby("district")["suppressed"].agg(["any", "all"])
            if (mixed["any"] & ~mixed["all"]).any():
                return group, period, fac
    raise AssertionError("no district with a hidden and a released facility in the demo release")


def test_the_commission_reads_the_districts_ranked_beside_a_classed_map_of_the_whole_city(demo, signed_in):
    from dashboards.charts import LEGEND_ROOM, MAP_HEIGHT, city_view
    from data_products.products.tumor import views
    from data_products.reference import districts

    official = signed_in("official")
    group, period, fac = _case(official)
    fmap, rank = _map_and_ranking(_specs(_render(official, "en", group, period)))
    names = districts().set_index("adcode")["name_en"]

    # The map: fitted to the city, its legend below it, one trace per class of patients, each facility in
    # the class whose range holds its count, the hidden ones apart.
    view = city_view(MAP_HEIGHT - LEGEND_ROOM)
    assert fmap["layout"]["map"]["zoom"] == view["zoom"] and fmap["layout"]["map"]["center"] == view["center"]
    assert fmap["layout"]["legend"]["orientation"] == "h" and fmap["layout"]["legend"]["y"] < 0
    released = fac[~fac["suppressed"]].set_index("facility_id")[views.MEASURE].astype(float)
    classes = [tr for tr in fmap["data"] if re.fullmatch(r"[\d,]+ – [\d,]+", tr.get("name") or "")]
    assert 2 <= len(classes) <= 5
    placed: dict[str, int] = {}
    for tr in classes:
        lo, hi = (float(x.replace(",", "")) for x in tr["name"].split(" – "))
        for fid in tr.get("customdata") or []:
            assert lo <= released[fid] <= hi, (fid, tr["name"])
            placed[fid] = placed.get(fid, 0) + 1
    assert placed == dict.fromkeys(released.index, 1)
    (grey,) = [tr for tr in fmap["data"] if (tr.get("name") or "").startswith("Suppressed")]
    assert sorted(grey["customdata"]) == sorted(fac.loc[fac["suppressed"], "facility_id"])

    # The ranking: each district's released facilities summed, highest on top, a hidden count never a zero.
    truth = fac[~fac["suppressed"]].groupby("district")[views.MEASURE].sum().astype(float)
    bars = rank["data"][0]
    assert bars["y"] == [names[d] for d in truth.sort_values().index]
    assert bars["x"] == truth.sort_values().tolist()
    assert 0 not in bars["x"]
    partial = set(fac.loc[fac["suppressed"], "district"]) & set(truth.index)
    assert partial
    for d, text in zip(truth.sort_values().index, bars["text"], strict=True):
        assert text.startswith("≥ ") == (d in partial), (d, text)
    # The city's mean per district, marked.
    (line,) = rank["layout"]["shapes"]
    total = views.city_total(open_product(official, views.PRODUCT_ID), group, period)
    assert line["x0"] == line["x1"] == total / len(names)


def test_a_hospitals_ranking_holds_district_totals_of_the_others_only(demo, signed_in):
    from data_products.products.tumor import views
    from data_products.reference import districts, facilities

    username = "hospital_f0301"
    group, period, fac = _case(signed_in("official"))
    at = _render(signed_in(username), "zh", group, period)
    specs = _specs(at)
    fmap, rank = _map_and_ranking(specs)
    names = districts().set_index("adcode")["name_zh"]

    # Each bar is a district's other facilities (the hospital's own left out), only where they pass the
    # aggregate rule: checked against the commission's facility rows. Where no district passes (the demo's
    # hospitals), there is no ranking at all, and the page says why.
    shown = views.district_aggregates(open_product(signed_in(username), views.PRODUCT_ID), group, period)
    if not shown["shown"].any():
        assert rank is None
        assert any("区级汇总规则" in str(i.value) for i in at.info)
    else:
        bars = rank["data"][0]
        others = fac[(fac["facility_id"] != OWN[username]) & ~fac["suppressed"]]
        by_name = {names[d]: float(v) for d, v in others.groupby("district")[views.MEASURE].sum().items()}
        assert len(bars["y"]) == int(shown["shown"].sum())
        for y, x in zip(bars["y"], bars["x"], strict=True):
            assert x == by_name[y], y
    # No other facility is named on the map or in the ranking; the one named circle is the hospital's own.
    text = json.dumps(specs, ensure_ascii=False)
    reg = facilities()
    for _, f in reg[reg["facility_id"] != OWN[username]].iterrows():
        assert f["name_zh"] not in text and f["name_en"] not in text
    named = {fid for tr in fmap["data"] if tr.get("type") == "scattermap" for fid in (tr.get("customdata") or [])
             if str(fid).startswith("F")}
    assert named <= {OWN[username]}
    assert not any(re.fullmatch(r"[\d,]+ – [\d,]+", tr.get("name") or "") for tr in fmap["data"])

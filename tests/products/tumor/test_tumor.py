"""Tumor distribution: generator -> ingest -> release -> views -> page, checked against the generator's truth.

One tumor-only space is built per module (generate, ingest, process, approve: ~20 s), so the
tests do not depend on other kinds.
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from data_products.disclosure import ALL
from data_products.governance.gate import open_product

APP = str(Path(__file__).resolve().parents[3] / "dashboards" / "app.py")
PAGE = str(Path(__file__).resolve().parents[3] / "dashboards" / "views" / "tumor.py")
MIN_CELL = 10


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from data_products.config import paths
    from data_products.governance import seed_demo
    from data_products.hospital import generate
    from data_products.pipeline import approve_demo, process
    from data_products.restricted import ingest

    home = tmp_path_factory.mktemp("tumor-home")
    old = os.environ.get("DATASPACE_HOME")
    os.environ["DATASPACE_HOME"] = str(home)
    try:
        p = paths().ensure()
        (p.home / "DEMO").write_text("synthetic demonstration space\n", encoding="utf-8")
        generate(p, seed=2024, kinds=["tumor"])
        report = ingest(p)
        assert not report.rejected, report.summary()
        seed_demo()
        ids = process(["tumor_distribution"])
        approve_demo(ids[0])
        truth = json.loads((p.truth / "tumor.json").read_text(encoding="utf-8"))
    finally:
        if old is None:
            os.environ.pop("DATASPACE_HOME", None)
        else:
            os.environ["DATASPACE_HOME"] = old
    return home, truth


@pytest.fixture
def space(built, monkeypatch):
    home, truth = built
    monkeypatch.setenv("DATASPACE_HOME", str(home))
    return home, truth


def _tables():
    from data_products import approved

    rel = approved.current("tumor_distribution")
    return {name: rel.table(name) for name in rel.tables}


# --- generator and ingest ---------------------------------------------------------------------


def test_groups_agree_across_zones():
    from data_products.hospital.tumor import ICD10, SITE_NAMES
    from data_products.products.tumor.spec import C44, GROUP_IDS
    from data_products.restricted.tumor import ICD10_GROUPS, OTHER_GROUP, tumor_group

    # The generator's sites are the product's groups; C44 is a group of the ingest, released apart.
    assert set(SITE_NAMES) == set(GROUP_IDS) == {g for _, _, g in ICD10_GROUPS} - {C44.id} | {OTHER_GROUP}
    assert set(tumor_group(pd.Series(["C44.3", "C44", "C43.9"]))) == {C44.id, OTHER_GROUP}
    # The ingest derives each site's codes back to the site the generator meant.
    for site, codes in ICD10.items():
        assert set(tumor_group(pd.Series(list(codes)))) == {site}, site


def test_sample_matches_generator_parameters():
    from data_products.hospital.tumor import MALE_SHARE, OUTSIDE_SHARE, SITE_NAMES, SITE_SHARE, TUMOR
    from data_products.restricted import deid

    raw = TUMOR.sample(12_000, seed=3)
    sites = pd.Series(__import__("data_products.restricted.tumor", fromlist=["x"]).tumor_group(raw["icd10"]))
    sites = sites.replace({"skin_nmsc": "other"})  # the generator's "other" site includes C44
    share = sites.value_counts(normalize=True)
    # Conghua's liver excess shifts the city shares a little; 0.015 is > 4 standard errors here.
    for s, p in zip(SITE_NAMES, SITE_SHARE, strict=True):
        assert abs(share.get(s, 0) - p) < 0.015, s
    male = (raw["sex"] == "M").groupby(sites).mean()
    for s, p in zip(SITE_NAMES, MALE_SHARE, strict=True):
        assert abs(male[s] - p) < 0.06, s
    district = deid.district_of(raw["address"])
    assert abs(district.isna().mean() - OUTSIDE_SHARE) < 0.015
    assert raw.loc[district.isna(), "address"].str.contains("广州").sum() == 0
    assert raw["icd10"].str.fullmatch(r"C\d{2}(\.\d)?").all()


def test_ingest_rejects_sex_specific_site_in_other_sex(home):
    from data_products.hospital.tumor import TUMOR
    from data_products.restricted.extract import parse
    from data_products.restricted.tumor import TUMOR as SPEC

    raw = TUMOR.sample(300, seed=5)
    raw = raw[raw["facility_id"] == raw["facility_id"].iloc[0]].reset_index(drop=True)
    male = int(np.flatnonzero(raw["sex"].to_numpy() == "M")[0])
    raw.loc[male, "icd10"] = "C53.9"
    raw.loc[0 if male else 1, "icd10"] = "D12.0"
    data = raw.to_csv(index=False, lineterminator="\n").encode("utf-8")
    extract = parse(data, "F/tumor_2022.csv", SPEC.columns)
    typed, issues = SPEC.validate(extract, raw["facility_id"].iloc[0], pd.Timestamp("2025-06-01").to_pydatetime())
    assert typed is None
    fields = {(i.line, i.field) for i in issues}
    assert (male + 2, "icd10") in fields  # header is line 1
    assert ((0 if male else 1) + 2, "icd10") in fields
    assert all(raw.loc[male, "patient_name"] not in str(i) for i in issues)


# --- release against truth ----------------------------------------------------------------------


def test_release_recovers_site_ranking_sex_ratios_and_concentration(space, signed_in):
    from data_products.products.tumor import views

    _, truth = space
    real, targets = truth["realised"], truth["targets"]
    official = signed_in("official")
    totals = views.group_totals(open_product(official, views.PRODUCT_ID))
    assert not totals["suppressed"].any()
    released = dict(zip(totals["tumor_group"], totals["patients"].astype(int), strict=True))
    assert released == {k: v for k, v in real["by_site"].items()}
    ranking = [g for g in totals.sort_values("patients", ascending=False)["tumor_group"] if g != "other"]
    assert ranking[:5] == targets["top5_sites"]
    for site, ratio in targets["m_to_f"].items():
        got = views.sex_ratio(open_product(official, views.PRODUCT_ID), site)
        assert got == pytest.approx(real["sex_by_site"][site]["m_to_f"], rel=1e-3)
        assert got == pytest.approx(ratio, rel=0.2), site
    assert 1 / views.sex_ratio(open_product(official, views.PRODUCT_ID), "thyroid") == pytest.approx(targets["f_to_m"]["thyroid"], rel=0.2)
    for site in targets["female_only"]:
        assert views.age_sex(open_product(official, views.PRODUCT_ID), site).query("sex == 'M'")["patients"].fillna(0).sum() == 0
    top = views.top_facilities(open_product(official, views.PRODUCT_ID))
    assert top["patients"].sum() / views.city_total(open_product(official, views.PRODUCT_ID)) == pytest.approx(real["top5_share"], abs=1e-6)
    assert list(top["facility_id"]) == real["top5_facilities"]
    fl = _tables()["flows"]
    outside = fl[(fl["home_district"] == "outside") & (fl["facility_district"] == ALL) & (fl["tumor_group"] == ALL)]
    assert int(outside["patients"].iloc[0]) / views.city_total(open_product(official, views.PRODUCT_ID)) == pytest.approx(real["outside_city_share"], abs=1e-6)


def test_done_when_npc_top_five_leaving_share_and_trend(space, signed_in):
    """The commission sees, for NPC, the five facilities treating most, each district's share leaving, by year."""
    from data_products.products.tumor import views

    _, truth = space
    real = truth["realised"]
    official = signed_in("official")
    top = views.top_facilities(open_product(official, views.PRODUCT_ID), "nasopharynx")
    counts = sorted(real["by_site_facility"]["nasopharynx"].values(), reverse=True)
    assert list(top["patients"].astype(int)) == counts[:5]
    assert top["facility_id"].iloc[0] == "F0402"  # the cancer hospital concentrates NPC radiotherapy
    names = set(__import__("data_products.reference", fromlist=["x"]).facilities()["name_zh"])
    assert set(top["name_zh"]) <= names
    leave = views.leaving(open_product(official, views.PRODUCT_ID), "nasopharynx")
    truth_leave = real["leaving_by_site_home_year"]["nasopharynx"]
    shown = leave[~leave["suppressed"] & (leave["home_district"] != ALL) & (leave["year"] != ALL)]
    assert len(shown) >= 15  # most district-years are released at demo scale
    for r in shown.itertuples():
        cell = truth_leave[r.home_district][r.year]
        assert r.share_leaving == pytest.approx(cell["left"] / cell["patients"]), (r.home_district, r.year)
    years = views.trend(open_product(official, views.PRODUCT_ID), "nasopharynx")
    assert list(years["period"]) == ["2022", "2023", "2024"] and not years["suppressed"].any()


def _restricted(sql: str):
    import duckdb

    from data_products.config import paths

    con = duckdb.connect(str(paths().restricted_db), read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


def test_patients_are_distinct_people_per_year_recomputed_from_the_restricted_store(space, signed_in):
    """Brute force in pandas over the restricted records: each pseudonym once a year, on its first record
    (date, then key), C44 apart; against the released facility-year counts and the generator's truth."""
    from data_products.products.tumor import views

    _, truth = space
    rec = _restricted("SELECT pseudonym, diagnosis_key, facility_id, tumor_group, diagnosis_date "
                      "FROM tumor_diagnoses")
    rec["year"] = pd.to_datetime(rec["diagnosis_date"]).dt.year.astype(str)
    rec["c44"] = rec["tumor_group"] == "skin_nmsc"
    first = rec.sort_values(["diagnosis_date", "diagnosis_key"]).drop_duplicates(["pseudonym", "year", "c44"])
    # The generator repeats people: records are not patients.
    assert len(rec) - len(first) == truth["realised"]["n_repeat_records"] > 0.04 * len(rec)
    main, skin = first[~first["c44"]], first[first["c44"]]
    fy = _tables()["facility_year"]
    shown = fy[(fy["facility_id"] != ALL) & (fy["tumor_group"] != ALL) & (fy["year"] != ALL) & fy["patients"].notna()]
    want = main.groupby(["facility_id", "tumor_group", "year"]).size()
    assert len(shown) > 100
    for r in shown.itertuples():
        assert r.patients == want.get((r.facility_id, r.tumor_group, r.year), 0), (r.facility_id, r.tumor_group, r.year)
    official = signed_in("official")
    assert views.city_total(open_product(official, views.PRODUCT_ID)) == len(main) == truth["realised"]["n_diagnoses"]
    assert views.city_total(open_product(official, views.PRODUCT_ID)) < (~rec["c44"]).sum()  # fewer than the records
    # C44 apart: released on its own, in no total.
    c44 = views.c44(open_product(official, views.PRODUCT_ID))
    assert c44["patients"] == len(skin) == truth["realised"]["c44_patients"] > 0
    assert c44["by_year"] == {y: int(n) for y, n in skin.groupby("year").size().items()}
    totals = views.group_totals(open_product(official, views.PRODUCT_ID))
    assert "skin_nmsc" not in set(totals["tumor_group"])
    assert int(totals["patients"].sum()) == views.city_total(open_product(official, views.PRODUCT_ID))
    with pytest.raises(ValueError):
        views.top_facilities(open_product(official, views.PRODUCT_ID), "skin_nmsc")


def test_leaving_share_counts_residents_only_and_non_residents_apart(space, signed_in):
    from data_products.products.tumor import views

    _, truth = space
    real = truth["realised"]
    official = signed_in("official")
    leave = views.leaving(open_product(official, views.PRODUCT_ID))
    city = leave[(leave["home_district"] == ALL) & (leave["year"] == ALL)].iloc[0]
    assert not city["suppressed"]
    assert city["share_leaving"] == pytest.approx(real["residents_leaving_share"], abs=1e-6)
    # Counting non-residents as "leaving" (the old figure) gives a visibly higher share.
    assert real["all_patients_not_treated_at_home_share"] > real["residents_leaving_share"] + 0.02
    non = views.nonresidents(open_product(official, views.PRODUCT_ID)).set_index("year")
    assert not non.loc[ALL, "suppressed"]
    assert non.loc[ALL, "nonresident"] == sum(real["outside_patients_by_year"].values())
    assert non.loc[ALL, "share"] == pytest.approx(real["outside_city_share"], abs=1e-6)
    assert int(city["own"]) + int(city["other"]) + int(non.loc[ALL, "nonresident"]) == views.city_total(open_product(official, views.PRODUCT_ID))
    for y, n in real["outside_patients_by_year"].items():
        if not non.loc[y, "suppressed"]:
            assert non.loc[y, "nonresident"] == n


# --- disclosure: independent brute force ----------------------------------------------------------


def _relations(tables: dict[str, pd.DataFrame]) -> list[tuple[tuple[str, int], list[tuple[str, int]]]]:
    """Every additive relation among released cells, derived here without the disclosure module."""
    from data_products.products.tumor.spec import DIMS

    rels = []
    index = {}
    for name, frame in tables.items():
        if name not in DIMS:
            continue
        dims = list(DIMS[name])
        keys = [tuple(r) for r in frame[dims].astype(str).itertuples(index=False)]
        index[name] = {k: i for i, k in enumerate(keys)}
        for k in keys:
            for j, d in enumerate(dims):
                if k[j] == ALL:
                    continue
                parent = k[:j] + (ALL,) + k[j + 1:]
                rels.append(((name, parent, d), (name, k)))
    grouped: dict = {}
    for parent, child in rels:  # one relation per margin cell and per dimension summed over
        grouped.setdefault(parent, []).append(child)
    out = [((n, index[n][k]), [(c, index[c][kk]) for c, kk in kids]) for (n, k, _), kids in grouped.items()]

    fy, fq = tables["facility_year"], tables["facility_quarter"]
    fl = tables["flows"]
    ify, ifq, ifl, iow, itp = (index[n] for n in ("facility_year", "facility_quarter", "flows", "outflow", "tier_profile"))
    real_fy = fy[(fy["facility_id"] != ALL)]
    # Quarters sum to years, facilities to district and tier totals, at every margin of group.
    for f, g, y in itertools.product([*fy["facility_id"].unique()], [*fy["tumor_group"].unique()], [*fy["year"].unique()]):
        kids = [("facility_quarter", ifq[(f, g, q)]) for q in fq["quarter"].unique()
                if q != ALL and (y == ALL or q.startswith(y))]
        out.append((("facility_year", ify[(f, g, y)]), kids))
    reg = real_fy.drop_duplicates("facility_id").set_index("facility_id")
    for g in fy["tumor_group"].unique():
        for d, fs in reg.groupby("district").groups.items():
            out.append((("flows", ifl[(ALL, d, g)]), [("facility_year", ify[(f, g, ALL)]) for f in fs]))
        for y in fy["year"].unique():
            for tier, fs in reg.groupby("tier").groups.items():
                out.append((("tier_profile", itp[(tier, g, y, ALL, ALL)]),
                            [("facility_year", ify[(f, g, y)]) for f in fs]))
            out.append((("outflow", iow[(ALL, ALL, g, y)]),
                        [("facility_year", ify[(f, g, y)]) for f in reg.index]))
    # A home district's own/other split is a sum of whole-period flows.
    for (h, g), part in fl[(fl["home_district"] != ALL) & (fl["facility_district"] != ALL)].groupby(
            ["home_district", "tumor_group"]):
        own = part[part["facility_district"] == h]
        other = part[part["facility_district"] != h]
        if (h, "own", g, ALL) in iow:
            out.append((("outflow", iow[(h, "own", g, ALL)]), [("flows", ifl[tuple(r)]) for r in
                                                                own[["home_district", "facility_district", "tumor_group"]].itertuples(index=False)]
                        or []))
        if (h, "nonresident", g, ALL) in iow:
            out.append((("outflow", iow[(h, "nonresident", g, ALL)]), [("flows", ifl[tuple(r)]) for r in
                        part[["home_district", "facility_district", "tumor_group"]].itertuples(index=False)]))
        if (h, "other", g, ALL) in iow:
            out.append((("outflow", iow[(h, "other", g, ALL)]), [("flows", ifl[tuple(r)]) for r in
                                                                  other[["home_district", "facility_district", "tumor_group"]].itertuples(index=False)]))
    return out


def test_released_tables_have_no_small_counts_and_no_recoverable_cell(space):
    tables = _tables()
    hidden = {}
    value = {}
    for name, frame in tables.items():
        v = frame["patients"]
        small = v.notna() & (v >= 1) & (v < MIN_CELL)
        assert not small.any(), f"{name}: released counts in 1..9"
        for i, x in enumerate(v):
            hidden[(name, i)] = pd.isna(x)
            value[(name, i)] = None if pd.isna(x) else int(x)
    rels = _relations(tables)
    assert len(rels) > 5000
    # Every relation adds up on its released cells (sanity of the independent relations).
    for total, kids in rels:
        if not hidden[total] and not any(hidden[k] for k in kids):
            assert value[total] == sum(value[k] for k in kids)
    # Differencing attack, iterated: whatever one relation gives away becomes known and is used again
    # (a district total minus its other facilities, a year minus its other quarters, ...).
    known = {c for c, h in hidden.items() if not h}
    changed = True
    recovered = []
    while changed:
        changed = False
        for total, kids in rels:
            cells = [total, *kids]
            unknown = [c for c in cells if c not in known]
            if len(unknown) == 1:
                known.add(unknown[0])
                recovered.append(unknown[0])
                changed = True
    assert recovered == [], f"recoverable suppressed cells: {recovered[:5]}"
    # Interval leak: a released total whose hidden components add up to less than min_cell.
    for total, kids in rels:
        if not hidden[total] and any(hidden[k] for k in kids):
            rest = value[total] - sum(value[k] for k in kids if not hidden[k])
            assert rest >= MIN_CELL, (total, rest)


def test_approval_check_is_clean_and_catches_a_leak(space):
    from data_products.products.tumor import release

    tables = _tables()
    assert release.check(tables, {"min_cell": MIN_CELL}) == []
    fy = tables["facility_year"]
    i = int(np.flatnonzero(fy["patients"].isna().to_numpy())[0])
    fy.loc[i, "patients"] = 3
    fy.loc[i, "patients_flag"] = ""
    assert release.check({**tables, "facility_year": fy}, {"min_cell": MIN_CELL})


# --- views and pages per role -------------------------------------------------------------------


def _page(user, group="nasopharynx", lang="en"):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=90)
    at.query_params["lang"] = lang
    at.session_state["principal"] = user
    at.run()
    at.switch_page("views/tumor.py")
    at.query_params["group"] = group
    return at.run()


def test_official_page_names_every_facility(space, signed_in):
    from data_products.reference import facilities

    at = _page(signed_in("official"))
    assert not at.exception, at.exception
    names = set(facilities()["name_en"])
    top = at.dataframe[0].value
    assert top["Facility"].iloc[0] == "Yuexiu Beichen Cancer Hospital (synthetic)"
    full = at.dataframe[-1].value
    assert set(full["Facility"]) <= names and len(full) == 15
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    markers = sum(len(tr["lon"]) for tr in spec["data"] if tr["type"] == "scattermap" and tr["mode"] == "markers")
    assert markers == 15
    assert any(layer["type"] == "line" for layer in spec["layout"]["map"]["layers"])


def test_hospital_page_names_only_its_own_facility(space, signed_in):
    from data_products.reference import facilities

    reg = facilities().set_index("facility_id")
    at = _page(signed_in("hospital_f0301"), group="lung", lang="zh")
    assert not at.exception, at.exception
    full = at.dataframe[-1].value
    real = set(reg["name_zh"]) & set(full["机构"])
    assert real == {reg.at["F0301", "name_zh"]}
    # Other facilities only as district totals that pass the rule (none in the demo: at most two per district).
    assert (full["机构"] == reg.at["F0301", "name_zh"]).sum() == 1
    assert not full["机构"].str.startswith("同级机构").any()
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    texts = " ".join(" ".join(tr.get("text", [])) for tr in spec["data"]
                     if tr["type"] == "scattermap" and tr["mode"] == "markers")
    for fid, name in reg["name_zh"].items():
        assert (name in texts) == (fid == "F0301")


def test_company_without_scenario_is_denied(space, signed_in):
    from streamlit.testing.v1 import AppTest

    from data_products.governance import AccessDenied
    from data_products.products.tumor import views

    user = signed_in("company_none")
    with pytest.raises(AccessDenied):
        views.facilities_view(open_product(user, views.PRODUCT_ID))
    with pytest.raises(AccessDenied):
        views.download(open_product(user, views.PRODUCT_ID))
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["principal"] = user
    at.run()
    with pytest.raises(ValueError):
        at.switch_page("views/tumor.py")  # not in this user's navigation
    direct = AppTest.from_file(PAGE, default_timeout=60)
    direct.session_state["principal"] = user
    direct.run()
    assert any("无权访问" in e.value for e in direct.error)
    assert not direct.get("plotly_chart")


def test_download_is_gated_scoped_and_recorded(space, signed_in):
    from data_products.governance import entries
    from data_products.products.tumor import views

    user = signed_in("hospital_f0301")
    csv_bytes, meta_bytes = views.download(open_product(user, views.PRODUCT_ID), "liver", "2023")
    frame = pd.read_csv(__import__("io").BytesIO(csv_bytes), encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert set(frame["facility_id"]) - {""} == {"F0301"}
    assert set(frame["row_kind"]) <= {"own_facility", "other_facilities_in_district"}
    counts = pd.to_numeric(frame["patients"].replace("", None))
    assert not ((counts >= 1) & (counts < MIN_CELL)).any()
    assert (frame.loc[frame["patients"] == "", "suppression_reason"] != "").all()
    meta = json.loads(meta_bytes)
    assert meta["selection"] == {"tumor_group": "liver", "period": "2023"} and meta["facility_names"] == "own_only"
    assert any(e.action == "download" and e.actor == "hospital_f0301" and e.target == "tumor_distribution"
               and e.detail.get("sha256") for e in entries())


@pytest.mark.browser
def test_facility_map_renders_offline(space, serve, browser):
    from data_products.governance import demo_passwords

    home, _ = space
    with serve(home) as url, browser() as b:
        b.page.goto(f"{url}/?lang=en")
        b.wait_idle()
        b.page.get_by_role("textbox", name="Username").fill("official")
        b.page.get_by_role("textbox", name="Password").fill(demo_passwords()["official"])
        b.page.keyboard.press("Enter")
        b.wait_idle()
        # A fresh page load would start a new (signed-out) session: navigate inside the app.
        b.page.get_by_role("link", name="Tumor patients by facility").click()
        b.wait_idle()
        b.page.wait_for_selector(".js-plotly-plot .maplibregl-canvas", timeout=30_000)
        n = b.page.evaluate(
            "() => { const p = document.querySelector('.js-plotly-plot');"
            " return p && p.data ? p.data.filter(t => t.type === 'scattermap' && t.mode === 'markers').reduce((s, t) => s + t.lon.length, 0) : 0 }"
        )
        assert n == 15
        assert "Tumor patients across Guangzhou" in b.page.inner_text("body")
        b.screenshot("tumor-map-en")
        assert b.blocked == [] and b.failed == [], (b.blocked, b.failed)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_page_explains_patients_residents_and_c44(space, lang, signed_in):
    at = _page(signed_in("official"), group="ALL", lang=lang)
    assert not at.exception, at.exception
    text = " ".join(m.value for m in at.markdown)
    from data_products import approved

    counts = approved.current("tumor_distribution").meta["counts"]
    assert f"{counts['diagnosis_records']:,}" in text and f"{counts['patient_years']:,}" in text
    assert ("C44" in text) and (("non-residents" in text) if lang == "en" else ("市外" in text))
    captions = " ".join(c.value for c in at.caption)
    assert "C44" in captions


def test_trend_and_leaving_charts_have_whole_years_and_a_zero_based_axis(space, signed_in):
    """Issue 15 item 6: year ticks are years (no "2,022.5"), the trend is yearly (no quarter line made
    of the year's total ÷ 4) on an axis from 0, shares carry a % sign."""
    at = _page(signed_in("official"), group=ALL)
    assert not at.exception, at.exception
    charts = {c.proto.id.rsplit("-", 1)[-1] if "-" in c.proto.id else c.proto.id: json.loads(c.proto.spec)
              for c in at.get("plotly_chart")}
    trend = next(spec for key, spec in charts.items() if key.endswith("tumor_trend"))
    assert len(trend["data"]) == 1
    xs = trend["data"][0]["x"]
    assert xs == [2022, 2023, 2024] and all(isinstance(x, int) for x in xs)
    assert trend["layout"]["yaxis"]["rangemode"] == "tozero"
    assert trend["layout"]["xaxis"]["dtick"] == 1 and trend["layout"]["xaxis"]["tickformat"] == "d"
    leaving = next(spec for key, spec in charts.items() if key.endswith("tumor_leaving"))
    assert all(isinstance(x, int) for tr in leaving["data"] for x in tr["x"])
    assert leaving["layout"]["yaxis"]["ticksuffix"] == "%"
    top = next(df for df in at.dataframe if "Share" in df.value.columns)
    assert json.loads(top.proto.columns)["Share"]["type_config"]["format"] == "%.1f%%"

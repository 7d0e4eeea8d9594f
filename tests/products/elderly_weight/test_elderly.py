"""Elderly body-weight atlas and the supplier-quality report, on one small home (elderly kind only).

The home is built by generate -> ingest -> process -> approve with three tampered extracts that
still pass the schema or are rejected: one with most weights blanked, one stale (its last months
cut), one duplicated, and one rejected outright.
"""

from __future__ import annotations

import numpy as np
import pytest

from data_products.governance.gate import open_product

CHC_USER = "hospital_f0303"  # the centre user the elderly_space fixture adds (conftest.ELDERLY)


@pytest.fixture
def env(elderly_space, monkeypatch):
    monkeypatch.setenv("DATASPACE_HOME", str(elderly_space["home"]))
    return elderly_space


# --- the atlas ----------------------------------------------------------------------------------


def test_bmi_category_cut_offs():
    from data_products.products.elderly_weight.spec import bmi, category

    assert list(category(np.array([18.49, 18.5, 23.99, 24.0, 27.99, 28.0, np.nan]))) == [
        "underweight", "normal", "normal", "overweight", "overweight", "obese", ""]
    assert bmi([170.0], [72.25])[0] == pytest.approx(25.0)


def _exact_class(height: str, weight: str, cuts: tuple[str, ...]) -> int:
    """Brute force with exact fractions from the recorded decimal text: how many cut-offs BMI reaches."""
    from fractions import Fraction

    value = Fraction(weight) / (Fraction(height) / 100) ** 2
    return sum(value >= Fraction(c) for c in cuts)


def test_bmi_is_exact_at_the_cut_offs():
    from data_products.products.elderly_weight.spec import CATEGORIES, bmi, classify

    # The reviewer's case: 61.44 / 1.6^2 is exactly 24.0, but the float quotient is just below it.
    assert bmi([160.0], [61.44])[0] < 24.0
    assert list(classify([160.0], [61.44])) == ["overweight"]
    # Every height from 140.0 to 190.0 cm at the weights on and either side of each cut-off (0.01 kg),
    # against exact fractions of the decimal text.
    heights, weights = [], []
    for h10 in range(1400, 1901):
        h = h10 / 10
        for cut in (18.5, 24.0, 28.0):
            w = round(cut * h * h / 10000, 2)
            for dw in (-0.01, 0.0, 0.01):
                heights.append(f"{h:.1f}")
                weights.append(f"{w + dw:.2f}")
    got = classify(np.array(heights, dtype=float), np.array(weights, dtype=float))
    want = [CATEGORIES[_exact_class(h, w, ("18.5", "24.0", "28.0"))] for h, w in zip(heights, weights, strict=True)]
    assert list(got) == want
    # Some of these sit exactly on a cut-off, and the float quotient misclassifies at least one of them.
    from data_products.products.elderly_weight.spec import category

    floats = category(bmi(np.array(heights, dtype=float), np.array(weights, dtype=float)))
    assert (floats != got).sum() > 0
    assert list(classify([np.nan, 160.0], [60.0, np.nan])) == ["", ""]


def test_older_adult_classification_is_exact_and_age_dependent():
    from data_products.products.elderly_weight.spec import OLDER_CATEGORIES, classify_older

    rows = []
    for h10 in range(1450, 1851, 7):
        h = h10 / 10
        for cut in (20.0, 22.0, 27.0):
            w = round(cut * h * h / 10000, 2)
            for dw in (-0.01, 0.0, 0.01):
                for band in ("65-69", "80+"):
                    rows.append((f"{h:.1f}", f"{w + dw:.2f}", band))
    h, w, b = (np.array(x) for x in zip(*rows, strict=True))
    got = classify_older(h.astype(float), w.astype(float), b)
    want = [OLDER_CATEGORIES[_exact_class(hh, ww, ("22.0", "27.0") if bb == "80+" else ("20.0", "27.0"))]
            for hh, ww, bb in rows]
    assert list(got) == want
    # BMI 21.0 is within the range at 65-79 and below it at 80+ (22.0-26.9).
    assert list(classify_older([100.0, 100.0], [21.0, 21.0], ["70-74", "80+"])) == ["in_range", "below_range"]


def test_the_tampered_extract_was_rejected_and_the_rest_accepted(env):
    rejected = [o.file for o in env["report"].rejected]
    assert rejected == [f"{env['rejected']}/elderly_weight_2023.csv"]
    assert any("sex" in str(i) for i in env["report"].rejected[0].issues)


def test_city_shares_recover_the_generator(env, elderly_sign_in, restricted_query):
    from data_products.disclosure import ALL
    from data_products.products.elderly_weight import views

    official = elderly_sign_in("official")
    prof = views.city_profile(open_product(official, views.PRODUCT_ID))
    measured = restricted_query("SELECT bmi_category, count(*) AS n FROM elderly_measurements "
                           "WHERE bmi_category IS NOT NULL GROUP BY 1").set_index("bmi_category")["n"]
    # Exact against a brute-force recount of the stored records.
    for c, row in prof.iterrows():
        assert row["count"] == measured[c]
        assert row["share"] == pytest.approx(100 * measured[c] / measured.sum())
    # Close to the generator's realised shares (the tampered and rejected files differ a little)...
    realised = env["truth"]["realised"]["shares"]
    for c in prof.index:
        assert prof.at[c, "share"] / 100 == pytest.approx(realised[c], abs=0.01)
    # ...and to its parameters, weighted by the age mix.
    params = env["truth"]["parameters"]
    from data_products.products.elderly_weight.spec import AGE_BANDS, CATEGORIES

    mix = np.array([params["age_band_share"][b] for b in AGE_BANDS])
    expected = mix @ np.array([[params["category_by_age_band"][b][c] for c in CATEGORIES] for b in AGE_BANDS])
    for c, e in zip(CATEGORIES, expected, strict=True):
        assert prof.at[c, "share"] / 100 == pytest.approx(e, abs=0.02)
    assert views.district_values(open_product(official, views.PRODUCT_ID), "obese").loc[ALL, "measured"] == measured.sum()


def test_stored_categories_and_both_classifications_match_exact_fractions(env, elderly_sign_in, restricted_query):
    """The stored adult category and the released older-adult counts, against a brute-force recount
    of the restricted store's heights and weights with exact fractions."""
    from fractions import Fraction

    from data_products.disclosure import ALL
    from data_products.products.elderly_weight import views
    from data_products.products.elderly_weight.spec import CATEGORIES, OLDER_CATEGORIES

    rows = restricted_query("SELECT height_cm, weight_kg, age_band, bmi_category FROM elderly_measurements "
                       "WHERE bmi_category IS NOT NULL AND district IS NOT NULL")
    adult, older = {c: 0 for c in CATEGORIES}, {c: 0 for c in OLDER_CATEGORIES}
    adult_cuts = [Fraction(c) for c in ("18.5", "24.0", "28.0")]
    for h, w, band, stored in rows.itertuples(index=False):
        # Recorded to 0.1: the decimal text is the value the clinic wrote.
        value = Fraction(f"{w:.2f}") / (Fraction(f"{h:.2f}") / 100) ** 2
        exact = CATEGORIES[sum(value >= c for c in adult_cuts)]
        assert stored == exact, (h, w)
        adult[exact] += 1
        low = Fraction("22.0") if band == "80+" else Fraction("20.0")
        older[OLDER_CATEGORIES[(value >= low) + (value >= Fraction("27.0"))]] += 1
    official = elderly_sign_in("official")
    prof = views.city_profile(open_product(official, views.PRODUCT_ID), scheme="older")
    for c in OLDER_CATEGORIES:
        assert prof.at[c, "count"] == older[c]
        assert prof.at[c, "share"] == pytest.approx(100 * older[c] / sum(older.values()))
    assert views.district_values(open_product(official, views.PRODUCT_ID), "in_range", scheme="older").loc[ALL, "measured"] == sum(adult.values())
    # The older-adult range moves people: some adult "normal" (18.5-19.9) are below it, some
    # "overweight" (24.0-26.9) within it.
    assert older["in_range"] != adult["normal"]


def test_age_band_shares_follow_the_generator_gradient(env, elderly_sign_in):
    from data_products.products.elderly_weight import views

    official = elderly_sign_in("official")
    by_age = views.breakdown(open_product(official, views.PRODUCT_ID), "age_band")
    under = by_age[by_age["category"] == "underweight"].set_index("age_band")["share"]
    params = env["truth"]["parameters"]["category_by_age_band"]
    for band, share in under.items():
        assert share / 100 == pytest.approx(params[band]["underweight"], abs=0.03)
    assert under["80+"] > under["65-69"]


def test_release_passes_disclosure_and_has_no_small_counts(env):
    from data_products import approved
    from data_products.products.elderly_weight import release

    rel = approved.current("elderly_weight_atlas")
    assert release.check(dict(rel.tables), rel.meta) == []
    for name in ("district_cube", "facility_cube", "older_district_cube", "older_facility_cube"):
        n = rel.table(name)["n"].dropna()
        assert not ((n > 0) & (n < 10)).any()


def test_hospital_sees_its_centre_by_name_and_peers_anonymised(env, elderly_sign_in, restricted_query):
    from data_products.products.elderly_weight import views

    chc = elderly_sign_in(CHC_USER)
    table = views.facility_table(open_product(chc, views.PRODUCT_ID))
    named = table[~table["name_en"].str.startswith("Peer facility")]
    assert list(named["facility_id"]) == ["F0303"]
    assert not table["facility_id"].isin(["F0304", "F1503"]).any()
    comp = views.facility_comparison(open_product(chc, views.PRODUCT_ID))
    assert not comp.loc["measured", "own_suppressed"]
    own = restricted_query("SELECT count(*) AS n FROM elderly_measurements WHERE facility_id = 'F0303' "
                      "AND bmi_category IS NOT NULL")["n"][0]
    assert comp.loc["measured", "own"] == own


def test_company_is_denied(env, elderly_sign_in):
    from data_products.governance import AccessDenied
    from data_products.products.elderly_weight import views

    with pytest.raises(AccessDenied):
        views.district_values(open_product(elderly_sign_in("company_none"), views.PRODUCT_ID), "obese")


# --- supplier quality ----------------------------------------------------------------------------


def _check(frame, facility, check):
    rows = frame[(frame["facility_id"] == facility) & (frame["check"] == check) & (frame["year"] != "")]
    return rows


def test_quality_flags_the_seeded_bad_transfers(env, elderly_sign_in, restricted_query):
    from data_products.products.supplier_quality import views

    official = elderly_sign_in("official")
    checks = views.checks(open_product(official, views.PRODUCT_ID))
    blank = _check(checks, env["blanked"], "completeness")
    assert not blank[blank["file_name"].str.contains("2024")]["passed"].any()
    assert blank[blank["file_name"].str.contains("2023")]["passed"].all()
    stale = _check(checks, env["stale"], "timeliness")
    assert not stale[stale["file_name"].str.contains("2024")]["passed"].any()
    duped = _check(checks, env["duped"], "duplicates")
    bad = duped[duped["file_name"].str.contains("2024")]
    assert not bad["passed"].any()
    # The duplicate share matches a brute-force recount of the stored rows.
    recount = restricted_query(
        "SELECT count(*) - count(DISTINCT (pseudonym, facility_id, measure_date)) AS d, count(*) AS n "
        "FROM elderly_measurements WHERE facility_id = ? AND year(measure_date) = 2024", [env["duped"]])
    assert bad["value"].iloc[0] == pytest.approx(100 * recount["d"][0] / recount["n"][0])
    rejected = checks[(checks["facility_id"] == env["rejected"]) & (checks["check"] == "validity") & ~checks["passed"]]
    assert list(rejected["file_name"]) == ["elderly_weight_2023.csv"]
    # A clean facility passes everything.
    clean = checks[checks["facility_id"] == "F0303"]
    assert clean["passed"].all() and len(clean) == 8


def test_supplier_views_scope_a_hospital_to_its_own_rows(env, elderly_sign_in, restricted_query):
    from data_products.products.supplier_quality import views

    chc = elderly_sign_in(CHC_USER)
    for frame in (views.transfers(open_product(chc, views.PRODUCT_ID)), views.checks(open_product(chc, views.PRODUCT_ID)), views.completeness(open_product(chc, views.PRODUCT_ID))):
        assert set(frame["facility_id"]) == {"F0303"}
    # Asking for another facility still returns only its own.
    assert set(views.checks(open_product(chc, views.PRODUCT_ID), facility=env["blanked"])["facility_id"]) == {"F0303"}
    s = views.summary(open_product(chc, views.PRODUCT_ID))
    stored = restricted_query("SELECT count(*) AS n FROM elderly_measurements WHERE facility_id = 'F0303'")["n"][0]
    assert s["rows_accepted"] == stored and s["files_accepted"] == 2 and s["files_rejected"] == 0
    assert set(views.rejections(open_product(elderly_sign_in("official"), views.PRODUCT_ID))["facility_id"]) == {env["rejected"]}


def test_supplier_release_passes_its_check(env):
    from data_products import approved
    from data_products.products.supplier_quality import release

    rel = approved.current("supplier_quality")
    assert release.check(dict(rel.tables), rel.meta) == []
    assert "rows_accepted" not in rel.table("transfers").columns


@pytest.mark.parametrize("lang_code", ["en", "zh"])
def test_page_offers_both_classifications_and_explains_them(env, lang_code, elderly_sign_in):
    """AppTest: the older-adult classification renders beside the adult one, and the about section
    states the sources and the exact cut-off rule in the page's language."""
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    app = str(Path(__file__).resolve().parents[3] / "dashboards" / "app.py")
    at = AppTest.from_file(app, default_timeout=90)
    at.query_params["lang"] = lang_code
    at.query_params["scheme"] = "older"
    at.session_state["principal"] = elderly_sign_in("official")
    at.run()
    at.switch_page("views/elderly_weight.py")
    at.run()
    assert not at.exception, at.exception
    assert at.radio(key="ew_scheme").value == "older"
    assert at.selectbox(key="ew_cat").value == "below_range"
    text = " ".join(m.value for m in at.markdown)
    assert "61.44" in text and ("2022" in text) and ("WS/T 428-2013" in text)
    assert ("exactly" in text) if lang_code == "en" else ("恰为" in text)


def test_a_check_without_a_value_is_not_assessed_never_passed():
    """Issue 15 item 7: the status is computed from the value. A transfer with no lag (a kind whose
    table has no event date) or no duplicate share is not assessed, never "passed"; the others are
    judged against the city's median lag + slack and the duplicate bar, by hand here."""
    import pandas as pd

    from data_products import quality

    th = quality.Thresholds()
    trans = pd.DataFrame({
        "transfer_id": ["A", "B", "C"], "facility_id": ["F1", "F2", "F3"], "kind": ["k"] * 3,
        "file_name": ["k_2024.csv"] * 3, "year": ["2024"] * 3,
        "last_event_lag_days": [10.0, 100.0, np.nan], "median_lag_days": [5.0, 50.0, np.nan],
        "duplicate_pct": [0.0, 5.0, np.nan]})
    comp = pd.DataFrame(columns=["transfer_id", "kind", "field", "filled", "rows"])
    rej = pd.DataFrame(columns=["facility_id", "kind", "file_name", "issues", "resolved", "first_issue"])
    checks, _ = quality.evaluate(trans, comp, rej, th)
    got = checks.set_index(["transfer_id", "check"])["passed"]
    city = 55.0  # median of 10 and 100
    assert 10 <= city + th.timeliness_slack_days < 100
    assert got[["A", "B"]].notna().all()
    assert got["A", "timeliness"] and not got["B", "timeliness"]
    assert got["A", "duplicates"] and not got["B", "duplicates"]
    assert pd.isna(got["C", "timeliness"]) and pd.isna(got["C", "duplicates"])
    c = checks[checks["transfer_id"] == "C"].set_index("check")
    assert c.loc["timeliness", "detail"].startswith("not assessed")
    # Wherever there is a value, the status agrees with it.
    late = checks[(checks["check"] == "timeliness") & checks["value"].notna()]
    assert ((late["value"] <= late["reference"] + th.timeliness_slack_days) == late["passed"].astype(bool)).all()

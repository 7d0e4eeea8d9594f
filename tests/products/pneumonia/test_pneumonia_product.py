"""The pneumonia product through the zones: its release recovers the generator's truth, passes
disclosure control, and the views compute exactly what a brute-force reading of the release gives."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from data_products import approved
from data_products.config import paths
from data_products.disclosure import ALL
from data_products.governance.gate import open_product
from data_products.products.pneumonia import release as pn_release
from data_products.products.pneumonia import views
from data_products.products.pneumonia.spec import PATHOGENS, PRODUCT_ID, count_measures

# One vocabulary from the hospital to the page (contracts.pneumonia): the truth uses the same codes.
BAND = ("lt1", "1to5", "6to13")


@pytest.fixture
def truth(demo):
    return json.loads((paths().truth / "pneumonia.json").read_text(encoding="utf-8"))


@pytest.fixture
def cube(demo):
    return approved.current(PRODUCT_ID).table("district_cube")


def city(cube: pd.DataFrame, **fixed) -> pd.DataFrame:
    sel = {"district": ALL, "month": ALL, "age_band": ALL, "sex": ALL, **fixed}
    mask = np.logical_and.reduce([cube[k] == v for k, v in sel.items() if v is not None])
    return cube[mask]


def test_published_release_passes_its_disclosure_check_and_shows_no_small_count(demo):
    rel = approved.current(PRODUCT_ID)
    assert pn_release.check(rel.tables, rel.meta) == []
    for name in ("district_cube", "facility_month"):
        frame = rel.tables[name]
        for m in count_measures():
            vals = frame[m].dropna().astype(int)
            assert not ((vals >= 1) & (vals <= 9)).any(), (name, m)
            assert (frame[m].isna() == (frame[m + "_flag"] != "")).all(), (name, m)


def test_positivity_by_age_band_equals_the_generators_realised_counts(cube, truth):
    for p in PATHOGENS:
        for band in BAND:
            row = city(cube, age_band=band).iloc[0]
            want = truth["realised"]["positivity"][p]["by_age_band"][band]
            assert row[f"{p}_pos"] == want["pos"] and row[f"{p}_pos"] + row[f"{p}_neg"] == want["tested"], (p, band)


def test_mycoplasma_rises_with_age_and_peaks_in_october_november(cube, truth):
    rate = {b: (r := city(cube, age_band=b).iloc[0])["mp_pos"] / (r["mp_pos"] + r["mp_neg"]) for b in BAND}
    assert rate["lt1"] < rate["1to5"] < rate["6to13"]
    # FACTS: 48.64% at 6-14 y, 27.40% overall under 14 (tolerance for a 30k-episode sample and our band edges).
    assert abs(rate["6to13"] - 0.4864) < 0.08
    monthly = city(cube, month=None)
    monthly = monthly[monthly["month"] != ALL].set_index("month")
    by_cal = (monthly["mp_pos"].groupby(monthly.index.str[5:]).sum()
              / (monthly["mp_pos"] + monthly["mp_neg"]).groupby(monthly.index.str[5:]).sum())
    assert by_cal.idxmax() in ("10", "11")
    peak = (monthly["mp_pos"] / (monthly["mp_pos"] + monthly["mp_neg"])).idxmax()
    assert peak == max(truth["realised"]["positivity"]["mp"]["by_month"].items(), key=lambda kv: kv[1]["rate"])[0]


def test_rsv_concentrated_in_infants_and_peaking_in_february(cube):
    rate = {b: (r := city(cube, age_band=b).iloc[0])["rsv_pos"] / (r["rsv_pos"] + r["rsv_neg"]) for b in BAND}
    assert rate["lt1"] == max(rate.values())
    monthly = city(cube, month=None)
    monthly = monthly[monthly["month"] != ALL].set_index("month")
    by_cal = (monthly["rsv_pos"].groupby(monthly.index.str[5:]).sum()
              / (monthly["rsv_pos"] + monthly["rsv_neg"]).groupby(monthly.index.str[5:]).sum())
    assert by_cal.idxmax() in ("01", "02", "03")


def test_crp_and_pct_medians_by_pathogen_follow_the_generators_classes(demo, truth, signed_in):
    user = signed_in("official")
    crp = views.quantiles_by_pathogen(open_product(user, views.PRODUCT_ID), "crp_mg_l")
    pct = views.quantiles_by_pathogen(open_product(user, views.PRODUCT_ID), "pct_ng_ml")
    classes = truth["realised"]["markers_by_class"]
    # Positives for a pathogen include co-infections, so compare loosely with the pure class.
    assert crp.at["mp", "p50"] == pytest.approx(classes["mycoplasma"]["crp_mg_l"]["median"], rel=0.35)
    assert crp.at["rsv", "p50"] == pytest.approx(classes["rsv"]["crp_mg_l"]["median"], rel=0.35)
    assert crp.at["adv", "p50"] > crp.at["rsv", "p50"]
    assert pct.at["mp", "p50"] < pct.at["adv", "p50"]
    # The latent bacterial class has far higher PCT than any viral or Mycoplasma class.
    assert classes["bacterial"]["pct_ng_ml"]["median"] > 5 * pct[["p50"]].max().iloc[0]


@pytest.mark.parametrize("metric", ["cases", "mp_positivity", "crp_gt10_share", "rate"])
def test_district_values_equal_a_brute_force_sum_of_released_months(demo, metric, signed_in):
    user = signed_in("official")
    cube = approved.current(PRODUCT_ID).table("district_cube")
    months = views.months(open_product(user, views.PRODUCT_ID))
    start, end = months[9], months[11]
    got = views.district_values(open_product(user, views.PRODUCT_ID), metric, start, end, "1to5", ALL)
    m = views.METRICS[metric]
    for adcode in got.index:
        rows = cube[(cube["district"] == adcode) & (cube["age_band"] == "1to5") & (cube["sex"] == ALL)
                    & (cube["month"] >= start) & (cube["month"] <= end) & (cube["month"] != ALL)]
        cols = [c for c in (m.num, m.den) if c]
        if rows[cols].isna().any().any():
            assert got.at[adcode, "suppressed"] and np.isnan(got.at[adcode, "value"])
            continue
        num = rows[m.num].sum()
        if m.kind == "count":
            want = num
        elif m.kind == "rate":
            kids = views.children("1to5")
            want = num / kids.get(adcode, kids.sum()) * 10_000 / (3 / 12)  # three months, per year
        else:
            want = 100 * num / (num + rows[m.den].sum())
        assert got.at[adcode, "value"] == pytest.approx(want), adcode


def test_a_hospital_sees_only_its_own_facility_by_name(demo, signed_in):
    user = signed_in("hospital_f0301")
    table = views.facility_table(open_product(user, views.PRODUCT_ID))
    from data_products.reference import facilities

    names = set(facilities()["name_zh"]) | set(facilities()["name_en"])
    shown = set(table["name_zh"]) | set(table["name_en"])
    own = facilities().set_index("facility_id").loc["F0301"]
    assert shown & names == {own["name_zh"], own["name_en"]}
    comparison = views.facility_comparison(open_product(user, views.PRODUCT_ID))
    assert comparison.loc["cases", "facilities"] > 1 and not np.isnan(comparison.loc["cases", "own"])


def test_company_without_a_scenario_is_refused_in_the_data_function(demo, signed_in):
    from data_products.governance import AccessDenied

    with pytest.raises(AccessDenied):
        views.district_values(open_product(signed_in("company_none"), views.PRODUCT_ID), "cases", "2023-01", "2024-12")


def test_download_carries_flags_and_metadata_and_no_suppressed_number(demo, signed_in):
    user = signed_in("official")
    csv_bytes, meta_bytes = views.download(open_product(user, views.PRODUCT_ID), "rsv_positivity", "2023-02", "2023-02", "6to13", "F")
    frame = pd.read_csv(pd.io.common.BytesIO(csv_bytes), encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert {"suppressed", "suppression_reason", "value", "n"} <= set(frame.columns)
    hidden = frame[frame["suppressed"] == "True"]
    assert len(hidden) > 0, "expected some suppressed districts for a single month, one sex and age band"
    assert (hidden["value"] == "").all() and (hidden["n"] == "").all() and (hidden["suppression_reason"] != "").all()
    meta = json.loads(meta_bytes)
    assert meta["release_id"] == approved.current_release_id(PRODUCT_ID)
    assert meta["approval"]["approved_by"] == "official, official2" and meta["synthetic_notice"]
    assert meta["suppression_rule"] and meta["time_span"] == ["2023-01", "2024-12"]


# --- approval and publishing --------------------------------------------------------------------------


@pytest.fixture
def copy_home(demo, tmp_path, monkeypatch):
    """A writable copy of the demo space."""
    dst = tmp_path / "copy"
    shutil.copytree(demo, dst, ignore=shutil.ignore_patterns("*.log"))
    monkeypatch.setenv("DATASPACE_HOME", str(dst))
    return dst


def _tamper_candidate(release_id: str) -> None:
    path = approved.candidate_path(release_id)
    tables, meta = approved.read_release_file(path)
    cube = tables["district_cube"]
    i = cube.index[cube["rsv_pos_flag"] == "primary"][0]
    cube.loc[i, "rsv_pos"] = 3  # a small count shown: what a buggy builder might do
    cube.loc[i, "rsv_pos_flag"] = ""
    path.unlink()
    approved.write_release_file(path, tables, meta)


def test_approve_refuses_a_release_that_breaks_disclosure_control(copy_home, signed_in):
    from data_products.pipeline import ApprovalRefused, approve, latest_candidate

    before = approved.current_release_id(PRODUCT_ID)
    rid = latest_candidate(PRODUCT_ID)
    _tamper_candidate(rid)
    with pytest.raises(ApprovalRefused, match="below min_cell"):
        approve(rid, signed_in("official"))
    assert approved.current_release_id(PRODUCT_ID) == before


def test_check_refuses_a_release_that_does_not_state_the_tie_rule(demo):
    from data_products.products.pneumonia import release

    rel = approved.current(PRODUCT_ID)
    tables = {name: rel.table(name).copy() for name in rel.tables}
    assert release.check(tables, rel.meta) == []
    no_ties = {key: v for key, v in rel.meta.items() if key != "quantile_ties"}
    assert release.check(tables, no_ties) == ["marker quantiles not released under the disclosure rule for ties "
                                              "(metadata says None)"]


def test_only_an_active_commission_official_approves(copy_home, signed_in):
    from data_products.pipeline import ApprovalRefused, approve, latest_candidate

    with pytest.raises(ApprovalRefused, match="commission_analyst"):
        approve(latest_candidate(PRODUCT_ID), signed_in("analyst"))
    with pytest.raises(ApprovalRefused, match="signed-in"):
        approve(latest_candidate(PRODUCT_ID), "official")  # a claimed name is no approver


def test_the_duckdb_builder_equals_an_independent_pandas_aggregation():
    """The builder's GROUP BY CUBE against the benchmark's plain-pandas cube, cell by cell (quantiles
    under the release rule: the SQL and the numpy implementation of it agree)."""
    import duckdb

    from data_products.bench import pandas_cube, synthetic_episodes
    from data_products.products.pneumonia import builder

    # Unrounded markers: the row-wise SQL answers (tests/products/test_histogram_quantiles.py holds the
    # histogram path to it), and no blend lands on a rounding half, where this numpy rule and DuckDB's
    # round() may part.
    frame = synthetic_episodes(5_000, seed=3, recorded=False)
    con = duckdb.connect()
    con.register("frame", frame)
    con.execute("CREATE TABLE pneumonia_episodes AS SELECT *, NULL::VARCHAR AS age_band FROM frame")
    key = ["district", "month", "age_band", "sex"]
    got = builder.tables_rows(con)["district_cube"].set_index(key).sort_index()
    want = pandas_cube(frame, released_quantiles=True).set_index(key).sort_index()
    assert set(got.index) == set(want.index)
    want = want.loc[got.index]
    for col in [c for c in want.columns if c in got.columns]:
        assert np.allclose(got[col].astype(float), want[col].astype(float), equal_nan=True), col


def test_district_by_month_grid_reads_the_released_cells(demo, signed_in):
    user = signed_in("official")
    grid = views.district_by_month(open_product(user, views.PRODUCT_ID), "mp_positivity", "1to5", ALL).set_index(["district", "month"])
    cube = approved.current(PRODUCT_ID).table("district_cube")
    cells = cube[(cube["district"] != ALL) & (cube["month"] != ALL) & (cube["age_band"] == "1to5") & (cube["sex"] == ALL)]
    assert len(grid) == len(cells)
    for r in cells.itertuples():
        g = grid.loc[(r.district, r.month)]
        if pd.isna(r.mp_pos) or pd.isna(r.mp_neg):
            assert g["suppressed"] and np.isnan(g["value"])
        else:
            assert g["value"] == pytest.approx(100 * r.mp_pos / (r.mp_pos + r.mp_neg))


def _district_table() -> dict[str, dict]:
    """districts.csv read with the csv module: independent of the reference code."""
    import csv
    from pathlib import Path

    import data_products

    path = Path(data_products.__file__).parent / "reference" / "data" / "districts.csv"
    with path.open(encoding="utf-8") as f:
        return {r["adcode"]: r for r in csv.DictReader(f)}


@pytest.mark.parametrize("adcode", sorted(_district_table()))
def test_rate_denominator_per_district_is_its_0_13_children_of_end_2023_per_year(demo, adcode, signed_in):
    """Each district's rate against an independent computation: its end-2023 residents times the census's
    0-13 share (0-14 minus the age-15 cohort, from bulletin No. 4), cases per 10,000 children per year."""
    user = signed_in("official")
    months = views.months(open_product(user, views.PRODUCT_ID))
    cube = approved.current(PRODUCT_ID).table("district_cube")
    residents_2023 = int(_district_table()[adcode]["population_2023"])
    share_0_13 = (2_590_189 - (2_721_175 - 2_590_189)) / 18_676_605
    assert share_0_13 == pytest.approx(0.13167, abs=5e-6)
    for start, end, band, years in ((months[0], months[-1], ALL, len(months) / 12),
                                    (months[3], months[8], "6to13", 6 / 12)):
        got = views.district_values(open_product(user, views.PRODUCT_ID), "rate", start, end, band, ALL)
        rows = cube[(cube["district"] == adcode) & (cube["age_band"] == band) & (cube["sex"] == ALL)]
        rows = rows[rows["month"] == ALL] if (start, end) == (months[0], months[-1]) else \
            rows[(rows["month"] >= start) & (rows["month"] <= end) & (rows["month"] != ALL)]
        if rows["cases"].isna().any():
            assert got.at[adcode, "suppressed"]
            continue
        children = round(residents_2023 * share_0_13) * {"6to13": 8, ALL: 14}[band] / 14
        want = float(rows["cases"].sum()) / children * 10_000 / years
        assert got.at[adcode, "value"] == pytest.approx(want, rel=1e-12), (adcode, band)
    # Not the old denominator (0-14 of 2020 residents, cumulative over the window).
    old = float(cube[(cube["district"] == adcode) & (cube["month"] == ALL) & (cube["age_band"] == ALL)
                     & (cube["sex"] == ALL)]["cases"].iloc[0]) / (int(_district_table()[adcode]["population_2020"]) * 0.1387) * 10_000
    full = views.district_values(open_product(user, views.PRODUCT_ID), "rate", months[0], months[-1], ALL, ALL).at[adcode, "value"]
    assert abs(full / old - 1) > 0.05


def test_the_rate_label_says_per_year_and_children():
    from data_products.products.pneumonia.labels import metric_label

    assert metric_label("rate", "en") == "Cases per 10,000 children per year (0–13, est.)"
    assert "每年" in metric_label("rate", "zh")


def test_wbc_cut_off_follows_the_ws_t_779_age_bands():
    from data_products.products.pneumonia.spec import CUTOFFS

    c = next(c for c in CUTOFFS if c.marker == "wbc_10e9_l")
    # (age in months, upper limit) at each band's first and last month.
    expected = [(0, 14.2), (5, 14.2), (6, 14.6), (11, 14.6), (12, 14.1), (23, 14.1), (24, 11.9), (71, 11.9),
                (72, 11.3), (155, 11.3), (156, 11.0), (167, 11.0)]
    assert [(m, c.threshold(m)) for m, _ in expected] == expected
    assert "WS/T 779-2021" in c.source


def test_wbc_counts_equal_a_brute_force_recount_with_age_specific_limits(demo):
    """The city's raised-WBC count per age band against the restricted store, each episode judged
    against its own age's limit (written out here, not taken from the spec)."""
    import duckdb

    con = duckdb.connect(str(paths().restricted_db), read_only=True)
    try:
        rows = con.execute("SELECT age_years, age_months, wbc_10e9_l FROM pneumonia_episodes "
                           "WHERE wbc_10e9_l IS NOT NULL").df()
    finally:
        con.close()

    def limit(years, months):
        m = months if pd.notna(months) else years * 12
        return 14.2 if m < 6 else 14.6 if m < 12 else 14.1 if m < 24 else 11.9 if m < 72 else 11.3 if m < 156 else 11.0

    rows["above"] = [w > limit(y, m) for y, m, w in rows.itertuples(index=False)]
    rows["band"] = np.where(rows["age_years"] < 1, "lt1", np.where(rows["age_years"] < 6, "1to5", "6to13"))
    cube = approved.current(PRODUCT_ID).table("district_cube")
    for band in ("lt1", "1to5", "6to13", ALL):
        sel = rows if band == ALL else rows[rows["band"] == band]
        row = city(cube, age_band=band).iloc[0]
        assert row["wbc_gt_uln_above"] == int(sel["above"].sum()), band
        assert row["wbc_gt_uln_below"] == int((~sel["above"]).sum()), band
    # A fixed 15 would have missed most of the older children's leukocytosis.
    older = rows[rows["age_years"] >= 6]
    assert older["above"].sum() > (older["wbc_10e9_l"] > 15).sum()

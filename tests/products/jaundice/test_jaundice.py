"""Jaundice device report: generator truth recovered, disclosure, method-compare parity, PDF, access."""

from __future__ import annotations

import io
import json
import math
import os
import re
import zlib
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from data_products import approved
from data_products.config import paths
from data_products.governance import AccessDenied, GrantError, entries
from data_products.governance.gate import open_product
from data_products.products.jaundice import release, report_pdf, stats, views
from data_products.products.jaundice.cli import method_compare
from data_products.products.jaundice.spec import DECISION_LEVELS, ERROR_RATIO, PRODUCT_ID, THRESHOLDS, cutoff

ROOT = Path(__file__).resolve().parents[3]
ALLOWED = ("company_jaundice", "official", "hospital_f0602")
DENIED = ("company_none", "hospital_f0301")


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    """A space holding only the bilirubin kind and the jaundice report, built and approved once."""
    from data_products.governance import seed_demo
    from data_products.hospital import generate
    from data_products.pipeline import approve_demo, process
    from data_products.restricted import ingest

    home = tmp_path_factory.mktemp("jaundice-home")
    old = os.environ.get("DATASPACE_HOME")
    os.environ["DATASPACE_HOME"] = str(home)
    try:
        p = paths().ensure()
        (p.home / "DEMO").write_text("synthetic\n", encoding="utf-8")
        generate(p, seed=2024, kinds=["bilirubin"])
        report = ingest(p)
        assert not report.rejected, report.summary()
        seed_demo()
        (rid,) = process([PRODUCT_ID])
        approve_demo(rid)
    finally:
        if old is None:
            os.environ.pop("DATASPACE_HOME", None)
        else:
            os.environ["DATASPACE_HOME"] = old
    return home


@pytest.fixture
def home(space, monkeypatch):
    monkeypatch.setenv("DATASPACE_HOME", str(space))
    return space


def _truth(home: Path) -> dict:
    return json.loads((home / "hospitals" / "_truth" / "bilirubin.json").read_text(encoding="utf-8"))


def _pairs(home: Path) -> pd.DataFrame:
    con = duckdb.connect(str(home / "restricted.duckdb"), read_only=True)
    try:
        return con.execute("SELECT * FROM bilirubin_pairs ORDER BY pair_key").df()
    finally:
        con.close()


def _rel():
    return approved.current(PRODUCT_ID)


# --- truth recovered --------------------------------------------------------------------------------


def test_overall_bias_recovers_generator_truth(home):
    truth = _truth(home)
    o = _rel().table("overall").iloc[0]
    assert o["pairs"] == truth["overall"]["n"]
    # The generator's expected bias lies inside the report's confidence interval...
    assert o["bias_ci_low"] <= truth["overall"]["true_bias"] <= o["bias_ci_high"]
    # ...and the point estimate is exactly the mean difference of the hospital's own extract.
    assert o["bias"] == pytest.approx(truth["overall"]["realised_bias"], abs=1e-5)
    assert o["sd"] == pytest.approx(truth["overall"]["realised_sd"], abs=1e-5)


def test_subgroup_ordering_follows_truth(home):
    truth = _truth(home)["subgroups"]
    sub = _rel().table("subgroups").set_index(["dimension", "level"])
    bias = lambda d, lv: float(sub.loc[(d, lv), "bias"])  # noqa: E731
    for (d, hi, lo) in (("skin_tone", "dark", "light"), ("skin_tone", "medium", "light"),
                        ("ga_site", "preterm/sternum", "preterm/forehead"), ("phototherapy", "yes", "no")):
        assert truth[d][hi]["true_bias"] > truth[d][lo]["true_bias"]
        assert bias(d, hi) > bias(d, lo), (d, hi, lo)
        # The gap is real: the two intervals do not overlap.
        assert sub.loc[(d, hi), "bias_ci_low"] > sub.loc[(d, lo), "bias_ci_high"]
    # Every released subgroup count equals the truth's count for that level.
    for d, levels in truth.items():
        for lv, cell in levels.items():
            key = ("ga_site", f"{lv}/ALL") if d == "ga_group" else (d, lv)
            assert int(sub.loc[key, "pairs"]) == cell["n"], key


def _latent(home: Path) -> pd.DataFrame:
    """The generator's hidden truth per pair (true bilirubin, expected bias), regenerated from its seed."""
    from data_products.hospital.bilirubin import Bilirubin

    truth = _truth(home)
    chunks = list(Bilirubin().chunks(truth["seed"], truth["n_requested"]))
    raw = pd.concat([c.raw for c in chunks], ignore_index=True)
    lat = pd.concat([c.latent for c in chunks], ignore_index=True)
    return lat.assign(tsb=raw["tsb_umol_l"].astype(float), tcb=raw["tcb_umol_l"].astype(float))


def test_primary_line_is_deming_and_recovers_the_generators_slope(home, signed_in):
    # The device reads E[TcB | B] = B + mu(covariates); mu rises with B (preterm, phototherapy), so the true
    # slope of TcB on TSB is that of B + mu on B. lambda ~ 4.5-5 is far from PB's assumption lambda ~ b^2.
    lat = _latent(home)
    b = lat["true_bilirubin"].to_numpy()
    true_slope = np.polyfit(b, b + lat["expected_bias"].to_numpy(), 1)[0]
    o = _rel().table("overall").iloc[0]
    assert o["primary_regression"] == "deming" and o["regression_reason"] == "lambda_far_from_slope_squared"
    assert o["deming_slope_ci_low"] <= true_slope <= o["deming_slope_ci_high"]
    assert o["pb_slope_ci_low"] > true_slope  # the finding: Passing-Bablok's 12% proportional bias is not real
    reg = views.regression(open_product(signed_in("official"), views.PRODUCT_ID)).set_index("method")
    assert bool(reg.at["deming", "primary"]) and not bool(reg.at["passing_bablok", "primary"])


def test_released_limits_follow_the_scatter_in_every_tertile(home):
    pairs = _pairs(home)
    x, y = pairs["tsb_umol_l"].to_numpy(float), pairs["tcb_umol_l"].to_numpy(float)
    o = _rel().table("overall").iloc[0]
    assert o["loa_method"] == "regression" and o["rl_abs_slope_p"] < 0.05 and o["rl_abs_slope_ci_low"] > 0
    a, d = (x + y) / 2, y - x
    centre = o["rl_bias_intercept"] + o["rl_bias_slope"] * a
    half = o["rl_factor"] * (o["rl_abs_intercept"] + o["rl_abs_slope"] * a)
    cuts = np.quantile(a, [1 / 3, 2 / 3])
    top = a > cuts[1]
    for part in (a <= cuts[0], (a > cuts[0]) & (a <= cuts[1]), top):
        assert 0.93 <= np.mean(np.abs(d[part] - centre[part]) <= half[part]) <= 0.97
    # The constant limits miss more than 5% above a pair mean of 256 (the 15-17 mg/dL decision range).
    high = a > 256
    assert np.mean((d[high] < o["loa_lower"]) | (d[high] > o["loa_upper"])) > 0.10
    assert np.mean(np.abs(d[high] - centre[high]) > half[high]) < 0.07
    lim = _rel().table("limits")
    expect = stats.regression_limits(x, y)
    for r in lim[lim["chosen"]].itertuples():
        assert r.method == "regression"
        at = expect.at(r.level)
        assert (r.lower, r.upper, r.upper_ci_high) == pytest.approx((at.lower, at.upper, at.upper_ci_high), rel=1e-9)


def test_verdicts_are_decided_on_confidence_bounds(home, signed_in):
    v = views.verdict(open_product(signed_in("official"), views.PRODUCT_ID))
    acc = _rel().table("accuracy").set_index(["threshold", "rule"])
    t291 = acc.loc[("t291", "aap")]
    # 19/19 at 17 mg/dL is a point estimate of 100% but its Wilson lower bound is about 0.83: not shown.
    assert t291["sensitivity"] == 1.0 and t291["sensitivity_ci_low"] < 0.95
    assert t291["sensitivity_ci_low"] == pytest.approx(stats.wilson_ci(int(t291["tp"]), int(t291["tp"]), 0.95)[0])
    assert v.screening == "not_shown" and v.screening_met is False
    assert v.screening_bound == pytest.approx(t291["sensitivity_ci_low"]) and v.screening_mg_dl == 17
    # Agreement: the upper limit at 17 mg/dL is beyond +51.3 with its whole interval.
    assert v.agreement == "not_met" and v.agreement_side == "upper"
    assert v.agreement_bound > v.agreement_limit
    en = " ".join(v.lines("en"))
    assert "not demonstrated" in en and "Wilson 95% lower bound" in en and f"{100 * v.screening_bound:.1f}%" in en
    assert "not met" in en and f"{v.agreement_bound:+.1f}" in en


def test_verdict_outcomes_on_constructed_bounds():
    # Independent of the demo data: each outcome from its bounds.
    lim = pd.DataFrame([{"level": 205.0, "chosen": True, "lower": -30.0, "upper": 45.0, "lower_ci_low": -33.0,
                         "lower_ci_high": -27.0, "upper_ci_low": 42.0, "upper_ci_high": 48.0}])
    assert views._agreement(lim, 51.3)["agreement"] == "met"
    assert views._agreement(lim.assign(upper_ci_high=53.0), 51.3)["agreement"] == "not_shown"
    assert views._agreement(lim.assign(upper_ci_low=52.0, upper_ci_high=60.0), 51.3)["agreement"] == "not_met"
    def sens(k, n):
        lo, hi = stats.wilson_ci(k, n)
        return pd.DataFrame([{"mg_dl": 12, "tp": k, "fn": n - k, "sensitivity": k / n, "sensitivity_ci_low": lo,
                              "sensitivity_ci_high": hi}])

    # 73/73: Wilson lower bound 0.95001 (met); 60/60: 0.9398 (a perfect point estimate, not shown);
    # 40/50: upper bound below 0.95 (not met); a suppressed sensitivity: unknown.
    assert views._screening(sens(73, 73), 0.95)["screening"] == "met"
    assert views._screening(sens(60, 60), 0.95)["screening"] == "not_shown"
    assert views._screening(sens(40, 50), 0.95)["screening"] == "not_met"
    assert views._screening(sens(60, 60).assign(sensitivity=math.nan), 0.95)["screening"] == "unknown"


# --- disclosure ---------------------------------------------------------------------------------------


def test_release_passes_its_check_and_grids_hold_no_small_counts(home):
    rel = _rel()
    k = rel.meta["min_cell"]
    assert release.check(rel.tables, rel.meta) == []
    for name in ("ba_grid", "scatter_grid", "diagnostic"):
        counts = rel.table(name)["pairs"].dropna().astype(int)
        assert not ((counts >= 1) & (counts < k)).any(), name
    ba = rel.table("ba_grid")
    assert (ba["pairs_flag"] == "primary").any(), "the demo BA grid should have small edge cells to hide"
    assert ba.loc[ba["pairs_flag"] != "", "pairs"].isna().all()


def test_check_catches_a_leaked_cell(home):
    rel = _rel()
    tables = {k: v.copy() for k, v in rel.tables.items()}
    ba = tables["ba_grid"]
    i = ba.index[ba["pairs_flag"] == "primary"][0]
    ba.loc[i, "pairs"] = 3
    ba.loc[i, "pairs_flag"] = ""
    problems = release.check(tables, rel.meta)
    assert any("below min_cell" in p for p in problems)


def test_small_subgroup_is_suppressed_with_reason(tmp_path, monkeypatch):
    monkeypatch.setenv("DATASPACE_HOME", str(tmp_path))
    from data_products.contracts import ddl
    from data_products.contracts.bilirubin import RECORDS, TABLE

    rng = np.random.default_rng(3)
    n = 400
    tsb = rng.uniform(80, 300, n).round()
    frame = pd.DataFrame({
        "pseudonym": [f"p{i}" for i in range(n)], "pair_key": [f"k{i}" for i in range(n)], "facility_id": "F0602",
        "measure_month": "2024-01", "hours_of_life": rng.uniform(24, 120, n).round(),
        "gestational_age_weeks": rng.uniform(37, 41, n).round(1), "birth_weight_g": 3300, "sex": "F",
        "skin_tone": "light", "phototherapy": False,
        # Five pairs on a third model: a count of 5 must never be shown, nor its statistics.
        "device_model": ["JM-A"] * 200 + ["JM-B"] * 195 + ["JM-C"] * 5, "site": "forehead", "minutes_apart": 10,
        "tcb_umol_l": tsb + 20 + rng.normal(0, 15, n).round(), "tsb_umol_l": tsb, "transfer_id": "T1",
    })
    con = duckdb.connect()
    con.execute(ddl(TABLE, RECORDS))
    con.register("f", frame)
    con.execute("INSERT INTO bilirubin_pairs BY NAME SELECT * FROM f")
    cand = release.build(con)
    cand.meta["min_cell"] = 10
    sub = cand.tables["subgroups"].set_index(["dimension", "level"])
    assert pd.isna(sub.loc[("device_model", "JM-C"), "pairs"])
    assert sub.loc[("device_model", "JM-C"), "pairs_flag"] == "primary"
    assert sub.loc[("device_model", "JM-C"), "stats_reason"] == "primary"
    assert pd.isna(sub.loc[("device_model", "JM-C"), "bias"])
    # JM-C's count could be had as 400 - 200 - 195: a second model is hidden too.
    assert pd.isna(sub.loc[("device_model", "JM-B"), "pairs"]) or pd.isna(sub.loc[("device_model", "JM-A"), "pairs"])
    # Only light skin exists: the empty levels are released as 0 with no statistics, and a reason.
    assert sub.loc[("skin_tone", "dark"), "pairs"] == 0
    assert sub.loc[("skin_tone", "dark"), "stats_reason"] == "too_few"
    assert release.check(cand.tables, cand.meta) == []


# --- same figures as the command line -------------------------------------------------------------


def test_method_compare_cli_gives_the_report_figures(home, tmp_path):
    pairs = _pairs(home)
    csv = tmp_path / "pairs.csv"
    pairs[["tsb_umol_l", "tcb_umol_l"]].to_csv(csv, index=False)
    out, err = io.StringIO(), io.StringIO()
    code = method_compare(csv, "tsb_umol_l", "tcb_umol_l", error_ratio=ERROR_RATIO, as_json=True, out=out, err=err,
                          decision_levels=DECISION_LEVELS)
    assert code == 0, err.getvalue()
    cli = json.loads(out.getvalue())
    o = _rel().table("overall").iloc[0]
    pairs_map = {
        "bias": "bland_altman_bias", "bias_ci_low": "bland_altman_bias_ci_low", "sd": "bland_altman_sd",
        "loa_lower": "bland_altman_lower", "loa_upper": "bland_altman_upper", "pearson_r": "pearson_r",
        "ols_slope": "ols_slope", "deming_slope": "deming_slope", "deming_intercept": "deming_intercept",
        "deming_slope_ci_low": "deming_slope_ci_low", "pb_slope": "passing_bablok_slope",
        "pb_intercept": "passing_bablok_intercept", "pb_slope_ci_high": "passing_bablok_slope_ci_high",
    }
    assert cli["n"] == o["pairs"]
    for ours, theirs in pairs_map.items():
        assert o[ours] == pytest.approx(cli[theirs], rel=1e-9, abs=1e-9), ours
    dl = _rel().table("decision_levels")
    for i, level in enumerate(DECISION_LEVELS, start=1):
        assert dl.loc[dl["level"] == level, "bias"].iloc[0] == pytest.approx(cli[f"decision_level_{i}_bias"], rel=1e-9)


def test_released_accuracy_equals_brute_force(home):
    pairs = _pairs(home)
    x, y = pairs["tsb_umol_l"].to_numpy(), pairs["tcb_umol_l"].to_numpy()
    acc = _rel().table("accuracy").set_index(["threshold", "rule"])
    for th in THRESHOLDS:
        for rule in ("same", "aap"):
            c = cutoff(th, rule)
            expect = stats.diagnostic_accuracy(x, y, th.tsb, c)
            row = acc.loc[(th.id, rule)]
            if not row["released"]:
                assert math.isnan(row["sensitivity"])
                continue
            assert (row["tp"], row["fp"], row["fn"], row["tn"]) == (expect.tp, expect.fp, expect.fn, expect.tn)
            assert row["sensitivity"] == pytest.approx(expect.sensitivity)
            assert row["specificity_ci_low"] == pytest.approx(expect.specificity_ci_low)
    # TcB reads high, so the AAP rule (cut-off 3 mg/dL lower) misses no more than the plain cut-off.
    for th in THRESHOLDS:
        assert acc.loc[(th.id, "aap"), "fn"] <= acc.loc[(th.id, "same"), "fn"]


# --- PDF and CSV --------------------------------------------------------------------------------------


def _pdf_text(data: bytes) -> str:
    """Text of an fpdf2 PDF: inflate streams, map 2-byte glyph codes through the ToUnicode CMap."""
    streams = []
    for m in re.finditer(rb"<<(.*?)>>\s*stream\r?\n", data, re.S):
        body = data[m.end():data.index(b"endstream", m.end())]
        streams.append(zlib.decompress(body) if b"FlateDecode" in m.group(1) else body)
    cmap = {}
    for s in streams:
        if b"begincmap" in s:
            for src, dst in re.findall(rb"<([0-9A-Fa-f]{4})>\s*<([0-9A-Fa-f]+)>", s):
                cmap[int(src, 16)] = bytes.fromhex(dst.decode()).decode("utf-16-be")
    text = []
    for s in streams:
        for lit in re.findall(rb"\(((?:\\.|[^\\)])*)\)\s*Tj|\(((?:\\.|[^\\)])*)\)", s):
            raw = lit[0] or lit[1]
            raw = re.sub(rb"\\([nrtbf()\\])", lambda m: {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b",
                                                           b"f": b"\f"}.get(m.group(1), m.group(1)), raw)
            text.append("".join(cmap.get(int.from_bytes(raw[i:i + 2], "big"), "") for i in range(0, len(raw) - 1, 2)))
    return "".join(text)


def test_pdf_is_a_three_page_report_with_the_chinese_title(home, signed_in):
    user = signed_in("company_jaundice")
    before = len(entries(action="download", actor="company_jaundice"))
    zh = views.report_pdf(open_product(user, views.PRODUCT_ID), "zh")
    en = views.report_pdf(open_product(user, views.PRODUCT_ID), "en")
    assert zh.startswith(b"%PDF-") and zh.rstrip().endswith(b"%%EOF")
    assert len(re.findall(rb"/Type\s*/Page\b(?!s)", zh)) == 3
    text = _pdf_text(zh)
    assert "新生儿黄疸仪设备测试评估报告" in text
    assert "一致性标准" in text and "合成演示数据" in text
    assert "Neonatal jaundice device evaluation report" in _pdf_text(en)
    # The company sees no facility name in its report.
    assert "天河松柏" not in text
    assert len(entries(action="download", actor="company_jaundice")) == before + 2


def test_statistics_zip_is_tidy_tables_holding_the_released_figures(home, signed_in):
    import zipfile

    payload = views.statistics_zip(open_product(signed_in("official"), views.PRODUCT_ID))
    with zipfile.ZipFile(io.BytesIO(payload)) as z:
        names = set(z.namelist())
        tables = {n[:-4]: pd.read_csv(io.BytesIO(z.read(n)), encoding="utf-8-sig") for n in names if n.endswith(".csv")}
        meta = json.loads(z.read("metadata.json"))
    assert names == {f"{n}.csv" for n in views.TIDY_TABLES} | {"metadata.json"}
    # One table per file: no section column mixing kinds of rows, and the metadata describes each file.
    assert all("section" not in f.columns for f in tables.values())
    assert {k: v["columns"] for k, v in meta["tables"].items()} == {f"{n}.csv": list(f.columns) for n, f in tables.items()}
    assert meta["release"] == _rel().release_id and meta["synthetic"] is True
    o = _rel().table("overall").iloc[0]
    row = tables["overall"].iloc[0]
    assert len(tables["overall"]) == 1 and row["bias"] == pytest.approx(o["bias"], rel=1e-5)
    assert row["loa_method"] == "regression" and row["primary_regression"] == "deming"
    lim = _rel().table("limits")
    got = tables["limits"][tables["limits"]["method"] == "regression"]
    assert got["upper"].to_numpy() == pytest.approx(lim.loc[lim["method"] == "regression", "upper"].to_numpy(), rel=1e-5)
    assert len(tables["subgroups"]) == len(views.subgroups(open_product(signed_in("official"), views.PRODUCT_ID)))
    # The same release, the same bytes (no time stamps of the moment in the zip).
    assert views.statistics_zip(open_product(signed_in("official"), views.PRODUCT_ID)) == payload


def test_missing_font_fails_clearly(home, monkeypatch, signed_in):
    monkeypatch.setenv("DATASPACE_CJK_FONT", "/nonexistent/font.ttc")
    with pytest.raises(report_pdf.FontMissing, match="fonts-wqy-microhei"):
        views.report_pdf(open_product(signed_in("official"), views.PRODUCT_ID), "zh")


# --- access -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("username", DENIED)
def test_denied_users_get_no_figures_or_files(home, username, signed_in):
    user = signed_in(username)
    # No grant, so no view and no file: the gate refuses at the page open (audited) ...
    with pytest.raises(AccessDenied):
        open_product(user, views.PRODUCT_ID)
    # ... and a view cannot be called on the user instead of a grant.
    for fn in (views.verdict, views.statistics_zip, lambda u: views.report_pdf(u, "zh"), views.ba_grid):
        with pytest.raises(GrantError):
            fn(user)


@pytest.mark.parametrize("username", ALLOWED)
def test_allowed_users_see_the_verdict(home, username, signed_in):
    v = views.verdict(open_product(signed_in(username), views.PRODUCT_ID))
    assert v.n > 0 and not v.agreement_met  # limits ~ -20 / +65 are outside +/-51.3
    info = views.release_info(open_product(signed_in(username), views.PRODUCT_ID))
    assert ("天河松柏" in info["source"]) == (username != "company_jaundice")


def _page(principal, lang: str = "zh"):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "dashboards" / "app.py"), default_timeout=60)
    at.session_state["principal"] = principal
    at.query_params["lang"] = lang
    at.run()
    return at


@pytest.mark.parametrize("username", ALLOWED)
def test_page_shows_verdict_to_allowed_users(home, username, signed_in):
    at = _page(signed_in(username))
    at.switch_page("views/jaundice.py")
    at.run()
    assert not at.exception
    boxes = [w.value for w in [*at.warning, *at.success]]
    assert any("平均偏倚" in b for b in boxes)
    assert at.metric[0].value == f"{int(_rel().table('overall')['pairs'].iloc[0]):,}"


@pytest.mark.parametrize("username", DENIED)
def test_page_denies_without_numbers(home, username, signed_in):
    from streamlit.testing.v1 import AppTest

    at = _page(signed_in(username))
    with pytest.raises(ValueError):  # not in their navigation at all
        at.switch_page("views/jaundice.py")
    # Opened directly, the page shows the gate's reason and stops before any figure.
    page = AppTest.from_file(str(ROOT / "dashboards" / "views" / "jaundice.py"), default_timeout=60)
    page.session_state["principal"] = signed_in(username)
    page.run()
    assert not page.exception
    assert any("无权访问" in e.value for e in page.error)
    assert not page.metric and not page.warning and not page.success
    assert not re.search(r"\d+\.\d", " ".join(e.value for e in page.error))


# --- ingest -------------------------------------------------------------------------------------------


def test_ingest_names_file_row_and_field_for_bad_pairs(tmp_path, monkeypatch):
    from datetime import datetime

    from data_products.hospital import sample
    from data_products.restricted import get_spec
    from data_products.restricted.extract import parse

    monkeypatch.setenv("DATASPACE_HOME", str(tmp_path))
    spec = get_spec("bilirubin")
    raw = sample("bilirubin", 60, seed=5)
    bad = raw.copy()
    bad.loc[3, "tsb_time"] = (pd.Timestamp(bad.loc[3, "tcb_time"]) + pd.Timedelta(hours=3)).strftime("%Y-%m-%d %H:%M:%S")
    bad.loc[7, "tcb_umol_l"] = "900"
    data = bad.to_csv(index=False, lineterminator="\n").encode()
    issues = spec.validate(parse(data, "F0602/bilirubin_2023.csv", spec.columns), "F0602", datetime(2030, 1, 1))[1]
    found = {(i.line, i.field) for i in issues}
    assert (5, "tsb_time") in found and (9, "tcb_umol_l") in found  # header is line 1
    # A file in mg/dL is refused as a whole, not silently taken as tiny µmol/L values.
    mg = raw.copy()
    mg["tsb_umol_l"] = (mg["tsb_umol_l"].astype(float) / 17.1).round(1).astype(str)
    data = mg.to_csv(index=False, lineterminator="\n").encode()
    issues = spec.validate(parse(data, "F0602/bilirubin_2023.csv", spec.columns), "F0602", datetime(2030, 1, 1))[1]
    assert any("mg/dL" in i.message for i in issues)
    # De-identified rows carry no identifier value.
    typed, ok = spec.validate(parse(raw.to_csv(index=False, lineterminator="\n").encode(), "F0602/b.csv",
                                    spec.columns), "F0602", datetime(2030, 1, 1))
    assert ok == []
    rows = spec.deidentify(typed, b"k" * 32)
    flat = " ".join(rows.astype(str).to_numpy().ravel())
    for col in ("mother_name", "baby_name", "mother_id_card", "phone", "address", "birth_time", "tcb_time"):
        assert not any(v in flat for v in raw[col].head(20)), col


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_about_section_states_every_rule_the_code_applies(lang):
    from data_products.i18n import t

    text = t("jaundice.methods", lang, lam=ERROR_RATIO, minp=40, k1=9)
    # The numbers in the explanation are the ones the statistics use.
    assert f"{stats.ABS_RESIDUAL_FACTOR:.2f}" in text and "√(π/2)" in text
    assert f"p < {stats.HETERO_ALPHA:g}" in text
    assert "λ = var(TcB" in text and f"= {ERROR_RATIO:g}" in text and "1/λ" in text
    assert (f"{stats.PB_LAMBDA_FACTOR:g} 倍" if lang == "zh" else f"factor {stats.PB_LAMBDA_FACTOR:g}") in text
    assert "Wilson" in text and "Deming" in text and "Passing–Bablok" in text
    for level in DECISION_LEVELS:
        assert f"{level:g}" in text

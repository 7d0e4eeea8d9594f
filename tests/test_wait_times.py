"""Outpatient wait times: generator calibration, bad extracts, estimates and backtest, gate, feed, page."""

from __future__ import annotations

import io
import json
import os
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from data_products.disclosure import ALL
from tests.conftest import signed_in as _signed_in

_principals: dict = {}


def signed_in(username: str):
    """One argon2 sign-in per user and module home (they are slow by design)."""
    key = (os.environ.get("DATASPACE_HOME"), username)
    if key not in _principals:
        _principals[key] = _signed_in(username)
    return _principals[key]

TEST_VISITS = 120_000
APP = str(Path(__file__).resolve().parents[1] / "dashboards" / "app.py")


@pytest.fixture(scope="module")
def wt_home(tmp_path_factory):
    """A space holding only the visits kind at demo scale, processed and approved (built once)."""
    from data_products.config import paths
    from data_products.governance import seed_demo
    from data_products.hospital import generate
    from data_products.hospital import visits as gen
    from data_products.pipeline import approve_demo, process
    from data_products.restricted import ingest

    home = tmp_path_factory.mktemp("wt-home")
    old = os.environ.get("DATASPACE_HOME")
    os.environ["DATASPACE_HOME"] = str(home)
    demo_size = gen.SIZES["demo"]
    gen.SIZES["demo"] = TEST_VISITS  # a lighter demo keeps this file fast; same network and span
    try:
        p = paths().ensure()
        (p.home / "DEMO").write_text("synthetic\n", encoding="utf-8")
        generate(p, seed=2024, scale="demo", kinds=["visits"])
        report = ingest(p)
        assert not report.rejected, report.summary()
        seed_demo()
        for rid in process(["wait_times"]):
            approve_demo(rid)
    finally:
        gen.SIZES["demo"] = demo_size
        if old is None:
            os.environ.pop("DATASPACE_HOME", None)
        else:
            os.environ["DATASPACE_HOME"] = old
    return home


@pytest.fixture
def wt(wt_home, monkeypatch):
    monkeypatch.setenv("DATASPACE_HOME", str(wt_home))
    return wt_home


def _restricted(home: Path) -> pd.DataFrame:
    con = duckdb.connect(str(home / "restricted.duckdb"), read_only=True)
    try:
        return con.execute("SELECT * FROM outpatient_visits").df()
    finally:
        con.close()


def _release():
    from data_products import approved
    return approved.current("wait_times")


# --- generator -------------------------------------------------------------------------------


def test_generator_reproduces_the_published_outpatient_figures(wt):
    from data_products.hospital import visits as gen
    from data_products.reference import facilities

    truth = json.loads((wt / "hospitals" / "_truth" / "visits.json").read_text(encoding="utf-8"))
    lo, hi = gen.TARGETS["consult_iqr_min"]
    assert abs(truth["realised"]["consult_median_min"] - gen.TARGETS["consult_median_min"]) < 0.5
    assert abs(truth["realised"]["consult_iqr_min"][0] - lo) < 0.5
    assert abs(truth["realised"]["consult_iqr_min"][1] - hi) < 0.5
    # The de-identified store agrees with the generator's truth: same visits, same consultation median.
    rows = _restricted(wt)
    assert len(rows) == sum(truth["realised"]["visits"]["by_type"].values()) == truth["n_requested"] == TEST_VISITS
    assert abs(rows["consult_min"].median() - truth["realised"]["consult_median_min"]) < 0.2
    # FACTS: tertiary hospitals, appointment ~10 min vs walk-in ~18.5 min before consultation.
    tier = facilities().set_index("facility_id")["tier"]
    tert = rows[rows["facility_id"].map(tier) == "tertiary"]
    med = tert.groupby("visit_type")["wait_min"].median()
    for vt, target in gen.TARGETS["wait_median_min"].items():
        assert abs(med[vt] / target - 1) < 0.2, (vt, med[vt], target)
    # Right skew: the P90 sits far further above the median than the P10 below it.
    q10, q50, q90 = rows["wait_min"].quantile([0.1, 0.5, 0.9])
    assert q90 - q50 > 1.5 * (q50 - q10)


def test_generator_is_deterministic_and_streams_facility_weeks():
    from data_products.hospital.visits import VISITS

    a = [c.raw for _, c in zip(range(3), VISITS.chunks(5, 50_000), strict=False)]
    b = [c.raw for _, c in zip(range(3), VISITS.chunks(5, 50_000), strict=False)]
    for x, y in zip(a, b, strict=True):
        pd.testing.assert_frame_equal(x, y)
        assert x["facility_id"].nunique() == 1
    assert sum(len(c.raw) for c in VISITS.chunks(5, 50_000)) == 50_000


# --- bad extracts ----------------------------------------------------------------------------


def _extract_csv(n: int = 40) -> tuple[pd.DataFrame, str]:
    from data_products.hospital import sample

    raw = sample("visits", n, seed=3)
    fac = raw["facility_id"].iloc[0]
    return raw[raw["facility_id"] == fac].reset_index(drop=True), fac


def _prepare(frame: pd.DataFrame, folder: str):
    from data_products.restricted import get_spec, prepare
    from data_products.restricted.extract import parse

    buf = io.StringIO()
    frame.to_csv(buf, index=False, lineterminator="\n")
    extract = parse(buf.getvalue().encode("utf-8"), f"{folder}/visits_2024.csv", get_spec("visits").columns)
    return prepare(get_spec("visits"), extract, folder, b"k" * 32, now=datetime(2025, 1, 1))


def _shift(ts: str, minutes: float) -> str:
    return (pd.Timestamp(ts) + pd.Timedelta(minutes=minutes)).strftime("%Y-%m-%d %H:%M:%S")


@pytest.mark.parametrize("case, field, words", [
    ("call_before_registration", "call_time", "before check-in"),
    ("negative_duration", "consult_end", "negative consultation duration"),
    ("out_of_order", "consult_start", "out of order"),
    ("future", "consult_end", "in the future"),
])
def test_bad_extracts_are_rejected_with_file_line_and_field(case, field, words):
    frame, fac = _extract_csv()
    ok, issues = _prepare(frame, fac)
    assert ok is not None and not issues
    bad = frame.copy()
    i = 5
    if case == "call_before_registration":
        bad.loc[i, "call_time"] = _shift(bad.loc[i, "registration_time"], -3)
    elif case == "negative_duration":
        bad.loc[i, "consult_end"] = _shift(bad.loc[i, "consult_start"], -2)
    elif case == "out_of_order":
        bad.loc[i, "consult_start"] = _shift(bad.loc[i, "call_time"], -1)
    else:
        bad.loc[i, "consult_end"] = "2031-05-01 09:00:00"
    rows, issues = _prepare(bad, fac)
    assert rows is None
    hits = [x for x in issues if x.field == field and words in x.message]
    assert hits, [str(x) for x in issues]
    assert hits[0].line == i + 2  # header is line 1
    assert hits[0].file == f"{fac}/visits_2024.csv"
    # Identifier values never appear in a report.
    assert not any(bad.loc[i, "id_card"] in str(x) for x in issues)


def test_doctor_ids_are_pseudonymised_at_ingest(wt):
    rows = _restricted(wt)
    assert not rows["doctor_code"].str.startswith("YS").any()
    assert rows["doctor_code"].str.fullmatch(r"D[0-9a-f]{10}").all()
    # Same staff code in two hospitals is two doctors.
    from data_products.restricted.visits import doctor_codes
    a = doctor_codes(b"k" * 32, pd.Series(["F0301", "F0401"]), pd.Series(["YS1234", "YS1234"]))
    assert a[0] != a[1]


# --- estimates, shrinkage, disclosure --------------------------------------------------------


def test_shrinkage_rule_on_a_hand_made_cube():
    from data_products.products.wait_times.builder import CUBE_DIMS, estimates
    from data_products.products.wait_times.spec import SHRINK_K

    rows = [
        ("F1", "d", "1", "08", 40, 20.0, 50.0), ("F1", "d", "2", "08", 5, 40.0, 80.0),
        ("F1", "d", ALL, "08", 45, 22.0, 55.0), ("F1", "d", ALL, ALL, 45, 22.0, 55.0),
    ]
    cube = pd.DataFrame(rows, columns=[*CUBE_DIMS, "visits", "p50", "p90"])
    released = pd.Series([True, False, True, True])
    est = estimates(cube, released).set_index("weekday")
    w_h = 45 / (45 + SHRINK_K)
    parent = np.exp(w_h * np.log(22.0) + (1 - w_h) * np.log(22.0))
    w_s = 40 / (40 + SHRINK_K)
    assert est.at["1", "p50"] == pytest.approx(np.exp(w_s * np.log(20.0) + (1 - w_s) * np.log(parent)))
    assert est.at["1", "level"] == "slot"
    # The suppressed slot's own quantile (40 min) is not used at all: it takes the parent's value.
    assert est.at["2", "p50"] == pytest.approx(parent)
    assert est.at["2", "level"] == "facility_department_hour"
    assert est.at["2", "weight_slot"] == 0
    # Without a released facility x department level there is no estimate.
    est2 = estimates(cube, pd.Series([True, True, True, False])).set_index("weekday")
    assert est2["level"].eq("none").all() and est2["p50"].isna().all()


def test_release_passes_disclosure_and_estimates_follow_the_suppression(wt):
    from data_products.config import min_cell
    from data_products.products.wait_times import release as rel_mod

    rel = _release()
    assert rel_mod.check(rel.tables, rel.meta) == []
    k = min_cell()
    for name in ("slot_cube", "doctors", "visit_type"):
        v = rel.table(name)["visits"].dropna()
        assert not ((v >= 1) & (v < k)).any()
    est = rel.table("estimates")
    hidden = est["visits"].isna()
    assert hidden.any(), "the demo should exercise suppression"
    assert (est.loc[hidden, "level"] != "slot").all()
    assert (est.loc[~hidden, "level"] == "slot").all()
    assert (est.loc[hidden, "visits_flag"].isin(["primary", "secondary"])).all()
    # Brute force: a released slot's count equals the restricted store's count.
    rows = _restricted(wt)
    brute = rows.groupby(["facility_id", "department", "weekday", "hour"]).size()
    for r in est[~hidden].head(50).itertuples():
        assert brute[(r.facility_id, r.department, int(r.weekday), int(r.hour))] == r.visits


def test_backtest_beats_the_baseline_and_p90_is_calibrated(wt):
    rel = _release()
    bt = rel.table("backtest")
    city = bt[(bt["facility_id"] == ALL) & (bt["department"] == ALL)].iloc[0]
    assert city["mae_p50"] < city["mae_baseline"]
    assert 0.87 <= city["within_p90"] <= 0.93
    # Recompute the city row from the records and the fitted training estimates (independent of SQL).
    from data_products.products.wait_times import builder
    from data_products.products.wait_times.release import _protect

    con = duckdb.connect(str(wt / "restricted.duckdb"), read_only=True)
    try:
        cutoff = builder.split(con)["cutoff"]
        _, est = builder.backtest(con, cutoff, lambda raw: _protect(raw)["slot_cube"]["visits"].notna())
    finally:
        con.close()
    assert str(cutoff) == rel.meta["backtest_split"]["train_until"]
    rows = _restricted(wt)
    rows["weekday"] = rows["weekday"].astype(str)
    rows["hour"] = rows["hour"].map("{:02d}".format)
    train = rows[rows["visit_date"] < pd.Timestamp(cutoff)]
    test = rows[rows["visit_date"] >= pd.Timestamp(cutoff)]
    mean = train.groupby(["facility_id", "department"])["wait_min"].mean().rename("mean_wait").reset_index()
    scored = test.merge(est, on=["facility_id", "department", "weekday", "hour"]).merge(mean, on=["facility_id", "department"])
    assert len(scored) == city["n_test"]
    assert (scored["wait_min"] - scored["p50"]).abs().median() == pytest.approx(city["mae_p50"], rel=1e-9)
    assert (scored["wait_min"] <= scored["p90"]).mean() == pytest.approx(city["within_p90"], rel=1e-9)
    assert (scored["wait_min"] - scored["mean_wait"]).abs().median() == pytest.approx(city["mae_baseline"], rel=1e-9)


# --- gate and row scope ------------------------------------------------------------------------


def test_a_hospital_sees_only_its_own_doctors(wt):
    from data_products.governance import AccessDenied
    from data_products.products.wait_times import views

    rows = _restricted(wt)
    own = {f: set(rows.loc[rows["facility_id"] == f, "doctor_code"]) for f in ("F0301", "F0602")}
    d301 = views.doctors(signed_in("hospital_f0301"))
    d602 = views.doctors(signed_in("hospital_f0602"))
    assert len(d301) and len(d602)
    assert set(d301["doctor_code"]) <= own["F0301"]
    assert set(d602["doctor_code"]) <= own["F0602"]
    assert not set(d301["doctor_code"]) & set(d602["doctor_code"])
    assert views.doctors(signed_in("official")).empty
    with pytest.raises(AccessDenied):
        views.doctors(signed_in("company_none"))
    with pytest.raises(views.OutOfScope):
        views.estimate(signed_in("hospital_f0301"), "F0602", "obstetrics", "1", "09")
    opts = views.facility_options(signed_in("hospital_f0301"))
    assert list(opts["facility_id"]) == ["F0301"]
    top = views.longest_waits(signed_in("hospital_f0301"), top=50)
    others = top[top["facility_id"] != "F0301"]
    assert others["facility_id"].str.startswith("peer-").all()
    assert not others["name_en"].str.contains("synthetic").any()


def test_estimate_reads_the_published_slot(wt):
    from data_products.products.wait_times import views

    est = _release().table("estimates")
    r = est[est["level"] == "slot"].iloc[7]
    got = views.estimate(signed_in("official"), r["facility_id"], r["department"], r["weekday"], r["hour"])
    assert got["p50"] == pytest.approx(r["p50"]) and got["p90"] == pytest.approx(r["p90"])
    assert got["p90"] > got["p50"]


# --- feed --------------------------------------------------------------------------------------


def test_json_feed_documents_every_published_slot(wt, tmp_path):
    from data_products.governance import entries
    from data_products.products.wait_times.export import SCHEMA_VERSION, export_wait_times

    out = tmp_path / "feed.json"
    assert export_wait_times(out) == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    rel = _release()
    assert doc["schema_version"] == SCHEMA_VERSION and doc["release_id"] == rel.release_id
    assert datetime.fromisoformat(doc["generated_at"]) and doc["computed_at"] == rel.meta["built_at"]
    est = rel.table("estimates")
    est = est[est["level"] != "none"].set_index(["facility_id", "department", "weekday", "hour"])
    slots = [(f["facility_id"], d["department"], s) for f in doc["facilities"] for d in f["departments"] for s in d["slots"]]
    assert len(slots) == len(est)
    for fid, dept, s in slots[::97]:
        row = est.loc[(fid, dept, str(s["weekday"]), f"{s['hour']:02d}")]
        assert s["p50"] == round(row["p50"], 1) and s["p90"] == round(row["p90"], 1)
        assert s["level"] == row["level"]
        assert (s["n"] is None) == pd.isna(row["visits"])
        assert s["flag"] == (row["visits_flag"] or "")
    assert any(e.action == "export" for e in entries())


def test_json_feed_without_release_fails_cleanly(home, tmp_path):
    from data_products.products.wait_times.export import export_wait_times

    assert export_wait_times(tmp_path / "x.json") == 1
    assert not (tmp_path / "x.json").exists()


# --- page ------------------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["official", "hospital_f0301"])
def test_page_renders(wt, username):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state["principal"] = signed_in(username)
    at.query_params["lang"] = "en"
    at.run()
    at.switch_page("views/wait_times.py")
    at.run()
    assert not at.exception, at.exception
    text = " ".join(s.value for s in at.success)
    assert "Usually" in text and "9 in 10 within" in text
    subheaders = [s.value for s in at.subheader]
    if username == "official":
        assert "Departments with the longest waits across the city" in subheaders
    else:
        assert "Own doctors (pseudonymous codes)" in subheaders
        assert "Departments with the longest waits across the city" not in subheaders
    assert any("computed at" in c.value for c in at.caption)


# --- exact quantiles from histograms; the city-scale benchmark's stages -------------------------


def _same_cube(got: pd.DataFrame, want: pd.DataFrame, dims: tuple[str, ...]) -> None:
    assert list(got.columns) == list(want.columns)
    pd.testing.assert_frame_equal(got[list(dims)], want[list(dims)])
    assert (got["visits"] == want["visits"]).all()
    # Same order statistics and interpolation as quantile_cont; the last bit of a double may differ.
    for col in ("p50", "p90", "mean_wait"):
        np.testing.assert_allclose(got[col], want[col], rtol=1e-12, atol=1e-9)


def test_histogram_cube_equals_quantile_cont_on_demo_data(wt):
    from data_products.products.wait_times import builder

    con = duckdb.connect(str(wt / "restricted.duckdb"), read_only=True)
    try:
        cutoff = builder.split(con)["cutoff"]
        for dims in (builder.CUBE_DIMS, builder.DOCTOR_DIMS, builder.TYPE_DIMS):
            assert builder._cube_histogram(con, dims, "all", None) is not None  # the histogram path ran
            _same_cube(builder.cube(con, dims), builder.cube_rows(con, dims), dims)
            for where in ("train", "test"):
                _same_cube(builder.cube(con, dims, where, [cutoff]), builder.cube_rows(con, dims, where, [cutoff]), dims)
    finally:
        con.close()


def test_histogram_quantiles_match_numpy_and_fall_back_off_the_second_grid():
    from data_products.products.wait_times import builder
    from data_products.restricted.visits import DDL

    rng = np.random.default_rng(11)
    n = 3_000
    con = duckdb.connect()
    con.execute(DDL)
    frame = pd.DataFrame({
        "pseudonym": "p", "visit_key": [f"k{i}" for i in range(n)], "facility_id": rng.choice(["F1", "F2"], n),
        "department": rng.choice(["a", "b", "c"], n), "doctor_code": "D", "visit_type": rng.choice(["APPT", "WALKIN"], n),
        "visit_date": pd.Timestamp("2024-09-02"), "weekday": rng.integers(1, 8, n).astype("int32"),
        "hour": rng.choice([8, 9, 14], n).astype("int32"),
        "wait_min": rng.integers(60, 4000, n) / 60.0, "call_wait_min": 1.0, "consult_min": 5.0, "transfer_id": "T",
    })
    con.execute("INSERT INTO outpatient_visits SELECT * FROM frame")
    dims = builder.TYPE_DIMS
    got = builder.cube(con, dims)
    # Brute force: numpy's default (linear) quantile is quantile_cont's definition.
    sub = frame[(frame["facility_id"] == "F2") & (frame["visit_type"] == "APPT")]["wait_min"]
    row = got[(got["facility_id"] == "F2") & (got["department"] == ALL) & (got["visit_type"] == "APPT")].iloc[0]
    assert row["visits"] == len(sub)
    assert row["p50"] == pytest.approx(np.quantile(sub, 0.5), abs=1e-9)
    assert row["p90"] == pytest.approx(np.quantile(sub, 0.9), abs=1e-9)
    grand = got[(got[list(dims)] == ALL).all(axis=1)].iloc[0]
    assert grand["visits"] == n and grand["p90"] == pytest.approx(np.quantile(frame["wait_min"], 0.9), abs=1e-9)
    # A wait that is not a whole second: the histogram declines and the row-wise SQL answers.
    con.execute("UPDATE outpatient_visits SET wait_min = wait_min + 0.001 WHERE visit_key = 'k0'")
    assert builder._cube_histogram(con, dims, "all", None) is None
    _same_cube(builder.cube(con, dims), builder.cube_rows(con, dims), dims)
    con.close()


def test_bench_string_pool_and_facility_split():
    import pyarrow as pa

    from data_products.products.wait_times.bench import _balance, _StringPool

    values = np.array(["曾若辰", "肖博", "44510219730505850X", "", "x"], dtype=object)
    who = np.array([0, 2, 2, 3, 1, 4, 0])
    got = _StringPool(values).take(who)
    got.validate(full=True)
    assert got.equals(pa.array(values.astype(str)).take(pa.array(who)))
    vol = np.array([10.0, 1, 1, 4, 4, 1.5, 9])
    part = _balance(vol, 2)
    assert set(part) == {0, 1}
    loads = [vol[part == k].sum() for k in (0, 1)]
    assert abs(loads[0] - loads[1]) <= vol.max()


def test_bench_ingest_hashes_like_the_ingest_spec(tmp_path):
    from data_products.products.wait_times.bench import _generate_part, _ingest
    from data_products.restricted import deid
    from data_products.restricted.visits import doctor_codes

    src = tmp_path / "parquet"
    out = _generate_part(20_000, src, 3, 0, 1)
    assert out["rows"] == 20_000
    key = bytes(range(32))
    res = _ingest(src, tmp_path / "r.duckdb", key, 2, "1GB", tmp_path)
    assert res["rows"] == res["scanned"] == 20_000
    raw = pd.read_parquet(src).head(500)
    raw = raw.assign(**{c: raw[c].astype(str) for c in ("facility_id", "doctor_id", "id_card")})
    con = duckdb.connect(str(tmp_path / "r.duckdb"), read_only=True)
    try:
        got = con.execute("SELECT visit_key, pseudonym, doctor_code FROM outpatient_visits").df().set_index("visit_key")
    finally:
        con.close()
    keys = deid.record_keys(key, raw["facility_id"], raw["visit_id"].astype(str))
    assert got.loc[keys, "pseudonym"].tolist() == deid.pseudonyms(key, raw["id_card"])
    assert got.loc[keys, "doctor_code"].tolist() == doctor_codes(key, raw["facility_id"], raw["doctor_id"])

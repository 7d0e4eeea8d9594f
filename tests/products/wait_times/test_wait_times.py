"""Outpatient wait times: generator calibration, bad extracts, estimates and backtest, gate, feed, page."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from data_products.disclosure import ALL
from data_products.governance import demo_passwords, sign_in
from data_products.governance.gate import open_product

_principals: dict = {}


def signed_in(username: str):
    """One argon2 sign-in per user and module home (they are slow by design)."""
    key = (os.environ.get("DATASPACE_HOME"), username)
    if key not in _principals:
        result = sign_in(username, demo_passwords()[username])
        assert result.ok, result.reason
        _principals[key] = result.principal
    return _principals[key]

TEST_VISITS = 120_000
APP = str(Path(__file__).resolve().parents[3] / "dashboards" / "app.py")


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
    """Ingest one extract (the bulk DuckDB path) in a fresh home: (restricted rows, []) or (None, issues)."""
    import tempfile

    from data_products.config import paths
    from data_products.restricted import ingest

    home = paths(Path(tempfile.mkdtemp(prefix="wt-prepare-"))).ensure()
    target = home.hospitals / folder / "visits_2024.csv"
    target.parent.mkdir(parents=True)
    frame.to_csv(target, index=False, lineterminator="\n")
    report = ingest(home, now=datetime(2025, 1, 1))
    if report.rejected:
        return None, report.rejected[0].issues
    con = duckdb.connect(str(home.restricted_db), read_only=True)
    try:
        return con.execute("SELECT * FROM outpatient_visits").df(), []
    finally:
        con.close()


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
    """The additive weekday + hour target by hand: log fd plus each shrunk effect, then the slot."""
    from data_products.products.wait_times.builder import CUBE_DIMS, estimates

    k = 20
    rows = [
        ("F1", "d", "1", "08", 40, 20.0, 50.0), ("F1", "d", "6", "08", 5, 40.0, 80.0),
        ("F1", "d", "1", ALL, 60, 18.0, 45.0), ("F1", "d", "6", ALL, 30, 14.0, 30.0),
        ("F1", "d", ALL, "08", 45, 22.0, 55.0), ("F1", "d", ALL, ALL, 90, 16.0, 40.0),
    ]
    cube = pd.DataFrame(rows, columns=[*CUBE_DIMS, "visits", "p50", "p90"])
    released = pd.Series([True, False, True, True, True, True])
    est = estimates(cube, released, k).set_index("weekday")
    w = lambda n: n / (n + k)  # noqa: E731
    fd = np.log(16.0)
    hour = w(45) * (np.log(22.0) - fd)
    target_mon = fd + w(60) * (np.log(18.0) - fd) + hour
    target_sat = fd + w(30) * (np.log(14.0) - fd) + hour
    assert est.at["1", "p50"] == pytest.approx(np.exp(w(40) * np.log(20.0) + (1 - w(40)) * target_mon))
    assert est.at["1", "level"] == "slot"
    # The suppressed Saturday slot's own quantile (40 min) is not used: it takes the Saturday target,
    # which keeps the weekday pattern (Saturdays are quicker here), not the all-days hour level.
    assert est.at["6", "p50"] == pytest.approx(np.exp(target_sat))
    assert est.at["6", "p50"] < np.exp(fd + hour)
    assert est.at["6", "level"] == "department_weekday_hour"
    assert est.at["6", "weight_slot"] == 0
    # A suppressed weekday level contributes no effect at all.
    no_wd = estimates(cube, pd.Series([True, False, True, False, True, True]), k).set_index("weekday")
    assert no_wd.at["6", "p50"] == pytest.approx(np.exp(fd + hour))
    # Without a released facility x department level there is no estimate.
    est2 = estimates(cube, pd.Series([True, True, True, True, True, False]), k).set_index("weekday")
    assert est2["level"].eq("none").all() and est2["p50"].isna().all()


def test_approval_refuses_quantiles_at_other_positions_or_from_too_few_visits(wt):
    """What approve re-checks of the quantile rule, attacked: a release that states other positions, a
    slot P90 and a backtest median error released from fewer values than the rule needs."""
    from data_products.config import min_cell
    from data_products.disclosure import quantile_min_n
    from data_products.products.wait_times import release as rel_mod

    rel = _release()
    tables = {name: rel.table(name).copy() for name in rel.tables}
    k = min_cell()
    assert rel_mod.check(tables, {**rel.meta, "quantile_positions": "quantile_cont"}) == [
        "quantiles not built at the disclosure rule's shifted positions (metadata says 'quantile_cont')"]
    # A release built without the tie rule (its quantiles may sit on a wait of 2..9 visits) says so, or
    # says nothing: refused either way; build-only counts left in a table are refused too.
    no_ties = {key: v for key, v in rel.meta.items() if key != "quantile_ties"}
    assert rel_mod.check(tables, no_ties) == ["wait quantiles not released under the disclosure rule for ties "
                                              "(metadata says None)"]
    leaky = {**tables, "doctors": tables["doctors"].assign(_p50_exact=3)}
    assert rel_mod.check(leaky, rel.meta) == ["[doctors] build-only columns released: ['_p50_exact']"]
    cube = tables["slot_cube"]
    few = cube.index[(cube["visits"] >= k) & (cube["visits"] < quantile_min_n(0.9, k)) & cube["p90"].isna()][0]
    cube.loc[few, "p90"] = 42.0
    bt = tables["backtest"]
    row = bt.index[bt["n_test"].notna()][0]
    bt.loc[row, ["n_test", "mae_p50"]] = [quantile_min_n(0.5, k) - 1, 3.0]
    problems = rel_mod.check(tables, rel.meta)
    assert f"[slot_cube row {few}] p90 released from too few waits (quantile rule)" in problems
    assert f"[backtest row {row}] mae_p50 released from too few visits (quantile rule)" in problems
    # The median blends the errors it has: the count of them is released, and approve holds the rule to it
    # (enough visits but too few errors is refused), and to its being there at all.
    bt = rel.table("backtest").copy()
    row = bt.index[bt["mae_baseline"].notna()][0]
    bt.loc[row, "mae_baseline_n"] = quantile_min_n(0.5, k) - 1
    problems = rel_mod.check({**tables, "backtest": bt}, rel.meta)
    assert f"[backtest row {row}] mae_baseline released from too few errors (mae_baseline_n, quantile rule)" \
        in problems
    bare = rel.table("backtest").drop(columns=["mae_p50_n", "mae_p50_n_flag"])
    assert "backtest: mae_p50 released without the count of errors behind it (mae_p50_n)" in \
        rel_mod.check({**tables, "backtest": bare}, rel.meta)


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
    # A released slot rests on its own P50 only where the quantile rule releases it (>= 10 waits below
    # and above the two it blends): from 22 visits at k = 10; P90 from 102.
    from data_products.disclosure import quantile_min_n, quantile_ok

    cube = rel.table("slot_cube")
    # (The tie rule withholds a few more: a slot's own P50 is the one its cube row releases.)
    dims = ["facility_id", "department", "weekday", "hour"]
    own = est[dims].merge(cube[[*dims, "p50"]], on=dims, how="left")["p50"].notna().to_numpy()
    assert (est.loc[own, "visits"] >= quantile_min_n(0.5, k)).all()
    assert quantile_min_n(0.5, 10) == 22 and quantile_min_n(0.9, 10) == 102
    assert (est.loc[~hidden & own, "level"] == "slot").all()
    assert (est.loc[~hidden & ~own, "level"] != "slot").all() and (~hidden & ~own).any()
    for q, level in (("p50", 0.5), ("p90", 0.9)):
        shown = cube[cube[q].notna()]
        assert all(quantile_ok(level, int(n), k) for n in shown["visits"]), q
        assert cube.loc[cube["visits"].notna() & cube[q].isna()].shape[0] > 0, f"the demo should withhold some {q}"
    assert (est.loc[hidden, "visits_flag"].isin(["primary", "secondary"])).all()
    # Brute force: a released slot's count equals the restricted store's count.
    rows = _restricted(wt)
    brute = rows.groupby(["facility_id", "department", "weekday", "hour"]).size()
    for r in est[~hidden].head(50).itertuples():
        assert brute[(r.facility_id, r.department, int(r.weekday), int(r.hour))] == r.visits


def _slots(rows: pd.DataFrame) -> pd.DataFrame:
    rows = rows.copy()
    rows["weekday"] = rows["weekday"].astype(str)
    rows["hour"] = rows["hour"].map("{:02d}".format)
    return rows


# The release rule's position, written out independently: q(n-1) moved by half of 1/denominator(q).
_SHIFT = {0.5: 0.25, 0.9: 0.05}


def _rule_q(values, q: float) -> float:
    """The release rule's quantile of ``values`` (no count rule), from the sorted values in plain Python."""
    x = sorted(float(v) for v in values if v == v)
    if not x:
        return np.nan
    h = q * (len(x) - 1) + _SHIFT[q]
    j = int(np.floor(h))
    return x[j] + (h - j) * (x[min(j + 1, len(x) - 1)] - x[j])


def _released_q(values, q: float, k: int = 10) -> float:
    """:func:`_rule_q` under the tie rule, in plain Python: a value that is a wait (a whole second) of 1..k-1
    visits, or a whole minute that 1..k-1 waits round to, is given to the minute if at least k waits round
    to that minute (half a minute up), else withheld (no count rule)."""
    v = _rule_q(values, q)
    if v != v:
        return v
    secs = [round(float(w) * 60) for w in values if w == w]
    s = round(v * 60, 6)
    minute = int(np.floor((s + 30) / 60))
    in_minute = sum(1 for x in secs if (x + 30) // 60 == minute)
    whole = s == round(s)
    at = secs.count(round(s)) if whole else 0
    exact = at if at else (in_minute if whole and round(s) % 60 == 0 else 0)
    if exact == 0 or exact >= k:
        return v
    return float(minute) if in_minute >= k else np.nan


def _pandas_cube(rows: pd.DataFrame) -> pd.DataFrame:
    """Visits and P50/P90 at the release rule's positions for the four levels the estimate uses, in pandas."""
    parts = []
    for keys in (["facility_id", "department", "weekday", "hour"], ["facility_id", "department", "weekday"],
                 ["facility_id", "department", "hour"], ["facility_id", "department"]):
        g = rows.groupby(keys)["wait_min"]
        part = pd.concat([g.size().rename("visits"), g.agg(_released_q, 0.5).rename("p50"),
                          g.agg(_released_q, 0.9).rename("p90")], axis=1).reset_index()
        for d in ("weekday", "hour"):
            if d not in keys:
                part[d] = ALL
        parts.append(part)
    return pd.concat(parts, ignore_index=True)[["facility_id", "department", "weekday", "hour", "visits", "p50", "p90"]]


def _pinball(y, pred, q):
    d = y - pred
    return np.maximum(q * d, (q - 1) * d)


def test_k_is_chosen_by_cross_validation_on_the_training_weeks(wt):
    """The published K against a brute-force rerun of the folds in pandas: quantiles by pandas, losses by
    numpy, same grid, only weeks before the backtest's cut-off."""
    from data_products.config import min_cell
    from data_products.disclosure import quantile_ok
    from data_products.products.wait_times.builder import estimates
    from data_products.products.wait_times.spec import CV_FOLDS, K_GRID

    rel = _release()
    cutoff = pd.Timestamp(rel.meta["backtest_split"]["train_until"])
    rows = _slots(_restricted(wt))
    loss = dict.fromkeys(K_GRID, 0.0)
    n = 0
    for j in range(1, CV_FOLDS + 1):
        start = cutoff - pd.Timedelta(weeks=j)
        train = rows[rows["visit_date"] < start]
        val = rows[(rows["visit_date"] >= start) & (rows["visit_date"] < start + pd.Timedelta(weeks=1))]
        cube = _pandas_cube(train)
        for q, level in (("p50", 0.5), ("p90", 0.9)):  # the quantile rule, one slot at a time
            cube[q] = [v if quantile_ok(level, int(n), min_cell()) else np.nan
                       for v, n in zip(cube[q], cube["visits"], strict=True)]
        for k in K_GRID:
            est = estimates(cube, cube["visits"] >= min_cell(), k)
            est = est[est["level"] != "none"]
            sc = val.merge(est, on=["facility_id", "department", "weekday", "hour"])
            y = sc["wait_min"].to_numpy()
            loss[k] += (np.nansum(_pinball(y, sc["p50"].to_numpy(), 0.5))
                        + np.nansum(_pinball(y, sc["p90"].to_numpy(), 0.9)))
            n += len(sc) if k == K_GRID[0] else 0
    best = min(K_GRID, key=lambda k: (loss[k], k))
    assert rel.meta["shrink_k"] == best
    sel = rel.meta["k_selection"]
    assert sel["folds"] == CV_FOLDS and sel["validation_visits"] == n
    for k in K_GRID:
        assert sel["mean_pinball_loss"][str(k)] == pytest.approx(loss[k] / n, abs=2e-6)
    assert f"K = {best}" in rel.meta["estimate_rule"]


def test_backtest_against_the_fair_baseline_on_the_same_held_out_weeks(wt):
    """Every published accuracy figure (per facility x department, per slot-size band, per day type, and
    the page's claimed gain) against an independent recomputation: the fair baseline's quantiles by pandas
    on the training weeks, the estimates fitted on them, scored on the held-out weeks in pandas."""
    from data_products.config import min_cell
    from data_products.disclosure import quantile_min_n
    from data_products.products.wait_times import builder, views
    from data_products.products.wait_times.release import _protect
    from data_products.products.wait_times.spec import size_band

    rel = _release()
    bt = rel.table("backtest")
    cutoff = pd.Timestamp(rel.meta["backtest_split"]["train_until"])
    k = rel.meta["shrink_k"]
    con = duckdb.connect(str(wt / "restricted.duckdb"), read_only=True)
    try:
        train_raw = builder.raw_tables(con, "train", [cutoff.date()], shared=True)
    finally:
        con.close()
    mask = _protect(train_raw)["slot_cube"]["visits"].notna()
    est = builder.estimates(builder.quantile_rule(train_raw["slot_cube"], min_cell()), mask, k)
    est = est[est["level"] != "none"]
    tc = train_raw["slot_cube"].assign(_rel=mask.to_numpy())
    rows = _slots(_restricted(wt))
    train = rows[rows["visit_date"] < cutoff]
    test = rows[rows["visit_date"] >= cutoff]
    # The fair baseline, independently: facility x department P50/P90 of the training weeks.
    g = train.groupby(["facility_id", "department"])["wait_min"]
    base = pd.concat([g.agg(_released_q, 0.5).rename("b50"), g.agg(_released_q, 0.9).rename("b90"),
                      g.size().rename("bn")],
                     axis=1).reset_index()
    # The quantile rule holds for the baseline too: a P90 from fewer than 102 waits is withheld.
    base.loc[base["bn"] < quantile_min_n(0.9, min_cell()), "b90"] = np.nan
    real = (tc[["facility_id", "department", "weekday", "hour"]] != ALL).all(axis=1)
    slot_n = tc[real].assign(size_band=[size_band(float(v), r) for v, r in zip(tc[real]["visits"], tc[real]["_rel"],
                                                                                   strict=True)])
    sc = (test.merge(est, on=["facility_id", "department", "weekday", "hour"])
          .merge(base, on=["facility_id", "department"])
          .merge(slot_n[["facility_id", "department", "weekday", "hour", "size_band"]],
                 on=["facility_id", "department", "weekday", "hour"]))
    sc["day_type"] = np.where(sc["weekday"].isin(["6", "7"]), "weekend", "weekday")

    def mae(errors: pd.Series) -> float:
        """The median absolute error as released: the rule's position, withheld below 22 errors."""
        return _rule_q(errors, 0.5) if errors.notna().sum() >= quantile_min_n(0.5, min_cell()) else np.nan

    def check(part: pd.DataFrame, row: pd.Series) -> None:
        assert row["n_test"] == len(part)
        # The counts of errors behind the medians, where released: the visits with that estimate.
        for n_col, col in (("mae_p50_n", "p50"), ("mae_baseline_n", "b50")):
            assert pd.isna(row[n_col]) or row[n_col] == part[col].notna().sum(), n_col
        assert row["mae_p50"] == pytest.approx(mae((part["wait_min"] - part["p50"]).abs()), rel=1e-9, nan_ok=True)
        p90 = part[part["p90"].notna()]
        assert row["within_p90"] == pytest.approx((p90["wait_min"] <= p90["p90"]).mean(), rel=1e-9, nan_ok=True)
        assert row["below_p50"] == pytest.approx((part["wait_min"] < part["p50"]).mean(), rel=1e-9)
        assert row["mae_baseline"] == pytest.approx(mae((part["wait_min"] - part["b50"]).abs()), rel=1e-9,
                                                    nan_ok=True)
        b90 = part[part["b90"].notna()]
        assert row["within_baseline"] == pytest.approx((b90["wait_min"] <= b90["b90"]).mean(), rel=1e-9, nan_ok=True)

    key = ["facility_id", "department", "size_band", "day_type"]
    shown = bt[bt["n_test"].notna()].set_index(key)
    city = shown.loc[(ALL, ALL, ALL, ALL)]
    check(sc, city)
    checked = 1
    for (f, d), part in sc.groupby(["facility_id", "department"]):
        if (f, d, ALL, ALL) in shown.index:
            check(part, shown.loc[(f, d, ALL, ALL)])
            checked += 1
    for col in ("size_band", "day_type"):
        for v, part in sc.groupby(col):
            idx = (ALL, ALL, v, ALL) if col == "size_band" else (ALL, ALL, ALL, v)
            check(part, shown.loc[idx])
            checked += 1
    assert checked >= 12
    # The claim on the page is the recomputed gain, and it is a real but honest gain.
    gain = views.accuracy_gain(city)
    want = 1 - mae((sc["wait_min"] - sc["p50"]).abs()) / mae((sc["wait_min"] - sc["b50"]).abs())
    assert gain["mae_cut"] == pytest.approx(want, rel=1e-9)
    assert 0 < gain["mae_cut"] < 0.35
    assert gain["coverage_change"] == pytest.approx(
        (sc["wait_min"] <= sc["p90"]).mean() - (sc["wait_min"] <= sc["b90"]).mean(), abs=1e-12)
    # Calibrated: about 9 in 10 within the P90 and half below the median, weekends included.
    assert 0.87 <= city["within_p90"] <= 0.93
    for day in ("weekday", "weekend"):
        assert 0.44 <= shown.loc[(ALL, ALL, ALL, day), "below_p50"] <= 0.56, day


def test_builds_are_deterministic(wt):
    """Two runs of the aggregates and the backtest give identical figures, means included."""
    from data_products.products.wait_times import builder

    con = duckdb.connect(str(wt / "restricted.duckdb"), read_only=True)
    try:
        a = builder.cube(con, builder.CUBE_DIMS)
        b = builder.cube(con, builder.CUBE_DIMS)
    finally:
        con.close()
    pd.testing.assert_frame_equal(a, b, check_exact=True)


# --- gate and row scope ------------------------------------------------------------------------


def test_a_hospital_sees_only_its_own_doctors(wt):
    from data_products.governance import AccessDenied
    from data_products.products.wait_times import views

    rows = _restricted(wt)
    own = {f: set(rows.loc[rows["facility_id"] == f, "doctor_code"]) for f in ("F0301", "F0602")}
    d301 = views.doctors(open_product(signed_in("hospital_f0301"), views.PRODUCT_ID))
    d602 = views.doctors(open_product(signed_in("hospital_f0602"), views.PRODUCT_ID))
    assert len(d301) and len(d602)
    assert set(d301["doctor_code"]) <= own["F0301"]
    assert set(d602["doctor_code"]) <= own["F0602"]
    assert not set(d301["doctor_code"]) & set(d602["doctor_code"])
    assert views.doctors(open_product(signed_in("official"), views.PRODUCT_ID)).empty
    with pytest.raises(AccessDenied):
        views.doctors(open_product(signed_in("company_none"), views.PRODUCT_ID))
    with pytest.raises(views.OutOfScope):
        views.estimate(open_product(signed_in("hospital_f0301"), views.PRODUCT_ID), "F0602", "obstetrics", "1", "09")
    opts = views.facility_options(open_product(signed_in("hospital_f0301"), views.PRODUCT_ID))
    assert list(opts["facility_id"]) == ["F0301"]
    top = views.longest_waits(open_product(signed_in("hospital_f0301"), views.PRODUCT_ID), top=50)
    assert set(top["facility_id"]) <= {"F0301"}  # other facilities' rows are dropped, not renamed


def test_estimate_reads_the_published_slot(wt):
    from data_products.products.wait_times import views

    est = _release().table("estimates")
    r = est[est["level"] == "slot"].iloc[7]
    got = views.estimate(open_product(signed_in("official"), views.PRODUCT_ID), r["facility_id"], r["department"], r["weekday"], r["hour"])
    assert got["p50"] == pytest.approx(r["p50"]) and got["p90"] == pytest.approx(r["p90"])
    assert got["p90"] > got["p50"]


# --- feed --------------------------------------------------------------------------------------


def _feed_service():
    """The demo's feed service, signed in (as its token would sign it in on the command line)."""
    from data_products.governance.accounts import session_without_credential

    return session_without_credential("wait_times_feed", client="test", via="test")


def test_json_feed_documents_every_published_slot(wt, tmp_path):
    from data_products.governance import entries
    from data_products.products.wait_times.export import SCHEMA_VERSION, export_wait_times

    out = tmp_path / "feed.json"
    done = export_wait_times(out, _feed_service())  # the demo's service principal and its approved scenario
    assert done.path == out and done.release_id == _release().release_id
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
    assert any(e.action == "export" and e.actor == "wait_times_feed" for e in entries())


def test_json_feed_without_release_fails_cleanly(home, tmp_path):
    from data_products.approved import NoRelease
    from data_products.governance import seed_demo
    from data_products.products.wait_times.export import export_wait_times

    seed_demo()
    with pytest.raises(NoRelease):
        export_wait_times(tmp_path / "x.json", _feed_service())
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
    # The accuracy is published by slot size and day type, and the about section states the chosen K
    # and the fair baseline.
    assert "Accuracy by slot size and day type (city)" in subheaders
    about = " ".join(m.value for m in at.markdown)
    assert f"K = {_release().meta['shrink_k']}" in about and "Fair baseline" in about


# --- exact quantiles from histograms; the city-scale benchmark's stages -------------------------


def _same_cube(got: pd.DataFrame, want: pd.DataFrame, dims: tuple[str, ...]) -> None:
    assert list(got.columns) == list(want.columns)
    pd.testing.assert_frame_equal(got[list(dims)], want[list(dims)])
    assert (got["visits"] == want["visits"]).all()
    # Same order statistics and blend as the row-wise SQL; the last bit of a double may differ.
    for col in ("p50", "p90", "mean_wait"):
        np.testing.assert_allclose(got[col], want[col], rtol=1e-12, atol=1e-9)


def test_histogram_cube_equals_the_row_wise_sql_on_demo_data(wt):
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
    from data_products.contracts import ddl
    from data_products.contracts.visits import RECORDS, TABLE
    from data_products.products.wait_times import builder

    rng = np.random.default_rng(11)
    n = 3_000
    con = duckdb.connect()
    con.execute(ddl(TABLE, RECORDS))
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
    # Brute force: the release rule's positions over the sorted waits.
    sub = frame[(frame["facility_id"] == "F2") & (frame["visit_type"] == "APPT")]["wait_min"]
    row = got[(got["facility_id"] == "F2") & (got["department"] == ALL) & (got["visit_type"] == "APPT")].iloc[0]
    assert row["visits"] == len(sub)
    assert row["p50"] == pytest.approx(_rule_q(sub, 0.5), abs=1e-9)
    assert row["p90"] == pytest.approx(_rule_q(sub, 0.9), abs=1e-9)
    grand = got[(got[list(dims)] == ALL).all(axis=1)].iloc[0]
    assert grand["visits"] == n and grand["p90"] == pytest.approx(_rule_q(frame["wait_min"], 0.9), abs=1e-9)
    assert grand["p90"] != pytest.approx(np.quantile(frame["wait_min"], 0.9), abs=1e-9)  # not quantile_cont's
    # A wait that is not a whole second: the histogram declines and the row-wise SQL answers.
    con.execute("UPDATE outpatient_visits SET wait_min = wait_min + 0.001 WHERE visit_key = 'k0'")
    assert builder._cube_histogram(con, dims, "all", None) is None
    _same_cube(builder.cube(con, dims), builder.cube_rows(con, dims), dims)
    con.close()


def test_no_wait_is_recovered_from_the_released_quantiles(wt):
    """The attack of issue 13 on the wait times: a released quantile whose position is a whole number is one
    visit's wait (quantile_cont's P90 of 111 visits is the 100th wait). Against the release, every P50, P90
    and backtest median absolute error is checked with the restricted records: none is a wait that only one
    visit of its cell had, none sits at a whole-number position, and at least min_cell waits lie below and
    above the two it blends. The same attacker against quantile_cont's positions recovers real waits.

    Ties: where the two waits blended are equal the quantile is that wait. Reading each released value as
    the rule states it (a whole minute stands for that minute, another whole second for that second), the
    attacker counts the cell's visits that share it: none may be shared by 1 to min_cell-1 visits. (Before
    the tie rule: 789 of the 6,261 released values fell on a second fewer than 10 visits of the cell shared.)"""
    import itertools

    from data_products.config import min_cell
    from data_products.disclosure import quantile_rank
    from data_products.products.wait_times import builder

    k = min_cell()
    rel = _release()
    rows = _slots(_restricted(wt))
    rows["s"] = (rows["wait_min"] * 60).round().astype(np.int64)
    rows["m"] = (rows["s"] + 30) // 60  # the whole minute a wait rounds to (half a minute up)
    recovered, old_recovered, on_ties, short_ties, checked, minutes = [], 0, 0, [], 0, 0
    for name, dims in builder.TABLE_DIMS.items():
        frame = rel.table(name)
        for kept in itertools.chain.from_iterable(itertools.combinations(dims, r) for r in range(len(dims) + 1)):
            part = frame[(frame[[d for d in dims if d not in kept]] == ALL).all(axis=1)
                         & (frame[list(kept)] != ALL).all(axis=1)]
            part = part[part["visits"].notna()]
            if not len(part):
                continue
            # How many visits of each cell waited each exact second (the attacker's unknown).
            per_second = rows.groupby([*kept, "s"]).size().rename("same") if kept else \
                rows.groupby("s").size().rename("same")
            per_minute = rows.groupby([*kept, "m"]).size().rename("same") if kept else \
                rows.groupby("m").size().rename("same")
            for q, level in (("p50", 0.5), ("p90", 0.9)):
                shown = part[part[q].notna()]
                n = shown["visits"].to_numpy(dtype=np.int64)
                j, f = quantile_rank(level, n)
                assert ((f > 0) & (f < 1)).all(), (name, kept, q)  # never a whole-number position
                assert (j >= k).all() and (n - 2 - j >= k).all(), (name, kept, q)
                sec = shown[q].to_numpy() * 60
                whole = np.abs(sec - np.round(sec)) < 1e-6
                hits = shown[whole].assign(s=np.round(sec[whole]).astype(np.int64))
                same = hits.join(per_second, on=[*kept, "s"])["same"] if kept else \
                    hits["s"].map(per_second)
                # Values on a whole minute stand for the minute: the visits of that minute share them.
                on_min = np.abs(shown[q].to_numpy() - np.round(shown[q].to_numpy())) < 1e-9
                mins = shown[on_min].assign(m=np.round(shown[q].to_numpy()[on_min]).astype(np.int64))
                in_min = (mins.join(per_minute, on=[*kept, "m"])["same"] if kept else mins["m"].map(per_minute))
                minutes += int(on_min.sum())
                by_second = same[~on_min[whole]]
                recovered += [(name, kept, q) for c in by_second if c == 1]
                on_ties += int((by_second >= 2).sum())
                for c in [*by_second.fillna(0), *in_min.fillna(0)]:
                    if 1 <= c < k:
                        short_ties.append((name, kept, q, int(c)))
                checked += len(shown)
                # The attacker against quantile_cont's positions: a whole-number position gives a wait.
                old_whole = (n - 1) * level == np.floor((n - 1) * level)
                old_recovered += int(old_whole.sum())
    assert checked > 3000
    assert recovered == []
    assert short_ties == [], f"{len(short_ties)} released values shared by 1 to {k - 1} visits: {short_ties[:5]}"
    assert minutes > 100  # the rule is at work: ties given to the minute
    assert old_recovered > 100  # the attack is real: under the former positions it pins that many waits
    # The backtest's median absolute errors: the same rule (a median of |wait - estimate| that is one
    # visit's error gives that visit's wait).
    bt = rel.table("backtest")
    for col in ("mae_p50", "mae_baseline"):
        n = bt.loc[bt[col].notna(), "n_test"].to_numpy(dtype=np.int64)
        assert len(n) and (n >= 22).all(), col
    print(f"checked {checked} released quantiles; {on_ties} equal a wait two or more visits of the cell share, "
          f"{minutes} are given to the whole minute; at quantile_cont's positions {old_recovered} would each be one "
          "visit's wait (a whole-number position)")

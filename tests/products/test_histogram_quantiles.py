"""Histogram quantiles are the release rule's: the builders' one-pass histograms give the same figures as the
rule's SQL over the rows (``GROUP BY CUBE`` of the sorted values), exactly, on random data with ties and
tiny cells."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data_products.contracts import ddl

_SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _visits(seed: int, n: int, span_s: int, days: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "pseudonym": "p", "visit_key": [f"k{i}" for i in range(n)],
        "facility_id": rng.choice(["F1", "F2", "F3"], n, p=[0.7, 0.25, 0.05]),
        "department": rng.choice(["a", "b"], n), "doctor_code": rng.choice(["D1", "D2", "D3"], n),
        "visit_type": rng.choice(["APPT", "WALKIN"], n),
        "visit_date": [date(2024, 9, 2) + timedelta(days=int(d)) for d in rng.integers(0, days, n)],
        "weekday": rng.integers(1, 4, n).astype("int32"), "hour": rng.choice([8, 9, 14], n).astype("int32"),
        # Few distinct seconds: many ties; a few visits per cell: tiny cells.
        "wait_min": rng.integers(0, span_s + 1, n) / 60.0, "call_wait_min": 1.0, "consult_min": 5.0,
        "transfer_id": "T",
    })


def _same_cube(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """Counts and quantiles to the bit; the mean within rounding (``avg`` adds doubles in thread order,
    the builder adds whole seconds as integers, which is what makes its mean reproducible)."""
    pd.testing.assert_frame_equal(got.drop(columns="mean_wait"), want.drop(columns="mean_wait"), check_exact=True)
    np.testing.assert_allclose(got["mean_wait"], want["mean_wait"], rtol=1e-12)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31), n=st.integers(1, 300), span_s=st.sampled_from([0, 3, 60, 5000]),
       days=st.integers(1, 40))
def test_wait_time_cubes_equal_the_row_wise_sql(seed, n, span_s, days):
    from data_products.contracts.visits import RECORDS, TABLE
    from data_products.products.wait_times import builder

    frame = _visits(seed, n, span_s, days)
    con = duckdb.connect()
    con.execute(ddl(TABLE, RECORDS))
    con.register("frame", frame)
    con.execute("INSERT INTO outpatient_visits SELECT * FROM frame")
    cut = date(2024, 9, 2) + timedelta(days=days // 2)
    agg = builder.Aggregate(con, (cut, cut + timedelta(days=3)))
    assert agg.hist is not None  # the histogram path answered
    for name, dims in builder.TABLE_DIMS.items():
        _same_cube(agg.cube(name), builder.cube_rows(con, dims))
        _same_cube(agg.cube(name, before=cut), builder.cube_rows(con, dims, "train", [cut]))
    for where, params in (("test", [cut]), ("between", [cut, cut + timedelta(days=3)])):
        dims = builder.CUBE_DIMS
        _same_cube(builder.cube(con, dims, where, params), builder.cube_rows(con, dims, where, params))
    con.close()


def _episodes(seed: int, n: int, spread: int) -> pd.DataFrame:
    from data_products.contracts.pneumonia import MARKERS, PATHOGENS, age_band
    from data_products.products.pneumonia.spec import DECIMALS

    rng = np.random.default_rng(seed)
    age = rng.choice([0, 1, 3, 7], n).astype("int32")
    out = {
        "pseudonym": "p", "episode_key": [f"e{i}" for i in range(n)], "facility_id": rng.choice(["F1", "F2"], n),
        "district": rng.choice(["440103", "440104"], n), "age_years": age,
        "age_months": pd.array(np.where(age < 2, age * 12 + rng.integers(0, 12, n), 0), dtype="Int32"),
        "age_band": age_band(age), "sex": rng.choice(["M", "F"], n),
        "admission_date": [date(2024, 1, 1) + timedelta(days=int(d)) for d in rng.integers(0, 70, n)],
    }
    out["age_months"][age >= 2] = pd.NA
    out["admission_month"] = [d.strftime("%Y-%m") for d in out["admission_date"]]
    for m in MARKERS:
        # Values at the recorded decimals, few distinct ones (ties), some missing.
        v = np.round(rng.integers(0, spread, n) * 0.7 + 1, DECIMALS[m])
        out[m] = np.where(rng.random(n) < 0.15, np.nan, v)
    for p in PATHOGENS:
        out[p] = rng.choice(np.array(["POS", "NEG", None], dtype=object), n, p=[0.4, 0.45, 0.15])
    out["transfer_id"] = "T"
    return pd.DataFrame(out)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31), n=st.sampled_from([1, 2, 30, 400]), spread=st.sampled_from([2, 30, 3000]))
def test_pneumonia_tables_equal_the_row_wise_cube(seed, n, spread):
    from data_products.contracts.pneumonia import RECORDS, TABLE
    from data_products.products.pneumonia import builder

    frame = _episodes(seed, n, spread)
    con = duckdb.connect()
    con.execute(ddl(TABLE, RECORDS))
    con.register("frame", frame)
    con.execute("INSERT INTO pneumonia_episodes SELECT * FROM frame")
    got = builder.tables_histogram(con, ties=False)
    assert got is not None
    want = builder.tables_rows(con)
    for name in want:
        pd.testing.assert_frame_equal(got[name], want[name], check_exact=True)
    if n >= 300:  # enough values that some quantiles are released: the comparison is not of NaNs only
        assert got["district_cube"].filter(like="_p50").notna().any().any()
    con.close()


def test_pneumonia_falls_back_off_the_recorded_grid():
    from data_products.contracts.pneumonia import RECORDS, TABLE
    from data_products.products.pneumonia import builder

    frame = _episodes(3, 200, 30)
    frame.loc[0, "crp_mg_l"] = 12.345  # CRP is recorded to one decimal
    con = duckdb.connect()
    con.execute(ddl(TABLE, RECORDS))
    con.register("frame", frame)
    con.execute("INSERT INTO pneumonia_episodes SELECT * FROM frame")
    assert builder.tables_histogram(con) is None
    got = builder.raw_tables(con)["district_cube"]
    want = builder.tables_rows(con)["district_cube"]
    quantiles = [f"{m}_{q}" for m in builder.MARKERS for q in builder.QUANTILES]
    # The counts as the rows give them; no marker quantile, since no value's sharers can be counted.
    pd.testing.assert_frame_equal(got.drop(columns=quantiles), want.drop(columns=quantiles), check_exact=True)
    assert got[quantiles].isna().all().all() and want[quantiles].notna().any().any()


@_SETTINGS
@given(seed=st.integers(0, 2**31), rows=st.integers(0, 120), groups=st.integers(1, 4))
def test_spark_backtest_quantile_of_weighted_values_is_the_rule_over_the_repeated_values(seed, rows, groups):
    # The Spark backtest scores each (slot, second) once with its visits as weight; its median absolute
    # error must be the rule's quantile of the visits' errors written out one by one (ties, NaN, tiny groups).
    from data_products.disclosure import safe_quantile
    from data_products.products.wait_times.spark import _weighted_quantile

    rng = np.random.default_rng(seed)
    group = rng.integers(0, groups, rows)
    x = np.where(rng.random(rows) < 0.1, np.nan, rng.integers(0, 6, rows) / 4)
    w = rng.integers(1, 9, rows)
    got = _weighted_quantile(group, x, w, groups, 0.5, 10)
    want = [safe_quantile(np.repeat(x[group == g], w[group == g]), 0.5, 10) for g in range(groups)]
    np.testing.assert_array_equal(got, want)
    if rows >= 100:
        assert np.isfinite(got).any()  # not a comparison of withheld values only


def _tie_rule(waits_min: list[float], q: float, k: int) -> float:
    """The released wait quantile in plain Python: positions q(n-1) + 1/(2·den), at least k values below and
    above the two blended; then the tie rule: a value on a second that 1..k-1 waits share (or on a whole minute
    that 1..k-1 waits round to) goes to the whole minute if k or more waits round to it, else it is withheld."""
    secs = sorted(round(w * 60) for w in waits_min)
    n = len(secs)
    den = {0.5: 2, 0.9: 10}[q]
    pos = q * (n - 1) + 1 / (2 * den)
    j = int(pos)
    if n < 2 or j < k or n - 2 - j < k:
        return np.nan
    value_s = secs[j] + (pos - j) * (secs[j + 1] - secs[j])
    minute = int(np.floor((round(value_s, 6) + 30) / 60))
    in_minute = sum(1 for s in secs if (s + 30) // 60 == minute)
    on_second = abs(value_s - round(value_s)) < 1e-6
    shared = secs.count(round(value_s)) if on_second else 0
    if not shared and on_second and round(value_s) % 60 == 0:
        shared = in_minute
    if shared == 0 or shared >= k:
        return value_s / 60
    return float(minute) if in_minute >= k else np.nan


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31), n=st.sampled_from([25, 120, 400]), span_s=st.sampled_from([40, 400, 5000]))
def test_wait_quantile_ties_follow_the_rule(seed, n, span_s):
    """The release's wait quantiles (histogram counts, ``quantile_rule``) against the tie rule written out over
    each cell's waits, on data with many ties and few: to the second, to the minute or withheld, the same."""
    from data_products.contracts.visits import RECORDS, TABLE
    from data_products.products.wait_times import builder

    k = 10
    frame = _visits(seed, n, span_s, 5)
    con = duckdb.connect()
    con.execute(ddl(TABLE, RECORDS))
    con.register("frame", frame)
    con.execute("INSERT INTO outpatient_visits SELECT * FROM frame")
    dims = builder.TYPE_DIMS
    got = builder.quantile_rule(builder.Aggregate(con).cube("visit_type", shared=True), k)
    con.close()
    assert not set(builder.SHARED) & set(got.columns)  # the counts never leave quantile_rule
    released = 0
    for row in got.itertuples(index=False):
        sel = np.ones(len(frame), dtype=bool)
        for d in dims:
            if getattr(row, d) != "ALL":
                sel &= (frame[d] == getattr(row, d)).to_numpy()
        waits = frame.loc[sel, "wait_min"].tolist()
        for q, level in (("p50", 0.5), ("p90", 0.9)):
            want = _tie_rule(waits, level, k)
            assert getattr(row, q) == pytest.approx(want, abs=1e-9, nan_ok=True), (row, q)
            released += want == want
    if n >= 120:
        assert released  # not a comparison of NaNs only


def _marker_tie_rule(values: list[float], value: float, decimals: int, k: int) -> tuple[float, str]:
    """builder.QUANTILE_TIES written out over one cell's values of a marker: the released value (NaN:
    withheld) and which branch gave it."""
    if value != value:
        return np.nan, "count rule"
    codes = [round(x * 10**decimals) for x in values]
    code = round(value * 10**decimals)
    coarse = (code + 5) // 10  # the value to one decimal less, half up
    in_step = sum(1 for c in codes if coarse * 10 - 5 <= c <= coarse * 10 + 4)
    shared = codes.count(code) or (in_step if code % 10 == 0 else 0)
    if shared == 0 or shared >= k:
        return value, "as recorded"
    return (round(coarse / 10 ** (decimals - 1), decimals - 1), "coarser") if in_step >= k else (np.nan, "withheld")


def test_pneumonia_quantile_ties_follow_the_rule():
    """The marker quantiles raw_tables gives (histogram counts, tie_rule) against the tie rule written out over
    each cell's values, on data with many ties and few: as recorded, one decimal less or withheld, the same;
    and none of them a value that 1..k-1 children of its cell share."""
    from data_products.config import min_cell
    from data_products.contracts.pneumonia import RECORDS, TABLE
    from data_products.products.pneumonia import builder

    k = min_cell()
    seen: dict[str, int] = {}
    for seed, n, spread in ((1, 600, 30), (2, 600, 300), (3, 600, 3000)):
        frame = _episodes(seed, n, spread)
        con = duckdb.connect()
        con.execute(ddl(TABLE, RECORDS))
        con.register("frame", frame)
        con.execute("INSERT INTO pneumonia_episodes SELECT * FROM frame")
        got = builder.raw_tables(con)["facility_month"]
        before = builder.tables_histogram(con, ties=False)["facility_month"]
        con.close()
        for i, row in got.iterrows():
            sel = np.ones(len(frame), dtype=bool)
            for d, col in (("facility_id", "facility_id"), ("month", "admission_month")):
                if row[d] != "ALL":
                    sel &= (frame[col] == row[d]).to_numpy()
            for m in builder.MARKERS:
                values = frame.loc[sel, m].dropna().tolist()
                for q in builder.QUANTILES:
                    want, branch = _marker_tie_rule(values, before.at[i, f"{m}_{q}"], builder.DECIMALS[m], k)
                    assert row[f"{m}_{q}"] == pytest.approx(want, abs=1e-9, nan_ok=True), (seed, i, m, q, branch)
                    seen[branch] = seen.get(branch, 0) + 1
                    if branch == "as recorded":
                        assert not 0 < sum(1 for x in values if abs(x - want) < 1e-9) < k
    assert seen.get("as recorded") and seen.get("coarser") and seen.get("withheld"), seen

"""Method-comparison statistics (TcB vs TSB) checked against published figures, scipy and brute force."""

from __future__ import annotations

import io
import json
import math
import statistics
from fractions import Fraction
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize
from scipy import stats as sps

from data_products.products.jaundice import stats as S
from data_products.products.jaundice.cli import method_compare

# Giavarina D., "Understanding Bland Altman analysis", Biochem Med 2015;25(2):141-151: 30 pairs
# (a copy of shared/reference/method-comparison/giavarina.csv, so CI needs nothing outside the repo).
GIAVARINA = Path(__file__).parent / "data" / "giavarina.csv"


@pytest.fixture(autouse=True)
def _home(home):
    return home


def _giavarina():
    d = pd.read_csv(GIAVARINA)
    # The published bias (-27.17) is method_a - method_b, and we define bias = test - reference,
    # so method_b is the reference and method_a the test.
    return d["method_b"].to_numpy(float), d["method_a"].to_numpy(float)


def _linear(seed, n=40, slope=1.1, intercept=2.0, sd_x=1.0, sd_y=1.0):
    rng = np.random.default_rng(seed)
    true = rng.uniform(5, 25, n)
    return true + rng.normal(0, sd_x, n), intercept + slope * true + rng.normal(0, sd_y, n)


# ------------------------------------------------------------------------------------------- Bland-Altman


def test_giavarina_published_bland_altman():
    x, y = _giavarina()
    ba = S.bland_altman(x, y)
    assert (round(ba.bias, 2), round(ba.sd, 2), round(ba.lower, 2), round(ba.upper, 2)) == (-27.17, 34.81, -95.39, 41.05)
    swapped = S.bland_altman(y, x)
    assert round(swapped.bias, 2) == 27.17 and round(swapped.sd, 2) == 34.81


def test_bland_altman_intervals_cover_true_values_at_nominal_rate():
    # Differences ~ N(mu, sigma): the bias CI is exact, the limit CIs (Bland & Altman 1999) approximate.
    rng = np.random.default_rng(7)
    mu, sigma, n, reps = 1.5, 2.0, 50, 2000
    hits = np.zeros(3)
    for _ in range(reps):
        x = rng.uniform(0, 20, n)
        ba = S.bland_altman(x, x + rng.normal(mu, sigma, n))
        hits += [ba.bias_ci_low <= mu <= ba.bias_ci_high,
                 ba.lower_ci_low <= mu - 1.96 * sigma <= ba.lower_ci_high,
                 ba.upper_ci_low <= mu + 1.96 * sigma <= ba.upper_ci_high]
    cov = hits / reps
    assert 0.935 <= cov[0] <= 0.965
    assert np.all((cov[1:] >= 0.92) & (cov[1:] <= 0.98))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 500), st.floats(-50, 50)), min_size=3, max_size=40),
       st.floats(-100, 100))
def test_adding_constant_to_test_shifts_bias_only(rows, c):
    x = np.array([r[0] for r in rows])
    y = x + np.array([r[1] for r in rows])
    a, b = S.bland_altman(x, y), S.bland_altman(x, y + c)
    assert b.bias == pytest.approx(a.bias + c, abs=1e-9)
    assert b.sd == pytest.approx(a.sd, abs=1e-7)
    assert b.upper - b.lower == pytest.approx(a.upper - a.lower, abs=1e-6)


def test_percentage_variant_is_scale_free_and_matches_definition():
    x, y = _linear(3)
    a, b = S.bland_altman(x, y, percent=True), S.bland_altman(10 * x, 10 * y, percent=True)
    assert a.unit == "%" and b.bias == pytest.approx(a.bias) and b.sd == pytest.approx(a.sd)
    d = 200 * (y - x) / (x + y)
    assert a.bias == pytest.approx(np.mean(d)) and a.sd == pytest.approx(np.std(d, ddof=1))
    with pytest.raises(ValueError, match="pair mean is 0"):
        S.bland_altman([1, -1, 2], [-1, 1, 3], percent=True)


# ------------------------------------------------------------------------------------------- Pearson, OLS


def test_pearson_and_fisher_ci_match_scipy():
    x, y = _linear(11, n=25, sd_y=3)
    res, ref = S.pearson(x, y, confidence=0.9), sps.pearsonr(x, y)
    ci = ref.confidence_interval(confidence_level=0.9)
    assert res.r == pytest.approx(ref.statistic, rel=1e-12)
    assert (res.ci_low, res.ci_high) == pytest.approx((ci.low, ci.high), rel=1e-10)


def test_ols_matches_scipy_linregress():
    x, y = _linear(12, n=20, sd_y=2)
    res, ref = S.ols(x, y), sps.linregress(x, y)
    t = sps.t.ppf(0.975, len(x) - 2)
    assert res.slope == pytest.approx(ref.slope, rel=1e-12)
    assert res.intercept == pytest.approx(ref.intercept, rel=1e-10)
    assert (res.slope_ci_low, res.slope_ci_high) == pytest.approx(
        (ref.slope - t * ref.stderr, ref.slope + t * ref.stderr), rel=1e-10)
    assert (res.intercept_ci_low, res.intercept_ci_high) == pytest.approx(
        (ref.intercept - t * ref.intercept_stderr, ref.intercept + t * ref.intercept_stderr), rel=1e-9)


# ------------------------------------------------------------------------------------------- six sums


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_six_sums_reproduce_pair_based_statistics(seed):
    x, y = _linear(seed, n=60)
    x = x + 1e6  # large offset: centred sums must stay accurate
    y = y + 1e6
    s = S.SixSums.from_pairs(x, y)
    assert (s.n, s.mean_x, s.mean_y) == (60, pytest.approx(x.mean()), pytest.approx(y.mean()))
    ba_s, ba_p = S.bland_altman_from_sums(s), S.bland_altman(x, y)
    for f in ("bias", "sd", "lower", "upper", "bias_ci_low", "bias_ci_high", "lower_ci_low", "upper_ci_high"):
        assert getattr(ba_s, f) == pytest.approx(getattr(ba_p, f), rel=1e-8, abs=1e-8), f
    assert S.pearson_from_sums(s).r == pytest.approx(np.corrcoef(x, y)[0, 1], rel=1e-10)
    assert S.ols_from_sums(s).slope == pytest.approx(np.polyfit(x - 1e6, y - 1e6, 1)[0], rel=1e-9)
    for lam in (0.25, 1.0, 4.0):
        b, a = S.deming_from_sums(s, lam)
        fit = S.deming(x, y, lam)
        assert (b, a) == pytest.approx((fit.slope, fit.intercept), rel=1e-12)


# The cut is drawn from the rows' own length, so every example is valid (no assume(): filtering half the
# examples away tripped hypothesis's filter_too_much health check).
_ROWS_AND_CUT = st.lists(st.tuples(st.floats(-1e3, 1e3), st.floats(-1e3, 1e3)), min_size=2, max_size=30).flatmap(
    lambda rows: st.tuples(st.just(rows), st.integers(1, len(rows) - 1)))


@settings(max_examples=50, deadline=None)
@given(_ROWS_AND_CUT)
def test_six_sums_of_strata_merge_to_the_whole(rows_and_cut):
    rows, cut = rows_and_cut
    x, y = np.array(rows).T
    whole = S.SixSums.from_pairs(x, y)
    merged = S.SixSums.from_pairs(x[:cut], y[:cut]).merge(S.SixSums.from_pairs(x[cut:], y[cut:]))
    assert merged.n == whole.n
    scale = 1 + whole.sxx + whole.syy
    for f in ("mean_x", "mean_y"):
        assert getattr(merged, f) == pytest.approx(getattr(whole, f), abs=1e-9)
    for f in ("sxx", "syy", "sxy"):
        assert getattr(merged, f) == pytest.approx(getattr(whole, f), abs=1e-9 * scale)


# ------------------------------------------------------------------------------------------- Deming


def _deming_brute(x, y, lam):
    """Maximum likelihood line with var(err_y) = lam * var(err_x): minimise sum r^2 / (lam + b^2)."""
    def loss(p):
        a, b = p
        return np.sum((y - a - b * x) ** 2) / (lam + b * b)

    start = np.polyfit(x, y, 1)[::-1]
    res = optimize.minimize(loss, start, method="Nelder-Mead",
                            options={"xatol": 1e-11, "fatol": 1e-13, "maxiter": 20000, "maxfev": 40000})
    return res.x[1], res.x[0]


@pytest.mark.parametrize("lam", [0.1, 0.5, 1.0, 2.0, 10.0])
@pytest.mark.parametrize("seed", [21, 22])
def test_deming_matches_numerical_minimum_and_scaled_total_least_squares(lam, seed):
    x, y = _linear(seed, n=30, slope=0.9, sd_x=1.0, sd_y=math.sqrt(lam))
    fit = S.deming(x, y, lam)
    b, a = _deming_brute(x, y, lam)
    assert fit.slope == pytest.approx(b, rel=1e-6) and fit.intercept == pytest.approx(a, rel=1e-5, abs=1e-6)
    # Independent route: rescale y by 1/sqrt(lam) so errors are isotropic; the line is then the first
    # principal axis of the centred cloud.
    z = np.column_stack([x - x.mean(), (y - y.mean()) / math.sqrt(lam)])
    v = np.linalg.svd(z, full_matrices=False)[2][0]
    assert fit.slope == pytest.approx(math.sqrt(lam) * v[1] / v[0], rel=1e-10)


def test_deming_tends_to_ols_for_large_lambda_and_keeps_sign():
    x, y = _linear(5, n=30, sd_y=3)
    assert S.deming(x, y, 1e9).slope == pytest.approx(S.ols(x, y).slope, rel=1e-6)
    assert S.deming(x, -y, 1.0).slope == pytest.approx(-S.deming(x, y, 1.0).slope, rel=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1), st.floats(-5, 5)), min_size=4, max_size=30),
       st.floats(0.05, 20), st.floats(0.3, 3))
def test_swapping_methods_inverts_deming_slope_with_inverse_lambda(rows, lam, slope):
    # Valid by construction (no assume()): x spread evenly over 0..100 with jitter < 1, noise within +/-5,
    # so slope * Sxx (>= 0.3 * ~833 n) exceeds any Sx,noise (<= sqrt(833 n * 25 n)): the methods covary.
    n = len(rows)
    x = np.linspace(0, 100, n) + np.array([r[0] for r in rows])
    y = slope * x + np.array([r[1] for r in rows])
    s = S.SixSums.from_pairs(x, y)
    assert s.sxy > 0.05 * math.sqrt(s.sxx * s.syy)
    b_xy = S.deming(x, y, lam).slope
    b_yx = S.deming(y, x, 1 / lam).slope
    assert b_yx == pytest.approx(1 / b_xy, rel=1e-8)


def test_deming_jackknife_and_decision_levels_match_explicit_leave_one_out():
    x, y = _linear(31, n=25, sd_y=1.5)
    lam, levels = 2.0, [5.0, 15.0, 25.0]
    fit = S.deming(x, y, lam, confidence=0.9)
    loo = np.array([S.deming_from_sums(S.SixSums.from_pairs(np.delete(x, i), np.delete(y, i)), lam)
                    for i in range(x.size)])  # columns: slope, intercept
    n, t = x.size, sps.t.ppf(0.95, x.size - 1)

    def se(v):
        return math.sqrt((n - 1) / n * np.sum((v - v.mean()) ** 2))

    assert (fit.slope_ci_low, fit.slope_ci_high) == pytest.approx(
        (fit.slope - t * se(loo[:, 0]), fit.slope + t * se(loo[:, 0])), rel=1e-9)
    assert (fit.intercept_ci_low, fit.intercept_ci_high) == pytest.approx(
        (fit.intercept - t * se(loo[:, 1]), fit.intercept + t * se(loo[:, 1])), rel=1e-9)
    for d in S.decision_level_bias(x, y, levels, lam, confidence=0.9):
        assert d.predicted == pytest.approx(fit.intercept + fit.slope * d.level)
        assert d.bias == pytest.approx(d.predicted - d.level)
        v = loo[:, 1] + (loo[:, 0] - 1) * d.level
        assert (d.ci_low, d.ci_high) == pytest.approx((d.bias - t * se(v), d.bias + t * se(v)), rel=1e-9, abs=1e-9)


def test_deming_jackknife_interval_covers_true_slope():
    rng = np.random.default_rng(99)
    hits, reps = 0, 400
    for _ in range(reps):
        true = rng.uniform(5, 25, 40)
        x = true + rng.normal(0, 1, 40)
        y = 1.0 + 1.2 * true + rng.normal(0, 2, 40)  # lambda = 4
        fit = S.deming(x, y, 4.0)
        hits += fit.slope_ci_low <= 1.2 <= fit.slope_ci_high
    assert 0.90 <= hits / reps <= 0.985


# ------------------------------------------------------------------------------------------- Passing-Bablok


def _pb_brute(x, y, confidence=0.95):
    """Textbook Passing-Bablok in exact arithmetic: every pair, shifted median, rank-based CI."""
    slopes = []
    pts = [(Fraction(a), Fraction(b)) for a, b in zip(x, y, strict=True)]
    for (x1, y1), (x2, y2) in combinations(pts, 2):
        dx, dy = x2 - x1, y2 - y1
        if dx == 0:
            if dy != 0:
                slopes.append(math.inf)  # vertical pair, counted as +inf whatever the row order
            continue
        s = dy / dx
        if s != -1:
            slopes.append(s)
    slopes.sort()
    n, big_n = len(x), len(slopes)
    k = sum(1 for s in slopes if s < -1)

    def at(rank):
        return float(slopes[rank - 1]) if 1 <= rank <= big_n else math.nan

    b = at((big_n + 1) // 2 + k) if big_n % 2 else (at(big_n // 2 + k) + at(big_n // 2 + 1 + k)) / 2
    c = sps.norm.ppf(0.5 + confidence / 2) * math.sqrt(n * (n - 1) * (2 * n + 5) / 18)
    m1 = math.floor((big_n - c) / 2 + 0.5)
    lo, hi = at(m1 + k), at(big_n - m1 + 1 + k)

    def icpt(slope):
        return statistics.median(float(yi - slope * xi) for xi, yi in zip(x, y, strict=True))

    return b, lo, hi, icpt(b), icpt(hi), icpt(lo)


@pytest.mark.parametrize("seed", range(8))
def test_passing_bablok_matches_brute_force_with_ties(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(12, 40))
    true = rng.integers(0, 15, n)  # few distinct values: many ties in x, in y and identical points
    x = true + rng.integers(-2, 3, n)
    y = true + rng.integers(-3, 4, n) + (seed % 3)
    fit = S.passing_bablok(x, y)
    got = (fit.slope, fit.slope_ci_low, fit.slope_ci_high, fit.intercept, fit.intercept_ci_low, fit.intercept_ci_high)
    assert got == pytest.approx(_pb_brute(x.tolist(), y.tolist()), rel=1e-12, nan_ok=True)


@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_passing_bablok_matches_brute_force_on_continuous_data(confidence):
    x, y = _linear(41, n=45, slope=0.8, sd_y=2.5)
    fit = S.passing_bablok(x, y, confidence=confidence)
    got = (fit.slope, fit.slope_ci_low, fit.slope_ci_high, fit.intercept, fit.intercept_ci_low, fit.intercept_ci_high)
    assert got == pytest.approx(_pb_brute(x.tolist(), y.tolist(), confidence), rel=1e-12)
    assert fit.slope_ci_low < fit.slope < fit.slope_ci_high


def test_passing_bablok_shift_k_with_negative_slopes_and_exact_minus_one():
    # Crafted: several pairs with slope exactly -1 and some steeper than -1.
    x = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 3, 8])
    y = np.array([2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 9, 2])
    expected = _pb_brute(x.tolist(), y.tolist())
    fit = S.passing_bablok(x, y)
    assert (fit.slope, fit.slope_ci_low, fit.slope_ci_high) == pytest.approx(expected[:3], nan_ok=True)
    assert S._pairwise_slopes(x.astype(float), y.astype(float)).size < len(x) * (len(x) - 1) // 2


def test_passing_bablok_does_not_depend_on_row_order_and_recovers_a_line():
    rng = np.random.default_rng(4)
    x = rng.integers(0, 20, 50).astype(float)
    y = 3 + 2 * x  # exact line with tied x values
    perm = rng.permutation(50)
    a, b = S.passing_bablok(x, y), S.passing_bablok(x[perm], y[perm])
    assert a == b
    assert (a.slope, a.intercept) == (2.0, 3.0)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), st.integers(-4, 4)), min_size=5, max_size=25), st.integers(-50, 50))
def test_passing_bablok_shifts_intercept_only_when_test_is_shifted(rows, c):
    x = np.array([r[0] for r in rows], float)
    y = x + np.array([r[1] for r in rows], float)
    a, b = S.passing_bablok(x, y), S.passing_bablok(x, y + c)
    assert b.slope == a.slope or (math.isnan(a.slope) and math.isnan(b.slope))
    if math.isfinite(a.slope):
        assert b.intercept == pytest.approx(a.intercept + c, abs=1e-9)


def _pb_tuple(fit):
    return (fit.slope, fit.slope_ci_low, fit.slope_ci_high, fit.intercept, fit.intercept_ci_low, fit.intercept_ci_high)


def _same(a, b):
    return all(u == v or (math.isnan(u) and math.isnan(v)) for u, v in zip(a, b, strict=True))


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("enum_max", [40, 2_000_000])
def test_passing_bablok_selection_equals_the_full_slope_array(seed, enum_max):
    # The counting path (any n) against the materialised slopes, bit for bit: integer data with ties in
    # x, in y and identical points, decimals, slopes of exactly -1 and steeper, and an exact line. A
    # small enum_max forces several rounds of bracketing before the enumeration.
    rng = np.random.default_rng(seed)
    n = int(rng.integers(30, 400))
    true = rng.integers(0, 15, n)
    cases = [
        (true + rng.integers(-2, 3, n), true + rng.integers(-3, 4, n)),
        (np.round(rng.uniform(0, 30, n), 1), None),
        (np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 3, 8]), np.array([2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 9, 2])),
        (rng.integers(0, 20, n), None),
        (rng.uniform(-50, 10, n), None),
    ]
    for i, (x, y) in enumerate(cases):
        x = np.asarray(x, float)
        if y is None:
            y = {1: lambda v: np.round(v + rng.normal(0, 2, v.size), 1), 3: lambda v: 3 + 2 * v,
                 4: lambda v: 0.9 * v + rng.normal(0, 4, v.size)}[i](x)
        y = np.asarray(y, float)
        direct = S.passing_bablok(x, y)
        counted = S.passing_bablok(x, y, direct_max_n=0, enum_max=enum_max)
        # Bit for bit, except that a cluster of more than enum_max tied slopes of decimal data is
        # represented by one of its members (they agree to rounding).
        assert _pb_tuple(counted) == pytest.approx(_pb_tuple(direct), rel=1e-13, nan_ok=True), i
        if enum_max > 1000 or i != 1:
            assert _same(_pb_tuple(direct), _pb_tuple(counted)), (i, _pb_tuple(direct), _pb_tuple(counted))


def test_passing_bablok_selection_matches_exact_brute_force():
    x, y = _linear(43, n=60, slope=0.8, sd_y=2.5)
    fit = S.passing_bablok(x, y, direct_max_n=0, enum_max=100)
    assert _pb_tuple(fit) == pytest.approx(_pb_brute(x.tolist(), y.tolist()), rel=1e-12)


def test_slope_counting_equals_brute_force():
    rng = np.random.default_rng(8)
    x = rng.integers(0, 12, 200).astype(float)
    y = x + rng.integers(-3, 4, 200)
    sel = S._SlopeSelector(x, y)
    slopes = S._pairwise_slopes(x, y)
    for t in (-1.7, -1 + 1e-6, 0.25, 1.0 + 1e-7, 2.5):
        assert sel.count_below(t) == int(np.count_nonzero(slopes < t)) + (
            sel.minus_one if t > -1 else 0), t
    assert sel.total == slopes.size and sel.k == int(np.count_nonzero(slopes < -1))
    assert sel.vertical == int(np.count_nonzero(np.isinf(slopes)))


def test_passing_bablok_intercept_interval_is_ordered_for_negative_reference_values():
    # Reference values below zero: median(y - b_upper x) is then the *upper* intercept bound.
    rng = np.random.default_rng(5)
    x = rng.uniform(-10, -1, 80)
    y = 1.0 + 0.9 * x + rng.normal(0, 0.3, 80)
    fit = S.passing_bablok(x, y)
    assert fit.intercept_ci_low < fit.intercept < fit.intercept_ci_high
    brute = _pb_brute(x.tolist(), y.tolist())
    assert brute[4] > brute[5]  # the textbook order, reversed here
    assert (fit.intercept_ci_low, fit.intercept_ci_high) == pytest.approx((brute[5], brute[4]), rel=1e-12)


# ------------------------------------------------------------------------------------------- choice of line


def _lambda_sim(seed, n=2000, lam=4.5, slope=1.0, intercept=20.0):
    """Bilirubin-like range; reference error SD 9.5 (5% at 190), test error SD sqrt(lam) times that."""
    rng = np.random.default_rng(seed)
    true = 190 * np.exp(rng.normal(0, 0.3, n))
    return true + rng.normal(0, 9.5, n), intercept + slope * true + rng.normal(0, 9.5 * math.sqrt(lam), n)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lambda_4_5_selects_deming_which_recovers_the_true_slope(seed):
    x, y = _lambda_sim(seed)
    res = S.compare(x, y, error_ratio=4.5)
    assert (res.primary_regression, res.regression_reason) == ("deming", "lambda_far_from_slope_squared")
    assert res.deming.slope_ci_low <= 1.0 <= res.deming.slope_ci_high
    # Passing-Bablok (its assumption lambda ~ b^2 broken) misses the truth: the reason for the choice.
    assert res.passing_bablok.slope_ci_low > 1.0


def test_passing_bablok_is_primary_when_its_assumption_holds():
    x, y = _lambda_sim(3, lam=1.0)
    res = S.compare(x, y, error_ratio=1.0)
    assert res.primary_regression == "passing_bablok"
    assert res.passing_bablok.slope_ci_low <= 1.0 <= res.passing_bablok.slope_ci_high
    assert S.choose_regression(4.5, 1.0) == ("deming", "lambda_far_from_slope_squared")
    assert S.choose_regression(1.9, 1.0)[0] == "passing_bablok"
    assert S.choose_regression(4.5, math.nan) == ("deming", "pb_undefined")


# ------------------------------------------------------------------------------------------- limits of agreement


def test_regression_limits_follow_the_published_formulas():
    # Bland & Altman (1999): D on A by OLS, |residuals| on A by OLS, limits D-hat -/+ 2.46 |R|-hat.
    x, y = _linear(17, n=80, sd_y=2.0)
    rl = S.regression_limits(x, y)
    a, d = (x + y) / 2, y - x
    b1, b0 = np.polyfit(a, d, 1)
    c1, c0 = np.polyfit(a, np.abs(d - b0 - b1 * a), 1)
    assert (rl.bias_intercept, rl.bias_slope, rl.abs_intercept, rl.abs_slope) == pytest.approx((b0, b1, c0, c1))
    assert rl.factor == pytest.approx(2.46, abs=0.005) and rl.factor == pytest.approx(1.96 * math.sqrt(math.pi / 2))
    lm = rl.at(20.0)
    assert (lm.lower, lm.upper) == pytest.approx((b0 + b1 * 20 - rl.factor * (c0 + c1 * 20),
                                                  b0 + b1 * 20 + rl.factor * (c0 + c1 * 20)))
    ref = sps.linregress(a, np.abs(d - b0 - b1 * a))
    assert rl.abs_slope_p == pytest.approx(ref.pvalue, rel=1e-9)


def _proportional(seed, n=6000):
    rng = np.random.default_rng(seed)
    true = rng.uniform(40, 400, n)
    x = true + rng.normal(0, 0.03 * true)
    y = 10 + true + rng.normal(0, 0.09 * true)  # the spread of the differences grows with bilirubin
    return x, y


@pytest.mark.parametrize("seed", [0, 1])
def test_regression_limits_hold_95_percent_in_every_third_of_the_range(seed):
    x, y = _proportional(seed)
    res = S.compare(x, y, error_ratio=9.0)
    assert res.loa_method == "regression" and res.regression_limits.heteroscedastic
    rl, ba = res.regression_limits, res.bland_altman
    a, d = (x + y) / 2, y - x
    edges = np.linspace(a.min(), a.max(), 4)
    constant = []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        part = (a >= lo) & (a <= hi)
        centre = rl.bias_intercept + rl.bias_slope * a[part]
        half = rl.factor * (rl.abs_intercept + rl.abs_slope * a[part])
        inside = np.abs(d[part] - centre) <= half
        assert 0.93 <= inside.mean() <= 0.97, (lo, hi, inside.mean())
        constant.append(((d[part] >= ba.lower) & (d[part] <= ba.upper)).mean())
    # The constant limits (the finding): too wide at the bottom, too narrow at the top.
    assert constant[0] > 0.99 and constant[-1] < 0.90


def test_regression_limit_intervals_cover_the_true_limits():
    # True limits at A0 for the simulation: bias(A0) -/+ 1.96 sd(A0), estimated on a very large sample.
    big_x, big_y = _proportional(99, n=400_000)
    truth = S.regression_limits(big_x, big_y).at(250.0)
    hits, reps = np.zeros(2), 300
    for r in range(reps):
        lm = S.regression_limits(*_proportional(1000 + r, n=300)).at(250.0)
        hits += [lm.lower_ci_low <= truth.lower <= lm.lower_ci_high, lm.upper_ci_low <= truth.upper <= lm.upper_ci_high]
    assert np.all((hits / reps >= 0.91) & (hits / reps <= 0.985)), hits / reps


def test_homoscedastic_data_keep_constant_limits():
    x, y = _linear(2, n=400, sd_y=1.5)
    res = S.compare(x, y, decision_levels=[10.0, 20.0])
    assert res.loa_method == "constant"
    assert [(la.lower, la.upper) for la in res.limits_at_levels] == [(res.bland_altman.lower, res.bland_altman.upper)] * 2


def test_percentages_only_on_a_ratio_scale():
    x, y = _linear(3)
    assert S.compare(x, y).bland_altman_percent is not None
    res = S.compare(x - 15, y - 15)  # reference and test values of both signs: pair means near zero
    assert res.bland_altman_percent is None
    assert "bland_altman_percent_bias" not in res.to_dict()


# ------------------------------------------------------------------------------------------- diagnostics


@pytest.mark.parametrize("k,n", [(0, 5), (3, 10), (10, 10), (47, 60), (1, 1), (250, 997)])
@pytest.mark.parametrize("confidence", [0.9, 0.95])
def test_wilson_matches_scipy(k, n, confidence):
    ci = sps.binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    assert S.wilson_ci(k, n, confidence) == pytest.approx((ci.low, ci.high), abs=1e-12)


def test_diagnostic_accuracy_counts_and_referral_rule():
    rng = np.random.default_rng(8)
    tsb = rng.uniform(5, 25, 300)
    tcb = tsb + rng.normal(1.0, 2.0, 300)
    thr = 15.0
    plain = S.diagnostic_accuracy(tsb, tcb, thr)
    rule = S.diagnostic_accuracy(tsb, tcb, thr, tcb_cutoff=S.referral_cutoff(thr, 3.0))
    for res, cut in ((plain, thr), (rule, 12.0)):
        tp = sum(1 for r, t in zip(tsb, tcb, strict=True) if r >= thr and t >= cut)
        fp = sum(1 for r, t in zip(tsb, tcb, strict=True) if r < thr and t >= cut)
        fn = sum(1 for r, t in zip(tsb, tcb, strict=True) if r >= thr and t < cut)
        assert (res.tp, res.fp, res.fn, res.tn, res.tcb_cutoff) == (tp, fp, fn, 300 - tp - fp - fn, cut)
        assert res.sensitivity == pytest.approx(tp / (tp + fn))
        assert res.ppv == pytest.approx(tp / (tp + fp))
        assert (res.npv_ci_low, res.npv_ci_high) == pytest.approx(S.wilson_ci(res.tn, res.tn + res.fn))
    assert rule.sensitivity >= plain.sensitivity and rule.specificity <= plain.specificity
    assert S.aap2022_tcb_cutoff(20.0) == 15.0 and S.aap2022_tcb_cutoff(14.0) == 11.0


def test_diagnostic_accuracy_without_cases_gives_nan_not_a_crash():
    res = S.diagnostic_accuracy([1, 2, 3], [1, 2, 3], tsb_threshold=10)
    assert math.isnan(res.sensitivity) and res.specificity == 1.0 and math.isnan(res.ppv)


# ------------------------------------------------------------------------------------------- validation, results


@pytest.mark.parametrize("ref,test,message", [
    ([1, 2], [1, 2], "at least 3 pairs"),
    ([1, 2, float("nan")], [1, 2, 3], "reference: 1 missing or non-finite.*position.* 2"),
    ([1, 2, 3], [1, None, 3], "test: missing value at position 1"),
    ([1, 2, 3], ["1", "2", "3"], "test: expected numbers"),
    ([1, "x", 3], [1, 2, 3], "reference: non-numeric value 'x' at position 1"),
    ([1, 2, 3, 4], [1, 2, 3], "differ in length"),
    ([True, False, True], [1, 2, 3], "booleans"),
])
def test_bad_input_is_named(ref, test, message):
    with pytest.raises(ValueError, match=message):
        S.compare(ref, test)


def test_compare_result_serialises_flat_and_agrees_with_parts():
    x, y = _giavarina()
    res = S.compare(x, y, decision_levels=[100.0], thresholds=[(300.0, 250.0)])
    flat = res.to_dict()
    assert all(not isinstance(v, dict | list | tuple) for v in flat.values())
    assert flat["bland_altman_bias"] == S.bland_altman(x, y).bias
    assert flat["deming_slope"] == S.deming(x, y).slope
    assert flat["passing_bablok_slope"] == S.passing_bablok(x, y).slope
    assert flat["diagnostic_1_tcb_cutoff"] == 250.0 and flat["decision_level_1_level"] == 100.0
    parsed = json.loads(res.to_json())
    assert parsed["ols_error_ratio"] is None and parsed["pearson_r"] == flat["pearson_r"]


# ------------------------------------------------------------------------------------------- CLI


def _run(path, ref="tsb", test="tcb", **kw):
    out, err = io.StringIO(), io.StringIO()
    code = method_compare(path, ref, test, out=out, err=err, **kw)
    return code, out.getvalue(), err.getvalue()


def test_cli_json_equals_stats_module():
    code, out, err = _run(GIAVARINA, "method_b", "method_a", as_json=True, error_ratio=2.0)
    assert code == 0 and err == ""
    x, y = _giavarina()
    expected = json.loads(S.compare(x, y, error_ratio=2.0, reference_name="method_b", test_name="method_a").to_json())
    assert json.loads(out) == expected
    assert round(json.loads(out)["bland_altman_bias"], 2) == -27.17


def test_cli_table_shows_the_published_figures():
    code, out, _ = _run(GIAVARINA, "method_b", "method_a", decision_levels=[100.0], tsb_threshold=300.0)
    assert code == 0
    for figure in ("-27.17", "34.81", "-95.39", "41.05", "Passing-Bablok", "Deming", "sensitivity"):
        assert figure in out


def _write(tmp_path, content, name="pairs.csv", encoding="utf-8"):
    p = tmp_path / name
    if isinstance(content, bytes):
        p.write_bytes(content)
    else:
        p.write_text(content, encoding=encoding)
    return p


@pytest.mark.parametrize("content,needles", [
    ("id,tsb,tcb\n1,10,11\n2,12,abc\n3,14,15\n", ["line 3", "'tcb'", "'abc' is not a number", "header as line 1"]),
    ("id,tsb,tcb\n1,10,11\n2,,12\n3,14,15\n4,NA,9\n", ["2 missing", "line 3, column 'tsb': missing value",
                                                       "line 5, column 'tsb'"]),
    ("id,tsb,tcb\n1,10,11\n2,12,13\n", ["2 complete pair(s)", "at least 3"]),
    ("id,tsb,tcb\n1,10,11\n2,12\n3,14,15\n", ["line 3, column 'tcb': missing value"]),
    ("id,tsb,tcb\n1,10,1e999\n2,12,13\n3,14,15\n", ["line 2", "not a finite number"]),
    ("id,tsb,tcb\n1,10,\"11,5\"\n2,12,13\n3,14,15\n", ["line 2", "decimal mark"]),
    ("id;tsb;tcb\n1;10;11\n", ["column 'tsb' not found", "separator"]),
    ("id,TSB,tcb\n1,10,11\n", ["reference column 'tsb' not found", "available columns: 'id', 'TSB', 'tcb'"]),
    ("", ["empty file"]),
    ("id,tsb,tcb\n1,10,11\n2,10,12\n3,10,15\n", ["every value is 10"]),
    ("id,tsb,tsb,tcb\n1,2,3,4\n", ["appears 2 times"]),
])
def test_cli_bad_input_exits_2_naming_the_problem(tmp_path, content, needles):
    path = _write(tmp_path, content)
    code, out, err = _run(path)
    assert code == 2 and out == ""
    assert str(path) in err
    for needle in needles:
        assert needle in err


def test_cli_missing_file_bad_encoding_and_bad_ratio(tmp_path):
    code, _, err = _run(tmp_path / "nope.csv")
    assert code == 2 and "nope.csv: file not found" in err
    latin = _write(tmp_path, "id,tsb,tcb,note\n1,10,11,ok\n2,12,13,gelbsüchtig\n", encoding="latin-1")
    code, _, err = _run(latin)
    assert code == 2 and "not UTF-8" in err and "line 3" in err
    code, _, err = _run(GIAVARINA, "method_b", "method_a", error_ratio=0.0)
    assert code == 2 and "--error-ratio" in err


def test_cli_accepts_bom_quotes_blank_lines_and_crlf(tmp_path):
    body = "\ufeff\"id\",\"tsb\",\"tcb\"\r\n1,10,11.5\r\n\r\n2,\" 12 \",13\r\n3,14,15\r\n4,20,19\r\n\r\n"
    code, out, err = _run(_write(tmp_path, body), as_json=True)
    assert code == 0, err
    res = json.loads(out)
    assert res["n"] == 4
    assert res["bland_altman_bias"] == pytest.approx(np.mean([1.5, 1, 1, -1]))


def test_cli_negative_reference_values_intercept_in_order_and_no_percentages(tmp_path):
    rng = np.random.default_rng(5)
    x = rng.uniform(-10, 6, 80)
    y = 1.0 + 0.9 * x + rng.normal(0, 0.3, 80)
    path = _write(tmp_path, "ref,test\n" + "".join(f"{a:.6f},{b:.6f}\n" for a, b in zip(x, y, strict=True)))
    code, out, err = _run(path, "ref", "test")
    assert code == 0, err
    pb = out[out.index("\n  Passing-Bablok"):]
    icpt = pb[pb.index("intercept"):].splitlines()[0]
    lo, hi = (float(v) for v in icpt[icpt.index("(") + 1:icpt.index(")")].split(" to "))
    assert lo < hi
    assert "percentage differences (100" not in out and "Percentage differences: not shown" in out
    code, out, _ = _run(path, "ref", "test", as_json=True)
    assert not any(k.startswith("bland_altman_percent") for k in json.loads(out))


def test_cli_100000_pairs_agree_with_the_statistics_on_all_pairs(tmp_path):
    # No refusal above 5,000 pairs, no subsample: every figure is the full-data statistic.
    x, y = _lambda_sim(11, n=100_000)
    x, y = np.round(x, 1), np.round(y, 1)
    path = tmp_path / "big.csv"
    pd.DataFrame({"tsb": x, "tcb": y}).to_csv(path, index=False)
    code, out, err = _run(path, as_json=True, error_ratio=4.5, decision_levels=[205.0, 291.0])
    assert code == 0, err
    cli = json.loads(out)
    assert cli["n"] == 100_000
    ba, dem = S.bland_altman(x, y), S.deming(x, y, 4.5)
    assert cli["bland_altman_bias"] == pytest.approx(ba.bias, rel=1e-12)
    assert cli["bland_altman_sd"] == pytest.approx(ba.sd, rel=1e-12)
    assert cli["deming_slope"] == pytest.approx(dem.slope, rel=1e-12)
    assert cli["deming_slope_ci_low"] == pytest.approx(dem.slope_ci_low, rel=1e-9)
    assert cli["pearson_r"] == pytest.approx(np.corrcoef(x, y)[0, 1], rel=1e-12)
    # Passing-Bablok on all 100,000 pairs: its slope has as many pairwise slopes on each side (after
    # the K shift) as the definition asks, counted independently on a random sample of 2 million pairs.
    b = cli["passing_bablok_slope"]
    rng = np.random.default_rng(0)
    i, j = rng.integers(0, x.size, 2_000_000), rng.integers(0, x.size, 2_000_000)
    keep = x[i] != x[j]
    s = (y[j] - y[i])[keep] / (x[j] - x[i])[keep]
    s = s[s != -1]
    # The slope is the (N/2 + K)-th of N: a share 1/2 + K/N of the slopes lies below it.
    assert np.mean(s < b) == pytest.approx(0.5 + np.mean(s < -1), abs=0.002)
    assert cli["primary_regression"] == "deming"
    assert cli["deming_slope_ci_low"] <= 1.0 <= cli["deming_slope_ci_high"]
    assert cli["limits_at_level_2_level"] == 291.0

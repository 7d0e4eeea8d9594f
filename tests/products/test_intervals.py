"""Intervals for released figures against textbook values and brute force."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from data_products.products.intervals import add_intervals, poisson, wilson


def test_wilson_matches_the_textbook_example():
    # Newcombe (1998), Statistics in Medicine 17:857, Table I: 81/263 -> 0.2553 to 0.3662.
    lo, hi = wilson([81], [263])
    assert lo[0] == pytest.approx(0.2553, abs=5e-5)
    assert hi[0] == pytest.approx(0.3662, abs=5e-5)
    # 0/10 -> 0 to 0.2775 (same table).
    lo, hi = wilson([0], [10])
    assert lo[0] == 0 and hi[0] == pytest.approx(0.2775, abs=5e-5)


def test_poisson_matches_exact_tail_probabilities():
    lo, hi = poisson([5])
    # The Garwood limits are where each tail holds 2.5 %.
    assert stats.poisson.sf(4, lo[0]) == pytest.approx(0.025, abs=1e-9)
    assert stats.poisson.cdf(5, hi[0]) == pytest.approx(0.025, abs=1e-9)


@given(st.integers(1, 5000), st.floats(0, 1))
def test_wilson_interval_contains_the_share(n, frac):
    k = round(n * frac)
    lo, hi = wilson([k], [n])
    assert 0 <= lo[0] <= k / n <= hi[0] <= 1


def test_add_intervals_scales_rates_and_leaves_hidden_values_empty():
    f = pd.DataFrame({"value": [40.0, np.nan, 12.5], "n": pd.array([200, None, 8], dtype="Int64")})
    shares = add_intervals(f, "positivity")
    assert shares["lo"].iloc[0] < 40 < shares["hi"].iloc[0]
    assert np.isnan(shares["lo"].iloc[1]) and np.isnan(shares["hi"].iloc[1])
    rates = add_intervals(pd.DataFrame({"value": [25.0], "n": pd.array([100], dtype="Int64")}), "rate")
    lo, hi = poisson([100])
    assert rates["lo"].iloc[0] == pytest.approx(lo[0] * 0.25)
    assert rates["hi"].iloc[0] == pytest.approx(hi[0] * 0.25)
    q = add_intervals(pd.DataFrame({"value": [3.0], "n": pd.array([50], dtype="Int64")}), "quantile")
    assert q[["lo", "hi"]].isna().all(axis=None)

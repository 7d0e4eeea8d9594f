"""95 % intervals for released figures, computed from released counts only (never from records).

Shares use Wilson's score interval (good coverage at small n and near 0 or 100 %, unlike the Wald
interval); counts and rates use the exact Poisson (Garwood) interval on the numerator count, scaled by
the rate's own factor. Both take arrays so a page's whole table is done at once.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

Z95 = 1.959963984540054


def wilson(successes, n, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a proportion, as fractions in [0, 1]; NaN where n is 0 or missing."""
    k = np.asarray(successes, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        denom = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # At 0 and n successes the limits are exactly 0 and 1; the formula leaves rounding dust there.
    lo = np.where(k <= 0, 0.0, np.clip(centre - half, 0, 1))
    hi = np.where(k >= n, 1.0, np.clip(centre + half, 0, 1))
    bad = ~(n > 0)
    return np.where(bad, np.nan, lo), np.where(bad, np.nan, hi)


def poisson(count, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Garwood) interval for a Poisson count."""
    c = np.asarray(count, dtype=float)
    a = 1 - level
    with np.errstate(invalid="ignore"):
        lo = np.where(c > 0, stats.chi2.ppf(a / 2, 2 * c) / 2, 0.0)
        hi = stats.chi2.ppf(1 - a / 2, 2 * (c + 1)) / 2
    missing = np.isnan(c)
    return np.where(missing, np.nan, lo), np.where(missing, np.nan, hi)


def add_intervals(frame: pd.DataFrame, kind: str, value: str = "value", n: str = "n") -> pd.DataFrame:
    """``frame`` with ``lo``/``hi`` columns for a metric of ``kind``: a percentage share/positivity (value
    in %, n its denominator), a count (value = n), or a rate (value = n × a constant factor). Quantiles
    and anything else get no interval (NaN)."""
    out = frame.copy()
    v = out[value].astype(float).to_numpy()
    cnt = pd.array(out[n], dtype="Float64").to_numpy(dtype=float, na_value=np.nan)
    if kind in ("share", "positivity"):
        lo, hi = wilson(v / 100.0 * cnt, cnt)
        out["lo"], out["hi"] = lo * 100.0, hi * 100.0
    elif kind in ("count", "rate"):
        lo, hi = poisson(cnt)
        with np.errstate(invalid="ignore", divide="ignore"):
            factor = np.where(cnt > 0, v / cnt, np.nan)
        out["lo"], out["hi"] = lo * factor, hi * factor
        if kind == "count":
            out["lo"], out["hi"] = lo, hi
    else:
        out["lo"], out["hi"] = np.nan, np.nan
    mask = out[value].isna()
    out.loc[mask, ["lo", "hi"]] = np.nan
    return out

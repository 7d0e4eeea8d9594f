"""Method-comparison statistics: a test method (TcB device) against a reference (serum bilirubin, TSB).

Conventions used throughout:

* ``reference`` is x, ``test`` is y; every difference is ``test - reference`` (positive bias means
  the device reads high).
* ``confidence`` is the two-sided confidence level of every interval (default 0.95).
* The error-variance ratio of Deming regression is ``error_ratio = lambda = var(err_y) / var(err_x)``
  = var(test error) / var(reference error). R's ``mcr`` package calls ``sigma_x^2 / sigma_y^2`` its
  ``error.ratio``: pass ``1 / mcr_error_ratio`` here to reproduce an ``mcr`` fit.
* An interval that the method cannot give (too few pairs, an order statistic out of range) is NaN.

Everything is written directly on numpy/scipy; the PyPI packages ``methcomp`` and ``pyCompare``
compute wrong figures (SD with n, Deming with Syy for Sxy, Passing-Bablok miscounts).

The six sums (n, mean x, mean y, Sxx, Syy, Sxy) of a stratum determine Pearson r, OLS, Deming for
any error ratio and the Bland-Altman statistics exactly (``*_from_sums``), so a stratum's sums are
all that has to leave the restricted zone for those. Passing-Bablok and the jackknife intervals need
the pairs and must be computed inside.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields

import numpy as np
from scipy import stats as sps

# Bland & Altman's conventional multiplier for the 95% limits of agreement (Giavarina 2015 uses it too).
LOA_Z = 1.96
# Beyond this many pairs the O(n^2) Passing-Bablok slope array (n(n-1)/2 float64) exceeds ~100 MB.
PASSING_BABLOK_MAX_N = 5000
# Pairwise differences this close (relative) to dy == -dx count as slope exactly -1 (same spirit as mcr's EPS).
_MINUS_ONE_RTOL = 1e-12

__all__ = [
    "BlandAltman", "Correlation", "DecisionLevelBias", "DiagnosticAccuracy", "LineFit", "MethodComparison",
    "SixSums", "aap2022_tcb_cutoff", "bland_altman", "bland_altman_from_sums", "compare", "decision_level_bias",
    "deming", "deming_from_sums", "diagnostic_accuracy", "ols", "ols_from_sums", "passing_bablok", "pearson",
    "pearson_from_sums", "referral_cutoff", "validate_pairs", "wilson_ci",
]


# --------------------------------------------------------------------------------------------- validation


def _as_vector(values, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a one-dimensional sequence of numbers, got shape {arr.shape}")
    if arr.dtype.kind == "b":
        raise ValueError(f"{name}: expected numbers, got booleans")
    if arr.dtype.kind == "O":
        for i, v in enumerate(arr):
            if v is None or type(v).__name__ in ("NAType", "NaTType"):
                raise ValueError(f"{name}: missing value at position {i}")
            if isinstance(v, bool | np.bool_) or not isinstance(v, numbers.Real):
                raise ValueError(f"{name}: non-numeric value {v!r} at position {i}")
    elif arr.dtype.kind not in "iuf":
        for i, v in enumerate(arr.tolist()):
            try:
                float(v)
            except (TypeError, ValueError):
                raise ValueError(f"{name}: non-numeric value {v!r} at position {i}") from None
        first = arr.tolist()[0] if arr.size else None
        raise ValueError(f"{name}: expected numbers, got text values (first: {first!r}); convert them first")
    arr = arr.astype(float)
    nonfinite = np.flatnonzero(~np.isfinite(arr))
    if nonfinite.size:
        shown = ", ".join(str(i) for i in nonfinite[:5]) + (" ..." if nonfinite.size > 5 else "")
        raise ValueError(f"{name}: {nonfinite.size} missing or non-finite value(s) (NaN/inf) at position(s) {shown}")
    return arr


def validate_pairs(reference, test, min_n: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Return (x, y) as float arrays, or raise ValueError naming the argument and position (0-based)."""
    x = _as_vector(reference, "reference")
    y = _as_vector(test, "test")
    if x.size != y.size:
        raise ValueError(f"reference and test differ in length ({x.size} vs {y.size}); values must be paired")
    if x.size < min_n:
        raise ValueError(f"at least {min_n} pairs are needed, got {x.size}")
    return x, y


def _check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")


def _check_error_ratio(error_ratio: float) -> None:
    if not (isinstance(error_ratio, numbers.Real) and math.isfinite(error_ratio) and error_ratio > 0):
        raise ValueError(f"error_ratio must be a positive finite number, got {error_ratio!r}")


def _t(confidence: float, df: float) -> float:
    return float(sps.t.ppf(0.5 + confidence / 2, df)) if df > 0 else math.nan


def _z(confidence: float) -> float:
    return float(sps.norm.ppf(0.5 + confidence / 2))


# --------------------------------------------------------------------------------------------- results


class _Flat:
    """Mixin: a dataclass that serialises to a flat dict (NaN kept) and to strict JSON (NaN -> null)."""

    def to_dict(self) -> dict:
        return asdict(self)  # type: ignore[call-overload]


@dataclass(frozen=True)
class BlandAltman(_Flat):
    """Bias = mean(test - reference), SD with n-1, limits bias -/+ loa_z * SD.

    Intervals (Bland & Altman 1999, approximate): bias +/- t * s / sqrt(n); each limit
    +/- t * sqrt(3 s^2 / n); t is the Student quantile with n-1 degrees of freedom.
    ``unit`` is "" for differences in the measurement unit and "%" for the percentage variant
    (100 * (test - reference) / mean of the two).
    """

    n: int
    bias: float
    sd: float
    lower: float
    upper: float
    bias_ci_low: float
    bias_ci_high: float
    lower_ci_low: float
    lower_ci_high: float
    upper_ci_low: float
    upper_ci_high: float
    loa_z: float = LOA_Z
    confidence: float = 0.95
    unit: str = ""


@dataclass(frozen=True)
class Correlation(_Flat):
    """Pearson r with a Fisher-z interval (atanh(r) +/- z / sqrt(n - 3); NaN when n < 4)."""

    n: int
    r: float
    ci_low: float
    ci_high: float
    confidence: float = 0.95


@dataclass(frozen=True)
class LineFit(_Flat):
    """test = intercept + slope * reference, with confidence intervals for both coefficients."""

    method: str
    n: int
    slope: float
    slope_ci_low: float
    slope_ci_high: float
    intercept: float
    intercept_ci_low: float
    intercept_ci_high: float
    confidence: float = 0.95
    error_ratio: float = math.nan  # Deming only: var(err_test) / var(err_reference)


@dataclass(frozen=True)
class DecisionLevelBias(_Flat):
    """Systematic error at a medical decision level from the Deming line: (a + b * level) - level."""

    level: float
    predicted: float
    bias: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class DiagnosticAccuracy(_Flat):
    """TcB >= tcb_cutoff as a test for TSB >= tsb_threshold, with Wilson score intervals."""

    tsb_threshold: float
    tcb_cutoff: float
    tp: int
    fp: int
    fn: int
    tn: int
    sensitivity: float
    sensitivity_ci_low: float
    sensitivity_ci_high: float
    specificity: float
    specificity_ci_low: float
    specificity_ci_high: float
    ppv: float
    ppv_ci_low: float
    ppv_ci_high: float
    npv: float
    npv_ci_low: float
    npv_ci_high: float
    confidence: float = 0.95


@dataclass(frozen=True)
class MethodComparison:
    """All statistics of one comparison. ``to_dict`` gives one flat level of scalar fields."""

    n: int
    reference_name: str
    test_name: str
    confidence: float
    error_ratio: float
    bland_altman: BlandAltman
    pearson: Correlation
    ols: LineFit
    deming: LineFit
    passing_bablok: LineFit
    bland_altman_percent: BlandAltman | None = None
    decision_levels: tuple[DecisionLevelBias, ...] = field(default_factory=tuple)
    diagnostics: tuple[DiagnosticAccuracy, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        """Flat dict: nested results become ``<part>_<field>``; list items ``decision_level_<i>_<field>``
        and ``diagnostic_<i>_<field>`` (1-based, in the order given)."""
        out: dict = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, _Flat):
                out.update({f"{f.name}_{k}": v for k, v in value.to_dict().items()})
            elif value is None:
                continue
            elif isinstance(value, tuple):
                prefix = {"decision_levels": "decision_level", "diagnostics": "diagnostic"}[f.name]
                for i, item in enumerate(value, start=1):
                    out.update({f"{prefix}_{i}_{k}": v for k, v in item.to_dict().items()})
            else:
                out[f.name] = value
        return out

    def to_json(self, **kwargs) -> str:
        """Strict JSON (NaN and infinities become null)."""
        clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in self.to_dict().items()}
        return json.dumps(clean, allow_nan=False, ensure_ascii=False, **kwargs)


# --------------------------------------------------------------------------------------------- six sums


@dataclass(frozen=True)
class SixSums:
    """(n, mean x, mean y, Sxx, Syy, Sxy) of one stratum; S.. are centred sums of squares/products."""

    n: int
    mean_x: float
    mean_y: float
    sxx: float
    syy: float
    sxy: float

    @classmethod
    def from_pairs(cls, reference, test) -> SixSums:
        x, y = validate_pairs(reference, test, min_n=1)
        mx, my = float(x.mean()), float(y.mean())
        dx, dy = x - mx, y - my  # two-pass centring: no catastrophic cancellation
        return cls(int(x.size), mx, my, float(dx @ dx), float(dy @ dy), float(dx @ dy))

    def merge(self, other: SixSums) -> SixSums:
        """Sums of the union of two disjoint strata (Chan et al. pairwise update)."""
        n = self.n + other.n
        if n == 0:
            return self
        dx, dy = other.mean_x - self.mean_x, other.mean_y - self.mean_y
        w = self.n * other.n / n
        return SixSums(
            n,
            self.mean_x + dx * other.n / n,
            self.mean_y + dy * other.n / n,
            self.sxx + other.sxx + w * dx * dx,
            self.syy + other.syy + w * dy * dy,
            self.sxy + other.sxy + w * dx * dy,
        )

    def to_dict(self) -> dict:
        return asdict(self)


def _need(s: SixSums, n_min: int, what: str) -> None:
    if s.n < n_min:
        raise ValueError(f"{what} needs at least {n_min} pairs, got {s.n}")


def bland_altman_from_sums(s: SixSums, confidence: float = 0.95, loa_z: float = LOA_Z) -> BlandAltman:
    """Bland-Altman from the six sums: mean d = my - mx, S_dd = Syy + Sxx - 2 Sxy."""
    _need(s, 2, "Bland-Altman")
    sdd = max(s.syy + s.sxx - 2.0 * s.sxy, 0.0)
    return _bland_altman_core(s.n, s.mean_y - s.mean_x, math.sqrt(sdd / (s.n - 1)), confidence, loa_z, "")


def pearson_from_sums(s: SixSums, confidence: float = 0.95) -> Correlation:
    _check_confidence(confidence)
    _need(s, 3, "Pearson r")
    if s.sxx <= 0 or s.syy <= 0:
        raise ValueError("Pearson r is undefined: one method gives the same value for every pair")
    r = max(-1.0, min(1.0, s.sxy / math.sqrt(s.sxx * s.syy)))
    if s.n < 4:
        lo = hi = math.nan
    elif abs(r) == 1.0:
        lo = hi = r
    else:
        half = _z(confidence) / math.sqrt(s.n - 3)
        lo, hi = math.tanh(math.atanh(r) - half), math.tanh(math.atanh(r) + half)
    return Correlation(s.n, r, lo, hi, confidence)


def ols_from_sums(s: SixSums, confidence: float = 0.95) -> LineFit:
    """Ordinary least squares of test on reference; t intervals with n - 2 degrees of freedom."""
    _check_confidence(confidence)
    _need(s, 3, "OLS")
    if s.sxx <= 0:
        raise ValueError("OLS is undefined: the reference gives the same value for every pair")
    b = s.sxy / s.sxx
    a = s.mean_y - b * s.mean_x
    s2 = max(s.syy - b * s.sxy, 0.0) / (s.n - 2)
    se_b = math.sqrt(s2 / s.sxx)
    se_a = math.sqrt(s2 * (1.0 / s.n + s.mean_x**2 / s.sxx))
    t = _t(confidence, s.n - 2)
    return LineFit("ols", s.n, b, b - t * se_b, b + t * se_b, a, a - t * se_a, a + t * se_a, confidence)


def _deming_slope(sxx, syy, sxy, lam):
    """Root of sxy b^2 + (lam sxx - syy) b - lam sxy = 0 with the sign of sxy, cancellation-free.

    Works elementwise on arrays (for the jackknife). sxy == 0 gives 0 or NaN.
    """
    sxx, syy, sxy = np.asarray(sxx, float), np.asarray(syy, float), np.asarray(sxy, float)
    u = syy - lam * sxx
    d = np.sqrt(u * u + 4.0 * lam * sxy * sxy)
    with np.errstate(divide="ignore", invalid="ignore"):
        # The two algebraically equal forms; each avoids subtracting nearly equal numbers on its side.
        b = np.where(u >= 0, (u + d) / (2.0 * sxy), 2.0 * lam * sxy / (d - u))
    return b


def deming_from_sums(s: SixSums, error_ratio: float = 1.0) -> tuple[float, float]:
    """Deming (slope, intercept) in closed form from the six sums.

    ``error_ratio`` = lambda = var(err_test) / var(err_reference) (1 = orthogonal regression;
    lambda -> infinity tends to OLS of test on reference). ``mcr``'s error.ratio is 1 / lambda.
    """
    _check_error_ratio(error_ratio)
    _need(s, 2, "Deming regression")
    if s.sxy == 0:
        raise ValueError("Deming regression is undefined: the two methods have zero covariance")
    b = float(_deming_slope(s.sxx, s.syy, s.sxy, error_ratio))
    return b, s.mean_y - b * s.mean_x


# --------------------------------------------------------------------------------------------- pair-based


def _bland_altman_core(n: int, bias: float, sd: float, confidence: float, loa_z: float, unit: str) -> BlandAltman:
    _check_confidence(confidence)
    t = _t(confidence, n - 1)
    se_bias = sd / math.sqrt(n)
    se_limit = math.sqrt(3.0 * sd * sd / n)
    lower, upper = bias - loa_z * sd, bias + loa_z * sd
    return BlandAltman(
        n, bias, sd, lower, upper,
        bias - t * se_bias, bias + t * se_bias,
        lower - t * se_limit, lower + t * se_limit,
        upper - t * se_limit, upper + t * se_limit,
        loa_z, confidence, unit,
    )


def bland_altman(reference, test, confidence: float = 0.95, loa_z: float = LOA_Z,
                 percent: bool = False) -> BlandAltman:
    """Bland-Altman agreement of test with reference.

    Differences d = test - reference (``percent=True``: 100 * d / ((test + reference) / 2); every
    pair mean must then be non-zero). bias = mean(d); SD with n - 1; limits bias -/+ loa_z * SD
    (1.96 by convention). Confidence intervals follow Bland & Altman (1999), the approximate
    method: SE(bias) = s / sqrt(n), SE(limit) = sqrt(3 s^2 / n), both with the Student t quantile
    on n - 1 degrees of freedom.
    """
    x, y = validate_pairs(reference, test)
    d = y - x
    if percent:
        avg = (x + y) / 2.0
        zero = np.flatnonzero(avg == 0)
        if zero.size:
            raise ValueError(f"percentage differences undefined: pair mean is 0 at position(s) {zero[:5].tolist()}")
        d = 100.0 * d / avg
    return _bland_altman_core(int(d.size), float(d.mean()), float(d.std(ddof=1)), confidence, loa_z,
                              "%" if percent else "")


def pearson(reference, test, confidence: float = 0.95) -> Correlation:
    """Pearson r with the Fisher-z confidence interval."""
    return pearson_from_sums(SixSums.from_pairs(*validate_pairs(reference, test)), confidence)


def ols(reference, test, confidence: float = 0.95) -> LineFit:
    """OLS of test on reference with t intervals (n - 2 df) for slope and intercept."""
    return ols_from_sums(SixSums.from_pairs(*validate_pairs(reference, test)), confidence)


def _deming_jackknife(x: np.ndarray, y: np.ndarray, lam: float) -> tuple[SixSums, np.ndarray, np.ndarray]:
    """Full-sample sums and the n leave-one-out (slope, intercept), by downdating the sums in O(n)."""
    s = SixSums.from_pairs(x, y)
    n, n1 = s.n, s.n - 1
    ex, ey = x - s.mean_x, y - s.mean_y
    k = n / n1
    mx = (n * s.mean_x - x) / n1
    my = (n * s.mean_y - y) / n1
    b = _deming_slope(s.sxx - k * ex * ex, s.syy - k * ey * ey, s.sxy - k * ex * ey, lam)
    with np.errstate(invalid="ignore"):  # a degenerate leave-one-out fit is NaN; its CI becomes NaN
        return s, b, my - b * mx


def _jackknife_ci(point: float, loo: np.ndarray, confidence: float) -> tuple[float, float]:
    """point -/+ t(n-1) * SE_jack, SE_jack^2 = (n-1)/n * sum (theta_(i) - mean theta_(.))^2."""
    n = loo.size
    if not np.all(np.isfinite(loo)):
        return math.nan, math.nan
    se = math.sqrt((n - 1) / n * float(np.sum((loo - loo.mean()) ** 2)))
    t = _t(confidence, n - 1)
    return point - t * se, point + t * se


def deming(reference, test, error_ratio: float = 1.0, confidence: float = 0.95) -> LineFit:
    """Deming regression of test on reference, closed form from Sxx, Syy, Sxy.

    ``error_ratio`` = lambda = var(err_test) / var(err_reference) (default 1, orthogonal regression).
    R's ``mcr::mcreg(error.ratio=)`` is the inverse, sigma_ref^2 / sigma_test^2.
    Intervals: leave-one-out jackknife (Linnet 1990, as in mcr): SE_jack from the n leave-one-out
    estimates, interval centred on the full-sample estimate, Student t with n - 1 df.
    """
    _check_error_ratio(error_ratio)
    _check_confidence(confidence)
    x, y = validate_pairs(reference, test)
    s, b_loo, a_loo = _deming_jackknife(x, y, error_ratio)
    b, a = deming_from_sums(s, error_ratio)
    b_lo, b_hi = _jackknife_ci(b, b_loo, confidence)
    a_lo, a_hi = _jackknife_ci(a, a_loo, confidence)
    return LineFit("deming", s.n, b, b_lo, b_hi, a, a_lo, a_hi, confidence, float(error_ratio))


def decision_level_bias(reference, test, levels: Sequence[float], error_ratio: float = 1.0,
                        confidence: float = 0.95) -> tuple[DecisionLevelBias, ...]:
    """Bias of the test at each medical decision level X_c from the Deming fit: (a + b X_c) - X_c.

    Interval: jackknife of (a_(i) + (b_(i) - 1) X_c) over leave-one-out fits, centred on the point
    estimate, t with n - 1 df (the same convention as ``deming``).
    """
    _check_error_ratio(error_ratio)
    _check_confidence(confidence)
    x, y = validate_pairs(reference, test)
    s, b_loo, a_loo = _deming_jackknife(x, y, error_ratio)
    b, a = deming_from_sums(s, error_ratio)
    out = []
    for level in levels:
        level = float(level)
        bias = a + (b - 1.0) * level
        lo, hi = _jackknife_ci(bias, a_loo + (b_loo - 1.0) * level, confidence)
        out.append(DecisionLevelBias(level, a + b * level, bias, lo, hi))
    return tuple(out)


def _pairwise_slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """All Passing-Bablok pairwise slopes, unsorted, with the 1983 exclusions applied.

    Pairs are formed after sorting by (x, y), so a pair with equal x and different y is a vertical
    line counted as +inf (the convention of mcr for positively correlated methods), independent
    of row order. Identical points (0/0) and slopes of exactly -1 (within 1e-12 relative) are dropped.
    """
    order = np.lexsort((y, x))
    xs, ys = x[order], y[order]
    out = np.empty(xs.size * (xs.size - 1) // 2)  # filled in place: one n(n-1)/2 buffer, no concatenation
    used = 0
    for i in range(xs.size - 1):
        dx = xs[i + 1:] - xs[i]
        dy = ys[i + 1:] - ys[i]
        keep = ~((dx == 0) & (dy == 0))
        keep &= ~(np.abs(dy + dx) <= _MINUS_ONE_RTOL * np.maximum(np.abs(dx), np.abs(dy)))
        dx, dy = dx[keep], dy[keep]
        with np.errstate(divide="ignore"):
            out[used:used + dx.size] = np.where(dx == 0, np.inf, dy / np.where(dx == 0, 1.0, dx))
        used += dx.size
    return out[:used]


def _order_stats(values: np.ndarray, ranks: Sequence[int]) -> dict[int, float]:
    """1-based order statistics of ``values`` at ``ranks`` (NaN outside 1..N), in O(N); reorders ``values``."""
    valid = sorted({r for r in ranks if 1 <= r <= values.size})
    out = {r: math.nan for r in ranks}
    if valid:
        values.partition([r - 1 for r in valid])  # in place: the slope buffer is ours and large
        out.update({r: float(values[r - 1]) for r in valid})
    return out


def passing_bablok(reference, test, confidence: float = 0.95, max_n: int = PASSING_BABLOK_MAX_N) -> LineFit:
    """Passing & Bablok (1983) regression of test on reference.

    Slopes S_ij of all pairs (i < j after sorting by reference, then test): identical points and
    slopes of exactly -1 are excluded; a tie in the reference with different test values is +inf.
    With N slopes left and K = #(S_ij < -1), the slope is the K-shifted median
    (S_((N+1)/2+K) for odd N, else the mean of S_(N/2+K) and S_(N/2+1+K)); the intercept is
    median(y - b x). Slope interval (rank based): C = z * sqrt(n(n-1)(2n+5)/18), M1 = round((N - C)/2)
    (halves rounded up), M2 = N - M1 + 1, bounds S_(M1+K) and S_(M2+K); intercept interval
    median(y - b_upper x) to median(y - b_lower x). An order statistic outside 1..N gives NaN (too
    few pairs, or methods not positively related).

    O(n^2) time and memory (n(n-1)/2 float64); ``max_n`` (default 5000, ~100 MB) guards the memory.
    Larger studies should be split into strata, or the limit raised deliberately.
    """
    _check_confidence(confidence)
    x, y = validate_pairs(reference, test)
    n = x.size
    if n > max_n:
        raise ValueError(f"Passing-Bablok is O(n^2) in memory; {n} pairs exceed max_n={max_n} "
                         f"({n * (n - 1) // 2} slopes). Split into strata or raise max_n.")
    slopes = _pairwise_slopes(x, y)
    big_n = int(slopes.size)
    k = int(np.count_nonzero(slopes < -1))  # before _order_stats reorders the buffer
    c = _z(confidence) * math.sqrt(n * (n - 1) * (2 * n + 5) / 18.0)
    m1 = math.floor((big_n - c) / 2.0 + 0.5)
    m2 = big_n - m1 + 1
    if big_n % 2:
        mid = [(big_n + 1) // 2 + k]
    else:
        mid = [big_n // 2 + k, big_n // 2 + 1 + k]
    # A bound whose rank falls outside 1..N is unbounded on that side: reported as NaN.
    ranks = mid + [m1 + k, m2 + k]
    os_ = _order_stats(slopes, ranks)
    b = float(np.mean([os_[r] for r in mid]))
    b_lo, b_hi = os_[m1 + k], os_[m2 + k]

    def intercept(slope: float) -> float:
        return float(np.median(y - slope * x)) if math.isfinite(slope) else math.nan

    return LineFit("passing_bablok", int(n), b, b_lo, b_hi, intercept(b), intercept(b_hi), intercept(b_lo),
                   confidence)


# --------------------------------------------------------------------------------------------- diagnostics


def wilson_ci(successes: int, total: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (no continuity correction); NaN if total is 0."""
    _check_confidence(confidence)
    if total <= 0:
        return math.nan, math.nan
    if not 0 <= successes <= total:
        raise ValueError(f"successes must be between 0 and total={total}, got {successes}")
    z = _z(confidence)
    p = successes / total
    denom = 1.0 + z * z / total
    centre = (p + z * z / (2 * total)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
    return max(0.0, centre - half), min(1.0, centre + half)


def referral_cutoff(tsb_threshold: float, margin: float) -> float:
    """TcB cutoff of a referral rule 'measure TSB when TcB is within ``margin`` of the threshold'."""
    return float(tsb_threshold) - float(margin)


def aap2022_tcb_cutoff(phototherapy_threshold_mg_dl: float, margin_mg_dl: float = 3.0,
                       absolute_mg_dl: float = 15.0) -> float:
    """AAP 2022: measure TSB when TcB is within 3 mg/dL of the phototherapy threshold or >= 15 mg/dL,
    i.e. TcB >= min(threshold - 3, 15). Units: mg/dL (1 mg/dL = 17.1 umol/L)."""
    return min(referral_cutoff(phototherapy_threshold_mg_dl, margin_mg_dl), float(absolute_mg_dl))


def diagnostic_accuracy(reference, test, tsb_threshold: float, tcb_cutoff: float | None = None,
                        confidence: float = 0.95) -> DiagnosticAccuracy:
    """Accuracy of 'TcB (test) >= tcb_cutoff' for detecting 'TSB (reference) >= tsb_threshold'.

    ``tcb_cutoff`` defaults to ``tsb_threshold``; a referral rule lowers it (``referral_cutoff``).
    Proportions undefined for lack of a denominator are NaN. Wilson score intervals.
    """
    x, y = validate_pairs(reference, test, min_n=1)
    for name, v in (("tsb_threshold", tsb_threshold), ("tcb_cutoff", tcb_cutoff)):
        if v is not None and not (isinstance(v, numbers.Real) and math.isfinite(v)):
            raise ValueError(f"{name} must be a finite number, got {v!r}")
    cut = float(tsb_threshold if tcb_cutoff is None else tcb_cutoff)
    disease = x >= tsb_threshold
    positive = y >= cut
    tp = int(np.count_nonzero(disease & positive))
    fp = int(np.count_nonzero(~disease & positive))
    fn = int(np.count_nonzero(disease & ~positive))
    tn = int(np.count_nonzero(~disease & ~positive))

    def prop(k: int, m: int) -> tuple[float, float, float]:
        return (k / m if m else math.nan, *wilson_ci(k, m, confidence))

    return DiagnosticAccuracy(float(tsb_threshold), cut, tp, fp, fn, tn,
                              *prop(tp, tp + fn), *prop(tn, tn + fp), *prop(tp, tp + fp), *prop(tn, tn + fn),
                              confidence)


# --------------------------------------------------------------------------------------------- everything


def compare(reference, test, error_ratio: float = 1.0, confidence: float = 0.95,
            decision_levels: Sequence[float] = (), thresholds: Sequence[tuple[float, float | None]] = (),
            reference_name: str = "reference", test_name: str = "test") -> MethodComparison:
    """Every statistic of the report for one set of pairs.

    ``thresholds``: (tsb_threshold, tcb_cutoff or None) pairs for the diagnostic-accuracy tables.
    The percentage Bland-Altman variant is included when no pair has mean 0.
    """
    _check_error_ratio(error_ratio)
    _check_confidence(confidence)
    x, y = validate_pairs(reference, test)
    if np.all(x == x[0]):
        raise ValueError(f"{reference_name}: every value is {x[0]:g}; a method comparison needs a range of values")
    if np.all(y == y[0]):
        raise ValueError(f"{test_name}: every value is {y[0]:g}; a method comparison needs a range of values")
    pct = None
    if not np.any(x + y == 0):
        pct = bland_altman(x, y, confidence, percent=True)
    return MethodComparison(
        n=int(x.size), reference_name=reference_name, test_name=test_name, confidence=confidence,
        error_ratio=float(error_ratio),
        bland_altman=bland_altman(x, y, confidence),
        pearson=pearson(x, y, confidence),
        ols=ols(x, y, confidence),
        deming=deming(x, y, error_ratio, confidence),
        passing_bablok=passing_bablok(x, y, confidence),
        bland_altman_percent=pct,
        decision_levels=decision_level_bias(x, y, decision_levels, error_ratio, confidence),
        diagnostics=tuple(diagnostic_accuracy(x, y, thr, cut, confidence) for thr, cut in thresholds),
    )

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
# Bland & Altman (1999), regression-based limits: for normal residuals E|R| = sigma * sqrt(2 / pi), so
# 1.96 sigma = 1.96 * sqrt(pi / 2) * E|R| = 2.46 * E|R|.
ABS_RESIDUAL_FACTOR = LOA_Z * math.sqrt(math.pi / 2.0)
# The stated test of heteroscedasticity: the slope of |residual| on the pair mean, two-sided t test.
HETERO_ALPHA = 0.05
# Passing-Bablok is consistent only when var(test error) / var(reference error) = slope^2 (Passing &
# Bablok 1983). Our rule: it is the primary line when the stated lambda is within this factor of b^2,
# otherwise Deming with the stated lambda is primary and Passing-Bablok is shown with a caveat.
PB_LAMBDA_FACTOR = 2.0
# Up to this many pairs Passing-Bablok sorts the full slope array (n(n-1)/2 float64, ~16 MB at 2,000);
# above it, the order statistics are selected without materialising it (``_SlopeSelector``).
PB_DIRECT_MAX_N = 2000
# The selector enumerates the slopes of a bracket once it holds at most this many.
_PB_ENUM_MAX = 2_000_000
# Half-width of the window around -1 searched explicitly for slopes of exactly -1.
_MINUS_ONE_WINDOW = 1e-9
# Pairwise differences this close (relative) to dy == -dx count as slope exactly -1 (same spirit as mcr's EPS).
_MINUS_ONE_RTOL = 1e-12

__all__ = [
    "BlandAltman", "Correlation", "DecisionLevelBias", "DiagnosticAccuracy", "LineFit", "MethodComparison",
    "LimitsAt", "RegressionLimits", "SixSums", "aap2022_tcb_cutoff", "choose_regression", "constant_limits_at",
    "percent_meaningful", "regression_limits", "bland_altman", "bland_altman_from_sums", "compare", "decision_level_bias",
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
class LimitsAt(_Flat):
    """Limits of agreement at one pair mean ``level`` (from ``RegressionLimits.at``)."""

    level: float
    bias: float
    lower: float
    upper: float
    lower_ci_low: float
    lower_ci_high: float
    upper_ci_low: float
    upper_ci_high: float


@dataclass(frozen=True)
class RegressionLimits(_Flat):
    """Bland & Altman (1999) regression-based limits of agreement, with the differences' spread a
    linear function of the pair mean A = (test + reference) / 2.

    D = b0 + b1 A (OLS of the differences on the means); R = residuals; |R| = c0 + c1 A (OLS);
    limits b0 + b1 A -/+ 2.46 (c0 + c1 A), 2.46 = 1.96 sqrt(pi/2). ``heteroscedastic`` is the
    stated test: c1 differs from 0 (two-sided t test, n - 2 df, p < ``HETERO_ALPHA``).
    Intervals (ours; Bland & Altman give none for this form): the limit at A0 has
    SE^2 = SE(D fit at A0)^2 + 2.46^2 SE(|R| fit at A0)^2 (OLS prediction errors of the mean line,
    the two fits treated as independent), Student t with n - 2 df. For constant spread this is close
    to their sqrt(3 s^2 / n).
    """

    n: int
    bias_intercept: float
    bias_slope: float
    bias_slope_p: float
    abs_intercept: float
    abs_slope: float
    abs_slope_ci_low: float
    abs_slope_ci_high: float
    abs_slope_p: float
    heteroscedastic: bool
    mean_a: float
    saa: float
    s2_bias: float
    s2_abs: float
    factor: float = ABS_RESIDUAL_FACTOR
    confidence: float = 0.95

    def at(self, level: float) -> LimitsAt:
        level = float(level)
        bias = self.bias_intercept + self.bias_slope * level
        half = self.factor * (self.abs_intercept + self.abs_slope * level)
        lev = 1.0 / self.n + (level - self.mean_a) ** 2 / self.saa
        se = math.sqrt(lev * (self.s2_bias + self.factor**2 * self.s2_abs))
        t = _t(self.confidence, self.n - 2)
        lower, upper = bias - half, bias + half
        return LimitsAt(level, bias, lower, upper, lower - t * se, lower + t * se, upper - t * se, upper + t * se)


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
    regression_limits: RegressionLimits | None = None
    # "regression" (Bland & Altman 1999, spread grows with the mean) or "constant" (bias -/+ 1.96 SD)
    loa_method: str = "constant"
    limits_at_levels: tuple[LimitsAt, ...] = field(default_factory=tuple)
    # "deming" or "passing_bablok", and why (``choose_regression``)
    primary_regression: str = "deming"
    regression_reason: str = ""

    def to_dict(self) -> dict:
        """Flat dict: nested results become ``<part>_<field>``; list items ``decision_level_<i>_<field>``,
        ``limits_at_level_<i>_<field>`` and ``diagnostic_<i>_<field>`` (1-based, in the order given)."""
        out: dict = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, _Flat):
                out.update({f"{f.name}_{k}": v for k, v in value.to_dict().items()})
            elif value is None:
                continue
            elif isinstance(value, tuple):
                prefix = {"decision_levels": "decision_level", "diagnostics": "diagnostic",
                          "limits_at_levels": "limits_at_level"}[f.name]
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


def _ols_line(a: np.ndarray, v: np.ndarray) -> tuple[float, float, float, float, float]:
    """(intercept, slope, SE of slope, residual variance, p of slope) of OLS of v on a."""
    n = a.size
    ma, mv = float(a.mean()), float(v.mean())
    da = a - ma
    saa = float(da @ da)
    slope = float(da @ (v - mv)) / saa
    icpt = mv - slope * ma
    res = v - icpt - slope * a
    s2 = float(res @ res) / (n - 2)
    se = math.sqrt(s2 / saa)
    p = float(2 * sps.t.sf(abs(slope / se), n - 2)) if se > 0 else (0.0 if slope != 0 else 1.0)
    return icpt, slope, se, s2, p


def regression_limits(reference, test, confidence: float = 0.95) -> RegressionLimits:
    """Bland & Altman (1999) regression-based 95% limits of agreement (see ``RegressionLimits``)."""
    _check_confidence(confidence)
    x, y = validate_pairs(reference, test, min_n=4)
    a, d = (x + y) / 2.0, y - x
    if np.all(a == a[0]):
        raise ValueError("regression-based limits need a range of pair means; every pair mean is the same")
    b0, b1, _, s2_d, p_b = _ols_line(a, d)
    r = np.abs(d - b0 - b1 * a)
    c0, c1, se_c, s2_r, p_c = _ols_line(a, r)
    t = _t(confidence, a.size - 2)
    da = a - a.mean()
    return RegressionLimits(int(a.size), b0, b1, p_b, c0, c1, c1 - t * se_c, c1 + t * se_c, p_c,
                            bool(p_c < HETERO_ALPHA), float(a.mean()), float(da @ da), s2_d, s2_r,
                            ABS_RESIDUAL_FACTOR, confidence)


def constant_limits_at(ba: BlandAltman, level: float) -> LimitsAt:
    """The constant (bias -/+ 1.96 SD) limits, written as limits at a level."""
    return LimitsAt(float(level), ba.bias, ba.lower, ba.upper, ba.lower_ci_low, ba.lower_ci_high,
                    ba.upper_ci_low, ba.upper_ci_high)


def choose_regression(error_ratio: float, pb_slope: float) -> tuple[str, str]:
    """("deming" | "passing_bablok", reason code) by the error structure.

    Passing-Bablok estimates the slope without bias only when lambda = var(test error) / var(reference
    error) is about b^2 (Passing & Bablok 1983); Deming with the stated lambda is right for any lambda
    but not robust to outliers. Passing-Bablok is primary when lambda / b^2 lies within
    [1 / PB_LAMBDA_FACTOR, PB_LAMBDA_FACTOR]; otherwise Deming, and Passing-Bablok carries the caveat.
    """
    _check_error_ratio(error_ratio)
    if not (math.isfinite(pb_slope) and pb_slope > 0):
        return "deming", "pb_undefined"
    ratio = error_ratio / (pb_slope * pb_slope)
    if 1.0 / PB_LAMBDA_FACTOR <= ratio <= PB_LAMBDA_FACTOR:
        return "passing_bablok", "lambda_near_slope_squared"
    return "deming", "lambda_far_from_slope_squared"


def percent_meaningful(x: np.ndarray, y: np.ndarray) -> bool:
    """Percentage differences 100 (y - x) / mean only on a ratio scale: every value of both methods
    positive (or every one negative). Otherwise pair means approach or cross zero and the
    percentages are unbounded."""
    return bool((np.all(x > 0) and np.all(y > 0)) or (np.all(x < 0) and np.all(y < 0)))


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



def _inversions(v: np.ndarray, ids: np.ndarray | None = None):
    """Strict inversions of the integer sequence ``v`` (pairs a < b with v[b] < v[a]), by bottom-up merging.

    Values must lie in 0..len(v). Returns the count, or with ``ids`` the (ids[a], ids[b]) pairs as two
    arrays. O(n log^2 n) with numpy sorts per level; the pairs cost O(number of inversions) more.
    """
    n = v.size
    stride = n + 1
    vals = v.astype(np.int64)
    pos = np.arange(n, dtype=np.int64)
    total = 0
    firsts, seconds = [], []
    w = 1
    while w < n:
        blk = pos // (2 * w)
        right = ((pos // w) & 1).astype(bool)
        key = blk * stride + vals
        left_keys = key[~right]  # sorted: blocks ascending, each half sorted by the previous level
        rb, rk = blk[right], key[right]
        start = np.searchsorted(left_keys, rk, side="right")  # first left element with a larger value
        end = (rb + 1) * w  # a block with a right half has a full left half of w elements
        cnt = end - start
        level = int(cnt.sum())
        total += level
        if ids is not None:
            order = np.argsort(key, kind="stable")
            if level:
                left_ids = ids[~right]
                rep = np.repeat(np.arange(cnt.size), cnt)
                idx = np.arange(level) - np.repeat(np.cumsum(cnt) - cnt, cnt) + start[rep]
                firsts.append(left_ids[idx])
                seconds.append(ids[right][rep])
            ids = ids[order]
            vals = key[order] - blk * stride
        else:
            key.sort()
            vals = key - blk * stride
        w *= 2
    if ids is None:
        return total
    empty = np.empty(0, dtype=np.int64)
    return (np.concatenate(firsts) if firsts else empty), (np.concatenate(seconds) if seconds else empty)


def _dense_rank(z: np.ndarray) -> np.ndarray:
    return np.unique(z, return_inverse=True)[1].astype(np.int64)


def _is_minus_one(dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    return np.abs(dy + dx) <= _MINUS_ONE_RTOL * np.maximum(np.abs(dx), np.abs(dy))



class _SlopeSelector:
    """Order statistics of the Passing-Bablok slopes without the n(n-1)/2 array (exact, O(n log^2 n)).

    After sorting by (x, y), a pair (i, j) with x_i < x_j has slope < t exactly when z_j < z_i for
    z = y - t x, so the number of slopes below t is the number of inversions of z. A rank is bracketed
    between two thresholds taken from random pairs (each bracket is checked by counting, so the
    sampling only decides how fast it shrinks), until the bracket holds at most ``enum_max`` slopes;
    those pairs (the inversions between the z orders at the two thresholds) are enumerated, their
    slopes computed exactly as ``_pairwise_slopes`` does and sorted. Same slopes, same conventions:
    identical points dropped, slopes of exactly -1 dropped, ties in x counted +inf. Thresholds are
    jittered off sampled slopes and every enumerated slope is checked against its bracket, so a
    floating-point tie at a threshold is retried rather than miscounted.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, seed: int = 0, enum_max: int = _PB_ENUM_MAX):
        order = np.lexsort((y, x))
        self.x, self.y = x[order], y[order]
        n = self.n = int(x.size)
        self.enum_max = int(enum_max)
        self.rng = np.random.default_rng(seed)
        ux, gx = np.unique(self.x, return_counts=True)
        gxy = np.unique(np.column_stack([self.x, self.y]), axis=0, return_counts=True)[1]
        tie_x = int(np.sum(gx * (gx - 1) // 2))
        self.vertical = tie_x - int(np.sum(gxy * (gxy - 1) // 2))  # equal x, different y: +inf
        self.finite_all = n * (n - 1) // 2 - tie_x  # pairs with different x (slopes of -1 included)
        # Every finite slope lies within +/- (range of y) / (smallest gap between distinct x).
        bound = (float(np.ptp(self.y)) / float(np.diff(ux).min()) if ux.size > 1 else 0.0) + 1.0
        self.lo0, self.hi0 = -bound * (1 + 1e-6) - 1e-6, bound * (1 + 1e-6) + 1e-6
        self.minus_one, self.k, self._window = 0, 0, 2 * _MINUS_ONE_WINDOW
        self._whole: np.ndarray | None = None
        self._done: list[tuple[int, np.ndarray]] = []  # (kept slopes below, sorted slopes) of enumerated brackets
        if self.finite_all:
            self._find_minus_one()
        self.kept = self.finite_all - self.minus_one
        self.total = self.kept + self.vertical  # N of Passing & Bablok

    def _find_minus_one(self) -> None:
        """Slopes of exactly -1 (excluded) and K = #(slopes < -1), from a narrow window around -1."""
        for widen in (1.0, 1.7, 2.9, 5.3):
            lo, hi = -1.0 - _MINUS_ONE_WINDOW * widen, -1.0 + _MINUS_ONE_WINDOW * widen
            below = self.count_below(lo)
            try:
                s, m1 = self._enumerate(lo, hi, below, self.count_below(hi))
            except ArithmeticError:
                continue
            self.minus_one = int(np.count_nonzero(m1))
            self.k = below + int(np.count_nonzero(~m1 & (s < -1.0)))
            self._window = 2 * _MINUS_ONE_WINDOW * widen
            return
        raise ArithmeticError("Passing-Bablok: no clean window around slope -1")  # pragma: no cover

    def count_below(self, t: float) -> int:
        """Pairs with different x and slope < t (slopes of -1 included)."""
        return int(_inversions(_dense_rank(self.y - t * self.x)))

    def _kept_below(self, t: float, raw: int) -> int:
        return raw - (self.minus_one if t > -1.0 else 0)

    def _enumerate(self, lo: float, hi: float, c_lo: int, c_hi: int) -> tuple[np.ndarray, np.ndarray]:
        """Slopes in [lo, hi) and their exact -1 flags; ArithmeticError if a float slope sits on an edge."""
        arrangement = np.lexsort((np.arange(self.n), self.y - lo * self.x))
        a, b = _inversions(_dense_rank((self.y - hi * self.x)[arrangement]), arrangement)
        if a.size != c_hi - c_lo:
            raise ArithmeticError("bracket count mismatch")
        dx, dy = self.x[b] - self.x[a], self.y[b] - self.y[a]
        s = dy / dx
        if s.size and (s.min() < lo or s.max() >= hi):
            raise ArithmeticError("slope on a bracket edge")
        return s, _is_minus_one(dx, dy)

    def _sample(self, lo: float, hi: float, want: int) -> np.ndarray:
        """Sorted slopes of random pairs (different x, not -1) in [lo, hi), about ``want`` of them.

        The first call (the whole range) is kept and reused for every rank."""
        whole = lo <= self.lo0 and hi >= self.hi0
        if whole and self._whole is not None:
            return self._whole
        got, have, chunk = [], 0, 1_000_000
        for _ in range(30):
            i = self.rng.integers(0, self.n, chunk)
            j = self.rng.integers(0, self.n, chunk)
            dx, dy = self.x[j] - self.x[i], self.y[j] - self.y[i]
            keep = dx != 0
            dx, dy = dx[keep], dy[keep]
            s = dy / dx
            inside = (s >= lo) & (s < hi)
            dx, dy, s = dx[inside], dy[inside], s[inside]
            s = s[~_is_minus_one(dx, dy)]
            got.append(s)
            have += s.size
            if have >= want:
                break
        out = np.sort(np.concatenate(got))
        if whole:
            self._whole = out
        return out

    def _jitter(self, t: float, down: bool) -> float:
        step = 1e-9 * (1.0 + abs(t)) * self.rng.uniform(0.5, 1.0)
        t = t - step if down else t + step
        if abs(t + 1.0) <= self._window:  # keep thresholds off the window of the -1 slopes
            t = -1.0 - 2 * self._window if down else -1.0 + 2 * self._window
        return t

    def select(self, rank: int) -> float:
        """The rank-th (1-based) smallest of the N slopes: +inf past the finite ones, NaN outside 1..N."""
        if not 1 <= rank <= self.total:
            return math.nan
        if rank > self.kept:
            return math.inf
        for below, sorted_slopes in self._done:  # neighbouring ranks (the two middle slopes) share a bracket
            if below < rank <= below + sorted_slopes.size:
                return float(sorted_slopes[rank - below - 1])
        lo, hi = self.lo0, self.hi0
        c_lo, c_hi, raw_lo, raw_hi = 0, self.kept, 0, self.finite_all  # kept slopes in [lo, hi): c_hi - c_lo

        def narrow(t: float) -> None:
            nonlocal lo, hi, c_lo, c_hi, raw_lo, raw_hi
            if not lo < t < hi:
                return
            raw = self.count_below(t)
            kept_below = self._kept_below(t, raw)
            if kept_below < rank:
                lo, c_lo, raw_lo = t, kept_below, raw
            else:
                hi, c_hi, raw_hi = t, kept_below, raw

        for _ in range(200):
            if c_hi - c_lo <= self.enum_max:
                try:
                    s, m1 = self._enumerate(lo, hi, raw_lo, raw_hi)
                except ArithmeticError:  # a slope on an edge: move both edges outwards and recount
                    lo2, hi2 = self._jitter(lo, True), self._jitter(hi, False)
                    raw_lo, raw_hi = self.count_below(lo2), self.count_below(hi2)
                    lo, hi = lo2, hi2
                    c_lo, c_hi = self._kept_below(lo, raw_lo), self._kept_below(hi, raw_hi)
                    continue
                found = np.sort(s[~m1])
                self._done.append((c_lo, found))
                return float(found[rank - c_lo - 1])
            sample = self._sample(lo, hi, 5_000)
            tied = sample.size > 0 and sample[-1] - sample[0] <= 4e-9 * (1.0 + abs(float(sample[0])))
            if sample.size >= 50 and not tied:
                q = (rank - c_lo) / (c_hi - c_lo)
                half = 3.0 * math.sqrt(q * (1 - q) / sample.size) + 2.0 / sample.size
                i_lo = max(0, math.floor((q - half) * sample.size))
                i_hi = min(sample.size - 1, math.ceil((q + half) * sample.size))
                before = c_hi - c_lo
                narrow(self._jitter(float(sample[i_lo]), True))
                narrow(self._jitter(float(sample[i_hi]), False))
                if c_hi - c_lo < before:
                    continue
                tied = True  # no progress: the rank sits in a cluster of (nearly) equal slopes
            if sample.size and tied:
                # A cluster of tied slopes (integer data, exact lines): equal rationals give equal floats
                # for integer data; otherwise they agree to rounding (~1e-15 relative).
                s0 = float(np.median(sample))
                a, b = self._jitter(s0, True), self._jitter(s0, False)
                ka, kb = self._kept_below(a, self.count_below(a)), self._kept_below(b, self.count_below(b))
                if ka < rank <= kb and kb - ka > self.enum_max:
                    return s0
                narrow(a)
                narrow(b)
            else:
                narrow(0.5 * (lo + hi))
        raise ArithmeticError("Passing-Bablok slope selection did not converge")  # pragma: no cover


def _order_stats(values: np.ndarray, ranks: Sequence[int]) -> dict[int, float]:
    """1-based order statistics of ``values`` at ``ranks`` (NaN outside 1..N), in O(N); reorders ``values``."""
    valid = sorted({r for r in ranks if 1 <= r <= values.size})
    out = {r: math.nan for r in ranks}
    if valid:
        values.partition([r - 1 for r in valid])  # in place: the slope buffer is ours and large
        out.update({r: float(values[r - 1]) for r in valid})
    return out


def passing_bablok(reference, test, confidence: float = 0.95, *, direct_max_n: int = PB_DIRECT_MAX_N,
                   enum_max: int = _PB_ENUM_MAX) -> LineFit:
    """Passing & Bablok (1983) regression of test on reference, exact for any n.

    Slopes S_ij of all pairs (i < j after sorting by reference, then test): identical points and
    slopes of exactly -1 are excluded; a tie in the reference with different test values is +inf.
    With N slopes left and K = #(S_ij < -1), the slope is the K-shifted median
    (S_((N+1)/2+K) for odd N, else the mean of S_(N/2+K) and S_(N/2+1+K)); the intercept is
    median(y - b x). Slope interval (rank based): C = z * sqrt(n(n-1)(2n+5)/18), M1 = round((N - C)/2)
    (halves rounded up), M2 = N - M1 + 1, bounds S_(M1+K) and S_(M2+K); intercept interval from
    median(y - b_upper x) and median(y - b_lower x), reported low to high (with negative reference
    values the upper slope gives the upper intercept). An order statistic outside 1..N gives NaN (too
    few pairs, or methods not positively related).

    Up to ``direct_max_n`` pairs the n(n-1)/2 slopes are materialised and partitioned; above, the
    same order statistics are selected by counting (``_SlopeSelector``, O(n log^2 n) time, O(n)
    memory apart from at most ``enum_max`` slopes): 100,000 pairs take seconds, not 40 GB.
    """
    _check_confidence(confidence)
    x, y = validate_pairs(reference, test)
    n = x.size
    c = _z(confidence) * math.sqrt(n * (n - 1) * (2 * n + 5) / 18.0)
    if n <= direct_max_n:
        slopes = _pairwise_slopes(x, y)
        big_n = int(slopes.size)
        k = int(np.count_nonzero(slopes < -1))  # before _order_stats reorders the buffer
        select = None
    else:
        sel = _SlopeSelector(x, y, enum_max=enum_max)
        big_n, k, select = sel.total, sel.k, sel.select
    m1 = math.floor((big_n - c) / 2.0 + 0.5)
    m2 = big_n - m1 + 1
    if big_n % 2:
        mid = [(big_n + 1) // 2 + k]
    else:
        mid = [big_n // 2 + k, big_n // 2 + 1 + k]
    # A bound whose rank falls outside 1..N is unbounded on that side: reported as NaN.
    ranks = mid + [m1 + k, m2 + k]
    os_ = _order_stats(slopes, ranks) if select is None else {r: select(r) for r in dict.fromkeys(ranks)}
    b = float(np.mean([os_[r] for r in mid]))
    b_lo, b_hi = os_[m1 + k], os_[m2 + k]

    def intercept(slope: float) -> float:
        return float(np.median(y - slope * x)) if math.isfinite(slope) else math.nan

    a_lo, a_hi = intercept(b_hi), intercept(b_lo)
    if a_lo > a_hi:  # reference values below zero reverse the order
        a_lo, a_hi = a_hi, a_lo
    return LineFit("passing_bablok", int(n), b, b_lo, b_hi, intercept(b), a_lo, a_hi, confidence)


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
            reference_name: str = "reference", test_name: str = "test",
            passing_bablok_fit: LineFit | None = None) -> MethodComparison:
    """Every statistic of the report for one set of pairs.

    ``thresholds``: (tsb_threshold, tcb_cutoff or None) pairs for the diagnostic-accuracy tables.
    The percentage Bland-Altman variant is included only when ``percent_meaningful``. The limits of
    agreement are regression-based (Bland & Altman 1999) when the spread of the differences changes
    with the pair mean (``RegressionLimits.heteroscedastic``), constant otherwise; ``limits_at_levels``
    gives the chosen limits at each decision level (read as a pair mean). ``primary_regression`` follows
    ``choose_regression``. ``passing_bablok_fit`` lets a caller pass a fit it already has.
    """
    _check_error_ratio(error_ratio)
    _check_confidence(confidence)
    x, y = validate_pairs(reference, test)
    if np.all(x == x[0]):
        raise ValueError(f"{reference_name}: every value is {x[0]:g}; a method comparison needs a range of values")
    if np.all(y == y[0]):
        raise ValueError(f"{test_name}: every value is {y[0]:g}; a method comparison needs a range of values")
    pct = bland_altman(x, y, confidence, percent=True) if percent_meaningful(x, y) else None
    ba = bland_altman(x, y, confidence)
    reg = None
    if x.size >= 4 and not np.all(x + y == x[0] + y[0]):
        reg = regression_limits(x, y, confidence)
    loa_method = "regression" if reg is not None and reg.heteroscedastic else "constant"
    at = (lambda lv: reg.at(lv)) if loa_method == "regression" else (lambda lv: constant_limits_at(ba, lv))
    pb = passing_bablok_fit if passing_bablok_fit is not None else passing_bablok(x, y, confidence)
    primary, reason = choose_regression(error_ratio, pb.slope)
    return MethodComparison(
        n=int(x.size), reference_name=reference_name, test_name=test_name, confidence=confidence,
        error_ratio=float(error_ratio),
        bland_altman=ba,
        pearson=pearson(x, y, confidence),
        ols=ols(x, y, confidence),
        deming=deming(x, y, error_ratio, confidence),
        passing_bablok=pb,
        bland_altman_percent=pct,
        decision_levels=decision_level_bias(x, y, decision_levels, error_ratio, confidence),
        diagnostics=tuple(diagnostic_accuracy(x, y, thr, cut, confidence) for thr, cut in thresholds),
        regression_limits=reg,
        loa_method=loa_method,
        limits_at_levels=tuple(at(lv) for lv in decision_levels),
        primary_regression=primary,
        regression_reason=reason,
    )

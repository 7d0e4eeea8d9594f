"""Reading and formatting for ``dataspace method-compare`` (the command's body is :mod:`.cli`).

Reads two numeric columns of a UTF-8 CSV (comma separated, header on line 1) and formats
``stats.compare`` as a table. Input problems raise :class:`InputError` naming the file, line and
column, which the command reports with exit code 2; nothing is silently dropped except wholly
blank lines.
"""

from __future__ import annotations

import csv as _csv
import io
import math
from pathlib import Path

from data_products.products.jaundice import stats

EXIT_OK = 0
EXIT_INPUT = 2
_MAX_REPORTED = 10
_MISSING_TOKENS = {"", "na", "n/a", "nan", "null", "none", "-", "."}
_LINE_NOTE = "line numbers count the header as line 1"


class InputError(ValueError):
    """Bad input file or arguments; the message is meant for the user as is."""


def read_pairs(path: Path, reference: str, test: str) -> tuple[list[float], list[float]]:
    """The (reference, test) columns of ``path`` as floats, or InputError listing up to 10 bad cells."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, expected a CSV file") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise InputError(f"{path}: not UTF-8 text (line {line}, byte {e.start}: {raw[e.start:e.start + 1]!r}; "
                         f"{_LINE_NOTE}). Save the file as 'CSV UTF-8'.") from None

    reader = _csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
    except _csv.Error as e:
        raise InputError(f"{path}, line 1: unreadable CSV header ({e})") from None
    if header is None or not any(h.strip() for h in header):
        raise InputError(f"{path}: empty file, expected a header line with column names")
    names = [h.strip() for h in header]
    idx = {}
    for col, role in ((reference, "reference"), (test, "test")):
        hits = [i for i, h in enumerate(names) if h == col]
        if not hits:
            hint = ""
            if len(names) == 1 and any(sep in names[0] for sep in ";\t|"):
                hint = " (the file seems to use another separator than ','; save it comma-separated)"
            raise InputError(f"{path}: {role} column {col!r} not found; available columns: "
                             f"{', '.join(repr(h) for h in names)}{hint}")
        if len(hits) > 1:
            raise InputError(f"{path}: column {col!r} appears {len(hits)} times in the header; rename the duplicates")
        idx[role] = hits[0]

    xs: list[float] = []
    ys: list[float] = []
    problems: list[str] = []
    try:
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue  # wholly blank line (often trailing); carries no pair
            values = []
            for role, col in (("reference", reference), ("test", test)):
                i = idx[role]
                cell = row[i].strip() if i < len(row) else ""
                value, why = _parse(cell)
                if why:
                    problems.append(f"line {line}, column {col!r}: {why}")
                values.append(value)
            if len(values) == 2 and all(v is not None for v in values):
                xs.append(values[0])
                ys.append(values[1])
    except _csv.Error as e:
        raise InputError(f"{path}, line {reader.line_num}: malformed CSV ({e}); {_LINE_NOTE}") from None

    if problems:
        shown = "\n  ".join(problems[:_MAX_REPORTED])
        more = f"\n  ... and {len(problems) - _MAX_REPORTED} more" if len(problems) > _MAX_REPORTED else ""
        raise InputError(f"{path}: {len(problems)} missing or non-numeric value(s) ({_LINE_NOTE}):\n  {shown}{more}")
    if len(xs) < 3:
        raise InputError(f"{path}: {len(xs)} complete pair(s) of {reference!r} and {test!r}; at least 3 are needed")
    return xs, ys


def _parse(cell: str) -> tuple[float | None, str]:
    if cell.lower() in _MISSING_TOKENS:
        return None, "missing value" + (f" ({cell!r})" if cell else "")
    try:
        value = float(cell)
    except ValueError:
        return None, f"{cell!r} is not a number" + (" (use '.' as decimal mark)" if "," in cell else "")
    if not math.isfinite(value):
        return None, f"{cell!r} is not a finite number"
    return value, ""


def _fmt(v: float | int | None, digits: int) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    if isinstance(v, int):
        return str(v)
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:.{digits}f}"


def _ci(lo: float, hi: float, digits: int) -> str:
    return f"({_fmt(lo, digits)} to {_fmt(hi, digits)})"


def _line(a: float, b: float) -> str:
    return f"{_fmt(a, 2)} {'-' if b < 0 else '+'} {_fmt(abs(b), 4)} * A"


def format_table(res: stats.MethodComparison) -> str:
    """A readable plain-text report of ``res``; values in the data's unit to 2 decimals, slopes and r to 4."""
    pct = f"{res.confidence * 100:g}%"
    lines = [
        f"Method comparison: test {res.test_name!r} against reference {res.reference_name!r}",
        f"pairs: {res.n}; differences are test - reference; intervals are {pct} confidence intervals",
        "",
    ]

    def row(label: str, value: str, ci: str = "") -> str:
        return f"  {label:<30} {value:>10}  {ci}".rstrip()

    def ba_block(title: str, ba: stats.BlandAltman, unit: str) -> None:
        lines.extend([
            title,
            row("bias (mean difference)", _fmt(ba.bias, 2) + unit, _ci(ba.bias_ci_low, ba.bias_ci_high, 2)),
            row("SD of differences", _fmt(ba.sd, 2) + unit),
            row(f"lower limit (bias - {ba.loa_z:g} SD)", _fmt(ba.lower, 2) + unit,
                _ci(ba.lower_ci_low, ba.lower_ci_high, 2)),
            row(f"upper limit (bias + {ba.loa_z:g} SD)", _fmt(ba.upper, 2) + unit,
                _ci(ba.upper_ci_low, ba.upper_ci_high, 2)),
            "",
        ])

    ba_block("Bland-Altman (intervals: Bland & Altman 1999 approximate)", res.bland_altman, "")
    if res.bland_altman_percent is not None:
        ba_block("Bland-Altman, percentage differences (100 * d / pair mean)", res.bland_altman_percent, "%")
    else:
        lines += ["Percentage differences: not shown (values of mixed sign or zero; pair means approach or "
                  "cross zero)", ""]
    rl = res.regression_limits
    if rl is not None:
        verdict = "grows or shrinks with the mean" if rl.heteroscedastic else "no evidence it changes with the mean"
        lines += [
            "Spread of the differences (Bland & Altman 1999 regression-based limits)",
            row("mean difference", _line(rl.bias_intercept, rl.bias_slope)),
            row("|residual|", _line(rl.abs_intercept, rl.abs_slope),
                _ci(rl.abs_slope_ci_low, rl.abs_slope_ci_high, 4) + f" slope p={rl.abs_slope_p:.3g}"),
            row("limits", f"mean difference -/+ {rl.factor:.2f} * |residual| line"),
            f"  A = pair mean; test of heteroscedasticity (slope of |residual| on A, p < 0.05): {verdict}",
            f"  limits of agreement used: {'regression-based' if res.loa_method == 'regression' else 'constant'}",
            "",
        ]
    for la in res.limits_at_levels:
        lines.append(row(f"limits at pair mean {_fmt(la.level, 2)}", f"{_fmt(la.lower, 2)} / {_fmt(la.upper, 2)}",
                         f"lower {_ci(la.lower_ci_low, la.lower_ci_high, 2)}, upper "
                         f"{_ci(la.upper_ci_low, la.upper_ci_high, 2)}"))
    if res.limits_at_levels:
        lines.append("")
    p = res.pearson
    lines += ["Correlation", row("Pearson r (Fisher z CI)", _fmt(p.r, 4), _ci(p.ci_low, p.ci_high, 4)), ""]
    lines.append("Regression: test = intercept + slope * reference")
    labels = {
        "ols": "OLS",
        "deming": f"Deming, lambda={res.error_ratio:g} (jackknife CI)",
        "passing_bablok": "Passing-Bablok",
    }
    labels[res.primary_regression] += "  [primary]"
    for fit in (res.ols, res.deming, res.passing_bablok):
        lines.append(f"  {labels[fit.method]}")
        lines.append(row("  slope", _fmt(fit.slope, 4), _ci(fit.slope_ci_low, fit.slope_ci_high, 4)))
        lines.append(row("  intercept", _fmt(fit.intercept, 2),
                         _ci(fit.intercept_ci_low, fit.intercept_ci_high, 2)))
    lines.append("  lambda = var(test error) / var(reference error); R mcr's error.ratio is 1/lambda")
    if res.regression_reason == "lambda_far_from_slope_squared":
        lines.append(f"  primary line: Deming. Passing-Bablok assumes lambda ~ slope^2 "
                     f"({_fmt(res.passing_bablok.slope ** 2, 2)} here) but lambda = {res.error_ratio:g}: "
                     "its slope can be biased; shown for reference only")
    elif res.regression_reason == "lambda_near_slope_squared":
        lines.append("  primary line: Passing-Bablok (lambda ~ slope^2, its assumption holds; robust to outliers)")
    else:
        lines.append("  primary line: Deming (Passing-Bablok undefined for these data)")
    if res.decision_levels:
        lines += ["", "Bias at decision levels (Deming; jackknife CI)"]
        for d in res.decision_levels:
            lines.append(row(f"at {_fmt(d.level, 2)} (predicted {_fmt(d.predicted, 2)})", _fmt(d.bias, 2),
                             _ci(d.ci_low, d.ci_high, 2)))
    for dg in res.diagnostics:
        lines += [
            "",
            f"Diagnostic accuracy: test >= {_fmt(dg.tcb_cutoff, 2)} for reference >= {_fmt(dg.tsb_threshold, 2)} "
            f"(TP {dg.tp}, FP {dg.fp}, FN {dg.fn}, TN {dg.tn}; Wilson CI)",
        ]
        for name in ("sensitivity", "specificity", "ppv", "npv"):
            v = getattr(dg, name)
            lo, hi = getattr(dg, f"{name}_ci_low"), getattr(dg, f"{name}_ci_high")
            lines.append(row(name.upper() if len(name) == 3 else name, _fmt(v * 100, 1) + "%",
                             f"({_fmt(lo * 100, 1)}% to {_fmt(hi * 100, 1)}%)"))
    return "\n".join(lines) + "\n"

"""The fixed menu of models an analysis may ask for, as a JSON spec.

    {"model": "summary", "group_by": ["cnlc_stage"], "measures": [{"stat": "count"},
        {"stat": "mean", "column": "los_days"}, {"stat": "quantile", "column": "los_days", "q": 0.5}],
     "filters": [{"column": "age_years", "op": ">=", "value": 50}]}
    {"model": "linear", "outcome": "total_cost_cny", "predictors": ["age_years", "sex"], "filters": [...]}
    {"model": "logistic", "outcome": "died", "predictors": ["age_years", "cnlc_stage"], "positive": true}
    {"model": "kaplan_meier", "time": "os_months", "event": "died", "group_by": "cnlc_stage",
     "times": [6, 12, 24, 36]}

A summary compiles to a query that goes through the same parser, column control list and output checks
as any query. The regressions and Kaplan-Meier read their records inside the zone and release only
coefficients or survival at the asked times, after the model checks (``checks.py``).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from data_products.analyses import checks as oc
from data_products.analyses.runner import Output, Stopped, fetch_model_frame
from data_products.analyses.sqlcheck import ROW_KEY, QueryRefused, ccl_allows, ccl_refusal
from data_products.specialty.dictionary import Dictionary

MODELS = ("summary", "linear", "logistic", "kaplan_meier")
STATS = {"count": "count(*)", "count_distinct": "count(DISTINCT {c})", "mean": "avg({c})", "sum": "sum({c})",
         "median": "median({c})", "quantile": "quantile_cont({c}, {q})", "sd": "stddev_samp({c})"}
OPS = ("=", "!=", "<", "<=", ">", ">=", "in")
MAX_PREDICTORS = 12
DEFAULT_TIMES = (6, 12, 24, 36)


def parse_spec(text: str | dict) -> dict:
    if isinstance(text, dict):
        return text
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as exc:
        raise QueryRefused("syntax", f"model spec is not JSON: line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    if not isinstance(spec, dict):
        raise QueryRefused("syntax", "model spec must be a JSON object")
    return spec


def _column(d: Dictionary, name, what: str, context: str) -> str:
    if not isinstance(name, str):
        raise QueryRefused("model", f"{what}: expected a column name")
    rules = d.ccl()
    if name not in rules:
        raise QueryRefused("column", f"{what}: column {name} is not in {d.view} (see the data dictionary)", name)
    if not ccl_allows(rules[name], context):
        raise ccl_refusal(name, rules[name], context)
    return name


def _filters(d: Dictionary, spec: dict, inline: bool = False) -> tuple[str, list, list[str]]:
    """WHERE text with ? placeholders (or, ``inline``, quoted literals), its parameters, and the filter
    columns (checked for 'filter' use)."""
    parts, params, cols = [], [], []
    for i, f in enumerate(spec.get("filters") or []):
        if not isinstance(f, dict) or f.get("op") not in OPS:
            raise QueryRefused("model", f"filters[{i}]: needs column, op (one of {', '.join(OPS)}) and value")
        c = _column(d, f.get("column"), f"filters[{i}]", "filter")
        value = f.get("value")
        if f["op"] == "in":
            if not isinstance(value, list) or not value or len(value) > 50:
                raise QueryRefused("model", f"filters[{i}]: 'in' takes a list of 1-50 values")
            parts.append(f'"{c}" IN ({", ".join(_literal(v) if inline else "?" for v in value)})')
            params.extend(value)
        else:
            if not isinstance(value, (str, int, float, bool)):
                raise QueryRefused("model", f"filters[{i}]: value must be text, a number or true/false")
            parts.append(f'"{c}" {f["op"]} {_literal(value) if inline else "?"}')
            params.append(value)
        cols.append(c)
    return " AND ".join(parts), params, cols


def _literal(v) -> str:
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, (int, float)):
        return repr(v)
    return "'" + str(v).replace("'", "''") + "'"


def summary_sql(d: Dictionary, spec: dict) -> str:
    """A summary spec as SQL text (checked like any query)."""
    groups = spec.get("group_by") or []
    if isinstance(groups, str):
        groups = [groups]
    for g in groups:
        _column(d, g, "group_by", "group")
    measures = spec.get("measures") or [{"stat": "count"}]
    sel = [f'"{g}"' for g in groups]
    for i, m in enumerate(measures):
        stat = m.get("stat") if isinstance(m, dict) else None
        if stat not in STATS:
            raise QueryRefused("model", f"measures[{i}]: stat must be one of {', '.join(STATS)}")
        c = None if stat == "count" else _column(d, m.get("column"), f"measures[{i}]", "aggregate")
        q = m.get("q", 0.5)
        if stat == "quantile" and not (isinstance(q, (int, float)) and 0 < q < 1):
            raise QueryRefused("model", f"measures[{i}]: q must be between 0 and 1")
        expr = STATS[stat].format(c=f'"{c}"' if c else "", q=q)
        sel.append(f'{expr} AS "{stat}{"_" + c if c else ""}{"_" + str(q) if stat == "quantile" else ""}"')
    where, _, _ = _filters(d, spec, inline=True)
    # Identifiers are dictionary names, values quoted literals; the text is parsed and checked again
    # by sqlcheck like any submitted query before it runs.
    sql = f'SELECT {", ".join(sel)} FROM {d.view}' + (f" WHERE {where}" if where else "")  # noqa: S608
    if groups:
        sql += " GROUP BY " + ", ".join(f'"{g}"' for g in groups) + " ORDER BY " + ", ".join(f'"{g}"' for g in groups)
    return sql


def validate(d: Dictionary, spec: dict) -> dict:
    """Check a model spec against the menu and the column control list; returns it normalised."""
    model = spec.get("model")
    if model not in MODELS:
        raise QueryRefused("model", f"model must be one of {', '.join(MODELS)}")
    _filters(d, spec)
    if model == "summary":
        summary_sql(d, spec)
        return spec
    if model in ("linear", "logistic"):
        _column(d, spec.get("outcome"), "outcome", "aggregate")
        preds = spec.get("predictors")
        if not isinstance(preds, list) or not preds or len(preds) > MAX_PREDICTORS:
            raise QueryRefused("model", f"predictors: a list of 1-{MAX_PREDICTORS} columns")
        for i, p in enumerate(preds):
            f = d.get(_column(d, p, f"predictors[{i}]", "aggregate"))
            if f.type in ("code", "bool"):
                # A categorical predictor's levels are shown as coefficient names: a grouping use.
                _column(d, p, f"predictors[{i}]", "group")
        return spec
    _column(d, spec.get("time"), "time", "aggregate")
    _column(d, spec.get("event"), "event", "aggregate")
    if spec.get("group_by") is not None:
        _column(d, spec.get("group_by"), "group_by", "group")
    times = spec.get("times", list(DEFAULT_TIMES))
    if not isinstance(times, list) or not times or len(times) > 20 or not all(isinstance(t, (int, float)) and t > 0
                                                                               for t in times):
        raise QueryRefused("model", "times: a list of 1-20 positive numbers")
    return spec


def _design(frame: pd.DataFrame, d: Dictionary, preds: list[str]) -> pd.DataFrame:
    parts = []
    for p in preds:
        f = d.get(p)
        col = frame[p]
        if f.type in ("code", "bool"):
            dummies = pd.get_dummies(col.astype(str), prefix=p, drop_first=True, dtype=float)
            parts.append(dummies)
        else:
            parts.append(pd.to_numeric(col, errors="coerce").astype(float).rename(p).to_frame())
    x = pd.concat(parts, axis=1)
    x.insert(0, "const", 1.0)
    return x


def run_model(con, d: Dictionary, spec: dict, threshold: int, limit_s: float | None = None) -> tuple[Output, oc.Report]:
    import statsmodels.api as sm

    model = spec["model"]
    where, params, _ = _filters(d, spec)
    report = oc.Report()
    if model in ("linear", "logistic"):
        preds = list(spec["predictors"])
        outcome = spec["outcome"]
        frame = fetch_model_frame(con, d.view, [outcome, *preds], where, params, limit_s).dropna()
        n = len(frame)
        if n < threshold:
            report.fail("threshold", f"the model would use {n} records (minimum {threshold})")
            return Output([], []), report
        x = _design(frame, d, preds)
        for col in x.columns[1:]:
            if set(np.unique(x[col])) <= {0.0, 1.0}:
                ones = int(x[col].sum())
                if not oc._count_ok(ones, threshold) or not oc._count_ok(n - ones, threshold):
                    report.fail("threshold", f"predictor level {col}: {min(ones, n - ones)} records (minimum {threshold})")
        y = frame[outcome]
        if model == "logistic":
            positive = spec.get("positive", True)
            y = (y.astype(str) == str(positive)) if not isinstance(positive, bool) else y.astype(bool)
            y = y.astype(float)
            pos = int(y.sum())
            if not oc._count_ok(pos, threshold) or not oc._count_ok(n - pos, threshold):
                report.fail("threshold", f"outcome classes of {pos} and {n - pos} records (minimum {threshold} each)")
        else:
            y = pd.to_numeric(y, errors="coerce").astype(float)
        df_resid = n - x.shape[1]
        min_df = max(oc.MIN_RESIDUAL_DF, 1)
        if df_resid < min_df:
            report.fail("residual_df", f"{df_resid} residual degrees of freedom (minimum {min_df})")
        else:
            report.ok("residual_df", f"{df_resid} residual degrees of freedom (minimum {min_df})")
        report.cells.append(oc.Cell("model records", frozenset(frame[ROW_KEY].tolist())))
        if not report.passed:
            return Output([], []), report
        try:
            fit = (sm.OLS(y, x).fit() if model == "linear" else sm.Logit(y, x).fit(disp=False, maxiter=100))
        except Exception as exc:  # singular design, perfect separation: the model cannot be estimated
            raise Stopped(f"the model could not be fitted: {str(exc)[:200]}") from None
        ci = fit.conf_int()
        rows = [[name, float(fit.params[name]), float(fit.bse[name]), float(ci.loc[name, 0]), float(ci.loc[name, 1]),
                 float(fit.pvalues[name])] for name in x.columns]
        cols = ["term", "estimate" if model == "linear" else "log_odds", "std_error", "ci_low", "ci_high", "p_value"]
        notes = {"n": n, "df_resid": int(df_resid),
                 ("r_squared" if model == "linear" else "pseudo_r_squared"):
                     round(float(fit.rsquared if model == "linear" else fit.prsquared), 6)}
        report.ok("threshold", f"{n} records; every predictor level and outcome class at least {threshold}")
        return Output(cols, [[_r(v) for v in r] for r in rows], "model", notes), report

    # Kaplan-Meier at the asked times.
    time_c, event_c, group = spec["time"], spec["event"], spec.get("group_by")
    cols = [time_c, event_c] + ([group] if group else [])
    frame = fetch_model_frame(con, d.view, cols, where, params, limit_s).dropna(subset=[time_c, event_c])
    times = sorted(float(t) for t in spec.get("times", DEFAULT_TIMES))
    out_rows = []
    groups = [(None, frame)] if not group else sorted(frame.groupby(frame[group].astype(str)), key=lambda g: g[0])
    for key, g in groups:
        label = "all" if key is None else f"{group}={key}"
        t = g[time_c].to_numpy(dtype=float)
        e = g[event_c].astype(bool).to_numpy()
        n = len(t)
        if n < threshold:
            report.fail("threshold", f"{label}: {n} records (minimum {threshold})")
            continue
        report.cells.append(oc.Cell(label, frozenset(g[ROW_KEY].tolist())))
        order = np.argsort(t, kind="stable")
        t, e = t[order], e[order]
        surv, s = [], 1.0
        event_times = np.unique(t[e])
        for et in event_times:
            at_risk = int((t >= et).sum())
            d_ = int(((t == et) & e).sum())
            s *= 1 - d_ / at_risk
            surv.append((et, s))
        for tt in times:
            at_risk = int((t > tt).sum())
            events = int(((t <= tt) & e).sum())
            s_t = next((v for et, v in reversed(surv) if et <= tt), 1.0)
            if not oc._count_ok(at_risk, threshold) or not oc._count_ok(events, threshold):
                report.fail("threshold", f"{label} at {tt:g}: {at_risk} at risk, {events} events (minimum {threshold})")
            out_rows.append([label, tt, _r(s_t), at_risk, events])
    if report.passed:
        report.ok("threshold", f"every group, number at risk and cumulative event count at least {threshold}")
    return Output(["group", "time", "survival", "at_risk", "cumulative_events"], out_rows, "kaplan_meier",
                  {"time": time_c, "event": event_c}), report


def _r(v):
    if isinstance(v, float):
        return None if math.isnan(v) else round(v, 6)
    return v

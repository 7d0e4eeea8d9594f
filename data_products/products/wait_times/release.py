"""Wait-time release: aggregate, protect, estimate, backtest; and the re-check at approval.

Released tables
---------------
``slot_cube``   visits and empirical p50/p90/mean wait for every margin of facility x department x
                weekday x hour (counts protected; statistics only where the count is released).
``doctors``     the same per pseudonymous doctor code (facility x department x doctor, with margins);
                views hand a hospital only its own facility's rows.
``visit_type``  the same per appointment / walk-in.
``estimates``   the published estimate per base slot: shrunk p50 and p90, the level it rests on, the
                slot's released visit count or its suppression flag.
``backtest``    accuracy on held-out later weeks per facility x department x slot-size band x day
                type (and margins): n_test (protected), median absolute error with the count of
                errors behind it (protected), P90 coverage and the share below the median, each
                beside the fair baseline (facility x department P50/P90 of the same training weeks).
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from data_products import disclosure
from data_products.disclosure import ALL, Link, Table
from data_products.products.base import Candidate
from data_products.products.wait_times import builder
from data_products.products.wait_times.spec import (  # noqa: F401 - PRODUCT_ID names the release
    BACKTEST_RULE,
    CV_FOLDS,
    K_GRID,
    LEVEL_NONE,
    PRODUCT_ID,
    QUANTILES,
    TEST_WEEKS,
    rule,
)

DIMS = {"slot_cube": builder.CUBE_DIMS, "doctors": builder.DOCTOR_DIMS, "visit_type": builder.TYPE_DIMS}
STATS = (*QUANTILES, "mean_wait")
BACKTEST_STATS = ("mae_p50", "within_p90", "below_p50", "mae_baseline", "within_baseline", "below_baseline")
# A facility-department's total sits in the cube and is the sum of its doctors' and of its visit types'
# counts: declared so no doctor's or type's count is had by subtraction across tables.
LINKS = (
    Link(total="slot_cube", component="doctors", on={"facility_id": "facility_id", "department": "department"},
         over=("doctor_code",)),
    Link(total="slot_cube", component="visit_type", on={"facility_id": "facility_id", "department": "department"},
         over=("visit_type",)),
)


def _declared(tables: dict[str, pd.DataFrame]) -> list[Table]:
    return [Table(name, tables[name], dims, ("visits",)) for name, dims in DIMS.items()]


def _backtest_declared(frame: pd.DataFrame) -> list[Table]:
    # The counts behind the median errors are released counts too (a release from before them has none).
    counts = tuple(c for c in builder.MAE_COUNTS.values() if c in frame.columns)
    return [Table("backtest", frame, builder.BACKTEST_DIMS, ("n_test", *counts))]


def count_tables(tables: dict[str, pd.DataFrame]) -> list[Table]:
    """The count tables this release protects, by name: what `approve` compares with earlier releases."""
    out = _declared(tables)
    if len(tables.get("backtest", ())):
        out += _backtest_declared(tables["backtest"])
    return out


def _mask(frame: pd.DataFrame, count: str, stats: tuple[str, ...]) -> pd.DataFrame:
    hidden = frame[count].isna()
    for col in stats:
        frame[col] = frame[col].astype(float).where(~hidden, np.nan)
    return frame


def _protect(raw: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    from data_products.config import min_cell

    protected = disclosure.protect_tables(_declared(raw), LINKS)
    return {name: builder.quantile_rule(_mask(frame, "visits", STATS), min_cell()) for name, frame in protected.items()}


def _protect_backtest(bt: pd.DataFrame, counts: pd.DataFrame | None, k: int) -> pd.DataFrame:
    """The backtest with the count of errors behind each median absolute error, protected as counts: a
    median is released only where its count is, and from enough errors (the quantile rule). A count that
    differs from ``n_test`` by 1..k-1 is hidden (the difference would count a few visits)."""
    dims = list(builder.BACKTEST_DIMS)
    if counts is None:
        counts = bt[dims].assign(**{c: 0 for c in builder.MAE_COUNTS.values()})
        bt = bt.assign(**{m: np.nan for m in builder.MAE_COUNTS})
    bt = bt.merge(counts, on=dims, how="left", validate="one_to_one")
    forced = {}
    for col in builder.MAE_COUNTS.values():
        bt[col] = bt[col].fillna(0).astype(np.int64)
        gap = bt["n_test"].to_numpy(dtype=np.int64) - bt[col].to_numpy(dtype=np.int64)
        forced[col] = (gap >= 1) & (gap < k)
    bt = disclosure.protect_tables(_backtest_declared(bt), forced={"backtest": forced})["backtest"]
    bt = _mask(bt, "n_test", BACKTEST_STATS)
    for mae, col in builder.MAE_COUNTS.items():
        n = pd.to_numeric(bt[col], errors="coerce").to_numpy(dtype=float)
        bt[mae] = bt[mae].astype(float).where(disclosure.quantile_ok_many(0.5, n, k))
    return bt


def _with_counts(est: pd.DataFrame, cube: pd.DataFrame) -> pd.DataFrame:
    counts = cube[["facility_id", "department", "weekday", "hour", "visits", "visits_flag"]]
    return est.merge(counts, on=list(builder.CUBE_DIMS), how="left")


def build(con: duckdb.DuckDBPyConnection, agg=builder):
    """The candidate release. ``agg`` is the engine that reads the records: ``builder`` (DuckDB, ``con`` a
    connection to the restricted store) or ``spark`` (``con`` the histograms Spark counted); everything
    after, protection included, is the same code."""
    from data_products.config import min_cell

    span = agg.split(con)
    # K from the training weeks alone (before the backtest's cut-off), so the backtest stays honest;
    # the published estimates use the same K.
    k_until = builder.k_until(span)
    # One pass over the visits, split at every date the build cuts at; all tables come from it.
    aggregate = agg.Aggregate(con, builder.cuts(span))
    k, losses = agg.choose_k(con, k_until, min_cell(), aggregate)
    tables = _protect(aggregate.tables(shared=True))
    cube = tables["slot_cube"]
    estimates = _with_counts(builder.estimates(cube, cube["visits"].notna(), k), cube)
    if span["cutoff"] is not None:
        bt, bt_est = agg.backtest(con, span["cutoff"],
                                  lambda raw: _protect(raw)["slot_cube"]["visits"].notna(), k, min_cell(), aggregate)
        bt = _protect_backtest(bt, builder.error_counts(aggregate, span["cutoff"], bt_est), min_cell())
    else:
        counts = [c for col in builder.MAE_COUNTS.values() for c in (col, col + disclosure.FLAG_SUFFIX)]
        bt = pd.DataFrame(columns=[*builder.BACKTEST_DIMS, "n_test", "n_test_flag", *BACKTEST_STATS, *counts])
    meta = {
        "source": "outpatient_visits (restricted zone): wait = consultation start - check-in, minutes",
        "lineage": agg.lineage(con),
        "time_span": [str(span["first_day"]), str(span["last_day"])],
        "backtest_split": {"train_until": str(span["cutoff"]) if span["cutoff"] else None, "test_weeks": TEST_WEEKS},
        "estimate_rule": rule(k),
        "backtest_rule": BACKTEST_RULE,
        "shrink_k": k,
        "k_selection": {
            "grid": list(K_GRID), "folds": int(losses.attrs.get("folds", 0)), "validation_visits": int(losses.attrs.get("n", 0)),
            "train_until": str(k_until), "fold_weeks": 1, "max_folds": CV_FOLDS,
            "mean_pinball_loss": {str(int(r.k)): round(float(r.loss), 6) for r in losses.itertuples()},
        },
        "quantiles": dict(QUANTILES),
        "quantile_positions": disclosure.QUANTILE_POSITIONS,
        "quantile_ties": disclosure.QUANTILE_TIES,
        "suppression_rule": (
            "No visit count from 1 to min_cell-1 is shown (primary); further cells are hidden so that no hidden "
            "cell can be recovered from totals, margins, doctors or visit types (secondary). Quantiles and means "
            "are shown only where their count is released. A P50 or P90 (and a backtest's median absolute error) is "
            "read at the position q(n-1) moved by half a step, so it blends two waits with non-zero weights and is "
            "never one visit's wait, and only where at least min_cell waits lie below and above the two it blends "
            "(P50 from 22 visits, P90 from 102 at min_cell 10), so no single wait is pinned; a slot without its own "
            "statistic takes its estimate from the coarser level."
        ),
    }
    return Candidate(PRODUCT_ID, {**tables, "estimates": estimates, "backtest": bt}, meta)


def check(tables: dict[str, pd.DataFrame], meta: dict) -> list[str]:
    k = meta.get("min_cell")
    problems = disclosure.check_tables(_declared(tables), LINKS, min_cell=k)
    if len(tables["backtest"]):
        problems += disclosure.check_tables(_backtest_declared(tables["backtest"]), min_cell=k)
    for name in DIMS:
        frame = tables[name]
        leaked = frame["visits"].isna() & frame[list(STATS)].notna().any(axis=1)
        problems += [f"[{name} row {i}] statistics released for a suppressed cell" for i in frame.index[leaked]]
        n = pd.to_numeric(frame["visits"], errors="coerce").to_numpy(dtype=float)
        for q, level in QUANTILES.items():
            pinned = frame[q].notna().to_numpy() & ~disclosure.quantile_ok_many(level, n, k)
            problems += [f"[{name} row {i}] {q} released from too few waits (quantile rule)"
                         for i in frame.index[pinned]]
    if meta.get("quantile_ties") != disclosure.QUANTILE_TIES:
        # Which waits the quantiles meet is known only to the build: a release states the rule it applied.
        problems.append("wait quantiles not released under the disclosure rule for ties "
                        f"(metadata says {meta.get('quantile_ties')!r})")
    for name in DIMS:
        internal = [c for c in tables[name].columns if c in builder.SHARED]
        if internal:
            problems.append(f"[{name}] build-only columns released: {internal}")
    if meta.get("quantile_positions") != disclosure.QUANTILE_POSITIONS:
        # The positions cannot be re-derived from the tables: a release states the rule it was built with.
        problems.append("quantiles not built at the disclosure rule's shifted positions "
                        f"(metadata says {meta.get('quantile_positions')!r})")
    bt = tables["backtest"]
    if len(bt):
        leaked = bt["n_test"].isna() & bt[list(BACKTEST_STATS)].notna().any(axis=1)
        problems += [f"[backtest row {i}] scores released for a suppressed count" for i in bt.index[leaked]]
        n_test = pd.to_numeric(bt["n_test"], errors="coerce").to_numpy(dtype=float)
        for col, n_col in builder.MAE_COUNTS.items():
            pinned = bt[col].notna().to_numpy() & ~disclosure.quantile_ok_many(0.5, n_test, k)
            problems += [f"[backtest row {i}] {col} released from too few visits (quantile rule)"
                         for i in bt.index[pinned]]
            # The median blends the errors it has, which may be fewer than the visits: the rule holds
            # for the count of errors, released beside it.
            if n_col not in bt.columns:
                problems.append(f"backtest: {col} released without the count of errors behind it ({n_col})")
                continue
            n_err = pd.to_numeric(bt[n_col], errors="coerce").to_numpy(dtype=float)
            few = bt[col].notna().to_numpy() & ~disclosure.quantile_ok_many(0.5, n_err, k)
            problems += [f"[backtest row {i}] {col} released from too few errors ({n_col}, quantile rule)"
                         for i in bt.index[few]]
            with np.errstate(invalid="ignore"):
                gap = n_test - n_err
            odd = (gap < 0) | ((gap >= 1) & (gap < k))
            problems += [f"[backtest row {i}] {n_col} differs from n_test by {g:g} (more errors than "
                         f"visits, or a difference of 1 to {k - 1})" for i, g in zip(bt.index[odd], gap[odd],
                                                                                      strict=True)]
    est, cube = tables["estimates"], tables["slot_cube"]
    merged = est[[*builder.CUBE_DIMS, "visits"]].merge(
        cube[[*builder.CUBE_DIMS, "visits"]], on=list(builder.CUBE_DIMS), how="left", suffixes=("", "_cube"))
    differs = merged["visits"].notna() & (merged["visits_cube"].isna() | (merged["visits"] != merged["visits_cube"]))
    problems += [f"[estimates row {i}] visit count differs from the protected cube" for i in merged.index[differs]]
    real = (cube[list(builder.CUBE_DIMS)] != ALL).all(axis=1)
    fd = cube[(cube["facility_id"] != ALL) & (cube["department"] != ALL) & (cube["weekday"] == ALL) & (cube["hour"] == ALL)]
    hidden_fd = set(zip(fd.loc[fd["visits"].isna(), "facility_id"], fd.loc[fd["visits"].isna(), "department"], strict=True))
    rests = est["level"] != LEVEL_NONE
    bad = [i for i, f, d in zip(est.index, est["facility_id"], est["department"], strict=True)
           if rests[i] and (f, d) in hidden_fd]
    problems += [f"[estimates row {i}] estimate rests on a suppressed facility-department count" for i in bad]
    slot_stat = est[list(builder.CUBE_DIMS)].merge(cube[[*builder.CUBE_DIMS, "p50"]], on=list(builder.CUBE_DIMS),
                                                   how="left")["p50"]
    uses = (pd.to_numeric(est["weight_slot"], errors="coerce").fillna(0) > 0).to_numpy() & slot_stat.isna().to_numpy()
    problems += [f"[estimates row {i}] estimate uses a slot P50 the quantile rule withholds" for i in est.index[uses]]
    if int(real.sum()) != len(est):
        problems.append(f"estimates has {len(est)} rows, the cube {int(real.sum())} base slots")
    return problems

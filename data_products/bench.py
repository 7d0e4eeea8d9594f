"""`dataspace bench`: speed and memory figures, each beside a baseline run side by side.

    dataspace bench pipeline                 pneumonia: DuckDB builder vs a plain pandas implementation
    dataspace bench pipeline --kind visits [--scale demo|N|city]
                                             the CLI's own generate -> ingest -> process, the builder beside
                                             expert pandas, Polars and the bare-DuckDB floor (bench_visits.py)
    dataspace bench gate                     gate decision time, audit appends/s, verify on 1M entries
    dataspace bench atlas                    the pneumonia page: server-side render cold and warm, map payload
    dataspace bench browser                  every product page in Chromium: click to main chart drawn, cold
                                             and warm, against issue 15's targets (bench_browser.py)

Each measured path runs in its own process so that its peak memory (max RSS) is its own.
Figures go to stdout; nothing here is a test (these machines are shared and noisy).
"""

from __future__ import annotations

import itertools
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from data_products.bench_child import isolated, peak_mb
from data_products.contracts.pneumonia import PATHOGENS, age_band

PNEUMONIA_SIZES = (30_000, 300_000, 3_000_000)
PANDAS_MAX = 3_000_000



def synthetic_episodes(n: int, seed: int = 1, recorded: bool = True) -> pd.DataFrame:
    """Restricted-zone-shaped episodes, drawn fast in bulk (the generator's realism is not the point here).
    ``recorded``: markers at the decimals laboratories record them with, as the builder expects."""
    rng = np.random.default_rng(seed)
    from data_products.reference import districts, facilities

    fac = facilities()
    fac = fac[fac["departments"].str.contains("pediatric")]
    months = pd.date_range("2023-01-01", "2024-12-31", freq="D")
    res = {
        "pseudonym": np.char.add("p", rng.integers(0, 10**12, n).astype(str)),
        "facility_id": rng.choice(fac["facility_id"].to_numpy(), n),
        "district": rng.choice(districts()["adcode"].to_numpy(), n),
        "age_years": rng.choice(14, n, p=np.r_[0.21, [0.59 / 5] * 5, [0.20 / 8] * 8]).astype("int32"),
        "sex": rng.choice(["M", "F"], n),
        "admission_date": rng.choice(months.to_numpy(), n),
        "crp_mg_l": rng.lognormal(2.5, 1.0, n),
        "pct_ng_ml": rng.lognormal(-1.5, 1.5, n),
        "wbc_10e9_l": rng.lognormal(2.5, 0.3, n),
        "neut_pct": rng.normal(60, 12, n).clip(5, 98),
        "il6_pg_ml": rng.lognormal(2.5, 1.0, n),
        "transfer_id": "bench",
    }
    # Laboratories record each marker at fixed decimals: so do these (the builder reads them on that grid).
    from data_products.products.pneumonia.spec import DECIMALS

    for m, d in DECIMALS.items():
        if recorded:
            res[m] = np.round(res[m], d)
    res["age_band"] = age_band(res["age_years"])
    for p in PATHOGENS:
        res[p] = rng.choice(np.array(["POS", "NEG", None], dtype=object), n, p=[0.2, 0.65, 0.15])
    # Months of age are kept under 2 years, as in the restricted store (age-specific WBC limits).
    months_of_age = res["age_years"] * 12 + rng.integers(0, 12, n)
    res["age_months"] = pd.array(np.where(res["age_years"] < 2, months_of_age, 0), dtype="Int32")
    res["age_months"][res["age_years"] >= 2] = pd.NA
    return pd.DataFrame(res)


def _duckdb_path(n: int, workdir: str) -> dict:
    import duckdb

    from data_products.products.pneumonia import builder

    frame = synthetic_episodes(n)
    db = Path(workdir) / f"bench-{n}.duckdb"
    con = duckdb.connect(str(db))
    t0 = time.perf_counter()
    con.register("frame", frame)
    con.execute("CREATE OR REPLACE TABLE pneumonia_episodes AS SELECT * FROM frame")
    con.unregister("frame")
    load = time.perf_counter() - t0
    del frame
    t1 = time.perf_counter()
    tables = builder.raw_tables(con)
    agg = time.perf_counter() - t1
    con.close()
    db.unlink(missing_ok=True)
    return {"load_s": load, "aggregate_s": agg, "cells": len(tables["district_cube"]), "peak_mb": peak_mb()}


def pandas_cube(frame: pd.DataFrame, released_quantiles: bool = False) -> pd.DataFrame:
    """The same district x month x age band x sex cube with every margin, in plain pandas.

    ``released_quantiles`` applies the release rule (:func:`data_products.disclosure.safe_quantile`)
    as the builder does; the benchmark times plain pandas quantiles."""
    from data_products.config import min_cell
    from data_products.disclosure import safe_quantile
    from data_products.products.pneumonia.spec import CUTOFFS, DECIMALS, MARKERS, PATHOGENS, QUANTILES

    f = frame.copy()
    f["month"] = pd.to_datetime(f["admission_date"]).dt.strftime("%Y-%m")
    f["cases"] = 1
    counts = ["cases"]
    for p in PATHOGENS:
        f[f"{p}_pos"] = (f[p] == "POS").astype(int)
        f[f"{p}_neg"] = (f[p] == "NEG").astype(int)
        counts += [f"{p}_pos", f"{p}_neg"]
    for c in CUTOFFS:
        limit = c.value
        if c.by_age:
            age_m = f["age_months"].astype("Float64").fillna(f["age_years"] * 12).to_numpy(dtype=float)
            limit = np.select([age_m >= m for m, _ in reversed(c.by_age)], [v for _, v in reversed(c.by_age)])
        above = f[c.marker] > limit if c.op == ">" else f[c.marker] >= limit
        f[f"{c.id}_above"] = (above & f[c.marker].notna()).astype(int)
        f[f"{c.id}_below"] = (~above & f[c.marker].notna()).astype(int)
        counts += [f"{c.id}_above", f"{c.id}_below"]
    dims = ["district", "month", "age_band", "sex"]
    parts = []
    for r in range(len(dims) + 1):
        for keep in itertools.combinations(dims, r):
            g = f.groupby(list(keep)) if keep else f.assign(_all=0).groupby("_all")
            summed = g[counts].sum()
            if released_quantiles:
                qs = [g[m].apply(lambda x, v=v, m=m: safe_quantile(x.to_numpy(dtype=float), v, min_cell(), DECIMALS[m]))
                      .rename(f"{m}_{q}") for m in MARKERS for q, v in QUANTILES.items()]
            else:
                qs = [g[m].quantile(v).rename(f"{m}_{q}") for m in MARKERS for q, v in QUANTILES.items()]
            block = pd.concat([summed, *qs], axis=1).reset_index()
            for d in dims:
                if d not in keep:
                    block[d] = "ALL"
            parts.append(block.drop(columns=["_all"], errors="ignore"))
    return pd.concat(parts, ignore_index=True)


def _pandas_path(n: int, workdir: str) -> dict:
    frame = synthetic_episodes(n)
    t1 = time.perf_counter()
    cube = pandas_cube(frame)
    return {"aggregate_s": time.perf_counter() - t1, "cells": len(cube), "peak_mb": peak_mb()}


def bench_pneumonia_pipeline(sizes=PNEUMONIA_SIZES, log=print) -> list[dict]:
    log("pneumonia pipeline: the builder (one pass into per-cell histograms) vs plain pandas, each in its own process")
    log(f"{'rows':>10} {'duckdb s':>9} {'rows/s':>12} {'peak MB':>8} | {'pandas s':>9} {'rows/s':>12} {'peak MB':>8} | ratio")
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for n in sizes:
            d = isolated(_duckdb_path, n, work)
            p = isolated(_pandas_path, n, work) if n <= PANDAS_MAX else {}
            ratio = p.get("aggregate_s", float("nan")) / d["aggregate_s"] if "aggregate_s" in d else float("nan")
            rows.append({"rows": n, "duckdb": d, "pandas": p, "ratio": ratio})
            log(f"{n:>10,} {d.get('aggregate_s', float('nan')):>9.2f} {n / d.get('aggregate_s', float('nan')):>12,.0f} "
                f"{d.get('peak_mb', 0):>8.0f} | {p.get('aggregate_s', float('nan')):>9.2f} "
                f"{n / p.get('aggregate_s', float('nan')):>12,.0f} {p.get('peak_mb', 0):>8.0f} | {ratio:>5.1f}x")
    log("target: DuckDB at least 10x pandas at the largest size both run")
    return rows


def bench_atlas(repeats: int = 5, log=print) -> dict:
    """Server-side render of the pneumonia page (AppTest, signed in as the demo official): cold = the first
    run in a fresh process (release load included), warm = later runs; plus the map's JSON payload."""
    from data_products.config import paths

    if not (paths().approved / "pneumonia_atlas" / "CURRENT").exists():
        log(f"no approved pneumonia release under {paths().home}: run `dataspace build --demo` first")
        return {}
    cold = [isolated(_render_once, 1)["seconds"][0] for _ in range(3)]
    warm = isolated(_render_once, repeats + 1)
    payload = warm["payload_bytes"]
    w = warm["seconds"][1:]
    result = {"cold_s_median": statistics.median(cold), "warm_s_median": statistics.median(w), "map_payload_kb": payload / 1024}
    log("pneumonia atlas page (server side, AppTest):")
    log(f"  cold render: median {result['cold_s_median'] * 1000:,.0f} ms over {len(cold)} fresh processes   (target < 2,000 ms)")
    log(f"  warm render: median {result['warm_s_median'] * 1000:,.0f} ms over {len(w)} reruns            (target < 300 ms)")
    log(f"  map payload: {result['map_payload_kb']:,.0f} KB of figure JSON                             (target < 300 KB)")
    return result


def _render_once(n: int) -> dict:
    from streamlit.testing.v1 import AppTest

    from data_products.governance import demo_passwords, sign_in

    app = str(Path(__file__).resolve().parents[1] / "dashboards" / "app.py")
    principal = sign_in("official", demo_passwords()["official"]).principal
    at = AppTest.from_file(app, default_timeout=120)
    at.session_state["principal"] = principal
    at.run()
    at.switch_page("views/pneumonia.py")
    seconds = []
    for _ in range(n):
        t0 = time.perf_counter()
        at.run()
        seconds.append(time.perf_counter() - t0)
    specs = [c.proto.spec for c in at.get("plotly_chart")]
    return {"seconds": seconds, "payload_bytes": len(specs[0].encode()) if specs else 0}


def run(what: str, *, kind: str = "pneumonia", scale: str = "demo") -> int:
    if what in ("pipeline", "all"):
        if kind == "visits":
            from data_products import bench_visits

            result = bench_visits.run(scale, log=print)
            if "error" in str(result) or any(result.get("problems", {}).values()):
                return 1
        else:
            bench_pneumonia_pipeline()
    if what in ("gate", "all"):
        from data_products.governance.bench import bench_gate

        bench_gate()
    if what in ("atlas", "all"):
        bench_atlas()
    if what == "browser":  # needs Chromium and an approved demo build: not part of "all"
        from data_products import bench_browser

        return bench_browser.run(print)
    return 0


if __name__ == "__main__":  # pragma: no cover
    import sys

    raise SystemExit(run(sys.argv[1] if len(sys.argv) > 1 else "all"))

"""City-scale benchmark of the visits pipeline: generate -> ingest -> process, DuckDB beside pandas.

    from data_products.products.wait_times.bench import bench_pipeline
    bench_pipeline(sizes=(1_000_000, 5_000_000, 20_000_000))      # a ladder
    bench_pipeline(scale="city")                                    # 187 million visits, 2024

Each stage of each size runs in its own child process, so its peak memory (``ru_maxrss`` of that
process) is its own. Stages:

* generate - the CLI's own ``dataspace generate --kind visits --rows N`` (``hospital.generate``):
  the identified CSV extracts, one per facility and year.
* ingest - the CLI's own ``dataspace ingest`` (``restricted.ingest``): every check and the keyed
  pseudonyms in DuckDB, one transaction per file.
* process - the product builder's own SQL (``builder.raw_tables``: three cubes with exact
  quantiles, read off per-second histograms) on a DuckDB limited to ``memory_limit``.
* pandas - the same slot-cube aggregation (16 grouping sets: count, p50, p90, mean) in plain pandas,
  from the same Parquet, at sizes up to ``pandas_max``; beside it the DuckDB time for the slot cube
  alone, so the ratio compares like with like.
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
import resource
import shutil
import tempfile
import time
from pathlib import Path

import pandas as pd

CITY = 187_000_000
DEFAULT_LADDER = (1_000_000, 5_000_000, 20_000_000)
_CUBE_DIMS = ("facility_id", "department", "weekday", "hour")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


# --- stages (run in child processes) ---------------------------------------------------------


def _generate(n: int, home: Path, seed: int) -> dict:
    """The CLI's own generator (``dataspace generate --kind visits --rows N``)."""
    from data_products.config import paths
    from data_products.hospital import generate

    report = generate(paths(home), seed=seed, kinds=["visits"], rows=n)
    return {"rows": report.rows["visits"]}


def _ingest(home: Path, memory_limit: str) -> dict:
    """The CLI's own ingest (``dataspace ingest``): checks, pseudonyms and the restricted table in DuckDB."""
    from data_products.config import paths
    from data_products.restricted import ingest

    report = ingest(paths(home), memory_limit=memory_limit)
    if report.rejected:
        raise RuntimeError(report.summary())
    return {"rows": sum(o.rows for o in report.accepted)}


def _process(db: Path, threads: int, memory_limit: str, tmp: Path, only_slot_cube: bool = False) -> dict:
    import duckdb

    from data_products.products.wait_times import builder

    con = duckdb.connect(str(db), read_only=True)
    con.execute(f"SET threads = {int(threads)}")
    con.execute("SET enable_progress_bar = false")
    con.execute("SET memory_limit = ?", [memory_limit])
    con.execute("SET temp_directory = ?", [str(tmp)])
    if only_slot_cube:
        cells = len(builder.cube(con, builder.CUBE_DIMS))
    else:
        cells = sum(len(f) for f in builder.raw_tables(con).values())
    rows = con.execute("SELECT count(*) FROM outpatient_visits").fetchall()[0][0]
    con.close()
    return {"rows": int(rows), "cells": cells}


def pandas_slot_cube(frame: pd.DataFrame) -> pd.DataFrame:
    """The builder's slot cube in plain pandas: every subset of the four dimensions."""
    parts = []
    for size in range(len(_CUBE_DIMS), -1, -1):
        for kept in itertools.combinations(_CUBE_DIMS, size):
            g = frame.groupby(list(kept), observed=True)["wait_min"] if kept else frame.groupby(lambda _: 0)["wait_min"]
            part = g.agg(visits="size", p50=lambda s: s.quantile(0.5), p90=lambda s: s.quantile(0.9),
                         mean_wait="mean").reset_index()
            for d in _CUBE_DIMS:
                if d not in kept:
                    part[d] = "ALL"
            parts.append(part[[*_CUBE_DIMS, "visits", "p50", "p90", "mean_wait"]])
    return pd.concat(parts, ignore_index=True)


def _pandas(db: Path) -> dict:
    import tracemalloc

    import duckdb

    t0 = time.perf_counter()
    con = duckdb.connect(str(db), read_only=True)
    raw = con.execute("SELECT facility_id, department, weekday, hour, wait_min FROM outpatient_visits").df()
    con.close()
    frame = pd.DataFrame({
        "facility_id": raw["facility_id"].astype(str), "department": raw["department"].astype(str),
        "weekday": raw["weekday"].astype(str), "hour": raw["hour"].map("{:02d}".format), "wait_min": raw["wait_min"],
    })
    del raw
    load_s = time.perf_counter() - t0
    tracemalloc.start()
    t1 = time.perf_counter()
    cells = len(pandas_slot_cube(frame))
    agg_s = time.perf_counter() - t1
    _, traced = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"rows": len(frame), "cells": cells, "load_s": load_s, "agg_s": agg_s, "traced_peak_mb": traced / 2**20}


def _child(fn, args, q) -> None:
    t0 = time.perf_counter()
    try:
        out = fn(*args)
        out.update(seconds=time.perf_counter() - t0, peak_mb=_peak_mb() + out.pop("children_peak_mb", 0.0))
    except Exception as exc:  # reported, not raised: a failed rung ends the ladder, not the run
        out = {"error": f"{type(exc).__name__}: {exc}", "seconds": time.perf_counter() - t0, "peak_mb": _peak_mb()}
    q.put(out)


def _run(fn, *args) -> dict:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(fn, args, q))
    p.start()
    out = q.get()
    p.join()
    return out


# --- the ladder ------------------------------------------------------------------------------


def bench_pipeline(kind: str = "visits", scale: str = "ladder", sizes: tuple[int, ...] | None = None, *,
                   pandas_max: int = 20_000_000, threads: int = 2, memory_limit: str = "6GB", seed: int = 7,
                   workdir: Path | None = None, log=print) -> list[dict]:
    """Run the ladder; prints one line per stage and returns the measurements (one dict per size).

    ``scale='city'`` runs the city year (187 million visits) only; ``sizes`` overrides the ladder.
    """
    if kind != "visits":
        raise ValueError(f"bench_pipeline covers the visits kind only, not {kind!r}")
    sizes = tuple(sizes or ((CITY,) if scale == "city" else DEFAULT_LADDER))
    base = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="wt-bench-"))
    results = []
    for n in sizes:
        d = base / f"n{n}"
        shutil.rmtree(d, ignore_errors=True)
        (d / "tmp").mkdir(parents=True)
        r: dict = {"n": n}
        r["generate"] = _run(_generate, n, d, seed)
        if "error" not in r["generate"]:
            r["ingest"] = _run(_ingest, d, memory_limit)
        if "error" not in r.get("ingest", {"error": 1}):
            r["process"] = _run(_process, d / "restricted.duckdb", threads, memory_limit, d / "tmp")
            r["duckdb_slot_cube"] = _run(_process, d / "restricted.duckdb", threads, memory_limit, d / "tmp", True)
            if n <= pandas_max:
                r["pandas_slot_cube"] = _run(_pandas, d / "restricted.duckdb")
        if r.get("pandas_slot_cube", {}).get("agg_s") and "seconds" in r.get("duckdb_slot_cube", {}):
            r["speedup_vs_pandas"] = r["pandas_slot_cube"]["agg_s"] / r["duckdb_slot_cube"]["seconds"]
        results.append(r)
        _print(r, log)
        shutil.rmtree(d, ignore_errors=True)
        if any("error" in v for v in r.values() if isinstance(v, dict)):
            log("stopping the ladder after an error")
            break
    return results


def _print(r: dict, log) -> None:
    n = r["n"]
    total = 0.0
    for stage in ("generate", "ingest", "process", "duckdb_slot_cube", "pandas_slot_cube"):
        s = r.get(stage)
        if not s:
            continue
        if "error" in s:
            log(f"{n:>12,} {stage:<17} ERROR {s['error']} after {s['seconds']:.1f} s (peak {s['peak_mb']:,.0f} MB)")
            continue
        secs = s["agg_s"] if stage == "pandas_slot_cube" else s["seconds"]
        if stage in ("generate", "ingest", "process"):
            total += s["seconds"]
        extra = f" (+{s['load_s']:.1f} s load, traced {s['traced_peak_mb']:,.0f} MB)" if stage == "pandas_slot_cube" else ""
        log(f"{n:>12,} {stage:<17} {secs:8.1f} s  {n / secs:>12,.0f} rows/s  peak {s['peak_mb']:>8,.0f} MB{extra}")
    if "speedup_vs_pandas" in r:
        log(f"{n:>12,} duckdb vs pandas  {r['speedup_vs_pandas']:.1f}x on the slot cube")
    log(f"{n:>12,} generate+ingest+process {total:.1f} s")


def bench_cli(sizes: list[int] | None = None, scale: str = "ladder", pandas_max: int = 20_000_000,
              memory_limit: str = "6GB") -> int:
    """`dataspace bench wait-times [--sizes N ...] [--scale city]`."""
    results = bench_pipeline(scale=scale, sizes=tuple(sizes) if sizes else None, pandas_max=pandas_max,
                             memory_limit=memory_limit)
    return 1 if any("error" in v for r in results for v in r.values() if isinstance(v, dict)) else 0


if __name__ == "__main__":
    import sys

    bench_pipeline(sizes=tuple(int(x) for x in sys.argv[1:]) or None)

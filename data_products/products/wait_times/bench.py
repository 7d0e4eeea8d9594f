"""City-scale benchmark of the visits pipeline: generate -> ingest -> process, DuckDB beside pandas.

    from data_products.products.wait_times.bench import bench_pipeline
    bench_pipeline(sizes=(1_000_000, 5_000_000, 20_000_000))      # a ladder
    bench_pipeline(scale="city")                                    # 187 million visits, 2024

Each stage of each size runs in its own child process, so its peak memory (``ru_maxrss`` of that
process) is its own. Stages:

* generate - the visits kind's own model (``Visits.week_arrays``), one facility-week at a time,
  streamed to Parquet, one file per facility per month (visit ids as integers). Facilities are
  shared between two worker processes (balanced by volume); patient identifiers are gathered from
  the pool as fixed-width bytes; Parquet dictionaries only on the low-cardinality columns.
* ingest - DuckDB over the Parquet files: the ingest spec's row checks as SQL (call before check-in,
  out of order, negative duration, future) reported as counts, keyed HMAC-SHA256 pseudonyms computed
  in SQL (the same digest as ``hmac.digest``): once per distinct patient and per distinct doctor and
  joined back, per row only for the visit key; the restricted table written in one transaction.
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

import numpy as np
import pandas as pd

CITY = 187_000_000
DEFAULT_LADDER = (1_000_000, 5_000_000, 20_000_000)
_CUBE_DIMS = ("facility_id", "department", "weekday", "hour")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


# --- stages (run in child processes) ---------------------------------------------------------


def _generate(n: int, out: Path, seed: int, workers: int = 2) -> dict:
    """Facilities split between ``workers`` processes; each facility's files come from one of them."""
    if workers <= 1:
        return _generate_part(n, out, seed, 0, 1)
    ctx = mp.get_context("spawn")
    with ctx.Pool(workers) as pool:
        parts = pool.starmap(_generate_part, [(n, out, seed, k, workers) for k in range(workers)])
    # The workers run at once, so their peaks add up.
    return {"rows": sum(p["rows"] for p in parts), "workers": workers,
            "children_peak_mb": sum(p["peak_mb"] for p in parts)}


def _balance(volumes: np.ndarray, parts: int) -> np.ndarray:
    """Part of each facility: largest first to the least loaded part, so the workers finish together."""
    load = np.zeros(parts)
    part = np.empty(len(volumes), dtype=int)
    for fi in np.argsort(-volumes, kind="stable"):
        part[fi] = int(np.argmin(load))
        load[part[fi]] += volumes[fi]
    return part


# Parquet's own dictionary only where values repeat: on identifiers it costs time and saves nothing.
_DICT_COLUMNS = ["facility_id", "department", "doctor_id", "visit_type"]


class _StringPool:
    """Strings gathered by index as fixed-width bytes (numpy), then unpadded into an Arrow string array:
    several times faster than ``pa.Array.take`` on a pool of millions of random strings."""

    def __init__(self, values: np.ndarray) -> None:
        encoded = np.char.encode(values.astype(str), "utf-8")
        self.width = max(1, encoded.dtype.itemsize)
        self.padded = encoded.astype(f"S{self.width}")
        self.lengths = np.char.str_len(encoded).astype(np.int32)

    def take(self, who: np.ndarray):
        import pyarrow as pa

        lens = self.lengths[who]
        raw = self.padded[who].view(np.uint8).reshape(len(who), self.width)
        data = raw[np.arange(self.width) < lens[:, None]] if lens.min() < self.width else raw.ravel()
        offsets = np.zeros(len(who) + 1, dtype=np.int32)
        np.cumsum(lens, out=offsets[1:])
        return pa.StringArray.from_buffers(len(who), pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(data)))


def _generate_part(n: int, out: Path, seed: int, part: int, parts: int) -> dict:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from data_products.hospital.visits import TIER_VOLUME, VISITS, _largest_remainder, span

    start, weeks = span(n)
    net = VISITS.network(n)
    vol = net["tier"].map(TIER_VOLUME).to_numpy() * net["outpatient"].map(len).to_numpy()
    per_fac = _largest_remainder(n * vol / vol.sum())
    owner = _balance(per_fac.astype(float), parts)
    mine = [(int(fi), row) for fi, row in net.iterrows() if owner[int(fi)] == part]
    plans = {fi: VISITS.facility_plan(seed, fi, row) for fi, row in mine}
    pool = VISITS._pool(seed, n)
    dicts = {k: _StringPool(v) for k, v in pool.items()}
    writers: dict[tuple[str, str], pq.ParquetWriter] = {}
    rows = 0
    for w in range(weeks):
        monday = start + pd.Timedelta(weeks=w)
        for fi, row in mine:
            count = int(per_fac[fi] // weeks + (1 if w < per_fac[fi] % weeks else 0))
            if count == 0:
                continue
            rng = np.random.default_rng([seed, 3, w, int(fi)])
            a = VISITS.week_arrays(rng, row, plans[fi], monday, count, len(pool["id_card"]))
            who = a["who"]
            month = a["reg"].astype("datetime64[M]")
            table = pa.table({
                "facility_id": pa.array(np.full(count, row["facility_id"])).dictionary_encode(),
                "visit_id": pa.array(np.arange(1, count + 1, dtype=np.int64) + w * 10_000_000),
                # Plain strings: a dictionary column would carry the whole pool into every row group.
                **{k: dicts[k].take(who) for k in ("patient_name", "id_card", "phone")},
                "department": pa.DictionaryArray.from_arrays(pa.array(a["dept_i"].astype(np.int32)),
                                                             pa.array(plans[fi]["depts"])),
                "doctor_id": pa.array(a["doctor"].astype(str)).dictionary_encode(),
                "visit_type": pa.array(np.where(a["appt"], "APPT", "WALKIN")).dictionary_encode(),
                "registration_time": pa.array(a["reg"]), "call_time": pa.array(a["call"]),
                "consult_start": pa.array(a["start"]), "consult_end": pa.array(a["end"]),
            })
            # Rows come sorted by check-in, so each month is one contiguous slice.
            cuts = np.flatnonzero(month[1:] != month[:-1]) + 1
            for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, count], strict=True):
                m = month[lo]
                key = (row["facility_id"], str(m))
                wr = writers.get(key)
                if wr is None:
                    folder = out / row["facility_id"]
                    folder.mkdir(parents=True, exist_ok=True)
                    wr = writers[key] = pq.ParquetWriter(folder / f"visits_{str(m).replace('-', '_')}.parquet",
                                                         table.schema, compression="zstd",
                                                         use_dictionary=_DICT_COLUMNS)
                wr.write_table(table.slice(int(lo), int(hi - lo)))
            rows += count
        # Files of months that have ended are complete: close them so open writers stay bounded.
        done = str((monday + pd.Timedelta(days=6)).to_datetime64().astype("datetime64[M]"))
        for key in [k for k in writers if k[1] < done]:
            writers.pop(key).close()
    for wr in writers.values():
        wr.close()
    return {"rows": rows, "peak_mb": _peak_mb()}


_HMAC_SQL = "sha256(?::BLOB || unhex(sha256(?::BLOB || encode({msg}))))"


def _ingest(src: Path, db: Path, key: bytes, threads: int, memory_limit: str, tmp: Path | None = None) -> dict:
    """Checks, pseudonyms and the restricted table, all in DuckDB.

    Patients and doctors repeat: their keyed hashes are computed once per distinct value and joined
    back (same digests, a fraction of the hashing); the visit key is unique per row and hashed per row.
    """
    import duckdb

    from data_products.restricted.visits import DOCTOR_CODE_HEX

    block = key.ljust(64, b"\0")
    opad, ipad = bytes(b ^ 0x5C for b in block), bytes(b ^ 0x36 for b in block)
    con = duckdb.connect(str(db))
    con.execute(f"SET threads = {int(threads)}")
    con.execute("SET enable_progress_bar = false")
    con.execute("SET memory_limit = ?", [memory_limit])
    con.execute("SET preserve_insertion_order = false")
    if tmp is not None:
        con.execute("SET temp_directory = ?", [str(tmp)])
    files = str(src / "*" / "*.parquet")
    bad = con.execute("""
        SELECT count(*) FILTER (WHERE call_time < registration_time),
               count(*) FILTER (WHERE consult_start < call_time),
               count(*) FILTER (WHERE consult_end < consult_start),
               count(*) FILTER (WHERE greatest(registration_time, call_time, consult_start, consult_end) > now()::TIMESTAMP),
               count(*)
        FROM read_parquet(?)""", [files]).fetchall()[0]
    con.execute(f"""
        CREATE TEMP TABLE _patients AS
        SELECT id_card, {_HMAC_SQL.format(msg="upper(id_card)")} AS pseudonym
        FROM (SELECT DISTINCT CAST(id_card AS VARCHAR) AS id_card FROM read_parquet(?))""", [opad, ipad, files])  # noqa: S608 - SQL text is fixed
    con.execute(f"""
        CREATE TEMP TABLE _doctors AS
        SELECT facility_id, doctor_id,
               'D' || left({_HMAC_SQL.format(msg="facility_id || ':doctor:' || doctor_id")}, {int(DOCTOR_CODE_HEX)})
                   AS doctor_code
        FROM (SELECT DISTINCT CAST(facility_id AS VARCHAR) AS facility_id, CAST(doctor_id AS VARCHAR) AS doctor_id
              FROM read_parquet(?))""", [opad, ipad, files])  # noqa: S608 - SQL text is fixed
    con.execute("BEGIN TRANSACTION")
    con.execute(f"""
        CREATE TABLE outpatient_visits AS
        SELECT p.pseudonym,
               {_HMAC_SQL.format(msg="v.facility_id || ':' || CAST(v.visit_id AS VARCHAR)")} AS visit_key,
               v.facility_id, v.department, d.doctor_code, v.visit_type,
               CAST(v.registration_time AS DATE) AS visit_date,
               CAST(isodow(v.registration_time) AS INTEGER) AS weekday,
               CAST(hour(v.registration_time) AS INTEGER) AS hour,
               epoch(v.consult_start - v.registration_time) / 60.0 AS wait_min,
               epoch(v.call_time - v.registration_time) / 60.0 AS call_wait_min,
               epoch(v.consult_end - v.consult_start) / 60.0 AS consult_min,
               'BENCH' AS transfer_id
        FROM (SELECT CAST(facility_id AS VARCHAR) AS facility_id, visit_id, CAST(id_card AS VARCHAR) AS id_card,
                     CAST(department AS VARCHAR) AS department, CAST(doctor_id AS VARCHAR) AS doctor_id,
                     CAST(visit_type AS VARCHAR) AS visit_type,
                     registration_time, call_time, consult_start, consult_end
              FROM read_parquet(?)) v
        JOIN _patients p USING (id_card)
        JOIN _doctors d USING (facility_id, doctor_id)""", [opad, ipad, files])  # noqa: S608 - SQL text is fixed
    con.execute("COMMIT")
    n = con.execute("SELECT count(*) FROM outpatient_visits").fetchall()[0][0]
    con.close()
    return {"rows": int(n), "rejected_rows": {"call_before_checkin": bad[0], "out_of_order": bad[1],
                                              "negative_duration": bad[2], "future": bad[3]}, "scanned": bad[4]}


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


def _pandas(src: Path) -> dict:
    import tracemalloc

    t0 = time.perf_counter()
    raw = pd.read_parquet(src, columns=["facility_id", "department", "registration_time", "consult_start"])
    frame = pd.DataFrame({
        "facility_id": raw["facility_id"].astype(str), "department": raw["department"].astype(str),
        "weekday": (raw["registration_time"].dt.day_of_week + 1).astype(str),
        "hour": raw["registration_time"].dt.hour.map("{:02d}".format),
        "wait_min": (raw["consult_start"] - raw["registration_time"]).dt.total_seconds() / 60.0,
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
    key = bytes(range(32))
    results = []
    for n in sizes:
        d = base / f"n{n}"
        shutil.rmtree(d, ignore_errors=True)
        (d / "tmp").mkdir(parents=True)
        r: dict = {"n": n}
        r["generate"] = _run(_generate, n, d / "parquet", seed)
        if "error" not in r["generate"]:
            r["ingest"] = _run(_ingest, d / "parquet", d / "restricted.duckdb", key, threads, memory_limit, d / "tmp")
        if "error" not in r.get("ingest", {"error": 1}):
            r["process"] = _run(_process, d / "restricted.duckdb", threads, memory_limit, d / "tmp")
            r["duckdb_slot_cube"] = _run(_process, d / "restricted.duckdb", threads, memory_limit, d / "tmp", True)
            if n <= pandas_max:
                r["pandas_slot_cube"] = _run(_pandas, d / "parquet")
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

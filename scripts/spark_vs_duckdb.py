"""The same visits on DuckDB and on Spark: time the wait-time product's build on each engine, check the
releases are equal, and print one line per stage (development tool; the README's figures come from it).

    DATASPACE_HOME=DIR python scripts/spark_vs_duckdb.py [--master local[2]] [--product wait_times]

DIR holds ``restricted.duckdb``; the Parquet layout is exported beside it when missing. Run it on a quiet
machine: the figures are wall-clock seconds.
"""

from __future__ import annotations

import argparse
import os
import time

import duckdb
import pandas as pd

from data_products import approved
from data_products.config import paths
from data_products.products import registry
from data_products.restricted import parquet
from data_products.restricted import spark as restricted_spark


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--master", default=restricted_spark.DEFAULT_MASTER)
    ap.add_argument("--product", default="wait_times")
    ap.add_argument("--duckdb-threads", type=int, default=2)
    args = ap.parse_args()
    definition = registry.all_products()[args.product]
    release = definition.release_module

    def line(stage: str, seconds: float, extra: str = "") -> None:
        print(f"{stage:<44} {seconds:8.1f} s  load {os.getloadavg()[0]:.1f}{extra}", flush=True)

    t = time.perf_counter()
    root = parquet.ensure([definition.spark.TABLE])
    line("export Parquet layout (DuckDB COPY)", time.perf_counter() - t)
    con = duckdb.connect(str(paths().restricted_db), read_only=True)
    con.execute(f"SET threads = {int(args.duckdb_threads)}")
    table = definition.spark.TABLE  # the product's own record table (visits, or pneumonia episodes)
    rows = con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]  # noqa: S608 - a table name from the product's code
    print(f"{rows:,} rows of {table}; DuckDB {args.duckdb_threads} threads; Spark {args.master}")
    t = time.perf_counter()
    on_duck = release.build(con)
    line("DuckDB: build (aggregate + protect)", time.perf_counter() - t)
    con.close()

    t = time.perf_counter()
    session = restricted_spark.session(args.master)
    line("Spark: session start (JVM)", time.perf_counter() - t)
    t = time.perf_counter()
    source = definition.spark.source(restricted_spark.SparkSource(session, str(root)))
    hists = getattr(getattr(source, "aggregate", None), "hist", None) or {}
    size = f"  ({sum(len(h.n) for h in hists.values()):,} histogram rows)" if hists else ""
    line("Spark: aggregate (histograms on the executors)", time.perf_counter() - t, size)
    t = time.perf_counter()
    on_spark = release.build(source, agg=definition.spark)
    line("Spark: driver (margins, K, backtest, protect)", time.perf_counter() - t)
    for name in on_duck.tables:
        pd.testing.assert_frame_equal(on_duck.tables[name], on_spark.tables[name], check_exact=True)
    same = approved.content_hash(on_duck.tables, on_duck.meta) == approved.content_hash(on_spark.tables, on_spark.meta)
    print(f"tables equal; content hash {'equal' if same else 'DIFFERS'}")
    session.stop()


if __name__ == "__main__":
    main()

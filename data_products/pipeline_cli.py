"""The pipeline's commands: `dataspace process`, `approve` and `build --demo` print here, nowhere else."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable

from data_products.config import paths
from data_products.pipeline import ApprovalRefused, EngineUnavailable, approve, build_demo, process, spark_products
from data_products.products import registry
from data_products.restricted.spark import DEFAULT_MASTER

# What `process` refuses with exit 2: a missing store, an unknown product, an engine it cannot run.
_BAD_INPUT = (FileNotFoundError, KeyError, EngineUnavailable)


def _message(exc: Exception) -> str:
    """The exception's message as a sentence (a KeyError's str() would quote it)."""
    return str(exc.args[0] if isinstance(exc, KeyError) and exc.args else exc)


def cli_process(products: list[str] | None = None, progress: Callable[[int, int, int], None] | None = None,
                engine: str = "duckdb", master: str | None = None, parquet: str | None = None,
                acting: str | None = None) -> int:
    """`dataspace process`: the acting user proves who they are (token or password) and the gate allows
    them ``pipeline.process``; the build is one ledger entry with that user and the OS account."""
    from data_products.governance import cli as gov
    from data_products.governance import ledger
    from data_products.pipeline import DEMO_OFFICIALS

    t0 = time.perf_counter()
    read = [0]

    def step(done: int, total: int, rows: int) -> None:
        read[0] = rows
        if progress:
            progress(done, total, rows)

    try:
        with gov.acting_for("pipeline.process", acting, demo_user=DEMO_OFFICIALS[0]) as (actor, audit):
            try:
                ids = process(products, progress=step, engine=engine, master=master, parquet=parquet)
            except _BAD_INPUT as exc:
                ledger.record(actor, "release.process_failed", ",".join(products or ["all"]),
                              {**audit, "error": _message(exc)[:300]})
                raise
            ledger.record(actor, "release.process", ",".join(products or ["all"]),
                          {**audit, "engine": engine, "candidates": ids})
    except (gov.CliAuthError, *_BAD_INPUT) as exc:
        print(f"error: {_message(exc)}", file=sys.stderr)
        return 2
    if engine == "spark":
        on_spark = spark_products(products)
        rest = [p for p in (products or list(registry.all_products())) if p not in on_spark]
        print(f"built on Spark ({master or DEFAULT_MASTER}): {', '.join(on_spark)}", file=sys.stderr)
        if rest:
            print(f"built on DuckDB (no Spark builder): {', '.join(rest)}", file=sys.stderr)
    for i in ids:
        print(f"candidate {i}")
    seconds = time.perf_counter() - t0
    rate = f", {read[0] / seconds:,.0f} rows/s" if seconds > 0 and read[0] else ""
    print(f"processed {len(ids)} product(s) over {read[0]:,} restricted rows in {seconds:.1f} s{rate}")
    return 0


def cli_approve(release_id: str, username: str | None) -> int:
    """`dataspace approve`: the official signs in (password from $DATASPACE_PASSWORD or a prompt)."""
    from data_products.governance import cli as gov

    try:
        with gov.authenticated(username) as (principal, os_user):
            record = approve(release_id, principal, os_user=os_user)
    except (gov.CliAuthError, FileNotFoundError) as exc:  # not signed in, or no such candidate
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ApprovalRefused as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(record, ensure_ascii=False, indent=1))
    if record["status"] != "published":
        print(f"signed; release {release_id} publishes when a second, different commission official approves it")
    return 0


def cli_build_demo(seed: int = 2024) -> int:
    t0 = time.perf_counter()
    records = build_demo(seed, log=print)
    print(f"built {len(records)} approved release(s) in {time.perf_counter() - t0:.1f} s under {paths().home}")
    return 0

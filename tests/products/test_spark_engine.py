"""Builders on Apache Spark: the same product definitions aggregate on Spark (local[2]) from the restricted
zone's Parquet layout, and the releases equal DuckDB's, table by table and by content hash.

One Spark session serves the whole test session. The tests skip, saying why, only when PySpark or Java is
missing; CI (``.ci/run``) installs both, so there they always run.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from data_products import approved, pipeline
from data_products.cli import main as dataspace
from data_products.config import paths
from data_products.products import registry
from data_products.products.pneumonia import builder as pneumonia_builder
from data_products.products.wait_times import builder as wait_builder
from data_products.restricted import parquet
from data_products.restricted import spark as restricted_spark

DUCKDB_BUILDERS = {"pneumonia_atlas": pneumonia_builder, "wait_times": wait_builder}


@pytest.fixture(scope="session")
def spark_session():
    reason = restricted_spark.unavailable()
    if reason and os.environ.get("CI"):
        pytest.fail(f"CI runs the Spark engine tests: {reason}")
    if reason:
        pytest.skip(f"Spark engine tests need PySpark and Java: {reason} (.ci/run installs both)")
    session = restricted_spark.session("local[2]")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def layout(demo_home_built, tmp_path_factory):
    """The demo's restricted zone exported as partitioned Parquet, outside the (read-only) demo home."""
    root = tmp_path_factory.mktemp("parquet") / "layout"
    root.parent.chmod(0o755)  # an operator's folder: exporting into it must not change its mode
    old = os.environ.get("DATASPACE_HOME")
    os.environ["DATASPACE_HOME"] = str(demo_home_built)
    try:
        counts = parquet.export(root=root)
    finally:
        if old is None:
            os.environ.pop("DATASPACE_HOME", None)
        else:
            os.environ["DATASPACE_HOME"] = old
    return root, counts


def _equal_frames(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> None:
    assert sorted(a) == sorted(b)
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], check_exact=True, obj=name)


def test_spark_builders_are_the_wait_times_and_pneumonia_definitions():
    assert set(pipeline.spark_products()) == set(DUCKDB_BUILDERS)
    assert pipeline.spark_products(["tumor_distribution", "wait_times"]) == ["wait_times"]


@pytest.mark.slow
@pytest.mark.parametrize("product_id", sorted(DUCKDB_BUILDERS))
def test_spark_and_duckdb_builds_of_the_demo_give_equal_release_tables(demo, layout, spark_session, product_id):
    root, counts = layout
    definition = registry.all_products()[product_id]
    release = definition.release_module
    con = duckdb.connect(str(paths().restricted_db), read_only=True)
    try:
        # The restricted zone and its Parquet copy hold the same records.
        for table, rows in counts.items():
            assert con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == rows > 0  # noqa: S608
        source = definition.spark.source(restricted_spark.SparkSource(spark_session, str(root)))

        # Pre-disclosure aggregates: equal to the last bit, quantiles included.
        raw_duck = DUCKDB_BUILDERS[product_id].raw_tables(con)
        raw_spark = definition.spark.raw_tables(source)
        _equal_frames(raw_duck, raw_spark)
        quantiles = [c for c in raw_duck[next(iter(raw_duck))].columns if c.endswith(("_p50", "p50"))]
        assert quantiles and raw_duck[next(iter(raw_duck))][quantiles].notna().any().all()

        # Disclosure control on those aggregates, as today: the releases are the same.
        on_duck = release.build(con)
        on_spark = release.build(source, agg=definition.spark)
    finally:
        con.close()
    _equal_frames(on_duck.tables, on_spark.tables)
    assert on_duck.meta == on_spark.meta
    assert approved.content_hash(on_duck.tables, on_duck.meta) == approved.content_hash(on_spark.tables, on_spark.meta)
    # Something was protected: the equality is not that of two empty releases.
    assert all(len(frame) for frame in on_duck.tables.values() if frame is not None)
    flags = [c for frame in on_duck.tables.values() for c in frame.columns if c.endswith("_flag")]
    assert flags and any(frame[c].notna().any() for frame in on_duck.tables.values() for c in frame.columns
                         if c in flags)


def test_duckdb_reads_the_parquet_layout_to_the_same_aggregates(demo, layout):
    root, _ = layout
    con = duckdb.connect(str(paths().restricted_db), read_only=True)
    try:
        from_store = pneumonia_builder.raw_tables(con)
    finally:
        con.close()
    mem = duckdb.connect()
    try:
        parquet.duckdb_views(mem, root)
        from_parquet = pneumonia_builder.raw_tables(mem)
        years = sorted(p.name for p in (root / "pneumonia_episodes").iterdir())
    finally:
        mem.close()
    _equal_frames(from_store, from_parquet)
    assert years == ["year=2023", "year=2024"]
    # De-identified records: owner-only, like the store they come from.
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), path
    assert stat.S_IMODE(root.parent.stat().st_mode) == 0o755  # the folder it was asked to write into is untouched


@pytest.mark.slow
def test_process_engine_spark_writes_the_candidate_duckdb_writes(demo_copy, spark_session, capsys):
    assert dataspace(["process", "--engine", "spark", "--master", "local[2]", "--product", "pneumonia_atlas"]) == 0
    out, err = capsys.readouterr()
    assert "built on Spark (local[2]): pneumonia_atlas" in err
    (spark_line,) = [line for line in out.splitlines() if line.startswith("candidate ")]
    assert dataspace(["process", "--product", "pneumonia_atlas"]) == 0
    (duck_line,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith("candidate ")]
    ids = [line.removeprefix("candidate ") for line in (spark_line, duck_line)]
    assert ids[0] != ids[1]
    hashes = {approved.content_hash(*approved.read_release_file(approved.candidate_path(i))) for i in ids}
    assert len(hashes) == 1
    # The layout was exported into the data home on first use, owner-only.
    layout_root = Path(demo_copy) / "restricted" / "parquet"
    assert parquet.fresh(["pneumonia_episodes"], layout_root)
    assert stat.S_IMODE(layout_root.stat().st_mode) == 0o700


REFUSED = [
    (["process", "--engine", "spark", "--product", "tumor_distribution"], "no Spark builder for tumor_distribution"),
    (["process", "--engine", "flink"], "no engine 'flink'"),
    (["process", "--master", "local[2]"], "--master and --parquet go with --engine spark"),
]


@pytest.mark.parametrize(("argv", "named"), REFUSED, ids=[" ".join(a) for a, _ in REFUSED])
def test_process_refuses_what_the_engine_cannot_build(home, capsys, argv, named):
    assert dataspace(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert named in err and "Traceback" not in err
    assert not any(home.rglob("*.duckdb"))


def test_without_pyspark_the_spark_engine_says_how_to_install_it(home, capsys, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pyspark" else real(name, *a))
    assert dataspace(["process", "--engine", "spark", "--product", "wait_times"]) == 2
    err = capsys.readouterr().err
    assert "PySpark is not installed" in err and ".[spark]" in err

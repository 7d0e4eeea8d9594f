"""The visits pipeline benchmark: its baselines compute the builder's tables, and the command runs end to
end at a tiny scale (no time is asserted: the machine is shared)."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest

from data_products import bench_visits
from data_products.contracts import ddl


def _store(tmp_path, n: int = 4_000):
    from data_products.contracts.visits import RECORDS, TABLE

    rng = np.random.default_rng(5)
    frame = pd.DataFrame({
        "pseudonym": "p", "visit_key": [f"k{i}" for i in range(n)],
        "facility_id": rng.choice(["F0301", "F0401", "F0602"], n), "department": rng.choice(["surgery", "pediatrics"], n),
        "doctor_code": rng.choice(["D1a", "D2b", "D3c", "D4d"], n), "visit_type": rng.choice(["APPT", "WALKIN"], n),
        "visit_date": [date(2024, 9, 2) + timedelta(days=int(d)) for d in rng.integers(0, 60, n)],
        "weekday": rng.integers(1, 8, n).astype("int32"), "hour": rng.choice([8, 9, 10, 14, 15], n).astype("int32"),
        # Whole seconds with many ties (the histogram path), a few long waits.
        "wait_min": np.minimum(rng.lognormal(6.5, 0.8, n).round(), 40_000) / 60.0,
        "call_wait_min": 1.0, "consult_min": 5.0, "transfer_id": "T",
    })
    db = tmp_path / "restricted.duckdb"
    con = duckdb.connect(str(db))
    con.execute(ddl(TABLE, RECORDS))
    con.register("frame", frame)
    con.execute("INSERT INTO outpatient_visits SELECT * FROM frame")
    con.close()
    return tmp_path


def test_pandas_and_polars_compute_the_builders_tables(tmp_path):
    home = _store(tmp_path)
    bench_visits.stage_builder(home, tmp_path / "b")
    bench_visits.stage_export(home, tmp_path / "r.parquet")
    bench_visits.stage_pandas(tmp_path / "r.parquet", tmp_path / "pd")
    bench_visits.stage_polars(tmp_path / "r.parquet", tmp_path / "pl")
    mine = bench_visits._read(tmp_path / "b")
    assert sum(len(t) for t in mine.values()) > 500  # margins of every table, not a trivial frame
    for other in ("pd", "pl"):
        assert bench_visits.compare(bench_visits._read(tmp_path / other), mine) == [], other
    # The comparison can fail: one changed quantile or count is found.
    bad = {k: v.copy() for k, v in mine.items()}
    bad["doctors"].loc[3, "p90"] += 1e-6
    bad["visit_type"].loc[0, "visits"] += 1
    problems = bench_visits.compare(bad, mine)
    assert any("doctors: p90" in p for p in problems) and any("visit_type: visit counts" in p for p in problems)


def test_scale_parsing():
    assert bench_visits.rows_for("demo") == 200_000
    assert bench_visits.rows_for("city") == 187_000_000
    assert bench_visits.rows_for("20M") == bench_visits.rows_for("20_000_000") == 20_000_000
    assert bench_visits.rows_for("500k") == 500_000
    for bad in ("ten", "12"):
        with pytest.raises(ValueError):
            bench_visits.rows_for(bad)


def test_the_bench_runs_the_cli_path_end_to_end_at_a_tiny_scale(tmp_path):
    lines: list[str] = []
    r = bench_visits.run("3000", workdir=tmp_path / "w", log=lines.append)
    out = "\n".join(lines)
    assert not [k for k, v in r.items() if isinstance(v, dict) and "error" in v], out  # every stage ran
    assert r["problems"] == {"pandas": [], "polars": []}, out
    assert r["ingest"]["exit_code"] == 0 and "3,000 rows" in r["ingest"]["summary"], out
    assert r["process"]["releases"] and r["process"]["releases"][0].startswith("wait_times@"), out
    assert r["floor"]["rows"] == 3_000
    for stage in ("generate", "ingest", "process", "builder", "floor", "pandas", "polars"):
        assert r[stage]["peak_mb"] > 10, stage  # the child's own peak, from the OS
    for target in ("city's year", "within 3x the floor", "builder >= 3x pandas", "builder >= 1x polars"):
        assert target in out, target
    assert not (tmp_path / "w").exists() or not any((tmp_path / "w").iterdir())  # cleaned up


def test_targets_at_city_scale_say_which_is_not_met_and_why():
    # A city-scale run without baselines: every target appears, each unmet one with its reason.
    stage = lambda s, mb: {"seconds": s, "peak_mb": mb}  # noqa: E731
    r = {"rows": bench_visits.CITY, "generate": stage(600.0, 1000), "ingest": stage(2400.0, 2000),
         "process": stage(900.0, 7000), "floor": stage(300.0, 2000), "builder": stage(400.0, 2500)}
    city, floor, pandas, polars = bench_visits.targets(r)
    assert city.startswith("city's year") and "65.0 min" in city and "NOT MET" in city
    assert "ingest alone took 40.0 min" in city and "peak 6.8 GB >= 6 GB" in city
    assert "11.0x -> NOT MET" in floor and "ingest is 8.0x" in floor and "process 3.0x" in floor
    assert "not measured" in pandas and "not measured" in polars
    r["generate"], r["ingest"], r["process"] = stage(100.0, 900), stage(200.0, 900), stage(100.0, 900)
    assert bench_visits.targets(r)[0].endswith("-> MET") and bench_visits.targets(r)[1].endswith("-> MET")

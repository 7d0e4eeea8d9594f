"""Pneumonia builder: restricted ``pneumonia_episodes`` -> the atlas's candidate tables.

All aggregation is SQL in DuckDB (``GROUP BY CUBE`` yields every margin in one pass, quantiles
included); disclosure control then decides what may be shown. Identifiers interpolated into SQL come
only from the fixed lists in ``spec``.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from data_products.disclosure import ALL
from data_products.products.pneumonia.spec import CUTOFFS, MARKERS, PATHOGENS, QUANTILES


def _measure_sql() -> str:
    parts = ["COUNT(*)::BIGINT AS cases"]
    for p in PATHOGENS:
        parts.append(f"COUNT(*) FILTER (WHERE {p} = 'POS')::BIGINT AS {p}_pos")
        parts.append(f"COUNT(*) FILTER (WHERE {p} = 'NEG')::BIGINT AS {p}_neg")
    for c in CUTOFFS:
        parts.append(f"COUNT(*) FILTER (WHERE {c.marker} {c.op} {c.threshold_sql()})::BIGINT AS {c.id}_above")
        parts.append(f"COUNT(*) FILTER (WHERE NOT ({c.marker} {c.op} {c.threshold_sql()}))::BIGINT AS {c.id}_below")
    # One list-valued quantile aggregate per marker: DuckDB sorts each group once instead of once
    # per quantile (7x faster than five scalar quantile_cont calls on 300k episodes).
    levels = list(QUANTILES.values())
    for m in MARKERS:
        parts.append(f"quantile_cont({m}, {levels!r}) AS {m}__q")
    return ",\n  ".join(parts)


def _unpack_quantiles() -> str:
    return ", ".join(f"{m}__q[{i + 1}] AS {m}_{q}" for m in MARKERS for i, q in enumerate(QUANTILES))


_BASE = """
SELECT *, strftime(admission_date, '%Y-%m') AS month
FROM pneumonia_episodes
"""


def _cube(con: duckdb.DuckDBPyConnection, dims: list[str]) -> pd.DataFrame:
    dim_sql = ", ".join(f"COALESCE({d}, '{ALL}') AS {d}" for d in dims)
    sql = f"""
    WITH base AS ({_BASE}),
    cube AS (
      SELECT {dim_sql},
        {_measure_sql()}
      FROM base
      GROUP BY CUBE ({", ".join(dims)})
    )
    SELECT * EXCLUDE ({", ".join(f"{m}__q" for m in MARKERS)}), {_unpack_quantiles()} FROM cube
    """  # noqa: S608 - identifiers from spec, no values
    frame = con.execute(sql).df()
    for d in dims:
        frame[d] = frame[d].astype(str)
    return frame.sort_values(dims).reset_index(drop=True)


def _by_pathogen(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Marker quantiles among cases positive for each pathogen, by age band and overall."""
    frames = []
    for p in PATHOGENS:
        levels = list(QUANTILES.values())
        q = ", ".join(f"quantile_cont({m}, {levels!r}) AS {m}__q" for m in MARKERS)
        sql = f"""
        WITH base AS ({_BASE}),
        g AS (
          SELECT '{p}' AS pathogen, COALESCE(age_band, '{ALL}') AS age_band, {q}
          FROM base WHERE {p} = 'POS'
          GROUP BY ROLLUP (age_band)
        )
        SELECT pathogen, age_band, {_unpack_quantiles()} FROM g
        """  # noqa: S608 - identifiers from spec
        frames.append(con.execute(sql).df())
    return pd.concat(frames, ignore_index=True).sort_values(["pathogen", "age_band"]).reset_index(drop=True)


def raw_tables(con: duckdb.DuckDBPyConnection) -> dict[str, pd.DataFrame]:
    """Unprotected aggregates. They never leave this process: the pipeline protects them first."""
    return {
        "district_cube": _cube(con, ["district", "month", "age_band", "sex"]),
        "facility_month": _cube(con, ["facility_id", "month"]),
        "pathogen_markers": _by_pathogen(con),
    }


def lineage(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute("SELECT DISTINCT transfer_id FROM pneumonia_episodes ORDER BY 1").fetchall()]

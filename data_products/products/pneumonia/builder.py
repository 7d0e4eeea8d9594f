"""Pneumonia builder: restricted ``pneumonia_episodes`` -> the atlas's candidate tables.

All aggregation is SQL in DuckDB (``GROUP BY CUBE`` yields every margin in one pass, quantiles
included); disclosure control then decides what may be shown. Identifiers interpolated into SQL come
only from the fixed lists in ``spec``.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from data_products.config import min_cell
from data_products.disclosure import ALL, quantile_sql
from data_products.products.pneumonia.spec import CUTOFFS, DECIMALS, MARKERS, PATHOGENS, QUANTILES


def _measure_sql() -> str:
    parts = ["COUNT(*)::BIGINT AS cases"]
    for p in PATHOGENS:
        parts.append(f"COUNT(*) FILTER (WHERE {p} = 'POS')::BIGINT AS {p}_pos")
        parts.append(f"COUNT(*) FILTER (WHERE {p} = 'NEG')::BIGINT AS {p}_neg")
    for c in CUTOFFS:
        parts.append(f"COUNT(*) FILTER (WHERE {c.marker} {c.op} {c.threshold_sql()})::BIGINT AS {c.id}_above")
        parts.append(f"COUNT(*) FILTER (WHERE NOT ({c.marker} {c.op} {c.threshold_sql()}))::BIGINT AS {c.id}_below")
    # One sorted list per marker and group: DuckDB sorts each group once for all five levels.
    for m in MARKERS:
        parts.append(quantile_sql(m, QUANTILES, min_cell(), DECIMALS[m])[0])
    return ",\n  ".join(parts)


def _unpack_quantiles() -> str:
    """The released quantiles (rule and rounding: :func:`data_products.disclosure.quantile_sql`)."""
    return ", ".join(f"{expr} AS {m}_{q}" for m in MARKERS
                     for q, expr in quantile_sql(m, QUANTILES, min_cell(), DECIMALS[m])[1].items())


def _internal_columns() -> str:
    return ", ".join(f"{m}__n, {m}__l" for m in MARKERS)


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
    SELECT * EXCLUDE ({_internal_columns()}), {_unpack_quantiles()} FROM cube
    """  # noqa: S608 - identifiers from spec, no values
    frame = con.execute(sql).df()
    for d in dims:
        frame[d] = frame[d].astype(str)
    return frame.sort_values(dims).reset_index(drop=True)


def _by_pathogen(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Marker quantiles among cases positive for each pathogen, by age band and overall."""
    frames = []
    for p in PATHOGENS:
        q = ", ".join(quantile_sql(m, QUANTILES, min_cell(), DECIMALS[m])[0] for m in MARKERS)
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

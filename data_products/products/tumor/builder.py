"""Tumor builder: restricted ``tumor_diagnoses`` -> the unprotected tables of the release.

DuckDB aggregates to the finest grain each table needs (one pass per table); margins are added
with :func:`data_products.disclosure.add_margins`, so the margins and the relations disclosure
control protects against are derived by the same code. Facility district and tier come from the
facility registry, never from the records. Grids of facilities x groups x periods are completed
with zeros so a facility without a diagnosis of a group shows 0, not a gap.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from data_products.disclosure import ALL, add_margins
from data_products.products.tumor.spec import (
    AGE_BANDS,
    C44,
    CARRY,
    DIMS,
    GROUP_IDS,
    MEASURE,
    OUTSIDE,
    RESIDENT_TREATED,
    SEXES,
    TIERS,
    tier_of,
)
from data_products.reference import facilities

SOURCE = "tumor_diagnoses"

# One row per person and year: the first diagnosis record of the year (date, then record key), with
# C44 counted on its own (a person with a C44 and another cancer counts in both).
_INDEX = f"""
SELECT * FROM {SOURCE}
QUALIFY row_number() OVER (
  PARTITION BY pseudonym, year(diagnosis_date), tumor_group = '{C44.id}'
  ORDER BY diagnosis_date, diagnosis_key) = 1
"""  # noqa: S608 - constants only
_BASE = f"""
SELECT facility_id, home_district, tumor_group,
  CAST(year(diagnosis_date) AS VARCHAR) AS year,
  CAST(year(diagnosis_date) AS VARCHAR) || 'Q' || CAST(quarter(diagnosis_date) AS VARCHAR) AS quarter,
  CASE WHEN age_years < 15 THEN '0-14' WHEN age_years < 45 THEN '15-44' WHEN age_years < 60 THEN '45-59'
       WHEN age_years < 75 THEN '60-74' ELSE '75+' END AS age_band,
  sex
FROM ({_INDEX})
"""  # noqa: S608 - the table name is a constant, no values
_FINE = ("facility_id", "home_district", "tumor_group", "year", "quarter", "age_band", "sex")


def _fine(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    cols = ", ".join(_FINE)
    sql = f"WITH base AS ({_BASE}) SELECT {cols}, COUNT(*)::BIGINT AS {MEASURE} FROM base GROUP BY ALL"  # noqa: S608
    frame = con.execute(sql).df()
    for c in _FINE:
        frame[c] = frame[c].astype(str)
    frame[MEASURE] = frame[MEASURE].astype(np.int64)
    return frame


def _registry(producers: list[str]) -> pd.DataFrame:
    reg = facilities().set_index("facility_id").loc[producers]
    return pd.DataFrame({"district": reg["district"].astype(str),
                         "tier": [tier_of(t, k) for t, k in zip(reg["tier"], reg["kind"], strict=True)]},
                        index=reg.index)


def _complete(frame: pd.DataFrame, grid: dict[str, list[str]]) -> pd.DataFrame:
    """Sum ``frame`` to the grid's dimensions, with a zero row for every combination it lacks."""
    keys = list(grid)
    counts = frame.groupby(keys, sort=True)[MEASURE].sum()
    full = pd.MultiIndex.from_product([grid[k] for k in keys], names=keys)
    return counts.reindex(full, fill_value=0).reset_index()


def treated(home: pd.Series, facility_district: pd.Series) -> np.ndarray:
    """'own' (treated in the home district), 'other' (a resident treated elsewhere in the city) or
    'nonresident' (home outside Guangzhou)."""
    return np.where(home == OUTSIDE, "nonresident", np.where(home == facility_district, "own", "other"))


def with_treated(flows: pd.DataFrame) -> pd.DataFrame:
    """Mark each flow own / other / nonresident; ALL where either end is a margin.

    The column lets ``release`` declare that ``outflow``'s cells are sums of flows.
    """
    real = (flows["home_district"] != ALL) & (flows["facility_district"] != ALL)
    return flows.assign(treated=np.where(real, treated(flows["home_district"], flows["facility_district"]), ALL))


def raw_tables(con: duckdb.DuckDBPyConnection) -> dict[str, pd.DataFrame]:
    """Unprotected tables with margins. They never leave this process: ``release`` protects them."""
    everything = _fine(con)
    skin = everything[everything["tumor_group"] == C44.id]
    fine = everything[everything["tumor_group"] != C44.id]
    producers = sorted(everything["facility_id"].unique())
    reg = _registry(producers)
    years = sorted(everything["year"].unique())
    quarters = [f"{y}Q{q}" for y in years for q in range(1, 5)]
    groups = list(GROUP_IDS)
    unknown = sorted(set(fine["tumor_group"]) - set(groups))
    if unknown:
        raise ValueError(f"{SOURCE}: tumor_group values {unknown} are not in the product's groups")

    out = {}
    fy = _complete(fine, {"facility_id": producers, "tumor_group": groups, "year": years})
    fy = fy.join(reg, on="facility_id")
    out["facility_year"] = add_margins(fy, DIMS["facility_year"], [MEASURE], carry=CARRY["facility_year"])

    fq = _complete(fine, {"facility_id": producers, "tumor_group": groups, "quarter": quarters})
    fq = fq.join(reg, on="facility_id")
    fq["year"] = fq["quarter"].str.slice(0, 4)
    out["facility_quarter"] = add_margins(fq, DIMS["facility_quarter"], [MEASURE], carry=CARRY["facility_quarter"])

    fl = fine.assign(facility_district=fine["facility_id"].map(reg["district"]))
    fl = fl.groupby(list(DIMS["flows"]), sort=True)[MEASURE].sum().reset_index()
    out["flows"] = with_treated(add_margins(fl, DIMS["flows"], [MEASURE]))

    ow = fine.assign(treated=treated(fine["home_district"], fine["facility_id"].map(reg["district"])))
    homes = sorted(h for h in fine["home_district"].unique() if h != OUTSIDE)
    # Residents are own or other, non-residents only nonresident: no structurally empty cells.
    parts = [_complete(ow, {"home_district": homes, "treated": list(RESIDENT_TREATED), "tumor_group": groups,
                            "year": years})]
    if (fine["home_district"] == OUTSIDE).any():
        parts.append(_complete(ow, {"home_district": [OUTSIDE], "treated": ["nonresident"], "tumor_group": groups,
                                    "year": years}))
    out["outflow"] = add_margins(pd.concat(parts, ignore_index=True), DIMS["outflow"], [MEASURE])

    tp = fine.assign(tier=fine["facility_id"].map(reg["tier"]))
    tp = _complete(tp, {"tier": [t for t in TIERS if t in set(reg["tier"])], "tumor_group": groups, "year": years,
                        "age_band": list(AGE_BANDS), "sex": list(SEXES)})
    out["tier_profile"] = add_margins(tp, DIMS["tier_profile"], [MEASURE])
    # C44 on its own: per facility and year, never part of another table's totals.
    sk = _complete(skin, {"facility_id": producers, "year": years})
    out["c44"] = add_margins(sk, DIMS["c44"], [MEASURE])
    for name, frame in out.items():
        out[name] = frame.sort_values(list(DIMS[name])).reset_index(drop=True)
    return out


def record_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """City-wide: diagnosis records, and the person-years the tables count (one large figure each)."""
    records, counted = con.execute(
        f"SELECT (SELECT count(*) FROM {SOURCE}), (SELECT count(*) FROM ({_INDEX}))").fetchall()[0]  # noqa: S608
    return {"diagnosis_records": int(records), "patient_years": int(counted)}


def lineage(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute(f"SELECT DISTINCT transfer_id FROM {SOURCE} ORDER BY 1").fetchall()]  # noqa: S608

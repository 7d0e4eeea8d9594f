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
from data_products.products.tumor.spec import AGE_BANDS, CARRY, DIMS, GROUP_IDS, MEASURE, SEXES, TIERS, TREATED, tier_of
from data_products.reference import facilities

SOURCE = "tumor_diagnoses"

_BASE = f"""
SELECT facility_id, home_district, tumor_group,
  CAST(year(diagnosis_date) AS VARCHAR) AS year,
  CAST(year(diagnosis_date) AS VARCHAR) || 'Q' || CAST(quarter(diagnosis_date) AS VARCHAR) AS quarter,
  CASE WHEN age_years < 15 THEN '0-14' WHEN age_years < 45 THEN '15-44' WHEN age_years < 60 THEN '45-59'
       WHEN age_years < 75 THEN '60-74' ELSE '75+' END AS age_band,
  sex
FROM {SOURCE}
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


def with_treated(flows: pd.DataFrame) -> pd.DataFrame:
    """Mark each flow 'own' (treated in the home district) or 'other'; ALL where either end is a margin.

    The column lets ``release`` declare that ``outflow``'s own/other cells are sums of flows.
    """
    real = (flows["home_district"] != ALL) & (flows["facility_district"] != ALL)
    same = flows["home_district"] == flows["facility_district"]
    return flows.assign(treated=np.where(real, np.where(same, "own", "other"), ALL))


def raw_tables(con: duckdb.DuckDBPyConnection) -> dict[str, pd.DataFrame]:
    """Unprotected tables with margins. They never leave this process: ``release`` protects them."""
    fine = _fine(con)
    producers = sorted(fine["facility_id"].unique())
    reg = _registry(producers)
    years = sorted(fine["year"].unique())
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

    ow = fine.assign(treated=np.where(fine["facility_id"].map(reg["district"]) == fine["home_district"], "own", "other"))
    ow = _complete(ow, {"home_district": sorted(fine["home_district"].unique()), "treated": list(TREATED),
                        "tumor_group": groups, "year": years})
    out["outflow"] = add_margins(ow, DIMS["outflow"], [MEASURE])

    tp = fine.assign(tier=fine["facility_id"].map(reg["tier"]))
    tp = _complete(tp, {"tier": [t for t in TIERS if t in set(reg["tier"])], "tumor_group": groups, "year": years,
                        "age_band": list(AGE_BANDS), "sex": list(SEXES)})
    out["tier_profile"] = add_margins(tp, DIMS["tier_profile"], [MEASURE])
    for name, frame in out.items():
        out[name] = frame.sort_values(list(DIMS[name])).reset_index(drop=True)
    return out


def lineage(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute(f"SELECT DISTINCT transfer_id FROM {SOURCE} ORDER BY 1").fetchall()]  # noqa: S608

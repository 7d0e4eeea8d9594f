"""Tumor release: aggregate (builder), protect (disclosure), and re-check at approval.

The tables share their totals, so they are protected together and the relations between them
are declared once (``LINKS``) for protection and for the approval check alike:

* a facility's year is the sum of its quarters (at every margin of facility and group);
* a facility district's total in ``flows`` is the sum of that district's facilities (facility rows
  carry their district), so no facility's figure falls out of a district total minus its neighbours;
* a home district's own/other split in ``outflow`` is the sum of its ``flows`` (``treated`` column);
* a tier's total in ``tier_profile`` is the sum of the facilities of that tier;
* the city totals of every table are the sum over facilities.

``c44`` (non-melanoma skin) counts other people-years than the rest and sits in no other total, so
no relation links it to them.
"""

from __future__ import annotations

import itertools

import duckdb
import pandas as pd

from data_products import disclosure
from data_products.disclosure import ALL, Link, Table
from data_products.products.base import Candidate
from data_products.products.tumor import builder
from data_products.products.tumor.spec import (  # noqa: F401 - PRODUCT_ID names the release
    C44,
    DIMS,
    GROUP_IDS,
    MEASURE,
    PRODUCT_ID,
    UNIT,
)


def _subsets(items: tuple[str, ...]):
    for size in range(len(items) + 1):
        yield from itertools.combinations(items, size)


def links() -> tuple[Link, ...]:
    out = []
    for kept in _subsets(("facility_id", "tumor_group")):
        for year in (True, False):
            on = {d: d for d in kept} | ({"year": "year"} if year else {})
            out.append(Link(total="facility_year", component="facility_quarter", on=on, over=("quarter",)))
    for kept in _subsets(("tumor_group", "year")):
        on = {d: d for d in kept}
        out.append(Link(total="tier_profile", component="facility_year", on={"tier": "tier", **on},
                        over=("facility_id",)))
        out.append(Link(total="tier_profile", component="facility_year", on=dict(on), over=("facility_id",)))
        out.append(Link(total="outflow", component="facility_year", on=dict(on), over=("facility_id",)))
    for kept in _subsets(("tumor_group",)):
        on = {d: d for d in kept}
        # Whole-period flows: a facility district's patients are its facilities' patients.
        out.append(Link(total="flows", component="facility_year", on={"district": "facility_district", **on},
                        over=("facility_id",)))
        out.append(Link(total="flows", component="facility_year", on=dict(on), over=("facility_id",)))
        for home in (True, False):
            h = {"home_district": "home_district"} if home else {}
            # outflow's own/other cells are sums of flows; its district totals equal flows' home totals.
            out.append(Link(total="outflow", component="flows", on={**h, "treated": "treated", **on},
                            over=("facility_district",)))
            out.append(Link(total="outflow", component="flows", on={**h, **on}, over=()))
    # A link needs at least one matching column; the grand totals follow from the others.
    return tuple(link for link in out if link.on)


LINKS = links()


def _declared(tables: dict[str, pd.DataFrame]) -> list[Table]:
    return [Table(name, tables[name], dims, (MEASURE,)) for name, dims in DIMS.items()]


# The count tables this release protects, by name: what `approve` compares with earlier releases.
count_tables = _declared


def build(con: duckdb.DuckDBPyConnection):
    raw = builder.raw_tables(con)
    protected = disclosure.protect_tables(_declared(raw), LINKS)
    years = sorted(y for y in protected["facility_year"]["year"].unique() if y != ALL)
    quarters = sorted(q for q in protected["facility_quarter"]["quarter"].unique() if q != ALL)
    meta = {
        "source": "tumor_diagnoses (restricted zone): new malignant-tumor diagnoses (ICD-10 C00-C97) "
                  "at oncology-capable facilities",
        "lineage": builder.lineage(con),
        "time_span": [quarters[0], quarters[-1]] if quarters else [],
        "years": years,
        "quarters": quarters,
        "measure": MEASURE,
        "groups": list(GROUP_IDS),
        "home_outside": "home_district 'outside' = an address naming no Guangzhou district (non-residents); "
                        "in outflow they are 'nonresident', so 'treated outside the home district' is a share "
                        "of residents only",
        "unit": UNIT,
        "counts": builder.record_counts(con),
        "c44": f"{C44.icd10} ({C44.name_en}) is released apart in table 'c44' and is in no other table's totals",
        "suppression_rule": (
            "No count from 1 to min_cell-1 is shown (primary); further cells are hidden so that no hidden "
            "cell can be recovered from totals, margins or other tables of the release, including a "
            "district total minus its other facilities (secondary). Shares are computed only from released cells."
        ),
    }
    return Candidate(PRODUCT_ID, protected, meta)


def check(tables: dict[str, pd.DataFrame], meta: dict) -> list[str]:
    missing = [n for n in DIMS if n not in tables]
    if missing:
        return [f"release lacks tables {missing}"]
    return disclosure.check_tables(_declared(tables), LINKS, min_cell=meta.get("min_cell"))

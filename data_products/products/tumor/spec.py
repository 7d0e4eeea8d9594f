"""What the tumor-distribution product releases: tumor groups, tiers, age bands, tables.

Shared by the builder (which computes the tables) and the views and page (which label them).
The groups are the ICD-10 category ranges of FACTS.md "Cancer in Guangzhou"; the ingest step
derives each record's group from its code with the same ranges.
"""

from __future__ import annotations

from dataclasses import dataclass

from data_products.contracts.person import SEXES
from data_products.contracts.tumor import AGE_BANDS, OUTSIDE

__all__ = ["AGE_BANDS", "CARRY", "DIMS", "GROUPS", "GROUP_BY_ID", "GROUP_IDS", "MEASURE", "OUTSIDE", "PRODUCT_ID",
           "SEXES", "TIERS", "TIER_NAMES", "TREATED", "Group", "tier_of"]

PRODUCT_ID = "tumor_distribution"
MEASURE = "patients"


@dataclass(frozen=True)
class Group:
    id: str
    icd10: str
    name_zh: str
    name_en: str


GROUPS = (
    Group("lung", "C33–C34", "肺癌", "Lung"),
    Group("colorectum", "C18–C21", "结直肠癌", "Colorectum"),
    Group("liver", "C22", "肝癌", "Liver"),
    Group("breast", "C50", "乳腺癌", "Breast"),
    Group("nasopharynx", "C11", "鼻咽癌", "Nasopharynx (NPC)"),
    Group("thyroid", "C73", "甲状腺癌", "Thyroid"),
    Group("stomach", "C16", "胃癌", "Stomach"),
    Group("prostate", "C61", "前列腺癌", "Prostate"),
    Group("oesophagus", "C15", "食管癌", "Oesophagus"),
    Group("cervix", "C53", "宫颈癌", "Cervix"),
    Group("pancreas", "C25", "胰腺癌", "Pancreas"),
    Group("leukaemia", "C91–C95", "白血病", "Leukaemia"),
    Group("other", "other C00–C97", "其他恶性肿瘤", "Other malignant"),
)
GROUP_IDS = tuple(g.id for g in GROUPS)
# C44 (non-melanoma skin cancer) is common, rarely fatal and unevenly recorded, so cancer registries
# usually leave it out of "all cancers": it is released in its own table, never in the totals.
C44 = Group("skin_nmsc", "C44", "非黑色素瘤皮肤癌", "Non-melanoma skin (C44)")
GROUP_BY_ID = {g.id: g for g in (*GROUPS, C44)}
# What "patients" counts: each person (pseudonym) once per calendar year, on the first diagnosis record
# of that year (earliest date, then record key) — its facility, group, quarter, age and home district.
# Cells stay additive (every person-year is in exactly one cell), so disclosure control's relations
# hold; a whole-span figure is the sum of the years (a person diagnosed in two years counts twice).
UNIT = ("distinct patients per calendar year: each pseudonym counted once a year, at its first diagnosis "
        "record of that year (its facility, tumor group, quarter, age and home district); whole-span "
        "figures add the years; C44 counted apart")

# Facility tier as released: the registry's tier and kind together (the cancer hospital is its own class).
TIERS = ("tertiary_cancer", "tertiary_general", "secondary_general")
TIER_NAMES = {
    "tertiary_cancer": ("三级肿瘤专科医院", "Tertiary cancer hospital"),
    "tertiary_general": ("三级综合医院", "Tertiary general hospital"),
    "secondary_general": ("二级综合医院", "Secondary general hospital"),
}

# Released tables and their dimensions (margins carry 'ALL').
DIMS = {
    "facility_year": ("facility_id", "tumor_group", "year"),
    "facility_quarter": ("facility_id", "tumor_group", "quarter"),
    "flows": ("home_district", "facility_district", "tumor_group"),
    "outflow": ("home_district", "treated", "tumor_group", "year"),
    "tier_profile": ("tier", "tumor_group", "year", "age_band", "sex"),
    "c44": ("facility_id", "year"),
}
# Where a patient was treated relative to the home district. Patients living outside the city are
# 'nonresident', never 'other': "treated outside the home district" is a share of residents.
TREATED = ("own", "other", "nonresident")
RESIDENT_TREATED = ("own", "other")
# Attribute columns a facility row carries (determined by its facility, ALL on margins).
CARRY = {
    "facility_year": {"district": "facility_id", "tier": "facility_id"},
    "facility_quarter": {"district": "facility_id", "tier": "facility_id", "year": "quarter"},
}


def tier_of(tier: str, kind: str) -> str:
    return f"{tier}_{kind}"

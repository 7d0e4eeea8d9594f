"""The synthetic facility registry: who sends data into the space.

Every facility is fictional and marked so in its name. The registry is made from a fixed seed by
``build_registry`` and committed as ``data/facilities.csv`` (a test rebuilds it and compares), so a
facility's id, name and position never change under the products built on them.

    python -m data_products.reference.facilities   # rewrite the committed CSV
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd

from data_products.reference.geography import DATA, district_geojson, districts

CSV = DATA / "facilities.csv"
SEED = 20241
TIERS = ("tertiary", "secondary", "chc")
KINDS = ("general", "childrens", "maternal_child", "cancer", "tcm")

DEPARTMENTS: dict[str, tuple[str, str]] = {
    "internal_medicine": ("内科", "Internal medicine"),
    "surgery": ("外科", "Surgery"),
    "pediatrics": ("儿科", "Paediatrics"),
    "pediatric_respiratory": ("儿童呼吸科", "Paediatric respiratory"),
    "neonatology": ("新生儿科", "Neonatology"),
    "obstetrics": ("产科", "Obstetrics"),
    "gynaecology": ("妇科", "Gynaecology"),
    "oncology": ("肿瘤科", "Oncology"),
    "radiotherapy": ("放疗科", "Radiotherapy"),
    "respiratory": ("呼吸内科", "Respiratory medicine"),
    "emergency": ("急诊科", "Emergency"),
    "ophthalmology": ("眼科", "Ophthalmology"),
    "tcm": ("中医科", "Traditional Chinese medicine"),
    "acupuncture": ("针灸科", "Acupuncture"),
    "general_practice": ("全科", "General practice"),
    "child_health": ("儿童保健", "Child health"),
    "elderly_care": ("老年健康", "Elderly care"),
}

_DEPTS_BY = {
    ("tertiary", "general"): "internal_medicine surgery pediatrics obstetrics oncology respiratory emergency ophthalmology",
    ("secondary", "general"): "internal_medicine surgery pediatrics obstetrics respiratory emergency",
    ("tertiary", "childrens"): "pediatrics pediatric_respiratory neonatology surgery emergency",
    ("tertiary", "maternal_child"): "obstetrics gynaecology pediatrics pediatric_respiratory neonatology",
    ("secondary", "maternal_child"): "obstetrics gynaecology pediatrics neonatology",
    ("tertiary", "cancer"): "oncology radiotherapy surgery internal_medicine",
    ("tertiary", "tcm"): "tcm acupuncture internal_medicine pediatrics respiratory",
    ("secondary", "tcm"): "tcm acupuncture internal_medicine",
    ("chc", "general"): "general_practice child_health elderly_care",
}

# (tier, kind) per district: old-town districts hold the big tertiary centres, as in the real city.
_PLAN: dict[str, list[tuple[str, str]]] = {
    "440103": [("tertiary", "general"), ("secondary", "tcm"), ("chc", "general"), ("chc", "general")],
    "440104": [("tertiary", "general"), ("tertiary", "cancer"), ("tertiary", "childrens"), ("tertiary", "tcm"), ("chc", "general")],
    "440105": [("tertiary", "general"), ("secondary", "general"), ("chc", "general"), ("chc", "general")],
    "440106": [("tertiary", "general"), ("tertiary", "maternal_child"), ("secondary", "general"), ("chc", "general")],
    "440111": [("tertiary", "general"), ("secondary", "general"), ("secondary", "maternal_child"), ("chc", "general"), ("chc", "general")],
    "440112": [("secondary", "general"), ("chc", "general"), ("chc", "general")],
    "440113": [("tertiary", "general"), ("secondary", "maternal_child"), ("chc", "general"), ("chc", "general")],
    "440114": [("secondary", "general"), ("secondary", "maternal_child"), ("chc", "general")],
    "440115": [("secondary", "general"), ("chc", "general"), ("chc", "general")],
    "440117": [("secondary", "general"), ("secondary", "tcm"), ("chc", "general")],
    "440118": [("secondary", "general"), ("secondary", "maternal_child"), ("chc", "general"), ("chc", "general")],
}

# Fictional given names for facilities (not the names of real Guangzhou hospitals).
_WORDS = [
    ("嘉禾", "Jiahe"), ("仁和", "Renhe"), ("康宁", "Kangning"), ("博爱", "Boai"), ("惠民", "Huimin"),
    ("安泰", "Antai"), ("长青", "Changqing"), ("明德", "Mingde"), ("和顺", "Heshun"), ("瑞祥", "Ruixiang"),
    ("永宁", "Yongning"), ("福寿", "Fushou"), ("松柏", "Songbai"), ("青禾", "Qinghe"), ("云溪", "Yunxi"),
    ("荔湖", "Lihu"), ("兰台", "Lantai"), ("桂苑", "Guiyuan"), ("梅岭", "Meiling"), ("德馨", "Dexin"),
    ("宁远", "Ningyuan"), ("平安", "Ping'an"), ("春晖", "Chunhui"), ("晨光", "Chenguang"), ("启明", "Qiming"),
    ("华康", "Huakang"), ("锦绣", "Jinxiu"), ("翠林", "Cuilin"), ("静安", "Jing'an"), ("泰和", "Taihe"),
    ("东篱", "Dongli"), ("南屏", "Nanping"), ("西岭", "Xiling"), ("北辰", "Beichen"), ("星海", "Xinghai"),
    ("丰泽", "Fengze"), ("嘉园", "Jiayuan"), ("景和", "Jinghe"), ("清源", "Qingyuan"), ("益寿", "Yishou"),
    ("时雨", "Shiyu"), ("沐春", "Muchun"), ("颐和", "Yihe"), ("崇德", "Chongde"), ("汇康", "Huikang"),
]
_KIND_NAME = {
    ("tertiary", "general"): ("医院", "Hospital"),
    ("secondary", "general"): ("医院", "Hospital"),
    ("tertiary", "childrens"): ("儿童医院", "Children's Hospital"),
    ("tertiary", "maternal_child"): ("妇女儿童医疗中心", "Women and Children's Medical Centre"),
    ("secondary", "maternal_child"): ("妇幼保健院", "Maternal and Child Health Hospital"),
    ("tertiary", "cancer"): ("肿瘤医院", "Cancer Hospital"),
    ("tertiary", "tcm"): ("中医医院", "TCM Hospital"),
    ("secondary", "tcm"): ("中医医院", "TCM Hospital"),
    ("chc", "general"): ("社区卫生服务中心", "Community Health Centre"),
}
SYNTHETIC_ZH = "（虚构）"
SYNTHETIC_EN = " (synthetic)"


def _sample_inside(polygon, rng: np.random.Generator):
    """A point well inside the polygon, so the marker sits visibly in its own district."""
    from shapely import Point

    inner = polygon.buffer(-0.01)
    target = inner if not inner.is_empty and inner.area > polygon.area * 0.05 else polygon
    minx, miny, maxx, maxy = target.bounds
    while True:
        p = Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy))
        if target.contains(p):
            return p


def build_registry(seed: int = SEED) -> pd.DataFrame:
    from shapely.geometry import shape

    rng = np.random.default_rng(seed)
    shapes = {f["properties"]["adcode"]: shape(f["geometry"]) for f in district_geojson()["features"]}
    names = districts().set_index("adcode")
    words = list(_WORDS)
    order = rng.permutation(len(words))
    rows = []
    n = 0
    for adcode, plan in _PLAN.items():
        for tier, kind in plan:
            word_zh, word_en = words[order[n]]
            n += 1
            suffix_zh, suffix_en = _KIND_NAME[(tier, kind)]
            d_zh = names.loc[adcode, "name_zh"].removesuffix("区")
            d_en = names.loc[adcode, "name_en"]
            p = _sample_inside(shapes[adcode], rng)
            rows.append(
                {
                    "facility_id": f"F{adcode[-2:]}{len([r for r in rows if r['district'] == adcode]) + 1:02d}",
                    "name_zh": f"{d_zh}{word_zh}{suffix_zh}{SYNTHETIC_ZH}",
                    "name_en": f"{d_en} {word_en} {suffix_en}{SYNTHETIC_EN}",
                    "district": adcode,
                    "tier": tier,
                    "kind": kind,
                    "lon": round(p.x, 5),
                    "lat": round(p.y, 5),
                    "departments": _DEPTS_BY[(tier, kind)],
                }
            )
    return pd.DataFrame(rows)


@cache
def _facilities() -> pd.DataFrame:
    return pd.read_csv(CSV, dtype={"district": str, "facility_id": str})


def facilities() -> pd.DataFrame:
    """The committed registry: facility_id, names, district (adcode), tier, kind, lon, lat, departments."""
    return _facilities().copy()


def facility_ids() -> frozenset[str]:
    return frozenset(_facilities()["facility_id"])


if __name__ == "__main__":
    reg = build_registry()
    reg.to_csv(CSV, index=False)
    import logging

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger(__name__).info("wrote %s: %d facilities in %d districts", CSV, len(reg), reg["district"].nunique())

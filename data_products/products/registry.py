"""The products of the space and who may hold a standing scenario for each.

Everything else (companies, and hospitals for products they do not produce) needs an approved
scenario: one organisation, one purpose, one time window (一场景一授权).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Product:
    id: str
    name_zh: str
    name_en: str
    # Organisation types granted a standing scenario when the deployment is set up.
    standing: tuple[str, ...]
    # Organisation types that may apply (or, for companies, order) for it.
    applicable_by: tuple[str, ...]
    # Hospitals see their own facility by name and peers anonymised; companies see no facility names.
    facility_level: bool
    # A product built from one hospital's data: that hospital holds a standing scenario for it.
    producer_facility: str | None = None


PRODUCTS: dict[str, Product] = {
    p.id: p
    for p in (
        Product("pneumonia_atlas", "儿童肺炎常用感染指标分布图谱", "Pediatric pneumonia infection-marker atlas",
                ("commission", "hospital"), ("company",), True),
        Product("tumor_distribution", "不同瘤种诊断的患者在广州医疗机构分布图谱", "Tumor patients across Guangzhou's facilities",
                ("commission", "hospital"), ("company",), True),
        Product("wait_times", "候诊时间估计", "Outpatient wait-time estimates",
                ("commission", "hospital"), ("company",), True),
        Product("jaundice_report", "新生儿黄疸仪设备测试评估报告", "Neonatal jaundice device evaluation report",
                ("commission",), ("company", "hospital"), False, producer_facility="F0602"),
        Product("elderly_weight_atlas", "基层老年人体重指标图谱", "Primary-care elderly body-weight atlas",
                ("commission", "hospital"), ("company",), True),
        Product("supplier_quality", "数据供给方质量报告", "Supplier data-quality report",
                ("commission", "hospital"), (), True),
    )
}

ACTIONS = ("view", "download")


def product(product_id: str) -> Product:
    try:
        return PRODUCTS[product_id]
    except KeyError:
        raise KeyError(f"unknown product {product_id!r}; known: {sorted(PRODUCTS)}") from None

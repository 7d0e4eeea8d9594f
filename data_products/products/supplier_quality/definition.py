"""The supplier data-quality report's definition: what the registry lists. It has no page of its own:
hospitals read it on "My hospital"."""

from data_products.products.base import Access, Indicators, ProductDefinition
from data_products.products.supplier_quality import PRODUCT_ID, release, views

DEFINITION = ProductDefinition(
    id=PRODUCT_ID,
    name_zh="数据供给方质量报告",
    name_en="Supplier data-quality report",
    access=Access(standing=("commission", "hospital"), applicable_by=(), facility_level=True),
    tables={"transfer_rows": release.DIMS},
    build=release.build,
    release_module=release,
    check=release.check,
    views=views,
    indicators=Indicators(views.facility_comparison, views.metric_label),
)

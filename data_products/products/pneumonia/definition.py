"""The pneumonia atlas's definition: what the registry lists."""

from data_products.products.base import Access, CatalogEntry, Indicators, Page, ProductDefinition
from data_products.products.pneumonia import labels, release, spark, views
from data_products.products.pneumonia.spec import PRODUCT_ID

DEFINITION = ProductDefinition(
    id=PRODUCT_ID,
    name_zh="儿童肺炎常用感染指标分布图谱",
    name_en="Pediatric pneumonia infection-marker atlas",
    access=Access(standing=("commission", "hospital"), applicable_by=("company",), facility_level=True),
    tables={**release.DIMS, "pathogen_markers": ("pathogen", "age_band")},
    links=release.LINKS,
    build=release.build,
    release_module=release,
    check=release.check,
    spark=spark,
    views=views,
    page=Page("pneumonia.py", "pneumonia", ":material/pulmonology:", "儿童肺炎感染指标图谱", "Pediatric pneumonia atlas"),
    indicators=Indicators(views.facility_comparison, labels.metric_label),
    catalog=CatalogEntry("ds_pneumonia_markers"),
    messages=labels.MESSAGES,
)

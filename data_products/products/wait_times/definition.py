"""The wait-time product's definition: what the registry lists."""

from data_products.products.base import Access, CatalogEntry, Page, ProductDefinition
from data_products.products.wait_times import release, spark, views
from data_products.products.wait_times.spec import PRODUCT_ID

DEFINITION = ProductDefinition(
    id=PRODUCT_ID,
    name_zh="候诊时间估计",
    name_en="Outpatient wait-time estimates",
    access=Access(standing=("commission", "hospital"), applicable_by=("company",), facility_level=True),
    tables=release.DIMS,
    links=release.LINKS,
    build=release.build,
    release_module=release,
    check=release.check,
    spark=spark,
    views=views,
    page=Page("wait_times.py", "wait-times", ":material/schedule:", "候诊时间估计", "Outpatient wait times"),
    front_pages=(Page("wait_board.py", "wait-board", ":material/timer:", "各院候诊看板", "Waiting times now"),),
    catalog=CatalogEntry("ds_outpatient_visits"),
)

"""The elderly body-weight atlas's definition: what the registry lists."""

from data_products.products.base import Access, CatalogEntry, Indicators, Page, ProductDefinition
from data_products.products.elderly_weight import release, views
from data_products.products.elderly_weight.spec import PRODUCT_ID

DEFINITION = ProductDefinition(
    id=PRODUCT_ID,
    name_zh="基层老年人体重指标图谱",
    name_en="Primary-care elderly body-weight atlas",
    access=Access(standing=("commission", "hospital"), applicable_by=("company",), facility_level=True),
    tables=release.DIMS,
    links=release.LINKS,
    build=release.build,
    release_module=release,
    check=release.check,
    views=views,
    page=Page("elderly_weight.py", "elderly-weight", ":material/monitor_weight:", "老年人体重指标图谱",
              "Elderly body-weight atlas"),
    indicators=Indicators(views.facility_comparison, views.metric_label),
    catalog=CatalogEntry("ds_elderly_weight"),
)

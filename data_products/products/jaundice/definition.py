"""The jaundice device report's definition: what the registry lists."""

from data_products.products.base import Access, CatalogEntry, Page, ProductDefinition
from data_products.products.jaundice import release, views
from data_products.products.jaundice.spec import MESSAGES, NAME, PRODUCT_ID

DEFINITION = ProductDefinition(
    id=PRODUCT_ID,
    name_zh=NAME["zh"],
    name_en=NAME["en"],
    # Built from one hospital's data: the company that bought it and other hospitals apply; the producer holds it.
    access=Access(standing=("commission",), applicable_by=("company", "hospital"), facility_level=False,
                  producer_facility="F0602"),
    tables={**release.GRID_DIMS, "diagnostic": ("threshold", *release.DIAG_DIMS), "subgroups": ("dimension", "level")},
    links=release.LINKS,
    build=release.build,
    release_module=release,
    check=release.check,
    views=views,
    page=Page("jaundice.py", "jaundice", ":material/child_care:", "新生儿黄疸仪评估报告", "Neonatal jaundice device report"),
    catalog=CatalogEntry("ds_neonatal_bilirubin"),
    messages=MESSAGES,
)

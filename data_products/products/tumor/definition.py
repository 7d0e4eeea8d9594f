"""The tumor-distribution product's definition: what the registry lists."""

from data_products.products.base import Access, CatalogEntry, Page, ProductDefinition
from data_products.products.tumor import release, views
from data_products.products.tumor.spec import DIMS, PRODUCT_ID

DEFINITION = ProductDefinition(
    id=PRODUCT_ID,
    name_zh="不同瘤种诊断的患者在广州医疗机构分布图谱",
    name_en="Tumor patients across Guangzhou's facilities",
    access=Access(standing=("commission", "hospital"), applicable_by=("company",), facility_level=True),
    tables=DIMS,
    links=release.LINKS,
    build=release.build,
    release_module=release,
    check=release.check,
    views=views,
    page=Page("tumor.py", "tumor", ":material/oncology:", "肿瘤患者机构分布", "Tumor patients by facility"),
    catalog=CatalogEntry("ds_tumor_diagnosis"),
)

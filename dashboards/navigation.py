"""The pages of the app and who may see each in the navigation.

A product page is registered only when the gate says the user could open that product now
(``visible_products``); role pages only for their roles. A page that is not registered does not exist
for that session: opening its URL shows Streamlit's "page not found".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from data_products.i18n import register

register({
    "nav.analyses": {"zh": "我的分析", "en": "My analyses"},
    "nav.analysis_review": {"zh": "分析结果审核", "en": "Analysis review"},
})

VIEWS = Path(__file__).parent / "views"


@dataclass(frozen=True)
class PageSpec:
    file: str
    url: str
    title_key: str
    icon: str
    section: str  # nav.section.* key
    product: str | None = None
    roles: tuple[str, ...] | None = None  # None: every signed-in role


PAGES = (
    PageSpec("overview.py", "overview", "nav.overview", ":material/map:", "nav.section.space"),
    PageSpec("catalog.py", "catalog", "nav.catalog", ":material/menu_book:", "nav.section.space"),
    PageSpec("pneumonia.py", "pneumonia", "nav.pneumonia", ":material/pulmonology:", "nav.section.products", product="pneumonia_atlas"),
    PageSpec("tumor.py", "tumor", "nav.tumor", ":material/oncology:", "nav.section.products", product="tumor_distribution"),
    PageSpec("wait_times.py", "wait-times", "nav.wait_times", ":material/schedule:", "nav.section.products", product="wait_times"),
    PageSpec("jaundice.py", "jaundice", "nav.jaundice", ":material/child_care:", "nav.section.products", product="jaundice_report"),
    PageSpec("elderly_weight.py", "elderly-weight", "nav.elderly_weight", ":material/monitor_weight:", "nav.section.products",
             product="elderly_weight_atlas"),
    PageSpec("my_hospital.py", "my-hospital", "nav.my_hospital", ":material/local_hospital:", "nav.section.mine", roles=("hospital",)),
    PageSpec("analyses.py", "analyses", "nav.analyses", ":material/query_stats:", "nav.section.mine",
             roles=("company", "hospital")),
    PageSpec("analysis_review.py", "analysis-review", "nav.analysis_review", ":material/fact_check:",
             "nav.section.governance", roles=("commission_official", "commission_analyst")),
    PageSpec("scenarios.py", "scenarios", "nav.scenarios", ":material/approval:", "nav.section.governance",
             roles=("commission_official", "commission_analyst")),
    PageSpec("audit.py", "audit", "nav.audit", ":material/receipt_long:", "nav.section.governance",
             roles=("commission_official", "commission_analyst")),
)


def allowed_pages(role: str, visible_products: set[str]) -> list[PageSpec]:
    out = []
    for spec in PAGES:
        if not (VIEWS / spec.file).exists():
            continue
        if spec.roles is not None and role not in spec.roles:
            continue
        if spec.product is not None and spec.product not in visible_products:
            continue
        out.append(spec)
    return out

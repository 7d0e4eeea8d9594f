"""The pages of the app and who may see each in the navigation.

Product pages come from the product definitions (``products.registry``): a product page is
registered only when the gate says the user could open that product now (``visible_products``).
The other pages belong to an area the gate's role policy opens (``allowed(user, "area.open", area)``,
from the role the governance store holds now). A page that is not registered does not exist for that
session: opening its URL shows Streamlit's "page not found".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from data_products.governance import Principal, allowed
from data_products.i18n import pick, t
from data_products.products.registry import all_products

MESSAGES = {
    "nav.analyses": {"zh": "我的分析", "en": "My analyses"},
    "nav.analysis_review": {"zh": "分析结果审核", "en": "Analysis review"},
}

VIEWS = Path(__file__).parent / "views"


@dataclass(frozen=True)
class PageSpec:
    file: str
    url: str
    icon: str
    section: str  # nav.section.* key
    title_key: str | None = None  # pages of the app; a product page's title is its definition's
    title_zh: str = ""
    title_en: str = ""
    product: str | None = None
    area: str | None = None  # None: every signed-in user

    def title(self, lang: str) -> str:
        return t(self.title_key, lang) if self.title_key else pick(lang, self.title_zh, self.title_en)


_SPACE = (
    PageSpec("overview.py", "overview", ":material/map:", "nav.section.space", "nav.overview"),
    PageSpec("catalog.py", "catalog", ":material/menu_book:", "nav.section.space", "nav.catalog"),
)
_AREAS = (
    PageSpec("my_hospital.py", "my-hospital", ":material/local_hospital:", "nav.section.mine", "nav.my_hospital",
             area="my_hospital"),
    PageSpec("analyses.py", "analyses", ":material/query_stats:", "nav.section.mine", "nav.analyses", area="analyses"),
    PageSpec("analysis_review.py", "analysis-review", ":material/fact_check:", "nav.section.governance",
             "nav.analysis_review", area="analysis_review"),
    PageSpec("scenarios.py", "scenarios", ":material/approval:", "nav.section.governance", "nav.scenarios",
             area="scenarios"),
    PageSpec("audit.py", "audit", ":material/receipt_long:", "nav.section.governance", "nav.audit", area="audit"),
)


def pages() -> tuple[PageSpec, ...]:
    """Every page: the space's, one per product definition with a page, then the areas'."""
    products = tuple(
        PageSpec(pg.file, pg.url, pg.icon, pg.section, title_zh=pg.nav_zh, title_en=pg.nav_en, product=d.id)
        for d in all_products().values() if d.page is not None for pg in (*d.front_pages, d.page)
    )
    return (*_SPACE, *products, *_AREAS)


def allowed_pages(user: Principal, visible_products: set[str]) -> list[PageSpec]:
    out = []
    for spec in pages():
        if not (VIEWS / spec.file).exists():
            continue
        if spec.area is not None and not allowed(user, "area.open", spec.area):
            continue
        if spec.product is not None and spec.product not in visible_products:
            continue
        out.append(spec)
    return out

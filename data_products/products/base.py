"""What a data product is: one typed definition per product package, listed in ``registry``.

A product package exports ``DEFINITION`` (in its ``definition`` module): its identity and names in both
languages, who may use it (``Access``), the tables it releases and the links between them that
disclosure control protects, how it is built and checked, its view functions, its page, its indicators
for "My hospital" and its catalog entry. The pipeline, the gate (through ``governance.policy``), the
catalog, the navigation and My hospital all read these definitions; nothing else lists products.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pandas as pd

from data_products import approved

if TYPE_CHECKING:
    import duckdb

    from data_products.disclosure import Link
    from data_products.governance.gate import Grant


@dataclass
class Candidate:
    """What a product's ``build`` returns: its tables and metadata, before the pipeline stamps and writes it."""

    product_id: str
    tables: dict[str, pd.DataFrame]
    meta: dict


@dataclass(frozen=True)
class Access:
    """Who may use the product."""

    # Organisation types granted a standing scenario when the deployment is set up.
    standing: tuple[str, ...]
    # Organisation types that may apply (or, for companies, order) for it.
    applicable_by: tuple[str, ...]
    # Hospitals see their own facility by name and peers anonymised; companies see no facility names.
    facility_level: bool
    # A product built from one hospital's data: that hospital holds a standing scenario for it.
    producer_facility: str | None = None


@dataclass(frozen=True)
class Page:
    """The product's dashboard page: ``dashboards/views/<file>``, served at ``/<url>``."""

    file: str
    url: str
    icon: str
    # Short titles for the navigation (the product's full names are on the page itself).
    nav_zh: str
    nav_en: str
    section: str = "nav.section.products"


@dataclass(frozen=True)
class Indicators:
    """The product's rows on "My hospital": ``compare(grant)`` returns a frame indexed by metric with
    columns own, own_suppressed, facilities, p25, median, p75, percentile_rank; ``label(metric, lang)``
    names a row."""

    compare: Callable[[Grant], pd.DataFrame]
    label: Callable[[str, str], str]


COMPARISON_COLUMNS = ("own", "own_suppressed", "facilities", "p25", "median", "p75", "percentile_rank")


@dataclass(frozen=True)
class CatalogEntry:
    """Where the product sits in the catalog: the dataset (``catalog_data/datasets.json``) behind it."""

    dataset: str | None
    summary_zh: str = ""
    summary_en: str = ""


@dataclass(frozen=True)
class ProductDefinition:
    id: str
    name_zh: str
    name_en: str
    access: Access
    # Released tables and their dimensions, and the links disclosure control protects across them.
    tables: Mapping[str, tuple[str, ...]]
    build: Callable[[duckdb.DuckDBPyConnection], Candidate]
    check: Callable[[dict[str, pd.DataFrame], dict], list[str]]
    links: tuple[Link, ...] = ()
    views: ModuleType | None = field(default=None, repr=False)
    # The release module behind build and check (what the pipeline's protection over time reads:
    # ``count_tables``, ``PROCESS_LAST``); None for a product whose build needs no more.
    release_module: ModuleType | None = field(default=None, repr=False)
    # The aggregation on Apache Spark: a module with ``source(spark_source)`` (what it reads, counted once)
    # and the record-reading functions ``build`` takes as ``agg``. None: the product builds on DuckDB only.
    spark: ModuleType | None = field(default=None, repr=False)
    page: Page | None = None
    # Further pages of the same product, listed before ``page`` (the wait-time board before its slot view).
    front_pages: tuple[Page, ...] = ()
    indicators: Indicators | None = None
    catalog: CatalogEntry = CatalogEntry(None)
    # The product's UI messages (``i18n`` form: key -> {"zh", "en"}); the catalogue reads them from the registry.
    messages: Mapping[str, Mapping[str, str]] = field(default_factory=dict, repr=False)

    # The access policy, read flat by governance (``governance.policy.ProductPolicy``).
    @property
    def standing(self) -> tuple[str, ...]:
        return self.access.standing

    @property
    def applicable_by(self) -> tuple[str, ...]:
        return self.access.applicable_by

    @property
    def facility_level(self) -> bool:
        return self.access.facility_level

    @property
    def producer_facility(self) -> str | None:
        return self.access.producer_facility

    def name(self, lang: str) -> str:
        return self.name_en if lang == "en" else self.name_zh

    def release(self) -> approved.Release:
        """The current approved release (``approved.NoRelease``, a ``LookupError``, when there is none)."""
        return approved.current(self.id)


def describe(definition: ProductDefinition) -> dict[str, Any]:
    """The definition as plain data (for the catalog's JSON and for tests)."""
    return {
        "product_id": definition.id, "name_zh": definition.name_zh, "name_en": definition.name_en,
        "standing": list(definition.standing), "applicable_by": list(definition.applicable_by),
        "facility_level": definition.facility_level, "producer_facility": definition.producer_facility,
        "tables": {k: list(v) for k, v in definition.tables.items()},
        "page": definition.page.url if definition.page else None,
        "dataset": definition.catalog.dataset,
    }

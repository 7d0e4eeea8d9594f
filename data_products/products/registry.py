"""The products of the space, written out: one line per product package's definition.

Adding a product is one new package (exporting ``DEFINITION`` from its ``definition`` module) and one
line here. The pipeline, the gate, the catalog, the navigation and My hospital read this list; nothing
discovers products by walking packages.
"""

from __future__ import annotations

from data_products.governance import policy
from data_products.governance.policy import ACTIONS
from data_products.products.base import ProductDefinition
from data_products.products.elderly_weight.definition import DEFINITION as ELDERLY_WEIGHT
from data_products.products.jaundice.definition import DEFINITION as JAUNDICE
from data_products.products.pneumonia.definition import DEFINITION as PNEUMONIA
from data_products.products.supplier_quality.definition import DEFINITION as SUPPLIER_QUALITY
from data_products.products.tumor.definition import DEFINITION as TUMOR
from data_products.products.wait_times.definition import DEFINITION as WAIT_TIMES

DEFINITIONS: tuple[ProductDefinition, ...] = (
    PNEUMONIA,
    TUMOR,
    WAIT_TIMES,
    JAUNDICE,
    ELDERLY_WEIGHT,
    SUPPLIER_QUALITY,
)

__all__ = ["ACTIONS", "DEFINITIONS", "PRODUCTS", "all_products", "product"]


def all_products() -> dict[str, ProductDefinition]:
    """Product id -> definition, in registry order (read from ``DEFINITIONS`` on every call)."""
    out: dict[str, ProductDefinition] = {}
    for d in DEFINITIONS:
        if d.id in out:
            raise ValueError(f"registry: product id {d.id!r} is defined twice")
        out[d.id] = d
    return out


def product(product_id: str) -> ProductDefinition:
    try:
        return all_products()[product_id]
    except KeyError:
        raise KeyError(f"unknown product {product_id!r}; known: {sorted(all_products())}") from None


class _Products(dict):
    """``PRODUCTS[id]`` for the callers that index by id; always the registry's current list."""

    def _now(self) -> dict[str, ProductDefinition]:
        return all_products()

    def __getitem__(self, key):
        return self._now()[key]

    def __contains__(self, key):
        return key in self._now()

    def __iter__(self):
        return iter(self._now())

    def __len__(self):
        return len(self._now())

    def get(self, key, default=None):
        return self._now().get(key, default)

    def keys(self):
        return self._now().keys()

    def values(self):
        return self._now().values()

    def items(self):
        return self._now().items()


PRODUCTS = _Products()

# Governance sits below the products and cannot import them: the registry hands it the directory.
policy.install(all_products)

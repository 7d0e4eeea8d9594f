"""The products of the space, written out: one line per product package's definition.

Adding a product is one new package (exporting ``DEFINITION`` from its ``definition`` module) and one
line here. The pipeline, the gate, the catalog, the navigation and My hospital read this list; nothing
discovers products by walking packages.
"""

from __future__ import annotations

from collections.abc import Mapping

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

__all__ = ["ACTIONS", "DEFINITIONS", "all_products", "messages", "product"]


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


def messages() -> tuple[Mapping[str, Mapping[str, str]], ...]:
    """Each product's UI messages (the ``i18n`` catalogue reads them here: ``data_products.MESSAGE_SOURCES``)."""
    return tuple(d.messages for d in DEFINITIONS if d.messages)

"""Registry of "facility indicator" view functions for the My-hospital page.

Each entry names a product and a view ``f(user) -> DataFrame`` indexed by metric with columns
own, own_suppressed, facilities, p25, median, p75, percentile_rank (see the pneumonia product's
``facility_comparison``). Products whose views module does not exist yet are skipped, so a
product plugs in by adding a line here once its views are written.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import pandas as pd

from data_products.governance import Principal

FACILITY_INDICATORS: dict[str, str] = {
    "pneumonia_atlas": "data_products.products.pneumonia.views:facility_comparison",
    "tumor_distribution": "data_products.products.tumor.views:facility_comparison",
    "wait_times": "data_products.products.wait_times.views:facility_comparison",
    "elderly_weight_atlas": "data_products.products.elderly_weight.views:facility_comparison",
    "supplier_quality": "data_products.products.supplier_quality.views:facility_comparison",
}
COLUMNS = ("own", "own_suppressed", "facilities", "p25", "median", "p75", "percentile_rank")


def register(product_id: str, target: str) -> None:
    FACILITY_INDICATORS[product_id] = target


def available() -> dict[str, Callable[[Principal], pd.DataFrame]]:
    """product id -> view function, for the entries whose module and function exist."""
    out = {}
    for product_id, target in FACILITY_INDICATORS.items():
        module, _, name = target.partition(":")
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name and module.startswith(exc.name):
                continue
            raise
        fn = getattr(mod, name, None)
        if callable(fn):
            out[product_id] = fn
    return out

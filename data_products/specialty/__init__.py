"""The specialty datasets' contracts: data dictionaries, code lists, derived fields and column control lists.

A neutral layer: the hospital generators, the restricted-zone ingest, the analyses and the catalog all
read the same dictionary, and this package imports none of them.
"""

from data_products.specialty.dictionary import CCL_RULES, DICTIONARIES, Dictionary, Field, dictionary

__all__ = ["CCL_RULES", "DICTIONARIES", "Dictionary", "Field", "dictionary"]

from data_products.specialty import cerebrovascular as _cvd  # noqa: E402,F401  (registers)
from data_products.specialty import infarction as _ci  # noqa: E402,F401
from data_products.specialty import liver as _lc  # noqa: E402,F401

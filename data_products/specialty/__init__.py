"""The specialty datasets' contracts: data dictionaries, code lists, derived fields and column control lists.

A neutral layer: the hospital generators, the restricted-zone ingest, the analyses and the catalog all
read the same dictionary, and this package imports none of them.
"""

from data_products.specialty.dictionary import CCL_RULES, Dictionary, Field
from data_products.specialty.registry import DICTIONARIES, dictionary

__all__ = ["CCL_RULES", "DICTIONARIES", "Dictionary", "Field", "dictionary"]

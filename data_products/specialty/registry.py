"""The usable specialty datasets, written out: a new one is its module (declaring ``DICTIONARY``) plus its
name in the import below. Nothing is imported or registered until the registry is first asked."""

from __future__ import annotations

from data_products.declared import Declared
from data_products.specialty.dictionary import Dictionary


def _declared() -> list[Dictionary]:
    from data_products.specialty import cerebrovascular, infarction, liver

    return [m.DICTIONARY for m in (cerebrovascular, infarction, liver)]


DICTIONARIES: Declared[Dictionary] = Declared("usable dataset", _declared, key=lambda d: d.dataset_id)


def dictionary(dataset_id: str) -> Dictionary:
    return DICTIONARIES[dataset_id]


def by_kind(kind: str) -> Dictionary:
    for d in DICTIONARIES.values():
        if d.kind == kind:
            return d
    raise KeyError(f"no dictionary for kind {kind!r}")

"""The hospital extract kinds, written out: a new kind is its module (declaring its ``Kind`` as
``GENERATOR``) plus its name in the import below. Nothing is imported or registered until the registry
is first asked."""

from __future__ import annotations

from data_products.declared import Declared
from data_products.hospital.kinds import Kind


def _declared() -> list[Kind]:
    from data_products.hospital import (
        bilirubin,
        cerebrovascular,
        elderly,
        infarction,
        liver,
        pneumonia,
        tumor,
        visits,
    )

    return [m.GENERATOR for m in (bilirubin, cerebrovascular, elderly, infarction, liver, pneumonia, tumor, visits)]


KINDS: Declared[Kind] = Declared("kind", _declared, key=lambda k: k.name)


def get_kind(name: str) -> Kind:
    return KINDS[name]

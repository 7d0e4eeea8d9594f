"""The ingest specs, written out: a new kind is its module (declaring ``SPECS``, a tuple) plus its name in
the import below. Nothing is imported or registered until the registry is first asked."""

from __future__ import annotations

from data_products.declared import Declared
from data_products.restricted.specs import IngestSpec, plain_names


def _declared() -> list[IngestSpec]:
    from data_products.restricted import bilirubin, elderly, pneumonia, specialty, tumor, visits

    return [spec for m in (bilirubin, elderly, pneumonia, specialty, tumor, visits) for spec in m.SPECS]


# Kind and table names are written into SQL (DDL, table names): ``plain_names`` refuses any other.
SPECS: Declared[IngestSpec] = Declared("ingest spec for kind", _declared, key=lambda spec: spec.kind,
                                       check=plain_names)


def get_spec(kind: str) -> IngestSpec:
    return SPECS[kind]

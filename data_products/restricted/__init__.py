"""The restricted zone: validate, de-identify and store hospital extracts (hospital -> space).

Importing the package registers every kind's ingest spec.
"""

from data_products.restricted.extract import Issue
from data_products.restricted.ingest import FileOutcome, IngestReport, ingest, ingest_cli, prepare
from data_products.restricted.specs import SPECS, IngestSpec, get_spec, register

__all__ = ["SPECS", "FileOutcome", "IngestReport", "IngestSpec", "Issue", "get_spec", "ingest", "ingest_cli",
           "prepare", "register"]

import importlib as _importlib
import pkgutil as _pkgutil

# Each kind's module registers its ingest spec on import; importing them all lets a kind plug in
# by adding its module.
for _m in _pkgutil.iter_modules(__path__):
    _importlib.import_module(f"{__name__}.{_m.name}")

"""The hospital domain: synthetic identified extracts, one folder per facility.

Nothing but the de-identification step (``data_products.restricted``) reads these files.
Importing the package registers every kind.
"""

from data_products.hospital.generate import GenerateReport, generate, generate_cli, sample
from data_products.hospital.kinds import KINDS, Chunk, Kind, TruthAccumulator, get_kind, register

__all__ = ["KINDS", "Chunk", "GenerateReport", "Kind", "TruthAccumulator", "generate", "generate_cli",
           "get_kind", "register", "sample"]

import importlib as _importlib
import pkgutil as _pkgutil

# Every module of this package that defines a kind registers it on import; importing them all here
# lets a new kind plug in by adding its module, without editing a list.
for _m in _pkgutil.iter_modules(__path__):
    _importlib.import_module(f"{__name__}.{_m.name}")

"""The hospital domain: synthetic identified extracts, one folder per facility.

Nothing but the de-identification step (``data_products.restricted``) reads these files.
Importing the package registers every kind listed at the end of this file.
"""

from data_products.hospital.generate import GenerateReport, generate, sample
from data_products.hospital.kinds import KINDS, Chunk, Kind, TruthAccumulator, get_kind, register

__all__ = ["KINDS", "Chunk", "GenerateReport", "Kind", "TruthAccumulator", "generate",
           "get_kind", "register", "sample"]

# The kinds, written out: a new kind is its module plus its name here (no package walking at import).
from data_products.hospital import (  # noqa: E402, F401, I001
    bilirubin,
    cerebrovascular,
    elderly,
    infarction,
    liver,
    pneumonia,
    tumor,
    visits,
)

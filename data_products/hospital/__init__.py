"""The hospital domain: synthetic identified extracts, one folder per facility.

Nothing but the de-identification step (``data_products.restricted``) reads these files.
The kinds are listed in ``registry`` and loaded on first use; importing registers nothing.
"""

from data_products.hospital.generate import GenerateReport, generate, sample
from data_products.hospital.kinds import Chunk, Kind, TruthAccumulator
from data_products.hospital.registry import KINDS, get_kind

__all__ = ["KINDS", "Chunk", "GenerateReport", "Kind", "TruthAccumulator", "generate",
           "get_kind", "sample"]

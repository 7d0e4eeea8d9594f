"""The restricted zone: validate, de-identify and store hospital extracts (hospital -> space).

The ingest specs are listed in ``registry`` and loaded on first use; importing registers nothing.
"""

from data_products.restricted.extract import Issue
from data_products.restricted.ingest import FileOutcome, IngestReport, ingest, prepare
from data_products.restricted.registry import SPECS, get_spec
from data_products.restricted.specs import IngestSpec

__all__ = ["SPECS", "FileOutcome", "IngestReport", "IngestSpec", "Issue", "get_spec", "ingest",
           "prepare"]

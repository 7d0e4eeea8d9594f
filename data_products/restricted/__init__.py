"""The restricted zone: validate, de-identify and store hospital extracts (hospital -> space).

Importing the package registers the ingest spec of every kind listed at the end of this file.
"""

from data_products.restricted.extract import Issue
from data_products.restricted.ingest import FileOutcome, IngestReport, ingest, prepare
from data_products.restricted.specs import SPECS, IngestSpec, get_spec, register

__all__ = ["SPECS", "FileOutcome", "IngestReport", "IngestSpec", "Issue", "get_spec", "ingest",
           "prepare", "register"]

# Each kind's ingest spec, written out: a new kind is its module plus its name here.
from data_products.restricted import bilirubin, elderly, pneumonia, specialty, tumor, visits  # noqa: E402, F401, I001

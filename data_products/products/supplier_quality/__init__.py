"""Supplier report: each facility's transfers and the data-quality checks on what it sent.

Built in the pipeline from the restricted zone (``data_products.quality``) so that the "My hospital"
page reads an approved aggregate release and never the restricted store.
"""

# Here, not in release.py, so the views (and pages) never import the builder side.
PRODUCT_ID = "supplier_quality"

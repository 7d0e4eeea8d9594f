"""Data products: one sub-package per product, each with a builder (restricted -> candidate release)
and views (approved release -> frames and figures for the pages)."""

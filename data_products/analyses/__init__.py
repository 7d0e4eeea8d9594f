"""Analyses inside the space: research scenarios per dataset, checked queries and models, output checks, review."""

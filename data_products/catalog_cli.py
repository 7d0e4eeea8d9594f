"""`dataspace catalog [--json]`: the command's printing; the catalog itself is in :mod:`data_products.catalog`."""

from __future__ import annotations

import json as _json

from data_products.catalog import datasets, products


def catalog_cli(json: bool = False) -> int:  # noqa: A002 - the flag is named like the CLI option
    """`dataspace catalog [--json]`: products and datasets (facility counts, never names)."""
    prods = products()
    sets = datasets(None)
    if json:
        print(_json.dumps({"products": prods, "datasets": sets}, ensure_ascii=False, indent=1, default=str))
        return 0
    print(f"{len(prods)} products:")
    for p in prods:
        print(f"  {p['product_id']:<22} {p['release_id'] or '(no approved release)'}")
    print(f"{len(sets)} datasets:")
    for d in sets:
        kind = ("descriptive" if d["descriptive"] else f"backs {d['product_id']}" if d["product_id"]
                else f"usable for analyses, rows={d['rows']}")
        print(f"  {d['id']:<28} {d['stage'] or '-':<22} facilities={d['facilities']!s:<4} {kind}")
    return 0

"""Write the hospital domain: per-facility identified extracts and the truth beside them.

    generate(paths(), seed=7, scale="demo")  ->  hospitals/<facility_id>/<kind>_<YYYY>.csv
                                                 hospitals/_truth/<kind>.json

Same seed, same bytes: every kind streams deterministic chunks, files are written in chunk order
with fixed formatting, and the truth JSON is dumped with sorted keys.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from data_products.config import Paths, paths
from data_products.hospital.kinds import KINDS, SCALES, get_kind

logger = logging.getLogger(__name__)

@dataclass
class GenerateReport:
    seed: int
    scale: str
    rows: dict[str, int] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)

    def summary(self) -> str:
        per_kind = ", ".join(f"{k}: {n:,} rows" for k, n in self.rows.items())
        return f"generated {len(self.files)} extracts (seed {self.seed}, {self.scale} scale): {per_kind}"


def generate(home_paths: Paths | None = None, seed: int = 7, scale: str = "demo",
             kinds: Iterable[str] | None = None) -> GenerateReport:
    p = (home_paths or paths()).ensure()
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; use one of {SCALES}")
    names = list(kinds) if kinds else list(KINDS)
    report = GenerateReport(seed=seed, scale=scale)
    p.truth.mkdir(parents=True, exist_ok=True)
    for name in names:
        kind = get_kind(name)
        n = kind.size(scale)
        # A previous run's files of this kind would mix with this run's: remove them first.
        for old in p.hospitals.glob(f"*/{kind.name}_*.csv"):
            old.unlink()
        truth = kind.truth_accumulator(seed, n)
        opened: dict[Path, object] = {}
        total = 0
        try:
            for chunk in kind.chunks(seed, n):
                truth.add(chunk)
                raw = chunk.raw
                total += len(raw)
                years = kind.file_year(raw)
                for (facility, year), part in raw.groupby([raw["facility_id"], years], sort=True):
                    target = p.hospitals / str(facility) / f"{kind.name}_{year:04d}.csv"
                    fh = opened.get(target)
                    if fh is None:
                        target.parent.mkdir(parents=True, exist_ok=True)
                        fh = opened[target] = target.open("w", encoding="utf-8", newline="")
                        part.to_csv(fh, index=False, lineterminator="\n")
                    else:
                        part.to_csv(fh, index=False, header=False, lineterminator="\n")
        finally:
            for fh in opened.values():
                fh.close()
        (p.truth / f"{kind.name}.json").write_text(
            json.dumps({**truth.result(), "scale": scale}, ensure_ascii=False, indent=1, sort_keys=True) + "\n",
            encoding="utf-8",
        )
        report.rows[kind.name] = total
        logger.info("generated %s: %d rows in %d files (seed %d, %s)", kind.name, total, len(opened), seed, scale)
        report.files.extend(sorted(opened))
    return report


def sample(kind: str, n: int, seed: int = 0):
    """n raw rows of a kind as an in-memory frame (all text, as read from an extract); no files."""
    return get_kind(kind).sample(n, seed)



"""What a kind of hospital extract is, and the registry later kinds plug into.

A kind (pediatric pneumonia episodes, tumor diagnoses, outpatient visits, ...) says which
facilities produce it, streams its rows as chunks (so a city-scale run holds one chunk at a time),
names the year each row is filed under, and accumulates the true figures the products should recover.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

SCALES = ("demo", "city")


@dataclass
class Chunk:
    """Rows in the extract's contract columns, plus hidden truth (latent classes) kept out of the files."""

    raw: pd.DataFrame
    latent: pd.DataFrame


class TruthAccumulator(ABC):
    @abstractmethod
    def add(self, chunk: Chunk) -> None: ...

    @abstractmethod
    def result(self) -> dict: ...


class Kind(ABC):
    name: str
    columns: tuple[str, ...]
    # Rows generated at each scale ('demo', 'city'); the kind's module-level dict, so a test can resize it.
    sizes: dict[str, int]
    # The text column (ISO date or timestamp) whose year files a row under ``<kind>_<YYYY>.csv``.
    date_column: str

    @abstractmethod
    def producers(self) -> list[str]:
        """Facility ids that export this kind."""

    def size(self, scale: str) -> int:
        """Rows generated at a scale ('demo' or 'city')."""
        try:
            return self.sizes[scale]
        except KeyError:
            raise ValueError(f"unknown scale {scale!r}; use one of {sorted(self.sizes)}") from None

    @abstractmethod
    def chunks(self, seed: int, n: int) -> Iterator[Chunk]:
        """Deterministic stream of chunks totalling about n rows, in the order files are written."""

    def file_year(self, raw: pd.DataFrame) -> pd.Series:
        """The calendar year each row is filed under (``<kind>_<YYYY>.csv``)."""
        return raw[self.date_column].str.slice(0, 4).astype(int)

    @abstractmethod
    def truth_accumulator(self, seed: int, n: int) -> TruthAccumulator: ...

    def sample(self, n: int, seed: int = 0) -> pd.DataFrame:
        """n raw rows in memory, no files (for benchmarks and tests)."""
        return pd.concat([c.raw for c in self.chunks(seed, n)], ignore_index=True)


KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    if kind.name in KINDS and KINDS[kind.name] is not kind:
        raise ValueError(f"kind {kind.name!r} registered twice")
    KINDS[kind.name] = kind
    return kind


def get_kind(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError:
        raise KeyError(f"unknown kind {name!r}; known: {sorted(KINDS)}") from None


def apportion(n: int, weights: np.ndarray) -> np.ndarray:
    """Split n rows over periods in proportion to weights, as whole numbers that sum to n
    (largest remainder), so a kind's monthly volumes follow its seasonal weights exactly."""
    raw = n * weights / weights.sum()
    counts = np.floor(raw).astype(int)
    counts[np.argsort(raw - counts)[::-1][: n - counts.sum()]] += 1
    return counts

"""What a kind of hospital extract is, and the registry later kinds plug into.

A kind (pediatric pneumonia episodes, tumor diagnoses, outpatient visits, ...) says which
facilities produce it, streams its rows as chunks (so a city-scale run holds one chunk at a time),
names the year each row is filed under, and accumulates the true figures the products should recover.
Each kind's module declares its instance as ``GENERATOR``; ``hospital.registry`` lists those modules.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

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

    def write(self, seed: int, n: int, root: Path, chunk_rows: int,
              progress: Callable[[int], None] | None = None) -> tuple[list[Path], int, TruthAccumulator]:
        """Stream n rows to ``root/<facility>/<kind>_<YYYY>.csv``; returns (files, rows, truth).

        The default writes each model chunk as it comes (pandas); a kind generated at city scale
        overrides it with a batched Arrow writer (``chunk_rows``)."""
        truth = self.truth_accumulator(seed, n)
        opened: dict[Path, object] = {}
        total = 0
        try:
            for chunk in self.chunks(seed, n):
                truth.add(chunk)
                raw = chunk.raw
                total += len(raw)
                years = self.file_year(raw)
                for (facility, year), part in raw.groupby([raw["facility_id"], years], sort=True):
                    target = root / str(facility) / f"{self.name}_{year:04d}.csv"
                    fh = opened.get(target)
                    if fh is None:
                        target.parent.mkdir(parents=True, exist_ok=True)
                        fh = opened[target] = target.open("w", encoding="utf-8", newline="")
                        part.to_csv(fh, index=False, lineterminator="\n")
                    else:
                        part.to_csv(fh, index=False, header=False, lineterminator="\n")
                if progress:
                    progress(len(raw))
        finally:
            for fh in opened.values():
                fh.close()
        return sorted(opened), total, truth

    def sample(self, n: int, seed: int = 0) -> pd.DataFrame:
        """n raw rows in memory, no files (for benchmarks and tests)."""
        return pd.concat([c.raw for c in self.chunks(seed, n)], ignore_index=True)


def apportion(n: int, weights: np.ndarray) -> np.ndarray:
    """Split n rows over periods in proportion to weights, as whole numbers that sum to n
    (largest remainder), so a kind's monthly volumes follow its seasonal weights exactly."""
    raw = n * weights / weights.sum()
    counts = np.floor(raw).astype(int)
    counts[np.argsort(raw - counts)[::-1][: n - counts.sum()]] += 1
    return counts


class StringPool:
    """Strings gathered by index as fixed-width bytes (numpy), then unpadded into an Arrow string array:
    several times faster than ``pa.Array.take`` on a pool of millions of random strings."""

    def __init__(self, values: np.ndarray) -> None:
        values = np.asarray(values)
        if values.dtype.kind == "S":  # ASCII already fixed-width (ID numbers, phones): nothing to pad
            self.width = max(1, values.dtype.itemsize)
            self.padded = np.ascontiguousarray(values.astype(f"S{self.width}"))
            self.lengths = np.strings.str_len(self.padded).astype(np.int32)
            return
        arr = pa.array(values.astype(str), pa.large_string())
        offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[: len(arr) + 1]
        data = np.frombuffer(arr.buffers()[2], dtype=np.uint8) if arr.buffers()[2] else np.zeros(0, np.uint8)
        self.lengths = np.diff(offsets).astype(np.int32)
        self.width = max(1, int(self.lengths.max()) if len(self.lengths) else 1)
        # Each row's bytes copied to the left of a zero-padded row of `width` bytes, in one flat scatter.
        padded = np.zeros(len(arr) * self.width, dtype=np.uint8)
        starts = np.arange(len(arr), dtype=np.int64) * self.width - (offsets[:-1] - offsets[0])
        padded[np.repeat(starts, self.lengths) + np.arange(int(offsets[-1] - offsets[0]))] = data[offsets[0]: offsets[-1]]
        self.padded = padded.view(f"S{self.width}")

    def __len__(self) -> int:
        return len(self.lengths)

    def take(self, who: np.ndarray) -> pa.StringArray:
        lens = self.lengths[who]
        raw = self.padded[who].view(np.uint8).reshape(len(who), self.width)
        data = raw[np.arange(self.width) < lens[:, None]] if len(who) and lens.min() < self.width else raw.ravel()
        offsets = np.zeros(len(who) + 1, dtype=np.int32)
        np.cumsum(lens, out=offsets[1:])
        return pa.StringArray.from_buffers(len(who), pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(data)))


class CsvFiles:
    """Per-facility, per-year extract files written from Arrow tables, header first, no quoting
    (generated values hold no comma, quote or line break; Arrow refuses one that would).

    Tables wait until ``chunk_rows`` rows are buffered, then each file gets its share in arrival
    order: the bytes of every file are the same whatever the chunk size."""

    def __init__(self, root: Path, kind: str, columns: tuple[str, ...], chunk_rows: int) -> None:
        if chunk_rows < 1:
            raise ValueError(f"chunk_rows must be positive, got {chunk_rows}")
        self.root, self.kind, self.columns, self.chunk_rows = root, kind, columns, chunk_rows
        self._pending: dict[Path, list[pa.Table]] = {}
        self._buffered = 0
        self._open: dict[Path, tuple[object, pacsv.CSVWriter]] = {}
        self._done: list[Path] = []

    def add(self, facility: str, year: int, table: pa.Table) -> None:
        target = self.root / facility / f"{self.kind}_{year:04d}.csv"
        self._pending.setdefault(target, []).append(table)
        self._buffered += table.num_rows
        if self._buffered >= self.chunk_rows:
            self.flush()

    def flush(self) -> None:
        for target, tables in self._pending.items():
            self._writer(target, tables[0].schema).write_table(pa.concat_tables(tables))
        self._pending.clear()
        self._buffered = 0

    def _writer(self, target: Path, schema: pa.Schema) -> pacsv.CSVWriter:
        if target not in self._open:
            target.parent.mkdir(parents=True, exist_ok=True)
            fh = target.open("wb")
            fh.write((",".join(self.columns) + "\n").encode("utf-8"))
            options = pacsv.WriteOptions(include_header=False, quoting_style="none", eol="\n")
            self._open[target] = (fh, pacsv.CSVWriter(fh, schema, write_options=options))
        return self._open[target][1]

    def close(self) -> None:
        try:
            self.flush()
        finally:
            for target, (fh, writer) in self._open.items():
                writer.close()
                fh.close()
                self._done.append(target)
            self._open.clear()

    def files(self) -> list[Path]:
        return sorted(self._done)

"""``dataspace method-compare``: the command's body (reads the CSV, writes the table or JSON, exit codes).

The statistics are in :mod:`.stats`, reading and formatting in :mod:`.method_compare`.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from data_products.products.jaundice import stats
from data_products.products.jaundice.method_compare import EXIT_INPUT, EXIT_OK, InputError, format_table, read_pairs


def method_compare(csv: Path, reference: str, test: str, error_ratio: float = 1.0, as_json: bool = False,
                   out: TextIO | None = None, err: TextIO | None = None, decision_levels: Sequence[float] = (),
                   tsb_threshold: float | None = None, tcb_cutoff: float | None = None) -> int:
    """CLI body: ``dataspace method-compare --csv FILE --reference COL --test COL [--error-ratio L] [--json]``.

    Optional extras: ``--level X`` (repeatable) for bias at decision levels, ``--threshold T`` and
    ``--cutoff C`` for diagnostic accuracy of ``test >= C`` (default C = T) against ``reference >= T``.
    Returns 0, or 2 after printing ``error: ...`` to ``err`` for any input problem.
    """
    out, err = out or sys.stdout, err or sys.stderr
    try:
        if not (math.isfinite(error_ratio) and error_ratio > 0):
            raise InputError(f"--error-ratio must be a positive number, got {error_ratio}")
        if tcb_cutoff is not None and tsb_threshold is None:
            raise InputError("--cutoff needs --threshold (the reference value that defines a positive case)")
        xs, ys = read_pairs(Path(csv), reference, test)
        thresholds = [] if tsb_threshold is None else [(tsb_threshold, tcb_cutoff)]
        try:
            res = stats.compare(xs, ys, error_ratio=error_ratio, decision_levels=decision_levels,
                                thresholds=thresholds, reference_name=reference, test_name=test)
        except ValueError as e:
            raise InputError(f"{csv}: {e}") from None
    except InputError as e:
        print(f"error: {e}", file=err)
        return EXIT_INPUT
    out.write(res.to_json(indent=2) + "\n" if as_json else format_table(res))
    return EXIT_OK

"""One benchmark stage in a fresh interpreter, so that its peak memory is its own. Its own module because
both benches (``bench`` and ``bench_visits``) use it and ``bench`` dispatches to ``bench_visits``."""
from __future__ import annotations

import pickle
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def peak_mb() -> float:
    """Peak resident memory of this process and of the children it waited for, in MB (Linux: KiB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024


def isolated(fn, *args) -> dict:
    """Run ``fn(*args)`` (a module-level function returning a dict) in a fresh interpreter, so that its peak
    memory is its own; returns that dict with ``peak_mb`` (if ``fn`` gave none) and ``wall_s``, or with
    ``error`` when it raised or the process died.

    Not multiprocessing's spawn: a spawned child re-runs the parent's ``__main__``, which is not always this
    program (after a Streamlit page script has run in the parent, it was that script, and the child died).
    """
    with tempfile.TemporaryDirectory(prefix="bench-child-") as work:
        job, result = Path(work) / "job.pickle", Path(work) / "result.pickle"
        job.write_bytes(pickle.dumps((fn, args)))
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", "from data_products.bench_child import _child_main; _child_main()",
                               str(job), str(result)], capture_output=True, text=True, check=False)
        wall = time.perf_counter() - t0
        if result.exists():
            out = pickle.loads(result.read_bytes())  # noqa: S301 - written by our own child in our own folder
        else:
            tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
            out = {"error": f"the child process ended with exit code {proc.returncode}: {tail}",
                   "peak_mb": float("nan")}
    out["wall_s"] = wall
    return out


def _child_main() -> None:
    job, result = Path(sys.argv[1]), Path(sys.argv[2])
    fn, args = pickle.loads(job.read_bytes())  # noqa: S301 - written by the parent, see isolated()
    try:
        out = fn(*args)
    except Exception as exc:  # reported, not raised: the parent says which stage failed
        out = {"error": f"{type(exc).__name__}: {exc}"}
    out.setdefault("peak_mb", peak_mb())
    result.write_bytes(pickle.dumps(out))

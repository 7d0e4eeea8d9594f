"""The command line: bad input exits 2 with the message on stderr (nothing on stdout), and only the
command line prints; the rest of the package logs with ``logging``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from data_products.cli import main as dataspace

ROOT = Path(__file__).resolve().parents[1]

BAD_INPUT = [
    (["generate", "--kind", "no_such_kind"], "no_such_kind"),
    (["generate", "--scale", "galaxy"], "galaxy"),
    (["scenarios", "list", "--state", "bogus"], "state"),
    (["method-compare", "--csv", "/nonexistent/pairs.csv", "--reference", "a", "--test", "b"], "/nonexistent/pairs.csv"),
    (["bench", "nothing"], "nothing"),
    (["bench", "browser"], "holds no approved demo build"),
    (["build"], "--demo"),
    (["process", "--product", "no_such_product"], "restricted.duckdb does not exist"),  # the first problem found
    (["no-such-command"], "no-such-command"),
]


@pytest.mark.parametrize(("argv", "named"), BAD_INPUT, ids=[" ".join(a) for a, _ in BAD_INPUT])
def test_bad_input_exits_2_with_the_message_on_stderr(home, capsys, argv, named):
    assert dataspace(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert named in err
    assert "Traceback" not in err
    # Nothing was generated or written for a refused command.
    assert not any(home.rglob("*.csv"))


def test_generate_and_ingest_report_on_stdout(home, capsys, monkeypatch):
    from data_products.hospital import KINDS

    monkeypatch.setitem(KINDS["bilirubin"].sizes, "demo", 60)
    assert dataspace(["generate", "--kind", "bilirubin", "--seed", "3"]) == 0
    assert capsys.readouterr().out.startswith("generated ")
    assert dataspace(["ingest"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ingest: ") and "0 rejected" in out


def test_long_work_shows_progress_when_asked_and_one_summary_line(home, capsys):
    """generate, ingest and process: a rich progress bar with rows/s and the time left on stderr when asked
    (never by default off a terminal), and one summary line on stdout."""
    assert dataspace(["generate", "--kind", "visits", "--rows", "6000", "--progress"]) == 0
    out, err = capsys.readouterr()
    assert out.count("\n") == 1 and out.startswith("generated 5 extracts") and "6,000 rows" in out
    assert "generate" in err and "rows/s" in err and "left" in err and "6,000 rows" in err
    assert dataspace(["ingest", "--progress"]) == 0
    out, err = capsys.readouterr()
    assert out.count("\n") == 1 and out.startswith("ingest: 5 accepted (6,000 rows)") and "rows/s" in out
    assert "ingest" in err and "rows/s" in err and "6,000 rows" in err
    assert dataspace(["process", "--product", "wait_times", "--progress"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[-1].startswith("processed 1 product(s) over 6,000 restricted rows")
    assert "process" in err and "rows/s" in err
    # Not a terminal and not asked: nothing on stderr.
    assert dataspace(["generate", "--kind", "visits", "--rows", "600"]) == 0
    assert capsys.readouterr().err == ""


# Modules that still print, each with the work that moves its printing into the command line. Nothing may
# be added; delete an entry when the module stops printing.
KNOWN_PRINTERS: dict[str, str] = {
    "data_products.bench": "benchmarks write their table through log=print",
    "data_products.governance.bench": "benchmark figures",
}


def _modules() -> dict[str, Path]:
    out = {}
    for f in (ROOT / "data_products").rglob("*.py"):
        parts = list(f.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = f
    return out


def test_only_the_command_line_prints():
    printers = set()
    for name, path in _modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if any(isinstance(n, ast.Name) and n.id == "print" for n in ast.walk(tree)):
            printers.add(name)
    # A module named cli is a command line's body (data_products.cli and the zones' cli modules it wires).
    unexpected = sorted(p for p in printers - set(KNOWN_PRINTERS) if not p.rpartition(".")[2].endswith("cli"))
    assert not unexpected, f"domain modules that print (log with logging instead): {unexpected}"
    stale = sorted(set(KNOWN_PRINTERS) - printers)
    assert not stale, f"no longer print; delete from KNOWN_PRINTERS: {stale}"

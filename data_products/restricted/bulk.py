"""Ingest in bulk inside DuckDB: a kind whose extracts come by the million is checked and
de-identified by the engine, straight from the CSV, without a Python object per cell.

A bulk spec declares its rules as SQL predicates over the text columns (and the typed values it
derives from them); one scan counts every rule's failures over the whole file, so a file's
problems are reported together (a value that is not a date is one problem; the range checks of
that value simply do not apply). Only a failing file is scanned again, to name the lines.
Pseudonyms are HMAC-SHA256 written out as its definition (RFC 2104) over DuckDB's ``sha256``:

    HMAC(K, m) = H((K' ^ opad) || H((K' ^ ipad) || m)),   K' = K zero-padded to 64 bytes

equal, byte for byte, to ``hmac.new(key, m, sha256)`` (tested against ``pseudonym.keyed_hashes``).
The pads are query parameters: the key never enters the SQL text, a macro or the catalog.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import duckdb

from data_products.restricted.extract import Issue

# Issues listed per rejected file (all are counted); the rest are summarised by rule.
MAX_LISTED = 200
FORMULA_LEAD_SQL = "('=', '+', '-', '@', chr(9), chr(13))"


@dataclass(frozen=True)
class Rule:
    field: str
    message: str
    fails: str  # SQL, TRUE where a row breaks the rule; NULL (a value another rule refused) passes


def hmac_sql(message: str) -> str:
    """SQL for lowercase-hex HMAC-SHA256 of a VARCHAR expression, with $opad/$ipad bound."""
    return f"sha256($opad || unhex(sha256($ipad || encode({message}))))"


def pads(key: bytes) -> dict[str, bytes]:
    import hashlib

    block = hashlib.sha256(key).digest() if len(key) > 64 else key
    block = block.ljust(64, b"\0")
    return {"opad": bytes(b ^ 0x5C for b in block), "ipad": bytes(b ^ 0x36 for b in block)}


def keyed_hashes_sql(con: duckdb.DuckDBPyConnection, key: bytes, values: list[str]) -> list[str]:
    """The SQL HMAC over a list (for tests: equal to ``pseudonym.keyed_hashes``)."""
    sql = f"SELECT {hmac_sql('v')} FROM (SELECT unnest($values) AS v, generate_subscripts($values, 1) AS i) ORDER BY i"  # noqa: S608
    rows = con.execute(sql, {"values": values, **pads(key)}).fetchall()
    return [r[0] for r in rows]


def no_formula(column: str) -> Rule:
    return Rule(column, "starts with = + - @ or a control character (spreadsheet formula injection)",
                f"left({column}, 1) IN {FORMULA_LEAD_SQL}")


def matches(column: str, pattern: str, what: str) -> Rule:
    # RE2 classes are ASCII: a full-width digit is not [0-9].
    return Rule(column, f"not {what}", f"NOT regexp_full_match({column}, '{pattern}')")


def one_of(column: str, values: tuple[str, ...]) -> Rule:
    listed = ", ".join(f"'{v}'" for v in values)
    return Rule(column, f"code not one of {'/'.join(values)}", f"{column} NOT IN ({listed})")


def id_parts_sql(column: str) -> str:
    """Typed columns for ``id_check_digit_sql``: the first 8 and the next 9 digits as integers."""
    return (f"TRY_CAST(left({column}, 8) AS INTEGER) AS _{column}_hi, "
            f"TRY_CAST(substr({column}, 9, 9) AS INTEGER) AS _{column}_lo")


def id_check_digit_sql(column: str) -> str:
    """GB 11643 check character (ISO 7064 MOD 11-2) of an 18-character ID column, from the integers of
    ``id_parts_sql``, taken apart by 32-bit integer arithmetic (several times faster than 17
    substrings). NULL where the column is not [0-9]{17}[0-9Xx]."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    hi = [f"((_{column}_hi // {10 ** (7 - i)}) % 10) * {w}" for i, w in enumerate(weights[:8])]
    lo = [f"((_{column}_lo // {10 ** (8 - i)}) % 10) * {w}" for i, w in enumerate(weights[8:])]
    return f"substr('10X98765432', (({' + '.join(hi + lo)}) % 11) + 1, 1)"


def source_sql(columns: list[str]) -> str:
    """read_csv of one extract ($path), every column text, structural faults set aside (store_rejects)."""
    struct = ", ".join(f"'{c}': 'VARCHAR'" for c in columns)
    return (f"read_csv($path, header = true, auto_detect = false, delim = ',', quote = '\"', escape = '\"', "
            f"columns = {{{struct}}}, store_rejects = true, "
            f"rejects_scan = '_ingest_reject_scans', rejects_table = '_ingest_reject_errors')")


@dataclass
class Findings:
    rows: int
    counts: dict[int, int]           # rule index -> failing rows
    lookups: dict[str, object]       # the spec's whole-file aggregates, by name
    structural: list[tuple[int, str | None, str]]  # (line, column name, error type)


def scan(con: duckdb.DuckDBPyConnection, header: list[str], typed: str, rules: list[Rule], params: dict,
         lookups: dict[str, str] | None = None) -> Findings:
    """One pass over the file: rows, failures per rule, and the spec's lookups (e.g. the distinct
    staff codes, hashed once each instead of once per row)."""
    lookups = lookups or {}
    n = len(rules)
    con.execute("DROP TABLE IF EXISTS _ingest_reject_errors")
    con.execute("DROP TABLE IF EXISTS _ingest_reject_scans")
    # A file that breaks no rule (the usual case) is settled by one filter over all rules at once, which
    # is cheaper than counting each rule on its own; only a failing file is counted rule by rule.
    any_fails = " OR ".join(f"coalesce({r.fails}, false)" for r in rules) or "false"
    first = ", ".join([f"count(*) FILTER (WHERE {any_fails})", *lookups.values()])
    row = con.execute(f"SELECT count(*), {first} FROM (SELECT *, {typed} FROM {source_sql(header)})",  # noqa: S608
                      params).fetchall()[0]
    if row[1]:
        counts = ", ".join([*(f"count(*) FILTER (WHERE coalesce({r.fails}, false))" for r in rules),
                            *lookups.values()])
        con.execute("DROP TABLE IF EXISTS _ingest_reject_errors")
        con.execute("DROP TABLE IF EXISTS _ingest_reject_scans")
        row = con.execute(f"SELECT count(*), {counts} FROM (SELECT *, {typed} FROM {source_sql(header)})",  # noqa: S608
                          params).fetchall()[0]
    else:
        row = (row[0], *([0] * n), *row[2:])
    structural = [(int(line), name, str(kind)) for line, name, kind in con.execute(
        "SELECT line, column_name, error_type FROM _ingest_reject_errors ORDER BY line").fetchall()]
    # The reject table quotes the raw line (identifiers): gone as soon as its line numbers are read.
    con.execute("DROP TABLE IF EXISTS _ingest_reject_errors")
    con.execute("DROP TABLE IF EXISTS _ingest_reject_scans")
    return Findings(rows=int(row[0]), counts={i: int(c) for i, c in enumerate(row[1:n + 1]) if c},
                    lookups=dict(zip(lookups, row[n + 1:], strict=True)), structural=structural)


def failing_rows(con: duckdb.DuckDBPyConnection, header: list[str], typed: str, rules: list[Rule], params: dict,
                 limit: int = MAX_LISTED) -> list[tuple[int, list[int]]]:
    """(row number from 1 in file order, broken rule indexes) of the first failing rows."""
    flags = ", ".join(f"coalesce({r.fails}, false) AS f{i}" for i, r in enumerate(rules))
    any_flag = " OR ".join(f"f{i}" for i in range(len(rules)))
    rows = con.execute(
        f"SELECT rn, [{', '.join(f'f{i}' for i in range(len(rules)))}] FROM ("  # noqa: S608
        f"SELECT row_number() OVER () AS rn, {flags} FROM (SELECT *, {typed} FROM {source_sql(header)})) "
        f"WHERE {any_flag} ORDER BY rn LIMIT {int(limit)}", params).fetchall()
    con.execute("DROP TABLE IF EXISTS _ingest_reject_errors")
    con.execute("DROP TABLE IF EXISTS _ingest_reject_scans")
    return [(int(rn), [i for i, f in enumerate(fl) if f]) for rn, fl in rows]


def record_lines(path: Path, n_fields: int, wanted: set[int]) -> dict[int, int]:
    """Row number (1 = first record DuckDB kept) -> the file line it starts on, for a file whose rows
    and lines do not correspond one to one (blank lines, multi-line values, malformed lines)."""
    out: dict[int, int] = {}
    if not wanted:
        return out
    last = max(wanted)
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        next(reader, None)
        start, k = reader.line_num + 1, 0
        try:
            for record in reader:
                if record and len(record) == n_fields:
                    k += 1
                    if k in wanted:
                        out[k] = start
                    if k >= last:
                        break
                start = reader.line_num + 1
        except csv.Error:
            pass
    return out


def header_of(first_line: bytes) -> list[str]:
    text = first_line.decode("utf-8-sig")
    return next(csv.reader(io.StringIO(text)), [])


STRUCTURAL = {
    "TOO MANY COLUMNS": "more fields than the header has",
    "MISSING COLUMNS": "fewer fields than the header has",
    "UNQUOTED VALUE": "malformed CSV: a quote inside an unquoted field",
    "LINE SIZE OVER MAXIMUM": "line too long",
    "INVALID ENCODING": "not UTF-8",
    "CAST ERROR": "unreadable value",
}


def structural_issues(file: str, header: list[str], found: list[tuple[int, str | None, str]]) -> list[Issue]:
    out = []
    for line, name, kind in found:
        field = name if name in header else None
        out.append(Issue(file, line, field, STRUCTURAL.get(kind, f"malformed line ({kind.lower()})")))
    return out

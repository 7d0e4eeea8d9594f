"""Hospital -> restricted zone: scan the hospital folders, validate, de-identify, store.

Each extract ``hospitals/<facility_id>/<kind>_<YYYY>.csv`` is read once (read-only), hashed,
validated by its kind's spec, and either rejected whole (nothing of it stored; a rejection row
names it) or de-identified and written with its manifest in one transaction. An extract whose
hash is already in the manifests is skipped, so running ingest twice changes nothing.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from data_products.config import Paths, paths
from data_products.reference.facilities import facility_ids
from data_products.restricted import bulk, store
from data_products.restricted.extract import Extract, Issue, frame_of, header_issues
from data_products.restricted.pseudonym import load_key
from data_products.restricted.registry import SPECS
from data_products.restricted.specs import IngestSpec

logger = logging.getLogger(__name__)

# ASCII digits only: "visits_２０２４.csv" names no year.
FILE_NAME = re.compile(r"^(?P<kind>[a-z][a-z0-9_]*)_(?P<year>[0-9]{4})\.csv$", re.ASCII)
# Where the hospital sends one, "<extract>.rows" holds the number of data rows it exported.
ROW_COUNT_SUFFIX = ".rows"
MAX_REASON_ISSUES = 20
BLOCK = 1 << 22
# DuckDB's working memory during a bulk ingest; beyond it, joins and aggregates spill to disk.
MEMORY_LIMIT = "1GB"
# Write-ahead log size that triggers a checkpoint. DuckDB's default (16 MB) checkpointed every few files and
# recompressed the table's growing last row group each time (a third of ingest at 1 M visits); each file is
# still committed on its own (the log makes it durable), the compression happens once per gigabyte.
CHECKPOINT_THRESHOLD = "1GB"


@dataclass
class FileOutcome:
    file: str                 # "<facility folder>/<file name>"
    status: str               # accepted | skipped | rejected
    rows: int = 0
    transfer_id: str | None = None
    replaced: str | None = None
    issues: list[Issue] = field(default_factory=list)
    issue_count: int = 0      # every problem found (``issues`` lists the first of them)


@dataclass
class IngestReport:
    outcomes: list[FileOutcome] = field(default_factory=list)
    seconds: float = 0.0

    def of(self, status: str) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.status == status]

    @property
    def accepted(self) -> list[FileOutcome]:
        return self.of("accepted")

    @property
    def rejected(self) -> list[FileOutcome]:
        return self.of("rejected")

    @property
    def skipped(self) -> list[FileOutcome]:
        return self.of("skipped")

    @property
    def exit_code(self) -> int:
        return 1 if self.rejected else 0

    def summary(self) -> str:
        rows = sum(o.rows for o in self.accepted)
        rate = f", {rows / self.seconds:,.0f} rows/s" if self.seconds > 0 and rows else ""
        lines = [f"ingest: {len(self.accepted)} accepted ({rows:,} rows), {len(self.skipped)} already ingested, "
                 f"{len(self.rejected)} rejected in {self.seconds:.1f} s{rate}"]
        for o in self.rejected:
            n = max(o.issue_count, len(o.issues))
            lines.append(f"REJECTED {o.file} ({n:,} issue{'s' if n != 1 else ''}):")
            lines.extend(f"  {i}" for i in o.issues[:MAX_REASON_ISSUES])
            if n > MAX_REASON_ISSUES:
                lines.append(f"  ... and {n - MAX_REASON_ISSUES:,} more")
        return "\n".join(lines)


def extracts(p: Paths) -> list[Path]:
    """Every candidate extract, in a fixed order. Folders starting with _ or . are not facilities."""
    if not p.hospitals.exists():
        return []
    return sorted(f for f in p.hospitals.glob("*/*.csv") if not f.parent.name.startswith(("_", ".")))


def prepare(spec: IngestSpec, extract: Extract, folder: str, key: bytes,
            now: datetime | None = None, year: int | None = None) -> tuple[pd.DataFrame | None, list[Issue]]:
    """Validate and de-identify one parsed extract (a kind checked row-frame by row-frame):
    (rows for the store, []) or (None, issues)."""
    typed, issues = spec.validate(extract, folder, now or datetime.now(), year)
    if issues:
        return None, issues
    return spec.deidentify(typed, key), []


def ingest(p: Paths | None = None, *, now: datetime | None = None,
           on_file: Callable[[FileOutcome], None] | None = None, replace: bool = False,
           progress: Callable[[int, int, int], None] | None = None,
           memory_limit: str = MEMORY_LIMIT) -> IngestReport:
    """Every extract in the hospital domain, each accepted or rejected on its own.

    ``replace``: accept a re-export holding fewer rows than the transfer it replaces (refused
    otherwise). ``progress(bytes_done, bytes_total, rows_accepted)`` after each file."""
    import time

    t0 = time.perf_counter()
    p = p or paths()
    key = load_key(p)
    now = now or datetime.now()
    report = IngestReport()
    known = facility_ids()
    files = extracts(p)
    sizes = [f.lstat().st_size for f in files]
    total, done, rows = sum(sizes), 0, 0
    con = store.connect(p.restricted_db)
    try:
        con.execute("SET memory_limit = ?", [memory_limit])
        con.execute("SET enable_progress_bar = false")
        con.execute("SET checkpoint_threshold = ?", [CHECKPOINT_THRESHOLD])
        for path, size in zip(files, sizes, strict=True):
            outcome = _ingest_one(con, p, path, key, now, known, replace)
            report.outcomes.append(outcome)
            if outcome.status == "rejected":
                logger.warning("rejected %s: %d issue(s), first: %s", outcome.file, outcome.issue_count,
                               outcome.issues[0] if outcome.issues else "")
            else:
                logger.info("%s %s (%d rows)", outcome.status, outcome.file, outcome.rows)
            done += size
            rows += outcome.rows
            if on_file:
                on_file(outcome)
            if progress:
                progress(done, total, rows)
    finally:
        con.close()
    report.seconds = time.perf_counter() - t0
    return report


@dataclass
class _Scan:
    sha256: str
    newlines: int
    header: bytes
    issues: list[Issue]
    stamp: tuple[int, int] = (0, 0)  # size and modification time when hashed: the later reads must see the same


def _stamp(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns


CHANGED = "the file changed while it was being ingested (is the hospital still writing it?); nothing was stored"


def _scan(path: Path, file: str) -> _Scan:
    """One streaming read: the hash, and the faults no parser should meet (empty, not UTF-8,
    truncated mid-line), reported with their line; memory is one block whatever the file size."""
    h = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = newlines = 0
    header = b""
    last = b""
    blank = True
    bad: int | None = None
    with open(path, "rb") as fh:  # read-only: the extract belongs to the hospital
        before = os.fstat(fh.fileno())
        while block := fh.read(BLOCK):
            h.update(block)
            if bad is None:
                pending = len(decoder.getstate()[0])
                try:
                    decoder.decode(block)
                except UnicodeDecodeError as exc:
                    bad = max(0, offset - pending + exc.start)
            if len(header) < BLOCK and b"\n" not in header:
                header += block[: block.find(b"\n") + 1 or len(block)]
            newlines += block.count(b"\n")
            blank = blank and not block.strip()
            last = block[-1:]
            offset += len(block)
    if bad is None:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            bad = offset - len(decoder.getstate()[0])
    issues: list[Issue] = []
    if blank:
        issues.append(Issue(file, None, None, "file is empty"))
    elif bad is not None:
        line, fld = _line_and_field(path, header, bad)
        issues.append(Issue(file, line, fld if line > 1 else None,
                            f"not UTF-8 (invalid byte at offset {bad}); export the extract as UTF-8"))
    elif last != b"\n":
        line, fld = _line_and_field(path, header, offset)
        issues.append(Issue(file, line, fld if line > 1 else None,
                            "truncated: the last line ends without a line break (file cut during transfer?)"))
    stamp = (before.st_size, before.st_mtime_ns)
    if _stamp(path) != stamp or offset != before.st_size:
        issues.append(Issue(file, None, None, CHANGED))
    return _Scan(h.hexdigest(), newlines, header, issues, stamp)


def _line_and_field(path: Path, header: bytes, offset: int) -> tuple[int, str | None]:
    """The line a byte offset falls on, and the header name of its column (by counting separators)."""
    with open(path, "rb") as fh:
        lines = 1
        start = 0
        while start < offset:
            block = fh.read(min(BLOCK, offset - start))
            if not block:
                break
            lines += block.count(b"\n")
            start += len(block)
        fh.seek(max(0, offset - BLOCK))
        window = fh.read(offset - max(0, offset - BLOCK))
    line_part = window[window.rfind(b"\n") + 1:]
    names = header.rstrip(b"\r\n").decode("utf-8-sig", errors="replace").split(",")
    index = line_part.count(b",")
    return lines, (names[index].strip() if index < len(names) else None)


def _declared_rows(path: Path, file: str) -> tuple[int | None, list[Issue]]:
    sidecar = path.with_name(path.name + ROW_COUNT_SUFFIX)
    if not sidecar.exists():
        return None, []
    text = sidecar.read_text(encoding="utf-8", errors="replace").strip()
    if not re.fullmatch(r"[0-9]{1,12}", text, flags=re.ASCII):
        return None, [Issue(file, None, None, f"{sidecar.name} does not hold a row count")]
    return int(text), []


def _count_issues(file: str, sidecar_rows: int | None, rows: int) -> list[Issue]:
    if sidecar_rows is not None and sidecar_rows != rows:
        return [Issue(file, None, None, f"holds {rows:,} data rows; the hospital's row count ({ROW_COUNT_SUFFIX} "
                                        f"file) says {sidecar_rows:,} (cut during transfer?)")]
    return []


def _shrink_issues(con, file: str, replaces: str | None, rows: int, replace: bool) -> list[Issue]:
    if replaces is None or replace:
        return []
    before = store.transfer_rows(con, replaces)
    if rows < before:
        return [Issue(file, None, None, f"re-export holds {rows:,} rows, the transfer it would replace ({replaces}) "
                                        f"holds {before:,}: a shrinking re-export is accepted only with "
                                        "`dataspace ingest --replace`")]
    return []


def _ingest_one(con, p: Paths, path: Path, key: bytes, now: datetime, known: frozenset[str],
                replace: bool) -> FileOutcome:
    folder = path.parent.name
    file = f"{folder}/{path.name}"
    match = FILE_NAME.match(path.name)
    kind = match["kind"] if match else None
    year = int(match["year"]) if match else None

    def reject(issues: list[Issue], digest: str, count: int | None = None) -> FileOutcome:
        count = max(count or 0, len(issues))
        reason = "\n".join(map(str, issues[:MAX_REASON_ISSUES]))
        if count > MAX_REASON_ISSUES:
            reason += f"\n... and {count - MAX_REASON_ISSUES} more"
        store.record_rejection(con, folder, kind, path.name, digest, reason, count)
        return FileOutcome(file, "rejected", issues=issues, issue_count=count)

    # A link out of the hospital domain is never followed (not even to hash it).
    root = p.hospitals.resolve()
    if path.is_symlink() or path.parent.is_symlink():
        target = path.resolve()
        if not target.is_relative_to(root):
            link = hashlib.sha256(os.fsencode(str(target))).hexdigest()
            return reject([Issue(file, None, None, "a symbolic link to a file outside the hospital domain; "
                                                   "refused, not read")], link)
    scanned = _scan(path, file)
    digest = scanned.sha256
    seen = store.transfers_with_hash(con, digest)
    if any(f == folder and n == path.name for f, n in seen):
        return FileOutcome(file, "skipped")
    if folder not in known:
        return reject([Issue(file, None, "facility_id", "its folder is not a registered facility")], digest)
    if kind not in SPECS:
        return reject([Issue(file, None, None, f"file name is not <kind>_<YYYY>.csv with a known kind "
                                               f"({', '.join(sorted(SPECS))})")], digest)
    if seen:
        f, n = seen[0]
        return reject([Issue(file, None, None, f"the same bytes were already ingested as {f}/{n}: a copy under "
                                               "another name or facility is refused")], digest)
    if scanned.issues:
        return reject(scanned.issues, digest)
    spec = SPECS[kind]
    header = bulk.header_of(scanned.header)
    issues = header_issues(file, header, spec.columns)
    if issues:
        return reject(issues, digest)
    declared, issues = _declared_rows(path, file)
    if issues:
        return reject(issues, digest)
    replaces = store.active_transfer(con, folder, kind, path.name)
    if spec.bulk:
        return _ingest_bulk(con, spec, path, file, folder, year, header, scanned, key, now, replaces, replace,
                            declared, reject)
    return _ingest_frame(con, spec, path, file, folder, year, scanned, key, now, replaces, replace, declared, reject)


# Rows per frame a pandera-checked kind is validated and de-identified in: memory follows this, not the file.
CHUNK_ROWS = 100_000


class _HashingReader(io.RawIOBase):
    """The extract's bytes as they are read, hashed on the way: the rows checked are the bytes hashed."""

    def __init__(self, fh) -> None:
        self.fh = fh
        self.sha256 = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = self.fh.readinto(buffer)
        if n:
            self.sha256.update(memoryview(buffer)[:n])
        return n or 0


def _records(reader, width: int, file: str, header: list[str], structural: list[Issue]):
    """(line, record) of every data record; field-count and CSV faults go to ``structural`` (as ``parse``)."""
    start = reader.line_num + 1
    try:
        for record in reader:
            if record and len(record) != width:
                field = header[len(record)] if len(record) < width else None
                structural.append(Issue(file, start, field, f"{len(record)} fields, the header has {width}"))
            elif record:
                yield start, record
            start = reader.line_num + 1
    except csv.Error as exc:
        structural.append(Issue(file, start, None, f"malformed CSV: {exc}"))


def _chunks(records, header: list[str], columns: tuple[str, ...], file: str, digest: str, size: int):
    """Extracts of at most ``size`` rows each, their lines numbered in the whole file."""
    batch: list[list[str]] = []
    lines: list[int] = []
    for line, record in records:
        batch.append(record)
        lines.append(line)
        if len(batch) >= size:
            yield Extract(file, digest, frame_of(batch, header, columns), np.asarray(lines))
            batch, lines = [], []
    if batch:
        yield Extract(file, digest, frame_of(batch, header, columns), np.asarray(lines))


def _ingest_frame(con, spec: IngestSpec, path: Path, file: str, folder: str, year: int, scanned: _Scan, key: bytes,
                  now: datetime, replaces: str | None, replace: bool, declared: int | None, reject) -> FileOutcome:
    """A kind checked by its pandera schema, ``CHUNK_ROWS`` rows at a time (memory is one chunk whatever the
    file size), every chunk's problems reported with their file line. Rows go into the store inside one
    transaction as their chunk passes; a problem anywhere rolls the whole file back. The bytes read must be
    the bytes hashed, or the manifest would name bytes no check saw."""
    digest = scanned.sha256
    transfer_id = "T" + digest[:16]
    structural: list[Issue] = []
    issues: list[Issue] = []
    clashes: list[Issue] = []
    total = chunks = 0
    ids = f"_ingest_ids_{transfer_id}"
    con.execute(f"CREATE OR REPLACE TEMP TABLE {ids} (h BLOB, line BIGINT, chunk INTEGER)")
    open_tx = False

    def rollback(found: list[Issue]) -> FileOutcome:
        nonlocal open_tx
        con.execute("ROLLBACK")
        open_tx = False
        return reject(found, digest)

    con.execute("BEGIN TRANSACTION")
    open_tx = True
    try:
        with open(path, "rb") as fh:  # read-only: the extract belongs to the hospital
            raw = _HashingReader(fh)
            text = io.TextIOWrapper(io.BufferedReader(raw, BLOCK), encoding="utf-8-sig", newline="")
            reader = csv.reader(text, strict=True)
            try:
                header = next(reader)
                for extract in _chunks(_records(reader, len(header), file, header, structural), header,
                                       spec.columns, file, digest, CHUNK_ROWS):
                    chunks += 1
                    total += len(extract.frame)
                    if structural:
                        continue  # as ``parse``: a file with structural faults is reported for those alone
                    _note_ids(con, ids, extract, spec.record_id, key, chunks)
                    rows, found = prepare(spec, extract, folder, key, now, year)
                    issues += found
                    if issues or clashes:
                        continue  # keep checking (all of a file's problems at once), store nothing more
                    hit = store.clashing_keys(con, spec, rows[spec.record_key], replaces)
                    if hit:
                        at = rows[spec.record_key].isin(hit).to_numpy()
                        clashes += [Issue(file, int(line), spec.record_id, f"record already ingested from {hit[k]}")
                                    for line, k in zip(extract.lines[at], rows[spec.record_key][at], strict=True)]
                        continue
                    store.insert_rows(con, spec, rows.assign(transfer_id=transfer_id))
            except (UnicodeDecodeError, StopIteration):
                pass  # the scan found the file whole UTF-8 with a header: it changed since (the hash says so)
            while raw.read(BLOCK):
                pass
        if raw.sha256.hexdigest() != digest:
            return rollback([Issue(file, None, None, CHANGED)])
        if structural:
            return rollback(structural)
        if total == 0:
            return rollback([Issue(file, 1, None, "no data rows (header only)")])
        if chunks > 1 and spec.record_id:
            issues += _repeated_across_chunks(con, ids, file, spec.record_id)
        if issues:
            issues = sorted(set(issues), key=lambda i: (i.line or 0, i.field or "", i.message))
        issues += _count_issues(file, declared, total) + _shrink_issues(con, file, replaces, total, replace)
        if issues or clashes:
            return rollback(issues or clashes)
        if replaces:
            store.retire(con, spec, replaces, transfer_id)
        store.insert_manifest(con, _manifest(transfer_id, folder, spec, path.name, digest, total))
        con.execute("COMMIT")
        open_tx = False
    except BaseException:
        if open_tx:
            con.execute("ROLLBACK")
        raise
    finally:
        con.execute(f"DROP TABLE IF EXISTS {ids}")
    return FileOutcome(file, "accepted", rows=total, transfer_id=transfer_id, replaced=replaces)


def _note_ids(con, table: str, extract: Extract, column: str | None, key: bytes, chunk: int) -> None:
    """Keyed digests (never the values) of a chunk's record ids with their lines, so that a record id
    repeated in another chunk is found as pandera finds one repeated within a chunk."""
    if not column or column not in extract.frame:
        return
    values = extract.frame[column]
    present = values.notna().to_numpy()
    digests = [hashlib.blake2b(v.encode("utf-8"), digest_size=16, key=key[:64]).digest() for v in values[present]]
    con.register("_ingest_chunk_ids", pd.DataFrame({"h": digests, "line": extract.lines[present].astype(np.int64)}))
    try:
        con.execute(f"INSERT INTO {table} SELECT h, line, ? FROM _ingest_chunk_ids", [chunk])  # noqa: S608 - our name
    finally:
        con.unregister("_ingest_chunk_ids")


def _repeated_across_chunks(con, table: str, file: str, field: str) -> list[Issue]:
    """Every line of a record id that appears in more than one chunk (within one, pandera reports it)."""
    lines = con.execute(f"SELECT line FROM {table} WHERE h IN (SELECT h FROM {table} GROUP BY h "  # noqa: S608
                        "HAVING count(DISTINCT chunk) > 1) ORDER BY line").fetchall()
    return [Issue(file, int(line), field, "duplicate value") for (line,) in lines]


def _manifest(transfer_id: str, folder: str, spec: IngestSpec, name: str, digest: str, rows: int) -> dict:
    return {"transfer_id": transfer_id, "facility_id": folder, "kind": spec.kind, "file_name": name,
            "sha256": digest, "rows_accepted": rows, "rows_rejected": 0, "schema_version": spec.schema_version,
            "ingested_at": store.utcnow()}


def _bind(sql: str, params: dict) -> dict:
    """Only the parameters a statement names (DuckDB refuses unused ones)."""
    return {k: v for k, v in params.items() if re.search(rf"\${k}\b", sql)}


def _ingest_bulk(con: duckdb.DuckDBPyConnection, spec: IngestSpec, path: Path, file: str, folder: str, year: int,
                 header: list[str], scanned: _Scan, key: bytes, now: datetime, replaces: str | None, replace: bool,
                 declared: int | None, reject) -> FileOutcome:
    """A kind checked and de-identified by SQL inside DuckDB, straight from the file."""
    digest = scanned.sha256
    rules, params = spec.rules(folder, year, now)
    params = {**params, "path": str(path), **bulk.pads(key)}
    typed = spec.typed_sql()
    con.execute("SET preserve_insertion_order = true")
    found = bulk.scan(con, header, typed, rules, _bind(" ".join(r.fails for r in rules) + " $path", params),
                      spec.lookups())
    issues = bulk.structural_issues(file, header, found.structural)
    count = len(issues) + sum(found.counts.values())
    # Rows and lines correspond one to one unless the file has blank lines, multi-line values or lines
    # set aside as malformed; then the lines of the failing rows are found by reading the file once more.
    regular = scanned.newlines == found.rows + 1 and not found.structural

    def lines_of(rns: set[int]) -> dict[int, int]:
        return {rn: rn + 1 for rn in rns} if regular else bulk.record_lines(path, len(header), rns)

    if found.counts:
        failing = bulk.failing_rows(con, header, typed, rules,
                                    _bind(" ".join(r.fails for r in rules) + " $path", params))
        at = lines_of({rn for rn, _ in failing})
        issues += [Issue(file, at.get(rn), rules[i].field, rules[i].message) for rn, broken in failing for i in broken]
        listed = {(i.field, i.message) for i in issues}
        # Rules whose failures fall beyond the listed rows are still named, with their count.
        for i, n in found.counts.items():
            if (rules[i].field, rules[i].message) not in listed:
                issues.append(Issue(file, None, rules[i].field, f"{rules[i].message} ({n:,} rows)"))
    if found.rows == 0 and not found.structural:
        issues.append(Issue(file, 1, None, "no data rows (header only)"))
    more = _count_issues(file, declared, found.rows) + _shrink_issues(con, file, replaces, found.rows, replace)
    issues += more
    count += len(more) + (1 if found.rows == 0 and not found.structural else 0)
    if issues:
        return reject(sorted(set(issues), key=lambda i: (i.line or 0, i.field or "", i.message)), digest, count)

    transfer_id = "T" + digest[:16]
    rows_sql = spec.deidentify_sql(f"(SELECT *, {typed} FROM {bulk.source_sql(header)})")  # noqa: S608 - header names equal the spec's columns
    select = f"SELECT *, $transfer_id AS transfer_id FROM ({rows_sql})"  # noqa: S608 - spec SQL, no input
    params = {**params, **found.lookups, "transfer_id": transfer_id, "folder": folder}
    con.execute("SET preserve_insertion_order = false")
    con.execute("BEGIN TRANSACTION")
    try:
        store.insert_select(con, spec, select, _bind(select, params))
        bad = store.key_problems(con, spec, transfer_id, folder, replaces)
        if bad:
            con.execute("ROLLBACK")
        else:
            if replaces:
                store.retire(con, spec, replaces, transfer_id)
            store.insert_manifest(con, _manifest(transfer_id, folder, spec, path.name, digest, found.rows))
            # DuckDB read the file again for the rows: they must come from the bytes that were hashed.
            changed = _stamp(path) != scanned.stamp
            con.execute("ROLLBACK" if changed else "COMMIT")
            if changed:
                return reject([Issue(file, None, None, CHANGED)], digest)
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.execute("DROP TABLE IF EXISTS _ingest_reject_errors")
        con.execute("DROP TABLE IF EXISTS _ingest_reject_scans")
    if bad:
        con.execute("SET preserve_insertion_order = true")
        keys = {k: (other, n) for k, other, n in bad}
        sql = (f"SELECT rn, k FROM (SELECT row_number() OVER () AS rn, {spec.record_key_sql()} AS k "  # noqa: S608
               f"FROM {bulk.source_sql(header)}) WHERE list_contains($keys, k) ORDER BY rn LIMIT {bulk.MAX_LISTED}")
        hits = con.execute(sql, _bind(sql, {**params, "keys": list(keys)})).fetchall()
        con.execute("DROP TABLE IF EXISTS _ingest_reject_errors")
        con.execute("DROP TABLE IF EXISTS _ingest_reject_scans")
        at = lines_of({rn for rn, _ in hits})
        issues = [Issue(file, at.get(rn), spec.record_id,
                        f"record already ingested from {keys[k][0]}" if keys[k][0] else "duplicate value")
                  for rn, k in hits]
        return reject(issues, digest, max(len(issues), sum(n for _, n in keys.values())))
    return FileOutcome(file, "accepted", rows=found.rows, transfer_id=transfer_id, replaced=replaces)

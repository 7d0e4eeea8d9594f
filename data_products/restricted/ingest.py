"""Hospital -> restricted zone: scan the hospital folders, validate, de-identify, store.

Each extract ``hospitals/<facility_id>/<kind>_<YYYY>.csv`` is read once (read-only), hashed,
validated by its kind's spec, and either rejected whole (nothing of it stored; a rejection row
names it) or de-identified and written with its manifest in one transaction. An extract whose
hash is already in the manifests is skipped, so running ingest twice changes nothing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pandas as pd

from data_products.config import Paths, paths
from data_products.reference.facilities import facility_ids
from data_products.restricted import pneumonia as _pneumonia  # noqa: F401  (registers the spec)
from data_products.restricted import store
from data_products.restricted.extract import Extract, ExtractError, Issue, parse, read_bytes, sha256
from data_products.restricted.pseudonym import load_key
from data_products.restricted.specs import SPECS, IngestSpec

logger = logging.getLogger(__name__)

FILE_NAME = re.compile(r"^(?P<kind>[a-z][a-z0-9_]*)_(?P<year>\d{4})\.csv$")
MAX_REASON_ISSUES = 20


@dataclass
class FileOutcome:
    file: str                 # "<facility folder>/<file name>"
    status: str               # accepted | skipped | rejected
    rows: int = 0
    transfer_id: str | None = None
    replaced: str | None = None
    issues: list[Issue] = field(default_factory=list)


@dataclass
class IngestReport:
    outcomes: list[FileOutcome] = field(default_factory=list)

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
        lines = [f"ingest: {len(self.accepted)} accepted ({rows:,} rows), {len(self.skipped)} already ingested, "
                 f"{len(self.rejected)} rejected"]
        for o in self.rejected:
            lines.append(f"REJECTED {o.file} ({len(o.issues)} issue{'s' if len(o.issues) != 1 else ''}):")
            lines.extend(f"  {i}" for i in o.issues[:MAX_REASON_ISSUES])
            if len(o.issues) > MAX_REASON_ISSUES:
                lines.append(f"  ... and {len(o.issues) - MAX_REASON_ISSUES} more")
        return "\n".join(lines)


def extracts(p: Paths) -> list[Path]:
    """Every candidate extract, in a fixed order. Folders starting with _ or . are not facilities."""
    if not p.hospitals.exists():
        return []
    return sorted(f for f in p.hospitals.glob("*/*.csv") if not f.parent.name.startswith(("_", ".")))


def prepare(spec: IngestSpec, extract: Extract, folder: str, key: bytes,
            now: datetime | None = None) -> tuple[pd.DataFrame | None, list[Issue]]:
    """Validate and de-identify one parsed extract: (rows for the store, []) or (None, issues)."""
    typed, issues = spec.validate(extract, folder, now or datetime.now())
    if issues:
        return None, issues
    return spec.deidentify(typed, key), []


def ingest(p: Paths | None = None, *, now: datetime | None = None,
           on_file: Callable[[FileOutcome], None] | None = None) -> IngestReport:
    p = p or paths()
    key = load_key(p)
    now = now or datetime.now()
    report = IngestReport()
    known = facility_ids()
    con = store.connect(p.restricted_db)
    try:
        done = store.ingested_hashes(con)
        for path in extracts(p):
            outcome = _ingest_one(con, path, key, now, known, done)
            report.outcomes.append(outcome)
            if outcome.status == "rejected":
                logger.warning("rejected %s: %d issue(s), first: %s", outcome.file, len(outcome.issues),
                               outcome.issues[0] if outcome.issues else "")
            else:
                logger.info("%s %s (%d rows)", outcome.status, outcome.file, outcome.rows)
            if on_file:
                on_file(outcome)
    finally:
        con.close()
    return report


def _ingest_one(con, path: Path, key: bytes, now: datetime, known: frozenset[str], done: set[str]) -> FileOutcome:
    folder = path.parent.name
    file = f"{folder}/{path.name}"
    data = read_bytes(path)
    digest = sha256(data)
    if digest in done:
        return FileOutcome(file, "skipped")
    match = FILE_NAME.match(path.name)
    kind = match["kind"] if match else None

    def reject(issues: list[Issue]) -> FileOutcome:
        reason = "\n".join(map(str, issues[:MAX_REASON_ISSUES]))
        if len(issues) > MAX_REASON_ISSUES:
            reason += f"\n... and {len(issues) - MAX_REASON_ISSUES} more"
        store.record_rejection(con, folder, kind, path.name, digest, reason, len(issues))
        return FileOutcome(file, "rejected", issues=issues)

    if kind not in SPECS:
        return reject([Issue(file, None, None, f"file name is not <kind>_<YYYY>.csv with a known kind "
                                               f"({', '.join(sorted(SPECS))})")])
    if folder not in known:
        return reject([Issue(file, None, "facility_id", f"folder {folder!r} is not a registered facility")])
    spec = SPECS[kind]
    try:
        extract = parse(data, file, spec.columns)
    except ExtractError as exc:
        return reject(exc.issues)
    rows, issues = prepare(spec, extract, folder, key, now)
    if issues:
        return reject(issues)
    replaces = store.active_transfer(con, folder, kind, path.name)
    clashes = store.clashing_keys(con, spec, rows[spec.record_key], replaces)
    if clashes:
        hit = rows[spec.record_key].isin(clashes).to_numpy()
        return reject([Issue(file, int(line), "episode_id", f"record already ingested from {clashes[k]}")
                       for line, k in zip(extract.lines[hit], rows[spec.record_key][hit], strict=True)])
    transfer_id = "T" + digest[:16]
    manifest = {"transfer_id": transfer_id, "facility_id": folder, "kind": kind, "file_name": path.name,
                "sha256": digest, "rows_accepted": len(rows), "rows_rejected": 0,
                "schema_version": spec.schema_version, "ingested_at": store.utcnow()}
    store.write_transfer(con, spec, manifest, rows.assign(transfer_id=transfer_id), replaces)
    done.add(digest)
    return FileOutcome(file, "accepted", rows=len(rows), transfer_id=transfer_id, replaced=replaces)


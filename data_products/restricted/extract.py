"""Reading one extract file: bytes once (read-only), hash, decode, parse with line numbers.

Structural faults (encoding, truncation, header, field counts) are found here, before any
schema runs, and reported with the 1-based line of the file they were found on.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Issue:
    file: str
    line: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else "whole file"
        return f"{self.file}: {where}: {self.field or '-'}: {self.message}"


@dataclass
class Extract:
    file: str            # "<facility folder>/<file name>", how reports name it
    sha256: str
    frame: pd.DataFrame  # all text; blank cells are missing values
    lines: np.ndarray    # the 1-based file line where each frame row starts


class ExtractError(Exception):
    def __init__(self, issues: list[Issue]) -> None:
        super().__init__("; ".join(map(str, issues[:3])))
        self.issues = issues


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parse(data: bytes, file: str, columns: tuple[str, ...]) -> Extract:
    digest = sha256(data)
    if not data.strip():
        raise ExtractError([Issue(file, None, None, "file is empty")])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        field = _field_at(data, exc.start) if line > 1 else None
        raise ExtractError([Issue(file, line, field, f"not UTF-8 (invalid byte at offset {exc.start}); "
                                                     "export the extract as UTF-8")]) from None
    if not text.endswith("\n"):
        last = text.count("\n") + 1
        tail = text[text.rfind("\n") + 1:]
        field = _field_at(data, len(data)) if last > 1 else None
        raise ExtractError([Issue(file, last, field, f"truncated: the last line ends without a line break "
                                                     f"after {len(tail)} characters (file cut during transfer?)")])
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except csv.Error as exc:
        raise ExtractError([Issue(file, 1, None, f"unreadable header: {exc}")]) from None
    issues = header_issues(file, header, columns)
    if issues:
        raise ExtractError(issues)
    rows: list[list[str]] = []
    lines: list[int] = []
    start = reader.line_num + 1
    try:
        for record in reader:
            if record and len(record) != len(header):
                field = header[len(record)] if len(record) < len(header) else None
                issues.append(Issue(file, start, field, f"{len(record)} fields, the header has {len(header)}"))
            elif record:
                rows.append(record)
                lines.append(start)
            start = reader.line_num + 1
    except csv.Error as exc:
        issues.append(Issue(file, start, None, f"malformed CSV: {exc}"))
    if issues:
        raise ExtractError(issues)
    if not rows:
        raise ExtractError([Issue(file, 1, None, "no data rows (header only)")])
    return Extract(file=file, sha256=digest, frame=frame_of(rows, header, columns), lines=np.asarray(lines))


def frame_of(rows: list[list[str]], header: list[str], columns: tuple[str, ...]) -> pd.DataFrame:
    """Records -> the all-text frame the schemas check (contract column order; blank cells missing)."""
    return pd.DataFrame(rows, columns=header, dtype="str")[list(columns)].replace("", None)


def _field_at(data: bytes, offset: int) -> str | None:
    """Header name of the column a byte offset falls in (by counting separators on its line)."""
    header = data[: data.find(b"\n")].decode("utf-8-sig", errors="replace").split(",")
    line_start = data.rfind(b"\n", 0, offset) + 1
    index = data[line_start:offset].count(b",")
    return header[index].strip() if index < len(header) else None


# A column name worth quoting back: a plain lower-case identifier, which no name, ID number, phone
# number or address is. Anything else in a header is data (a headerless export) and is never quoted.
_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}", re.ASCII)


def header_issues(file: str, header: list[str], columns: tuple[str, ...]) -> list[Issue]:
    names = [h.strip() for h in header]
    if not set(names) & set(columns):
        return [Issue(file, 1, None, f"line 1 is not the header: it names none of the {len(columns)} contract "
                                     "columns (headerless export?); the first line must name the columns")]
    issues = []
    seen = set()
    for name in header:
        if name in seen:
            issues.append(Issue(file, 1, name if _NAME.fullmatch(name) else None, "column appears twice in the header"))
        seen.add(name)
    for name in columns:
        if name not in seen:
            issues.append(Issue(file, 1, name, "required column is missing from the header"))
    for k, name in enumerate(header, start=1):
        if name not in columns:
            shown = repr(name) if _NAME.fullmatch(name) else f"number {k} (its text is not quoted)"
            issues.append(Issue(file, 1, name if _NAME.fullmatch(name) else None,
                                f"unexpected column {shown} (expected exactly: {', '.join(columns)})"))
    return issues

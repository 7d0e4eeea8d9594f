"""Files only the space's own OS account may read: the governance store (password hashes, the
ledger), its key files, and the restricted, candidate and approved stores.

Every store is created owner-only (0600, folders 0700) whatever the process umask, and an existing
one is tightened when opened, so a copy made with a loose umask does not stay world-readable.
"""

from __future__ import annotations

import os
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: Path) -> Path:
    """``path`` as a folder readable only by its owner (created if missing)."""
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    _tighten(path, DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty and owner-only if missing, else tighten it to 0600. Call before a
    library (SQLite, DuckDB) opens the file, so the file never exists with looser permissions;
    SQLite gives its -wal and -shm files the database file's permissions."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE)
    except FileExistsError:
        _tighten(path, FILE_MODE)
    else:
        os.close(fd)
    return path


def tighten(path: Path) -> None:
    """Make an existing file owner-only (0600); missing files are ignored."""
    _tighten(path, FILE_MODE)


def _tighten(path: Path, mode: int) -> None:
    try:
        if (os.stat(path).st_mode & 0o777) != mode:
            os.chmod(path, mode)
    except FileNotFoundError:
        pass
    except PermissionError:  # someone else's file: leave it, the caller's open will say more
        pass

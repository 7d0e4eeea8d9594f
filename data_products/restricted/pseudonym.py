"""The keyed pseudonym: HMAC-SHA256 with a per-deployment secret held on the hospital side.

The key lives in ``paths().pseudonym_key`` (32 random bytes, mode 0600, created on first use) or
comes from ``DATASPACE_PSEUDONYM_KEY`` (hex). It is never written into any store: without it a
pseudonym cannot be recomputed from an ID number, so the restricted zone cannot re-identify.
"""

from __future__ import annotations

import hmac
import os
import secrets
import stat
from collections.abc import Iterable

from data_products.config import Paths, settings

ENV = "DATASPACE_PSEUDONYM_KEY"
KEY_BYTES = 32


def load_key(p: Paths) -> bytes:
    raw = settings().pseudonym_key_hex
    if raw:
        try:
            key = bytes.fromhex(raw.strip())
        except ValueError:
            raise ValueError(f"{ENV} must be hex (64 hex characters = 32 bytes)") from None
        if len(key) < KEY_BYTES:
            raise ValueError(f"{ENV} holds {len(key)} bytes; at least {KEY_BYTES} are required")
        return key
    path = p.pseudonym_key
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process created it first: read theirs
        else:
            with os.fdopen(fd, "wb") as fh:
                fh.write(secrets.token_bytes(KEY_BYTES))
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        raise PermissionError(f"{path} is readable by other users; chmod 600 it")
    key = path.read_bytes()
    if len(key) < KEY_BYTES:
        raise ValueError(f"{path} holds {len(key)} bytes; at least {KEY_BYTES} are required")
    return key


def keyed_hashes(key: bytes, values: Iterable[str]) -> list[str]:
    """HMAC-SHA256(key, value) as lowercase hex, one per value."""
    return [hmac.digest(key, v.encode("utf-8"), "sha256").hex() for v in values]

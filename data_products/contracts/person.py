"""What every person-level extract shares: its identified columns, the resident ID check and ages.

Resident ID numbers follow GB 11643-1999: 6-digit region code, 8-digit birth date, 3-digit
sequence (odd for men, even for women) and a check character (ISO 7064 MOD 11-2). The generator
writes them with this check and the ingest refuses any that fail it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# The identified columns after the facility and the kind's record id, in the extracts' order.
IDENTIFIED = ("patient_name", "id_card", "phone", "address", "birth_date", "sex")
SEXES = ("M", "F")

# Position weights 2^(17-i) mod 11 and the check-character table of GB 11643.
ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
ID_CHECK = "10X98765432"


def gb11643_check_digit(first17: np.ndarray) -> np.ndarray:
    """Check characters for an (n, 17) integer array of digits."""
    total = (np.asarray(first17, dtype=np.int64) * ID_WEIGHTS).sum(axis=1) % 11
    return np.array(list(ID_CHECK))[total]


def id_checksum_ok(ids: pd.Series) -> pd.Series:
    """True where a string is 17 digits plus the right GB 11643 check character (X upper or lower)."""
    s = ids.astype("str").str.upper()
    shaped = s.str.fullmatch(r"\d{17}[\dX]").fillna(False).astype(bool)
    out = pd.Series(False, index=ids.index)
    if shaped.any():
        good = s[shaped]
        digits = np.frombuffer("".join(good.str.slice(0, 17)).encode("ascii"), dtype=np.uint8).reshape(-1, 17) - 48
        out.loc[shaped] = gb11643_check_digit(digits) == good.str.slice(17, 18).to_numpy()
    return out


def completed_months(birth: pd.Series, on: pd.Series) -> np.ndarray:
    """Whole months from birth to the event date, counted as on a calendar (not 30-day blocks):
    the month difference, less one when the day of the month has not come round yet. Completed
    years are this divided by 12 (floor). Both dates are datetime Series."""
    months = (on.dt.year - birth.dt.year) * 12 + (on.dt.month - birth.dt.month) - (on.dt.day < birth.dt.day)
    return months.to_numpy(dtype=np.int64)


def completed_years(birth: pd.Series, on: pd.Series) -> np.ndarray:
    return completed_months(birth, on) // 12

"""De-identification helpers shared by every kind: pseudonyms, ages, districts."""

from __future__ import annotations

import re
from functools import cache

import pandas as pd

# The age formula is the contract's; re-exported for code written against deid.completed_months.
from data_products.contracts.person import completed_months  # noqa: F401
from data_products.reference import districts
from data_products.restricted.pseudonym import keyed_hashes


def pseudonyms(key: bytes, id_cards: pd.Series) -> list[str]:
    """HMAC-SHA256(key, ID number); the check character is normalised to upper-case X."""
    return keyed_hashes(key, id_cards.str.upper())


def record_keys(key: bytes, facility: pd.Series, local_id: pd.Series) -> list[str]:
    """HMAC of facility and its own record id: stable per record, unlinkable without the key."""
    return keyed_hashes(key, facility + ":" + local_id)


@cache
def _district_pattern() -> tuple[re.Pattern, dict[str, str]]:
    d = districts()
    names = dict(zip(d["name_zh"], d["adcode"], strict=True))
    return re.compile("(" + "|".join(map(re.escape, names)) + ")"), names


def district_of(addresses: pd.Series) -> pd.Series:
    """Guangzhou district adcode named in each address; missing when none is (outside the city)."""
    pattern, names = _district_pattern()
    found = addresses.str.extract(pattern, expand=False)
    return found.map(names).astype("str")

"""Contracts: the vocabulary the zones share, written once, below every zone.

One module per kind of extract says what the hospital writes (the extract's columns), what the
restricted zone stores (the record table's columns and SQL types), the code lists both sides use
(age bands, categories) and the derived-field formulas (ages, BMI). ``hospital/``, ``restricted/``
and ``products/`` import these modules; a contract imports nothing from any zone, so a zone never
has to import one downstream of it to agree on a word.
"""

from __future__ import annotations

from collections.abc import Mapping

TRANSFER_COLUMN = "transfer_id"


def ddl(table: str, records: Mapping[str, str]) -> str:
    """CREATE TABLE IF NOT EXISTS for a kind's restricted table: its record columns plus the transfer
    that brought each row. ``table`` and ``records`` come from a contract module, never from input."""
    cols = ",\n".join(f"    {name} {sql_type}" for name, sql_type in {**records, TRANSFER_COLUMN: "VARCHAR NOT NULL"}.items())
    return f"\nCREATE TABLE IF NOT EXISTS {table} (\n{cols}\n)\n"

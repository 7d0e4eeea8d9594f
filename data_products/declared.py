"""Registries written out in one place and read on first use.

Each module declares its entries in a module-level attribute (a hospital kind module its ``GENERATOR``, a
restricted-zone module its ``SPECS``, a message module its ``MESSAGES``) and registers nothing when
imported. A registry is the written-out list of those modules: ``Declared`` takes a function that
imports them (explicit imports, inside the function, so importing the registry loads nothing) and reads
their declarations the first time it is asked. What a registry holds never depends on which modules
happen to have been imported already.

A layer below the modules it lists cannot import them (the zone order): the message catalogue
(``i18n``) and governance's product directory name them instead, as entry points do, and
``read_declaration`` is the one place that imports by name. A script that is run, never imported (a
Streamlit page), is named by its file instead, and ``read_script_declaration`` reads its declaration from the
text as a literal without running a line of it.
"""

from __future__ import annotations

import ast
import importlib
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
_MISSING = object()


def read_declaration(module: str, attr: str) -> Any:
    """``module.attr``, importing the module; a missing attribute names the module and the attribute."""
    value = getattr(importlib.import_module(module), attr, _MISSING)
    if value is _MISSING:
        raise LookupError(f"{module} is listed in a registry but declares no {attr}")
    return value


def read_script_declaration(package: str, script: str, attr: str) -> Any:
    """The literal a script in ``package``'s folder assigns to ``attr`` at module level (``script`` relative to
    the package, e.g. ``views/audit.py``), read from its text: the script is not imported or run. A missing
    assignment or one that is not a plain literal (names, calls, comprehensions) is an error naming the file."""
    path = Path(importlib.import_module(package).__file__).parent / script
    for node in ast.parse(path.read_text(encoding="utf-8"), filename=str(path)).body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        if any(isinstance(t, ast.Name) and t.id == attr for t in targets) and node.value is not None:
            try:
                return ast.literal_eval(node.value)
            except ValueError as exc:
                raise ValueError(f"{path}, line {node.lineno}: {attr} is read from the text, not run, so it must be "
                                 f"a literal ({exc})") from None
    raise LookupError(f"{package}/{script} is listed in a registry but declares no {attr}")


class Declared(Mapping[str, T]):
    """Name -> entry, from ``load()`` (the entries the listed modules declare, in the written order).

    ``key`` names an entry; ``check`` may refuse one (a ``ValueError`` naming it)."""

    def __init__(self, what: str, load: Callable[[], Iterable[T]], key: Callable[[T], str],
                 check: Callable[[T], None] | None = None) -> None:
        self.what, self.key = what, key
        self._load_entries, self._check = load, check
        self._entries: dict[str, T] | None = None
        self._lock = threading.Lock()

    def _load(self) -> dict[str, T]:
        entries = self._entries
        if entries is not None:
            return entries
        with self._lock:
            if self._entries is None:
                out: dict[str, T] = {}
                for entry in self._load_entries():
                    if self._check is not None:
                        self._check(entry)
                    name = self.key(entry)
                    if name in out:
                        raise ValueError(f"{self.what} {name!r} is declared twice")
                    out[name] = entry
                self._entries = out
            return self._entries

    def loaded(self) -> bool:
        """Whether the registry has read its modules yet (nothing is read before the first use)."""
        return self._entries is not None

    def __getitem__(self, name: str) -> T:
        entries = self._load()
        try:
            return entries[name]
        except KeyError:
            raise KeyError(f"unknown {self.what} {name!r}; known: {sorted(entries)}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())

    def __repr__(self) -> str:
        return f"Declared({self.what!r}, loaded={self.loaded()})"

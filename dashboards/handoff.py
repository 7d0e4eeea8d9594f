"""What a page run leaves for one browser's next plain HTTP request to collect once, within a deadline.

A Streamlit script talks to the browser over the WebSocket; what must go out as an ordinary HTTP response
(a download's bytes, the session cookie) is fetched by a second request the script cannot answer. Both
leave a value here, bound to the browser that asked: its ``_streamlit_xsrf`` cookie (``BINDING_COOKIE``),
which the script reads from the session's own handshake and the browser sends with every request to the
site. The route that answers the request takes the value for that browser; another browser, a second
take or a late one gets nothing. ``downloads`` keeps its tickets here, ``session_cookie`` its handoffs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Hashable
from typing import Generic, TypeVar

T = TypeVar("T")
BINDING_COOKIE = "_streamlit_xsrf"


class Handoffs(Generic[T]):
    """(key, browser binding) -> values waiting to be taken once each, oldest first, until ``seconds`` after
    they were left. At most ``max_keys`` keys wait; the oldest key gives way (a flood cannot grow memory)."""

    def __init__(self, seconds: float, max_keys: int = 1000) -> None:
        self.seconds, self.max_keys = seconds, max_keys
        self._lock = threading.Lock()
        self._waiting: dict[tuple[Hashable, str], list[tuple[T, float]]] = {}

    def put(self, key: Hashable, binding: str, value: T, *, replace: bool = False, now: float | None = None) -> float:
        """Leave ``value``; with ``replace`` it takes the place of what waits under the same key. The deadline."""
        at = time.monotonic() if now is None else now
        deadline = at + self.seconds
        with self._lock:
            for k in list(self._waiting):
                live = [e for e in self._waiting[k] if e[1] > at]
                if live:
                    self._waiting[k] = live
                else:
                    del self._waiting[k]
            if (key, binding) not in self._waiting and len(self._waiting) >= self.max_keys:
                self._waiting.pop(next(iter(self._waiting)))
            queue = [] if replace else self._waiting.get((key, binding), [])
            self._waiting[(key, binding)] = [*queue, (value, deadline)]
        return deadline

    def take(self, key: Hashable, binding: str | None, *, now: float | None = None) -> T | None:
        """The oldest live value for this key and browser, removed; None if there is none."""
        if not binding:
            return None
        at = time.monotonic() if now is None else now
        with self._lock:
            queue = [e for e in self._waiting.pop((key, binding), []) if e[1] > at]
            value = queue.pop(0)[0] if queue else None
            if queue:
                self._waiting[(key, binding)] = queue
        return value

    def waiting(self, key: Hashable, binding: str | None, *, now: float | None = None) -> bool:
        """Whether a live value waits for this key and browser (nothing is taken)."""
        if not binding:
            return False
        at = time.monotonic() if now is None else now
        with self._lock:
            return any(deadline > at for _, deadline in self._waiting.get((key, binding), []))

    def __len__(self) -> int:
        with self._lock:
            return sum(len(q) for q in self._waiting.values())

    def clear(self) -> None:
        with self._lock:
            self._waiting.clear()

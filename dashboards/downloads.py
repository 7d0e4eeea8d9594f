"""Downloads that leave only through the gate: one click, one decision, one ledger entry, one fetch.

Streamlit hands a download to the browser in two steps. The click runs the button's callable over the
session's own WebSocket (``st.download_button(data=callable)``: nothing is made or stored before the
click); Streamlit puts the bytes it returns in its media store and the browser then fetches them with a
plain HTTP GET of ``/media/<id>``. That second step answers anyone who has the URL, as often as they
like, until the store forgets the file: the URL is derived from the content, with no session on it.

So the file is only half of the decision. When the callable has made a file (the product function asked
the gate for a download and recorded it in the ledger), it leaves a *ticket* here: the SHA-256 of the
bytes, the browser it was made for (its ``_streamlit_xsrf`` cookie, read by the script from the
session's own handshake) and a deadline ``TICKET_SECONDS`` away. ``MediaGate``, an ASGI middleware in
front of Streamlit's routes (``dashboards/server.py``), lets a downloadable ``/media`` response out only
when a live ticket matches its bytes and the request's cookie, and spends the ticket: a second fetch, a
fetch from another browser or without a cookie, or one after the deadline gets ``404`` and nothing else.
Every fetch, served or refused, is logged; the ledger already holds the one entry of the click.
Images and other inline media (no ``Content-Disposition: attachment``) pass untouched.

Streamlit's download button fetches the URL twice at the same moment: the download itself (a navigation,
``Sec-Fetch-Mode: navigate``) and a ``fetch()`` that only checks the URL answers (``cors``). Whichever
arrives first, the check must neither spend the ticket nor carry the file: it gets an empty 200 while the
browser holds a live or just-spent ticket for these bytes, else the empty 404. Only the navigation (or a
client that sends no fetch metadata at all) spends the ticket and receives the bytes.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from dashboards.handoff import BINDING_COOKIE, Handoffs

log = logging.getLogger(__name__)

TICKET_SECONDS = 60.0


@dataclass(frozen=True)
class Ticket:
    sha256: str
    binding: str
    username: str
    artifact: str
    deadline: float


# Keyed by the bytes' SHA-256: two clicks that make the same bytes allow two fetches.
_tickets: Handoffs[Ticket] = Handoffs(TICKET_SECONDS)
# A spent ticket still answers the frontend's check for a minute (see MediaGate).
_spent: Handoffs[bool] = Handoffs(TICKET_SECONDS)


def issue(data: bytes, binding: str | None, username: str, artifact: str, *, now: float | None = None) -> Ticket | None:
    """Allow one fetch of ``data`` by the browser holding cookie value ``binding``; None if there is no
    binding (no browser to bind to: the fetch will be refused)."""
    if not binding:
        log.warning("download %s for %s made without a browser binding; its fetch will be refused", artifact, username)
        return None
    at = time.monotonic() if now is None else now
    ticket = Ticket(hashlib.sha256(data).hexdigest(), binding, username, artifact, at + TICKET_SECONDS)
    _tickets.put(ticket.sha256, binding, ticket, now=at)
    return ticket


def claim(sha256: str, binding: str | None, *, now: float | None = None) -> Ticket | None:
    """Spend the ticket for these bytes and this browser, if one is live."""
    ticket = _tickets.take(sha256, binding, now=now)
    if ticket is not None:
        _spent.put(sha256, ticket.binding, True, replace=True, now=now)
    return ticket


def known(sha256: str, binding: str | None, *, now: float | None = None) -> bool:
    """Whether this browser holds a live ticket for these bytes, or spent one within the last minute."""
    return _tickets.waiting(sha256, binding, now=now) or _spent.waiting(sha256, binding, now=now)


def pending() -> int:
    return len(_tickets)


def deferred(make: Callable[[], bytes], binding: str | None, username: str, artifact: str) -> Callable[[], bytes]:
    """The callable for ``st.download_button``: make the file on click, then leave its ticket."""

    def run() -> bytes:
        data = make()
        issue(data, binding, username, artifact)
        return data

    return run


def _cookie(headers: list[tuple[bytes, bytes]], name: str) -> str | None:
    from http.cookies import CookieError, SimpleCookie

    for key, value in headers:
        if key.lower() == b"cookie":
            jar = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except CookieError:
                return None
            if name in jar:
                return jar[name].value
    return None


def _decoded(body: bytes, encoding: bytes) -> bytes | None:
    """The file's bytes under Streamlit's compression (its gzip middleware sits inside this one)."""
    import gzip

    encoding = encoding.strip().lower()
    if encoding in (b"", b"identity"):
        return body
    if encoding == b"gzip":
        try:
            return gzip.decompress(body)
        except OSError:
            return None
    return None


class MediaGate:
    """ASGI middleware: a downloadable ``/media/`` response leaves only against a live ticket."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or "/media/" not in scope.get("path", ""):
            await self.app(scope, receive, send)
            return
        start: dict | None = None
        body = bytearray()

        async def hold(message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                body.extend(message.get("body", b""))

        await self.app(scope, receive, hold)
        if start is None:
            return
        headers = dict((k.lower(), v) for k, v in start.get("headers", []))
        attachment = headers.get(b"content-disposition", b"").lower().startswith(b"attachment")
        if attachment:
            binding = _cookie(scope.get("headers", []), BINDING_COOKIE)
            content = _decoded(bytes(body), headers.get(b"content-encoding", b""))
            digest = hashlib.sha256(content).hexdigest() if content is not None else ""
            ok = start["status"] == 200 and scope["method"] == "GET" and content is not None
            mode = dict((k.lower(), v) for k, v in scope.get("headers", [])).get(b"sec-fetch-mode", b"navigate")
            if ok and mode != b"navigate":
                # The frontend's check: an answer, never the file, never the ticket.
                status = 200 if known(digest, binding) else 404
                await send({"type": "http.response.start", "status": status,
                            "headers": [(b"content-length", b"0"), (b"cache-control", b"no-store")]})
                await send({"type": "http.response.body", "body": b""})
                return
            ticket = claim(digest, binding) if ok else None
            if ticket is None:
                log.warning("download fetch refused: %s %s (cookie %s, sha256 %s)", scope["method"], scope["path"],
                            "present" if binding else "absent", digest[:16])
                await send({"type": "http.response.start", "status": 404,
                            "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"0"),
                                        (b"cache-control", b"no-store")]})
                await send({"type": "http.response.body", "body": b""})
                return
            log.info("download fetched once: %s by %s (sha256 %s)", ticket.artifact, ticket.username, digest[:16])
            start = {**start, "headers": [*[(k, v) for k, v in start.get("headers", []) if k.lower() != b"cache-control"],
                                          (b"cache-control", b"no-store")]}
        await send(start)
        await send({"type": "http.response.body", "body": bytes(body)})

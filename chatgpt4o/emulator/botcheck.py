"""The emulator's TLS bot check on a live connection (``bot_check="tls"``).

Before the TLS handshake, the server peeks (``MSG_PEEK``: the bytes stay in the socket for the
handshake) at the ClientHello, waits until the whole hello is there, and classifies it with
:mod:`.tlscheck`. A connection whose hello has no browser traits gets a Cloudflare-style
challenge for every request on it; the handshake itself proceeds normally, as at a CDN.
"""

from __future__ import annotations

import logging
import socket
import time

from . import tlscheck

__all__ = ["BOT_CHECKS", "is_browser_connection", "peek_client_hello"]

BOT_CHECKS: tuple[str, ...] = ("tls",)

logger = logging.getLogger("chatgpt4o.emulator")


def peek_client_hello(sock: socket.socket, timeout: float = 5.0) -> bytes:
    """The ClientHello's bytes, left unread in ``sock``; ``b""`` if the peer closed.

    Raises ``ValueError`` (not a ClientHello) or ``TimeoutError`` (incomplete after
    ``timeout`` seconds).
    """
    deadline = time.monotonic() + timeout
    want = 5
    seen = -1
    previous = sock.gettimeout()
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the ClientHello did not arrive in time")
            sock.settimeout(left)
            data = sock.recv(max(want, 5), socket.MSG_PEEK)
            if not data:
                return b""
            want = tlscheck.hello_length(data)
            if len(data) >= want:
                return data[:want]
            if len(data) == seen:
                # MSG_PEEK returns at once while any byte is pending: wait for the rest
                time.sleep(0.002)
            seen = len(data)
    finally:
        sock.settimeout(previous)


def is_browser_connection(sock: socket.socket, timeout: float = 5.0) -> bool:
    """Whether the ClientHello waiting in ``sock`` looks like a browser's (False when unreadable)."""
    try:
        data = peek_client_hello(sock, timeout)
        return bool(data) and tlscheck.looks_like_browser(tlscheck.parse_client_hello(data))
    except (OSError, ValueError) as exc:
        logger.debug("bot check: unreadable ClientHello (%s)", exc)
        return False

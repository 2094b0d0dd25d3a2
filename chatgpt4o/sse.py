"""An incremental decoder for server-sent events, shared by both plugin generations. No I/O.

Both generations stream with ``text/event-stream``: 1.x sends OpenAI-style
``data: {"choices": ...}`` chunks, 2.x named events (``message_start``,
``done``, ``error``, ...) after a 4 KiB comment preamble. The decoder only
splits the bytes into events; what an event means is each protocol's business.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["SSEDecoder", "SSEEvent", "header", "is_event_stream"]


@dataclass(frozen=True)
class SSEEvent:
    """One server-sent event: its ``event:`` name (``""`` if none) and ``data``."""

    event: str
    data: str


_LINE_BREAK = re.compile(rb"\r\n|\r|\n")


class SSEDecoder:
    """Incremental SSE decoder: feed bytes as they arrive, get whole events.

    Lines may end in ``\\n``, ``\\r\\n`` or ``\\r``; chunk boundaries may fall
    anywhere, even inside a UTF-8 sequence. Comment lines (``:``) and fields
    other than ``event`` and ``data`` are ignored.
    """

    def __init__(self) -> None:
        self._buffer = b""
        self._pending: list[bytes] = []  # pieces of one unfinished line, joined once it ends
        self._event = ""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Add bytes; return the events they complete."""
        if b"\n" not in chunk and b"\r" not in chunk and not self._buffer.endswith(b"\r"):
            # Still inside one line: keep the piece, do not re-join or re-scan the buffer
            # (a line that never ends would otherwise cost quadratic time).
            self._pending.append(chunk)
            return []
        if self._pending:
            self._buffer += b"".join(self._pending)
            self._pending = []
        data = self._buffer + chunk
        # A trailing "\r" may be the first half of a "\r\n": hold it back.
        hold = data.endswith(b"\r")
        lines = _LINE_BREAK.split(data[:-1] if hold else data)
        self._buffer = lines.pop() + (b"\r" if hold else b"")
        events: list[SSEEvent] = []
        for raw in lines:
            self._line(raw.decode("utf-8", "replace"), events)
        return events

    def close(self) -> list[SSEEvent]:
        """Flush what remains at end of stream (an event without a blank line after it)."""
        events: list[SSEEvent] = []
        if self._pending:
            self._buffer += b"".join(self._pending)
            self._pending = []
        if self._buffer.rstrip(b"\r"):
            self._line(self._buffer.rstrip(b"\r").decode("utf-8", "replace"), events)
        self._buffer = b""
        self._line("", events)
        return events

    def _line(self, line: str, events: list[SSEEvent]) -> None:
        if not line:
            if self._data:
                events.append(SSEEvent(self._event, "\n".join(self._data)))
            self._event, self._data = "", []
            return
        if line.startswith(":"):
            return
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value


def header(headers: Mapping[str, str], name: str) -> str:
    """A header's value, ``""`` if absent; case-insensitive even over a plain dict."""
    value = headers.get(name)
    if value is None:  # plain dicts in tests; requests' headers ignore case
        lower = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lower), "")
    return value


def is_event_stream(headers: Mapping[str, str]) -> bool:
    """True when the answer is a server-sent event stream."""
    return header(headers, "Content-Type").split(";")[0].strip().lower() == "text/event-stream"

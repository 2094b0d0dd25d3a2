"""HTTP/1.1 for the gateway's server: one connection, many requests, any WSGI application (PEP 3333).

Standard library only. A connection answers requests one after the other (persistent
connections, ``Connection: close`` honoured, HTTP/1.0 ``keep-alive`` understood); an answer is
framed by its ``Content-Length`` (given by the application or counted when the body is a list)
or, when its length is unknown, in chunked transfer coding (on HTTP/1.0: by closing the
connection). Each piece of a streamed body is sent as soon as the application yields it.

Bounds: a request line or header line of at most :data:`MAX_LINE` bytes (414 / 431), at most
:data:`MAX_HEADERS` header lines and :data:`MAX_HEAD_BYTES` bytes of head (431). A request body
is read only through ``wsgi.input``, which never reads past the body's end (its
``Content-Length`` or its last chunk). A body the application left unread is skipped when it
is small (:data:`DRAIN_BYTES`); a larger one ends the connection after the answer.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Callable, Iterable
from typing import Any, BinaryIO

__all__ = ["DRAIN_BYTES", "MAX_HEADERS", "MAX_HEAD_BYTES", "MAX_LINE", "Exchange", "ProtocolError", "read_head"]

MAX_LINE = 16 * 1024
MAX_HEADERS = 100
MAX_HEAD_BYTES = 64 * 1024
#: How much of a body the application did not read is skipped to keep the connection.
DRAIN_BYTES = 64 * 1024
_HOP_BY_HOP = frozenset(("connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
                         "trailers", "transfer-encoding", "upgrade"))
_NO_BODY = frozenset((204, 304))


class ProtocolError(ValueError):
    """A request the server answers itself (and then closes the connection); raised by
    ``wsgi.input`` too, when the body is malformed or ends early."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message

    def answer(self) -> bytes:
        body = json.dumps({"error": {"message": self.message, "type": "invalid_request_error", "param": None,
                                     "code": "bad_http_request"}}).encode()
        return (f"HTTP/1.1 {self.status} {self.reason}\r\nDate: {_date()}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode("latin-1") + body


_date_cache: tuple[int, str] = (0, "")


def _date() -> str:
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, email.utils.formatdate(now, usegmt=True))
    return _date_cache[1]


def read_head(rfile: BinaryIO, first: bytes) -> tuple[str, str, str, list[tuple[str, str]]]:
    """``(method, target, version, headers)`` of a request whose first line is ``first``."""
    if len(first) > MAX_LINE or not first.endswith(b"\n"):
        raise ProtocolError(414, "URI Too Long", f"the request line is over {MAX_LINE} bytes")
    parts = first.decode("latin-1").rstrip("\r\n").split(" ")
    if len(parts) != 3 or not parts[0].isalpha() or not parts[1]:
        raise ProtocolError(400, "Bad Request", "malformed request line")
    method, target, version = parts
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        raise ProtocolError(505, "HTTP Version Not Supported", "this server speaks HTTP/1.1 and HTTP/1.0")
    headers: list[tuple[str, str]] = []
    size = len(first)
    while True:
        line = rfile.readline(MAX_LINE + 1)
        size += len(line)
        if len(line) > MAX_LINE or size > MAX_HEAD_BYTES or len(headers) >= MAX_HEADERS:
            raise ProtocolError(431, "Request Header Fields Too Large", "the request's headers are too large")
        if line in (b"\r\n", b"\n"):
            return method, target, version, headers
        name, colon, value = line.decode("latin-1").partition(":")
        if not line.endswith(b"\n") or not colon or not name or name != name.strip() or line[:1] in b" \t":
            raise ProtocolError(400, "Bad Request", "malformed header line")
        headers.append((name, value.strip()))


class Input:
    """``wsgi.input``: the body of one request, never read past its end."""

    def __init__(self, rfile: BinaryIO, length: int | None, on_read: Callable[[], None] | None = None) -> None:
        self._rfile = rfile
        self._left = length if length is not None else 0  # bytes of the current chunk when chunked
        self._chunked = length is None
        self._done = length == 0
        self._on_read = on_read
        #: The body could not be read (malformed, ended early): the connection cannot go on.
        self.failed = False

    @property
    def done(self) -> bool:
        """Whether the whole body has been read."""
        return self._done

    @property
    def left(self) -> int | None:
        """Bytes not yet read (``None``: a chunked body, length unknown)."""
        return None if self._chunked and not self._done else self._left

    def _next_chunk(self) -> None:
        line = self._rfile.readline(MAX_LINE + 1)
        size = line.split(b";", 1)[0].strip()
        if not line.endswith(b"\n") or not size or len(size) > 16 or size.strip(b"0123456789abcdefABCDEF"):
            self.failed = True
            raise ProtocolError(400, "Bad Request", "malformed chunked body")
        self._left = int(size, 16)
        if self._left == 0:
            self._done = True
            for _ in range(MAX_HEADERS + 1):  # trailer fields, ignored
                if self._rfile.readline(MAX_LINE + 1) in (b"\r\n", b"\n", b""):
                    return
            raise ProtocolError(431, "Request Header Fields Too Large", "too many trailer fields")

    def keepable(self) -> bool:
        """Whether the connection can serve another request once this one is answered."""
        if self._done:
            return not self.failed
        return not self.failed and self._on_read is None and (self._chunked or self._left <= DRAIN_BYTES)

    def _start(self) -> None:
        on_read = self._on_read
        if on_read is not None:
            self._on_read = None
            on_read()

    def _took(self, data: bytes) -> None:
        if not data:
            self.failed = True
            raise ProtocolError(400, "Bad Request", "the request body ended early")
        self._left -= len(data)
        if self._left == 0:
            if not self._chunked:
                self._done = True
            elif self._rfile.readline(3) not in (b"\r\n", b"\n"):
                self.failed = True
                raise ProtocolError(400, "Bad Request", "malformed chunked body")

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes (all that is left when ``size`` is negative or None)."""
        self._start()
        parts: list[bytes] = []
        want = -1 if size is None or size < 0 else size
        while not self._done and want != 0:
            if self._chunked and self._left == 0:
                self._next_chunk()
                continue
            data = self._rfile.read(self._left if want < 0 else min(want, self._left))
            self._took(data)
            parts.append(data)
            want = want if want < 0 else want - len(data)
        return b"".join(parts)

    def readline(self, size: int | None = -1) -> bytes:
        """One line of the body (at most ``size`` bytes)."""
        self._start()
        limit = MAX_LINE if size is None or size < 0 else size
        out = b""
        while len(out) < limit and not out.endswith(b"\n") and not self._done:
            if self._chunked and self._left == 0:
                self._next_chunk()
                continue
            data = self._rfile.readline(min(limit - len(out), self._left))
            self._took(data)
            out += data
        return out

    def readlines(self, hint: int = -1) -> list[bytes]:
        """The remaining lines."""
        lines = []
        total = 0
        while line := self.readline():
            lines.append(line)
            total += len(line)
            if 0 < hint <= total:
                break
        return lines

    def __iter__(self) -> Any:
        return iter(self.readline, b"")

    def drain(self, limit: int) -> bool:
        """Skip what is left of the body, up to ``limit`` bytes; True if the body is over."""
        if self._on_read is not None and not self._done:
            return False  # the client still waits for 100 Continue: it may never send the body
        while not self._done and limit > 0:
            limit -= len(self.read(min(limit, 65536)) or b"x")
        return self._done


class Exchange:
    """One request's answer: ``start_response``, ``write`` and the body, framed for HTTP/1.1."""

    def __init__(self, send: Callable[[bytes], Any], method: str, version: str, keep_alive: bool,
                 body: Input) -> None:
        self._send = send
        self._version = version
        self._head_only = method == "HEAD"
        #: Whether the connection stays open after this answer (decided when the head is sent).
        self.keep_alive = keep_alive
        self.input = body
        self.status: str | None = None
        self._headers: list[tuple[str, str]] = []
        #: Whether the status line and headers have been sent.
        self.sent = False
        self._chunked = False
        self._body = True
        self._left: int | None = None  # of the Content-Length the application gave
        #: Body bytes sent.
        self.bytes = 0

    def start_response(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        """PEP 3333's ``start_response``."""
        if exc_info is not None:
            try:
                if self.sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.status is not None:
            raise AssertionError("start_response() was already called")
        if (not isinstance(status, str) or len(status) < 4 or not status[:3].isdigit() or status[3] != " "
                or "\n" in status or "\r" in status):
            raise ValueError(f"invalid status line {status!r}")
        for name, value in headers:
            if not isinstance(name, str) or not isinstance(value, str) or "\n" in name + value or "\r" in name + value:
                raise ValueError(f"invalid header {name!r}")
        self.status, self._headers = status, list(headers)
        return self.write

    def _head(self, length: int | None) -> bytes:
        if self.status is None:
            raise AssertionError("the application did not call start_response()")
        code = int(self.status[:3])
        lines = [f"HTTP/1.1 {self.status}"]
        given: int | None = None
        dated = False
        for name, value in self._headers:
            low = name.lower()
            if low in _HOP_BY_HOP:  # the server's business (PEP 3333); a "close" is honoured
                self.keep_alive = self.keep_alive and not (low == "connection" and "close" in value.lower())
                continue
            if low == "content-length":
                if not value.isdigit() or given is not None:
                    continue
                given = int(value)
            dated = dated or low == "date"
            lines.append(f"{name}: {value}")
        has_body = code >= 200 and code not in _NO_BODY
        self._body = has_body and not self._head_only  # a HEAD answer's head tells the GET's length
        if not dated:
            lines.append(f"Date: {_date()}")
        if given is not None:
            self._left = given if self._body else None
        elif not has_body:
            pass
        elif length is not None:
            lines.append(f"Content-Length: {length}")
        elif self._head_only:
            pass
        elif self._version == "HTTP/1.1":
            self._chunked = True
            lines.append("Transfer-Encoding: chunked")
        else:
            self.keep_alive = False  # HTTP/1.0 without a length: the end of the body is the end
        self.keep_alive = self.keep_alive and self.input.keepable()
        if not self.keep_alive and self._version == "HTTP/1.1":
            lines.append("Connection: close")
        elif self.keep_alive and self._version == "HTTP/1.0":
            lines.append("Connection: keep-alive")
        self.sent = True
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _frame(self, data: bytes) -> bytes:
        if not self._body or not data:
            return b""
        if self._left is not None:
            data = data[:self._left]
            self._left -= len(data)
        self.bytes += len(data)
        if self._chunked:
            return b"%x\r\n%b\r\n" % (len(data), data)
        return data

    def write(self, data: bytes) -> None:
        """PEP 3333's ``write``: sends ``data`` at once (the head first, if not yet sent)."""
        if not isinstance(data, bytes):
            raise TypeError(f"a WSGI body is bytes, not {type(data).__name__}")
        if not self.sent:
            if data:
                self._send(self._head(None) + self._frame(data))
        elif data:
            framed = self._frame(data)
            if framed:
                self._send(framed)

    def run(self, app: Callable[..., Iterable[bytes]], environ: dict[str, Any]) -> None:
        """Call ``app`` and send its whole answer."""
        result = app(environ, self.start_response)
        try:
            if isinstance(result, (list, tuple)) and not self.sent:
                body = b"".join(result)
                self._send(self._head(len(body)) + self._frame(body))
            else:
                for data in result:
                    self.write(data)
                if not self.sent:
                    self._send(self._head(0))
                elif self._chunked:
                    self._send(b"0\r\n\r\n")
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        if self._left:  # fewer bytes than the application's Content-Length: the client waits for more
            self.keep_alive = False

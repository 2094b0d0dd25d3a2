"""One curl transfer as requests sees it: pumping libcurl's multi interface, and ``response.raw``.

Bodies are pumped by whoever reads them (``curl_multi_perform``/``curl_multi_wait`` on the
reading thread): no helper thread, and a streamed answer yields each piece as it arrives. The
write callback pauses the transfer when 256 KiB are unread, so a decompression bomb inflates
no faster than it is read (and the client's caps stop it). curl's failures become requests'
exceptions (SSLError, ProxyError, ReadTimeout, ...). :mod:`._curl` holds the adapter around it.
"""

from __future__ import annotations

import collections
import http.client
from collections.abc import Callable, Iterator
from typing import Any

import requests
from curl_cffi import Curl, ffi, lib

__all__ = ["CurlBody", "Handle", "Transfer", "exception_for"]

_WRITEFUNC_PAUSE = 0x10000001  # CURL_WRITEFUNC_PAUSE
_PAUSE_CONT = 0  # CURLPAUSE_CONT
_MSG_DONE = 1  # CURLMSG_DONE
_HIGH_WATER = 256 * 1024  # unread bytes before the transfer pauses
_WAIT_MS = 500  # longest single wait for the socket; curl's own timers cut it shorter

_SSL_CODES = frozenset({35, 51, 53, 54, 58, 59, 60, 64, 66, 77, 80, 82, 83, 90, 91, 98})
_PROXY_CODES = frozenset({5, 97})
_CONNECT_CODES = frozenset({6, 7})


class Handle:
    """An easy handle and the multi handle that drives it (and keeps its connections)."""

    __slots__ = ("curl", "multi", "running")

    def __init__(self) -> None:
        self.curl = Curl()
        self.multi = lib.curl_multi_init()
        self.running = ffi.new("int *", 0)

    def close(self) -> None:
        lib.curl_multi_cleanup(self.multi)
        self.curl.close()


class _Head:
    """What ``extract_cookies_to_jar`` reads from ``raw._original_response``."""

    def __init__(self, msg: http.client.HTTPMessage) -> None:
        self.msg = msg

    def info(self) -> http.client.HTTPMessage:
        return self.msg


class Transfer:
    """One request on one handle: the head and body as curl delivers them."""

    def __init__(self, handle: Handle, request: requests.PreparedRequest, has_proxy: bool,
                 checkin: Callable[[Handle], None]) -> None:
        self.handle = handle
        self.checkin = checkin  # takes the handle back when the transfer is over
        self.request = request
        self.has_proxy = has_proxy
        self.head: list[bytes] = []
        self.head_done = False
        self.chunks: collections.deque[bytes] = collections.deque()
        self.buffered = 0
        self.paused = False
        self.limit = _HIGH_WATER  # unread bytes before the transfer pauses
        self.done = False
        self.error: requests.RequestException | None = None
        self.released = False
        self.body: bytes = b""  # POSTFIELDS does not copy: keep the bytes alive

    # -- curl callbacks (run inside curl_multi_perform, on the reading thread)

    def on_header(self, line: bytes) -> int:
        if line.startswith(b"HTTP/"):
            self.head = [line]
        elif line in (b"\r\n", b"\n"):
            status = self.head[0].split(b" ", 2)[1] if self.head else b"0"
            # 1xx answers (100 Continue, 103 Early Hints) come before the real one
            if not status.startswith(b"1"):
                self.head_done = True
        else:
            self.head.append(line)
        return len(line)

    def on_body(self, data: bytes) -> int:
        if self.buffered >= self.limit:
            self.paused = True
            return _WRITEFUNC_PAUSE  # curl hands the same bytes again after the pause
        self.chunks.append(data)
        self.buffered += len(data)
        return len(data)

    # -- pumping

    def pump(self) -> None:
        """One pass of curl's state machine; waits on the socket when nothing moved."""
        handle = self.handle
        before = self.buffered
        if self.paused:
            self.paused = False
            handle.curl.pause(_PAUSE_CONT)
        code = lib.curl_multi_perform(handle.multi, handle.running)
        if code != 0:
            self.fail(code, "curl_multi_perform failed")
            return
        queued = ffi.new("int *", 0)
        while True:
            msg = lib.curl_multi_info_read(handle.multi, queued)
            if msg == ffi.NULL:
                break
            if msg.msg == _MSG_DONE:
                self.done = True
                self.head_done = True
                if msg.data.result != 0:
                    self.fail(msg.data.result, ffi.string(handle.curl._error_buffer).decode("utf-8", "replace"))
        if not self.done and self.buffered == before and not self.paused:
            lib.curl_multi_wait(handle.multi, ffi.NULL, 0, _WAIT_MS, ffi.NULL)

    def fail(self, code: int, detail: str) -> None:
        self.done = True
        self.error = exception_for(code, detail, self)

    def wait_for_head(self) -> None:
        while not self.head_done:
            self.pump()
        if self.error is not None and not self.head:
            raise self.error

    def release(self) -> None:
        """Hand the handle back; an unfinished transfer is aborted (its connection closed)."""
        if self.released:
            return
        self.released = True
        self.done = True
        handle = self.handle
        lib.curl_multi_remove_handle(handle.multi, handle.curl._curl)
        handle.curl.clean_handles_and_buffers()
        self.checkin(handle)


class CurlBody:
    """``response.raw`` for a curl transfer: the parts of urllib3's HTTPResponse requests uses.

    The bytes are already decoded by curl (``Content-Encoding``), so ``decode_content`` is
    accepted and ignored.
    """

    def __init__(self, transfer: Transfer, status: int, reason: str, msg: http.client.HTTPMessage) -> None:
        self._transfer = transfer
        self.status = status
        self.reason = reason
        self.headers = msg
        self._original_response = _Head(msg)
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def readable(self) -> bool:
        return True

    def _fill(self, want: int | None) -> None:
        transfer = self._transfer
        transfer.limit = max(_HIGH_WATER, want) if want is not None else 1 << 62
        while not transfer.done and (want is None or transfer.buffered < want):
            transfer.pump()

    def _take(self, amt: int | None) -> bytes:
        transfer = self._transfer
        out: list[bytes] = []
        size = 0
        while transfer.chunks and (amt is None or size < amt):
            chunk = transfer.chunks.popleft()
            if amt is not None and size + len(chunk) > amt:
                keep = amt - size
                transfer.chunks.appendleft(chunk[keep:])
                chunk = chunk[:keep]
            out.append(chunk)
            size += len(chunk)
        transfer.buffered -= size
        if not out:
            if transfer.error is not None:
                error, transfer.error = transfer.error, None
                self.close()
                raise error
            if transfer.done:
                self.close()
        return b"".join(out)

    def read(self, amt: int | None = None, decode_content: bool | None = None, **_: Any) -> bytes:
        """Up to ``amt`` bytes (all that is left for ``None``); ``b""`` at the end."""
        if self._closed:
            return b""
        self._fill(amt)
        return self._take(amt)

    def read1(self, amt: int = -1, decode_content: bool | None = None) -> bytes:
        """What has arrived (waiting for at least one byte), at most ``amt`` bytes."""
        if self._closed:
            return b""
        self._fill(1)
        return self._take(None if amt is None or amt < 0 else amt)

    def stream(self, amt: int | None = 65536, decode_content: bool | None = None) -> Iterator[bytes]:
        while True:
            data = self.read1(amt or -1)
            if not data:
                return
            yield data

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._transfer.release()

    def release_conn(self) -> None:
        self.close()

    def __del__(self) -> None:
        # a response dropped unread: its handle goes back to the pool (the transfer is aborted)
        if not self._closed:
            self.close()


def exception_for(code: int, detail: str, transfer: Transfer) -> requests.RequestException:
    """curl's error ``code`` as the requests exception a caller of requests expects."""
    message = f"curl: ({code}) {detail}"
    request = transfer.request
    if code == 28:
        connected = transfer.head or transfer.chunks
        kind: type[requests.RequestException] = (
            requests.exceptions.ReadTimeout if connected else requests.exceptions.ConnectTimeout
        )
        return kind(message, request=request)
    if code in _SSL_CODES:
        return requests.exceptions.SSLError(message, request=request)
    if code in _PROXY_CODES or (transfer.has_proxy and (code in _CONNECT_CODES or "CONNECT" in detail)):
        return requests.exceptions.ProxyError(message, request=request)
    if code == 61:
        return requests.exceptions.ContentDecodingError(message, request=request)
    if code == 18:
        return requests.exceptions.ChunkedEncodingError(message, request=request)
    if code in (1, 3):
        return requests.exceptions.InvalidURL(message, request=request)
    return requests.exceptions.ConnectionError(message, request=request)

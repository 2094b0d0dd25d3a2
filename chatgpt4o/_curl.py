"""A requests transport adapter on libcurl-impersonate (``curl_cffi``): a browser's TLS on the wire.

Imported only when a client asks for ``impersonate=`` (the ``browser`` extra). Why not the
``curl-adapter`` package: it opens a new connection for every request (a fresh easy handle and
a fresh multi handle, whose connection cache dies with it), its ``raw.read1`` fails on urllib3
2.x, closing a response early raises, and it bounds reads by a low-speed limit rather than a
deadline. This one keeps what the client relies on:

- Connections are kept alive: a small pool of (easy handle, multi handle) pairs; the multi
  handle owns the connection cache, and one pair serves one transfer at a time.
- Bodies are pumped by whoever reads them (``curl_multi_perform``/``curl_multi_wait`` on the
  reading thread): no helper thread, and a streamed answer yields each piece as it arrives.
  The write callback pauses the transfer when 256 KiB are unread, so a decompression bomb
  inflates no faster than it is read (and the client's caps stop it).
- The read part of ``timeout`` bounds the whole transfer (``CURLOPT_TIMEOUT_MS``): the client
  passes what is left of the ask's deadline there, so one deadline still covers an ask.
- curl's failures become requests' exceptions (SSLError, ProxyError, ReadTimeout, ...).
"""

from __future__ import annotations

import collections
import email.parser
import http.client
import os
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import requests
from curl_cffi import Curl, CurlOpt, ffi, lib
from requests.adapters import BaseAdapter
from requests.cookies import extract_cookies_to_jar
from requests.structures import CaseInsensitiveDict
from requests.utils import (
    DEFAULT_CA_BUNDLE_PATH,
    get_encoding_from_headers,
    select_proxy,
)

__all__ = ["CurlAdapter"]

_WRITEFUNC_PAUSE = 0x10000001  # CURL_WRITEFUNC_PAUSE
_PAUSE_CONT = 0  # CURLPAUSE_CONT
_MSG_DONE = 1  # CURLMSG_DONE
_HIGH_WATER = 256 * 1024  # unread bytes before the transfer pauses
_WAIT_MS = 500  # longest single wait for the socket; curl's own timers cut it shorter

_SSL_CODES = frozenset({35, 51, 53, 54, 58, 59, 60, 64, 66, 77, 80, 82, 83, 90, 91, 98})
_PROXY_CODES = frozenset({5, 97})
_CONNECT_CODES = frozenset({6, 7})


class _Handle:
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


class _Transfer:
    """One request on one handle: the head and body as curl delivers them."""

    def __init__(self, adapter: CurlAdapter, handle: _Handle, request: requests.PreparedRequest,
                 has_proxy: bool) -> None:
        self.adapter = adapter
        self.handle = handle
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
        self.error = self.adapter.exception_for(code, detail, self)

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
        self.adapter.checkin(handle)


class CurlBody:
    """``response.raw`` for a curl transfer: the parts of urllib3's HTTPResponse requests uses.

    The bytes are already decoded by curl (``Content-Encoding``), so ``decode_content`` is
    accepted and ignored.
    """

    def __init__(self, transfer: _Transfer, status: int, reason: str, msg: http.client.HTTPMessage) -> None:
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


class CurlAdapter(BaseAdapter):
    """Send requests through libcurl-impersonate, with the TLS and HTTP/2 fingerprint of ``target``.

    ``target`` is a curl_cffi name (``"chrome"``, ``"safari184"``, ...); ``pool_maxsize``
    handles (each with its kept-alive connections) are kept for reuse.
    """

    def __init__(self, target: str, pool_maxsize: int = 10) -> None:
        super().__init__()
        self.target = target
        self._pool_maxsize = pool_maxsize
        self._idle: list[_Handle] = []
        self._lock = threading.Lock()
        self._closed = False

    def __repr__(self) -> str:
        return f"CurlAdapter(target={self.target!r})"

    # -- handles

    def checkout(self) -> _Handle:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return _Handle()

    def checkin(self, handle: _Handle) -> None:
        with self._lock:
            if not self._closed and len(self._idle) < self._pool_maxsize:
                self._idle.append(handle)
                return
        handle.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for handle in idle:
            handle.close()

    # -- sending

    def send(self, request: requests.PreparedRequest, stream: bool = False,
             timeout: Any = None, verify: bool | str = True, cert: Any = None,
             proxies: Any = None) -> requests.Response:
        """Send ``request``; with ``stream=False`` the body is read before returning."""
        if self._closed:
            raise requests.exceptions.ConnectionError("the adapter is closed", request=request)
        proxy = select_proxy(request.url or "", proxies or {})
        handle = self.checkout()
        transfer = _Transfer(self, handle, request, bool(proxy))
        try:
            self._configure(handle.curl, transfer, request, timeout, verify, cert, proxy)
            code = lib.curl_multi_add_handle(handle.multi, handle.curl._curl)
            if code != 0:
                raise requests.exceptions.ConnectionError(f"curl_multi_add_handle failed ({code})", request=request)
            transfer.wait_for_head()
        except BaseException:
            transfer.release()
            raise
        response = self._build_response(request, transfer)
        if not stream:
            response.content  # noqa: B018 - reads and releases the handle
        return response

    def _configure(self, curl: Curl, transfer: _Transfer, request: requests.PreparedRequest,
                   timeout: Any, verify: bool | str, cert: Any, proxy: str | None) -> None:
        curl.reset()
        curl.impersonate(self.target, default_headers=False)
        url = request.url or ""
        curl.setopt(CurlOpt.URL, url.encode())
        curl.setopt(CurlOpt.NOSIGNAL, 1)  # curl's timers must not use signals in threads
        curl.setopt(CurlOpt.FOLLOWLOCATION, 0)  # redirects are the caller's business
        curl.setopt(CurlOpt.SUPPRESS_CONNECT_HEADERS, 1)
        method = (request.method or "GET").upper()
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        if not isinstance(body, bytes):
            raise requests.exceptions.InvalidHeader("the curl transport sends bytes bodies only")
        if method == "HEAD":
            curl.setopt(CurlOpt.NOBODY, 1)
        elif method == "POST":
            curl.setopt(CurlOpt.POST, 1)
        elif method != "GET":
            curl.setopt(CurlOpt.CUSTOMREQUEST, method.encode())
        if body or method in ("POST", "PUT", "PATCH"):
            transfer.body = body
            curl.setopt(CurlOpt.POSTFIELDSIZE, len(body))
            curl.setopt(CurlOpt.POSTFIELDS, body)
        lines = [b"Expect:"]  # no 100-continue round trip
        netloc = urlsplit(url).netloc
        for name, value in request.headers.items():
            if value is None or (name.lower() == "host" and value == netloc):
                continue
            if name.lower() == "accept-encoding":
                curl.setopt(CurlOpt.ACCEPT_ENCODING, str(value).encode())  # curl decodes what it asked for
            lines.append(f"{name}: {value}".encode("latin-1"))
        curl.setopt(CurlOpt.HTTPHEADER, lines)
        connect, total = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        if connect is not None:
            curl.setopt(CurlOpt.CONNECTTIMEOUT_MS, max(1, int(connect * 1000)))
        if total is not None:
            curl.setopt(CurlOpt.TIMEOUT_MS, max(1, int(total * 1000)))
        if verify is False:
            curl.setopt(CurlOpt.SSL_VERIFYPEER, 0)
            curl.setopt(CurlOpt.SSL_VERIFYHOST, 0)
        else:
            bundle = DEFAULT_CA_BUNDLE_PATH if verify is True else verify
            if not os.path.exists(bundle):
                raise OSError(f"Could not find a suitable TLS CA certificate bundle, invalid path: {bundle}")
            option = CurlOpt.CAPATH if os.path.isdir(bundle) else CurlOpt.CAINFO
            curl.setopt(option, bundle.encode())
            curl.setopt(CurlOpt.PROXY_CAINFO, DEFAULT_CA_BUNDLE_PATH.encode())
        if cert:
            cert_file, key_file = cert if isinstance(cert, tuple) else (cert, None)
            curl.setopt(CurlOpt.SSLCERT, str(cert_file).encode())
            if key_file:
                curl.setopt(CurlOpt.SSLKEY, str(key_file).encode())
        if proxy:
            curl.setopt(CurlOpt.PROXY, (proxy if "://" in proxy else "http://" + proxy).encode())
        curl.setopt(CurlOpt.HEADERFUNCTION, transfer.on_header)
        curl.setopt(CurlOpt.WRITEFUNCTION, transfer.on_body)

    def _build_response(self, request: requests.PreparedRequest, transfer: _Transfer) -> requests.Response:
        status_line = transfer.head[0].decode("latin-1").strip() if transfer.head else "HTTP/1.1 0"
        parts = status_line.split(" ", 2)
        status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
        reason = parts[2] if len(parts) > 2 else ""
        text = b"".join(transfer.head[1:]).decode("latin-1")
        msg = email.parser.Parser(_class=http.client.HTTPMessage).parsestr(text)
        raw = CurlBody(transfer, status, reason, msg)
        response = requests.Response()
        response.status_code = status
        headers: CaseInsensitiveDict[str] = CaseInsensitiveDict()
        for name, value in msg.items():
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        response.headers = headers
        response.encoding = get_encoding_from_headers(headers)
        response.raw = raw
        response.reason = reason
        response.url = request.url or ""
        response.request = request
        response.connection = self  # type: ignore[assignment]
        extract_cookies_to_jar(response.cookies, request, raw)  # type: ignore[no-untyped-call]
        return response

    def exception_for(self, code: int, detail: str, transfer: _Transfer) -> requests.RequestException:
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


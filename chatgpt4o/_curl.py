"""A requests transport adapter on libcurl-impersonate (``curl_cffi``): a browser's TLS on the wire.

Imported only when a client asks for ``impersonate=`` (the ``browser`` extra). Why not the
``curl-adapter`` package: it opens a new connection for every request (a fresh easy handle and
a fresh multi handle, whose connection cache dies with it), its ``raw.read1`` fails on urllib3
2.x, closing a response early raises, and it bounds reads by a low-speed limit rather than a
deadline. This one keeps what the client relies on:

- Connections are kept alive: a small pool of (easy handle, multi handle) pairs; the multi
  handle owns the connection cache, and one pair serves one transfer at a time.
- Bodies are pumped by whoever reads them, with back-pressure (:mod:`._curl_transfer`).
- The read part of ``timeout`` bounds the whole transfer (``CURLOPT_TIMEOUT_MS``): the client
  passes what is left of the ask's deadline there, so one deadline still covers an ask.
- curl's failures become requests' exceptions (SSLError, ProxyError, ReadTimeout, ...).

This module holds the adapter: the handle pool, one request as curl options, the response.
"""

from __future__ import annotations

import email.parser
import http.client
import os
import threading
from typing import Any
from urllib.parse import urlsplit

import requests
from curl_cffi import Curl, CurlOpt, lib
from requests.adapters import BaseAdapter
from requests.cookies import extract_cookies_to_jar
from requests.structures import CaseInsensitiveDict
from requests.utils import (
    DEFAULT_CA_BUNDLE_PATH,
    get_encoding_from_headers,
    select_proxy,
)

from ._curl_transfer import CurlBody, Handle, Transfer

__all__ = ["CurlAdapter"]


class CurlAdapter(BaseAdapter):
    """Send requests through libcurl-impersonate, with the TLS and HTTP/2 fingerprint of ``target``.

    ``target`` is a curl_cffi name (``"chrome"``, ``"safari184"``, ...); ``pool_maxsize``
    handles (each with its kept-alive connections) are kept for reuse.
    """

    def __init__(self, target: str, pool_maxsize: int = 10) -> None:
        super().__init__()
        self.target = target
        self._pool_maxsize = pool_maxsize
        self._idle: list[Handle] = []
        self._lock = threading.Lock()
        self._closed = False

    def __repr__(self) -> str:
        return f"CurlAdapter(target={self.target!r})"

    # -- handles

    def checkout(self) -> Handle:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return Handle()

    def checkin(self, handle: Handle) -> None:
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
        transfer = Transfer(handle, request, bool(proxy), self.checkin)
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

    def _configure(self, curl: Curl, transfer: Transfer, request: requests.PreparedRequest,
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

    def _build_response(self, request: requests.PreparedRequest, transfer: Transfer) -> requests.Response:
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

"""The HTTP server: a WordPress site with AI Power's chat shortcode, on 127.0.0.1 only.

Request flow (``_Handler._dispatch``)::

    /__emulator__/*  -> control endpoints (stats, rotate, config); not counted as site traffic
    page_path        -> [page fault?] -> the chat page (nonces joined into a cached template)
    ajax_path        -> [ajax fault?] -> admin-ajax -> the plugin's wpaicg_chatbox_message()
    anything else    -> WordPress' 404 page

Every answer is built as one ``bytes`` (status line, headers, body) and written with one
``sendall``; streamed answers (SSE, faults) write one HTTP chunk per event. The plugin model in
:meth:`_Handler._chat` follows ``classes/wpaicg_chat.php`` of the era (see ``__init__`` for what
was read in the plugin source).
"""

from __future__ import annotations

import contextlib
import dataclasses
import email.message
import email.utils
import gzip
import http.server
import json
import logging
import os
import random
import re
import select
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol
from urllib.parse import unquote_to_bytes, urlsplit

from . import botcheck  # bot_check
from . import page as page_mod
from .scenarios import (
    FAULTS,
    EmulatorConfig,
    endpoint_removed,
    nonce_failure_is_json,
    pick_fault,
    reads_request,
    sanitizes_message,
)
from .wordpress import (
    IMG_NONCE_ACTION,
    NONCE_ACTION,
    addslashes,
    esc_url,
    nonce_tick,
    php_json_encode,
    php_trim,
    sanitize_text_field,
    sanitize_textarea_field,
    wp_nonce,
    wp_unslash,
    wp_verify_nonce,
)

__all__ = ["Emulator", "running"]

logger = logging.getLogger("chatgpt4o.emulator")

POST_MAX_SIZE = 8 * 1024 * 1024  # PHP's default post_max_size
_DISCARD_LIMIT = 64 * 1024 * 1024  # larger bodies are not read at all: answer and close
_CHAT_ACTIONS = ("wpaicg_chat_shortcode_message", "wpaicg_chatbox_message")
_SERVER = "Apache/2.4.71 (Debian)"
_GREETING = (
    "Converse as if you were an AI assistant. Answer the question as truthfully as possible "
    "using the provided context. Tone: Friendly.\n, Current context: \"" + page_mod.SITE_NAME + '"'
)
_NONCE_EXPIRED = "The link you followed has expired."
_MSG_EMPTY = "It appears that nothing was inputted."
_MSG_NO_KEY = "Unable to initialize the AI instance. Please make sure the API key is valid."
_MSG_IP = "You are not allowed to access this feature."
_MSG_WORDS = "Your message contains prohibited words. Please modify your message and try again."
_MSG_TOKENS = "You have reached your token limit."
_PHP_NOTICE = (
    "<br />\n<b>Notice</b>:  Undefined index: wpaicg_chat_client_id in "
    "/var/www/html/wp-content/plugins/gpt3-ai-content-generator/classes/wpaicg_chat.php "
    "on line <b>123</b><br />\n"
)

# admin-ajax's headers for a registered action (nocache + nosniff + frame options), fixture order
_AJAX_HEADERS: tuple[tuple[str, str], ...] = (
    ("X-Robots-Tag", "noindex"),
    ("X-Content-Type-Options", "nosniff"),
    ("Expires", "Wed, 11 Jan 1984 05:00:00 GMT"),
    ("Cache-Control", "no-cache, must-revalidate, max-age=0"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ("X-Frame-Options", "SAMEORIGIN"),
)
_JSON = ("Content-Type", "application/json; charset=UTF-8")
_HTML = ("Content-Type", "text/html; charset=UTF-8")
_SSE_HEADERS: tuple[tuple[str, str], ...] = (
    ("X-Robots-Tag", "noindex"),
    ("X-Content-Type-Options", "nosniff"),
    ("Expires", "Wed, 11 Jan 1984 05:00:00 GMT"),
    ("Cache-Control", "no-cache"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ("X-Frame-Options", "SAMEORIGIN"),
    ("X-Accel-Buffering", "no"),
    ("Content-Type", "text/event-stream;charset=UTF-8"),
)


# --------------------------------------------------------------------------- data


@dataclasses.dataclass
class Response:
    """One answer. ``stream`` (if set) is written after the head, chunked or ``length`` bytes."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    stream: Iterable[bytes] | None = None
    chunked: bool = False
    length: int | None = None
    close: bool = False
    outcome: str = "ok"  # "ok" or "error": feeds stats["errors"]

    def materialize(self) -> bytes:
        """The whole body as bytes (drains ``stream``)."""
        if self.stream is None:
            return self.body
        return self.body + b"".join(self.stream)


@dataclasses.dataclass
class Request:
    """A parsed request, the way PHP would see it (``$_GET``, ``$_POST``, ``$_FILES``)."""

    method: str
    path: str
    target: str
    headers: dict[str, str]
    get: dict[str, str]
    post: dict[str, str]
    files: list[dict[str, Any]]
    client_ip: str
    client_address: tuple[str, int]
    body: bytes = b""
    body_dropped: bool = False

    @property
    def request(self) -> dict[str, str]:
        """``$_REQUEST`` (request_order "GP": POST overrides GET)."""
        merged = dict(self.get)
        merged.update(self.post)
        return merged


class _StatusCounts(dict[int, int]):
    """``{status: count}``; a missing status reads as 0, ``"200"`` works like ``200``."""

    def __missing__(self, key: Any) -> int:
        if isinstance(key, str) and key.isdigit() and int(key) in self:
            return self[int(key)]
        return 0


# --------------------------------------------------------------------------- helpers


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _php_value(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _parse_urlencoded(body: bytes) -> dict[str, str]:
    """``application/x-www-form-urlencoded`` at the byte level, like PHP (last field wins)."""
    fields: dict[str, str] = {}
    for pair in body.split(b"&"):
        if not pair:
            continue
        name, _, value = pair.partition(b"=")
        key = _php_value(unquote_to_bytes(name.replace(b"+", b" ")))
        fields[key] = _php_value(unquote_to_bytes(value.replace(b"+", b" ")))
    return fields


def _parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """``multipart/form-data`` the way PHP fills ``$_POST``/``$_FILES`` (last field wins)."""
    header = email.message.Message()
    header["content-type"] = content_type
    boundary = header.get_param("boundary")
    fields: dict[str, str] = {}
    files: list[dict[str, Any]] = []
    if not isinstance(boundary, str) or not boundary:
        return fields, files
    delimiter = b"--" + boundary.encode("latin-1")
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break
        if part.startswith(b"\r\n"):
            part = part[2:]
        elif part.startswith(b"\n"):
            part = part[1:]
        head, sep, content = part.partition(b"\r\n\r\n")
        if not sep:
            head, sep, content = part.partition(b"\n\n")
        if content.endswith(b"\r\n"):
            content = content[:-2]
        elif content.endswith(b"\n"):
            content = content[:-1]
        headers = email.message.Message()
        for line in head.decode("utf-8", "replace").splitlines():
            header_name, _, value = line.partition(":")
            if header_name.strip():
                headers[header_name.strip()] = value.strip()
        name = headers.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        filename = headers.get_param("filename", header="content-disposition")
        if isinstance(filename, str):
            files.append(
                {
                    "field": name,
                    "filename": filename,
                    "content_type": headers.get("content-type", ""),
                    "size": len(content),
                }
            )
        else:
            fields[name] = _php_value(content)
    return fields, files


def _client_ip(headers: dict[str, str], remote: str) -> str:
    """The plugin's getIpAddress(): proxy headers first, REMOTE_ADDR last."""
    for name in ("client-ip", "x-forwarded-for", "x-forwarded", "x-cluster-client-ip",
                 "forwarded-for", "forwarded"):
        value = headers.get(name, "")
        if value:
            for item in value.split(","):
                item = item.strip()
                if re.fullmatch(r"[0-9a-fA-F:.]+", item):
                    return item
    return remote


def _words(text: str) -> list[str]:
    """Split a reply into streamed pieces the way OpenAI tokens look ("echo: ", "Hello ")."""
    return re.findall(r"\s*\S+\s*", text) or ([text] if text else [])


# cached large bodies, built on first use
_CACHE_LOCK = threading.Lock()
_CACHE: dict[str, bytes] = {}


def _cached(name: str, build: Callable[[], bytes]) -> bytes:
    with _CACHE_LOCK:
        if name not in _CACHE:
            _CACHE[name] = build()
        return _CACHE[name]


def _gzip_bomb() -> bytes:
    # 64 identical gzip members of 16 MiB of spaces: ~1 MB on the wire, 1 GiB inflated
    member = gzip.compress(b" " * (16 * 1024 * 1024), compresslevel=9)
    return member * 64


def _huge_json() -> bytes:
    filler = "x" * (20 * 1024 * 1024)
    return php_json_encode(
        {"status": "success", "msg": "Something went wrong", "greeting_message": _GREETING,
         "data": filler, "log": False}
    ).encode("ascii")


def _huge_filler() -> bytes:
    line = b"<!-- " + b"wp-cache-padding " * 60 + b"-->\n"
    return line * (50 * 1024 * 1024 // len(line) + 1)


# --------------------------------------------------------------------------- faults
# Each fault: (handler, request, normal answer thunk) -> a Response to send, or None when the
# fault already did everything on the socket itself.

class _FaultFn(Protocol):
    def __call__(self, h: _Handler, req: Request, normal: Callable[[], Response], /) -> Response | None: ...


def _html_page(status: int, title: str, body: str, extra: Iterable[tuple[str, str]] = (),
               close: bool = False) -> Response:
    html = f"<!DOCTYPE html>\n<html><head><title>{title}</title></head><body>{body}</body></html>\n"
    return Response(status, [*extra, _HTML], html.encode("utf-8"), close=close, outcome="error")


def _cf_ray() -> str:
    return f"{random.getrandbits(64):016x}-FRA"


def _fault_challenge(h: _Handler, req: Request, normal: Callable[[], Response]) -> Response:
    ray = _cf_ray()
    html = (
        '<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>'
        '<meta http-equiv="Content-Type" content="text/html; charset=UTF-8">'
        '<meta name="robots" content="noindex,nofollow"></head><body>'
        '<div class="main-wrapper" role="main"><div class="main-content">'
        '<noscript><div class="h2"><span id="challenge-error-text">Enable JavaScript and cookies '
        "to continue</span></div></noscript></div></div><script>(function(){window._cf_chl_opt={"
        f"cvId: '3',cZone: \"127.0.0.1\",cType: 'managed',cRay: '{ray[:16]}',cH: 'emulated',"
        f"cUPMDTk: \"\\/?__cf_chl_tk=emulated\",cFPWv: 'b',cITimeS: '{int(time.time())}'}};"
        "var cpo = document.createElement('script');"
        f"cpo.src = '/cdn-cgi/challenge-platform/h/b/orchestrate/chl_page/v1?ray={ray[:16]}';"
        "document.getElementsByTagName('head')[0].appendChild(cpo);}());</script></body></html>"
    )
    headers = [
        ("Server", "cloudflare"),
        ("Cache-Control", "private, max-age=0, no-store, no-cache, must-revalidate, post-check=0, pre-check=0"),
        ("Expires", "Thu, 01 Jan 1970 00:00:01 GMT"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("Referrer-Policy", "same-origin"),
        ("X-Frame-Options", "SAMEORIGIN"),
        ("cf-mitigated", "challenge"),
        ("Set-Cookie", f"__cf_bm=emulated.{int(time.time())}; path=/; HttpOnly; SameSite=None"),
        ("CF-RAY", ray),
        _HTML,
    ]
    return Response(403, headers, html.encode("utf-8"), outcome="error")


def _fault_waf_block(h: _Handler, req: Request, normal: Callable[[], Response]) -> Response:
    ray = _cf_ray()
    body = (
        '<div id="cf-wrapper"><div id="cf-error-details"><h1 data-translate="block_headline">'
        "Sorry, you have been blocked</h1><h2>You are unable to access 127.0.0.1</h2>"
        f'<p>Cloudflare Ray ID: <strong class="font-semibold">{ray[:16]}</strong></p></div></div>'
    )
    return _html_page(403, "Attention Required! | Cloudflare", body,
                      [("Server", "cloudflare"), ("CF-RAY", ray)])


def _status_fault(status: int, title: str, text: str, retry: bool = False,
                  close: bool = False) -> _FaultFn:
    def fault(h: _Handler, req: Request, normal: Callable[[], Response]) -> Response:
        extra = [("Retry-After", h.emulator.config.retry_after)] if retry else []
        return _html_page(status, title, f"<h1>{title}</h1><p>{text}</p>", extra, close=close)

    return fault


def _fault_500(h: _Handler, req: Request, normal: Callable[[], Response]) -> Response:
    body = ('<div class="wp-die-message"><p>There has been a critical error on this website.</p>'
            '<p><a href="https://wordpress.org/documentation/article/faq-troubleshooting/">'
            "Learn more about troubleshooting WordPress.</a></p></div>")
    return _html_page(500, "WordPress &rsaquo; Error", body, close=True)


def _fault_reset(h: _Handler, req: Request, normal: Callable[[], Response]) -> None:
    h.abort(rst=True)


def _fault_slow(h: _Handler, req: Request, normal: Callable[[], Response]) -> Response | None:
    if h.emulator.wait(h.emulator.config.slow_seconds):
        h.abort()
        return None
    return normal()


def _fault_slow_body(h: _Handler, req: Request, normal: Callable[[], Response]) -> None:
    resp = normal()
    body = resp.materialize()
    resp.stream, resp.length = None, None
    head = h.head(resp, len(body))
    h.write(head)
    if not h.emulator.wait(h.emulator.config.slow_seconds):
        h.write(body)
    else:
        h.abort()


def _fault_hang(h: _Handler, req: Request, normal: Callable[[], Response]) -> None:
    h.hold(60.0)
    h.abort()


def _fault_trickle(h: _Handler, req: Request, normal: Callable[[], Response]) -> None:
    resp = normal()
    body = resp.materialize()
    data = h.head(resp, len(body)) + body
    for i in range(len(data)):
        h.write(data[i : i + 1])
        if h.emulator.wait(1.0):
            break
    h.abort()


def _fault_truncated(h: _Handler, req: Request, normal: Callable[[], Response]) -> None:
    resp = normal()
    body = resp.materialize()
    h.write(h.head(resp, len(body) + 1000) + body[: max(0, len(body) // 2)])
    h.abort()


def _fault_non_json(h: _Handler, req: Request, normal: Callable[[], Response]) -> Response:
    body = ('<!doctype html>\n<html lang="en-US"><head><meta charset="UTF-8" /><title>Oops! '
            "&#8211; AI Chat</title></head><body class=\"error\"><div class=\"site\">"
            "<h1>Something went wrong.</h1><p>The theme could not render this request.</p>"
            "</div></body></html>\n")
    return Response(200, [*_AJAX_HEADERS, _HTML], body.encode("utf-8"), outcome="error")


def _fault_php_notice(h: _Handler, req: Request, normal: Callable[[], Response]) -> Response:
    resp = normal()
    body = _PHP_NOTICE.encode("utf-8") + resp.materialize()
    return Response(resp.status, resp.headers, body, close=resp.close, outcome=resp.outcome)


def _json_fault(body: Callable[[], bytes], headers: Iterable[tuple[str, str]] = ()) -> _FaultFn:
    def fault(h: _Handler, req: Request, normal: Callable[[], Response]) -> Response:
        return Response(200, [*_AJAX_HEADERS, *headers, _JSON], body(), outcome="error")

    return fault


def _success_json(**changes: Any) -> Callable[[], bytes]:
    def build() -> bytes:
        doc: dict[str, Any] = {"status": "success", "msg": "Something went wrong",
                               "greeting_message": _GREETING, "data": "echo: fault", "log": False}
        doc.update(changes)
        return php_json_encode({k: v for k, v in doc.items() if v is not _MISSING}).encode("ascii")

    return build


_MISSING = object()


def _fault_invalid_utf8() -> bytes:
    text = _success_json(data="INVALID")().replace(b"INVALID", b"echo: \xff\xfe broken \xc3\x28")
    return text


def _fault_endless_chunked(h: _Handler, req: Request, normal: Callable[[], Response]) -> None:
    resp = Response(200, [*_AJAX_HEADERS, _JSON], stream=iter(()), chunked=True)
    h.write(h.head(resp, None) + _chunk(b'{"status":"success","msg":"Something went wrong","data":"'))
    block = _chunk(b"x" * 16384)
    while not h.emulator.wait(0.005):
        if not h.write(block):
            break
    h.abort()


def _fault_sse_endless(h: _Handler, req: Request, normal: Callable[[], Response]) -> None:
    resp = Response(200, list(_SSE_HEADERS), stream=iter(()), chunked=True)
    first = ('data: {"id":"chatcmpl-endless","object":"chat.completion.chunk","created":0,'
             '"model":"gpt-3.5-turbo","choices":[{"index":0,"delta":{"role":"assistant","content":""},'
             '"logprobs":null,"finish_reason":null}]}\n\n')
    h.write(h.head(resp, None) + _chunk(first.encode()))
    n = 0
    while not h.emulator.wait(0.05):
        n += 1
        event = (b": keep-alive\n\n" if n % 2 else
                 b'data: {"id":"chatcmpl-endless","object":"chat.completion.chunk","created":0,'
                 b'"model":"gpt-3.5-turbo","choices":[{"index":0,"delta":{"content":""},'
                 b'"logprobs":null,"finish_reason":null}]}\n\n')
        if not h.write(_chunk(event)):
            break
    h.abort()


def _fault_redirect(other_host: bool) -> _FaultFn:
    def fault(h: _Handler, req: Request, normal: Callable[[], Response]) -> Response:
        base = h.emulator.base_url
        if other_host:
            base = base.replace("127.0.0.1", "127.0.0.2", 1)
        headers = [("X-Redirect-By", "WordPress"), ("Location", base + req.target), _HTML]
        return Response(302, headers, b"", outcome="error")

    return fault


def _fault_huge_page(h: _Handler, req: Request, normal: Callable[[], Response]) -> Response:
    resp = normal()
    body = resp.materialize()
    filler = _cached("huge_page", _huge_filler)
    cut = body.find(b"</head>")
    cut = max(cut, 0)
    parts = [body[:cut], filler, body[cut:]]
    return Response(resp.status, resp.headers, b"", stream=parts,
                    length=sum(len(p) for p in parts), outcome=resp.outcome)


def _fault_stale_nonce(h: _Handler, req: Request, normal: Callable[[], Response]) -> Response:
    h.emulator.count("stale_nonce")
    return h.nonce_failure(req)


def _fault_endpoint_gone(h: _Handler, req: Request, normal: Callable[[], Response]) -> Response:
    return _zero_400()


def _zero_400() -> Response:
    # admin-ajax's wp_die('0', 400); Apache drops the connection after a 400
    headers = [("X-Robots-Tag", "noindex"), ("Expires", "Wed, 11 Jan 1984 05:00:00 GMT"),
               ("Cache-Control", "no-cache, must-revalidate, max-age=0"), _HTML]
    return Response(400, headers, b"0", close=True, outcome="error")


_FAULT_TABLE: dict[str, _FaultFn] = {
    "challenge": _fault_challenge,
    "waf_block": _fault_waf_block,
    "429": _status_fault(429, "429 Too Many Requests", "Too many requests, slow down.", retry=True),
    "500": _fault_500,
    "502": _status_fault(502, "502 Bad Gateway", "nginx", close=True),
    "503": _status_fault(503, "Maintenance", "Briefly unavailable for scheduled maintenance. "
                         "Check back in a minute.", retry=True, close=True),
    "408": _status_fault(408, "408 Request Timeout", "Server timeout waiting for the HTTP request "
                         "from the client.", close=True),
    "reset": _fault_reset,
    "slow": _fault_slow,
    "slow_body": _fault_slow_body,
    "hang": _fault_hang,
    "trickle": _fault_trickle,
    "truncated": _fault_truncated,
    "non_json": _fault_non_json,
    "php_notice": _fault_php_notice,
    "empty": _json_fault(lambda: b""),
    "json_array": _json_fault(lambda: b"[]"),
    "data_not_string": _json_fault(_success_json(data=42)),
    "no_data": _json_fault(_success_json(data=_MISSING)),
    "huge_body": _json_fault(lambda: _cached("huge_body", _huge_json)),
    "gzip_bomb": _json_fault(lambda: _cached("gzip_bomb", _gzip_bomb), [("Content-Encoding", "gzip")]),
    "endless_chunked": _fault_endless_chunked,
    "invalid_utf8": _json_fault(_fault_invalid_utf8),
    "redirect_other_host": _fault_redirect(other_host=True),
    "redirect_loop": _fault_redirect(other_host=False),
    "sse_endless": _fault_sse_endless,
    "huge_page": _fault_huge_page,
    "stale_nonce": _fault_stale_nonce,
    "endpoint_gone": _fault_endpoint_gone,
}
assert set(_FAULT_TABLE) == set(FAULTS), "every documented fault needs a handler"


# --------------------------------------------------------------------------- server


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, emulator: Emulator, address: tuple[str, int],
                 ssl_context: ssl.SSLContext | None) -> None:
        self.emulator = emulator
        self.ssl_context = ssl_context
        self.threads: set[threading.Thread] = set()
        self.sockets: set[socket.socket] = set()
        self.track_lock = threading.Lock()
        super().__init__(address, _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.emulator.count("connections")
        return sock, addr

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(target=self.process_request_thread, args=(request, client_address),
                                  name="emulator-conn", daemon=True)
        with self.track_lock:
            self.threads.add(thread)
            self.sockets.add(request)
        thread.start()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self.track_lock:
                self.threads.discard(threading.current_thread())
                self.sockets.discard(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # called from an except block in socketserver: the traceback is the current exception
        logger.debug("connection from %s ended with an error", client_address, exc_info=sys.exc_info())

    def close_connections(self) -> None:
        with self.track_lock:
            sockets = list(self.sockets)
        for sock in sockets:
            with contextlib.suppress(OSError, ValueError):
                sock.shutdown(socket.SHUT_RDWR)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Apache/2.4.71"
    sys_version = ""
    timeout = 60.0
    server: _Server
    challenged = False  # bot_check: this connection's ClientHello looked like no browser

    # ---- connection plumbing

    @property
    def emulator(self) -> Emulator:
        return self.server.emulator

    def setup(self) -> None:
        context = self.server.ssl_context
        if context is not None:
            # the TLS handshake runs here, in the connection's thread, not in accept()
            raw: socket.socket = self.request
            raw.settimeout(10.0)
            if self.emulator.config.bot_check == "tls" and not botcheck.is_browser_connection(raw):  # bot_check
                self.challenged = True
                self.emulator.count("challenged_connections")
            tls = context.wrap_socket(raw, server_side=True, do_handshake_on_connect=False)
            with self.server.track_lock:
                self.server.sockets.discard(raw)
                self.server.sockets.add(tls)
            self.request = tls
            try:
                tls.do_handshake()
            except BaseException:
                with self.server.track_lock:
                    self.server.sockets.discard(tls)
                tls.close()
                raise
        super().setup()

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        if isinstance(self.request, ssl.SSLSocket):
            with self.server.track_lock:
                self.server.sockets.discard(self.request)
            self.request.close()

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s - %s", self.address_string(), format % args)

    def write(self, data: bytes) -> bool:
        """``sendall``; False once the client has gone away."""
        try:
            self.connection.sendall(data)
            return True
        except (OSError, ValueError):
            self.close_connection = True
            return False

    def abort(self, rst: bool = False) -> None:
        """End the connection without (more of) an answer; ``rst`` sends a TCP reset."""
        self.close_connection = True
        if rst:
            with contextlib.suppress(OSError):
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with contextlib.suppress(OSError):
            if rst:
                self.connection.close()
            else:
                self.connection.shutdown(socket.SHUT_RDWR)

    def hold(self, seconds: float) -> None:
        """Keep the socket open, answering nothing, until the client leaves or time/stop."""
        deadline = time.monotonic() + seconds
        sock = self.connection
        while not self.emulator.stopping.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                readable, _, _ = select.select([sock], [], [], min(0.1, left))
            except (OSError, ValueError):
                return
            if readable and not isinstance(sock, ssl.SSLSocket):
                try:
                    if sock.recv(1, socket.MSG_PEEK) == b"":
                        return
                except OSError:
                    return
                self.emulator.wait(0.1)  # pipelined bytes: keep ignoring them
            elif readable:
                self.emulator.wait(0.1)

    def head(self, resp: Response, length: int | None) -> bytes:
        """Status line and headers; ``length`` None means chunked."""
        reason = self.responses.get(resp.status, ("",))[0]
        lines = [f"HTTP/1.1 {resp.status} {reason}", "Date: " + email.utils.formatdate(usegmt=True)]
        if not any(name.lower() == "server" for name, _ in resp.headers):
            lines.append("Server: " + _SERVER)
        framing = ["Transfer-Encoding: chunked"] if length is None else [f"Content-Length: {length}"]
        if resp.close:
            framing.append("Connection: close")
        placed = False
        for name, value in resp.headers:
            if name == "Content-Type" and not placed:
                lines.extend(framing)
                placed = True
            lines.append(f"{name}: {value}")
        if not placed:
            lines.extend(framing)
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")

    def send(self, resp: Response, head_only: bool = False, counted: bool = True) -> None:
        if resp.close:
            self.close_connection = True
        if counted:
            self.emulator.count_status(resp.status, resp.outcome)
        if resp.stream is None:
            head = self.head(resp, len(resp.body))
            self.write(head if head_only else head + resp.body)
            return
        if not resp.chunked:
            length = resp.length if resp.length is not None else 0
            if not self.write(self.head(resp, length)) or head_only:
                return
            for part in resp.stream:
                if not self.write(part):
                    return
            return
        pending = self.head(resp, None) + (_chunk(resp.body) if resp.body else b"")
        if head_only:
            self.write(pending)
            return
        for part in resp.stream:
            if not part:
                continue
            if not self.write(pending + _chunk(part)):
                return
            pending = b""
        self.write(pending + b"0\r\n\r\n")

    # ---- request parsing

    def handle_one_request(self) -> None:
        try:
            self.raw_requestline = self.rfile.readline(65537)
            if len(self.raw_requestline) > 65536:
                self.requestline = ""
                self.request_version = ""
                self.command = ""
                self.send_error(414)
                return
            if not self.raw_requestline:
                self.close_connection = True
                return
            if not self.parse_request():
                return
            self._dispatch()
        except (OSError, ValueError, ssl.SSLError):
            self.close_connection = True

    def _read_body(self) -> tuple[bytes, bool]:
        """The body and whether PHP would have dropped it (over post_max_size)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts = []
            total = 0
            while True:
                size_line = self.rfile.readline(1024)
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > _DISCARD_LIMIT:
                    self.close_connection = True
                    return b"", True
                parts.append(self.rfile.read(size))
                self.rfile.readline(1024)
            body = b"".join(parts)
            return (b"", True) if len(body) > POST_MAX_SIZE else (body, False)
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError("negative Content-Length")
        if length > POST_MAX_SIZE:
            if length > _DISCARD_LIMIT:
                self.close_connection = True
                return b"", True
            left = length
            while left > 0:
                got = self.rfile.read(min(left, 1 << 20))
                if not got:
                    break
                left -= len(got)
            return b"", True
        return (self.rfile.read(length) if length else b""), False

    def _parse(self) -> Request:
        split = urlsplit(self.path)
        headers = {name.lower(): value for name, value in self.headers.items()}
        body, dropped = self._read_body()
        post: dict[str, str] = {}
        files: list[dict[str, Any]] = []
        ctype = headers.get("content-type", "")
        if self.command == "POST" and body:
            if ctype.lower().startswith("application/x-www-form-urlencoded"):
                post = _parse_urlencoded(body)
            elif ctype.lower().startswith("multipart/form-data"):
                post, files = _parse_multipart(ctype, body)
        get = _parse_urlencoded(split.query.encode("latin-1", "replace"))
        remote = (str(self.client_address[0]), int(self.client_address[1]))
        path = split.path or "/"
        target = path + ("?" + split.query if split.query else "")
        return Request(self.command, path, target, headers, get, post, files,
                       _client_ip(headers, remote[0]), remote, body, dropped)

    # ---- routing (handle_one_request calls _dispatch for every method: no do_GET & co.)

    def _dispatch(self) -> None:
        try:
            req = self._parse()
        except ValueError:
            self.send(Response(400, [_HTML], b"Bad Request", close=True, outcome="error"))
            return
        emu = self.emulator
        head_only = req.method == "HEAD"
        if req.path.startswith("/__emulator__/"):
            self.send(self._control(req), counted=False)
            return
        emu.count("requests")
        if self.challenged:  # bot_check: every request on the connection gets the challenge
            self.send(_fault_challenge(self, req, _zero_400), head_only=head_only)
            return
        cfg = emu.config
        try:
            if req.path == cfg.ajax_path:
                emu.count("ajax_posts")
                resp = self._with_faults("ajax", req, lambda: self._ajax(req))
                emu.log_request(req, resp.status if resp is not None else 0)
            elif req.path == cfg.page_path and req.method in ("GET", "HEAD"):
                emu.count("page_fetches")
                resp = self._with_faults("page", req, lambda: self._page(req))
            elif cfg.page_path != "/" and req.path == cfg.page_path.rstrip("/") and req.method == "GET":
                resp = Response(301, [("X-Redirect-By", "WordPress"),
                                      ("Location", emu.base_url + cfg.page_path), _HTML], b"")
            else:
                resp = Response(404, [("Cache-Control", "no-cache, must-revalidate, max-age=0"), _HTML],
                                page_mod.not_found_page(emu.base_url), outcome="error")
        except Exception:  # a bug in the emulator must not look like a network fault
            logger.exception("emulator handler failed")
            resp = Response(500, [_HTML], b"emulator error", close=True, outcome="error")
        if resp is not None:
            self.send(resp, head_only=head_only)

    def _with_faults(self, target: str, req: Request, normal: Callable[[], Response]) -> Response | None:
        fault = self.emulator.draw_fault(target)
        if fault is None:
            return normal()
        logger.debug("injecting fault %s into %s %s", fault, req.method, req.path)
        self.emulator.count("faults_injected")
        resp = _FAULT_TABLE[fault](self, req, normal)
        if resp is None:
            self.emulator.count_status(0, "error")
        return resp

    def _control(self, req: Request) -> Response:
        emu = self.emulator
        if req.path == "/__emulator__/stats":
            body = json.dumps(emu.stats).encode()
        elif req.path == "/__emulator__/rotate" and req.method == "POST":
            emu.rotate_nonce()
            body = json.dumps({"nonce": emu.current_nonce}).encode()
        elif req.path == "/__emulator__/config" and req.method == "POST":
            try:
                changes = json.loads(req.body.decode("utf-8") or "{}")
                if not isinstance(changes, dict):
                    raise TypeError("config must be a JSON object")
                emu.configure(**changes)
            except (ValueError, TypeError) as exc:
                return Response(400, [("Content-Type", "application/json")],
                                json.dumps({"error": str(exc)}).encode(), outcome="error")
            body = json.dumps(emu.config.to_dict()).encode()
        else:
            return Response(404, [("Content-Type", "application/json")], b'{"error":"unknown"}')
        return Response(200, [("Cache-Control", "no-store"), ("Content-Type", "application/json")], body)

    # ---- the site

    def _page(self, req: Request) -> Response:
        emu = self.emulator
        body = emu.render_page()
        headers = [
            ("Link", f'<{emu.base_url}/wp-json/>; rel="https://api.w.org/"'),
            ("Link", (f'<{emu.base_url}/wp-json/wp/v2/pages/{emu.config.post_id}>; rel="alternate"; '
                      'type="application/json"')),
            ("Vary", "Accept-Encoding"),
            _HTML,
        ]
        return Response(200, headers, body)

    def nonce_failure(self, req: Request) -> Response:
        cfg = self.emulator.config
        if nonce_failure_is_json(cfg.era):
            body = php_json_encode({"status": "error", "msg": "Nonce verification failed"})
            return Response(200, [*_AJAX_HEADERS, _JSON], body.encode("ascii"), outcome="error")
        text = _NONCE_EXPIRED
        referer = self._same_site_referer(req)
        if referer:
            text += f'</p><p><a href="{esc_url(referer)}">Please try again.</a>'
        return Response(403, [*_AJAX_HEADERS, _HTML], text.encode("utf-8"), outcome="error")

    def _same_site_referer(self, req: Request) -> str:
        """``wp_get_referer()``: a Referer on the site's own host that is not this very URL."""
        referer = req.headers.get("referer", "")
        if not referer:
            return ""
        try:
            host = urlsplit(referer).hostname
        except ValueError:
            return ""
        if host != urlsplit(self.emulator.base_url).hostname:
            return ""
        if referer in (req.target, self.emulator.base_url + req.target):
            return ""
        return referer

    def _ajax(self, req: Request) -> Response:
        emu = self.emulator
        cfg = emu.config
        fields_all = req.request
        action = fields_all.get("action", "")
        if action not in _CHAT_ACTIONS or endpoint_removed(cfg.era) or req.method not in ("GET", "POST"):
            return _zero_400()
        if not emu.verify_nonce(fields_all.get("_wpnonce", "")):
            emu.count("stale_nonce")
            resp = self.nonce_failure(req)
        else:
            resp = self._chat(req, cfg)
        if resp.stream is None:  # SSE answers spread the latency over their events instead
            emu.wait(cfg.latency)
        return resp

    def _chat(self, req: Request, cfg: EmulatorConfig) -> Response:
        """``WPAICG_Chat::wpaicg_chatbox_message()`` after the nonce check, in source order."""
        fields = req.request if reads_request(cfg.era) else req.post

        def json_answer(doc: dict[str, Any], outcome: str = "error") -> Response:
            return Response(200, [*_AJAX_HEADERS, _JSON], php_json_encode(doc).encode("ascii"),
                            outcome=outcome)

        if not cfg.api_key:
            return json_answer({"status": "error", "msg": _MSG_NO_KEY})

        # SSE events the plugin already echoed (ban flags); the stream branch does not exit
        flags: list[str] = []
        if req.client_ip in cfg.banned_ips:
            if not cfg.stream:
                return json_answer({"status": "error", "msg": _MSG_IP})
            flags.append(php_json_encode({"msg": _MSG_IP, "ipBanned": True}))

        slashed = addslashes(fields.get("message", ""))  # wp_magic_quotes
        if cfg.era == "1.8.79":
            message = sanitize_text_field(slashed)  # no wp_unslash in 1.8.79
        elif sanitizes_message(cfg.era):
            message = sanitize_text_field(wp_unslash(slashed))
        else:
            message = wp_unslash(slashed)

        banned = {word.strip().lower() for word in cfg.banned_words if word.strip()}
        if banned and any(word in banned for word in message.lower().split(" ")):
            if not cfg.stream:
                return json_answer({"status": "error", "msg": _MSG_WORDS})
            flags.append(php_json_encode({"msg": _MSG_WORDS, "messageFlagged": True}))

        if cfg.token_limit:
            doc = {"msg": _MSG_TOKENS, "tokenLimitReached": True}
            if not cfg.stream:
                return json_answer(doc)
            flags.append(php_json_encode(doc))
            return self._sse(cfg, [f"data: {flag}\n\n" for flag in flags], outcome="error")

        if message == "":
            if flags:  # headers already went out as SSE: the JSON lands in the stream body
                events = [f"data: {flag}\n\n" for flag in flags]
                events.append(php_json_encode({"status": "error", "msg": _MSG_EMPTY}))
                return self._sse(cfg, events, outcome="error")
            return json_answer({"status": "error", "msg": _MSG_EMPTY})

        history = self._history(fields, cfg)
        identity = sanitize_text_field(wp_unslash(addslashes(fields.get("chatbot_identity", ""))))
        client_id = sanitize_text_field(wp_unslash(addslashes(fields.get("wpaicg_chat_client_id", ""))))
        if cfg.reply is not None:
            reply = cfg.reply
        else:
            try:
                reply = cfg.reply_template.format(
                    message=message, turns=len(history), identity=identity, client_id=client_id,
                    history=json.dumps(history, ensure_ascii=False),
                )
            except (KeyError, IndexError, ValueError):
                reply = cfg.reply_template
        emu = self.emulator
        if cfg.upstream_error is not None:
            if not cfg.stream:
                return json_answer({"status": "error", "msg": cfg.upstream_error,
                                    "greeting_message": _GREETING, "log": False})
            events = [f"data: {flag}\n\n" for flag in flags]
            for index, word in enumerate(cfg.upstream_error.split(" ")):
                piece = word if index == 0 else " " + word
                # the plugin concatenates the raw word into the JSON text: no escaping
                events.append('event: message\ndata: {"choices":[{"delta":{"content":"' + piece + '"}}]}\n\n')
            if cfg.stream_error_end == "limited":
                events.append("event: message\ndata: [LIMITED]\n\n")
            else:
                events.append('data: {"choices":[{"finish_reason":"stop"}]}\n\n')
            return self._sse(cfg, events, outcome="error")

        if not cfg.stream:
            return json_answer({"status": "success", "msg": "Something went wrong",
                                "greeting_message": _GREETING, "data": reply, "log": False}, "ok")

        ident = f"chatcmpl-emu{random.getrandbits(64):016x}"
        created = int(emu.clock())

        def chunk(delta: dict[str, str], finish: str | None) -> str:
            doc = {"id": ident, "object": "chat.completion.chunk", "created": created,
                   "model": "gpt-3.5-turbo", "system_fingerprint": "fp_emulator",
                   "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
            return "data: " + json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n\n"

        events = [f"data: {flag}\n\n" for flag in flags]
        events.append(chunk({"role": "assistant", "content": ""}, None))
        events.extend(chunk({"content": piece}, None) for piece in _words(reply))
        events.append(chunk({}, "stop"))
        events.append("data: [DONE]\n\n")
        return self._sse(cfg, events, outcome="error" if flags else "ok")

    def _sse(self, cfg: EmulatorConfig, events: list[str], outcome: str) -> Response:
        emu = self.emulator
        pause = cfg.latency / max(1, len(events))

        def produce() -> Iterator[bytes]:
            for event in events:
                if pause and emu.wait(pause):
                    return
                yield event.encode("utf-8", "surrogateescape")

        return Response(200, list(_SSE_HEADERS), stream=produce(), chunked=True, outcome=outcome)

    @staticmethod
    def _history(fields: dict[str, str], cfg: EmulatorConfig) -> list[dict[str, str]]:
        """The history the model gets (before the server re-appends the current message)."""
        raw = fields.get("wpaicg_chat_history", "")
        if not raw:
            return []
        slashed = addslashes(raw)
        if cfg.era == "1.8.79":
            text = sanitize_text_field(slashed)
        else:
            text = sanitize_textarea_field(wp_unslash(slashed))
        text = text.replace("\\", "")  # the plugin strips every backslash before json_decode
        try:
            decoded = json.loads(text)
        except ValueError:
            return []
        items: Iterable[Any]
        if isinstance(decoded, list):
            items = decoded
        elif isinstance(decoded, dict):
            items = decoded.values()
        else:
            return []
        out: list[dict[str, str]] = []
        for item in items:
            if isinstance(item, dict) and "text" in item:
                item = item["text"]
            if not isinstance(item, str):
                if isinstance(item, (int, float)) and not isinstance(item, bool):
                    item = str(item)
                else:
                    continue
            item = php_trim(item)
            if item.startswith("Human: "):
                out.append({"role": "user", "content": php_trim(item[len("Human: "):])})
            else:
                content = php_trim(item.replace("AI: ", ""))
                if content:
                    out.append({"role": "assistant", "content": content})
        return out


# --------------------------------------------------------------------------- public API


def _make_certificate(directory: str) -> tuple[str, str]:
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    cmd = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
           "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
           "-keyout", key, "-out", cert]
    try:
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)
    except FileNotFoundError as exc:
        raise RuntimeError("tls=True needs the `openssl` command to make a certificate "
                           "(or pass certfile= and keyfile=)") from exc
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"openssl failed: {exc.stderr.decode(errors='replace')}") from exc
    return cert, key


_PAGE_FIELDS = ("era", "stream", "post_id", "bot_id", "page_path", "ajax_path", "memory_limit",
                "page_size", "chatbox", "extra_chatboxes", "nonce_secret")
_STAT_KEYS = ("page_fetches", "ajax_posts", "connections", "requests", "faults_injected",
              "stale_nonce", "errors", "challenged_connections")


class Emulator:
    """A local WordPress + AI Power site on 127.0.0.1 (see :class:`EmulatorConfig`).

    Args:
        config: the scenario; ``None`` for the defaults.
        clock: seconds since the epoch, for nonce ticks (inject a fake clock to test expiry).
        host, port: where to listen; only loopback addresses are accepted, port 0 picks one.
        **overrides: :class:`EmulatorConfig` fields applied on top of ``config``.

    Example::

        with Emulator(era="1.8.96", stream=True) as emu:
            html = requests.get(emu.page_url).text
            emu.configure(fault="503", fault_count=2)
    """

    def __init__(self, config: EmulatorConfig | None = None, *, clock: Callable[[], float] = time.time,
                 host: str = "127.0.0.1", port: int = 0, **overrides: Any) -> None:
        if host not in ("127.0.0.1", "localhost", "::1") and not host.startswith("127."):
            raise ValueError(f"the emulator only listens on loopback, not {host!r}")
        base = config if config is not None else EmulatorConfig()
        self._config = base.replace(**overrides) if overrides else base.replace()
        self.clock = clock
        self._host = "127.0.0.1" if host == "localhost" else host
        self._port = port
        self._lock = threading.RLock()
        self._generation = 0
        self._ajax_seen = 0
        self._rng = random.Random(self._config.seed)
        self._stats: dict[str, int] = {key: 0 for key in _STAT_KEYS}
        self._status = _StatusCounts()
        self._requests: deque[dict[str, Any]] = deque(maxlen=1000)
        self._template: tuple[Any, page_mod.PageTemplate] | None = None
        self.stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._tmpdir: str | None = None
        self.ca_file: str | None = None
        self.base_url = ""

    # ---- lifecycle

    def start(self) -> Emulator:
        """Bind, start serving in a background thread and return ``self``."""
        if self._server is not None:
            return self
        self.stopping.clear()
        cfg = self._config
        context = None
        if cfg.tls:
            certfile, keyfile = cfg.certfile, cfg.keyfile
            if certfile is None:
                self._tmpdir = tempfile.mkdtemp(prefix="wpaicg-emulator-")
                certfile, keyfile = _make_certificate(self._tmpdir)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(certfile, keyfile)
            self.ca_file = certfile
        self._server = _Server(self, (self._host, self._port), context)
        port = self._server.server_address[1]
        scheme = "https" if cfg.tls else "http"
        self.base_url = f"{scheme}://{self._host}:{port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="emulator-accept", daemon=True)
        self._thread.start()
        logger.debug("emulator serving %s (era %s)", self.base_url, cfg.era)
        return self

    def stop(self) -> None:
        """Stop serving, end every connection (hanging faults included) and clean up."""
        server, self._server = self._server, None
        if server is None:
            return
        self.stopping.set()
        server.shutdown()
        server.server_close()
        server.close_connections()
        with server.track_lock:
            threads = list(server.threads)
        for thread in threads:
            thread.join(timeout=2.0)
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def __enter__(self) -> Emulator:  # noqa: PYI034 - Self needs Python 3.11
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ---- URLs and scenario

    @property
    def page_url(self) -> str:
        """The chat page's URL."""
        return self.base_url + self._config.page_path

    @property
    def ajax_url(self) -> str:
        """admin-ajax's URL (``wpaicgParams.ajax_url``)."""
        return self.base_url + self._config.ajax_path

    @property
    def config(self) -> EmulatorConfig:
        """A copy of the current scenario."""
        with self._lock:
            return self._config.replace()

    def configure(self, **changes: Any) -> None:
        """Change the scenario atomically while running (``ValueError``/``TypeError`` if invalid)."""
        if self._server is not None and {"tls", "certfile", "keyfile"} & set(changes):
            raise ValueError("tls, certfile and keyfile can only be set before start()")
        with self._lock:
            self._config = self._config.replace(**changes)
            if "seed" in changes:
                self._rng = random.Random(self._config.seed)

    # ---- nonces

    def _secret(self) -> str:
        cfg = self._config
        return cfg.nonce_secret if self._generation == 0 else f"{cfg.nonce_secret}#{self._generation}"

    def _tick(self) -> int:
        return nonce_tick(self.clock(), self._config.nonce_life)

    @property
    def current_nonce(self) -> str:
        """The ``data-nonce`` the page shows right now."""
        with self._lock:
            return wp_nonce(self._secret(), NONCE_ACTION, self._tick())

    def rotate_nonce(self) -> None:
        """Invalidate every nonce issued so far (new secret)."""
        with self._lock:
            self._generation += 1

    def verify_nonce(self, nonce: str) -> bool:
        """Check a submitted ``_wpnonce``; also drives ``rotate_every``."""
        with self._lock:
            ok = wp_verify_nonce(nonce, self._secret(), NONCE_ACTION, self._tick()) > 0
            self._ajax_seen += 1
            every = self._config.rotate_every
            if every > 0 and self._ajax_seen % every == 0:
                self._generation += 1
            return ok

    # ---- used by the handler

    def render_page(self) -> bytes:
        with self._lock:
            cfg = self._config
            # only what the markup depends on: fault bursts rewrite the config on every request
            key = tuple(getattr(cfg, name) for name in _PAGE_FIELDS) + (self.base_url,)
            if self._template is None or self._template[0] != key:
                self._template = (key, page_mod.build_page_template(cfg, self.base_url))
            template = self._template[1]
            secret, tick = self._secret(), self._tick()
        return template.render(wp_nonce(secret, NONCE_ACTION, tick), wp_nonce(secret, IMG_NONCE_ACTION, tick))

    def draw_fault(self, target: str) -> str | None:
        with self._lock:
            fault, changes = pick_fault(self._config, target, self._rng)
            if changes:
                self._config = self._config.replace(**changes)
            return fault

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True if the server is stopping (give up)."""
        return self.stopping.wait(seconds) if seconds > 0 else self.stopping.is_set()

    def count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self._stats[key] = self._stats.get(key, 0) + n

    def count_status(self, status: int, outcome: str) -> None:
        with self._lock:
            self._status[status] = self._status.get(status, 0) + 1
            if outcome == "error":
                self._stats["errors"] += 1

    def log_request(self, req: Request, status: int) -> None:
        entry = {
            "method": req.method,
            "path": req.path,
            "headers": dict(req.headers),
            "form": dict(req.request),
            "files": list(req.files),
            "status": status,
            "client_address": req.client_address,
        }
        with self._lock:
            self._requests.append(entry)

    # ---- observation

    @property
    def stats(self) -> dict[str, Any]:
        """A snapshot of the counters.

        ``page_fetches``, ``ajax_posts`` (every request to ajax_path), ``connections`` (accepted
        TCP connections), ``requests`` (all but ``/__emulator__/*``), ``faults_injected``,
        ``stale_nonce`` (nonce checks that failed, incl. the fault), ``challenged_connections``
        (HTTPS connections the TLS bot check challenged), ``errors`` (answers that were
        neither a page nor a successful chat reply) and ``status_counts`` ``{status: n}`` where 0
        counts faults that gave no complete answer (reset, hang, trickle, truncated, ...).
        """
        with self._lock:
            snapshot: dict[str, Any] = dict(self._stats)
            snapshot["status_counts"] = _StatusCounts(self._status)
            return snapshot

    def reset_stats(self) -> None:
        """Zero every counter and forget the request log."""
        with self._lock:
            self._stats = {key: 0 for key in _STAT_KEYS}
            self._status = _StatusCounts()
            self._requests.clear()

    @property
    def requests(self) -> list[dict[str, Any]]:
        """The last 1000 ajax requests (method, path, headers, form, files, status, client_address)."""
        with self._lock:
            return list(self._requests)


@contextlib.contextmanager
def running(**overrides: Any) -> Iterator[str]:
    """Run an :class:`Emulator` for the ``with`` block and yield its base URL.

    >>> with running(era="1.8.91") as base_url:  # doctest: +SKIP
    ...     requests.get(base_url + "/")
    """
    with Emulator(**overrides) as emu:
        yield emu.base_url

"""The HTTP server: connections, TLS, request parsing and routing.

Request flow (``Handler.dispatch``)::

    /__emulator__/*  -> control endpoints (stats, rotate, config); not counted as site traffic
    page paths       -> [page fault?] -> the generation's chat page (nonces joined into a template)
    ajax_path        -> [ajax/step fault?] -> admin-ajax (:func:`.generations.ajax`): the
                        generation's handler for ``action``, or ``0``/400 when nobody registered it
    anything else    -> WordPress' 404 page

Every answer is built as one ``bytes`` (status line, headers, body) and written with one
``sendall``; streamed answers (SSE, faults) write one HTTP chunk per event.

The handler sits above the generations and the faults: they see it only as a
:class:`~.interfaces.Connection`, and the emulator only as a :class:`~.interfaces.Site`
(extended here as :class:`Host`).
"""

from __future__ import annotations

import contextlib
import http.server
import logging
import select
import socket
import ssl
import struct
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import urlsplit

from . import botcheck, theme
from .core import (
    HTML,
    POST_MAX_SIZE,
    Request,
    Response,
    chunk,
    client_ip,
    head,
    parse_multipart,
    parse_urlencoded,
    zero_400,
)
from .faults import FAULT_TABLE
from .generations import ajax, generation
from .interfaces import Site

__all__ = ["Handler", "Host", "Server"]

logger = logging.getLogger("chatgpt4o.emulator")

_DISCARD_LIMIT = 64 * 1024 * 1024  # larger bodies are not read at all: answer and close


class Host(Site, Protocol):
    """What the server and its handler use of the emulator besides :class:`~.interfaces.Site`."""

    stopping: threading.Event

    def count_status(self, status: int, outcome: str) -> None: ...

    def draw_fault(self, targets: tuple[str, ...]) -> str | None: ...

    def log_request(self, req: Request, status: int) -> None: ...

    def control(self, req: Request) -> Response: ...


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, emulator: Host, address: tuple[str, int],
                 ssl_context: ssl.SSLContext | None) -> None:
        self.emulator = emulator
        self.ssl_context = ssl_context
        self.threads: set[threading.Thread] = set()
        self.sockets: set[socket.socket] = set()
        self.track_lock = threading.Lock()
        super().__init__(address, Handler)

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


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Apache/2.4.71"
    sys_version = ""
    timeout = 60.0
    server: Server
    challenged = False  # the TLS bot check found no browser's ClientHello

    # ---- connection plumbing

    @property
    def emulator(self) -> Host:
        return self.server.emulator

    def setup(self) -> None:
        context = self.server.ssl_context
        if context is not None:
            # the TLS handshake runs here, in the connection's thread, not in accept()
            raw: socket.socket = self.request
            raw.settimeout(10.0)
            if self.emulator.config.bot_check == "tls" and not botcheck.is_browser_connection(raw):
                self.challenged = True  # every request on this connection gets the challenge
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

    def send(self, resp: Response, head_only: bool = False, counted: bool = True) -> None:
        if resp.close:
            self.close_connection = True
        if counted:
            self.emulator.count_status(resp.status, resp.outcome)
        if resp.stream is None:
            start = head(resp, len(resp.body))
            self.write(start if head_only else start + resp.body)
            return
        if not resp.chunked:
            length = resp.length if resp.length is not None else 0
            if not self.write(head(resp, length)) or head_only:
                return
            for part in resp.stream:
                if not self.write(part):
                    return
            return
        pending = head(resp, None) + (chunk(resp.body) if resp.body else b"")
        if head_only:
            self.write(pending)
            return
        for part in resp.stream:
            if not part:
                continue
            if not self.write(pending + chunk(part)):
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
                post = parse_urlencoded(body)
            elif ctype.lower().startswith("multipart/form-data"):
                post, files = parse_multipart(ctype, body)
        get = parse_urlencoded(split.query.encode("latin-1", "replace"))
        remote = (str(self.client_address[0]), int(self.client_address[1]))
        path = split.path or "/"
        target = path + ("?" + split.query if split.query else "")
        return Request(self.command, path, target, headers, get, post, files,
                       client_ip(headers, remote[0]), remote, body, dropped)

    # ---- routing (handle_one_request calls _dispatch for every method: no do_GET & co.)

    def _dispatch(self) -> None:
        try:
            req = self._parse()
        except ValueError:
            self.send(Response(400, [HTML], b"Bad Request", close=True, outcome="error"))
            return
        emu = self.emulator
        head_only = req.method == "HEAD"
        if req.path.startswith("/__emulator__/"):
            self.send(self.emulator.control(req), counted=False)
            return
        emu.count("requests")
        challenge = FAULT_TABLE["challenge"](self, req, zero_400) if self.challenged else None
        if challenge is not None:
            self.send(challenge, head_only=head_only)
            return
        cfg = emu.config
        started = time.monotonic()
        action = ""
        try:
            gen = generation(cfg.era)
            if req.path == cfg.ajax_path:
                emu.count("ajax_posts")
                action = req.request.get("action", "")
                if action in gen.COUNTERS:
                    emu.count(gen.COUNTERS[action])
                step = gen.STEPS.get(action)
                targets = ("ajax", step) if step else ("ajax",)
                resp = self._with_faults(targets, req, lambda: ajax(self, req))
                emu.log_request(req, resp.status if resp is not None else 0)
            elif req.path in (cfg.page_path, cfg.bot_path) and req.method in ("GET", "HEAD"):
                emu.count("page_fetches")
                resp = self._with_faults(("page",), req, lambda: gen.page(self, req))
            elif cfg.page_path != "/" and req.path == cfg.page_path.rstrip("/") and req.method == "GET":
                resp = Response(301, [("X-Redirect-By", "WordPress"),
                                      ("Location", emu.base_url + cfg.page_path), HTML], b"")
            else:
                resp = Response(404, [("Cache-Control", "no-cache, must-revalidate, max-age=0"), HTML],
                                theme.not_found_page(emu.base_url), outcome="error")
        except Exception:  # a bug in the emulator must not look like a network fault
            logger.exception("emulator handler failed")
            resp = Response(500, [HTML], b"emulator error", close=True, outcome="error")
        if resp is not None:
            self.send(resp, head_only=head_only)
        # one line per request; the query string is left out: it carries nonces and session ids
        logger.info("%s %s%s -> %s (%.0f ms)", req.method, req.path, f" action={action}" if action else "",
                    resp.status if resp is not None else "fault", (time.monotonic() - started) * 1000)

    def _with_faults(self, targets: tuple[str, ...], req: Request,
                     normal: Callable[[], Response]) -> Response | None:
        fault = self.emulator.draw_fault(targets)
        if fault is None:
            return normal()
        logger.debug("injecting fault %s into %s %s", fault, req.method, req.path)
        self.emulator.count("faults_injected")
        resp = FAULT_TABLE[fault](self, req, normal)
        if resp is None:
            self.emulator.count_status(0, "error")
        return resp

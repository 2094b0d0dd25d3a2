"""The gateway's standard-library server: HTTP/1.1 with persistent connections, a thread per connection.

Any WSGI application runs under it (the HTTP side is :mod:`chatgpt4o._gateway_http`); answers
stream, each piece of a body sent as the application yields it. Each request gets one
access-log line without headers or query strings. A connection waits :attr:`GatewayServer.
idle_timeout` seconds for its next request; when it closes with a request body still coming
(a refused upload), the server drains what the client still sends for a moment, so that the
client reads the answer instead of a connection reset. For more than one machine's threads,
run the same application under gunicorn or waitress instead.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote, urlsplit

from ._gateway_http import MAX_LINE, Exchange, Input, ProtocolError, read_head
from .exceptions import InvalidConfigError

__all__ = ["GatewayServer", "is_loopback", "make_server", "serve"]

logger = logging.getLogger("chatgpt4o.gateway")
access_logger = logging.getLogger("chatgpt4o.gateway.access")
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback name or address (``localhost``, ``127.0.0.0/8``, ``::1``)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _split_target(target: str) -> tuple[str, str]:
    """``(path, query)`` of a request target (origin form, or absolute form as a proxy sends it)."""
    if not target.startswith("/"):
        if not target.lower().startswith(("http://", "https://")):
            raise ProtocolError(400, "Bad Request", "malformed request target")
        parts = urlsplit(target)
        return parts.path or "/", parts.query
    path, _, query = target.partition("?")
    return path, query


class _Connection(socketserver.BaseRequestHandler):
    """One client connection: its requests, one after the other."""

    server: GatewayServer

    def setup(self) -> None:
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # heads and bodies go out at once
        self.rfile = self.request.makefile("rb", 65536)

    def finish(self) -> None:
        self.rfile.close()

    def handle(self) -> None:
        server, sock = self.server, self.request
        while True:
            sock.settimeout(server.idle_timeout)
            try:
                first = self.rfile.readline(MAX_LINE + 1)
                if first in (b"\r\n", b"\n"):  # one empty line before a request is allowed
                    first = self.rfile.readline(MAX_LINE + 1)
            except OSError:  # the idle timeout, a reset, or the server closing it
                return
            if not first or not server.begin(sock):
                return
            try:
                keep = self._one(first)
            finally:
                server.end(sock)
            if not keep:
                return

    def _one(self, first: bytes) -> bool:
        """Answer one request; True if the connection serves another."""
        started, server, sock = time.monotonic(), self.server, self.request
        sock.settimeout(server.io_timeout)
        method, path, status, sent = "-", "-", "-", 0
        try:
            method, target, version, headers = read_head(self.rfile, first)
            path, query = _split_target(target)
            environ = server.base_environ.copy()
            environ.update(REQUEST_METHOD=method, PATH_INFO=unquote(path, "latin-1"), QUERY_STRING=query,
                           SERVER_PROTOCOL=version, REMOTE_ADDR=self.client_address[0],
                           REMOTE_PORT=str(self.client_address[1]))
            tokens, length, chunked, expect = "", None, False, ""
            for name, value in headers:
                key = name.upper().replace("-", "_")
                if key == "CONTENT_LENGTH":
                    if not value.isdigit() or (length is not None and int(value) != length):
                        raise ProtocolError(400, "Bad Request", "invalid Content-Length header")
                    length = int(value)
                elif key == "TRANSFER_ENCODING":
                    if value.lower() != "chunked" or chunked or version != "HTTP/1.1":
                        raise ProtocolError(501, "Not Implemented", f"unsupported transfer coding {value[:40]!r}")
                    chunked = True
                elif key == "CONNECTION":
                    tokens += "," + value.lower()
                elif key == "EXPECT":
                    expect = value.lower()
                if "_" in name:  # it could pose as another header: wsgiref drops it too
                    continue
                if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                    key = "HTTP_" + key
                environ[key] = f"{environ[key]},{value}" if key in environ else value
            if chunked and length is not None:
                raise ProtocolError(400, "Bad Request", "both Content-Length and Transfer-Encoding")
            if expect and expect != "100-continue":
                raise ProtocolError(417, "Expectation Failed", "only 'Expect: 100-continue' is understood")
            tokens = tokens.replace(" ", "")
            keep = ",close" not in tokens + "," if version == "HTTP/1.1" else ",keep-alive" in tokens
            body_length = None if chunked else (length or 0)
            body = Input(self.rfile, body_length, (lambda: sock.sendall(_CONTINUE))
                         if expect and version == "HTTP/1.1" and body_length != 0 else None)
            environ["wsgi.input"] = body
            exchange = Exchange(sock.sendall, method, version, keep and not server.closing, body)
            try:
                exchange.run(server.app, environ)
            except Exception as error:
                if isinstance(error, ProtocolError) and not exchange.sent:
                    raise
                status, sent = (exchange.status or "500")[:3] if exchange.sent else "500", exchange.bytes
                if not isinstance(error, OSError):
                    logger.error("the application failed on %s %s", method, path[:200], exc_info=error)
                if not exchange.sent:
                    sock.sendall(b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\n"
                                 b"Content-Length: 21\r\nConnection: close\r\n\r\nInternal Server Error")
                return False  # an answer cut short: the client sees it end early
            status, sent = (exchange.status or "500")[:3], exchange.bytes
            return exchange.keep_alive and not server.closing and body.drain(server.drain_bytes)
        except ProtocolError as error:
            status = str(error.status)
            try:
                sock.sendall(error.answer())
            except OSError:
                pass
            return False
        except OSError:
            return False
        finally:
            access_logger.info('%s "%s %s" %s %s %.3fs', self.client_address[0], method, path[:200], status, sent,
                               time.monotonic() - started)


class GatewayServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    """The gateway's HTTP/1.1 server (see the module docstring); made by :func:`make_server`."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128
    #: Seconds a connection waits for its next request before the server closes it.
    idle_timeout = 30.0
    #: Seconds any one read or write of a request in progress may take.
    io_timeout = 60.0
    #: Bytes of a request body the application did not read that are skipped to keep the connection.
    drain_bytes = 64 * 1024
    #: When a connection closes, how long the unread rest of a request is drained, so that the
    #: client reads the answer (a 413, a 401) instead of a connection reset.
    linger_seconds = 1.0
    linger_bytes = 16 * 1024 * 1024

    def __init__(self, address: tuple[str, int], app: Callable[..., Iterable[bytes]]) -> None:
        self.closing = False
        self._active = 0
        self._idle_sockets: set[socket.socket] = set()
        self._state = threading.Condition()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Connection)
        self.app = app
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)
        self.base_environ: dict[str, Any] = {
            "SERVER_NAME": self.server_name, "SERVER_PORT": str(self.server_port), "SCRIPT_NAME": "",
            "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
            "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
            "wsgi.input_terminated": True,
        }

    @property
    def url(self) -> str:
        """The base URL an OpenAI client takes: ``http://127.0.0.1:<port>/v1``."""
        host = self.server_name if ":" not in self.server_name else f"[{self.server_name}]"
        return f"http://{host}:{self.server_port}/v1"

    def begin(self, sock: socket.socket) -> bool:
        """A request arrived on ``sock``; False when the server is closing (drop it)."""
        with self._state:
            self._idle_sockets.discard(sock)
            if self.closing:
                return False
            self._active += 1
            return True

    def end(self, sock: socket.socket) -> None:
        """The request on ``sock`` is answered; the connection waits for the next one."""
        with self._state:
            self._active -= 1
            self._idle_sockets.add(sock)
            self._state.notify_all()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._state:
            self._idle_sockets.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._state:
            self._idle_sockets.discard(request)
        try:
            request.shutdown(socket.SHUT_WR)
            request.settimeout(self.linger_seconds)
            deadline, drained = time.monotonic() + self.linger_seconds, 0
            while drained < self.linger_bytes and time.monotonic() < deadline:
                data = request.recv(65536)
                if not data:
                    break
                drained += len(data)
        except OSError:
            pass
        self.close_request(request)

    def server_close(self) -> None:
        """Stop listening and close the idle connections; requests in progress finish, then
        their connections close (see :meth:`wait_idle`)."""
        super().server_close()
        with self._state:
            self.closing = True
            idle = list(self._idle_sockets)
        for sock in idle:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def wait_idle(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the requests in progress; True if none is left."""
        with self._state:
            return self._state.wait_for(lambda: self._active == 0, timeout)


def make_server(app: Callable[..., Iterable[bytes]], host: str = "127.0.0.1", port: int = 8000) -> GatewayServer:
    """Bind the gateway's HTTP/1.1 server for ``app`` (port 0 picks a free port); not yet serving.

    Raises:
        InvalidConfigError: ``host`` is not a loopback address and ``app`` does not require an
            API key (a :class:`Gateway` made without ``api_key``).
    """
    if not is_loopback(host) and not getattr(app, "requires_key", False):
        raise InvalidConfigError(
            f"refusing to listen on {host} without an API key — set one (--api-key or "
            "$CHATGPT4O_API_KEY) or listen on 127.0.0.1"
        )
    return GatewayServer((host, port), app)


def serve(
    app: Callable[..., Iterable[bytes]], host: str = "127.0.0.1", port: int = 8000, *,
    ready: Callable[[GatewayServer], None] | None = None, grace: float = 5.0,
) -> None:
    """Serve ``app`` until interrupted (``KeyboardInterrupt`` is re-raised after a clean stop).

    ``ready`` is called with the bound server (its ``url``) before serving begins. On the way
    out, requests in progress get up to ``grace`` seconds to finish.
    """
    server = make_server(app, host, port)
    try:
        if ready is not None:
            ready(server)
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        server.wait_idle(grace)

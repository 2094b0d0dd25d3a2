"""The gateway's standard-library server: wsgiref with one thread per request.

Answers stream (wsgiref writes and flushes each piece of a body as the application yields it),
each request gets one access-log line without headers or query strings, and the server drains
what a client still sends after its answer (a refused upload) so the client reads the answer
instead of a connection reset. For more than one machine's threads, run the same application
under gunicorn or waitress instead.
"""

from __future__ import annotations

import http
import ipaddress
import logging
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterable, MutableMapping
from typing import Any
from wsgiref import simple_server

from .exceptions import InvalidConfigError

__all__ = ["GatewayServer", "is_loopback", "make_server", "serve"]

logger = logging.getLogger("chatgpt4o.gateway")
access_logger = logging.getLogger("chatgpt4o.gateway.access")

def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback name or address (``localhost``, ``127.0.0.0/8``, ``::1``)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class _ServerHandler(simple_server.ServerHandler):
    # Answers stream: wsgiref writes and flushes each piece of the body as it comes.
    os_environ: MutableMapping[str, str] = {}  # noqa: RUF012 - the process environment stays out


class _RequestHandler(simple_server.WSGIRequestHandler):
    """One request per connection; one access-log line per request: address, method, path
    (without its query string), status, bytes and seconds. No header is ever logged."""

    _started = 0.0

    def handle(self) -> None:
        self._started = time.monotonic()
        self.raw_requestline = self.rfile.readline(65537)
        if len(self.raw_requestline) > 65536:
            self.requestline, self.request_version, self.command = "", "", ""
            self.send_error(414)
            return
        if not self.parse_request():
            return
        handler = _ServerHandler(
            self.rfile, self.wfile, self.get_stderr(), self.get_environ(), multithread=True,  # type: ignore[arg-type]
        )
        handler.request_handler = self  # type: ignore[attr-defined]
        handler.run(self.server.get_app())  # type: ignore[attr-defined]

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = str(getattr(self, "path", "") or "-").split("?", 1)[0]
        status = code.value if isinstance(code, http.HTTPStatus) else code
        access_logger.info('%s "%s %s" %s %s %.3fs', self.client_address[0], getattr(self, "command", "") or "-",
                           path[:200], status, size, time.monotonic() - self._started)

    def log_error(self, format: str, *args: Any) -> None:
        logger.debug("malformed request from %s", self.client_address[0])  # its text may hold anything


class GatewayServer(socketserver.ThreadingMixIn, simple_server.WSGIServer):
    """wsgiref's server, one thread per request; made by :func:`make_server`."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128
    #: After answering, how long the unread rest of a request is drained before closing, so the
    #: client reads the answer (a 413, a 401) instead of a connection reset.
    linger_seconds = 1.0
    linger_bytes = 16 * 1024 * 1024

    def __init__(self, address: tuple[str, int], app: Any) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _RequestHandler)
        self.set_app(app)
        self._active = 0
        self._idle = threading.Condition()

    def server_bind(self) -> None:
        # HTTPServer.server_bind would look the host's name up (socket.getfqdn), which can stall.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)
        self.setup_environ()

    @property
    def url(self) -> str:
        """The base URL an OpenAI client takes: ``http://127.0.0.1:<port>/v1``."""
        host = self.server_name if ":" not in self.server_name else f"[{self.server_name}]"
        return f"http://{host}:{self.server_port}/v1"

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self._idle:
            self._active += 1
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._idle:
                self._active -= 1
                self._idle.notify_all()

    def shutdown_request(self, request: Any) -> None:
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

    def wait_idle(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the requests in progress; True if none is left."""
        with self._idle:
            return self._idle.wait_for(lambda: self._active == 0, timeout)


def make_server(app: Callable[..., Iterable[bytes]], host: str = "127.0.0.1", port: int = 8000) -> GatewayServer:
    """Bind a threading wsgiref server for ``app`` (port 0 picks a free port); not yet serving.

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

"""Connection pooling, the overall deadline of an ask, and capped reads.

requests' timeouts bound each socket operation, not a whole response: a
server that sends one byte a second never trips a read timeout. So every
request runs under a :class:`Deadline`: the connection it uses is recorded
when urllib3 hands it out, and one watchdog thread per process shuts that
socket down when the deadline passes, which ends any blocked read at once.
Arming and disarming a deadline is a dict update, so the common case costs
next to nothing.
"""

from __future__ import annotations

import os
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing_extensions import Self  # noqa: UP035 (typing.Self needs 3.11)

from requests import Response
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util.ssl_ import create_urllib3_context

from . import _config
from .exceptions import ResponseTooLargeError

__all__ = ["ERROR_BODY_BYTES", "Deadline", "PooledAdapter", "iter_raw", "read_capped"]

_local = threading.local()
#: How much of an error answer's body is read (for its message and typed error).
ERROR_BODY_BYTES = 64 * 1024


class Deadline:
    """The moment an ask must end by; a context manager that arms the watchdog."""

    __slots__ = ("_key", "at", "conn", "fired")

    def __init__(self, at: float) -> None:
        self.at = at
        self.conn: Any = None
        self.fired = False
        self._key = 0

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def __enter__(self) -> Self:
        # ``conn`` is kept: a stream re-arms the deadline for the connection
        # its attempt opened. Attempts reset it with ``track_anew``.
        self._key = _WATCHDOG.arm(self)
        _local.deadline = self
        return self

    def __exit__(self, *exc: object) -> None:
        _local.deadline = None
        _WATCHDOG.disarm(self._key)

    def track_anew(self) -> None:
        """Forget the connection of an earlier attempt."""
        self.conn = None

    def expire(self) -> None:
        """Called by the watchdog: wake whatever read is blocked on our socket."""
        self.fired = True
        # http.client drops ``conn.sock`` when the answer says
        # ``Connection: close`` (the response then owns the socket): fall back
        # to the socket the connection opened last.
        sock = getattr(self.conn, "sock", None) or getattr(self.conn, "last_sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Watchdog:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._entries: dict[int, Deadline] = {}
        self._counter = 0
        self._wake_at = float("inf")
        self._thread: threading.Thread | None = None

    def arm(self, deadline: Deadline) -> int:
        with self._cond:
            self._counter += 1
            self._entries[self._counter] = deadline
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="chatgpt4o-deadline", daemon=True)
                self._thread.start()
            if deadline.at < self._wake_at:
                self._cond.notify()
            return self._counter

    def disarm(self, key: int) -> None:
        with self._cond:
            self._entries.pop(key, None)

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                due = [k for k, d in self._entries.items() if d.at <= now]
                for key in due:
                    self._entries.pop(key).expire()
                self._wake_at = min((d.at for d in self._entries.values()), default=now + 60.0)
                self._cond.wait(max(0.0, self._wake_at - now))


_WATCHDOG = _Watchdog()


def _track(conn: Any) -> Any:
    deadline = getattr(_local, "deadline", None)
    if deadline is not None:
        deadline.conn = conn
    return conn


def _untrack(conn: Any) -> None:
    # A connection back in the pool may be handed to another thread next:
    # this deadline must no longer be able to shut it.
    deadline = getattr(_local, "deadline", None)
    if deadline is not None and deadline.conn is conn:
        deadline.conn = None


class _RemembersSocket:
    # The watchdog shuts the socket of a connection even while urllib3 reads it.
    last_sock: Any = None
    sock: Any

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        self.last_sock = self.sock


class _HTTPConnection(_RemembersSocket, HTTPConnection):
    pass


class _HTTPSConnection(_RemembersSocket, HTTPSConnection):
    pass


class _TracksDeadline:
    # A connection taken from the pool belongs to this thread's deadline until it goes back.
    def _get_conn(self, timeout: float | None = None) -> Any:
        return _track(super()._get_conn(timeout))  # type: ignore[misc]

    def _put_conn(self, conn: Any) -> None:
        _untrack(conn)
        super()._put_conn(conn)  # type: ignore[misc]


class _HTTPPool(_TracksDeadline, HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(_TracksDeadline, HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class PooledAdapter(HTTPAdapter):
    """An HTTPAdapter whose pools report their connections to the deadline watchdog.

    It never retries by itself (the client's policy does), and its pool holds
    ``pool_maxsize`` kept-alive connections per host: size it to the
    concurrency offered, since urllib3 discards connections beyond it.

    TLS: requests hands urllib3 the CA bundle's *path*, and urllib3 then
    builds a fresh SSLContext and parses the bundle for every new connection
    (about 60 ms for certifi's ~120 certificates, holding the GIL), so a
    burst of 64 new connections spent seconds parsing PEM. Here one context
    per CA setting is built once and shared by every connection; urllib3
    still checks the certificate and the host name on each.
    """

    def __init__(self, pool_maxsize: int) -> None:
        self._contexts: dict[tuple[str | None, str | None], ssl.SSLContext] = {}
        self._contexts_lock = threading.Lock()
        self._ca_locations: dict[str, dict[str, str]] = {}
        super().__init__(pool_connections=4, pool_maxsize=pool_maxsize, max_retries=0, pool_block=False)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = _POOLS
        return manager

    def build_connection_pool_key_attributes(
        self, request: Any, verify: bool | str, cert: Any = None
    ) -> Any:
        # A CA path is looked at once (file or directory?), not by requests on every request.
        host_params, base_kwargs = super().build_connection_pool_key_attributes(
            request, True if isinstance(verify, str) else verify, cert,
        )
        pool_kwargs: dict[str, Any] = dict(base_kwargs)
        if isinstance(verify, str):
            pool_kwargs.update(self._ca_location(verify))
        if host_params.get("scheme") == "https" and verify is not False and cert is None:
            ca_file = pool_kwargs.pop("ca_certs", None)
            ca_dir = pool_kwargs.pop("ca_cert_dir", None)
            pool_kwargs["ssl_context"] = self._context_for(ca_file, ca_dir)
        return host_params, pool_kwargs

    def cert_verify(self, conn: Any, url: str, verify: bool | str, cert: Any) -> None:
        if verify and cert is None and url[:5].lower() == "https" and getattr(conn, "conn_kw", {}).get("ssl_context") is not None:
            # The shared context already trusts the CA, read from a path looked at
            # once: requests would look at the path again, and a path here would
            # make urllib3 parse the bundle again for every connection.
            conn.cert_reqs = "CERT_REQUIRED"
            conn.ca_certs = conn.ca_cert_dir = None
            return
        super().cert_verify(conn, url, verify, cert)  # type: ignore[no-untyped-call]

    def _ca_location(self, path: str) -> dict[str, str]:
        location = self._ca_locations.get(path)
        if location is None:
            location = {"ca_cert_dir": path} if os.path.isdir(path) else {"ca_certs": path}
            self._ca_locations[path] = location
        return location

    def _context_for(self, ca_file: str | None, ca_dir: str | None) -> ssl.SSLContext:
        key = (ca_file, ca_dir)
        with self._contexts_lock:
            context = self._contexts.get(key)
            if context is None:
                context = create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED)
                if ca_file is None and ca_dir is None:
                    from requests.utils import DEFAULT_CA_BUNDLE_PATH

                    ca_file = DEFAULT_CA_BUNDLE_PATH
                context.load_verify_locations(cafile=ca_file, capath=ca_dir)
                self._contexts[key] = context
            return context


def read_capped(response: Response, cap: int, *, truncate: bool = False) -> bytes:
    """Read at most ``cap`` bytes of the (decoded) body; past that, raise or cut."""
    raw = response.raw
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = raw.read(min(65536, cap + 1 - total), decode_content=True)
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
        if total > cap:
            if truncate:
                return b"".join(chunks)[:cap]
            raise ResponseTooLargeError(
                f"the answer is larger than {cap} bytes and was not read further "
                "(a normal chat page or reply is far smaller)"
            )
    return b"".join(chunks)


def iter_raw(response: Response) -> Iterator[bytes]:
    """The body as it arrives (decoded), capped at ``MAX_REPLY_BYTES``."""
    raw = response.raw
    total = 0
    while True:
        chunk = raw.read1(65536, decode_content=True) if hasattr(raw, "read1") else raw.read(8192, decode_content=True)
        if not chunk:
            return
        total += len(chunk)
        if total > _config.MAX_REPLY_BYTES:
            raise ResponseTooLargeError(f"the streamed answer is larger than {_config.MAX_REPLY_BYTES} bytes")
        yield chunk

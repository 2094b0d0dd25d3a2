"""What the plugin generations and the faults may use of the layers above them.

:class:`Site` is the emulator (scenario, nonces, counters, clock, the AIPKit tables) and
:class:`Connection` the connection being served; :class:`~.server.Emulator` and
:class:`~.handler.Handler` provide them. The generations and the fault table type against these
protocols and import neither of those modules, so the dependencies point one way only:
server -> handler -> {faults, generations} -> {aipkit, wpaicg, ...} -> interfaces, core.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from .aipkit_store import AipkitStore
from .core import Request, Response
from .scenarios import EmulatorConfig

__all__ = ["ActionFn", "Connection", "Site"]


class Site(Protocol):
    """What a plugin generation or a fault may use of the emulator (:class:`~.server.Emulator`)."""

    base_url: str
    #: the AIPKit site's tables (message cache, chat logs, guest usage)
    aipkit: AipkitStore
    #: seconds since the epoch (nonce ticks, timestamps)
    clock: Callable[[], float]

    @property
    def config(self) -> EmulatorConfig: ...

    def wait(self, seconds: float) -> bool: ...

    def count(self, key: str, n: int = 1) -> None: ...

    def nonce(self, action: str) -> str: ...

    def verify_nonce(self, nonce: str, action: str = ...) -> bool: ...

    def render_page(self, path: str = "", client_ip: str = "") -> bytes: ...


class Connection(Protocol):
    """What a plugin generation or a fault may use of the connection it answers on
    (:class:`~.handler.Handler`): the site, and raw writes for answers a :class:`Response`
    cannot describe (resets, hangs, trickles)."""

    @property
    def emulator(self) -> Site: ...

    def write(self, data: bytes) -> bool:
        """``sendall``; False once the client has gone away."""

    def abort(self, rst: bool = False) -> None:
        """End the connection without (more of) an answer; ``rst`` sends a TCP reset."""

    def hold(self, seconds: float) -> None:
        """Keep the socket open, answering nothing, until the client leaves or time/stop."""


#: An admin-ajax action handler: ``(connection, request) -> Response``.
ActionFn = Callable[[Connection, Request], Response]

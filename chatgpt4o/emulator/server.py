"""The public face of the emulator: :class:`Emulator` (lifecycle, scenario, nonces, counters).

The WordPress core lives in :mod:`.handler` (HTTP, routing), :mod:`.generations` (which
generation serves an era, admin-ajax dispatch), :mod:`.core` (requests and answers),
:mod:`.faults` and :mod:`.wordpress` (nonces, sanitizing, escaping); each plugin generation has
its own module (:mod:`.wpaicg` for 1.x, :mod:`.aipkit` for 2.x). Those see this class only as
the :class:`~.interfaces.Site` protocol.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import shutil
import ssl
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from . import aipkit_page, wpaicg_page
from .aipkit_era import is_aipkit
from .aipkit_store import AipkitStore
from .core import Request, Response, StatusCounts
from .handler import Server
from .scenarios import EmulatorConfig, pick_fault
from .theme import PageTemplate
from .tls import make_certificate as _make_certificate
from .wordpress import (
    AIPKIT_NONCE_ACTION,
    IMG_NONCE_ACTION,
    NONCE_ACTION,
    nonce_tick,
    sanitize_key,
    wp_nonce,
    wp_verify_nonce,
)

__all__ = ["Emulator", "running"]

logger = logging.getLogger("chatgpt4o.emulator")



_PAGE_FIELDS = ("era", "stream", "post_id", "bot_id", "page_path", "ajax_path", "memory_limit",
                "page_size", "chatbox", "extra_chatboxes", "nonce_secret", "bots", "popup",
                "sitewide_popup", "bot_path", "provider")
_STAT_KEYS = ("page_fetches", "ajax_posts", "connections", "requests", "faults_injected",
              "stale_nonce", "errors", "cache_posts", "streams", "nonce_refreshes", "nonstream_posts",
              "history_requests", "challenged_connections")


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
        self._status = StatusCounts()
        self._requests: deque[dict[str, Any]] = deque(maxlen=1000)
        self._templates: dict[str, tuple[Any, PageTemplate]] = {}
        #: the AIPKit site's tables (message cache, chat logs, guest usage)
        self.aipkit = AipkitStore()
        self.stopping = threading.Event()
        self._server: Server | None = None
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
        self._server = Server(self, (self._host, self._port), context)
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
        """The chat nonce the page shows right now (1.x ``data-nonce``, 2.x ``cfg.nonce``)."""
        return self.nonce(AIPKIT_NONCE_ACTION if is_aipkit(self._config.era) else NONCE_ACTION)

    def nonce(self, action: str) -> str:
        """``wp_create_nonce(action)`` for a guest, right now."""
        with self._lock:
            return wp_nonce(self._secret(), action, self._tick())

    def rotate_nonce(self) -> None:
        """Invalidate every nonce issued so far (new secret)."""
        with self._lock:
            self._generation += 1

    def verify_nonce(self, nonce: str, action: str = NONCE_ACTION) -> bool:
        """Check a submitted nonce (``sanitize_key``-ed); also drives ``rotate_every``."""
        with self._lock:
            value = sanitize_key(nonce) if action == AIPKIT_NONCE_ACTION else nonce
            ok = wp_verify_nonce(value, self._secret(), action, self._tick()) > 0
            self._ajax_seen += 1
            every = self._config.rotate_every
            if every > 0 and self._ajax_seen % every == 0:
                self._generation += 1
            return ok

    # ---- used by the handler

    def render_page(self, path: str = "", client_ip: str = "") -> bytes:
        """The chat page at ``path`` (default ``page_path``), nonces joined in."""
        with self._lock:
            cfg = self._config
            path = path or cfg.page_path
            # only what the markup depends on: fault bursts rewrite the config on every request
            key = tuple(getattr(cfg, name) for name in _PAGE_FIELDS) + (self.base_url,)
            cached = self._templates.get(path)
            if cached is None or cached[0] != key:
                if is_aipkit(cfg.era):
                    built = aipkit_page.build_aipkit_page(cfg, self.base_url, path)
                else:
                    built = wpaicg_page.build_page_template(cfg, self.base_url)
                cached = self._templates[path] = (key, built)
            template = cached[1]
            secret, tick = self._secret(), self._tick()
        if is_aipkit(cfg.era):
            return template.render({aipkit_page.NONCE_SLOT: wp_nonce(secret, AIPKIT_NONCE_ACTION, tick),
                                    aipkit_page.IP_SLOT: client_ip})
        return template.render({wpaicg_page.NONCE_SLOT: wp_nonce(secret, NONCE_ACTION, tick),
                                wpaicg_page.IMG_NONCE_SLOT: wp_nonce(secret, IMG_NONCE_ACTION, tick)})

    def draw_fault(self, targets: tuple[str, ...]) -> str | None:
        """The fault for one request matching ``targets`` (see ``pick_fault``), if any."""
        with self._lock:
            fault, changes = pick_fault(self._config, targets, self._rng)
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

    def control(self, req: Request) -> Response:
        """The ``/__emulator__/*`` endpoints: stats, rotate, config."""
        emu = self
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

    # ---- observation

    @property
    def stats(self) -> dict[str, Any]:
        """A snapshot of the counters.

        ``page_fetches`` (chat pages: ``page_path`` and ``bot_path``), ``ajax_posts`` (every
        request to ajax_path), ``connections`` (accepted TCP connections), ``requests`` (all but
        ``/__emulator__/*``), ``faults_injected``, ``stale_nonce`` (nonce checks that failed,
        incl. the fault), ``errors`` (answers that were neither a page nor a successful chat
        reply), the AIPKit steps ``cache_posts``, ``streams``, ``nonce_refreshes``,
        ``nonstream_posts`` and ``history_requests`` (history and conversation list), counted
        whether or not a fault hits them, and ``status_counts`` ``{status: n}`` where 0 counts
        faults that gave no complete answer (reset, hang, trickle, truncated, ...).
        """
        with self._lock:
            snapshot: dict[str, Any] = dict(self._stats)
            snapshot["status_counts"] = StatusCounts(self._status)
            return snapshot

    def reset_site(self) -> None:
        """Forget the AIPKit site's state: cached messages, chat logs and guest token usage."""
        self.aipkit.clear()

    def reset_stats(self) -> None:
        """Zero every counter and forget the request log."""
        with self._lock:
            self._stats = {key: 0 for key in _STAT_KEYS}
            self._status = StatusCounts()
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

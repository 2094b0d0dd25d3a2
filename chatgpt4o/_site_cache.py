"""The site description a :class:`~chatgpt4o.Client` caches: one page read, one nonce refresh for all threads.

:class:`SiteCache` is a mixin. The page is read once (single flight: one
thread reads, the others wait) and reused until :data:`_config.TOKEN_MAX_AGE`;
a stale nonce is renewed by the first thread that meets it, as the protocol
module says (a refresh request, or the page again), while the others wait
and then find the fresh one.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

import requests

from . import _config, protocols
from ._http import Transport
from ._page_fetch import same_site
from ._results import SiteInfo
from ._transport import Deadline
from .exceptions import APITimeoutError, EndpointGoneError
from .protocols.base import Site

__all__ = ["SiteCache"]

log = logging.getLogger("chatgpt4o")


class SiteCache:
    """``inspect()`` and the cached site description, over a client's transport."""

    if TYPE_CHECKING:
        _settings: _config.Settings
        _http: Transport
        _protocol: str
        _bot_id: int | None
        _sleep: Callable[[float], None]
        _tokens: Site | None
        _tokens_at: float
        _tokens_lock: threading.Lock
        _refetch_url: str | None

        def _redact(self, text: str) -> str: ...

        def _remember_secret(self, value: str) -> None: ...

    def _tokens_for(self, deadline: Deadline) -> Site:
        tokens = self._tokens
        if tokens is not None and time.monotonic() - self._tokens_at < _config.TOKEN_MAX_AGE:
            return tokens
        # Single flight: one thread reads the page, the others wait for it.
        if not self._tokens_lock.acquire(timeout=max(0.0, deadline.remaining())):
            raise APITimeoutError(f"no chat page within the {self._settings.timeout:g} s timeout")
        try:
            tokens = self._tokens
            if tokens is None or time.monotonic() - self._tokens_at >= _config.TOKEN_MAX_AGE:
                tokens = self._fetch_tokens(deadline)
                self._remember_secret(tokens.nonce)
                self._tokens, self._tokens_at = tokens, time.monotonic()
            return tokens
        finally:
            self._tokens_lock.release()

    def _refresh_tokens(self, stale: Site, session: requests.Session, deadline: Deadline) -> None:
        # Only the first caller holding the stale nonce refreshes it; callers
        # that hit the same stale nonce later find a fresh one already there.
        # By value: a refresh that brought back the same nonce (it was still
        # good, the refusal came from elsewhere) leaves it as stale as before
        # once the site rotates, and the next caller must refresh again.
        generation = protocols.for_name(stale.protocol)
        request = generation.refresh(stale)
        with self._tokens_lock:
            current = self._tokens
            if current is not None and current is not stale and current.nonce != stale.nonce:
                return
            if request is not None:
                try:
                    answer = self._http.fetch(session, request, deadline, generation.check_status)
                    fresh = generation.refreshed(stale, answer, self._redact)
                except EndpointGoneError:
                    log.debug("the site has no nonce refresh action; reading the page again")
                else:
                    self._remember_secret(fresh.nonce)
                    self._tokens, self._tokens_at = fresh, time.monotonic()
                    return
            self._tokens = None  # the next attempt reads the page again
            self._refetch_url = generation.refetch_url(stale)

    def _fetch_tokens(self, deadline: Deadline) -> Site:
        started = time.monotonic()
        generation = protocols.for_name("wpaicg" if self._protocol == "auto" else self._protocol)
        url, html, size = self._http.get_page(deadline, generation.check_status, self._refetch_url)
        self._refetch_url = None
        tokens = protocols.choose(self._protocol, html).read_page(html, url)
        if not same_site(tokens.ajax_url, url) or urlsplit(tokens.ajax_url).scheme not in ("http", "https"):
            # Never post the nonce and cookies to a host the user did not name.
            fallback = urljoin(url, "/wp-admin/admin-ajax.php")
            log.debug("page names an AJAX URL on another host; using %s", fallback)
            tokens = dataclasses.replace(tokens, ajax_url=fallback)
        log.debug(
            "read chat page %s in %.0f ms (%d bytes, %s plugin %s)",
            url, (time.monotonic() - started) * 1000, size, tokens.protocol, tokens.plugin_version,
        )
        return tokens

    def inspect(self, *, timeout: float | None = None) -> SiteInfo:
        """Read the chat page now and report what it says (protocol, version, era, bots, the bot used...).

        Useful to see at a glance whether a site is usable. It always reads
        the page afresh and caches the tokens it finds.

        Raises:
            TokensNotFoundError: no chat box on the page.
            Chatgpt4oError: as :meth:`ask`, for the page fetch.
        """
        seconds = self._settings.timeout if timeout is None else _config.check_timeout(timeout)
        deadline = Deadline(time.monotonic() + seconds)
        started = time.monotonic()

        def attempt() -> Site:
            return self._http.guarded(deadline, lambda: self._fetch_tokens(deadline))

        # With the first ask (it loads tenacity then).
        from ._retry import call_with_retries

        tokens = call_with_retries(
            attempt, max_retries=self._settings.max_retries, deadline=deadline.at, sleep=self._sleep,
        )
        self._remember_secret(tokens.nonce)
        with self._tokens_lock:
            self._tokens, self._tokens_at = tokens, time.monotonic()
        return SiteInfo(tokens, time.monotonic() - started, bot_id=self._bot_id)

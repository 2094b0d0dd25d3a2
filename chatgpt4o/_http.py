"""HTTP for one :class:`~chatgpt4o.Client`: sessions, the requests of a turn, errors.

:class:`Transport` runs the :class:`~chatgpt4o.protocols.base.Request` a
protocol describes: it owns the pooled adapter (see :mod:`._transport` for
the deadline watchdog and capped reads), reads the chat page through
:mod:`._page_fetch` (redirects only within the site), and turns
requests/urllib3 exceptions into the package's own.
"""

from __future__ import annotations

import contextlib
import logging
import re
import weakref
from collections.abc import Callable, Iterator, Mapping
from http.cookiejar import CookieJar
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

import requests
import urllib3.exceptions
from requests.cookies import extract_cookies_to_jar, get_cookie_header
from requests.structures import CaseInsensitiveDict

from . import _config
from ._page_fetch import Check, fetch_page
from ._transport import ERROR_BODY_BYTES, Deadline, PooledAdapter, iter_raw, read_capped
from .exceptions import (
    APIConnectionError,
    APITimeoutError,
    Chatgpt4oError,
    MalformedResponseError,
    TLSError,
)
from .protocols.base import Answer, Redact, Request

__all__ = ["CookiesArg", "Transport"]

log = logging.getLogger("chatgpt4o")
T = TypeVar("T")
CookiesArg = Mapping[str, str] | CookieJar | None


def _root_cause(exc: BaseException) -> str:
    """The innermost reason of a requests/urllib3 error, without their wrapping text."""
    seen: set[int] = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        inner = getattr(exc, "reason", None)
        if not isinstance(inner, BaseException):
            inner = next((arg for arg in exc.args if isinstance(arg, BaseException)), None)
        if not isinstance(inner, BaseException):
            break
        exc = inner
    text = str(exc)
    # urllib3 prefixes "HTTPConnection(host=..., port=...): "; the URL is said elsewhere.
    return re.sub(r"^\w*(?:Connection|Pool)\(host=[^)]*\): ", "", text)


class Transport:
    """The HTTP side of one client: its sessions, its adapter, its errors."""

    def __init__(
        self, settings: _config.Settings, *, verify: bool | str, headers: dict[str, str], cookies: CookiesArg,
        session: requests.Session | None, redact: Redact, impersonate: str | None = None,
    ) -> None:
        self._settings = settings
        self._headers = headers
        self._cookies = cookies
        self._redact = redact
        self._impersonate = impersonate
        # A browser's TLS fingerprint needs curl's stack (the [browser] extra, loaded only
        # then); the pooled urllib3 adapter otherwise.
        self.adapter: requests.adapters.BaseAdapter
        if impersonate is None:
            self.adapter = PooledAdapter(settings.max_concurrency)
        else:
            from ._impersonate import impersonating_adapter

            self.adapter = impersonating_adapter(impersonate, pool_maxsize=settings.max_concurrency)
        self._own_sessions: weakref.WeakSet[requests.Session] = weakref.WeakSet()
        self._url_cache: dict[str, str] = {}
        #: Secrets of proxies found in the environment (the client redacts them).
        self.proxy_secrets: tuple[str, ...] = ()
        # Passed with every request, and the session does not consult the
        # environment itself: the environment is read once, in _config.
        self.per_request: dict[str, Any] = {"verify": _config.checked_ca_bundle(verify)}
        if settings.proxy:
            self.per_request["proxies"] = {"http": settings.proxy, "https": settings.proxy}
        else:
            env_proxies = _config.environment_proxies(settings.page_url)
            if env_proxies:
                self.per_request["proxies"] = env_proxies
                self.proxy_secrets = tuple(_config.url_secrets(*env_proxies.values()))
        if impersonate is None:  # curl speaks SOCKS itself; urllib3 needs PySocks
            _config.check_proxy_support(
                self.per_request.get("proxies", {}), "proxy" if settings.proxy else "from the environment",
            )
        self.session = self.new_session(session)

    def new_session(self, base: requests.Session | None = None) -> requests.Session:
        """A session over the shared pool, with the client's headers and cookies."""
        session = base if base is not None else requests.Session()
        session.mount("https://", self.adapter)
        session.mount("http://", self.adapter)
        session.headers.setdefault("User-Agent", _config.USER_AGENT)
        if base is None:
            session.headers["User-Agent"] = _config.USER_AGENT
            session.headers["Accept-Language"] = "en-US,en;q=0.9"
        if self._impersonate is not None:
            from ._impersonate import browser_headers

            session.headers.update(browser_headers(self._impersonate))
        session.headers.update(self._headers)
        if base is None:
            session.trust_env = False
            self._own_sessions.add(session)
        host = urlsplit(self._settings.page_url).hostname or ""
        if isinstance(self._cookies, Mapping):
            for name, value in self._cookies.items():
                # Bound to the site's host: a redirect elsewhere never carries them.
                session.cookies.set(str(name), str(value), domain=host, path="/")
        elif isinstance(self._cookies, CookieJar):
            for cookie in self._cookies:
                session.cookies.set_cookie(cookie)
        return session

    def timeouts(self, deadline: Deadline) -> tuple[float, float]:
        remaining = deadline.remaining()
        if remaining <= 0:
            raise APITimeoutError(f"the ask's {self._settings.timeout:g} s timeout passed")
        return (min(_config.CONNECT_TIMEOUT, remaining), remaining)

    def get_page(self, deadline: Deadline, check: Check, url: str | None = None) -> tuple[str, str, int]:
        """GET the chat page (or ``url`` on the same site) under ``deadline``: ``(url, html, size)``."""
        return fetch_page(
            self.session, self._settings.page_url, url, timeouts=lambda: self.timeouts(deadline),
            per_request=self.per_request, redact=self._redact, check=check,
        )

    # -- the requests of a turn -------------------------------------------

    def open(self, session: requests.Session, request: Request, deadline: Deadline, check: Check) -> requests.Response:
        """Send ``request``; a status other than 200 goes to ``check`` (which raises) first."""
        response = self._send(session, request, self.timeouts(deadline))
        log.debug("%s %s -> HTTP %d %s", request.method, request.url, response.status_code,
                  response.headers.get("Content-Type", ""))
        if response.status_code != 200:
            try:
                body = read_capped(response, ERROR_BODY_BYTES, truncate=True)
            finally:
                response.close()
            check(response.status_code, response.headers, body, self._redact)
        return response

    def fetch(self, session: requests.Session, request: Request, deadline: Deadline, check: Check) -> Answer:
        """Send an intermediate ``request`` and read its answer whole."""
        response = self.open(session, request, deadline, check)
        try:
            body = read_capped(response, _config.MAX_REPLY_BYTES)
        finally:
            response.close()
        return Answer(response.status_code, response.headers, body)

    def _send(self, session: requests.Session, request: Request, timeout: tuple[float, float]) -> requests.Response:
        """Send through the adapter directly on the sessions the client made.

        ``Session.request`` re-merges settings, hooks and environment on every
        call, a fifth of a warm ask's time on loopback; the client's own
        sessions have nothing to merge, so their request is prepared here and
        handed to the same adapter (cookies still go out and come back through
        the session's jar). A session passed in by the caller takes the usual
        road, so its auth and hooks keep working.
        """
        post = request.method == "POST"
        body = urlencode(request.fields).encode("ascii") if post else None
        query = "" if post or not request.fields else urlencode(request.fields)
        if session not in self._own_sessions:
            joiner = "&" if "?" in request.url else "?"  # an AJAX URL may carry a query (?lang=en)
            url = f"{request.url}{joiner}{query}" if query else request.url
            return session.request(
                request.method, url, data=body, headers=dict(request.headers), timeout=timeout, stream=True,
                allow_redirects=False, **self.per_request,
            )
        prepared = requests.PreparedRequest()
        prepared.method = request.method
        # The AJAX URL is prepared (IDNA, quoting) once; a GET's query, already
        # URL-encoded, changes every turn and is appended as it is.
        prepared.url = self._prepared_url(request.url)
        if query:
            prepared.url += ("&" if "?" in prepared.url else "?") + query
        prepared.headers = CaseInsensitiveDict(session.headers)  # type: ignore[arg-type]
        prepared.headers.update(request.headers)
        if body is not None:
            prepared.headers["Content-Length"] = str(len(body))
        prepared.body = body
        prepared.hooks = {"response": []}
        if len(session.cookies):
            cookie = get_cookie_header(session.cookies, prepared)  # type: ignore[no-untyped-call]
            if cookie:
                prepared.headers["Cookie"] = cookie
        response = session.get_adapter(prepared.url).send(
            prepared, stream=True, timeout=timeout, cert=None, verify=self.per_request["verify"],
            proxies=self.per_request.get("proxies", {}),
        )
        extract_cookies_to_jar(session.cookies, prepared, response.raw)  # type: ignore[no-untyped-call]
        return response

    def _prepared_url(self, url: str) -> str:
        prepared = self._url_cache.get(url)
        if prepared is None:
            holder = requests.PreparedRequest()
            holder.prepare_url(url, None)
            prepared = self._url_cache[url] = holder.url or url
        return prepared

    def iter_body(
        self, response: requests.Response, deadline: Deadline, read: Callable[[Iterator[bytes]], Iterator[str]],
    ) -> Iterator[str]:
        """The pieces ``read`` finds in a streamed body, under the ask's deadline; closes the response."""
        return self.iter_pieces(response, deadline, read(iter_raw(response)))

    def iter_pieces(self, response: requests.Response, deadline: Deadline, pieces: Iterator[str]) -> Iterator[str]:
        """``pieces`` (read from ``response``'s body) under the ask's deadline; closes the response."""
        try:
            with deadline, self._errors(deadline):
                yield from pieces
                if deadline.fired:
                    # EOF because the watchdog shut the socket, not the site's end.
                    raise self.timeout_error()
        finally:
            response.close()

    # -- errors -----------------------------------------------------------

    def guarded(self, deadline: Deadline, step: Callable[[], T]) -> T:
        """Run one attempt under the deadline; turn transport errors into ours."""
        with deadline, self._errors(deadline):
            deadline.track_anew()
            result = step()
            if deadline.fired:
                # The watchdog shut the socket: a body read to its "end" (a
                # read-until-close answer) is cut short, not complete.
                raise self.timeout_error()
            return result

    @contextlib.contextmanager
    def _errors(self, deadline: Deadline) -> Iterator[None]:
        """Transport errors as ours; a failure caused by the watchdog as the timeout it is."""
        try:
            yield
        except Chatgpt4oError as exc:
            if deadline.fired and isinstance(exc, (APIConnectionError, MalformedResponseError)):
                raise self.timeout_error() from None
            raise
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise self.translate(exc, deadline) from None

    def timeout_error(self) -> APITimeoutError:
        return APITimeoutError(
            f"no complete answer within the {self._settings.timeout:g} s timeout — "
            "the site is slow or unreachable; raise timeout= or try later"
        )

    def translate(self, exc: BaseException, deadline: Deadline) -> Chatgpt4oError:
        """Our exception for a requests/urllib3/socket error."""
        if deadline.fired or deadline.remaining() <= 0 or isinstance(exc, requests.exceptions.ReadTimeout):
            return self.timeout_error()
        base_url = self._settings.base_url
        detail = self._redact(_root_cause(exc))[:300]
        if isinstance(exc, requests.exceptions.SSLError) or "CERTIFICATE_VERIFY_FAILED" in detail:
            return TLSError(
                f"TLS certificate verification failed for {base_url}: {detail} — "
                "pass verify='/path/to/ca.pem' for a private CA, or verify=False to skip the check"
            )
        if isinstance(exc, requests.exceptions.ProxyError):
            return APIConnectionError(f"the proxy failed: {detail} — check proxy=")
        if isinstance(exc, (requests.exceptions.ContentDecodingError, urllib3.exceptions.DecodeError)):
            return MalformedResponseError(f"the reply could not be decoded: {detail}")
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return APIConnectionError(f"connecting to {base_url} timed out")
        return APIConnectionError(f"connection to {base_url} failed: {detail}")

    def close(self, owns_session: bool) -> None:
        if owns_session:
            self.session.close()
        self.adapter.close()


"""The synchronous client: one ``requests.Session``, cached page tokens, retries.

A short orchestration of pure pieces: :mod:`.page` reads the tokens,
:mod:`.wire` builds the form and reads the answer, :mod:`._retry` decides
what to try again, :mod:`._transport` bounds every ask by one deadline.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import functools
import importlib
import logging
import re
import secrets
import string
import sys
import threading
import time
import weakref
from collections.abc import (
    AsyncIterator,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from http.cookiejar import CookieJar
from typing import (
    TYPE_CHECKING,
    Any,
    TypeVar,
)
from urllib.parse import urljoin, urlsplit

import requests
import urllib3.exceptions
from requests.cookies import extract_cookies_to_jar, get_cookie_header
from requests.structures import CaseInsensitiveDict

from . import _config, wire
from ._impersonate import browser_headers, impersonating_adapter  # impersonate
from ._retry import call_with_retries
from ._transport import Deadline, PooledAdapter
from .exceptions import (
    APIConnectionError,
    APITimeoutError,
    Chatgpt4oError,
    InvalidConfigError,
    InvalidRequestError,
    MalformedResponseError,
    MessageTypeError,
    NonceExpiredError,
    PageError,
    ResponseTooLargeError,
    TLSError,
)
from .messages import Messages, format_prompt
from .models import DEFAULT_MODEL, MODEL_ALIASES, MODELS, resolve_model
from .page import ChatTokens, parse_page

if TYPE_CHECKING:
    from typing_extensions import Self  # noqa: UP035 (typing.Self needs 3.11)

    from .conversation import Conversation

__all__ = ["Client", "SiteInfo"]

log = logging.getLogger("chatgpt4o")
T = TypeVar("T")

CookiesArg = Mapping[str, str] | CookieJar | None
_ALNUM = string.ascii_letters + string.digits
_ERROR_BODY_BYTES = 64 * 1024


def new_client_id() -> str:
    """A fresh ``wpaicg_chat_client_id``: 10 letters and digits, like the page's script."""
    return "".join(secrets.choice(_ALNUM) for _ in range(10))


def _site_host(url: str) -> str:
    host = urlsplit(url).hostname or ""
    return host.removeprefix("www.")


def _same_site(a: str, b: str) -> bool:
    """Same host, counting ``www.example.org`` and ``example.org`` as one; same port; and no
    downgrade from https to http (cookies, nonce and headers would travel in clear text)."""
    pa, pb = urlsplit(a), urlsplit(b)
    if _site_host(a) != _site_host(b):
        return False
    if pa.scheme == "https" and pb.scheme != "https":
        return False
    default = {"http": 80, "https": 443}
    try:
        port_a = pa.port or default.get(pa.scheme)
        port_b = pb.port or default.get(pb.scheme)
    except ValueError:
        return False
    # http -> https on the default ports is an upgrade of the same site.
    upgrade = pa.scheme == "http" and pb.scheme == "https" and (port_a, port_b) == (80, 443)
    return port_a == port_b or upgrade


class SiteInfo:
    """What a chat page says about the site, as :meth:`Client.inspect` found it.

    Attributes: ``page_url``, ``ajax_url``, ``post_id``, ``bot_id``,
    ``identity`` (the ``chatbot_identity`` sent), ``has_nonce``,
    ``plugin_version`` (``None`` if the page does not show it), ``era`` (see
    :func:`chatgpt4o.page.plugin_era`), ``stream`` (whether the site streams
    its answers), ``memory_limit``, ``sanitizes_messages`` and
    ``fetch_seconds`` (how long the page took). The nonce itself is never
    shown.
    """

    __slots__ = (
        "ajax_url",
        "bot_id",
        "era",
        "fetch_seconds",
        "has_nonce",
        "identity",
        "memory_limit",
        "page_url",
        "plugin_version",
        "post_id",
        "sanitizes_messages",
        "stream",
    )

    def __init__(self, tokens: ChatTokens, fetch_seconds: float) -> None:
        self.page_url = tokens.page_url
        self.ajax_url = tokens.ajax_url
        self.post_id = tokens.post_id
        self.bot_id = tokens.bot_id
        self.identity = tokens.identity
        self.has_nonce = bool(tokens.nonce)
        self.plugin_version = tokens.plugin_version
        self.era = tokens.era
        self.stream = tokens.stream
        self.memory_limit = tokens.memory_limit
        self.sanitizes_messages = tokens.sanitizes_messages
        self.fetch_seconds = fetch_seconds

    def as_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (JSON-ready)."""
        return {name: getattr(self, name) for name in self.__slots__}

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.as_dict().items())
        return f"SiteInfo({fields})"


class Client:
    """A client for one wpaicg chat site.

    Example::

        from chatgpt4o import Client

        with Client() as client:
            print(client.ask("Say hello in French"))

    Settings come from the keywords, then the environment variables
    ``CHATGPT4O_BASE_URL``, ``CHATGPT4O_TIMEOUT``, ``CHATGPT4O_PROXY`` and
    ``CHATGPT4O_MAX_RETRIES``, then the defaults; all are checked here, before
    any network I/O.

    Args:
        base_url: the chat page, e.g. ``"https://chatgpt4o.one"`` or
            ``"https://example.org/chat/"``.
        timeout: seconds one ask may take in all: the page fetch, every
            attempt and every wait between retries (default 120).
        proxy: a proxy URL (``http://user:pass@host:port``); its credentials
            are never logged or shown.
        cookies: cookies to send (a dict, or a CookieJar), e.g. a browser's
            ``cf_clearance``; they are bound to the site's host and never
            follow a redirect elsewhere.
        headers: extra headers for every request.
        max_retries: retries of transient failures per ask (default 2).
        session: a ``requests.Session`` to use; its connection pool for
            http/https is replaced by one sized to ``max_concurrency``. The
            client does not close a session it was given.
        verify: TLS verification: ``True`` (default), ``False``, or a CA
            bundle path.
        max_concurrency: how many asks may run at once without waiting for
            a connection; also the size of the async worker pool.
        sleep: the function used to wait between retries (tests pass a fake).
        impersonate: ``"chrome"``, ``"firefox"``, ``"safari"`` or ``"edge"``: send with that
            browser's TLS fingerprint and default headers (needs ``pip install 'chatgpt4o[browser]'``).

    A ``Client`` is thread-safe: share one across threads. It can be pickled
    (its settings travel, not its connections or tokens).
    """

    default_model = DEFAULT_MODEL
    models = MODELS
    model_aliases = MODEL_ALIASES

    def __init__(
        self,
        base_url: str | None = None,
        *,
        timeout: float | None = None,
        proxy: str | None = None,
        cookies: CookiesArg = None,
        headers: Mapping[str, str] | None = None,
        max_retries: int | None = None,
        session: requests.Session | None = None,
        verify: bool | str = True,
        max_concurrency: int = _config.DEFAULT_CONCURRENCY,
        sleep: Callable[[float], None] = time.sleep,
        impersonate: str | None = None,
    ) -> None:
        self._settings = _config.resolve_settings(base_url, timeout, proxy, max_retries, max_concurrency)
        if not isinstance(verify, (bool, str)):
            raise MessageTypeError(f"verify must be a bool or a CA bundle path, not {type(verify).__name__}")
        if headers is not None and not isinstance(headers, Mapping):
            raise MessageTypeError(f"headers must be a mapping, not {type(headers).__name__}")
        if session is not None and not isinstance(session, requests.Session):
            raise MessageTypeError(f"session must be a requests.Session, not {type(session).__name__}")
        if cookies is not None and not isinstance(cookies, (Mapping, CookieJar)):
            raise MessageTypeError(f"cookies must be a dict or a CookieJar, not {type(cookies).__name__}")
        if not callable(sleep):
            raise MessageTypeError("sleep must be callable")
        _check_headers(headers)
        _check_cookies(cookies)
        self._verify = verify
        self._headers = {str(k): str(v) for k, v in (headers or {}).items()}
        self._cookies = cookies
        self._sleep = sleep
        self._owns_session = session is None
        self._impersonate = impersonate  # impersonate: browser TLS, see chatgpt4o/_impersonate.py
        self._adapter = (PooledAdapter(self._settings.max_concurrency) if impersonate is None
                         else impersonating_adapter(impersonate, pool_maxsize=self._settings.max_concurrency))
        self._own_sessions: weakref.WeakSet[requests.Session] = weakref.WeakSet()
        self._url_cache: dict[str, str] = {}
        self._session = self._new_session(session)
        self._client_id = new_client_id()
        self._tokens: ChatTokens | None = None
        self._tokens_at = 0.0
        self._tokens_lock = threading.Lock()
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()
        self._secrets: tuple[str, ...] = self._initial_secrets()
        self._nonces: tuple[str, ...] = ()
        # Passed with every request, and the session does not consult the
        # environment itself: the environment is read once, in _config.
        self._per_request: dict[str, Any] = {"verify": _config.ca_bundle(verify)}
        if self._settings.proxy:
            self._per_request["proxies"] = {"http": self._settings.proxy, "https": self._settings.proxy}
        else:
            env_proxies = _config.environment_proxies(self._settings.page_url)
            if env_proxies:
                self._per_request["proxies"] = env_proxies
                self._secrets += tuple(_config.url_secrets(*env_proxies.values()))
        self._closed = False

    # -- configuration ----------------------------------------------------

    @property
    def base_url(self) -> str:
        """The site's chat page URL, without its trailing slash."""
        return self._settings.base_url

    @property
    def timeout(self) -> float:
        """Seconds one ask may take in all."""
        return self._settings.timeout

    @property
    def max_retries(self) -> int:
        """Retries of transient failures per ask."""
        return self._settings.max_retries

    def __repr__(self) -> str:
        proxy = f", proxy={_config.redact_url(self._settings.proxy)!r}" if self._settings.proxy else ""
        return (
            f"Client(base_url={self._settings.base_url!r}, timeout={self._settings.timeout}, "
            f"max_retries={self._settings.max_retries}{proxy})"
        )

    def __getstate__(self) -> dict[str, Any]:
        if not self._owns_session:
            raise TypeError("a Client built on a session you passed in cannot be pickled")
        cookies = self._cookies
        if isinstance(cookies, CookieJar):
            cookies = {c.name: c.value or "" for c in cookies}
        return {
            "base_url": self._settings.page_url, "timeout": self._settings.timeout,
            "proxy": self._settings.proxy, "cookies": cookies, "headers": self._headers,
            "max_retries": self._settings.max_retries, "verify": self._verify,
            "max_concurrency": self._settings.max_concurrency,
            "impersonate": self._impersonate,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]

    def _initial_secrets(self) -> tuple[str, ...]:
        found: list[str] = []
        if self._settings.proxy:
            found += _config.url_secrets(self._settings.proxy)
        if isinstance(self._cookies, Mapping):
            found += [str(v) for v in self._cookies.values()]
        elif isinstance(self._cookies, CookieJar):
            found += [c.value for c in self._cookies if c.value]
        return tuple(s for s in found if len(s) >= 4)

    def _redact(self, text: str) -> str:
        for secret in self._secrets + self._nonces:
            if secret in text:
                text = text.replace(secret, "***")
        return text

    def _remember_secret(self, value: str) -> None:
        if len(value) >= 4 and value not in self._nonces:
            # Keep the last few nonces: old ones still appear in late errors.
            self._nonces = (*self._nonces, value)[-16:]

    def _new_session(self, base: requests.Session | None = None) -> requests.Session:
        session = base if base is not None else requests.Session()
        session.mount("https://", self._adapter)
        session.mount("http://", self._adapter)
        session.headers.setdefault("User-Agent", _config.USER_AGENT)
        if base is None:
            session.headers["User-Agent"] = _config.USER_AGENT
            session.headers["Accept-Language"] = "en-US,en;q=0.9"
        if self._impersonate is not None:  # impersonate
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

    # -- lifecycle --------------------------------------------------------

    def close(self) -> None:
        """Close the connections and the async worker pool. Idempotent."""
        self._closed = True
        with self._executor_lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False)
        if self._owns_session:
            self._session.close()
        self._adapter.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- tokens -----------------------------------------------------------

    def _tokens_for(self, deadline: Deadline) -> ChatTokens:
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

    def _forget_tokens(self, stale: ChatTokens) -> None:
        # Only the first caller holding the stale tokens drops them; callers
        # that hit the same stale nonce later find fresh tokens already there.
        with self._tokens_lock:
            if self._tokens is stale:
                self._tokens = None

    def _timeouts(self, deadline: Deadline) -> tuple[float, float]:
        remaining = deadline.remaining()
        if remaining <= 0:
            raise APITimeoutError(f"the ask's {self._settings.timeout:g} s timeout passed")
        return (min(_config.CONNECT_TIMEOUT, remaining), remaining)

    def _fetch_tokens(self, deadline: Deadline) -> ChatTokens:
        url = self._settings.page_url
        started = time.monotonic()
        _warm_page_parser()
        for _hop in range(6):
            response = self._session.get(
                url, timeout=self._timeouts(deadline), stream=True, allow_redirects=False,
                headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}, **self._per_request,
            )
            try:
                if response.is_redirect:
                    target = urljoin(url, response.headers.get("Location", ""))
                    if urlsplit(target).scheme not in ("http", "https") or not _same_site(url, target):
                        raise PageError(
                            f"the chat page {url} redirects to another site ({self._redact(target)}) — "
                            "set base_url to the page that holds the chat box"
                        )
                    url = target
                    continue
                if response.status_code != 200:
                    body = _read_capped(response, _ERROR_BODY_BYTES, truncate=True)
                    wire.check_status(response.status_code, response.headers, body, self._redact)
                    raise PageError(f"the chat page {url} answered HTTP {response.status_code}")
                body = _read_capped(response, _config.MAX_PAGE_BYTES)
            finally:
                response.close()
            html = body.decode(_charset(response.headers.get("Content-Type", "")), "replace")
            tokens = parse_page(html, url)
            if not _same_site(tokens.ajax_url, url) or urlsplit(tokens.ajax_url).scheme not in ("http", "https"):
                # Never post the nonce and cookies to a host the user did not name.
                fallback = urljoin(url, "/wp-admin/admin-ajax.php")
                log.debug("page names an AJAX URL on another host; using %s", fallback)
                tokens = _replace(tokens, ajax_url=fallback)
            log.debug(
                "read chat page %s in %.0f ms (%d bytes, plugin %s, stream=%s)",
                url, (time.monotonic() - started) * 1000, len(body), tokens.plugin_version, tokens.stream,
            )
            return tokens
        raise PageError(f"the chat page {self._settings.page_url} redirects too often")

    # -- the exchange -----------------------------------------------------

    def _post(
        self, session: requests.Session, tokens: ChatTokens, message: str, history: Sequence[Mapping[str, Any]],
        client_id: str, deadline: Deadline,
    ) -> requests.Response:
        fields = wire.build_form(
            tokens, message, client_id=client_id, chat_id=secrets.randbelow(100000) + 1, history=history,
        )
        response = self._send_post(
            session,
            tokens.ajax_url,
            wire.encode_form(fields),
            {
                "Content-Type": "application/x-www-form-urlencoded; charset=UTF-8",
                "Accept": "application/json, text/event-stream, */*",
                "Origin": _origin(tokens.page_url),
                "Referer": tokens.page_url,
            },
            self._timeouts(deadline),
        )
        log.debug("POST %s -> HTTP %d %s", tokens.ajax_url, response.status_code, response.headers.get("Content-Type", ""))
        if response.status_code != 200:
            try:
                body = _read_capped(response, _ERROR_BODY_BYTES, truncate=True)
            finally:
                response.close()
            wire.check_status(response.status_code, response.headers, body, self._redact)
        return response

    def _send_post(
        self, session: requests.Session, url: str, body: bytes, headers: dict[str, str],
        timeout: tuple[float, float],
    ) -> requests.Response:
        """POST ``body``: through the adapter directly on the sessions the client made.

        ``Session.request`` re-merges settings, hooks and environment on every
        call, a fifth of a warm ask's time on loopback; the client's own
        sessions have nothing to merge, so their request is prepared here and
        handed to the same adapter (cookies still go out and come back through
        the session's jar). A session passed in by the caller takes the usual
        road, so its auth and hooks keep working.
        """
        if session not in self._own_sessions:
            return session.post(
                url, data=body, headers=headers, timeout=timeout, stream=True, allow_redirects=False,
                **self._per_request,
            )
        prepared = requests.PreparedRequest()
        prepared.method = "POST"
        prepared.url = self._prepared_url(url)
        prepared.headers = CaseInsensitiveDict(session.headers)  # type: ignore[arg-type]
        prepared.headers.update(headers)
        prepared.headers["Content-Length"] = str(len(body))
        prepared.body = body
        prepared.hooks = {"response": []}
        if len(session.cookies):
            cookie = get_cookie_header(session.cookies, prepared)  # type: ignore[no-untyped-call]
            if cookie:
                prepared.headers["Cookie"] = cookie
        response = session.get_adapter(prepared.url).send(
            prepared, stream=True, timeout=timeout, cert=None, verify=self._per_request["verify"],
            proxies=self._per_request.get("proxies", {}),
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

    def _guarded(self, deadline: Deadline, step: Callable[[], T]) -> T:
        """Run one attempt under the deadline; turn transport errors into ours."""
        with deadline:
            deadline.track_anew()
            try:
                result = step()
            except Chatgpt4oError as exc:
                if deadline.fired and isinstance(exc, (APIConnectionError, MalformedResponseError)):
                    raise self._timeout_error() from None
                raise
            except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
                raise self._translate(exc, deadline) from None
            if deadline.fired:
                # The watchdog shut the socket: a body read to its "end" (a
                # read-until-close answer) is cut short, not complete.
                raise self._timeout_error()
            return result

    def _timeout_error(self) -> APITimeoutError:
        return APITimeoutError(
            f"no complete answer within the {self._settings.timeout:g} s timeout — "
            "the site is slow or unreachable; raise timeout= or try later"
        )

    def _translate(self, exc: BaseException, deadline: Deadline) -> Chatgpt4oError:
        if deadline.fired or deadline.remaining() <= 0 or isinstance(exc, requests.exceptions.ReadTimeout):
            return self._timeout_error()
        detail = self._redact(_root_cause(exc))[:300]
        if isinstance(exc, requests.exceptions.SSLError) or "CERTIFICATE_VERIFY_FAILED" in detail:
            return TLSError(
                f"TLS certificate verification failed for {self._settings.base_url}: {detail} — "
                "pass verify='/path/to/ca.pem' for a private CA, or verify=False to skip the check"
            )
        if isinstance(exc, requests.exceptions.ProxyError):
            return APIConnectionError(f"the proxy failed: {detail} — check proxy=")
        if isinstance(exc, (requests.exceptions.ContentDecodingError, urllib3.exceptions.DecodeError)):
            return MalformedResponseError(f"the reply could not be decoded: {detail}")
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return APIConnectionError(f"connecting to {self._settings.base_url} timed out")
        return APIConnectionError(f"connection to {self._settings.base_url} failed: {detail}")

    def _exchange(
        self, message: str, *, history: Sequence[Mapping[str, Any]], client_id: str,
        session: requests.Session | None, timeout: float | None,
        reader: Callable[[requests.Response, Deadline], T],
    ) -> T:
        seconds = self._settings.timeout if timeout is None else _config.check_timeout(timeout)
        if self._closed:
            raise Chatgpt4oError("this Client is closed")
        deadline = Deadline(time.monotonic() + seconds)
        chosen = session or self._session

        def attempt() -> T:
            def step() -> T:
                tokens = self._tokens_for(deadline)
                try:
                    response = self._post(chosen, tokens, message, history, client_id, deadline)
                    return reader(response, deadline)
                except NonceExpiredError:
                    log.debug("nonce rejected; reading the chat page again")
                    self._forget_tokens(tokens)
                    raise
            return self._guarded(deadline, step)

        def before_sleep(state: Any) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.info("retrying in %.2f s after %s: %s", state.upcoming_sleep, type(exc).__name__, exc)

        return call_with_retries(
            attempt, max_retries=self._settings.max_retries, deadline=deadline.at,
            sleep=self._sleep, before_sleep=before_sleep,
        )

    def _read_reply(self, response: requests.Response, deadline: Deadline) -> str:
        try:
            body = _read_capped(response, _config.MAX_REPLY_BYTES)
        finally:
            response.close()
        return wire.read_reply(response.status_code, response.headers, body, self._redact)

    # -- public API -------------------------------------------------------

    def _prompt(
        self, messages: Messages, model: str | None, kwargs: Mapping[str, Any], timeout: float | None = None,
    ) -> str:
        if timeout is not None:
            _config.check_timeout(timeout)
        if kwargs:
            raise MessageTypeError(
                f"unexpected keyword argument(s): {', '.join(sorted(kwargs))} "
                "(accepted: messages, model, timeout)"
            )
        resolve_model(model)
        return format_prompt(messages)

    def ask(self, messages: Messages, model: str | None = None, *, timeout: float | None = None, **kwargs: Any) -> str:
        """Send ``messages`` to the site and return its answer.

        Args:
            messages: a string, or a list of ``{"role", "content"}`` dicts with
                roles ``system``, ``user`` and ``assistant``; several messages
                are laid out with :func:`chatgpt4o.format_prompt`.
            model: a name from :attr:`models` or :attr:`model_aliases`. It is
                checked, but the site chooses its model itself: no request
                field selects one.
            timeout: overrides the client's timeout for this ask.

        Returns:
            The answer text (markdown, as the site returns it), whether the
            site answers in JSON or streams.

        Raises:
            InvalidRequestError, MessageTypeError: bad input, before any I/O.
            Chatgpt4oError: a subclass per failure; see the README's table.

        Example::

            client.ask([{"role": "system", "content": "Answer in one word."},
                        {"role": "user", "content": "Capital of France?"}])
        """
        prompt = self._prompt(messages, model, kwargs)
        return self._exchange(
            prompt, history=(), client_id=self._client_id, session=None, timeout=timeout, reader=self._read_reply,
        )

    def stream(
        self, messages: Messages, model: str | None = None, *, timeout: float | None = None, **kwargs: Any
    ) -> Iterator[str]:
        """Like :meth:`ask`, but yield the answer in pieces as they arrive.

        When the site does not stream (its ``data-openai_stream_nav`` is off),
        the whole answer comes as one piece. Stopping early (``break``, or
        closing the iterator) closes the response. Input is checked when this
        is called, before any I/O; network errors surface while iterating.
        """
        prompt = self._prompt(messages, model, kwargs, timeout)
        return self._stream(prompt, history=(), client_id=self._client_id, session=None, timeout=timeout)

    def _stream(
        self, message: str, *, history: Sequence[Mapping[str, Any]], client_id: str,
        session: requests.Session | None, timeout: float | None,
    ) -> Iterator[str]:
        opened: dict[str, Deadline] = {}

        def reader(response: requests.Response, deadline: Deadline) -> str | requests.Response:
            if wire.is_event_stream(response.headers):
                opened["deadline"] = deadline
                return response
            return self._read_reply(response, deadline)

        def generate() -> Iterator[str]:
            result = self._exchange(
                message, history=history, client_id=client_id, session=session, timeout=timeout, reader=reader,
            )
            if isinstance(result, str):
                yield result
                return
            deadline = opened["deadline"]
            try:
                with deadline:
                    try:
                        yield from wire.iter_stream_text(_iter_raw(result), self._redact)
                        if deadline.fired:
                            # EOF because the watchdog shut the socket, not the site's end.
                            raise self._timeout_error()
                    except Chatgpt4oError as exc:
                        if deadline.fired and isinstance(exc, (APIConnectionError, MalformedResponseError)):
                            raise self._timeout_error() from None
                        raise
                    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
                        raise self._translate(exc, deadline) from None
            finally:
                result.close()

        return generate()

    async def ask_async(
        self, messages: Messages, model: str | None = None, *, timeout: float | None = None, **kwargs: Any
    ) -> str:
        """:meth:`ask` for asyncio: runs in the client's worker pool, never blocks the loop.

        The pool has ``max_concurrency`` threads, so that many asks run at
        once. Works inside a running loop (Jupyter). Input is checked before
        any I/O.
        """
        prompt = self._prompt(messages, model, kwargs)
        call = functools.partial(
            self._exchange, prompt, history=(), client_id=self._client_id, session=None, timeout=timeout,
            reader=self._read_reply,
        )
        return await self._run_in_pool(call)

    def astream(
        self, messages: Messages, model: str | None = None, *, timeout: float | None = None, **kwargs: Any
    ) -> AsyncIterator[str]:
        """:meth:`stream` for asyncio: an async iterator fed from a worker thread."""
        prompt = self._prompt(messages, model, kwargs, timeout)
        return self._aiter(self._stream(prompt, history=(), client_id=self._client_id, session=None, timeout=timeout))

    async def _run_in_pool(self, call: Callable[[], T]) -> T:
        import asyncio

        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()
        return await loop.run_in_executor(self._pool(), context.run, call)

    async def _aiter(self, iterator: Iterator[str]) -> AsyncIterator[str]:
        sentinel = object()
        try:
            while True:
                item = await self._run_in_pool(functools.partial(next, iterator, sentinel))
                if item is sentinel:
                    return
                yield item
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                await self._run_in_pool(close)

    def _pool(self) -> concurrent.futures.ThreadPoolExecutor:
        executor = self._executor
        if executor is None:
            with self._executor_lock:
                if self._closed:
                    raise Chatgpt4oError("this Client is closed")
                if self._executor is None:
                    self._executor = concurrent.futures.ThreadPoolExecutor(
                        max_workers=self._settings.max_concurrency, thread_name_prefix="chatgpt4o"
                    )
                executor = self._executor
        return executor

    def _prompts(self, prompts: Iterable[Messages], concurrency: int) -> list[str]:
        if isinstance(prompts, (str, bytes, Mapping)) or not isinstance(prompts, Iterable):
            raise MessageTypeError("prompts must be an iterable of prompts (strings or message lists)")
        if isinstance(concurrency, bool) or not isinstance(concurrency, int):
            raise MessageTypeError(f"concurrency must be an int, not {type(concurrency).__name__}")
        if not 1 <= concurrency <= self._settings.max_concurrency:
            raise InvalidConfigError(
                f"concurrency must be between 1 and max_concurrency ({self._settings.max_concurrency}), "
                f"not {concurrency}; create the Client with a larger max_concurrency"
            )
        checked = []
        for index, prompt in enumerate(prompts):
            try:
                checked.append(format_prompt(prompt))
            except (InvalidRequestError, MessageTypeError) as exc:
                raise type(exc)(f"prompts[{index}]: {exc}") from None
        return checked

    def ask_many(
        self,
        prompts: Iterable[Messages],
        *,
        concurrency: int = 8,
        timeout: float | None = None,
        return_exceptions: bool = True,
        progress: bool | Callable[[int, int], None] = False,
    ) -> list[str | Chatgpt4oError]:
        """Ask many prompts, ``concurrency`` at a time; answers come back in input order.

        Every prompt is checked before any I/O. A prompt that fails does not
        lose the others: its place in the list holds the exception (or, with
        ``return_exceptions=False``, the first failure is raised once all
        asks have ended).

        Args:
            prompts: strings or message lists, as for :meth:`ask`.
            concurrency: asks in flight at once (at most ``max_concurrency``).
            timeout: per ask, as for :meth:`ask`.
            progress: ``True`` prints ``done/total`` on stderr when it is a
                terminal; a callable gets ``(done, total)`` after each ask.

        Example::

            answers = client.ask_many(["Hi", "Bonjour", "Hola"], concurrency=3)
        """
        if timeout is not None:
            _config.check_timeout(timeout)
        checked = self._prompts(prompts, concurrency)
        report = _progress_reporter(progress, len(checked))
        results: list[str | Chatgpt4oError] = [""] * len(checked)
        done = 0
        lock = threading.Lock()

        def one(index: int) -> None:
            nonlocal done
            try:
                results[index] = self._exchange(
                    checked[index], history=(), client_id=self._client_id, session=None, timeout=timeout,
                    reader=self._read_reply,
                )
            except Chatgpt4oError as exc:
                results[index] = exc
            with lock:
                done += 1
                report(done)

        with concurrent.futures.ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="chatgpt4o-many") as pool:
            list(pool.map(one, range(len(checked))))
        report(-1)
        if not return_exceptions:
            for item in results:
                if isinstance(item, Chatgpt4oError):
                    raise item
        return results

    async def ask_many_async(
        self,
        prompts: Iterable[Messages],
        *,
        concurrency: int = 8,
        timeout: float | None = None,
        return_exceptions: bool = True,
    ) -> list[str | Chatgpt4oError]:
        """:meth:`ask_many` for asyncio; the asks run in the client's worker pool."""
        import asyncio

        if timeout is not None:
            _config.check_timeout(timeout)
        checked = self._prompts(prompts, concurrency)
        gate = asyncio.Semaphore(concurrency)

        async def one(prompt: str) -> str | Chatgpt4oError:
            async with gate:
                try:
                    return await self.ask_async(prompt, timeout=timeout)
                except Chatgpt4oError as exc:
                    return exc

        results = list(await asyncio.gather(*(one(p) for p in checked)))
        if not return_exceptions:
            for item in results:
                if isinstance(item, Chatgpt4oError):
                    raise item
        return results

    def inspect(self, *, timeout: float | None = None) -> SiteInfo:
        """Read the chat page now and report what it says (tokens found, era, streaming...).

        Useful to see at a glance whether a site is usable. It always reads
        the page afresh and caches the tokens it finds.

        Raises:
            TokensNotFoundError: no chat box on the page.
            Chatgpt4oError: as :meth:`ask`, for the page fetch.
        """
        seconds = self._settings.timeout if timeout is None else _config.check_timeout(timeout)
        deadline = Deadline(time.monotonic() + seconds)
        started = time.monotonic()

        def attempt() -> ChatTokens:
            return self._guarded(deadline, lambda: self._fetch_tokens(deadline))

        tokens = call_with_retries(
            attempt, max_retries=self._settings.max_retries, deadline=deadline.at, sleep=self._sleep,
        )
        self._remember_secret(tokens.nonce)
        with self._tokens_lock:
            self._tokens, self._tokens_at = tokens, time.monotonic()
        return SiteInfo(tokens, time.monotonic() - started)

    def chat(self, *, system: str | None = None) -> Conversation:
        """Start a :class:`~chatgpt4o.Conversation`: history kept, its own client id and cookies."""
        from .conversation import Conversation

        return Conversation(self, system=system)


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


_TOKEN_RE = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_BAD_VALUE_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def _check_headers(headers: Mapping[str, str] | None) -> None:
    """Header names must be HTTP tokens and values free of CR, LF and other controls."""
    for name, value in (headers or {}).items():
        if not isinstance(name, str) or not _TOKEN_RE.match(name):
            raise InvalidConfigError(f"header name {name!r} is not a valid HTTP header name")
        if _BAD_VALUE_RE.search(str(value)):
            raise InvalidConfigError(f"the value of header {name!r} contains a line break or control character")


def _check_cookies(cookies: CookiesArg) -> None:
    """Cookie names must be tokens and values free of controls, ``;`` and ``,``."""
    if not isinstance(cookies, Mapping):
        return
    for name, value in cookies.items():
        if not isinstance(name, str) or not _TOKEN_RE.match(name):
            raise InvalidConfigError(f"cookie name {name!r} is not a valid cookie name")
        if _BAD_VALUE_RE.search(str(value)) or ";" in str(value):
            # the value itself is a secret: not shown
            raise InvalidConfigError(f"the value of cookie {name!r} contains a line break, ';' or a control character")


def _progress_reporter(progress: bool | Callable[[int, int], None], total: int) -> Callable[[int], None]:
    """``report(done)`` after each ask, ``report(-1)`` at the end."""
    if callable(progress):
        return lambda done: None if done < 0 else progress(done, total)
    if not progress or not sys.stderr.isatty():
        return lambda done: None

    def report(done: int) -> None:
        sys.stderr.write("\n" if done < 0 else f"\r{done}/{total}")
        sys.stderr.flush()

    return report


def _warm_page_parser() -> None:
    """Import BeautifulSoup in the background while the first page is on its way.

    The import costs about 90 ms of CPU, the page fetch mostly waits on the
    network: overlapping them takes the import off the first ask's latency.
    Python's import lock makes the parser wait if it needs bs4 sooner.
    """
    if "bs4" not in sys.modules:
        threading.Thread(target=importlib.import_module, args=("bs4",), name="chatgpt4o-bs4", daemon=True).start()


def _charset(content_type: str) -> str:
    """The charset a Content-Type names, if Python knows it; else UTF-8 (what WordPress sends).

    requests would assume ISO-8859-1 for any text/html without one.
    """
    import codecs

    match = re.search(r"charset=[\"']?([\w.:-]+)", content_type, re.IGNORECASE)
    if match:
        try:
            return codecs.lookup(match.group(1)).name
        except LookupError:
            pass
    return "utf-8"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _replace(tokens: ChatTokens, **changes: Any) -> ChatTokens:
    import dataclasses

    return dataclasses.replace(tokens, **changes)


def _read_capped(response: requests.Response, cap: int, *, truncate: bool = False) -> bytes:
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


def _iter_raw(response: requests.Response) -> Iterator[bytes]:
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


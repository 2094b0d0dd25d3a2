"""The synchronous client: configuration, the cached site description, the public methods.

A short orchestration. :mod:`.protocols` says what to send and how to read
the answer (pure functions, one module per plugin generation), :mod:`._http`
sends it (sessions, capped reads, redirects, errors), :mod:`._retry` decides
what to try again and :mod:`._transport` bounds every ask by one deadline.
:mod:`._site_cache` keeps the site description (one page read, one nonce
refresh for all threads), :mod:`._streaming` reads answers whole or in pieces
and carries the asyncio methods, :mod:`._batch` carries ``ask_many``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from http.cookiejar import CookieJar
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import requests

from . import _config, protocols
from ._batch import Batching
from ._http import CookiesArg, Transport
from ._pool import WorkerPool
from ._results import BotInfo, ChatSession, SiteInfo
from ._site_cache import SiteCache
from ._streaming import AsyncTextStream, Streaming, TextStream
from ._transport import Deadline
from .exceptions import (
    Chatgpt4oError,
    MessageTypeError,
    NonceExpiredError,
)
from .messages import Messages
from .models import DEFAULT_MODEL, MODEL_ALIASES, MODELS
from .protocols._ids import new_client_id, new_session_id
from .protocols.base import Generation, Request, Site

if TYPE_CHECKING:
    from typing_extensions import Self  # noqa: UP035 (typing.Self needs 3.11)

__all__ = ["AsyncTextStream", "BotInfo", "ChatSession", "Client", "SiteInfo", "TextStream"]

log = logging.getLogger("chatgpt4o")
T = TypeVar("T")


def _log_retry(state: Any) -> None:
    exc = state.outcome.exception() if state.outcome else None
    log.info("retrying in %.2f s after %s: %s", state.upcoming_sleep, type(exc).__name__, exc)


class Client(Streaming, SiteCache, Batching):
    """A client for one chat site of the AI Power / AI Puffer plugin (1.x legacy chat or 2.x AIPKit).

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
        protocol: ``"auto"`` (default: read from the page), ``"wpaicg"`` (1.x
            legacy chat box) or ``"aipkit"`` (2.x AIPKit bots).
        bot_id: 2.x: the bot to chat with (default: the page's first inline
            bot, else its first popup); any published bot of the site works,
            also one not on this page. 1.x pages have one bot.

    On 2.x sites the server keeps each conversation's history under the
    client's :attr:`session_id` (a UUID, stable for the client's life, kept
    when pickled) and the conversation's id; :meth:`ask` starts a new
    conversation each call, :meth:`chat` keeps one.

    A ``Client`` is thread-safe: share one across threads. It can be pickled
    (its settings travel, not its connections or tokens).
    """

    default_model = DEFAULT_MODEL
    models = MODELS
    model_aliases = MODEL_ALIASES
    #: What :meth:`chat` builds. :mod:`chatgpt4o.conversation` registers
    #: :class:`~chatgpt4o.Conversation` here when it is imported: conversations
    #: depend on the client, never the other way round.
    _conversation_factory: ClassVar[Callable[..., ChatSession] | None] = None

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
        protocol: str = "auto",
        bot_id: int | None = None,
    ) -> None:
        self._settings = _config.resolve_settings(base_url, timeout, proxy, max_retries, max_concurrency)
        self._protocol = protocols.check_protocol(protocol)
        self._bot_id = protocols.check_bot_id(bot_id)
        if session is not None and not isinstance(session, requests.Session):
            raise MessageTypeError(f"session must be a requests.Session, not {type(session).__name__}")
        _config.check_arguments(verify=verify, headers=headers, cookies=cookies, sleep=sleep)
        self._verify = verify
        self._headers = {str(k): str(v) for k, v in (headers or {}).items()}
        self._cookies = cookies
        self._sleep = sleep
        self._owns_session = session is None
        self._secrets: tuple[str, ...] = _config.secrets_of(self._settings.proxy, cookies)
        self._nonces: tuple[str, ...] = ()
        self._http = Transport(
            self._settings, verify=verify, headers=self._headers, cookies=cookies, session=session,
            redact=self._redact, impersonate=impersonate,
        )
        self._impersonate = impersonate
        self._secrets += self._http.proxy_secrets
        self._client_id = new_client_id()
        # 2.x guest identity; never renewed to get around a site's quota (TokenLimitError is the answer).
        self._session_id = new_session_id()
        self._refetch_url: str | None = None
        self._tokens: Site | None = None
        self._tokens_at = 0.0
        self._tokens_lock = threading.Lock()
        self._pool = WorkerPool(self._settings.max_concurrency)
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

    @property
    def session_id(self) -> str:
        """The 2.x guest identity (a UUID) this client chats under; stable for its life."""
        return self._session_id

    @property
    def bot_id(self) -> int | None:
        """The bot chosen with ``bot_id=`` (``None``: the page's default bot)."""
        return self._bot_id

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
            "max_concurrency": self._settings.max_concurrency, "impersonate": self._impersonate,
            "protocol": self._protocol, "bot_id": self._bot_id, "session_id": self._session_id,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        session_id = state.pop("session_id", None)
        self.__init__(**state)  # type: ignore[misc]
        if isinstance(session_id, str) and session_id:
            self._session_id = session_id

    def _redact(self, text: str) -> str:
        for secret in self._secrets + self._nonces:
            if secret in text:
                text = text.replace(secret, "***")
        return text

    def _remember_secret(self, value: str) -> None:
        if len(value) >= 4 and value not in self._nonces:
            # Keep the last few nonces: old ones still appear in late errors.
            self._nonces = (*self._nonces, value)[-16:]

    # -- lifecycle --------------------------------------------------------

    def close(self) -> None:
        """Close the connections and the async worker pool. Idempotent."""
        self._closed = True
        self._pool.close()
        self._http.close(self._owns_session)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        # Closing only drops pooled sockets and stops idle workers: nothing to wait for.
        self.close()

    # -- the exchange -----------------------------------------------------

    def _exchange(
        self, message: str, *, history: Sequence[Mapping[str, Any]], client_id: str,
        session: requests.Session | None, timeout: float | None,
        reader: Callable[[Generation, Request, requests.Response, Deadline], T],
        bot_id: int | None = None, conversation_id: str | None = None, system: str | None = None,
        session_id: str | None = None,
    ) -> T:
        seconds = self._settings.timeout if timeout is None else _config.check_timeout(timeout)
        if self._closed:
            raise Chatgpt4oError("this Client is closed")
        deadline = Deadline(time.monotonic() + seconds)
        chosen = session or self._http.session
        bot = self._bot_id if bot_id is None else bot_id

        def step() -> T:
            tokens = self._tokens_for(deadline)
            generation = protocols.for_name(tokens.protocol)
            try:
                # A retry redoes every request of the turn: a 2.x cache key is single-use.
                steps = generation.turn(
                    tokens, message, client_id=client_id, history=history, session_id=session_id or self._session_id,
                    conversation_id=conversation_id, bot_id=bot, system=system,
                )
                request = next(steps)
                while not request.reply:
                    request = steps.send(self._http.fetch(chosen, request, deadline, generation.check_status))
                steps.close()
                response = self._http.open(chosen, request, deadline, generation.check_status)
                return reader(generation, request, response, deadline)
            except NonceExpiredError:
                log.debug("nonce rejected; refreshing it")
                self._refresh_tokens(tokens, chosen, deadline)
                raise

        # With the first ask (it loads tenacity then).
        from ._retry import call_with_retries

        return call_with_retries(
            lambda: self._http.guarded(deadline, step), max_retries=self._settings.max_retries,
            deadline=deadline.at, sleep=self._sleep, before_sleep=_log_retry,
        )

    # -- public API -------------------------------------------------------

    def ask(
        self, messages: Messages, model: str | None = None, *, timeout: float | None = None,
        bot_id: int | None = None,
    ) -> str:
        """Send ``messages`` to the site and return its answer.

        Args:
            messages: a string, or a list of ``{"role", "content"}`` dicts with
                roles ``system``, ``user`` and ``assistant``; several messages
                are laid out with :func:`chatgpt4o.format_prompt`.
            model: a name from :attr:`models` or :attr:`model_aliases`. It is
                checked, but the site chooses its model itself: no request
                field selects one.
            timeout: overrides the client's timeout for this ask.
            bot_id: 2.x: the bot to ask this time (default: the client's).

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
        prompt = self._prompt(messages, model, None, bot_id)
        return self._exchange(
            prompt, history=(), client_id=self._client_id, session=None, timeout=timeout, reader=self._read_reply,
            bot_id=bot_id,
        )

    def chat(self, *, system: str | None = None) -> ChatSession:
        """Start a :class:`~chatgpt4o.Conversation`: history kept (2.x: on the server), its own cookies.

        ``system`` reaches the model on 1.x as the first item of the history
        the client sends; on 2.x, laid in front of the conversation's first
        message (the site's own bot instructions stay in force).
        """
        factory = Client._conversation_factory
        if factory is None:
            raise Chatgpt4oError("conversations are not loaded: import chatgpt4o.conversation (or use chatgpt4o.Client)")
        return factory(self, system=system)

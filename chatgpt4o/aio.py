"""asyncio entry points: ``create_async`` and the ``Chatgpt4o`` provider facade.

Both run the synchronous :class:`~chatgpt4o.Client` in its own worker pool
(sized to its connection pool, so 64 concurrent calls do not queue behind
the default executor's few threads) and never block the event loop. They
work inside an already-running loop such as Jupyter's.

Calls with the same site, proxy and cookies share one client, so a warm call
is one request on a kept-alive connection and the page is read once per
nonce lifetime.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Hashable, Mapping
from http.cookiejar import CookieJar
from typing import (
    Any,
    ClassVar,
)

from . import _config
from .client import Client
from .messages import Messages
from .models import DEFAULT_MODEL, MODEL_ALIASES, MODELS, resolve_model

__all__ = ["Chatgpt4o", "create_async", "create_async_stream"]

CookiesArg = Mapping[str, str] | CookieJar | None
# Slack on top of the ask's own deadline before asyncio gives up waiting.
_GRACE = 5.0
_CACHE_SIZE = 8
# Keywords of other provider frameworks that have no meaning here.
_IGNORED = frozenset({"stream", "temperature", "max_tokens", "top_p", "web_search", "images", "media", "api_key"})


class _Unset(int):
    """The documented ``timeout=120`` default, told apart from an explicit 120.

    Left at this default, the timeout comes from ``CHATGPT4O_TIMEOUT`` when it is
    set, exactly as for :class:`Client`; ``inspect.signature`` still shows 120.
    """

    def __repr__(self) -> str:
        return "120"


_DEFAULT_TIMEOUT: float = _Unset(120)


class Chatgpt4o:
    """The provider facade: the documented class-level API, over :class:`Client`.

    Point ``url`` at another site of the plugin, 1.x or 2.x (or the bundled
    emulator), to use it there. ``_post_id`` and ``_nonce`` mirror the tokens of the last call.
    The site picks its model server-side; ``model`` is checked against
    ``models`` and ``model_aliases`` and otherwise has no effect.
    """

    url: ClassVar[str] = "https://chatgpt4o.one"
    working: ClassVar[bool] = True
    _post_id: ClassVar[str | None] = None
    _nonce: ClassVar[str | None] = None
    default_model: ClassVar[str] = DEFAULT_MODEL
    models: ClassVar[list[str]] = list(MODELS)
    model_aliases: ClassVar[dict[str, str]] = dict(MODEL_ALIASES)

    _clients: ClassVar[OrderedDict[Hashable, Client]] = OrderedDict()
    _clients_lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def get_model(cls, model: str | None) -> str:
        """Resolve ``model`` (aliases allowed; ``None`` → the default).

        Raises:
            UnknownModelError: the name is unknown; the message lists the known ones.
        """
        return resolve_model(model)

    @classmethod
    def _client_for(cls, settings: _config.Settings, cookies: CookiesArg, impersonate: str | None = None) -> Client:
        cookie_key: tuple[tuple[str, str], ...] = ()
        if isinstance(cookies, Mapping):
            cookie_key = tuple(sorted((str(k), str(v)) for k, v in cookies.items()))
        elif isinstance(cookies, CookieJar):
            cookie_key = tuple(sorted((c.name, c.value or "") for c in cookies))
        # The timeout is per call, not part of a client's identity.
        key = (settings.page_url, settings.proxy, settings.max_retries, cookie_key, impersonate)
        with cls._clients_lock:
            client = cls._clients.get(key)
            if client is not None:
                cls._clients.move_to_end(key)
                return client
        # Built outside the lock: the constructor validates (and may raise).
        client = Client(
            settings.page_url, proxy=settings.proxy, cookies=cookies, timeout=settings.timeout,
            max_retries=settings.max_retries, impersonate=impersonate,
        )
        with cls._clients_lock:
            existing = cls._clients.get(key)
            if existing is not None:
                client.close()
                return existing
            cls._clients[key] = client
            while len(cls._clients) > _CACHE_SIZE:
                _, old = cls._clients.popitem(last=False)
                old.close()
        return client

    @classmethod
    def close_clients(cls) -> None:
        """Close the cached clients (their connections and worker pools)."""
        with cls._clients_lock:
            clients = list(cls._clients.values())
            cls._clients.clear()
        for client in clients:
            client.close()

    @classmethod
    async def create_async(
        cls,
        model: str,
        messages: Messages,
        proxy: str | None = None,
        timeout: float = _DEFAULT_TIMEOUT,
        cookies: CookiesArg = None,
        **kwargs: Any,
    ) -> str:
        """Ask the site and return the whole answer.

        Also importable as the module function ``chatgpt4o.create_async``::

            answer = await create_async("gpt-4o-mini", [{"role": "user", "content": "Hi"}])

        Args:
            model: a name from ``models`` or ``model_aliases`` (the site picks
                its model itself).
            messages: a string or a list of ``{"role", "content"}`` dicts.
            proxy: a proxy URL (default: ``$CHATGPT4O_PROXY``, else none).
            timeout: seconds for the whole call, retries included (default:
                ``$CHATGPT4O_TIMEOUT``, else 120).
            cookies: cookies to send (e.g. a browser's ``cf_clearance``).
            **kwargs: ``base_url`` overrides ``url`` for this call (left
                unchanged, ``url`` yields to ``$CHATGPT4O_BASE_URL``, and
                ``$CHATGPT4O_MAX_RETRIES`` applies, as for :class:`Client`);
                ``impersonate="chrome"`` (or firefox, safari, edge) sends with a
                browser's TLS fingerprint (see :class:`Client`); ``bot_id=N``
                picks the bot on a 2.x (AIPKit) site; other
                providers' keywords (``stream``, ``temperature``...) are
                accepted and ignored: this always returns the full text. Use
                :func:`create_async_stream` for pieces.

        Returns:
            The answer text.

        Raises:
            RuntimeError: always a :class:`~chatgpt4o.Chatgpt4oError`
                subclass: e.g. ``TokensNotFoundError`` when the page lacks
                the post id or nonce, ``MalformedResponseError`` ("Unexpected
                response structure: 'data' field missing").
        """
        client, prompt, seconds, bot_id = cls._prepare(model, messages, proxy, timeout, cookies, kwargs)
        answer = await asyncio.wait_for(client.ask_async(prompt, timeout=seconds, bot_id=bot_id), seconds + _GRACE)
        cls._mirror(client)
        return answer

    @classmethod
    def create_async_stream(
        cls,
        model: str,
        messages: Messages,
        proxy: str | None = None,
        timeout: float = _DEFAULT_TIMEOUT,
        cookies: CookiesArg = None,
        **kwargs: Any,
    ) -> AsyncIterator[str]:
        """Like :meth:`create_async`, but an async iterator of answer pieces."""
        client, prompt, seconds, bot_id = cls._prepare(model, messages, proxy, timeout, cookies, kwargs)
        return client.astream(prompt, timeout=seconds, bot_id=bot_id)

    @classmethod
    def _prepare(
        cls, model: str | None, messages: Messages, proxy: str | None, timeout: float,
        cookies: CookiesArg, kwargs: dict[str, Any],
    ) -> tuple[Client, Messages, float, int | None]:
        from .protocols import check_bot_id

        resolve_model(model)
        # Left at their defaults, the site and the timeout come from the environment,
        # read (like every other CHATGPT4O_* variable) by _config, as for Client.
        base_url = kwargs.pop("base_url", None) or (cls.url if cls.url != _config.DEFAULT_BASE_URL else None)
        settings = _config.resolve_settings(
            base_url, None if timeout is _DEFAULT_TIMEOUT else timeout, proxy, None, _config.DEFAULT_CONCURRENCY,
        )
        impersonate = kwargs.pop("impersonate", None)  # impersonate: Client(impersonate=...)
        bot_id = check_bot_id(kwargs.pop("bot_id", None))  # 2.x: the bot to ask
        unknown = set(kwargs) - _IGNORED
        if unknown:
            from .exceptions import MessageTypeError

            raise MessageTypeError(f"unexpected keyword argument(s): {', '.join(sorted(unknown))}")
        from .messages import format_prompt

        prompt = format_prompt(messages)  # checked here, before any I/O
        return cls._client_for(settings, cookies, impersonate), prompt, settings.timeout, bot_id

    @classmethod
    def _mirror(cls, client: Client) -> None:
        tokens = client._tokens
        if tokens is not None:
            cls._post_id, cls._nonce = getattr(tokens, "post_id", ""), tokens.nonce


# The module functions are the facade's own methods, bound to Chatgpt4o: one
# implementation, one documented signature (``url`` and the mirrored tokens are
# the class's either way).
create_async = Chatgpt4o.create_async
create_async_stream = Chatgpt4o.create_async_stream

"""An OpenAI-compatible HTTP gateway: a WSGI application, a thin shell over one :class:`Client`.

Any OpenAI client (the ``openai`` package, LangChain, ``llm``, curl) talks to the site through it::

    GET  /v1/models              the site's bots (``bot-<id>``) and the documented model names
    GET  /v1/models/<id>         one of them
    POST /v1/chat/completions    an answer, whole or streamed as server-sent events

Every request is one fresh site conversation holding the formatted transcript
(:meth:`Client.ask` / :meth:`Client.stream`); all requests share the one client, its connection
pool and its token cache, and run in parallel. Failures answer in OpenAI's error object with the
statuses of :mod:`chatgpt4o._gateway_errors`; what a request may hold is described in
:mod:`chatgpt4o._openai_shapes`.

Run it with the standard library (:func:`serve`, or ``chatgpt4o serve``) or under any WSGI server,
configured from the environment: ``gunicorn 'chatgpt4o.gateway:create_app()'``.
"""

from __future__ import annotations

import functools
import hmac
import http
import inspect
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from . import _openai_shapes as shapes
from ._gateway_errors import GatewayError, from_exception
from ._gateway_server import GatewayServer, is_loopback, make_server, serve
from .exceptions import InvalidConfigError, MessageTypeError
from .models import DEFAULT_MODEL, MODEL_ALIASES, MODELS

if TYPE_CHECKING:
    from .client import Client

__all__ = ["ENV_API_KEY", "ENV_BOT_ID", "MAX_BODY_BYTES", "Gateway", "GatewayServer", "create_app",
           "is_loopback", "make_server", "serve"]

logger = logging.getLogger("chatgpt4o.gateway")

#: Environment variables read by :func:`create_app` for what a keyword leaves unset (the
#: client's own variables, ``CHATGPT4O_BASE_URL``, ``CHATGPT4O_TIMEOUT``..., apply too).
ENV_API_KEY = "CHATGPT4O_API_KEY"
ENV_BOT_ID = "CHATGPT4O_BOT_ID"
#: Largest request body read; a larger one is answered 413 without being read.
MAX_BODY_BYTES = 1024 * 1024
#: How long the site's description (its bots) is reused for ``/v1/models`` and ``bot-<id>``.
SITE_INFO_MAX_AGE = 300.0

StartResponse = Callable[..., Any]
_BOT_MODEL = re.compile(r"bot-([0-9]{1,18})")
_JSON_TYPE = ("Content-Type", "application/json")
_SSE_HEADERS = [("Content-Type", "text/event-stream; charset=utf-8"), ("Cache-Control", "no-cache"),
                ("X-Accel-Buffering", "no")]
_DONE = b"data: [DONE]\n\n"


def _accepts_bot_id(function: Callable[..., Any]) -> bool:
    try:
        return "bot_id" in inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False


@functools.lru_cache(maxsize=64)
def _status(code: int) -> str:
    return f"{code} {http.HTTPStatus(code).phrase}"


class Gateway:
    """The WSGI application (see the module docstring); make it with :func:`create_app`."""

    def __init__(
        self, client: Client, *, api_key: str | None, bot_id: int | None, owns_client: bool,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self._client = client
        self._key = api_key.encode("utf-8") if api_key is not None else None
        self._bot_id = bot_id
        self._owns_client = owns_client
        self._max_body = max_body_bytes
        # The per-call bot keyword exists in newer clients only; it is used when the model asks
        # for a bot (bot-<id>) or when the gateway was given one.
        self._per_call_bot = _accepts_bot_id(client.ask) and _accepts_bot_id(client.stream)
        if bot_id is not None and not self._per_call_bot:
            raise InvalidConfigError(
                "bot_id needs a chatgpt4o Client whose ask()/stream() take bot_id= — upgrade chatgpt4o "
                "or leave bot_id unset to use the page's own bot"
            )
        self._created = int(time.time())
        self._site_lock = threading.Lock()
        self._site_info: Any = None
        self._site_at = 0.0

    @property
    def requires_key(self) -> bool:
        """Whether requests must carry ``Authorization: Bearer <api key>``."""
        return self._key is not None

    @property
    def client(self) -> Client:
        """The one client every request goes through."""
        return self._client

    def close(self) -> None:
        """Close the client if this gateway made it."""
        if self._owns_client:
            self._client.close()

    def __repr__(self) -> str:
        return f"Gateway(base_url={self._client.base_url!r}, requires_key={self.requires_key})"

    # -- WSGI ---------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            return self._route(environ, start_response)
        except Exception as error:  # every failure becomes an OpenAI error object
            answer = from_exception(error)
            if answer.status == 500:
                logger.error("unexpected %s while answering %s", type(error).__name__, environ.get("PATH_INFO"),
                             exc_info=error)
            return self._error(start_response, answer)

    def _route(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = (environ.get("PATH_INFO") or "/").rstrip("/") or "/"
        method = environ.get("REQUEST_METHOD", "GET")
        if path == "/v1/chat/completions":
            allowed = "POST"
        elif path == "/v1/models" or path.startswith("/v1/models/"):
            allowed = "GET"
        else:
            raise GatewayError(404, f"unknown URL {method} {path}: this gateway serves /v1/models and "
                               "/v1/chat/completions", code="unknown_url")
        if method != allowed:
            raise GatewayError(405, f"method {method} is not allowed on {path}; use {allowed}",
                               code="method_not_allowed", headers=(("Allow", allowed),))
        self._authorize(environ)
        if path == "/v1/chat/completions":
            return self._chat(environ, start_response)
        listing = self._models()
        if path == "/v1/models":
            return self._json(start_response, 200, shapes.models_list(listing))
        wanted = path[len("/v1/models/"):]
        for model in listing:
            if model["id"] == wanted:
                return self._json(start_response, 200, model)
        raise self._unknown_model(wanted, listing)

    def _authorize(self, environ: Mapping[str, Any]) -> None:
        if self._key is None:
            return
        scheme, _, token = str(environ.get("HTTP_AUTHORIZATION", "")).strip().partition(" ")
        given = token.strip().encode("latin-1", "replace") if scheme.lower() == "bearer" else b""
        # compare_digest: the time taken does not tell how much of the key matched.
        if not hmac.compare_digest(given, self._key):
            what = "no API key given" if not given else "wrong API key"
            raise GatewayError(401, f"{what}: send the gateway's key as 'Authorization: Bearer <key>'",
                               code="invalid_api_key", headers=(("WWW-Authenticate", "Bearer"),))

    def _read_body(self, environ: Mapping[str, Any]) -> bytes:
        try:
            return self._read_body_from(environ)
        except (OSError, ValueError) as error:  # the server's report of a body cut short or malformed
            raise GatewayError(400, f"the request body could not be read ({type(error).__name__})",
                               code="invalid_body") from None

    def _read_body_from(self, environ: Mapping[str, Any]) -> bytes:
        stream = environ["wsgi.input"]
        raw = str(environ.get("CONTENT_LENGTH") or "").strip()
        too_large = GatewayError(413, f"the request body is over {self._max_body} bytes", code="request_too_large")
        if not raw:
            if "chunked" not in str(environ.get("HTTP_TRANSFER_ENCODING", "")).lower():
                return b""
            # A server that decodes chunked bodies ends wsgi.input at the body's end.
            body: bytes = stream.read(self._max_body + 1)
            if len(body) > self._max_body:
                raise too_large
            return body
        if not raw.isdigit():
            raise GatewayError(400, "invalid Content-Length header", code="invalid_content_length")
        length = int(raw)
        if length > self._max_body:
            raise too_large
        parts: list[bytes] = []
        while length > 0:
            chunk = stream.read(length)
            if not chunk:
                break
            parts.append(chunk)
            length -= len(chunk)
        return b"".join(parts)

    # -- models -------------------------------------------------------------

    def _site(self) -> Any:
        with self._site_lock:
            if self._site_info is None or time.monotonic() - self._site_at > SITE_INFO_MAX_AGE:
                self._site_info = self._client.inspect()
                self._site_at = time.monotonic()
            return self._site_info

    def _bots(self) -> list[tuple[str, str]]:
        """``(bot id, owner)`` of the site's bots, the default bot first."""
        info = self._site()
        found = [(str(info.bot_id), "site")]
        for bot in getattr(info, "bots", None) or ():  # SiteInfo.bots: newer clients only
            ident = str(bot.id)
            if ident not in (seen[0] for seen in found):
                found.append((ident, str(getattr(bot, "provider", "") or "site")))
        return found

    def _models(self) -> list[dict[str, Any]]:
        names = list(dict.fromkeys((DEFAULT_MODEL, *MODELS, *MODEL_ALIASES)))
        listing = [shapes.model_object(name, self._created, "chatgpt4o") for name in names]
        listing += [shapes.model_object(f"bot-{ident}", self._created, owner) for ident, owner in self._bots()]
        return listing

    def _unknown_model(self, model: str, listing: list[dict[str, Any]] | None = None) -> GatewayError:
        known = ", ".join(m["id"] for m in (listing if listing is not None else self._models()))
        return GatewayError(404, f"the model {model!r} does not exist; known models: {known}",
                            param="model", code="model_not_found")

    def _target(self, model: str | None) -> tuple[str, str | None, dict[str, Any]]:
        """``(model to answer with, model to give the client, extra keywords for the client)``."""
        default_bot = {} if self._bot_id is None else {"bot_id": self._bot_id}
        if model is None:
            return DEFAULT_MODEL, None, default_bot
        if model in MODELS:
            return model, model, default_bot
        if model in MODEL_ALIASES:
            return MODEL_ALIASES[model], model, default_bot
        match = _BOT_MODEL.fullmatch(model)
        if match is None:
            raise self._unknown_model(model)
        ident = str(int(match.group(1)))
        bots = [bot for bot, _ in self._bots()]
        if ident not in bots:
            raise self._unknown_model(model)
        if self._per_call_bot:
            return model, None, {"bot_id": int(ident)}
        if ident == bots[0]:
            return model, None, {}  # the page's own bot: no keyword needed
        raise GatewayError(400, f"the model {model!r} needs a chatgpt4o Client that can pick a bot per "
                           "request (ask(bot_id=...)); upgrade chatgpt4o", param="model",
                           code="bot_selection_unsupported")

    # -- chat ---------------------------------------------------------------

    def _chat(self, environ: Mapping[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request = shapes.parse_chat_request(self._read_body(environ))
        model, client_model, keywords = self._target(request.model)
        ident, created = "chatcmpl-" + secrets.token_hex(12), int(time.time())
        if not request.stream:
            text = self._client.ask(request.messages, client_model, **keywords)
            return self._json(start_response, 200, shapes.completion(ident, created, model, text))
        pieces = self._client.stream(request.messages, client_model, **keywords)  # input checked here
        # The first piece is awaited before answering, so that a failure to start (a challenge,
        # the quota, the deadline) still gets its own HTTP status instead of a stream error.
        try:
            first = next(pieces, "")
        except BaseException:
            _close(pieces)
            raise
        start_response(_status(200), list(_SSE_HEADERS))
        return _EventStream(pieces, first, shapes.chunk_events(ident, created, model))

    # -- answers ------------------------------------------------------------

    @staticmethod
    def _json(start_response: StartResponse, status: int, doc: dict[str, Any],
              headers: Iterable[tuple[str, str]] = ()) -> list[bytes]:
        body = shapes.json_bytes(doc)
        start_response(_status(status), [_JSON_TYPE, ("Content-Length", str(len(body))), *headers])
        return [body]

    def _error(self, start_response: StartResponse, error: GatewayError) -> list[bytes]:
        logger.debug("answering %d %s", error.status, error.code)
        return self._json(start_response, error.status, error.as_dict(), error.headers)


def _close(iterator: Iterator[str]) -> None:
    close = getattr(iterator, "close", None)
    if close is not None:
        close()


class _EventStream:
    """The body of a streamed answer: one chunk event per piece, written as it arrives.

    A failure after the first event ends the stream with ``data: {"error": {...}}`` and no
    ``[DONE]``: the ``openai`` package raises ``APIError`` on it, and a reader that ignores errors
    sees a stream that did not finish. Closing the body (the caller went away) closes the
    site's response.
    """

    def __init__(self, pieces: Iterator[str], first: str, chunk: Callable[..., bytes]) -> None:
        self._pieces = pieces
        self._first = first
        self._chunk = chunk

    def __iter__(self) -> Iterator[bytes]:
        yield self._chunk({"role": "assistant", "content": ""})
        if self._first:
            yield self._chunk({"content": self._first})
        try:
            for piece in self._pieces:
                if piece:
                    yield self._chunk({"content": piece})
        except Exception as error:  # noqa: BLE001 - reported in the stream; the status is already sent
            answer = from_exception(error)
            logger.debug("stream ended by %s (%s)", type(error).__name__, answer.code)
            yield shapes.sse_event(answer.as_dict())
            return
        yield self._chunk({}, "stop")
        yield _DONE

    def close(self) -> None:
        _close(self._pieces)


def create_app(
    client: Client | None = None,
    *,
    base_url: str | None = None,
    bot_id: int | None = None,
    api_key: str | None = None,
    timeout: float | None = None,
    impersonate: str | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    env: Mapping[str, str] | None = None,
    **client_options: Any,
) -> Gateway:
    """Make the gateway's WSGI application.

    Args:
        client: the :class:`Client` to share between all requests; ``None`` makes one from
            ``base_url``, ``timeout`` and ``client_options`` (other :class:`Client` keywords),
            and the environment (``CHATGPT4O_BASE_URL``, ``CHATGPT4O_TIMEOUT``...).
        bot_id: the bot that answers the plain model names (default: ``$CHATGPT4O_BOT_ID``,
            else the page's own bot); needs a client with per-call bot selection.
        api_key: when set (default: ``$CHATGPT4O_API_KEY``), every request must carry
            ``Authorization: Bearer <api_key>``.
        impersonate: ``"chrome"``, ``"firefox"``, ``"safari"`` or ``"edge"``: the site sees that
            browser's TLS fingerprint and headers (the ``browser`` extra; as ``Client(impersonate=)``).
        max_body_bytes: larger request bodies are answered 413 unread.
        env: the environment to read (default ``os.environ``).

    Returns:
        The :class:`Gateway`, a WSGI callable (``app(environ, start_response)``).

    Raises:
        InvalidConfigError, MessageTypeError: a bad setting, before any I/O.

    Example::

        from chatgpt4o.gateway import create_app, serve
        serve(create_app(base_url="https://example.org/chat/"), port=8000)
    """
    env = os.environ if env is None else env
    if api_key is None:
        api_key = env.get(ENV_API_KEY) or None
    if api_key is not None:
        if not isinstance(api_key, str):
            raise MessageTypeError(f"api_key must be a str, not {type(api_key).__name__}")
        if not api_key.strip():
            raise InvalidConfigError("api_key is empty — pass a non-empty key or none at all")
    if bot_id is None and (env.get(ENV_BOT_ID) or "").strip():
        raw = env[ENV_BOT_ID].strip()
        if not raw.isdigit():
            raise InvalidConfigError(f"environment variable {ENV_BOT_ID}={raw!r} is not a bot id (a number)")
        bot_id = int(raw)
    if bot_id is not None and (isinstance(bot_id, bool) or not isinstance(bot_id, int) or bot_id < 0):
        raise InvalidConfigError(f"bot_id must be a non-negative int, not {bot_id!r}")
    if isinstance(max_body_bytes, bool) or not isinstance(max_body_bytes, int) or max_body_bytes < 1:
        raise InvalidConfigError(f"max_body_bytes must be a positive int, not {max_body_bytes!r}")
    owns = client is None
    if client is None:
        from .client import Client

        if bot_id is not None and _accepts_bot_id(Client):
            client_options["bot_id"] = bot_id
        client = Client(base_url, timeout=timeout, impersonate=impersonate, **client_options)
    elif base_url is not None or timeout is not None or impersonate is not None or client_options:
        raise InvalidConfigError("give either a client or the settings to make one, not both")
    try:
        return Gateway(client, api_key=api_key, bot_id=bot_id, owns_client=owns, max_body_bytes=max_body_bytes)
    except BaseException:
        if owns:
            client.close()
        raise

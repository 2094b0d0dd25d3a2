"""The requests of the AI Puffer 2.3+ "AIPKit" chat protocol, as data (no I/O).

A turn is two requests to the site's ``admin-ajax.php`` (protocol-aipkit.md §9):

1. :func:`cache_request` POSTs the message; :func:`read_cache_answer`
   returns the single-use ``cache_key`` (valid 60 s).
2. :func:`stream_request` GETs the answer as server-sent events;
   :func:`~.aipkit_events.iter_stream_deltas` yields its text.

The server keeps the conversation: each turn sends only the new message, with
a ``session_id`` (:func:`new_session_id`, one per client) and a
``conversation_uuid`` (:func:`new_conversation_id`, one per conversation).
One nonce serves every bot of a site; :func:`nonce_refresh_request` renews it
(plugin 2.3.41+; older sites answer 400 ``0`` and the page must be read again,
see :func:`cache_busting_url`). 2.3 to 2.4.0 also have a one-piece action; the
client streams on every 2.x site instead (only a stream has an end marker).

No request carries an ``Origin`` header: the plugin refuses cross-origin
ones, and a missing one counts as same-origin (§6.2).
"""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit, urlunsplit

from ..exceptions import InvalidMessagesError, InvalidRequestError, MessageTypeError
from ._ids import new_conversation_id, new_session_id
from .aipkit_answers import CACHE_ACTION, NONCE_ACTION, STREAM_ACTION

__all__ = [
    "Request",
    "cache_busting_url",
    "cache_request",
    "client_message_id",
    "new_conversation_id",
    "new_session_id",
    "nonce_refresh_request",
    "stream_request",
]

_POST_HEADERS = (("Accept", "application/json, */*;q=0.1"), ("Content-Type", "application/x-www-form-urlencoded"))
_CONVERSATION_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class Request:
    """One HTTP request as data: send ``method`` to :attr:`full_url` with :attr:`body`.

    ``params`` (query) and ``data`` (form body) keep the order the page's
    script uses. They hold the nonce, so the ``repr`` shows field names only.
    """

    method: str
    url: str
    params: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    data: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    headers: tuple[tuple[str, str], ...] = ()
    stream: bool = False  # read the answer as an event stream (never retry or redirect it)

    @property
    def full_url(self) -> str:
        """``url`` with ``params`` appended to its query."""
        if not self.params:
            return self.url
        parts = urlsplit(self.url)
        query = "&".join(q for q in (parts.query, urlencode(self.params)) if q)
        return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))

    @property
    def body(self) -> bytes:
        """``data`` encoded as ``application/x-www-form-urlencoded`` (empty for a GET)."""
        return urlencode(self.data).encode("ascii") if self.data else b""

    def __repr__(self) -> str:
        names = [name for name, _ in self.params] or [name for name, _ in self.data]
        return f"Request({self.method} {self.url} fields={names})"


def _ms() -> int:
    return int(time.time() * 1000)


def client_message_id(bot_id: int, *, now_ms: int | None = None, rng: random.Random | None = None) -> str:
    """``aipkit-client-msg-{bot}-{ms}-{5 base36}``, the id the page's script gives a user message."""
    pick = (rng or random).choice
    suffix = "".join(pick(_BASE36) for _ in range(5))
    return f"aipkit-client-msg-{bot_id}-{_ms() if now_ms is None else now_ms}-{suffix}"


def _check_bot(bot_id: int) -> None:
    if isinstance(bot_id, bool) or not isinstance(bot_id, int):
        raise MessageTypeError(f"bot_id must be an int, not {type(bot_id).__name__}")
    if bot_id <= 0:
        raise InvalidRequestError(f"bot_id must be a positive integer, got {bot_id}")


def _check_message(message: str) -> None:
    if not isinstance(message, str):
        raise MessageTypeError(f"the message must be a str, not {type(message).__name__}")
    if message in ("", "0"):
        # PHP's empty(): the site answers "Data to cache ... cannot be empty." for both.
        raise InvalidMessagesError(f"the message {message!r} counts as empty on AIPKit sites; send some text")
    try:
        message.encode("utf-8")
    except UnicodeEncodeError:
        # The site turns a message with invalid UTF-8 into "" (wp_check_invalid_utf8).
        raise InvalidMessagesError("the message is not valid Unicode text (lone surrogates)") from None


def _check_ids(session_id: str, conversation_id: str) -> None:
    if not isinstance(session_id, str) or not 0 < len(session_id) <= 64:
        raise InvalidRequestError("session_id must be a non-empty string of at most 64 characters")
    if not isinstance(conversation_id, str) or not _CONVERSATION_RE.fullmatch(conversation_id):
        raise InvalidRequestError("conversation_id must be a lowercase UUID of 36 characters")


def _turn_fields(bot_id: int, session_id: str, conversation_id: str, post_id: int) -> list[tuple[str, str]]:
    """The fields that place a turn in a conversation, in the script's order; ``post_id`` only when above 0."""
    _check_ids(session_id, conversation_id)
    fields = [("bot_id", str(bot_id)), ("session_id", session_id), ("conversation_uuid", conversation_id)]
    if post_id > 0:
        fields.append(("post_id", str(post_id)))
    return fields


def cache_request(
    ajax_url: str, nonce: str, bot_id: int, message: str, *, client_msg_id: str | None = None
) -> Request:
    """Step 1 of a turn: POST the new message; the answer holds its ``cache_key``.

    Raises (before any I/O):
        MessageTypeError: ``message`` is not a str, ``bot_id`` not an int.
        InvalidMessagesError: the message is ``""`` or ``"0"`` (empty to the site).
        InvalidRequestError: ``bot_id`` is not positive.

    Example:
        >>> request = cache_request(site.ajax_url, site.nonce, 5, "Hello")  # doctest: +SKIP
        >>> session.post(request.url, data=request.body, headers=dict(request.headers))  # doctest: +SKIP
    """
    _check_bot(bot_id)
    _check_message(message)
    return Request(
        "POST",
        ajax_url,
        data=(
            ("action", CACHE_ACTION),
            ("_ajax_nonce", nonce),
            ("bot_id", str(bot_id)),
            ("message", message),
            ("user_client_message_id", client_msg_id or client_message_id(bot_id)),
        ),
        headers=_POST_HEADERS,
    )


def stream_request(
    ajax_url: str,
    nonce: str,
    bot_id: int,
    cache_key: str,
    *,
    session_id: str,
    conversation_id: str,
    post_id: int = 0,
    now_ms: int | None = None,
) -> Request:
    """Step 2 of a turn: GET the answer as an event stream, once per ``cache_key``.

    The query is in the script's order; ``post_id`` only when above 0.

    Raises:
        InvalidRequestError: a malformed ``session_id`` or ``conversation_id``.
    """
    _check_bot(bot_id)
    params = (
        ("action", STREAM_ACTION),
        ("cache_key", cache_key),
        *_turn_fields(bot_id, session_id, conversation_id, post_id),
        ("_ts", str(_ms() if now_ms is None else now_ms)),
        ("_ajax_nonce", nonce),
    )
    return Request(
        "GET",
        ajax_url,
        params=params,
        headers=(("Accept", "text/event-stream"), ("Cache-Control", "no-cache")),
        stream=True,
    )


def nonce_refresh_request(ajax_url: str, bot_id: int) -> Request:
    """POST ``aipkit_get_frontend_chat_nonce`` for a fresh nonce (plugin 2.3.41+; needs none)."""
    _check_bot(bot_id)
    return Request(
        "POST",
        ajax_url,
        data=(("action", NONCE_ACTION), ("bot_id", str(bot_id))),
        headers=_POST_HEADERS,
    )


def cache_busting_url(page_url: str, *, now_ms: int | None = None) -> str:
    """``page_url`` with a query that page caches have not seen (to refetch a stale nonce, < 2.3.41)."""
    parts = urlsplit(page_url)
    token = f"aipkit_nocache={_ms() if now_ms is None else now_ms}"
    kept = "&".join(q for q in parts.query.split("&") if q and not q.startswith("aipkit_nocache="))
    query = "&".join(q for q in (kept, token) if q)
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", query, ""))

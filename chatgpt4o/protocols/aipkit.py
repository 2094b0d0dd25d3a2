"""Plugin 2.3+, the "AIPKit" chat (AI Puffer), through the protocol seam. No I/O.

The page carries each bot's ``data-config`` (:mod:`.aipkit_page`); a turn is
two requests (:mod:`.aipkit_requests`, protocol-aipkit.md §9):

1. the cache POST (``aipkit_cache_sse_message``), whose JSON answer holds a
   single-use ``cache_key`` (:mod:`.aipkit_answers`);
2. the stream GET (``aipkit_frontend_chat_stream``), whose event stream is
   the reply (:mod:`.aipkit_events`).

Every era streams, also a 2.3–2.4.0 bot whose ``streamEnabled`` is false:
the stream action answers for every bot in every 2.x release, while the
one-piece action (``aipkit_frontend_chat_message``) is gone from 2.4.1, has
no end marker to tell a cut answer from a whole one, and answers an unknown
bot with an HTTP 500 page. One road for all eras keeps the nonce refresh,
the cache-miss redo and the error texts the same everywhere.

The server keeps the history under ``session_id`` + ``conversation_uuid``, so
a turn sends only the new message; ``system`` (a conversation's instructions)
is laid in front of the conversation's first message with
:func:`chatgpt4o.format_prompt`, the only place the site lets a visitor put
text the model reads (the bot's own instructions stay in force).

A stale nonce is renewed with ``aipkit_get_frontend_chat_nonce`` (2.3.41+);
older eras read the page again, at a URL page caches have not seen.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from .._answer import Redact, same
from .._answer import check_status as check_common
from ..exceptions import EndpointGoneError
from ..messages import format_prompt
from .aipkit_answers import (
    CACHE_ACTION,
    NONCE_ACTION,
    STREAM_ACTION,
    _envelope,
    _error_of,
    check_stream_answer,
    read_cache_answer,
    read_nonce_answer,
)
from .aipkit_events import (
    MESSAGE_SEPARATOR,
    CacheMissError,
    TurnEvents,
    iter_deltas,
    iter_stream_deltas,
    site_error,
)
from .aipkit_page import (
    ERAS,
    AipkitSite,
    BotInfo,
    Era,
    era_for_version,
    looks_like_aipkit,
    parse_aipkit_page,
)
from .aipkit_requests import (
    Request,
    cache_busting_url,
    cache_request,
    client_message_id,
    new_conversation_id,
    new_session_id,
    nonce_refresh_request,
    stream_request,
)
from .base import Answer, Turn
from .base import Request as SeamRequest

__all__ = [
    "CACHE_ACTION", "ERAS", "MESSAGE_SEPARATOR", "NONCE_ACTION", "STREAM_ACTION",
    "AipkitSite", "BotInfo", "CacheMissError", "Era", "Reading", "Request", "TurnEvents",
    "cache_busting_url", "cache_request", "check_status", "check_stream_answer", "client_message_id",
    "era_for_version", "iter_deltas", "iter_stream_deltas", "iter_text", "looks_like_aipkit",
    "new_conversation_id", "new_session_id", "nonce_refresh_request",
    "parse_aipkit_page", "read_cache_answer", "read_nonce_answer", "read_page",
    "read_reply", "refetch_url", "refresh", "refreshed", "site_error", "stream_request", "turn",
]


@dataclass(frozen=True)
class Reading:
    """What the readers of a turn's reply need: the bot used and the bots the page shows."""

    bot_id: int | None = None
    bot_ids: tuple[int, ...] = ()


def read_page(html: str, page_url: str) -> AipkitSite:
    """The bots, nonce and version of an AIPKit page (see :func:`.aipkit_page.parse_aipkit_page`)."""
    return parse_aipkit_page(html, page_url)


def _seam(request: Request, *, reply: bool, referer: str, context: Any = None) -> SeamRequest:
    fields = request.data if request.method == "POST" else request.params
    # A Referer like the page's own script sends; never an Origin (the plugin's
    # Origin check refuses any host but its siteurl's, and a missing one passes).
    headers = {**dict(request.headers), "Referer": referer}
    return SeamRequest(request.method, request.url, fields, headers, reply=reply, context=context)


def turn(
    site: AipkitSite, message: str, *, client_id: str = "", history: Sequence[Mapping[str, Any]] = (),
    session_id: str = "", conversation_id: str | None = None, bot_id: int | None = None,
    system: str | None = None,
) -> Turn:
    """The cache POST, then (sent its answer) the stream GET of one turn.

    ``history`` is not sent: the server keeps it under ``session_id`` and
    ``conversation_id`` (``None``: a new conversation for this one turn).
    ``system`` goes in front of the message (a conversation's first turn).

    Raises:
        MessageTypeError, InvalidRequestError: a bad ``bot_id`` or ids (before any request).
        NonceExpiredError, SiteConfigurationError...: the cache step's error (see :func:`read_cache_answer`).
    """
    bot = site.choose_bot(bot_id)
    if system:
        message = format_prompt([{"role": "system", "content": system}, {"role": "user", "content": message}])
    referer = site.page_url or site.ajax_url
    cache = cache_request(site.ajax_url, site.nonce, bot, message)
    answer = yield _seam(cache, reply=False, referer=referer)
    key = read_cache_answer(answer.status, answer.headers, answer.body)
    stream = stream_request(
        site.ajax_url, site.nonce, bot, key, session_id=session_id or client_id,
        conversation_id=conversation_id or new_conversation_id(), post_id=site.post_id,
    )
    yield _seam(stream, reply=True, referer=referer, context=Reading(bot, site.bot_ids))


def check_status(status: int, headers: Mapping[str, str], body: bytes, redact: Redact = same) -> None:
    """Raise the typed error of an answer whose status is not 200 (the site's JSON envelope first)."""
    if 200 <= status < 300:
        check_common(status, headers, body, redact)  # a challenge served with 200
        return
    if status == 400 and body.strip() == b"0":
        raise EndpointGoneError(
            "admin-ajax.php answered '0' (HTTP 400): the site has no such AIPKit action — "
            "it is not AI Puffer 2.3+ (or not this action's version range), or a firewall rewrote the request"
        )
    envelope = _envelope(body, redact)
    if envelope is not None and envelope.get("success") is not True:
        raise _error_of(status, headers, envelope, redact)
    check_common(status, headers, body, redact)


def _turn_events(context: Any, redact: Redact) -> TurnEvents:
    reading = context if isinstance(context, Reading) else Reading()
    return TurnEvents(bot_id=reading.bot_id, bot_ids=reading.bot_ids, redact=redact)


def iter_text(chunks: Iterable[bytes], redact: Redact = same, context: Any = None) -> Iterator[str]:
    """The reply's text pieces as the stream delivers them; one typed error, or
    :class:`~chatgpt4o.StreamTruncatedError` when it ends without ``done``.

    Several bot messages in one stream (a trigger's reply, then the model's)
    are joined with a blank line; a ``warning`` shows as ``*text*``.
    """
    return iter_stream_deltas(chunks, _turn_events(context, redact))


def read_reply(
    status: int, headers: Mapping[str, str], body: bytes, redact: Redact = same, context: Any = None,
) -> str:
    """The whole reply of a stream step's answer read to its end, or one typed error."""
    check_stream_answer(status, headers, body[:65536], redact=redact)
    return "".join(iter_text([body], redact, context))


def refresh(site: AipkitSite) -> SeamRequest | None:
    """The nonce refresh POST (2.3.41+); ``None`` before: read the page again (:func:`refetch_url`)."""
    if not site.era.nonce_refresh:
        return None
    request = nonce_refresh_request(site.ajax_url, site.default_bot.id)
    return _seam(request, reply=False, referer=site.page_url or site.ajax_url)


def refreshed(site: AipkitSite, answer: Answer, redact: Redact = same) -> AipkitSite:
    """``site`` with the nonce of the refresh answer (one nonce serves every bot).

    Raises:
        EndpointGoneError: the site has no refresh action after all (400 ``0``).
    """
    nonce = read_nonce_answer(answer.status, answer.headers, answer.body, redact=redact)
    if nonce is None:
        raise EndpointGoneError(f"the site has no {NONCE_ACTION} action (plugin before 2.3.41)")
    return replace(site, nonce=nonce)


def refetch_url(site: AipkitSite) -> str:
    """The page again, with a query page caches have not seen (a cached page holds the stale nonce)."""
    return cache_busting_url(site.page_url)


"""The AIPKit answer stream and the plugin's error texts. No I/O happens here.

A turn's stream (protocol-aipkit.md §4) is a series of server-sent events:
``message_start``, default-event ``{"delta": ...}`` records, side events
(``status``, ``citations``, ``openai_response_id``...), and ``done``. An
``error`` event ends the turn with one typed exception (:func:`site_error`);
the end of the stream without ``done`` is a :class:`StreamTruncatedError`.

How the text is joined:

* Several ``message_start`` in one stream (a trigger's reply, then the AI's)
  are separate bot messages; their texts are joined with a blank line.
* A ``warning`` is appended as the browser shows it: ``"\\n\\n*text*"``
  (without the blank line when no text came before).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import (
    BotNotFoundError,
    CacheMissError,
    ChallengeError,
    Chatgpt4oError,
    EmptyMessageError,
    IPBannedError,
    MessageFlaggedError,
    NonceExpiredError,
    RateLimitError,
    ResponseError,
    ServerError,
    SiteConfigurationError,
    StreamTruncatedError,
    TokenLimitError,
    UpstreamError,
)
from ..sse import SSEDecoder, SSEEvent

__all__ = [
    "MESSAGE_SEPARATOR", "ORIGIN_HINT", "SITE_BROKEN", "CacheMissError", "TurnEvents", "iter_deltas", "iter_stream_deltas", "site_error"]

Redact = Callable[[str], str]
MESSAGE_SEPARATOR = "\n\n"


def _same(text: str) -> str:
    return text


ORIGIN_HINT = (
    "the site refused the request's origin — the request carried an Origin header (send none), "
    "or the site's WordPress address (siteurl) is on another host than its pages"
)
SITE_BROKEN = "the site's chat is broken on the server; nothing to fix on your side"

# (error class, hint, the texts such a message starts with); the longest matching text wins,
# so "API Error: Incorrect API key provided" is told apart from any other "API Error:".
_KNOWN: tuple[tuple[type[Chatgpt4oError], str, tuple[str, ...]], ...] = (
    (NonceExpiredError, "the nonce went stale; refresh it and redo both steps",
     ("Security check failed", "Your session has expired or the request is invalid")),
    (SiteConfigurationError, ORIGIN_HINT, ("This domain is not permitted", "Embed feature is not available")),
    (CacheMissError, "the cache key was missing, used, unknown or over 60 s old; redo both steps",
     ("Message cache key is missing", "Message not found in cache", "Cached message has expired",
      "Cache key cannot be empty")),
    (BotNotFoundError, "", ("Invalid chatbot specified",)),
    (TokenLimitError, "the site does not let guests chat with this bot", ("Access disabled for guests",)),
    (TokenLimitError, "the site does not let this account chat", ("Access disabled for your account",)),
    (TokenLimitError, "the guest quota of this session is used up",
     ("You have reached your quota", "You have reached your token limit")),
    (IPBannedError, "the site bans this IP address", ("Access from your IP address has been blocked",)),
    (MessageFlaggedError, "rephrase the message",
     ("Sorry, your message could not be sent as it contains prohibited words",
      "Your message was flagged by the moderation system")),
    (ResponseError, "the request lacked a session_id", ("Session ID is missing", "User/Session ID missing")),
    (ResponseError, "the request lacked a conversation_uuid", ("Conversation ID is missing",)),
    (EmptyMessageError, "the message arrived empty (the site counts \"0\" as empty)",
     ("Message or image cannot be empty", "Data to cache (message or image) cannot be empty")),
    (SiteConfigurationError, "the site's AI API key is wrong", ("API Error: Incorrect API key provided",)),
    (UpstreamError, "the site's AI provider failed; retry later", ("API Error:", "An unknown API error occurred")),
    (UpstreamError, "the site could not reach its AI provider; retry later",
     ("Connection Error:", "Connection error: no data received from AI")),
    (SiteConfigurationError, SITE_BROKEN,
     ("Server error: Stream processing components not ready", "SSE service", "Chat stream handler component missing",
      "Unsupported stream context", "Could not load chatbot configuration", "Failed to log user message",
      "Chat system (storage) not ready", "Chat processing service is currently unavailable")),
)
_TEXTS = sorted(((text, cls, hint) for cls, hint, texts in _KNOWN for text in texts), key=lambda row: -len(row[0]))


def _notice(value: Any) -> tuple[str, tuple[dict[str, str], ...]]:
    """The message and actions of a ``quota_notice`` object (2.4.5+)."""
    if not isinstance(value, Mapping):
        return "", ()
    message = value.get("message")
    actions = value.get("actions")
    kept = tuple(
        {key: str(item[key]) for key in ("label", "url", "variant") if isinstance(item.get(key), (str, int))}
        for item in (actions if isinstance(actions, list) else [])
        if isinstance(item, Mapping)
    )
    return (message if isinstance(message, str) else ""), kept


def site_error(
    message: str,
    *,
    quota_notice: Any = None,
    bot_id: int | None = None,
    bot_ids: Iterable[int] = (),
    redact: Redact = _same,
) -> Chatgpt4oError:
    """The typed exception for one of the plugin's error texts (stream ``error`` or JSON ``message``).

    Args:
        message: the site's text.
        quota_notice: the ``quota_notice`` object that came with it, if any.
        bot_id: the bot the turn used (named in :class:`BotNotFoundError`).
        bot_ids: the ids of the bots seen on the page (idem).
        redact: removes secrets from the text before it goes into the exception.
    """
    text = redact(message.strip()) or "(no message)"
    notice_text, actions = _notice(quota_notice)
    if notice_text or quota_notice is not None:
        return TokenLimitError(
            f"{text} — the site's quota for this session is used up (it resets only on the site's schedule)",
            site_message=text, notice=redact(notice_text), actions=actions,
        )
    cls: type[Chatgpt4oError] = UpstreamError
    hint = "the site failed the message"
    for prefix, known, known_hint in _TEXTS:
        if text.startswith(prefix):
            cls, hint = known, known_hint
            break
    if cls is NonceExpiredError:
        return NonceExpiredError(f"the site rejected the nonce ({text!r}) — {hint}")
    if cls is BotNotFoundError:
        seen = tuple(bot_ids)
        on_page = ", ".join(map(str, seen)) if seen else "none"
        return BotNotFoundError(
            f"{text} — the site has no published chat bot {bot_id if bot_id is not None else ''} "
            f"(bots seen on the page: {on_page}); pick one of those with bot_id=",
            site_message=text, bot_id=bot_id, bot_ids=seen,
        )
    if text.startswith("Too many requests"):  # per-IP limit, 2.4.97+
        return RateLimitError(f"{text} — the site limits requests per IP; wait", status_code=429,
                              excerpt=text, retry_after=60.0)
    if text.startswith("Unable to verify this request"):
        return ServerError(f"{text} — retry later", status_code=503, excerpt=text)
    assert issubclass(cls, ResponseError)
    if cls is TokenLimitError:
        return TokenLimitError(f"{text} — {hint}", site_message=text, notice=text)
    return cls(f"{text} — {hint}", site_message=text)


@dataclass
class TurnEvents:
    """Reads the events of one turn's stream; keeps everything that is not answer text.

    Feed the events in order with :meth:`feed`, which returns the text to
    append (``""`` for none) and raises the turn's error; call :meth:`finish`
    at the end of the stream. ``done`` is True once the ``done`` event came.
    """

    bot_id: int | None = None
    bot_ids: tuple[int, ...] = ()
    redact: Redact = field(default=_same, repr=False)
    on_event: Callable[[str, Any], None] | None = field(default=None, repr=False)
    done: bool = False
    message_ids: list[str] = field(default_factory=list)
    openai_response_id: str | None = None
    google_interaction_id: str | None = None
    statuses: list[Any] = field(default_factory=list)
    citations: list[Any] = field(default_factory=list)
    grounding_metadata: Any = None
    form: Any = None  # display_form_event (Pro): the site asks for a form instead of answering
    warnings: list[str] = field(default_factory=list)
    _text_seen: bool = field(default=False, repr=False)
    _new_message: bool = field(default=False, repr=False)

    def feed(self, event: SSEEvent) -> str:
        """Take one event; return the text it adds to the answer."""
        if self.done:
            return ""
        name = event.event or "message"
        try:
            data = json.loads(event.data)
        except (ValueError, RecursionError):
            if name == "error":
                raise UpstreamError(
                    "the site ended the turn with an unreadable error event",
                    site_message=self.redact(event.data[:160]),
                ) from None
            return ""  # undecodable records are skipped, as the page's script does
        if self.on_event is not None and name != "message":
            self.on_event(name, data)
        item = data if isinstance(data, dict) else {}
        if name == "message":
            delta = item.get("delta")
            return self._text(delta) if isinstance(delta, str) else ""
        if name == "message_start":
            message_id = item.get("message_id")
            self.message_ids.append(message_id if isinstance(message_id, str) else "")
            self._new_message = self._text_seen
            return ""
        if name == "warning":
            warning = item.get("error") or item.get("message")
            if isinstance(warning, str) and warning:
                self.warnings.append(warning)
                return self._text(f"*{warning}*", separator=MESSAGE_SEPARATOR)
            return ""
        if name == "error":
            if item.get("ts_required"):
                raise ChallengeError("the site asks for a Turnstile check before chatting (a site-specific gate)")
            message = item.get("error") or item.get("message")
            raise site_error(
                message if isinstance(message, str) else "", quota_notice=item.get("quota_notice"),
                bot_id=self.bot_id, bot_ids=self.bot_ids, redact=self.redact,
            )
        if name == "done":
            self.done = True
            self._side(item)
        elif name == "openai_response_id" and isinstance(item.get("id"), str):
            self.openai_response_id = item["id"]
        elif name == "google_interaction_id" and isinstance(item.get("id"), str):
            self.google_interaction_id = item["id"]
        elif name == "status":
            self.statuses.append(data)
        elif name == "citations":
            self.citations.extend(data if isinstance(data, list) else [data])
        elif name == "grounding_metadata":
            self.grounding_metadata = data
        elif name == "display_form_event":
            self.form = data
        return ""

    def _side(self, item: Mapping[str, Any]) -> None:
        if isinstance(item.get("citations"), list):
            self.citations.extend(item["citations"])
        if item.get("grounding_metadata") is not None:
            self.grounding_metadata = item["grounding_metadata"]

    def _text(self, text: str, separator: str = "") -> str:
        if not text:
            return ""
        if self._new_message:
            separator = MESSAGE_SEPARATOR
        elif not self._text_seen:
            separator = ""
        self._new_message = False
        self._text_seen = True
        return separator + text

    def finish(self) -> None:
        """Call at the end of the stream: raises :class:`StreamTruncatedError` without ``done``."""
        if not self.done:
            raise StreamTruncatedError(
                "the answer stream ended before its 'done' event — the connection was cut "
                "(a proxy timeout?); the text so far is not the whole answer"
            )


def iter_deltas(events: Iterable[SSEEvent], turn: TurnEvents | None = None) -> Iterator[str]:
    """Yield the answer's text pieces from decoded events; stop at ``done``.

    Raises the turn's typed error on an ``error`` event, and
    :class:`StreamTruncatedError` when the events end without ``done``.
    Pass a :class:`TurnEvents` to read the side events afterwards.
    """
    turn = turn if turn is not None else TurnEvents()
    for event in events:
        text = turn.feed(event)
        if text:
            yield text
        if turn.done:
            return
    turn.finish()


def _decoded(chunks: Iterable[bytes]) -> Iterator[SSEEvent]:
    decoder = SSEDecoder()
    for chunk in chunks:
        yield from decoder.feed(chunk)
    yield from decoder.close()


def iter_stream_deltas(chunks: Iterable[bytes], turn: TurnEvents | None = None) -> Iterator[str]:
    """:func:`iter_deltas` over raw stream bytes, as they arrive (any chunk boundaries)."""
    return iter_deltas(_decoded(chunks), turn)


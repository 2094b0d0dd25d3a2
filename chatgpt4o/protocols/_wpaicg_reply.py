"""Plugin 1.x: every answer the chat form can get, read into text or one typed error. No I/O.

:func:`read_reply` reads a complete answer (JSON, or a whole event stream);
:func:`iter_text` reads an event stream as it arrives. The plugin's error
texts and flags (protocol.md §3) map to the exception a caller handles.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from .._answer import EXCERPT, Redact, challenge, decode_json_body, same
from .._answer import check_status as check_common
from ..exceptions import (
    EmptyMessageError,
    EndpointGoneError,
    IPBannedError,
    MalformedResponseError,
    MessageFlaggedError,
    NonceExpiredError,
    ResponseError,
    SiteConfigurationError,
    StreamTruncatedError,
    TokenLimitError,
    UpstreamError,
)
from ..sse import SSEDecoder, SSEEvent, is_event_stream

__all__ = ["DATA_MISSING", "check_status", "iter_text", "read_reply", "reply_from_payload"]

#: The documented text of the error for a reply without ``data``.
DATA_MISSING = "Unexpected response structure: 'data' field missing"

# The plugin's own error texts (protocol.md §3), each with the error it means.
_KNOWN_ERRORS: tuple[tuple[str, type[ResponseError]], ...] = (
    ("It appears that nothing was inputted", EmptyMessageError),
    ("Unable to initialize the AI instance", SiteConfigurationError),
    ("Missing API Setting", SiteConfigurationError),
    ("You are not allowed to access this feature", IPBannedError),
    ("Your message contains prohibited words", MessageFlaggedError),
    ("Your message has been flagged", MessageFlaggedError),
    ("Incorrect API key provided", SiteConfigurationError),
)
_FLAGS: tuple[tuple[str, type[ResponseError]], ...] = (
    ("tokenLimitReached", TokenLimitError),
    ("ipBanned", IPBannedError),
    ("messageFlagged", MessageFlaggedError),
    ("modflag", MessageFlaggedError),
    ("pineconeError", UpstreamError),
)
_HINTS: dict[type[ResponseError], str] = {
    EmptyMessageError: "the message arrived empty (the site may strip tags and % sequences)",
    SiteConfigurationError: "the site's own AI settings are broken; nothing to fix on your side",
    IPBannedError: "the site bans this IP address",
    MessageFlaggedError: "rephrase the message",
    UpstreamError: "the site's AI provider failed; retry later",
    TokenLimitError: "the site's guest quota for this client id is used up",
}


def _site_error(msg: str, redact: Redact, default: type[ResponseError] = UpstreamError) -> ResponseError:
    msg = redact(msg)
    if msg == "Nonce verification failed":
        raise NonceExpiredError("the site rejected the nonce ('Nonce verification failed')")
    cls = next((known for prefix, known in _KNOWN_ERRORS if msg.startswith(prefix)), default)
    return cls(f"{msg} — {_HINTS.get(cls, 'the site refused the message')}", site_message=msg)


def check_status(status: int, headers: Mapping[str, str], body: bytes, redact: Redact = same) -> None:
    """Raise the typed error for a non-2xx answer (or a challenge); return on success.

    The ``body`` only needs its first few KB for this.
    """
    found = challenge(status, headers, body)
    if found is not None:
        raise found
    if 200 <= status < 300:
        return
    stripped = body.strip()
    if status == 403 and b"The link you followed has expired" in body[:4096]:
        raise NonceExpiredError(
            "the site rejected the nonce (HTTP 403 'The link you followed has expired.') — "
            "it was refreshed and retried; the page may be served stale by a cache"
        )
    if status == 403 and stripped == b"-1":
        raise NonceExpiredError("the site rejected the nonce (HTTP 403 '-1')")
    if status == 400 and stripped == b"0":
        raise EndpointGoneError(
            "admin-ajax.php answered '0' (HTTP 400): the site no longer has the legacy "
            "wpaicg chat action — AI Power 2.x removed it, or the request body was too large"
        )
    check_common(status, headers, body, redact)


def reply_from_payload(payload: Any, redact: Redact = same) -> str:
    """Return ``data`` of a decoded JSON answer, or raise the error it reports."""
    if not isinstance(payload, dict):
        raise MalformedResponseError(
            f"expected a JSON object from the site, got {type(payload).__name__}",
            excerpt=redact(json.dumps(payload)[:EXCERPT]),
        )
    for flag, cls in _FLAGS:
        if payload.get(flag):
            raise _site_error(str(payload.get("msg") or flag), redact, cls)
    status = payload.get("status")
    if status == "error":
        raise _site_error(str(payload.get("msg") or "unknown error"), redact)
    if "data" not in payload:
        raise MalformedResponseError(DATA_MISSING, excerpt=redact(json.dumps(payload)[:EXCERPT]))
    data = payload["data"]
    if not isinstance(data, str):
        raise MalformedResponseError(
            f"{DATA_MISSING}: 'data' is a {type(data).__name__}, not text",
            excerpt=redact(json.dumps(payload)[:EXCERPT]),
        )
    return data


def read_reply(
    status: int, headers: Mapping[str, str], body: bytes, redact: Redact = same, context: Any = None,
) -> str:
    """Turn a complete answer to the chat form into the reply text.

    Handles JSON answers and, when the site streams, the whole event
    stream. Raises exactly one :class:`~chatgpt4o.Chatgpt4oError` subclass
    for every other outcome (see the table in the README).
    """
    check_status(status, headers, body, redact)
    if is_event_stream(headers):
        return "".join(iter_text([body], redact))
    return reply_from_payload(decode_json_body(body, redact), redact)


_WORD_RE = re.compile(r'^\{"choices":\[\{"delta":\{"content":"(.*)"\}\}\]\}$', re.DOTALL)


def _event_text(event: SSEEvent, redact: Redact) -> tuple[str | None, bool, bool, bool]:
    """Read one event: (text or None, is a plugin error word, ends the stream, ends the answer).

    The answer ends with ``[DONE]``, ``[LIMITED]`` or a ``finish_reason`` (the
    upstream error stream has no ``[DONE]``); only ``[DONE]``/``[LIMITED]``
    also end the reading.
    """
    data = event.data.strip()
    if data == "[DONE]":
        return None, False, True, True
    if data == "[LIMITED]":
        return None, True, True, True
    try:
        payload = json.loads(data)
    except RecursionError:
        raise MalformedResponseError("an event in the reply stream is nested too deeply", excerpt=redact(data[:EXCERPT])) from None
    except ValueError:
        # The plugin writes upstream error words into JSON without escaping them.
        match = _WORD_RE.match(data)
        if match:
            return match.group(1), True, False, False
        raise MalformedResponseError("unreadable event in the reply stream", excerpt=redact(data[:EXCERPT])) from None
    if not isinstance(payload, dict):
        raise MalformedResponseError("unexpected event in the reply stream", excerpt=redact(data[:EXCERPT]))
    if "choices" not in payload:
        # Plugin events: token limit, flagged, banned, errors.
        if any(payload.get(flag) for flag, _ in _FLAGS) or payload.get("status") == "error":
            reply_from_payload(payload, redact)
        if "msg" in payload:
            raise _site_error(str(payload["msg"]), redact)
        return None, False, False, False
    choices = payload.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    delta = choice.get("delta") if isinstance(choice.get("delta"), dict) else {}
    text = delta.get("content") if delta else None
    if text is None:
        text = choice.get("text")
    # The plugin's own word-by-word error events are bare {"choices": ...}
    # objects under "event: message"; OpenAI chunks carry an id and object.
    plugin_word = event.event == "message" and "object" not in payload and "id" not in payload
    finished = choice.get("finish_reason") is not None
    return (text if isinstance(text, str) else None), plugin_word, False, finished


def iter_text(chunks: Iterable[bytes], redact: Redact = same, context: Any = None) -> Iterator[str]:
    """Yield the reply text of an event stream as it arrives.

    Stops at ``data: [DONE]`` or the end of the stream. The plugin's flag
    events raise the same typed errors as the JSON form, even when model
    text follows them. An upstream error, which the plugin sends as one event
    per word, is gathered and raised as :class:`UpstreamError` instead of
    being yielded. A stream that ends without its end marker (``[DONE]``,
    ``[LIMITED]`` or a ``finish_reason``) was cut short, e.g. by PHP's
    ``max_execution_time``: :class:`StreamTruncatedError`, never an answer.
    """
    decoder = SSEDecoder()
    error_words: list[str] = []
    done = complete = False
    for chunk in chunks:
        for event in decoder.feed(chunk):
            text, plugin_word, done, finished = _event_text(event, redact)
            complete = complete or finished
            if plugin_word:
                if text:
                    error_words.append(text)
            elif text:
                yield text
            if done:
                break
        if done:
            break
    if not done:
        for event in decoder.close():
            text, plugin_word, _, finished = _event_text(event, redact)
            complete = complete or finished
            if plugin_word and text:
                error_words.append(text)
            elif text:
                yield text
    if error_words:
        raise _site_error("".join(error_words).strip(), redact)
    if not complete:
        raise StreamTruncatedError(
            "the answer stream ended without its end marker ([DONE] or finish_reason) — the site "
            "closed it early (PHP's max_execution_time, a proxy timeout?); the text so far is not the whole answer"
        )

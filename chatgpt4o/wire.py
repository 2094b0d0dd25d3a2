"""The chat form and every answer the site can give to it. No I/O happens here.

:func:`build_form` lays out the fields in the order the page's own script
sends them; :func:`read_reply` turns a complete answer (status, headers,
body) into the reply text or exactly one typed exception;
:class:`SSEDecoder` and :func:`iter_stream_text` read the streaming form.
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import (
    Any,
)
from urllib.parse import urlencode

from ._fidelity import encode_history_text, encode_message
from .exceptions import (
    ChallengeError,
    EmptyMessageError,
    EndpointGoneError,
    HTTPStatusError,
    IPBannedError,
    MalformedResponseError,
    MessageFlaggedError,
    NonceExpiredError,
    RateLimitError,
    ResponseError,
    ServerError,
    SiteConfigurationError,
    TokenLimitError,
    UpstreamError,
)
from .page import ChatTokens

__all__ = [
    "ACTION",
    "DATA_MISSING",
    "SSEDecoder",
    "SSEEvent",
    "build_form",
    "check_status",
    "decode_json_body",
    "encode_form",
    "is_event_stream",
    "iter_stream_text",
    "parse_retry_after",
    "read_reply",
    "reply_from_payload",
]

ACTION = "wpaicg_chat_shortcode_message"
#: The documented text of the error for a reply without ``data``.
DATA_MISSING = "Unexpected response structure: 'data' field missing"

Redact = Callable[[str], str]
EXCERPT = 160


def _same(text: str) -> str:
    return text


def build_form(
    tokens: ChatTokens,
    message: str,
    *,
    client_id: str,
    chat_id: int,
    history: Sequence[Mapping[str, Any]] = (),
) -> list[tuple[str, str]]:
    """Return the chat form's fields, in the order the page's script sends them.

    ``history`` is the conversation so far in the site's own format
    (``[{"id": ..., "text": "Human: ..."}, {"id": ..., "text": "AI: ..."}]``);
    like the page's script, the current turn is appended to it. Texts are
    encoded to survive the server's sanitizing (see :mod:`._fidelity`): the
    message only where the plugin version sanitizes it, the history always.
    """
    turns = [
        {"id": item.get("id", ""), "text": encode_history_text(str(item.get("text", "")))}
        for item in [*history, {"id": "", "text": f"Human: {message}"}]
    ]
    if tokens.memory_limit:
        # The page's script keeps only the last data-memory-limit items; the
        # server trusts what it gets. Trimmed here, with the tokens actually
        # sent, so a history restored before the page was read obeys it too.
        turns = turns[-tokens.memory_limit :]
    if tokens.sanitizes_messages:
        message = encode_message(message)
    return [
        ("_wpnonce", tokens.nonce),
        ("post_id", tokens.post_id),
        ("url", tokens.url),
        ("action", ACTION),
        ("message", message),
        ("bot_id", tokens.bot_id),
        ("chatbot_identity", tokens.identity),
        ("wpaicg_chat_client_id", client_id),
        ("wpaicg_chat_history", json.dumps(turns, ensure_ascii=False, separators=(",", ":"))),
        ("chat_id", str(chat_id)),
    ]


def encode_form(fields: Sequence[tuple[str, str]]) -> bytes:
    """URL-encode ``fields`` as ``application/x-www-form-urlencoded`` bytes."""
    return urlencode(fields).encode("ascii")


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    # ASCII digits only: str.isdigit() also accepts "²" and other digits float() refuses.
    if re.fullmatch(r"[0-9]+(?:\.[0-9]+)?", value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _excerpt(body: bytes, redact: Redact) -> str:
    text = body[: EXCERPT * 4].decode("utf-8", "replace")
    text = re.sub(r"\s+", " ", text).strip()
    # Redact first: a secret across the cut would otherwise show in part.
    return redact(text)[:EXCERPT]


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:  # plain dicts in tests; requests' headers ignore case
        lower = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lower), "")
    return value


def is_event_stream(headers: Mapping[str, str]) -> bool:
    """True when the answer is a server-sent event stream."""
    return _header(headers, "Content-Type").split(";")[0].strip().lower() == "text/event-stream"


def _challenge(status: int, headers: Mapping[str, str], body: bytes) -> ChallengeError | None:
    if _header(headers, "cf-mitigated").lower() == "challenge":
        return ChallengeError(
            f"Cloudflare challenge (HTTP {status}) instead of the site — the site is behind a bot "
            "check; try again later, from another network, or with the browser's cookies (cookies=)",
            status_code=status,
        )
    if status < 400:
        return None
    head = body[:4096]
    if b"Just a moment..." in head or b"_cf_chl_opt" in body[:65536] or b"/cdn-cgi/challenge-platform/" in body[:65536]:
        return ChallengeError(
            f"Cloudflare challenge page (HTTP {status}) instead of the site — try again later, "
            "from another network, or pass the browser's cf_clearance cookie (cookies=)",
            status_code=status,
        )
    if b"Attention Required! | Cloudflare" in head:
        return ChallengeError(
            f"Cloudflare blocked the request (HTTP {status}, WAF) — this network or request is "
            "refused by the site's firewall",
            status_code=status,
        )
    return None


def _status_error(status: int, headers: Mapping[str, str], body: bytes, redact: Redact) -> HTTPStatusError:
    excerpt = _excerpt(body, redact)
    retry_after = parse_retry_after(_header(headers, "Retry-After"))
    if status == 429:
        return RateLimitError(
            "HTTP 429 Too Many Requests — the site rate-limits this client; wait and retry",
            status_code=status, excerpt=excerpt, retry_after=retry_after,
        )
    if status == 408 or status >= 500:
        return ServerError(
            f"HTTP {status} from the site — a server-side failure; retry later: {excerpt!r}",
            status_code=status, excerpt=excerpt, retry_after=retry_after,
        )
    if 300 <= status < 400:
        return HTTPStatusError(
            f"HTTP {status} redirect to {redact(_header(headers, 'Location'))!r} — "
            "the chat endpoint moved; check base_url",
            status_code=status, excerpt=excerpt,
        )
    return HTTPStatusError(
        f"unexpected HTTP {status} from the chat endpoint: {excerpt!r}",
        status_code=status, excerpt=excerpt,
    )


def check_status(status: int, headers: Mapping[str, str], body: bytes, redact: Redact = _same) -> None:
    """Raise the typed error for a non-2xx answer (or a challenge); return on success.

    The ``body`` only needs its first few KB for this.
    """
    challenge = _challenge(status, headers, body)
    if challenge is not None:
        raise challenge
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
    raise _status_error(status, headers, body, redact)


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


def _site_error(msg: str, redact: Redact, default: type[ResponseError] = UpstreamError) -> ResponseError:
    msg = redact(msg)
    if msg == "Nonce verification failed":
        raise NonceExpiredError("the site rejected the nonce ('Nonce verification failed')")
    cls = next((known for prefix, known in _KNOWN_ERRORS if msg.startswith(prefix)), default)
    hints: dict[type[ResponseError], str] = {
        EmptyMessageError: "the message arrived empty (the site may strip tags and % sequences)",
        SiteConfigurationError: "the site's own AI settings are broken; nothing to fix on your side",
        IPBannedError: "the site bans this IP address",
        MessageFlaggedError: "rephrase the message",
        UpstreamError: "the site's AI provider failed; retry later",
        TokenLimitError: "the site's guest quota for this client id is used up",
    }
    return cls(f"{msg} — {hints.get(cls, 'the site refused the message')}", site_message=msg)


def reply_from_payload(payload: Any, redact: Redact = _same) -> str:
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


def decode_json_body(body: bytes, redact: Redact = _same) -> Any:
    """Decode a JSON answer, skipping PHP notices printed before it."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedResponseError(
            "the reply is not valid UTF-8", excerpt=_excerpt(body, redact)
        ) from None
    text = text.lstrip("\ufeff \t\r\n")
    if not text:
        raise MalformedResponseError("the reply is empty", excerpt="")
    if text[0] not in "{[":
        # display_errors sites print "<br /><b>Notice</b>: ..." before the JSON.
        start = text.find("{")
        if start < 0:
            raise MalformedResponseError("the reply is not JSON", excerpt=_excerpt(body, redact))
        text = text[start:]
    try:
        value, end = json.JSONDecoder().raw_decode(text)
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        raise MalformedResponseError("the reply is not valid JSON", excerpt=_excerpt(body, redact)) from None
    if text[end:].strip():
        raise MalformedResponseError("the reply has text after its JSON", excerpt=_excerpt(body, redact))
    return value


def read_reply(status: int, headers: Mapping[str, str], body: bytes, redact: Redact = _same) -> str:
    """Turn a complete answer to the chat form into the reply text.

    Handles JSON answers and, when the site streams, the whole event
    stream. Raises exactly one :class:`~chatgpt4o.Chatgpt4oError` subclass
    for every other outcome (see the table in the README).
    """
    check_status(status, headers, body, redact)
    if is_event_stream(headers):
        return "".join(iter_stream_text([body], redact))
    return reply_from_payload(decode_json_body(body, redact), redact)


# --- Server-sent events -----------------------------------------------------


@dataclass(frozen=True)
class SSEEvent:
    """One server-sent event: its ``event:`` name (``""`` if none) and ``data``."""

    event: str
    data: str


_LINE_BREAK = re.compile(rb"\r\n|\r|\n")


class SSEDecoder:
    """Incremental SSE decoder: feed bytes as they arrive, get whole events.

    Lines may end in ``\\n``, ``\\r\\n`` or ``\\r``; chunk boundaries may fall
    anywhere, even inside a UTF-8 sequence. Comment lines (``:``) and fields
    other than ``event`` and ``data`` are ignored.
    """

    def __init__(self) -> None:
        self._buffer = b""
        self._pending: list[bytes] = []  # pieces of one unfinished line, joined once it ends
        self._event = ""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Add bytes; return the events they complete."""
        if b"\n" not in chunk and b"\r" not in chunk and not self._buffer.endswith(b"\r"):
            # Still inside one line: keep the piece, do not re-join or re-scan the buffer
            # (a line that never ends would otherwise cost quadratic time).
            self._pending.append(chunk)
            return []
        if self._pending:
            self._buffer += b"".join(self._pending)
            self._pending = []
        data = self._buffer + chunk
        # A trailing "\r" may be the first half of a "\r\n": hold it back.
        hold = data.endswith(b"\r")
        lines = _LINE_BREAK.split(data[:-1] if hold else data)
        self._buffer = lines.pop() + (b"\r" if hold else b"")
        events: list[SSEEvent] = []
        for raw in lines:
            self._line(raw.decode("utf-8", "replace"), events)
        return events

    def close(self) -> list[SSEEvent]:
        """Flush what remains at end of stream (an event without a blank line after it)."""
        events: list[SSEEvent] = []
        if self._pending:
            self._buffer += b"".join(self._pending)
            self._pending = []
        if self._buffer.rstrip(b"\r"):
            self._line(self._buffer.rstrip(b"\r").decode("utf-8", "replace"), events)
        self._buffer = b""
        self._line("", events)
        return events

    def _line(self, line: str, events: list[SSEEvent]) -> None:
        if not line:
            if self._data:
                events.append(SSEEvent(self._event, "\n".join(self._data)))
            self._event, self._data = "", []
            return
        if line.startswith(":"):
            return
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value


_WORD_RE = re.compile(r'^\{"choices":\[\{"delta":\{"content":"(.*)"\}\}\]\}$', re.DOTALL)


def _event_text(event: SSEEvent, redact: Redact) -> tuple[str | None, bool, bool]:
    """Read one event: (text or None, is a plugin error word, ends the stream)."""
    data = event.data.strip()
    if data == "[DONE]":
        return None, False, True
    if data == "[LIMITED]":
        return None, True, True
    try:
        payload = json.loads(data)
    except RecursionError:
        raise MalformedResponseError("an event in the reply stream is nested too deeply", excerpt=redact(data[:EXCERPT])) from None
    except ValueError:
        # The plugin writes upstream error words into JSON without escaping them.
        match = _WORD_RE.match(data)
        if match:
            return match.group(1), True, False
        raise MalformedResponseError("unreadable event in the reply stream", excerpt=redact(data[:EXCERPT])) from None
    if not isinstance(payload, dict):
        raise MalformedResponseError("unexpected event in the reply stream", excerpt=redact(data[:EXCERPT]))
    if "choices" not in payload:
        # Plugin events: token limit, flagged, banned, errors.
        if any(payload.get(flag) for flag, _ in _FLAGS) or payload.get("status") == "error":
            reply_from_payload(payload, redact)
        if "msg" in payload:
            raise _site_error(str(payload["msg"]), redact)
        return None, False, False
    choices = payload.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    delta = choice.get("delta") if isinstance(choice.get("delta"), dict) else {}
    text = delta.get("content") if delta else None
    if text is None:
        text = choice.get("text")
    # The plugin's own word-by-word error events are bare {"choices": ...}
    # objects under "event: message"; OpenAI chunks carry an id and object.
    plugin_word = event.event == "message" and "object" not in payload and "id" not in payload
    return (text if isinstance(text, str) else None), plugin_word, False


def iter_stream_text(chunks: Iterable[bytes], redact: Redact = _same) -> Iterator[str]:
    """Yield the reply text of an event stream as it arrives.

    Stops at ``data: [DONE]`` or the end of the stream. The plugin's flag
    events raise the same typed errors as the JSON form, even when model
    text follows them. An upstream error, which the plugin sends as one event
    per word, is gathered and raised as :class:`UpstreamError` instead of
    being yielded.
    """
    decoder = SSEDecoder()
    error_words: list[str] = []
    done = False
    for chunk in chunks:
        for event in decoder.feed(chunk):
            text, plugin_word, done = _event_text(event, redact)
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
            text, plugin_word, _ = _event_text(event, redact)
            if plugin_word and text:
                error_words.append(text)
            elif text:
                yield text
    if error_words:
        raise _site_error("".join(error_words).strip(), redact)


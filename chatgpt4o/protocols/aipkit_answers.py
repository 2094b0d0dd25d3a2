"""The answers of an AIPKit site's JSON actions, read into a value or one typed error. No I/O.

The WordPress envelope is ``{"success": true|false, "data": ...}``; errors
carry ``data.message`` and, on the cache step, ``data.code``
(protocol-aipkit.md §3). An action the site does not have answers HTTP 400
with the body ``0``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .._answer import check_status, decode_json_body, parse_retry_after
from ..exceptions import (
    EndpointGoneError,
    MalformedResponseError,
    NonceExpiredError,
    RateLimitError,
    ResponseError,
    ServerError,
    SiteConfigurationError,
    TokenLimitError,
    UpstreamError,
)
from .aipkit_events import ORIGIN_HINT, SITE_BROKEN, site_error

__all__ = [
    "CACHE_ACTION",
    "NONCE_ACTION",
    "STREAM_ACTION",
    "check_stream_answer",
    "read_cache_answer",
    "read_nonce_answer",
]

CACHE_ACTION = "aipkit_cache_sse_message"
STREAM_ACTION = "aipkit_frontend_chat_stream"
NONCE_ACTION = "aipkit_get_frontend_chat_nonce"

Redact = Callable[[str], str]
_NONCE_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _same(text: str) -> str:
    return text


_NONCE_CODES = frozenset({"nonce_failure_cache_sse", "nonce_failure"})
_CODES: Mapping[str, type[ResponseError]] = {
    "embed_not_available": SiteConfigurationError,
    "cors_denied": SiteConfigurationError,
    "image_validator_missing": SiteConfigurationError,
    "cache_component_missing": SiteConfigurationError,
    "sse_cache_db_insert_failed": SiteConfigurationError,
}


def _gone(step: str) -> EndpointGoneError:
    return EndpointGoneError(
        f"admin-ajax.php answered '0' (HTTP 400) to {step}: the site has no such AIPKit action — "
        "it is not AI Puffer 2.3+ (or this action's version range), or a firewall rewrote the request"
    )


def _envelope(body: bytes, redact: Redact) -> dict[str, Any] | None:
    """The WordPress ``{"success": ..., "data": ...}`` envelope, or None if the body is not one."""
    if not body.lstrip()[:1] in (b"{", b"<"):
        return None
    try:
        value = decode_json_body(body, redact)
    except MalformedResponseError:
        return None
    return value if isinstance(value, dict) and "success" in value else None


def _error_of(
    status: int,
    headers: Mapping[str, str],
    envelope: Mapping[str, Any],
    redact: Redact,
    bot_id: int | None = None,
    bot_ids: Iterable[int] = (),
) -> Exception:
    data = envelope.get("data")
    data = data if isinstance(data, Mapping) else {}
    code = str(data.get("code") or "")
    message = str(data.get("message") or "")
    text = redact(message) or f"HTTP {status}"
    stale = NonceExpiredError(f"the site rejected the nonce (HTTP {status} {code or text!r}) — refresh it")
    if code in _NONCE_CODES:
        return stale
    if status == 403 and not code:
        # The page's script answers any other 403 with a nonce refresh and one retry.
        known = site_error(message, bot_id=bot_id, bot_ids=bot_ids, redact=redact) if message else None
        return stale if known is None or type(known) is UpstreamError else known
    cls = _CODES.get(code)
    if cls is not None:
        hint = ORIGIN_HINT if code in ("embed_not_available", "cors_denied") else SITE_BROKEN
        return cls(f"{text} ({code}) — {hint}", site_message=text)
    retry_after = parse_retry_after(_header(headers, "Retry-After"))
    if status == 429 and code == "public_request_rate_limit":
        return RateLimitError(f"{text} — the site limits requests per IP; wait", status_code=429,
                              excerpt=text, retry_after=retry_after or 60.0)
    if status == 429 and not code:
        # The one-piece action answers a used-up quota with 429 and the limit text.
        return TokenLimitError(f"{text} — the guest quota of this session is used up", site_message=text,
                               notice=text)
    if status == 503 and (code == "public_request_unavailable" or not message):
        return ServerError(f"HTTP 503 from the site: {text!r} — retry later", status_code=503, excerpt=text,
                           retry_after=retry_after)
    if message:
        return site_error(message, bot_id=bot_id, bot_ids=bot_ids, redact=redact)
    return ResponseError(f"the site refused the request (HTTP {status}, code {code or 'none'!r})", site_message="")


def read_cache_answer(status: int, headers: Mapping[str, str], body: bytes, *, redact: Redact = _same) -> str:
    """The ``cache_key`` from the answer to :func:`cache_request`, or its typed error.

    Raises:
        NonceExpiredError: 403 ``nonce_failure_cache_sse`` (refresh, then redo).
        EndpointGoneError: 400 ``0``: not an AIPKit site.
        SiteConfigurationError: the Origin check refused (``embed_not_available``,
            ``cors_denied``) or the site's cache is broken (5xx codes).
        EmptyMessageError: ``empty_data_to_cache``.
        ChallengeError, HTTPStatusError...: non-JSON answers (see :func:`chatgpt4o._answer.check_status`).
        MalformedResponseError: a 2xx answer without a cache key.
    """
    if status == 400 and body.strip() == b"0":
        raise _gone(CACHE_ACTION)
    envelope = _envelope(body, redact)
    if envelope is None or envelope.get("success") is not True:
        if envelope is not None and (status >= 400 or envelope.get("success") is False):
            raise _error_of(status, headers, envelope, redact)
        check_status(status, headers, body, redact)
        raise MalformedResponseError("the cache step's answer is not the site's JSON", excerpt=_excerpt(body, redact))
    data = envelope.get("data")
    key = data.get("cache_key") if isinstance(data, Mapping) else None
    if not isinstance(key, str) or not key.strip():
        raise MalformedResponseError("the cache step's answer has no cache_key", excerpt=_excerpt(body, redact))
    return key.strip()


def read_nonce_answer(status: int, headers: Mapping[str, str], body: bytes, *, redact: Redact = _same) -> str | None:
    """The fresh nonce from the answer to :func:`nonce_refresh_request`.

    Returns None when the site has no refresh action (400 ``0``, plugin
    before 2.3.41): read the page again instead (see :func:`cache_busting_url`).
    """
    if status == 400 and body.strip() == b"0":
        return None
    envelope = _envelope(body, redact)
    if envelope is None or envelope.get("success") is not True:
        if envelope is not None:
            raise _error_of(status, headers, envelope, redact)
        check_status(status, headers, body, redact)
        raise MalformedResponseError("the nonce refresh answer is not the site's JSON", excerpt=_excerpt(body, redact))
    data = envelope.get("data")
    nonce = data.get("nonce") if isinstance(data, Mapping) else None
    if not isinstance(nonce, str) or not _NONCE_RE.fullmatch(nonce):
        # No excerpt: the body would hold the (new) nonce, which redact does not know yet.
        raise MalformedResponseError("the nonce refresh answer has no usable nonce")
    return nonce


def check_stream_answer(status: int, headers: Mapping[str, str], head: bytes, *, redact: Redact = _same) -> None:
    """Raise the typed error when the stream step's answer is not an event stream.

    ``head`` is the first bytes of the body (a few KB are enough).
    """
    content_type = _header(headers, "Content-Type")
    if 200 <= status < 300 and content_type.split(";")[0].strip().lower() == "text/event-stream":
        return
    if status == 400 and head.strip() == b"0":
        raise _gone(STREAM_ACTION)
    envelope = _envelope(head, redact)
    if envelope is not None and envelope.get("success") is False:
        raise _error_of(status, headers, envelope, redact)
    check_status(status, headers, head, redact)
    raise MalformedResponseError(
        f"the stream step answered {content_type or 'no content type'!r}, not an event stream",
        excerpt=_excerpt(head, redact),
    )


def _header(headers: Mapping[str, str], name: str) -> str:
    return next((v for k, v in headers.items() if k.lower() == name.lower()), "")


def _excerpt(body: bytes, redact: Redact) -> str:
    return redact(re.sub(r"\s+", " ", body[:640].decode("utf-8", "replace")).strip())[:160]


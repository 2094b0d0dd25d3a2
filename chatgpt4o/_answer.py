"""What both generations share in reading an answer. No I/O happens here.

Excerpts (redacted, short), ``Retry-After``, Cloudflare challenges, HTTP
statuses turned into typed errors, and JSON tolerant of the PHP notices that
``display_errors`` sites print before it. Each protocol adds its own answer
shapes on top (see :mod:`chatgpt4o.protocols`).
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from .exceptions import (
    ChallengeError,
    HTTPStatusError,
    MalformedResponseError,
    NonceExpiredError,
    RateLimitError,
    ServerError,
)
from .sse import header

__all__ = [
    "EXCERPT", "Redact", "challenge", "check_status", "decode_json_body", "excerpt", "parse_retry_after", "same",
    "status_error",
]

Redact = Callable[[str], str]
EXCERPT = 160


def same(text: str) -> str:
    """The identity redaction, for callers with no secrets to hide."""
    return text


def excerpt(body: bytes, redact: Redact) -> str:
    """The first few words of a body, on one line, secrets redacted."""
    text = body[: EXCERPT * 4].decode("utf-8", "replace")
    text = re.sub(r"\s+", " ", text).strip()
    # Redact first: a secret across the cut would otherwise show in part.
    return redact(text)[:EXCERPT]


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


def challenge(status: int, headers: Mapping[str, str], body: bytes) -> ChallengeError | None:
    """The Cloudflare challenge or block this answer is, if it is one."""
    if header(headers, "cf-mitigated").lower() == "challenge":
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


def status_error(status: int, headers: Mapping[str, str], body: bytes, redact: Redact) -> HTTPStatusError:
    """The typed error for a non-2xx status no protocol gave a meaning to."""
    text = excerpt(body, redact)
    retry_after = parse_retry_after(header(headers, "Retry-After"))
    if status == 429:
        return RateLimitError(
            "HTTP 429 Too Many Requests — the site rate-limits this client; wait and retry",
            status_code=status, excerpt=text, retry_after=retry_after,
        )
    if status == 408 or status >= 500:
        return ServerError(
            f"HTTP {status} from the site — a server-side failure; retry later: {text!r}",
            status_code=status, excerpt=text, retry_after=retry_after,
        )
    if 300 <= status < 400:
        return HTTPStatusError(
            f"HTTP {status} redirect to {redact(header(headers, 'Location'))!r} — "
            "the chat endpoint moved; check base_url",
            status_code=status, excerpt=text,
        )
    return HTTPStatusError(
        f"unexpected HTTP {status} from the chat endpoint: {text!r}",
        status_code=status, excerpt=text,
    )


def check_status(status: int, headers: Mapping[str, str], body: bytes, redact: Redact = same) -> None:
    """What any answer means whatever the generation: a challenge, or a status nothing else explains.

    Returns for 2xx answers that are no challenge; raises the challenge,
    WordPress core's stale-nonce ``-1``, or :func:`status_error` otherwise. Each generation first looks for its own
    shapes (a stale nonce, ``0`` for a missing action...), then calls this.
    """
    found = challenge(status, headers, body)
    if found is not None:
        raise found
    if 200 <= status < 300:
        return
    if status == 403 and body.strip() == b"-1":
        # WordPress core's own answer to a failed check_ajax_referer().
        raise NonceExpiredError("the site rejected the nonce (HTTP 403 '-1')")
    raise status_error(status, headers, body, redact)


def decode_json_body(body: bytes, redact: Redact = same) -> Any:
    """Decode a JSON answer, skipping PHP notices printed before it."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedResponseError("the reply is not valid UTF-8", excerpt=excerpt(body, redact)) from None
    text = text.lstrip("\ufeff \t\r\n")
    if not text:
        raise MalformedResponseError("the reply is empty", excerpt="")
    if text[0] not in "{[":
        # display_errors sites print "<br /><b>Notice</b>: ..." before the JSON.
        start = text.find("{")
        if start < 0:
            raise MalformedResponseError("the reply is not JSON", excerpt=excerpt(body, redact))
        text = text[start:]
    try:
        value, end = json.JSONDecoder().raw_decode(text)
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        raise MalformedResponseError("the reply is not valid JSON", excerpt=excerpt(body, redact)) from None
    if text[end:].strip():
        raise MalformedResponseError("the reply has text after its JSON", excerpt=excerpt(body, redact))
    return value

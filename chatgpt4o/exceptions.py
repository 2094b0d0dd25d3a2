"""The exceptions raised by chatgpt4o.

Every error the library raises on purpose derives from :class:`Chatgpt4oError`,
which is a :class:`RuntimeError` (the documented contract of the provider
facade). Mistakes in the caller's own input are raised before any network I/O
and also derive from :class:`ValueError` or :class:`TypeError`::

    RuntimeError
    └── Chatgpt4oError
        ├── InvalidRequestError (+ ValueError) ....... bad input, raised before I/O
        │   ├── InvalidMessagesError .................. empty/unknown role/bad content
        │   ├── UnknownModelError ..................... model not in Client.models
        │   └── InvalidConfigError .................... bad base URL, proxy, timeout...
        ├── MessageTypeError (+ TypeError) ............ wrong Python type in the input
        ├── PageError ................................. the chat page could not be used
        │   └── TokensNotFoundError ................... no data-nonce / data-post-id
        ├── NonceExpiredError ......................... stale nonce even after a refresh
        ├── ChallengeError ............................ Cloudflare challenge or WAF block
        ├── EndpointGoneError ......................... ``0`` / HTTP 400: legacy chat removed
        ├── ResponseError ............................. the site refused or failed the message
        │   ├── EmptyMessageError ..................... "It appears that nothing was inputted."
        │   ├── TokenLimitError ....................... guest token quota used up
        │   ├── BotNotFoundError ...................... 2.x: no such published bot
        │   ├── CacheMissError ........................ 2.x: cache key unknown/used/expired (redone once)
        │   ├── BlockedError .......................... banned IP or flagged message
        │   │   ├── IPBannedError
        │   │   └── MessageFlaggedError
        │   └── UpstreamError ......................... the site's AI provider failed
        │       └── SiteConfigurationError ............ the site has no working API key
        ├── MalformedResponseError .................... not a reply we can read
        │   └── ResponseTooLargeError ................. body over the size cap
        ├── HTTPStatusError ........................... unexpected HTTP status
        │   ├── RateLimitError ........................ 429 (after retries)
        │   └── ServerError ........................... 408 / 5xx (after retries)
        └── APIConnectionError ........................ could not talk to the site
            ├── APITimeoutError ....................... the ask's deadline passed
            ├── StreamTruncatedError .................. 2.x: the stream ended before "done"
            └── TLSError .............................. certificate verification failed

No message, ``repr`` or attribute of these exceptions carries a nonce, a
cookie or proxy credentials: the client redacts them before raising.
"""

from __future__ import annotations

__all__ = [
    "APIConnectionError",
    "APITimeoutError",
    "BlockedError",
    "BotNotFoundError",
    "CacheMissError",
    "ChallengeError",
    "Chatgpt4oError",
    "EmptyMessageError",
    "EndpointGoneError",
    "HTTPStatusError",
    "IPBannedError",
    "InvalidConfigError",
    "InvalidMessagesError",
    "InvalidRequestError",
    "MalformedResponseError",
    "MessageFlaggedError",
    "MessageTypeError",
    "NonceExpiredError",
    "PageError",
    "RateLimitError",
    "ResponseError",
    "ResponseTooLargeError",
    "ServerError",
    "SiteConfigurationError",
    "StreamTruncatedError",
    "TLSError",
    "TokenLimitError",
    "TokensNotFoundError",
    "UnknownModelError",
    "UpstreamError",
]


class Chatgpt4oError(RuntimeError):
    """Root of every error this library raises on purpose."""


class InvalidRequestError(Chatgpt4oError, ValueError):
    """The caller's input is not acceptable; raised before any network I/O."""


class InvalidMessagesError(InvalidRequestError):
    """The messages are empty, use an unknown role, or carry unusable content."""


class UnknownModelError(InvalidRequestError):
    """The model name is neither a known model nor an alias."""


class InvalidConfigError(InvalidRequestError):
    """A client setting (base URL, proxy, timeout, retries...) is invalid."""


class MessageTypeError(Chatgpt4oError, TypeError):
    """An argument has the wrong Python type; raised before any network I/O."""


class PageError(Chatgpt4oError):
    """The site's chat page could not be fetched or read."""


class TokensNotFoundError(PageError):
    """The chat page lacks the chat box's ``data-post-id`` or ``data-nonce``."""

    def __init__(self, message: str, *, missing: tuple[str, ...] = (), url: str = "") -> None:
        super().__init__(message)
        self.missing = missing
        self.url = url


class NonceExpiredError(Chatgpt4oError):
    """The site kept rejecting the nonce, even after reading a fresh one."""


class ChallengeError(Chatgpt4oError):
    """Cloudflare answered with a challenge page or a WAF block instead of the site."""

    def __init__(self, message: str, *, status_code: int = 0) -> None:
        super().__init__(message)
        self.status_code = status_code


class EndpointGoneError(Chatgpt4oError):
    """``admin-ajax.php`` answered ``0`` with HTTP 400: the legacy chat action is gone."""


class ResponseError(Chatgpt4oError):
    """The site answered in its own format but refused or failed the message.

    ``site_message`` holds the site's own text (the JSON ``msg``).
    """

    def __init__(self, message: str, *, site_message: str = "") -> None:
        super().__init__(message)
        self.site_message = site_message


class EmptyMessageError(ResponseError):
    """The site says nothing was inputted (the message arrived empty)."""


class TokenLimitError(ResponseError):
    """The site's guest token quota for this client id is used up.

    On 2.x sites ``notice`` and ``actions`` hold the site's quota notice (its
    text, and links as ``{"label", "url", "variant"}`` dicts), when it sent one.
    """

    def __init__(
        self, message: str, *, site_message: str = "", notice: str = "", actions: tuple[dict[str, str], ...] = ()
    ) -> None:
        super().__init__(message, site_message=site_message)
        self.notice = notice
        self.actions = actions


class BotNotFoundError(ResponseError):
    """The 2.x site has no published chat bot with the requested id ("Invalid chatbot specified.").

    ``bot_ids`` lists the bots seen on the page.
    """

    def __init__(
        self, message: str, *, site_message: str = "", bot_id: int | None = None, bot_ids: tuple[int, ...] = ()
    ) -> None:
        super().__init__(message, site_message=site_message)
        self.bot_id = bot_id
        self.bot_ids = bot_ids


class CacheMissError(ResponseError):
    """2.x: the stream step found no cached message (unknown, used or expired ``cache_key``).

    The client redoes both steps once (a cache key is single-use); this is
    raised when the redo misses too.
    """


class BlockedError(ResponseError):
    """The site refused the message: banned IP address or flagged words."""


class IPBannedError(BlockedError):
    """The site bans the caller's IP address."""


class MessageFlaggedError(BlockedError):
    """The message contains words the site prohibits, or was flagged by moderation."""


class UpstreamError(ResponseError):
    """The site's AI provider failed; the text is the provider's error message."""


class SiteConfigurationError(UpstreamError):
    """The site itself is misconfigured (no valid API key): nothing to fix client-side."""


class MalformedResponseError(Chatgpt4oError):
    """The reply could not be read (not JSON, wrong shape, missing ``data``...).

    ``excerpt`` holds the first bytes of the body, redacted, for diagnosis.
    """

    def __init__(self, message: str, *, excerpt: str = "") -> None:
        super().__init__(message)
        self.excerpt = excerpt


class ResponseTooLargeError(MalformedResponseError):
    """The page or reply exceeded the configured size cap and was not read further."""


class HTTPStatusError(Chatgpt4oError):
    """The site answered with an HTTP status this protocol does not expect."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        excerpt: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.excerpt = excerpt
        self.retry_after = retry_after


class RateLimitError(HTTPStatusError):
    """HTTP 429, still there after the retries."""


class ServerError(HTTPStatusError):
    """HTTP 408 or 5xx, still there after the retries."""


class APIConnectionError(Chatgpt4oError):
    """The connection to the site failed (DNS, refused, reset, proxy, TLS)."""


class APITimeoutError(APIConnectionError):
    """The ask's overall ``timeout`` passed before an answer arrived."""


class StreamTruncatedError(APIConnectionError):
    """The answer stream ended without its end marker: the text so far is not the answer."""


class TLSError(APIConnectionError):
    """The site's TLS certificate could not be verified (see ``verify=``)."""

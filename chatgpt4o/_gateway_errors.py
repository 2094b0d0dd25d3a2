"""The gateway's errors: OpenAI's error object, and the SDK's exceptions mapped onto HTTP statuses.

==========================================================  ======  ==========================
situation                                                   status  ``error.code``
==========================================================  ======  ==========================
malformed JSON, a field of the wrong type, empty messages   400     ``invalid_json`` ...
the SDK refuses the input (``InvalidRequestError``...)      400     ``invalid_request``
the site flags the message (``MessageFlaggedError``)        400     ``content_filter``
missing or wrong API key                                    401     ``invalid_api_key``
unknown path / unknown model                                404     ``unknown_url`` / ``model_not_found``
wrong method                                                405     ``method_not_allowed``
body over the size limit (1 MiB)                            413     ``request_too_large``
guest token quota used up (``TokenLimitError``)             429     ``token_limit_reached``
the site answers 429 (``RateLimitError``)                   429     ``upstream_rate_limited``
Cloudflare challenge (``ChallengeError``), banned address,  502     ``challenge``, ``ip_banned``,
unreadable answer, upstream error, page or nonce trouble            ``bad_upstream_answer``...
the site is down or unreachable (``ServerError``,           503     ``site_unavailable``
``APIConnectionError``)
the deadline passed (``APITimeoutError``)                   504     ``site_timeout``
anything unexpected (a bug)                                 500     ``internal_error``
==========================================================  ======  ==========================

The message of a mapped SDK error is the exception's own message: the client redacts nonces,
cookies and proxy credentials before raising, so it is safe to send.
"""

from __future__ import annotations

from typing import Any

from . import exceptions as exc

__all__ = ["GatewayError", "bad_request", "from_exception"]


class GatewayError(Exception):
    """An HTTP error answer in OpenAI's shape: ``{"error": {"message", "type", "param", "code"}}``."""

    def __init__(
        self, status: int, message: str, *, type: str = "invalid_request_error", code: str | None = None,
        param: str | None = None, headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.headers = headers

    def as_dict(self) -> dict[str, Any]:
        """The JSON document of the answer."""
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def bad_request(message: str, param: str | None, code: str) -> GatewayError:
    """A 400 ``invalid_request_error``."""
    return GatewayError(400, message, param=param, code=code)


_UPSTREAM = "upstream_error"

# (classes, status, type, code): the first row that matches wins, so subclasses come first.
_TABLE: tuple[tuple[tuple[type[BaseException], ...], int, str, str], ...] = (
    ((exc.UnknownModelError,), 404, "invalid_request_error", "model_not_found"),
    ((exc.InvalidRequestError, exc.MessageTypeError), 400, "invalid_request_error", "invalid_request"),
    ((exc.MessageFlaggedError,), 400, "invalid_request_error", "content_filter"),
    ((exc.EmptyMessageError,), 400, "invalid_request_error", "empty_message"),
    ((exc.TokenLimitError,), 429, "insufficient_quota", "token_limit_reached"),
    ((exc.RateLimitError,), 429, "rate_limit_error", "upstream_rate_limited"),
    ((exc.APITimeoutError,), 504, "timeout_error", "site_timeout"),
    ((exc.TLSError,), 502, _UPSTREAM, "tls_error"),
    ((exc.ServerError, exc.APIConnectionError), 503, _UPSTREAM, "site_unavailable"),
    ((exc.ChallengeError,), 502, _UPSTREAM, "challenge"),
    ((exc.IPBannedError,), 502, _UPSTREAM, "ip_banned"),
    ((exc.SiteConfigurationError,), 502, _UPSTREAM, "site_misconfigured"),
    ((exc.UpstreamError,), 502, _UPSTREAM, "upstream_model_error"),
    ((exc.ResponseError,), 502, _UPSTREAM, "site_refused"),
    ((exc.PageError,), 502, _UPSTREAM, "chat_page_unusable"),
    ((exc.EndpointGoneError,), 502, _UPSTREAM, "endpoint_gone"),
    ((exc.NonceExpiredError,), 502, _UPSTREAM, "nonce_rejected"),
    ((exc.MalformedResponseError,), 502, _UPSTREAM, "bad_upstream_answer"),
    ((exc.HTTPStatusError,), 502, _UPSTREAM, "upstream_http_status"),
)


def from_exception(error: BaseException) -> GatewayError:
    """The answer for an exception raised by the client (``internal_error`` 500 for anything
    that is not one of the SDK's own errors: its text is not sent, it may say too much)."""
    if isinstance(error, GatewayError):
        return error
    for classes, status, kind, code in _TABLE:
        if isinstance(error, classes):
            message = " ".join(str(error).split()) or type(error).__name__
            headers: tuple[tuple[str, str], ...] = ()
            retry_after = getattr(error, "retry_after", None)
            if status in (429, 503) and isinstance(retry_after, (int, float)) and retry_after >= 0:
                headers = (("Retry-After", str(max(1, round(retry_after)))),)
            return GatewayError(status, f"{type(error).__name__}: {message}", type=kind, code=code, headers=headers)
    return GatewayError(500, "the gateway failed unexpectedly; see its log", type="server_error",
                        code="internal_error")

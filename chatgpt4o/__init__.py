"""chatgpt4o: a Python client for chatgpt4o.one and other sites running the
AI Power (wpaicg) chat shortcode.

    >>> from chatgpt4o import Client
    >>> Client().ask("Hello")                                # doctest: +SKIP

Names are imported on first use, so ``import chatgpt4o`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from .aio import Chatgpt4o, create_async, create_async_stream
    from .client import BotInfo, Client, SiteInfo
    from .conversation import Conversation
    from .exceptions import (
        APIConnectionError,
        APITimeoutError,
        BlockedError,
        BotNotFoundError,
        CacheMissError,
        ChallengeError,
        Chatgpt4oError,
        EmptyMessageError,
        EndpointGoneError,
        HTTPStatusError,
        InvalidConfigError,
        InvalidMessagesError,
        InvalidRequestError,
        IPBannedError,
        MalformedResponseError,
        MessageFlaggedError,
        MessageTypeError,
        NonceExpiredError,
        PageError,
        RateLimitError,
        ResponseError,
        ResponseTooLargeError,
        ServerError,
        SiteConfigurationError,
        StreamTruncatedError,
        TLSError,
        TokenLimitError,
        TokensNotFoundError,
        UnknownModelError,
        UpstreamError,
    )
    from .messages import format_prompt
    from .models import DEFAULT_MODEL, MODEL_ALIASES, MODELS

_EXCEPTIONS = [
    "APIConnectionError", "APITimeoutError", "BlockedError", "BotNotFoundError", "CacheMissError", "ChallengeError",
    "Chatgpt4oError",
    "EmptyMessageError", "EndpointGoneError", "HTTPStatusError", "IPBannedError", "InvalidConfigError",
    "InvalidMessagesError", "InvalidRequestError", "MalformedResponseError", "MessageFlaggedError",
    "MessageTypeError", "NonceExpiredError", "PageError", "RateLimitError", "ResponseError",
    "ResponseTooLargeError", "ServerError", "SiteConfigurationError", "StreamTruncatedError", "TLSError",
    "TokenLimitError", "TokensNotFoundError", "UnknownModelError", "UpstreamError",
]

_WHERE: dict[str, str] = {
    # Through conversation, which registers itself with Client.chat() on import.
    "Client": "conversation",
    "SiteInfo": "client",
    "BotInfo": "client",
    "Conversation": "conversation",
    "Chatgpt4o": "aio",
    "create_async": "aio",
    "create_async_stream": "aio",
    "format_prompt": "messages",
    "DEFAULT_MODEL": "models",
    "MODELS": "models",
    "MODEL_ALIASES": "models",
    **{name: "exceptions" for name in _EXCEPTIONS},
}

__all__ = [
    "DEFAULT_MODEL",
    "MODELS",
    "MODEL_ALIASES",
    "APIConnectionError",
    "APITimeoutError",
    "BlockedError",
    "BotInfo",
    "BotNotFoundError",
    "CacheMissError",
    "ChallengeError",
    "Chatgpt4o",
    "Chatgpt4oError",
    "Client",
    "Conversation",
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
    "SiteInfo",
    "StreamTruncatedError",
    "TLSError",
    "TokenLimitError",
    "TokensNotFoundError",
    "UnknownModelError",
    "UpstreamError",
    "__version__",
    "create_async",
    "create_async_stream",
    "format_prompt",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'chatgpt4o' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

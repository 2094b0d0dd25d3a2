"""chatgpt4o: a Python client for chatgpt4o.one and other sites running the
AI Power (wpaicg) chat shortcode.

    >>> from chatgpt4o import Client
    >>> Client().ask("Hello")                                # doctest: +SKIP

Names are imported on first use, so ``import chatgpt4o`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import exceptions as _exceptions
from ._version import __version__
from .exceptions import *  # light; the names are exceptions.__all__

if TYPE_CHECKING:
    from .aio import Chatgpt4o, create_async, create_async_stream
    from .client import BotInfo, Client, SiteInfo
    from .conversation import Conversation
    from .messages import format_prompt
    from .models import DEFAULT_MODEL, MODEL_ALIASES, MODELS

# Imported on first use: these pull in requests, BeautifulSoup and tenacity.
_WHERE: dict[str, str] = {
    "Client": "client",
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
}

__all__ = [
    "DEFAULT_MODEL",
    "MODELS",
    "MODEL_ALIASES",
    "BotInfo",
    "Chatgpt4o",
    "Client",
    "Conversation",
    "SiteInfo",
    "__version__",
    "create_async",
    "create_async_stream",
    "format_prompt",
]
__all__ += _exceptions.__all__


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'chatgpt4o' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    if name == "Client" and value._conversation_factory is None:
        # Client.chat() loads chatgpt4o.conversation on first use (it registers itself then).
        value._conversation_factory = _new_conversation
    globals()[name] = value
    return value


def _new_conversation(client: Client, *, system: str | None = None) -> Conversation:
    from .conversation import Conversation

    return Conversation(client, system=system)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

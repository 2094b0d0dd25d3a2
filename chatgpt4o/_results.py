"""What a client hands out besides text: :class:`SiteInfo` (``inspect``) and :class:`ChatSession` (``chat``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any, Protocol

from .protocols.wpaicg import ChatTokens

__all__ = ["ChatSession", "SiteInfo"]


class SiteInfo:
    """What a chat page says about the site, as :meth:`Client.inspect` found it.

    Attributes: ``page_url``, ``ajax_url``, ``post_id``, ``bot_id``,
    ``identity`` (the ``chatbot_identity`` sent), ``has_nonce``,
    ``plugin_version`` (``None`` if the page does not show it), ``era`` (see
    :func:`chatgpt4o.page.plugin_era`), ``stream`` (whether the site streams
    its answers), ``memory_limit``, ``sanitizes_messages`` and
    ``fetch_seconds`` (how long the page took). The nonce itself is never
    shown.
    """

    __slots__ = (
        "ajax_url",
        "bot_id",
        "era",
        "fetch_seconds",
        "has_nonce",
        "identity",
        "memory_limit",
        "page_url",
        "plugin_version",
        "post_id",
        "sanitizes_messages",
        "stream",
    )

    def __init__(self, tokens: ChatTokens, fetch_seconds: float) -> None:
        self.page_url = tokens.page_url
        self.ajax_url = tokens.ajax_url
        self.post_id = tokens.post_id
        self.bot_id = tokens.bot_id
        self.identity = tokens.identity
        self.has_nonce = bool(tokens.nonce)
        self.plugin_version = tokens.plugin_version
        self.era = tokens.era
        self.stream = tokens.stream
        self.memory_limit = tokens.memory_limit
        self.sanitizes_messages = tokens.sanitizes_messages
        self.fetch_seconds = fetch_seconds

    def as_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (JSON-ready)."""
        return {name: getattr(self, name) for name in self.__slots__}

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.as_dict().items())
        return f"SiteInfo({fields})"


class ChatSession(Protocol):
    """What :meth:`Client.chat` returns: a :class:`~chatgpt4o.Conversation`."""

    client_id: str
    history: list[dict[str, Any]]
    system: str | None

    def ask(self, message: str, *, timeout: float | None = None) -> str: ...
    def stream(self, message: str, *, timeout: float | None = None) -> Iterator[str]: ...
    async def ask_async(self, message: str, *, timeout: float | None = None) -> str: ...
    def reset(self) -> None: ...
    def to_dict(self) -> dict[str, Any]: ...
    def to_json(self) -> str: ...
    def save(self, path: str | os.PathLike[str]) -> None: ...

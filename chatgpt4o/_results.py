"""What a client hands out besides text: :class:`SiteInfo` (``inspect``, with its :class:`BotInfo`)
and :class:`ChatSession` (``chat``)."""

from __future__ import annotations

import os
from typing import Any, Literal, Protocol

from ._streaming import TextStream
from .protocols.base import BotInfo, Site

__all__ = ["BotInfo", "ChatSession", "SiteInfo"]


class SiteInfo:
    """What a chat page says about the site, as :meth:`Client.inspect` found it.

    Attributes: ``protocol`` (``"wpaicg"`` for 1.x, ``"aipkit"`` for 2.x),
    ``page_url``, ``ajax_url``, ``post_id``, ``bot_id`` (the bot used),
    ``bots`` (every bot on the page, a tuple of :class:`BotInfo`; 1.x pages
    have one), ``identity`` (1.x: the ``chatbot_identity`` sent; 2.x:
    ``None``), ``has_nonce``, ``plugin_version`` (``None`` if the page does
    not show it), ``era`` (1.x: see :func:`chatgpt4o.page.plugin_era`; 2.x:
    the first version of its era, e.g. ``"2.4.1"``), ``stream`` (whether
    answers arrive as events), ``memory_limit`` (1.x), ``sanitizes_messages``
    (1.x) and ``fetch_seconds`` (how long the page took). The nonce itself is
    never shown.
    """

    __slots__ = (
        "ajax_url",
        "bot_id",
        "bots",
        "era",
        "fetch_seconds",
        "has_nonce",
        "identity",
        "memory_limit",
        "page_url",
        "plugin_version",
        "post_id",
        "protocol",
        "sanitizes_messages",
        "stream",
    )

    def __init__(self, tokens: Site, fetch_seconds: float, *, bot_id: int | None = None) -> None:
        # Loaded by now (the page was read); imported here so a client starts without them.
        from .protocols.aipkit_page import AipkitSite
        from .protocols.wpaicg import ChatTokens

        self.protocol = tokens.protocol
        self.page_url = tokens.page_url
        self.ajax_url = tokens.ajax_url
        self.has_nonce = bool(tokens.nonce)
        self.plugin_version = tokens.plugin_version
        self.era = tokens.era_name
        self.fetch_seconds = fetch_seconds
        if isinstance(tokens, AipkitSite):
            self.post_id: Any = tokens.post_id
            self.bots = tokens.bots
            self.bot_id: Any = tokens.choose_bot(bot_id)
            self.identity: str | None = None
            self.stream = True
            self.memory_limit: int | None = None
            self.sanitizes_messages = False
            return
        assert isinstance(tokens, ChatTokens)
        self.post_id = tokens.post_id
        self.bot_id = tokens.bot_id
        number = int(tokens.bot_id) if tokens.bot_id.isdigit() else 0
        mode: Literal["inline", "popup"] = "popup" if tokens.chat_type == "widget" else "inline"
        self.bots = (BotInfo(id=number, name="", mode=mode, provider=""),)
        self.identity = tokens.identity
        self.stream = tokens.stream
        self.memory_limit = tokens.memory_limit
        self.sanitizes_messages = tokens.sanitizes_messages

    def as_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (JSON-ready: bots as dicts)."""
        out = {name: getattr(self, name) for name in self.__slots__}
        out["bots"] = [
            {"id": bot.id, "name": bot.name, "mode": bot.mode, "provider": bot.provider} for bot in self.bots
        ]
        return out

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.as_dict().items())
        return f"SiteInfo({fields})"


class ChatSession(Protocol):
    """What :meth:`Client.chat` returns: a :class:`~chatgpt4o.Conversation`."""

    client_id: str
    session_id: str
    conversation_id: str
    history: list[dict[str, Any]]
    system: str | None

    def ask(self, message: str, *, timeout: float | None = None) -> str: ...
    def stream(self, message: str, *, timeout: float | None = None) -> TextStream: ...
    async def ask_async(self, message: str, *, timeout: float | None = None) -> str: ...
    def reset(self) -> None: ...
    def to_dict(self) -> dict[str, Any]: ...
    def to_json(self) -> str: ...
    def save(self, path: str | os.PathLike[str]) -> None: ...

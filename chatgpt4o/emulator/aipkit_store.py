"""The AIPKit site's server-side state: the SSE message cache, chat logs and guest token usage.

- ``{prefix}aipkit_sse_message_cache``: ``aipkit_sse_`` + 32 alphanumerics -> the cached message;
  readable once, for ``cache_ttl`` seconds (keys compare case-insensitively, as MySQL does after
  ``sanitize_key`` lowercased the stream's ``cache_key``).
- ``{prefix}aipkit_chat_logs``: one list of messages per (bot, session id, conversation uuid).
- ``{prefix}aipkit_guest_token_usage``: tokens used per (session id, bot).

Every method takes the emulator's lock-free view of time (``now``) and is thread-safe.
"""

from __future__ import annotations

import dataclasses
import secrets
import string
import threading
from typing import Any

__all__ = ["AipkitStore", "CachedMessage"]

_ALNUM = string.ascii_letters + string.digits

ConversationKey = tuple[int, str, str]


@dataclasses.dataclass(frozen=True)
class CachedMessage:
    """One cached user message (step 1 of a turn)."""

    message: str
    client_message_id: str
    created: float


class AipkitStore:
    """The three tables, behind one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[str, CachedMessage] = {}
        self._logs: dict[ConversationKey, list[dict[str, Any]]] = {}
        self._touched: dict[ConversationKey, float] = {}
        self._usage: dict[tuple[str, int], int] = {}

    def clear(self) -> None:
        """Forget everything (a fresh site)."""
        with self._lock:
            self._cache.clear()
            self._logs.clear()
            self._touched.clear()
            self._usage.clear()

    # ---- the message cache

    def cache_message(self, message: str, client_message_id: str, now: float, ttl: float) -> str:
        """Store ``message``; return its new key."""
        key = "aipkit_sse_" + "".join(secrets.choice(_ALNUM) for _ in range(32))
        with self._lock:
            for old in [k for k, v in self._cache.items() if now - v.created > ttl + 3600]:
                del self._cache[old]  # long expired: the plugin's cleanup cron
            self._cache[key.lower()] = CachedMessage(message, client_message_id, now)
        return key

    def take_message(self, key: str, now: float, ttl: float) -> CachedMessage | str:
        """The cached message for ``key`` (deleted on read), or the stream's error text."""
        with self._lock:
            entry = self._cache.get(key.lower())
            if entry is None:
                return "Message not found in cache."
            if now - entry.created > ttl:
                return "Cached message has expired."
            del self._cache[key.lower()]
            return entry

    # ---- chat logs

    def messages(self, key: ConversationKey) -> list[dict[str, Any]]:
        """A copy of the stored messages of one conversation (``[]`` if unknown)."""
        with self._lock:
            return [dict(item) for item in self._logs.get(key, [])]

    def append(self, key: ConversationKey, item: dict[str, Any], now: float) -> None:
        """Append one message to a conversation (creating it)."""
        with self._lock:
            self._logs.setdefault(key, []).append(item)
            self._touched[key] = now

    def conversations(self, bot: int, session: str) -> list[tuple[str, list[dict[str, Any]], float]]:
        """``(conversation uuid, messages, last message time)`` of a guest, newest first."""
        with self._lock:
            found = [(key[2], [dict(m) for m in items], self._touched[key])
                     for key, items in self._logs.items() if key[0] == bot and key[1] == session]
        return sorted(found, key=lambda row: row[2], reverse=True)

    # ---- guest token usage

    def usage(self, session: str, bot: int) -> int:
        """Tokens a guest session used with a bot."""
        with self._lock:
            return self._usage.get((session, bot), 0)

    def add_usage(self, session: str, bot: int, tokens: int) -> None:
        """Record the tokens of one successful turn."""
        with self._lock:
            self._usage[(session, bot)] = self._usage.get((session, bot), 0) + tokens

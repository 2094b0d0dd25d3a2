"""Conversations: the site's own multi-turn form, kept client-side.

The page's script keeps the history in the browser and sends it with every
message as ``wpaicg_chat_history`` (``[{"id": "", "text": "Human: ..."},
{"id": "", "text": "AI: ..."}]``), trimmed to the page's
``data-memory-limit``; the server rebuilds the model's messages from it. A
:class:`Conversation` does the same: each turn sends only the new message,
with the history, under its own ``wpaicg_chat_client_id`` and its own cookie
jar, so two conversations never share server-side context.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

from .client import Client
from .exceptions import InvalidMessagesError, MessageTypeError
from .messages import check_prompt
from .protocols.wpaicg import new_client_id

__all__ = ["Conversation"]

#: Used when the page does not say (plugin 1.8.79 trimmed to 10 items).
DEFAULT_MEMORY_LIMIT = 100
_FORMAT = "chatgpt4o.conversation/1"


class Conversation:
    """A multi-turn chat with a site; create it with :meth:`Client.chat`.

    Example::

        chat = client.chat()
        chat.ask("My name is Ada.")
        chat.ask("What is my name?")     # the site sees the first turn too
        chat.save("chat.json")

    Attributes:
        client_id: the stable ``wpaicg_chat_client_id`` of this conversation.
        history: the turns so far, in the site's format (a list of
            ``{"id": ..., "text": "Human: ..." | "AI: ..."}``).

    A conversation is meant for one thread at a time; turns are recorded only
    when an answer is complete, so a failed ask leaves the history as it was.
    """

    def __init__(
        self, client: Client, *, system: str | None = None, client_id: str | None = None,
        history: list[dict[str, Any]] | None = None,
    ) -> None:
        if system is not None and not isinstance(system, str):
            raise MessageTypeError(f"system must be a str, not {type(system).__name__}")
        self._client = client
        self.system = system
        self.client_id = client_id or new_client_id()
        self.history: list[dict[str, Any]] = list(history or [])
        # Its own cookie jar over the client's connection pool.
        self._session = client._http.new_session()

    def __repr__(self) -> str:
        return f"Conversation(turns={len(self.history) // 2}, client={self._client!r})"

    def _check(self, message: object) -> str:
        if not isinstance(message, str):
            raise MessageTypeError(f"message must be a str, not {type(message).__name__}")
        if "\x00" in message:
            raise InvalidMessagesError("the message contains a NUL byte")
        check_prompt(message)
        return message

    def _window(self) -> list[dict[str, Any]]:
        limit = getattr(self._client._tokens, "memory_limit", None) or DEFAULT_MEMORY_LIMIT
        # The current turn is appended when the form is built: leave room for it,
        # and for the system prompt, which stays first however long the chat gets.
        pinned = [{"id": "", "text": f"Human: {self.system}", "system": True}] if self.system else []
        room = limit - 1 - len(pinned)
        if room <= 0:
            return pinned[: max(limit - 1, 0)]
        return pinned + self.history[-room:]

    def _record(self, message: str, answer: str) -> None:
        self.history.append({"id": "", "text": f"Human: {message}"})
        self.history.append({"id": "", "text": f"AI: {answer}"})

    def ask(self, message: str, *, timeout: float | None = None) -> str:
        """Send the next user message; return the answer and record the turn.

        Raises:
            MessageTypeError, InvalidMessagesError: bad input, before any I/O.
            Chatgpt4oError: as :meth:`Client.ask`.
        """
        message = self._check(message)
        answer = self._client._exchange(
            message, history=self._window(), client_id=self.client_id, session=self._session,
            timeout=timeout, reader=self._client._read_reply,
        )
        self._record(message, answer)
        return answer

    def stream(self, message: str, *, timeout: float | None = None) -> Iterator[str]:
        """Like :meth:`ask`, yielding the answer in pieces; the turn is recorded
        once the answer is complete (not if the caller stops early)."""
        message = self._check(message)
        pieces = self._client._stream(
            message, history=self._window(), client_id=self.client_id, session=self._session, timeout=timeout,
        )

        def generate() -> Iterator[str]:
            parts: list[str] = []
            for piece in pieces:
                parts.append(piece)
                yield piece
            self._record(message, "".join(parts))

        return generate()

    async def ask_async(self, message: str, *, timeout: float | None = None) -> str:
        """:meth:`ask` for asyncio, in the client's worker pool."""
        message = self._check(message)
        return await self._client._pool.run(lambda: self.ask(message, timeout=timeout))

    def reset(self) -> None:
        """Forget the history (the client id stays)."""
        self.history.clear()

    def to_dict(self) -> dict[str, Any]:
        """The conversation as JSON-ready data (no cookies, no nonce)."""
        return {"format": _FORMAT, "client_id": self.client_id, "system": self.system, "history": list(self.history)}

    def to_json(self) -> str:
        """:meth:`to_dict` as a JSON string."""
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=1)

    @classmethod
    def from_json(cls, client: Client, data: str | dict[str, Any]) -> Conversation:
        """Restore a conversation saved with :meth:`to_json` onto ``client``.

        Raises:
            InvalidMessagesError: the data is not a saved conversation.
        """
        try:
            value = json.loads(data) if isinstance(data, str) else data
        except ValueError as exc:
            raise InvalidMessagesError(f"not a saved conversation: {exc}") from None
        if not isinstance(value, dict) or value.get("format") != _FORMAT:
            raise InvalidMessagesError("not a saved conversation (format marker missing)")
        history = value.get("history")
        if not isinstance(history, list) or not all(
            isinstance(item, dict) and isinstance(item.get("text"), str) for item in history
        ):
            raise InvalidMessagesError("a saved conversation's history must be a list of {'id', 'text'} items")
        client_id = value.get("client_id")
        system = value.get("system")
        return cls(
            client, system=system if isinstance(system, str) else None,
            client_id=client_id if isinstance(client_id, str) and client_id else None, history=history,
        )

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`to_json` to ``path`` (atomically: a temporary file, then a rename)."""
        tmp = f"{os.fspath(path)}.tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(self.to_json())
        os.replace(tmp, path)

    @classmethod
    def load(cls, client: Client, path: str | os.PathLike[str]) -> Conversation:
        """Read a conversation written by :meth:`save`."""
        with open(path, encoding="utf-8") as handle:
            return cls.from_json(client, handle.read())


# Client.chat() builds conversations through this hook, so that client.py
# never imports this module (the dependency runs one way).
Client._conversation_factory = Conversation

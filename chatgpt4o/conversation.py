"""Conversations: the site's own multi-turn form.

1.x: the page's script keeps the history in the browser and sends it with
every message as ``wpaicg_chat_history`` (``[{"id": "", "text": "Human:
..."}, {"id": "", "text": "AI: ..."}]``), trimmed to the page's
``data-memory-limit``; the server rebuilds the model's messages from it. A
:class:`Conversation` does the same, under its own ``wpaicg_chat_client_id``
and its own cookie jar, so two conversations never share context.

2.x: the server keeps the history, under the client's ``session_id`` and the
conversation's ``conversation_id`` (a lowercase UUID); each turn sends only
the new message. The conversation still records its turns (to show, save and
count them), and a saved one continues the same server-side history when
loaded (its ``session_id`` and ``conversation_id`` travel with it).

Turns of one conversation run one at a time (a lock): each builds on the last.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterator
from typing import Any

from .client import Client, TextStream
from .exceptions import InvalidMessagesError, MessageTypeError
from .messages import check_prompt
from .protocols._ids import new_client_id, new_conversation_id

__all__ = ["Conversation"]

#: Used when the page does not say (plugin 1.8.79 trimmed to 10 items).
DEFAULT_MEMORY_LIMIT = 100
_FORMAT = "chatgpt4o.conversation/1"
_UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _uuid_or(value: object, default: str) -> str:
    return value if isinstance(value, str) and _UUID_RE.fullmatch(value) else default


class Conversation:
    """A multi-turn chat with a site; create it with :meth:`Client.chat`.

    Example::

        chat = client.chat()
        chat.ask("My name is Ada.")
        chat.ask("What is my name?")     # the site sees the first turn too
        chat.save("chat.json")

    Attributes:
        client_id: the stable ``wpaicg_chat_client_id`` of this conversation (1.x).
        session_id: the 2.x guest identity it chats under (the client's).
        conversation_id: its 2.x conversation, a lowercase UUID (new after :meth:`reset`).
        history: the turns so far, in the 1.x site's format (a list of
            ``{"id": ..., "text": "Human: ..." | "AI: ..."}``).

    ``system`` reaches the model on 1.x as the first item of the history
    sent with each turn; on 2.x, laid in front of the first message with
    :func:`chatgpt4o.format_prompt` (the server then keeps it in its history).

    Turns are serialized (a lock) and recorded only when an answer is
    complete, so a failed ask leaves the history as it was.
    """

    def __init__(
        self, client: Client, *, system: str | None = None, client_id: str | None = None,
        history: list[dict[str, Any]] | None = None, session_id: str | None = None,
        conversation_id: str | None = None,
    ) -> None:
        if system is not None and not isinstance(system, str):
            raise MessageTypeError(f"system must be a str, not {type(system).__name__}")
        self._client = client
        self.system = system
        self.client_id = client_id or new_client_id()
        self.session_id = session_id or client.session_id
        self.conversation_id = _uuid_or(conversation_id, new_conversation_id())
        self.history: list[dict[str, Any]] = list(history or [])
        self._lock = threading.Lock()
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

    def _turn(self) -> dict[str, Any]:
        # 2.x: the system prompt goes with the first message only (the server keeps it after).
        return {
            "history": self._window(), "client_id": self.client_id, "session": self._session,
            "session_id": self.session_id, "conversation_id": self.conversation_id,
            "system": self.system if not self.history else None,
        }

    def ask(self, message: str, *, timeout: float | None = None) -> str:
        """Send the next user message; return the answer and record the turn.

        Raises:
            MessageTypeError, InvalidMessagesError: bad input, before any I/O.
            Chatgpt4oError: as :meth:`Client.ask`.
        """
        message = self._check(message)
        with self._lock:
            answer = self._client._exchange(message, timeout=timeout, reader=self._client._read_reply, **self._turn())
            self._record(message, answer)
        return answer

    def stream(self, message: str, *, timeout: float | None = None) -> TextStream:
        """Like :meth:`ask`, yielding the answer in pieces; the turn is recorded
        once the answer is complete (not if the caller stops early).

        As :meth:`Client.stream`, the iterator is a context manager that closes
        the connection::

            with chat.stream("Tell me more") as pieces:
                for piece in pieces:
                    print(piece, end="", flush=True)
        """
        message = self._check(message)

        def generate() -> Iterator[str]:
            with self._lock:
                parts: list[str] = []
                pieces = self._client._stream(message, timeout=timeout, **self._turn())
                try:
                    for piece in pieces:
                        parts.append(piece)
                        yield piece
                finally:
                    pieces.close()
                self._record(message, "".join(parts))

        return TextStream(generate())

    async def ask_async(self, message: str, *, timeout: float | None = None) -> str:
        """:meth:`ask` for asyncio, in the client's worker pool."""
        message = self._check(message)
        return await self._client._pool.run(lambda: self.ask(message, timeout=timeout))

    def reset(self) -> None:
        """Forget the history: 2.x starts a new server-side conversation (the ids of the asker stay)."""
        with self._lock:
            self.history.clear()
            self.conversation_id = new_conversation_id()

    def to_dict(self) -> dict[str, Any]:
        """The conversation as JSON-ready data (no cookies, no nonce)."""
        return {
            "format": _FORMAT, "client_id": self.client_id, "system": self.system, "history": list(self.history),
            "session_id": self.session_id, "conversation_id": self.conversation_id,
        }

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
        session_id = value.get("session_id")
        return cls(
            client, system=system if isinstance(system, str) else None,
            client_id=client_id if isinstance(client_id, str) and client_id else None, history=history,
            session_id=session_id if isinstance(session_id, str) and 0 < len(session_id) <= 64 else None,
            conversation_id=value.get("conversation_id"),
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

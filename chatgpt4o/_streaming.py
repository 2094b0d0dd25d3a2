"""Reading answers, whole or in pieces, and the asyncio methods of a :class:`~chatgpt4o.Client`.

:class:`Streaming` is a mixin: ``stream``/``astream`` (answers in pieces),
``ask_async``, and the plumbing they share with ``ask`` (checking the input,
reading a whole reply). A stream reads its first piece
inside the ask's retried attempt, so a failure before any text (a stale
nonce, a used cache key, a dropped connection) is retried like one of
:meth:`~chatgpt4o.Client.ask`; once text has been handed out, a failure ends
the stream with its typed error (never a retry that could repeat text).

The iterators returned are also context managers that close the connection:
``with client.stream("Hi") as pieces:`` / ``async with client.astream("Hi") as pieces:``.
"""

from __future__ import annotations

import functools
from collections.abc import (
    AsyncIterator,
    Callable,
    Generator,
    Iterator,
    Mapping,
    Sequence,
)
from typing import TYPE_CHECKING, Any, TypeVar

import requests

from . import _config, protocols
from ._http import Transport
from ._pool import WorkerPool
from ._transport import Deadline, iter_raw, read_capped
from .messages import Messages, checked_prompt
from .protocols.base import Generation, Request

if TYPE_CHECKING:
    from typing_extensions import Self  # noqa: UP035 (typing.Self needs 3.11)

__all__ = ["AsyncTextStream", "Streaming", "TextStream"]

T = TypeVar("T")
Reader = Callable[[Generation, Request, requests.Response, Deadline], T]


class TextStream(Iterator[str]):
    """The answer's pieces as they arrive; ``close()`` (or leaving a ``with`` block) closes the connection."""

    def __init__(self, pieces: Iterator[str]) -> None:
        self._pieces = pieces

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> str:
        return next(self._pieces)

    def close(self) -> None:
        """Stop reading and close the response. Idempotent."""
        close = getattr(self._pieces, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncTextStream(AsyncIterator[str]):
    """:class:`TextStream` for asyncio; ``aclose()`` (or leaving ``async with``) closes the connection."""

    def __init__(self, pieces: AsyncIterator[str]) -> None:
        self._pieces = pieces

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> str:
        return await self._pieces.__anext__()

    async def aclose(self) -> None:
        """Stop reading and close the response. Idempotent."""
        close = getattr(self._pieces, "aclose", None)
        if close is not None:
            await close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class _Opened:
    """A streamed answer whose first piece is read (inside the retried attempt)."""

    __slots__ = ("deadline", "first", "pieces", "response")

    def __init__(self, response: requests.Response, deadline: Deadline, first: str | None, pieces: Iterator[str]):
        self.response, self.deadline, self.first, self.pieces = response, deadline, first, pieces


class Streaming:
    """``stream``, ``astream`` and ``ask_async`` over a client's ``_exchange``."""

    if TYPE_CHECKING:
        _http: Transport
        _pool: WorkerPool
        _session_id: str

        def _redact(self, text: str) -> str: ...

        def _exchange(
            self, message: str, *, history: Sequence[Mapping[str, Any]], client_id: str,
            session: requests.Session | None, timeout: float | None, reader: Reader[T],
            bot_id: int | None = None, conversation_id: str | None = None, system: str | None = None,
            session_id: str | None = None,
        ) -> T: ...

        _client_id: str

    def _prompt(
        self, messages: Messages, model: str | None, timeout: float | None = None, bot_id: int | None = None,
    ) -> str:
        protocols.check_bot_id(bot_id)
        return checked_prompt(messages, model, {}, timeout)

    def _read_reply(
        self, generation: Generation, request: Request, response: requests.Response, deadline: Deadline,
    ) -> str:
        try:
            body = read_capped(response, _config.MAX_REPLY_BYTES)
        finally:
            response.close()
        return generation.read_reply(response.status_code, response.headers, body, self._redact, request.context)

    def stream(
        self, messages: Messages, model: str | None = None, *, timeout: float | None = None,
        bot_id: int | None = None,
    ) -> TextStream:
        """Like :meth:`ask`, but yield the answer in pieces as they arrive.

        When the site does not stream (a 1.x box with ``data-openai_stream_nav``
        off), the whole answer comes as one piece. Stopping early (``break``,
        ``close()``, or leaving a ``with`` block) closes the response. Input
        is checked when this is called, before any I/O; network errors
        surface while iterating. A 2.x answer that ends without its end
        marker raises :class:`~chatgpt4o.StreamTruncatedError` at the end.

        Example::

            with client.stream("Tell me a story") as pieces:
                for piece in pieces:
                    print(piece, end="", flush=True)
        """
        prompt = self._prompt(messages, model, timeout, bot_id)
        return TextStream(self._stream(
            prompt, history=(), client_id=self._client_id, session=None, timeout=timeout, bot_id=bot_id,
        ))

    def _stream(
        self, message: str, *, history: Sequence[Mapping[str, Any]], client_id: str,
        session: requests.Session | None, timeout: float | None, bot_id: int | None = None,
        conversation_id: str | None = None, system: str | None = None, session_id: str | None = None,
    ) -> Generator[str, None, None]:
        def reader(
            generation: Generation, request: Request, response: requests.Response, deadline: Deadline,
        ) -> str | _Opened:
            # Loaded with the generations by now.
            from .sse import is_event_stream

            if not is_event_stream(response.headers):
                return self._read_reply(generation, request, response, deadline)
            pieces = generation.iter_text(iter_raw(response), self._redact, request.context)
            try:
                first = next(pieces, None)
            except BaseException:
                response.close()
                raise
            return _Opened(response, deadline, first, pieces)

        def generate() -> Generator[str, None, None]:
            opened = self._exchange(
                message, history=history, client_id=client_id, session=session, timeout=timeout, reader=reader,
                bot_id=bot_id, conversation_id=conversation_id, system=system, session_id=session_id,
            )
            if isinstance(opened, str):
                yield opened
                return
            try:
                if opened.first is not None:
                    yield opened.first
                yield from self._http.iter_pieces(opened.response, opened.deadline, opened.pieces)
            finally:
                opened.response.close()

        return generate()

    async def ask_async(
        self, messages: Messages, model: str | None = None, *, timeout: float | None = None,
        bot_id: int | None = None,
    ) -> str:
        """:meth:`ask` for asyncio: runs in the client's worker pool, never blocks the loop.

        The pool has ``max_concurrency`` threads, so that many asks run at
        once. Works inside a running loop (Jupyter). Input is checked before
        any I/O.
        """
        prompt = self._prompt(messages, model, None, bot_id)
        call = functools.partial(
            self._exchange, prompt, history=(), client_id=self._client_id, session=None, timeout=timeout,
            reader=self._read_reply, bot_id=bot_id,
        )
        return await self._pool.run(call)

    def astream(
        self, messages: Messages, model: str | None = None, *, timeout: float | None = None,
        bot_id: int | None = None,
    ) -> AsyncTextStream:
        """:meth:`stream` for asyncio: an async iterator fed from a worker thread.

        Example::

            async with client.astream("Hi") as pieces:
                async for piece in pieces:
                    print(piece, end="")
        """
        prompt = self._prompt(messages, model, timeout, bot_id)
        return AsyncTextStream(self._pool.aiter(self._stream(
            prompt, history=(), client_id=self._client_id, session=None, timeout=timeout, bot_id=bot_id,
        )))

"""The client's asyncio bridge: a thread pool that runs blocking asks off the event loop."""

from __future__ import annotations

import functools
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    import concurrent.futures

from .exceptions import Chatgpt4oError

__all__ = ["WorkerPool"]

T = TypeVar("T")


class WorkerPool:
    """``size`` threads, started on first use; closed with the client."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._closed = False

    async def run(self, call: Callable[[], T]) -> T:
        """Run ``call`` in the pool (with the caller's context variables) and await it."""
        import asyncio
        import contextvars

        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()
        return await loop.run_in_executor(self._get(), context.run, call)

    async def aiter(self, iterator: Iterator[T]) -> AsyncIterator[T]:
        """An async iterator over a blocking one, each step in the pool; closes it at the end."""
        sentinel = object()
        try:
            while True:
                item = await self.run(functools.partial(next, iterator, sentinel))
                if item is sentinel:
                    return
                yield item
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                await self.run(close)

    def _get(self) -> concurrent.futures.ThreadPoolExecutor:
        executor = self._executor
        if executor is None:
            with self._lock:
                if self._closed:
                    raise Chatgpt4oError("this Client is closed")
                if self._executor is None:
                    import concurrent.futures  # with the first async call, as the threads

                    self._executor = concurrent.futures.ThreadPoolExecutor(
                        max_workers=self._size, thread_name_prefix="chatgpt4o"
                    )
                executor = self._executor
        return executor

    def close(self) -> None:
        """Stop the threads (running asks finish); later use raises. Idempotent."""
        with self._lock:
            self._closed = True
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False)

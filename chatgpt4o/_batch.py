"""Many prompts at once: :meth:`Batching.ask_many` and :meth:`Batching.ask_many_async`.

The work is in :mod:`._batch_run`, loaded on the first batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from ._config import Settings, check_timeout

if TYPE_CHECKING:
    from ._batch_run import Results
    from .messages import Messages

__all__ = ["Batching"]


class Batching:
    """:meth:`ask_many` and :meth:`ask_many_async`, on top of a client's ``ask``/``ask_async``."""

    if TYPE_CHECKING:
        _settings: Settings

        def ask(self, messages: Messages, model: str | None = None, *, timeout: float | None = None,
                bot_id: int | None = None) -> str: ...

        async def ask_async(self, messages: Messages, model: str | None = None, *, timeout: float | None = None,
                            bot_id: int | None = None) -> str: ...

    def ask_many(
        self,
        prompts: Iterable[Messages],
        *,
        concurrency: int = 8,
        timeout: float | None = None,
        return_exceptions: bool = True,
        progress: bool | Callable[[int, int], None] = False,
    ) -> Results:
        """Ask many prompts, ``concurrency`` at a time; answers come back in input order.

        Every prompt is checked before any I/O. A prompt that fails does not
        lose the others: its place in the list holds the exception (or, with
        ``return_exceptions=False``, the first failure is raised once all
        asks have ended).

        Args:
            prompts: strings or message lists, as for :meth:`ask`.
            concurrency: asks in flight at once (at most ``max_concurrency``).
            timeout: per ask, as for :meth:`ask`.
            progress: ``True`` prints ``done/total`` on stderr when it is a
                terminal; a callable gets ``(done, total)`` after each ask.

        Example::

            answers = client.ask_many(["Hi", "Bonjour", "Hola"], concurrency=3)
        """
        if timeout is not None:
            check_timeout(timeout)
        from ._batch_run import ask_all, check_prompts

        checked = check_prompts(prompts, concurrency, self._settings.max_concurrency)
        return ask_all(
            lambda prompt: self.ask(prompt, timeout=timeout), checked, concurrency=concurrency,
            return_exceptions=return_exceptions, progress=progress,
        )

    async def ask_many_async(
        self,
        prompts: Iterable[Messages],
        *,
        concurrency: int = 8,
        timeout: float | None = None,
        return_exceptions: bool = True,
    ) -> Results:
        """:meth:`ask_many` for asyncio; the asks run in the client's worker pool."""
        if timeout is not None:
            check_timeout(timeout)
        from ._batch_run import ask_all_async, check_prompts

        checked = check_prompts(prompts, concurrency, self._settings.max_concurrency)
        return await ask_all_async(
            lambda prompt: self.ask_async(prompt, timeout=timeout), checked, concurrency=concurrency,
            return_exceptions=return_exceptions,
        )

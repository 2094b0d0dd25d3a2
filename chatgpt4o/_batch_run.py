"""The work of ``ask_many``: prompts checked up front, asked ``concurrency`` at a time, answered in order.

Loaded by :mod:`._batch` on the first batch.
"""

from __future__ import annotations

import concurrent.futures
import sys
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence

from .exceptions import (
    Chatgpt4oError,
    InvalidConfigError,
    InvalidRequestError,
    MessageTypeError,
)
from .messages import Messages, format_prompt

__all__ = ["Results", "ask_all", "ask_all_async", "check_prompts"]

Results = list[str | Chatgpt4oError]


def check_prompts(prompts: Iterable[Messages], concurrency: int, max_concurrency: int) -> list[str]:
    """Every prompt formatted and checked before any I/O; errors name the prompt's index."""
    if isinstance(prompts, (str, bytes, Mapping)) or not isinstance(prompts, Iterable):
        raise MessageTypeError("prompts must be an iterable of prompts (strings or message lists)")
    if isinstance(concurrency, bool) or not isinstance(concurrency, int):
        raise MessageTypeError(f"concurrency must be an int, not {type(concurrency).__name__}")
    if not 1 <= concurrency <= max_concurrency:
        raise InvalidConfigError(
            f"concurrency must be between 1 and max_concurrency ({max_concurrency}), "
            f"not {concurrency}; create the Client with a larger max_concurrency"
        )
    checked = []
    for index, prompt in enumerate(prompts):
        try:
            checked.append(format_prompt(prompt))
        except (InvalidRequestError, MessageTypeError) as exc:
            raise type(exc)(f"prompts[{index}]: {exc}") from None
    return checked


def _finish(results: Results, return_exceptions: bool) -> Results:
    if not return_exceptions:
        for item in results:
            if isinstance(item, Chatgpt4oError):
                raise item
    return results


def _progress_reporter(progress: bool | Callable[[int, int], None], total: int) -> Callable[[int], None]:
    """``report(done)`` after each ask, ``report(-1)`` at the end."""
    if callable(progress):
        return lambda done: None if done < 0 else progress(done, total)
    if not progress or not sys.stderr.isatty():
        return lambda done: None

    def report(done: int) -> None:
        sys.stderr.write("\n" if done < 0 else f"\r{done}/{total}")
        sys.stderr.flush()

    return report


def ask_all(
    ask: Callable[[str], str], checked: Sequence[str], *, concurrency: int, return_exceptions: bool,
    progress: bool | Callable[[int, int], None],
) -> Results:
    """``ask`` every checked prompt in a pool of ``concurrency`` threads."""
    report = _progress_reporter(progress, len(checked))
    results: Results = [""] * len(checked)
    done = 0
    lock = threading.Lock()

    def one(index: int) -> None:
        nonlocal done
        try:
            results[index] = ask(checked[index])
        except Chatgpt4oError as exc:
            results[index] = exc
        with lock:
            done += 1
            report(done)

    with concurrent.futures.ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="chatgpt4o-many") as pool:
        list(pool.map(one, range(len(checked))))
    report(-1)
    return _finish(results, return_exceptions)


async def ask_all_async(
    ask: Callable[[str], Awaitable[str]], checked: Sequence[str], *, concurrency: int, return_exceptions: bool,
) -> Results:
    """``await ask`` every checked prompt, ``concurrency`` at a time."""
    import asyncio

    gate = asyncio.Semaphore(concurrency)

    async def one(prompt: str) -> str | Chatgpt4oError:
        async with gate:
            try:
                return await ask(prompt)
            except Chatgpt4oError as exc:
                return exc

    return _finish(list(await asyncio.gather(*(one(p) for p in checked))), return_exceptions)

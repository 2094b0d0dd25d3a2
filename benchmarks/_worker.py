"""Figures that need a fresh process; run.py starts one per figure and reads one JSON line.

    python benchmarks/_worker.py concurrent --url URL --n 64
    python benchmarks/_worker.py to_thread --url URL --n 64
    python benchmarks/_worker.py rss --url URL [--ca FILE] --asks 5000 --n 64

Over HTTPS run.py puts the emulator's certificate in ``REQUESTS_CA_BUNDLE``: ``create_async``
takes no ``verify`` argument (like the provider it mirrors), so that is how it trusts a private CA.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import threading
import time
from typing import Any

import _common


def concurrent(url: str, n: int) -> dict[str, Any]:
    """``n`` concurrent ``create_async`` calls in a fresh process: cold (first batch: page
    fetch, new connections), then warm (the cached client, kept-alive connections)."""
    import chatgpt4o

    create_async = chatgpt4o.create_async  # imports the client now: import time is its own figure
    messages = [[{"role": "user", "content": _common.prompt(i)}] for i in range(n)]

    async def batch() -> float:
        started = time.perf_counter()
        answers = await asyncio.gather(
            *(create_async("gpt-4o-mini", m, base_url=url, timeout=60) for m in messages)
        )
        wall = time.perf_counter() - started
        if not all(a.startswith("echo: ") for a in answers):
            raise RuntimeError("unexpected answers")
        return wall

    async def main() -> dict[str, Any]:
        cold = await batch()
        warm = [await batch() for _ in range(3)]
        return {"cold": cold, "warm": warm, "threads_peak": threading.active_count()}

    result = asyncio.run(main())
    chatgpt4o.Chatgpt4o.close_clients()
    return result


def to_thread(url: str, n: int, verify: bool | str) -> dict[str, Any]:
    """The naive shim: ``asyncio.to_thread(client.ask)`` on the loop's default executor."""
    import os

    from chatgpt4o import Client

    with Client(url, verify=verify) as client:
        client.ask("warm up")

        async def main() -> float:
            started = time.perf_counter()
            await asyncio.gather(*(asyncio.to_thread(client.ask, _common.prompt(i)) for i in range(n)))
            return time.perf_counter() - started

        wall = asyncio.run(main())
    return {"wall": wall, "default_workers": min(32, (os.cpu_count() or 1) + 4)}


def rss(url: str, verify: bool | str, asks: int, n: int, step: int) -> dict[str, Any]:
    """Peak RSS around ``n`` concurrent asks, then RSS samples over ``asks`` more asks."""
    from chatgpt4o import Client

    with Client(url, verify=verify, max_concurrency=max(n, 8)) as client:
        client.ask("warm up")
        before = _common.rss_now_kb()
        answers = client.ask_many([_common.prompt(i) for i in range(n)], concurrency=n, return_exceptions=False)
        assert len(answers) == n
        peak = _common.rss_peak_kb()
        after_burst = _common.rss_now_kb()
        samples: list[tuple[int, int]] = []
        done = 0
        while done < asks:
            chunk = min(step, asks - done)
            client.ask_many([_common.prompt(done + i) for i in range(chunk)], concurrency=8, return_exceptions=False)
            done += chunk
            samples.append((done, _common.rss_now_kb()))
    return {"before_kb": before, "peak_kb": peak, "after_burst_kb": after_burst, "samples": samples,
            "peak_total_kb": _common.rss_peak_kb()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("figure", choices=("concurrent", "to_thread", "rss"))
    parser.add_argument("--url", required=True)
    parser.add_argument("--ca")
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--asks", type=int, default=5000)
    parser.add_argument("--step", type=int, default=500)
    args = parser.parse_args(argv)
    verify: bool | str = args.ca or True
    if args.figure == "concurrent":
        result = concurrent(args.url, args.n)
    elif args.figure == "to_thread":
        result = to_thread(args.url, args.n, verify)
    else:
        result = rss(args.url, verify, args.asks, args.n, args.step)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

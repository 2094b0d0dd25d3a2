"""2.x (AIPKit) sites: what a turn of two requests costs, side by side with a plain ``requests`` loop.

    python benchmarks/aipkit.py            # full run: 5 rounds of 300 sequential asks per side, 5 rounds
                                           # of the concurrent bursts; HTTP and HTTPS (about 40 s)
    python benchmarks/aipkit.py --quick    # smoke run: 3 rounds of 100, 2 rounds of the bursts

Figures, each over HTTP and HTTPS against the emulator's 2.4.71 site:

* requests per warm ask, page fetches and new connections over 100 warm asks (in-process
  emulator, exact counters; targets 2, 0 and 0);
* sequential asks: the client against a plain ``requests`` loop doing the same two steps (cache
  POST, then the event stream read to its ``done``), the emulator in its own process, the order
  alternating from round to round; the ratio of medians (target <= 1.10);
* 64 concurrent asks at 300 ms server latency per request (the emulator's ``cache_latency`` on the
  cache POST, its ``latency`` spread over the stream's events), the emulator in its own process:
  the wall time of a burst on a warm pool against the 600 ms floor of two sequential requests
  (target <= 1.3) and against one ask alone (the floor the emulator really imposes), for
  ``ask_many`` and ``ask_many_async``; the first, cold burst of a fresh client; and, as an anchor,
  64 threads each with a warm ``requests.Session`` doing the two steps. Rounds interleaved, medians;
* 64 concurrent asks across one nonce rotation: refresh requests and page fetches (targets 1, 0).

Nothing here is asserted by the test suite.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time
import uuid

import requests

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks._common import EmulatorProcess, machine_facts, median, prompt
from chatgpt4o import Client
from chatgpt4o.emulator import Emulator

ERA = "2.4.71"
LATENCY = 0.3  # seconds of server latency on each request of a turn


def _config(page: str) -> dict[str, object]:
    import html

    start = page.index("data-config='") + len("data-config='")
    return dict(json.loads(html.unescape(page[start:page.index("'", start)])))


def plain_loop(page_url: str, verify: bool | str, n: int) -> float:
    """Seconds per ask of a hand-written loop: read the page once, then cache POST + stream GET per ask."""
    session = requests.Session()
    session.trust_env = False
    cfg = _config(session.get(page_url, verify=verify, timeout=30).text)
    ajax, nonce, bot = str(cfg["ajaxUrl"]), str(cfg["nonce"]), str(cfg["botId"])
    sid = str(uuid.uuid4())

    def ask(text: str) -> str:
        key = session.post(ajax, data={"action": "aipkit_cache_sse_message", "_ajax_nonce": nonce, "bot_id": bot,
                                       "message": text, "user_client_message_id": "m"},
                           verify=verify, timeout=30).json()["data"]["cache_key"]
        params = {"action": "aipkit_frontend_chat_stream", "cache_key": key, "bot_id": bot, "session_id": sid,
                  "conversation_uuid": str(uuid.uuid4()), "_ts": "1", "_ajax_nonce": nonce}
        parts: list[str] = []
        event = "message"
        answer = None
        # Read to the end of the body, past ``done``: a response closed unread takes its connection
        # with it, and the loop would pay a new connection (a TLS handshake) per ask.
        with session.get(ajax, params=params, verify=verify, timeout=30, stream=True) as response:
            for line in response.iter_lines(decode_unicode=True):
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    if event == "done":
                        answer = "".join(parts)
                    elif event == "message":
                        parts.append(json.loads(line[5:]).get("delta", ""))
                elif not line:
                    event = "message"
        if answer is None:
            raise RuntimeError("no done event")
        return answer

    ask("warm up")
    started = time.perf_counter()
    for i in range(n):
        if not ask(prompt(i)).startswith("echo: "):
            raise RuntimeError("unexpected answer")
    elapsed = (time.perf_counter() - started) / n
    session.close()
    return elapsed


def ours(page_url: str, verify: bool | str, n: int) -> float:
    with Client(page_url, verify=verify) as client:
        client.ask("warm up")
        started = time.perf_counter()
        for i in range(n):
            if not client.ask(prompt(i)).startswith("echo: "):
                raise RuntimeError("unexpected answer")
        return (time.perf_counter() - started) / n


def warm_counts(tls: bool, n: int = 100) -> dict[str, float]:
    with Emulator(era=ERA, tls=tls) as emu, Client(emu.base_url, verify=emu.ca_file or True) as client:
        client.ask("warm up")
        before = emu.stats
        for i in range(n):
            client.ask(prompt(i))
        after = emu.stats
    return {key: (after[key] - before[key]) / (n if key == "requests" else 1)
            for key in ("requests", "page_fetches", "connections")}


def _plain_two_steps(session: requests.Session, cfg: dict[str, object], verify: bool | str, text: str) -> None:
    """One turn as a hand-written client does it: cache POST, then the stream read to its ``done``."""
    ajax, nonce, bot = str(cfg["ajaxUrl"]), str(cfg["nonce"]), str(cfg["botId"])
    key = session.post(ajax, data={"action": "aipkit_cache_sse_message", "_ajax_nonce": nonce, "bot_id": bot,
                                   "message": text, "user_client_message_id": "m"},
                       verify=verify, timeout=30).json()["data"]["cache_key"]
    params = {"action": "aipkit_frontend_chat_stream", "cache_key": key, "bot_id": bot,
              "session_id": str(uuid.uuid4()), "conversation_uuid": str(uuid.uuid4()), "_ts": "1",
              "_ajax_nonce": nonce}
    with session.get(ajax, params=params, verify=verify, timeout=30, stream=True) as response:
        done = any(line.startswith("event: done") for line in list(response.iter_lines(decode_unicode=True)))
    if not done:  # the body was read to its end, so the connection goes back to the pool
        raise RuntimeError("no done event")


def concurrent_latency(tls: bool, asks: int = 64, latency: float = 0.3, rounds: int = 3) -> dict[str, float]:
    """``asks`` concurrent asks with ``latency`` seconds on each of the two requests of a turn.

    The emulator delays the cache step by ``cache_latency`` and spreads ``latency`` over the
    stream's events. Figures (seconds, medians over ``rounds`` interleaved rounds):

    * ``cold``: the first burst of a fresh client (page read, ``asks`` new connections, threads);
    * ``alone``: one ask by itself on the warm client (the floor the emulator really imposes);
    * ``warm``/``warm_async``: ``ask_many``/``ask_many_async`` once the pool holds ``asks``
      kept-alive connections (opened by the cold burst, under latency, so all of them overlap);
    * ``plain``: ``asks`` threads, each with its own warm ``requests.Session``, doing the two steps;
    * ``warm_connections``: connections opened during the warm bursts (0 when the pool is warm);
    * ``client_cpu``/``server_cpu``: CPU seconds per warm ``ask_many`` burst in each process;
      ``plain_cpu``: the anchor's CPU seconds per burst.
    """
    import asyncio
    import concurrent.futures

    prompts = [prompt(i) for i in range(asks)]
    server = EmulatorProcess(tls=tls, era=ERA, page_size=20_000)
    try:
        server.configure(latency=latency, cache_latency=latency)
        out: dict[str, float] = {}
        runs: dict[str, list[float]] = {"alone": [], "warm": [], "warm_async": [], "plain": []}
        client_cpu: list[float] = []
        plain_cpu: list[float] = []
        server_cpu: list[float] = []
        sessions = [requests.Session() for _ in range(asks)]
        for session in sessions:
            session.trust_env = False
        cfg = _config(sessions[0].get(server.page_url, verify=server.verify, timeout=30).text)
        with Client(server.page_url, verify=server.verify, max_concurrency=asks) as client, \
                concurrent.futures.ThreadPoolExecutor(max_workers=asks) as plain_pool:
            connections = server.stats()["connections"]
            started = time.perf_counter()
            client.ask_many(prompts, concurrency=asks, return_exceptions=False)
            out["cold"] = time.perf_counter() - started
            out["cold_connections"] = server.stats()["connections"] - connections

            def plain_burst() -> None:
                cpu = time.process_time()
                list(plain_pool.map(lambda i: _plain_two_steps(sessions[i], cfg, server.verify, prompts[i]),
                                    range(asks)))
                plain_cpu.append(time.process_time() - cpu)

            async def burst_async() -> None:
                await client.ask_many_async(prompts, concurrency=asks, return_exceptions=False)

            def burst() -> None:
                cpu, served = time.process_time(), server.cpu_seconds()
                client.ask_many(prompts, concurrency=asks, return_exceptions=False)
                client_cpu.append(time.process_time() - cpu)
                server_cpu.append(server.cpu_seconds() - served)

            sides = {"alone": lambda: client.ask(prompts[1]), "warm": burst,
                     "warm_async": lambda: asyncio.run(burst_async()), "plain": plain_burst}
            plain_burst()  # opens the anchor's connections, not timed
            asyncio.run(burst_async())  # starts the client's async worker threads, not timed
            connections = server.stats()["connections"]
            order = list(sides)
            for r in range(rounds):
                for name in order[r % len(order):] + order[: r % len(order)]:
                    started = time.perf_counter()
                    sides[name]()
                    runs[name].append(time.perf_counter() - started)
            out["warm_connections"] = server.stats()["connections"] - connections
        for session in sessions:
            session.close()
        out.update({name: median(values) for name, values in runs.items()})
        out["client_cpu"], out["server_cpu"], out["plain_cpu"] = median(client_cpu), median(server_cpu), median(plain_cpu)
        return out
    finally:
        server.stop()


def rotation(tls: bool, asks: int = 64) -> dict[str, int]:
    with Emulator(era=ERA, tls=tls) as emu, Client(emu.base_url, verify=emu.ca_file or True,
                                                    max_concurrency=asks) as client:
        client.ask("warm up")
        emu.rotate_nonce()
        before = emu.stats
        answers = client.ask_many([prompt(i) for i in range(asks)], concurrency=asks, return_exceptions=False)
        after = emu.stats
    assert all(str(a).startswith("echo: ") for a in answers)
    return {key: after[key] - before[key] for key in ("nonce_refreshes", "page_fetches", "stale_nonce")}


def _versus(seconds: float, alone: float) -> str:
    floor = 2 * LATENCY
    return (f"{seconds * 1000:.0f} ms = {seconds / floor:.3f} x the {floor * 1000:.0f} ms floor, "
            f"{seconds / alone:.3f} x one ask alone")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 3 rounds of 100 sequential asks, 2 rounds of the concurrent bursts")
    args = parser.parse_args()
    rounds, n, conc_rounds = (3, 100, 2) if args.quick else (5, 300, 5)
    print(json.dumps(machine_facts()))
    for tls in (False, True):
        scheme = "https" if tls else "http"
        counts = warm_counts(tls)
        print(f"{scheme}: warm ask: {counts['requests']:.2f} requests, {counts['page_fetches']:.0f} page fetches, "
              f"{counts['connections']:.0f} new connections over 100 asks (targets 2, 0, 0)")
        server = EmulatorProcess(tls=tls, era=ERA, page_size=20_000)
        try:
            mine: list[float] = []
            plain: list[float] = []
            for r in range(rounds):
                sides = [(mine, ours), (plain, plain_loop)]
                for bucket, run in sides if r % 2 == 0 else reversed(sides):
                    bucket.append(run(server.page_url, server.verify, n))
        finally:
            server.stop()
        ratio = median(mine) / median(plain)
        print(f"{scheme}: {n} sequential asks: client {median(mine) * 1000:.2f} ms/ask, plain requests loop "
              f"{median(plain) * 1000:.2f} ms/ask, ratio {ratio:.3f} (target <= 1.10)")
        lat = concurrent_latency(tls, rounds=conc_rounds)
        alone = lat["alone"]
        versus = functools.partial(_versus, alone=alone)

        print(f"{scheme}: 64 concurrent asks, {LATENCY * 1000:.0f} ms server latency on each of the two steps; "
              f"one ask alone {alone * 1000:.0f} ms (median of {conc_rounds})")
        print(f"{scheme}:   ask_many, warm pool: {versus(lat['warm'])} (target <= 1.3 x the floor); "
              f"{lat['warm_connections']:.0f} new connections; CPU per burst: client {lat['client_cpu'] * 1000:.0f} ms,"
              f" emulator {lat['server_cpu'] * 1000:.0f} ms")
        print(f"{scheme}:   ask_many_async, warm pool: {versus(lat['warm_async'])}")
        print(f"{scheme}:   cold (fresh client: page read, {lat['cold_connections']:.0f} new connections, "
              f"threads): {versus(lat['cold'])} (report)")
        print(f"{scheme}:   anchor: 64 threads, one warm requests.Session each, the two steps: "
              f"{versus(lat['plain'])}; CPU per burst {lat['plain_cpu'] * 1000:.0f} ms (report)")
        rot = rotation(tls)
        print(f"{scheme}: 64 concurrent asks across one nonce rotation: {rot['nonce_refreshes']} refresh requests, "
              f"{rot['page_fetches']} page fetches, {rot['stale_nonce']} stale-nonce answers (targets 1, 0)")


if __name__ == "__main__":
    main()

"""Scale: ``Client.ask_many`` / ``ask_many_async`` and a picklable ``Client`` (issue 6).

Everything runs against the emulator over real sockets. Bounded concurrency is checked with the
emulator's counters, never with timings: the emulator holds each answer for a while, so every
ask in flight needs a connection of its own, and the number of TCP connections the client opened
is the peak number of asks it had in flight.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import pickle
from typing import Any

import pytest

from chatgpt4o import (
    Client,
    InvalidMessagesError,
    MessageTypeError,
    ServerError,
)
from chatgpt4o.emulator import Emulator

pytestmark = pytest.mark.integration


def _prompts(n: int) -> list[str]:
    return [f"question {i}" for i in range(n)]


def _expected(n: int) -> list[str]:
    return [f"echo: question {i}" for i in range(n)]


@pytest.fixture
def emu(wpaicg_emulator_factory: Any) -> Emulator:
    emulator: Emulator = wpaicg_emulator_factory()
    return emulator


# ---------------------------------------------------------------- ask_many


def test_ask_many_answers_in_input_order(emu: Emulator) -> None:
    # Replies of varying size, and several workers: completion order differs from input order.
    emu.configure(latency=0.02)
    prompts = [f"question {i} " + "x" * (37 * (i % 5)) for i in range(24)]
    with Client(emu.page_url, max_retries=0) as client:
        answers = client.ask_many(prompts, concurrency=6)
    assert answers == [f"echo: {p}" for p in prompts]
    assert emu.stats["ajax_posts"] == len(prompts)
    assert emu.stats["page_fetches"] == 1


@pytest.mark.parametrize("concurrency", [1, 3], ids=["one-at-a-time", "three"])
def test_ask_many_bounds_the_asks_in_flight(emu: Emulator, concurrency: int) -> None:
    # Each answer takes 0.15 s, so asks in flight at once each hold a connection: the number
    # of connections opened is the peak in flight. Unbounded, 12 asks would open 12.
    emu.configure(latency=0.15)
    with Client(emu.page_url, max_retries=0) as client:
        answers = client.ask_many(_prompts(12), concurrency=concurrency)
    assert answers == _expected(12)
    assert emu.stats["connections"] == concurrency


def test_ask_many_refuses_a_concurrency_above_the_pool(emu: Emulator) -> None:
    with Client(emu.page_url, max_concurrency=4) as client, pytest.raises(ValueError, match="max_concurrency"):
        client.ask_many(_prompts(3), concurrency=5)
    assert emu.stats["requests"] == 0


@pytest.mark.parametrize("concurrency", [1, 4], ids=["sequential", "concurrent"])
def test_ask_many_captures_errors_per_item_and_keeps_the_other_answers(emu: Emulator, concurrency: int) -> None:
    with Client(emu.page_url, max_retries=0) as client:
        client.ask("warm up")  # the page is read before the burst starts
        emu.configure(fault="503", fault_count=3, retry_after="0")
        results = client.ask_many(_prompts(10), concurrency=concurrency)
    failed = [i for i, r in enumerate(results) if isinstance(r, Exception)]
    assert len(failed) == 3
    assert all(isinstance(results[i], ServerError) for i in failed)
    assert all(results[i] == f"echo: question {i}" for i in range(10) if i not in failed)
    if concurrency == 1:  # in input order, the burst hits the first three
        assert failed == [0, 1, 2]


def test_ask_many_return_exceptions_false_raises_after_every_ask_ended(emu: Emulator) -> None:
    with Client(emu.page_url, max_retries=0) as client:
        client.ask("warm up")
        emu.configure(fault="503", fault_count=1, retry_after="0")
        emu.reset_stats()
        with pytest.raises(ServerError):
            client.ask_many(_prompts(6), concurrency=2, return_exceptions=False)
    assert emu.stats["ajax_posts"] == 6


@pytest.mark.parametrize(
    ("bad", "error"),
    [("", InvalidMessagesError), (42, MessageTypeError), ([{"role": "bogus", "content": "x"}], InvalidMessagesError)],
    ids=["empty", "not-a-prompt", "unknown-role"],
)
def test_ask_many_refuses_bad_prompts_before_any_io(emu: Emulator, bad: Any, error: type[Exception]) -> None:
    prompts: list[Any] = ["fine", "also fine", bad, "fine again"]
    with Client(emu.page_url) as client, pytest.raises(error, match=r"prompts\[2\]"):
        client.ask_many(prompts)
    assert emu.stats["requests"] == 0
    assert emu.stats["connections"] == 0


def test_ask_many_refuses_a_bare_string(emu: Emulator) -> None:
    with Client(emu.page_url) as client, pytest.raises(MessageTypeError):
        client.ask_many("one prompt, not a list")
    assert emu.stats["requests"] == 0


def test_ask_many_calls_progress_with_done_and_total(emu: Emulator) -> None:
    calls: list[tuple[int, int]] = []
    with Client(emu.page_url) as client:
        client.ask_many(_prompts(7), concurrency=3, progress=lambda done, total: calls.append((done, total)))
    assert sorted(calls) == [(done, 7) for done in range(1, 8)]
    assert calls[-1] == (7, 7)


def test_ask_many_of_nothing_is_empty(emu: Emulator) -> None:
    with Client(emu.page_url) as client:
        assert client.ask_many([]) == []
    assert emu.stats["requests"] == 0


# ---------------------------------------------------------------- ask_many_async


def test_ask_many_async_answers_in_order_with_bounded_concurrency(emu: Emulator) -> None:
    emu.configure(latency=0.15)
    with Client(emu.page_url, max_retries=0) as client:
        answers = asyncio.run(client.ask_many_async(_prompts(10), concurrency=2))
    assert answers == _expected(10)
    assert emu.stats["connections"] == 2


def test_ask_many_async_captures_errors_per_item(emu: Emulator) -> None:
    with Client(emu.page_url, max_retries=0) as client:
        client.ask("warm up")
        emu.configure(fault="503", fault_count=2, retry_after="0")
        results = asyncio.run(client.ask_many_async(_prompts(8), concurrency=4))
    failed = [i for i, r in enumerate(results) if isinstance(r, Exception)]
    assert len(failed) == 2
    assert all(isinstance(results[i], ServerError) for i in failed)
    assert all(results[i] == f"echo: question {i}" for i in range(8) if i not in failed)


def test_ask_many_async_return_exceptions_false_raises(emu: Emulator) -> None:
    with Client(emu.page_url, max_retries=0) as client:
        client.ask("warm up")
        emu.configure(fault="503", fault_count=1, retry_after="0")
        with pytest.raises(ServerError):
            asyncio.run(client.ask_many_async(_prompts(4), concurrency=2, return_exceptions=False))


def test_ask_many_async_refuses_bad_prompts_before_any_io(emu: Emulator) -> None:
    with Client(emu.page_url) as client, pytest.raises(InvalidMessagesError, match=r"prompts\[1\]"):
        asyncio.run(client.ask_many_async(["fine", "   ", "fine"]))
    assert emu.stats["requests"] == 0


# ---------------------------------------------------------------- pickling


def test_client_pickles_its_configuration_not_its_connections(wpaicg_emulator_factory: Any) -> None:
    emu: Emulator = wpaicg_emulator_factory(tls=True)
    assert emu.ca_file is not None
    with Client(emu.page_url, verify=emu.ca_file, timeout=17, max_retries=1, max_concurrency=5,
                headers={"X-Bench": "1"}) as client:
        assert client.ask("before") == "echo: before"
        data = pickle.dumps(client)
        clone = pickle.loads(data)
    # The nonce (a credential of sorts) and the connections stay behind.
    assert emu.current_nonce.encode() not in data
    with clone:
        assert (clone.base_url, clone.timeout, clone.max_retries) == (client.base_url, 17, 1)
        emu.reset_stats()
        assert clone.ask("after") == "echo: after"  # verify= travelled: TLS still checks the CA
        assert emu.stats["page_fetches"] == 1  # a clone reads the page itself
        assert emu.stats["connections"] == 1
    assert emu.requests[-1]["headers"].get("x-bench") == "1"  # headers= travelled too


def test_a_closed_client_still_pickles_into_a_working_one(emu: Emulator) -> None:
    client = Client(emu.page_url)
    client.close()
    with pickle.loads(pickle.dumps(client)) as clone:
        assert clone.ask("hi") == "echo: hi"


def _ask_in_worker(job: tuple[Client, str]) -> tuple[str, int]:
    client, prompt = job
    return client.ask(prompt), os.getpid()


def test_a_pickled_client_works_in_a_spawned_process_pool(emu: Emulator) -> None:
    prompts = _prompts(6)
    with Client(emu.page_url, timeout=30) as client:
        context = multiprocessing.get_context("spawn")
        with context.Pool(2) as pool:
            results = pool.map(_ask_in_worker, [(client, p) for p in prompts], chunksize=1)
    assert [answer for answer, _ in results] == _expected(6)
    assert all(pid != os.getpid() for _, pid in results)
    assert emu.stats["ajax_posts"] == 6


# ---------------------------------------------------------------- TLS at scale


def test_new_tls_connections_do_not_parse_the_ca_bundle_again(
    wpaicg_emulator_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A burst of new HTTPS connections reads the CA bundle once, not once per connection.

    requests hands urllib3 the bundle's path and urllib3 parses it for every connection it opens:
    ~60 ms of GIL-holding work each for a real bundle (certifi's ~120 certificates), which made a
    cold burst of 64 asks take seconds. Counted, not timed: calls of ``load_verify_locations``.
    (Needs /tmp/proposals/helper-issue6-2.diff: a shared SSLContext per CA setting.)
    """
    import ssl

    emu: Emulator = wpaicg_emulator_factory(tls=True, latency=0.15)
    assert emu.ca_file is not None
    loads: list[object] = []
    original = ssl.SSLContext.load_verify_locations

    def counting(self: ssl.SSLContext, *args: Any, **kwargs: Any) -> None:
        loads.append(args or kwargs)
        original(self, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counting)
    with Client(emu.page_url, verify=emu.ca_file, max_retries=0) as client:
        answers = client.ask_many(_prompts(6), concurrency=6)
    assert answers == _expected(6)
    assert emu.stats["connections"] == 6  # six connections were opened...
    assert len(loads) == 1  # ...and the bundle was read once

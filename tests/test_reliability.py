"""Faults survived: a fault soak against the emulator, and deadlines that always hold.

The soak (``run_soak``) is shared with ``benchmarks/soak.py``, which runs it longer. The failure
count it observes is checked against what the retry policy predicts
(``predicted_failure_probability``): with a per-attempt fault probability ``p`` split into
transient faults (retried) and terminal ones (a body that stalls past the read timeout uses up
the ask's whole deadline, since one ``timeout`` bounds the ask), an ask fails iff it meets a
terminal fault before ``max_retries + 1`` transient ones, or ``max_retries + 1`` transient faults
in a row. Stale nonces (rotation every 100 requests) refresh the page and retry for free, so they
do not change the prediction; a nonce that is stale twice in one ask is counted on its own.
"""

from __future__ import annotations

import asyncio
import math
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from chatgpt4o import Client, create_async
from chatgpt4o import exceptions as e
from chatgpt4o.emulator import Emulator

# --- the fault soak ---------------------------------------------------------------------------

SOAK_ASKS = 2000
SOAK_THREADS = 16
FAULT_RATE = 0.1
FAULT_MIX = ("reset", "502", "503", "429", "slow_body", "truncated")
#: Faults that end the ask at once: the body stalls past the read timeout, which is the rest of
#: the ask's deadline, so no time is left to retry.
TERMINAL_FAULTS = frozenset({"slow_body"})
ROTATE_EVERY = 100
SEED = 7
MAX_RETRIES = 2
ASK_TIMEOUT = 3.0
SLOW_SECONDS = 5.0
#: Waits between retries run at this fraction of their real length (Retry-After 1 → 50 ms).
SLEEP_SCALE = 0.05
#: How far past its timeout an ask may end before it counts as a hang.
SLACK = 1.5

#: Errors a soak ask may end with (the typed outcome of the faults in ``FAULT_MIX``).
EXPECTED_ERRORS = (e.APITimeoutError, e.APIConnectionError, e.ServerError, e.RateLimitError, e.NonceExpiredError)


def predicted_failure_probability(
    fault_rate: float, mix: tuple[str, ...], terminal: frozenset[str], max_retries: int
) -> float:
    """Probability that one ask fails under the retry policy (see the module docstring)."""
    q_terminal = fault_rate * sum(1 for f in mix if f in terminal) / len(mix)
    q_transient = fault_rate - q_terminal
    attempts = max_retries + 1
    return sum(q_transient**k * q_terminal for k in range(attempts)) + q_transient**attempts


def binomial_bound(n: int, p: float, sigmas: float = 4.0) -> tuple[float, float]:
    """A generous acceptance interval for a Binomial(n, p) count."""
    mean = n * p
    spread = sigmas * math.sqrt(n * p * (1 - p)) + 3
    return max(0.0, mean - spread), mean + spread


@dataclass
class SoakResult:
    asks: int
    threads: int
    seconds: float = 0.0
    answered: int = 0
    wrong_answers: int = 0  # an answer that is not the echo of this caller's own prompt
    errors: Counter[str] = field(default_factory=Counter)
    unexpected_errors: Counter[str] = field(default_factory=Counter)  # typed, but not a fault's
    lost: list[str] = field(default_factory=list)  # neither an answer nor one typed error
    hangs: int = 0  # asks that ended past timeout + slack, or never
    slowest: float = 0.0
    stats: dict[str, Any] = field(default_factory=dict)
    predicted_p: float = 0.0

    @property
    def failures(self) -> int:
        return sum(self.errors.values())

    @property
    def predicted(self) -> float:
        return self.asks * self.predicted_p

    def summary(self) -> str:
        low, high = binomial_bound(self.asks, self.predicted_p)
        return (
            f"{self.asks} asks, {self.threads} threads, {self.seconds:.1f} s: "
            f"answered {self.answered}, failed {self.failures} {dict(self.errors)} "
            f"(predicted {self.predicted:.1f}, accepted {low:.0f}..{high:.0f}), "
            f"wrong answers {self.wrong_answers}, lost {len(self.lost)}, hangs {self.hangs}, "
            f"slowest ask {self.slowest:.2f} s; emulator: {self.stats.get('ajax_posts')} ajax posts, "
            f"{self.stats.get('faults_injected')} faults injected, {self.stats.get('stale_nonce')} stale nonces, "
            f"{self.stats.get('page_fetches')} page fetches"
        )


def run_soak(
    asks: int = SOAK_ASKS, threads: int = SOAK_THREADS, *, seed: int = SEED, fault_rate: float = FAULT_RATE,
    timeout: float = ASK_TIMEOUT, max_retries: int = MAX_RETRIES,
) -> SoakResult:
    """``asks`` asks from ``threads`` threads through one shared Client against a faulty emulator."""
    result = SoakResult(asks, threads)
    result.predicted_p = predicted_failure_probability(fault_rate, FAULT_MIX, TERMINAL_FAULTS, max_retries)
    outcomes: list[tuple[str, float] | None] = [None] * asks
    next_index = iter(range(asks))
    index_lock = threading.Lock()
    with Emulator(era="1.8.96",
        fault_rate=fault_rate, fault_mix=FAULT_MIX, seed=seed, rotate_every=ROTATE_EVERY,
        slow_seconds=SLOW_SECONDS, retry_after="1",
    ) as emu, Client(
        emu.base_url, timeout=timeout, max_retries=max_retries, max_concurrency=threads,
        sleep=lambda s: time.sleep(s * SLEEP_SCALE),
    ) as client:

        def worker() -> None:
            while True:
                with index_lock:
                    i = next(next_index, None)
                if i is None:
                    return
                prompt = f"soak ask #{i}: unique text {i * 7919 % 100003}"
                started = time.monotonic()
                try:
                    answer = client.ask(prompt)
                    outcome = "ok" if answer == "echo: " + prompt else "wrong"
                except e.Chatgpt4oError as exc:
                    outcome = "error:" + type(exc).__name__
                    if not isinstance(exc, EXPECTED_ERRORS):
                        outcome = "unexpected:" + type(exc).__name__
                except BaseException as exc:  # noqa: BLE001 - the point is to catch anything untyped
                    outcome = f"lost:{type(exc).__name__}: {exc}"[:300]
                outcomes[i] = (outcome, time.monotonic() - started)

        started = time.monotonic()
        pool = [threading.Thread(target=worker, daemon=True, name=f"soak-{n}") for n in range(threads)]
        for thread in pool:
            thread.start()
        # Every ask is bounded, so the whole run is too; past this, what is left has hung.
        give_up = started + (asks / threads + 1) * (timeout + SLACK) + 30
        for thread in pool:
            thread.join(max(0.0, give_up - time.monotonic()))
        result.seconds = time.monotonic() - started
        result.stats = emu.stats
    for item in outcomes:
        if item is None:
            result.hangs += 1
            continue
        outcome, seconds = item
        result.slowest = max(result.slowest, seconds)
        if seconds > timeout + SLACK:
            result.hangs += 1
        if outcome == "ok":
            result.answered += 1
        elif outcome == "wrong":
            result.wrong_answers += 1
        elif outcome.startswith("error:"):
            result.errors[outcome[6:]] += 1
        elif outcome.startswith("unexpected:"):
            result.unexpected_errors[outcome[11:]] += 1
        else:
            result.lost.append(outcome)
    return result


def test_predicted_failure_probability_model() -> None:
    # Only transient faults: r + 1 in a row, i.e. p ** (r + 1).
    assert predicted_failure_probability(0.1, ("502",), frozenset(), 2) == pytest.approx(0.1**3)
    # Only terminal faults: the first one fails the ask.
    assert predicted_failure_probability(0.1, ("slow_body",), frozenset({"slow_body"}), 2) == pytest.approx(0.1)
    # The soak's mix: 1/6 of the faults are terminal.
    p = predicted_failure_probability(FAULT_RATE, FAULT_MIX, TERMINAL_FAULTS, MAX_RETRIES)
    assert 0.018 < p < 0.019


def test_fault_soak(record_property: Callable[[str, object], None]) -> None:
    result = run_soak()
    # Printed in pytest's closing summary (conftest), not in the middle of the progress dots.
    record_property("summary", "[soak] " + result.summary())
    assert result.lost == [], "every ask returns an answer or raises one typed error"
    assert result.wrong_answers == 0, "answers never cross between callers"
    assert result.hangs == 0, f"asks must end within timeout + {SLACK} s (slowest {result.slowest:.2f} s)"
    assert not result.unexpected_errors, result.unexpected_errors
    assert result.answered + result.failures == result.asks
    # The faults really were injected, at the configured rate (of the ajax posts, retries included).
    posts, faults = result.stats["ajax_posts"], result.stats["faults_injected"]
    assert posts >= result.asks
    low, high = binomial_bound(posts, FAULT_RATE)
    assert low <= faults <= high
    assert result.stats["stale_nonce"] > 0, "nonce rotation was exercised"
    assert result.stats["page_fetches"] >= result.asks // ROTATE_EVERY // 2, "rotations made the client refresh"
    # The failures are what the retry budget predicts: neither retries missing (~N·p failures)
    # nor terminal faults silently retried (~N·p^(r+1)).
    low, high = binomial_bound(result.asks, result.predicted_p)
    assert low <= result.failures <= high, result.summary()
    assert result.errors["NonceExpiredError"] <= 5, "a fresh nonce almost never goes stale again at once"


# --- deadlines --------------------------------------------------------------------------------

TIMEOUT = 1.0


@dataclass
class Timed:
    seconds: float
    error: BaseException | None
    value: Any = None


def timed(call: Callable[[], Any]) -> Timed:
    started = time.monotonic()
    try:
        value = call()
    except BaseException as exc:  # noqa: BLE001 - inspected by the caller
        return Timed(time.monotonic() - started, exc)
    return Timed(time.monotonic() - started, None, value)


def assert_ends_by(outcome: Timed, error: type[BaseException], limit: float) -> None:
    assert type(outcome.error) is error, f"expected {error.__name__}, got {outcome.error!r} / {outcome.value!r}"
    assert outcome.seconds <= limit + SLACK, f"ended after {outcome.seconds:.2f} s, limit {limit} s"


class SilentServer:
    """A TCP server that never answers: ``accept=False`` never even accepts (backlog only),
    ``accept=True`` accepts and holds the sockets without reading them."""

    def __init__(self, accept: bool) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.held: list[socket.socket] = []
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True) if accept else None
        if self._thread:
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            self.held.append(conn)

    def close(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(2)
        for conn in self.held:
            conn.close()
        self.sock.close()


@pytest.fixture
def silent() -> Iterator[Callable[[bool], SilentServer]]:
    servers: list[SilentServer] = []

    def make(accept: bool) -> SilentServer:
        servers.append(SilentServer(accept))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


def test_dead_server_fails_fast_with_a_connection_error() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now: connection refused
    with Client(f"http://127.0.0.1:{port}", timeout=TIMEOUT) as client:
        outcome = timed(lambda: client.ask("hello?"))
    assert_ends_by(outcome, e.APIConnectionError, TIMEOUT)
    assert "127.0.0.1" in str(outcome.error)


@pytest.mark.parametrize("accept", [False, True], ids=["never-accepts", "accepts-never-reads"])
def test_server_that_never_answers_times_out(silent: Callable[[bool], SilentServer], accept: bool) -> None:
    server = silent(accept)
    with Client(server.url, timeout=TIMEOUT) as client:
        outcome = timed(lambda: client.ask("hello?"))
    assert_ends_by(outcome, e.APITimeoutError, TIMEOUT)
    assert "timeout" in str(outcome.error)
    if accept:
        assert server.accepted >= 1


@pytest.mark.parametrize(
    ("fault", "target", "stream"),
    [
        ("hang", "ajax", False),
        ("hang", "page", False),
        ("trickle", "page", False),
        ("trickle", "ajax", False),
        ("trickle", "ajax", True),
        ("slow", "page", False),
        ("slow_body", "ajax", False),
        ("sse_endless", "ajax", True),
    ],
    ids=lambda v: str(v),
)
def test_stalling_server_ends_at_the_timeout(
    wpaicg_emulator_factory: Callable[..., Emulator], fault: str, target: str, stream: bool
) -> None:
    emu = wpaicg_emulator_factory(fault=fault, fault_target=target, stream=stream, slow_seconds=30)
    with Client(emu.base_url, timeout=TIMEOUT) as client:
        if stream:
            outcome = timed(lambda: list(client.stream("hello?")))
        else:
            outcome = timed(lambda: client.ask("hello?"))
    assert_ends_by(outcome, e.APITimeoutError, TIMEOUT)
    assert emu.stats["faults_injected"] >= 1


def test_retries_and_retry_after_stay_inside_the_deadline(wpaicg_emulator_factory: Callable[..., Emulator]) -> None:
    emu = wpaicg_emulator_factory(fault="503", fault_count=100, retry_after="1")
    with Client(emu.base_url, timeout=3.5, max_retries=20) as client:
        outcome = timed(lambda: client.ask("hello?"))
    assert_ends_by(outcome, e.ServerError, 3.5)
    # Retry-After 1 s honoured between attempts, then the deadline (not max_retries=20) said stop.
    assert 2 <= emu.stats["ajax_posts"] <= 4


def test_retry_after_beyond_the_deadline_gives_up_at_once(wpaicg_emulator_factory: Callable[..., Emulator]) -> None:
    emu = wpaicg_emulator_factory(fault="429", retry_after="3600")
    with Client(emu.base_url, timeout=5, max_retries=5) as client:
        outcome = timed(lambda: client.ask("hello?"))
    assert_ends_by(outcome, e.RateLimitError, 0.5)
    assert outcome.error is not None and getattr(outcome.error, "retry_after", None) == 3600
    assert emu.stats["ajax_posts"] == 1


def test_the_deadline_covers_the_page_refresh(wpaicg_emulator_factory: Callable[..., Emulator]) -> None:
    emu = wpaicg_emulator_factory()
    with Client(emu.base_url, timeout=TIMEOUT) as client:
        assert client.ask("warm") == "echo: warm"
        # The nonce goes stale and the page, read again to renew it, hangs.
        emu.rotate_nonce()
        emu.configure(fault="hang", fault_target="page")
        outcome = timed(lambda: client.ask("after rotation"))
    assert_ends_by(outcome, e.APITimeoutError, TIMEOUT)
    assert emu.stats["stale_nonce"] == 1 and emu.stats["page_fetches"] == 2


def test_the_deadline_covers_retries_of_slow_failures(wpaicg_emulator_factory: Callable[..., Emulator]) -> None:
    # Each attempt takes 0.6 s, then its body is cut short (transient): the budget, not
    # max_retries=20, ends the ask.
    emu = wpaicg_emulator_factory(fault="truncated", latency=0.6)
    with Client(emu.base_url, timeout=2.5, max_retries=20, sleep=lambda s: None) as client:
        outcome = timed(lambda: client.ask("hello?"))
    assert isinstance(outcome.error, e.APIConnectionError), outcome.error  # APITimeoutError included
    assert outcome.seconds <= 2.5 + SLACK
    assert 1 <= emu.stats["ajax_posts"] <= 5  # each attempt takes >= 0.6 s: far fewer than 21


def test_ask_many_conversation_and_create_async_end_at_the_timeout(
    wpaicg_emulator_factory: Callable[..., Emulator],
) -> None:
    emu = wpaicg_emulator_factory(fault="hang")
    with Client(emu.base_url, timeout=TIMEOUT) as client:
        many = timed(lambda: client.ask_many(["a", "b", "c", "d"], concurrency=4))
        chat = timed(lambda: client.chat().ask("hello?"))
    assert many.error is None and many.seconds <= TIMEOUT + SLACK
    assert [type(x) for x in many.value] == [e.APITimeoutError] * 4
    assert_ends_by(chat, e.APITimeoutError, TIMEOUT)
    facade = timed(lambda: asyncio.run(create_async("gpt-4o-mini", "hello?", timeout=TIMEOUT, base_url=emu.base_url)))
    assert_ends_by(facade, e.APITimeoutError, TIMEOUT)

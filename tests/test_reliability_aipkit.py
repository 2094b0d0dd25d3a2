"""Hostile answers and faults on both steps of a 2.x turn, and a soak across nonce rotations."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable

import pytest
import responses

import chatgpt4o.exceptions as e
from chatgpt4o import Client
from chatgpt4o.emulator import Emulator

Factory = Callable[..., Emulator]
ANY_CONNECTION = (e.APIConnectionError,)  # dropped or cut: StreamTruncatedError, or the connection error


# (fault, step, burst of N faults or 0 for every request, what ask() and stream() give: "ok" or an error
# class, or a pair of those for ask() and stream())
CATALOGUE: list[tuple[str, str, int, object]] = [
    ("sse_endless", "stream", 0, e.APITimeoutError),
    ("sse_trickle", "stream", 0, "ok"),
    ("sse_no_done", "stream", 0, e.StreamTruncatedError),
    # ask() reads the whole answer inside the attempt: the cut one is retried; stream() handed its text out
    # already, so the cut ends it (never a retry that repeats text).
    ("sse_no_done", "stream", 1, ("ok", e.StreamTruncatedError)),
    ("sse_provider_error", "stream", 0, e.UpstreamError),
    ("truncated", "stream", 0, ANY_CONNECTION),
    ("truncated", "cache", 0, ANY_CONNECTION),
    ("reset", "cache", 1, "ok"),
    ("reset", "stream", 1, "ok"),
    ("reset", "stream", 0, e.APIConnectionError),
    ("502", "cache", 1, "ok"),
    ("503", "stream", 1, "ok"),
    ("502", "cache", 0, e.ServerError),
    ("500", "stream", 0, e.ServerError),
    ("stale_nonce", "cache", 1, "ok"),
    ("stale_nonce", "stream", 1, "ok"),
    ("stale_nonce", "stream", 0, e.NonceExpiredError),
    ("challenge", "cache", 0, e.ChallengeError),
    ("challenge", "stream", 0, e.ChallengeError),
    ("non_json", "cache", 0, e.MalformedResponseError),
    ("non_json", "stream", 0, e.MalformedResponseError),
    ("php_notice", "cache", 0, "ok"),
    ("empty", "cache", 0, e.MalformedResponseError),
    ("huge_body", "stream", 0, e.ResponseTooLargeError),
    ("endless_chunked", "cache", 0, e.APITimeoutError),
    ("endless_chunked", "stream", 0, e.APITimeoutError),
    ("hang", "cache", 0, e.APITimeoutError),
    ("hang", "stream", 0, e.APITimeoutError),
    ("endpoint_gone", "stream", 0, e.EndpointGoneError),
]


@pytest.mark.parametrize(("fault", "step", "count", "outcome"), CATALOGUE,
                         ids=[f"{f}-{s}-{'burst' if c else 'always'}" for f, s, c, _ in CATALOGUE])
def test_hostile_answers_on_either_step(aipkit_emulator_factory: Factory, fault: str, step: str, count: int,
                                        outcome: object) -> None:
    emu = aipkit_emulator_factory(fault=fault, fault_target=step, fault_count=count, slow_seconds=0.01,
                                  retry_after="0", reply="alpha beta gamma")
    with Client(emu.base_url, timeout=1.0, max_retries=1, sleep=lambda _s: None) as client:
        expected = outcome if isinstance(outcome, tuple) else (outcome, outcome)
        for call, result in zip((client.ask, lambda m: "".join(client.stream(m))), expected):
            if result == "ok":
                assert call("hi") == "alpha beta gamma"
            else:
                with pytest.raises(result) as raised:  # type: ignore[call-overload]
                    call("hi")
                assert emu.current_nonce not in str(raised.value)
            emu.configure(fault=fault, fault_target=step, fault_count=count)  # a fresh burst for the stream
    assert emu.stats["page_fetches"] <= 2


@responses.activate
def test_garbage_between_events_and_huge_events_are_read() -> None:
    page = ("<div class=\"aipkit_chat_container\" data-config='{&quot;botId&quot;:5,&quot;ajaxUrl&quot;:"
            "&quot;https://chat.example/wp-admin/admin-ajax.php&quot;,&quot;nonce&quot;:&quot;abcdef0123&quot;}'></div>")
    ajax = "https://chat.example/wp-admin/admin-ajax.php"
    big = "x" * 1_000_000
    body = ("retry: 10\n: comment\n\nevent: message_start\ndata: {\"message_id\":\"m\"}\n\n"
            "garbage line without a colon\n\ndata: not json at all\n\ndata: {\"delta\":\"a\"}\r\n\r\n"
            f"event: status\ndata: {{\"note\":\"{'y' * 100_000}\"}}\n\n"
            f"data: {{\"delta\":\"{big}\"}}\n\nevent: done\ndata: {{\"finished\":true}}\n\n")
    responses.add(responses.GET, "https://chat.example/", body=page)
    responses.add(responses.POST, ajax, json={"success": True, "data": {"cache_key": "aipkit_sse_" + "k" * 32}})
    responses.add(responses.GET, ajax, body=body, content_type="text/event-stream")
    with Client("https://chat.example") as client:
        assert client.ask("hi") == "a" + big


SOAK_ASKS, SOAK_THREADS = 600, 12
SOAK_MIX = ("reset", "502", "503", "429", "truncated", "sse_no_done", "stale_nonce")


def test_soak_across_nonce_rotations_with_faults_on_both_steps(record_property: Callable[[str, object], None]) -> None:
    """Nothing lost beyond the retry budget, nothing wrong, nothing hung; one refresh per rotation at most."""
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    indexes = iter(range(SOAK_ASKS))
    with Emulator(era="2.4.71", fault_rate=0.05, fault_mix=SOAK_MIX, fault_target="ajax", seed=7,
                  rotate_every=150, retry_after="0", slow_seconds=0.01) as emu, \
            Client(emu.base_url, timeout=5.0, max_retries=3, max_concurrency=SOAK_THREADS,
                   sleep=lambda s: time.sleep(s / 50)) as client:

        def worker() -> None:
            while True:
                with lock:
                    i = next(indexes, None)
                if i is None:
                    return
                prompt = f"soak {i}"
                try:
                    answer = client.ask(prompt) if i % 3 else "".join(client.stream(prompt))
                    outcome = "ok" if answer == "echo: " + prompt else "wrong"
                except e.Chatgpt4oError as exc:
                    outcome = type(exc).__name__
                except BaseException as exc:  # noqa: BLE001 - anything untyped counts as lost
                    outcome = "lost:" + type(exc).__name__
                with lock:
                    outcomes[outcome] += 1

        started = time.monotonic()
        threads = [threading.Thread(target=worker, daemon=True) for _ in range(SOAK_THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        stats = emu.stats
    summary = (f"[soak 2.x] {SOAK_ASKS} asks, {SOAK_THREADS} threads, {time.monotonic() - started:.1f} s: "
               f"{dict(outcomes)}; refreshes {stats['nonce_refreshes']}, page fetches {stats['page_fetches']}, "
               f"faults {stats['faults_injected']}")
    record_property("summary", summary)
    assert sum(outcomes.values()) == SOAK_ASKS, "hung asks: " + summary
    assert outcomes["wrong"] == 0 and not any(k.startswith("lost") for k in outcomes), summary
    failed = SOAK_ASKS - outcomes["ok"]
    assert failed <= SOAK_ASKS * 0.02, summary  # 3 retries of a 5 % fault rate: failures are rare
    assert set(outcomes) - {"ok"} <= {"ServerError", "RateLimitError", "APIConnectionError", "StreamTruncatedError",
                                      "NonceExpiredError"}, summary
    assert stats["page_fetches"] <= 3, summary  # faults on the page are not in the mix; rotations use the refresh

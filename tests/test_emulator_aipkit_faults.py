"""Faults on every step of the 2.x turn: page, cache, stream, nonce (and the legacy targets)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
import requests

from chatgpt4o.emulator import Emulator

from .aipkit_thirdparty import StreamError, ThirdPartyClient, Truncated, sse_events


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(era="2.4.71", page_size=5_000, slow_seconds=0.01, reply="one two three four") as emulator:
        yield emulator


def _events(resp: requests.Response) -> list[tuple[str, object]]:
    return list(sse_events(iter(resp.content.split(b"\n"))))


@pytest.mark.parametrize("target", ["page", "cache", "stream", "nonce"])
def test_a_fault_hits_only_its_step(emu: Emulator, target: str) -> None:
    client = ThirdPartyClient(emu.page_url)
    emu.configure(fault="503", fault_target=target, fault_count=1)
    counters = {"page": "page_fetches", "cache": "cache_posts", "stream": "streams", "nonce": "nonce_refreshes"}
    before = emu.stats
    if target == "page":
        assert requests.get(emu.page_url, timeout=5).status_code == 503
    elif target == "nonce":
        r = requests.post(emu.ajax_url, data={"action": "aipkit_get_frontend_chat_nonce"}, timeout=5)
        assert r.status_code == 503
    elif target == "cache":
        assert client.cache("hi").status_code == 503
    else:
        with pytest.raises(Truncated):  # a 503 HTML page: no event at all
            client.ask("hi")
    after = emu.stats
    assert after[counters[target]] == before[counters[target]] + 1
    assert after["faults_injected"] == before["faults_injected"] + 1
    assert client.ask("hi") == "one two three four"  # the burst is over


def test_legacy_targets_still_work_on_2x(emu: Emulator) -> None:
    emu.configure(fault="502", fault_target="ajax", fault_count=1)
    assert requests.post(emu.ajax_url, data={"action": "aipkit_get_frontend_chat_nonce"}, timeout=5).status_code == 502
    emu.configure(fault="502", fault_target="both", fault_count=2)
    assert requests.get(emu.page_url, timeout=5).status_code == 502
    assert requests.post(emu.ajax_url, data={"action": "x"}, timeout=5).status_code == 502


def test_stream_without_done(emu: Emulator) -> None:
    client = ThirdPartyClient(emu.page_url)
    emu.configure(fault="sse_no_done", fault_target="stream")
    with pytest.raises(Truncated) as cut:
        client.ask("hi")
    assert str(cut.value) == "one two three four"
    history = requests.post(emu.ajax_url, data={"action": "aipkit_get_conversation_history", "bot_id": "5",
                                                 "_ajax_nonce": emu.current_nonce, "session_id": client.session_id,
                                                 "conversation_uuid": client.conversation}, timeout=5).json()
    assert [m["role"] for m in history["data"]["history"]] == ["user"]  # the reply was never stored


@pytest.mark.parametrize(("era", "text"), [
    ("2.4.71", "The server had an error while processing your request. Sorry about that!"),
    ("2.4.0", "An unknown API error occurred."),
])
def test_provider_error_mid_stream(era: str, text: str) -> None:
    with Emulator(era=era, page_size=5_000, reply="one two three") as emu:
        client = ThirdPartyClient(emu.page_url)
        emu.configure(fault="sse_provider_error", fault_target="stream")
        key = client.cache("hi").json()["data"]["cache_key"]
        r = requests.get(emu.ajax_url, params={"action": "aipkit_frontend_chat_stream", "cache_key": key, "bot_id": 5,
                                               "session_id": "s", "conversation_uuid": "c", "_ajax_nonce": emu.current_nonce},
                         timeout=5)
        events = [(e, d) for e, d in _events(r) if e != "status"]
        assert [e for e, _ in events] == ["message_start", "message", "error"]  # no done
        assert events[1][1] == {"delta": "one "}
        assert events[2][1] == {"error": text}
        assert b"\nid: err-" in r.content


def test_trickle_sends_the_stream_event_by_event(emu: Emulator) -> None:
    client = ThirdPartyClient(emu.page_url)
    emu.configure(fault="sse_trickle", fault_target="stream")
    key = client.cache("hi").json()["data"]["cache_key"]
    with requests.get(emu.ajax_url, params={"action": "aipkit_frontend_chat_stream", "cache_key": key, "bot_id": 5,
                                            "session_id": "s", "conversation_uuid": "c",
                                            "_ajax_nonce": emu.current_nonce}, stream=True, timeout=5) as r:
        chunks = list(r.raw.stream(1 << 20, decode_content=False))
    assert len(chunks) >= 8  # 5 preamble slices + message_start + status + ... one at a time
    body = b"".join(chunks)
    assert body.endswith(b'event: done\ndata: {"finished":true}\n\n')


def test_endless_stream_keeps_sending_empty_deltas(emu: Emulator) -> None:
    client = ThirdPartyClient(emu.page_url)
    emu.configure(fault="sse_endless", fault_target="stream")
    key = client.cache("hi").json()["data"]["cache_key"]
    with requests.get(emu.ajax_url, params={"action": "aipkit_frontend_chat_stream", "cache_key": key,
                                            "bot_id": 5, "_ajax_nonce": emu.current_nonce},
                      stream=True, timeout=5) as r:
        events = sse_events(r.iter_lines(delimiter=b"\n"))
        assert next(events)[0] == "message_start"
        assert [next(events) for _ in range(3)] == [("message", {"delta": ""})] * 3


@pytest.mark.parametrize(("action", "status", "marker"), [
    ("aipkit_cache_sse_message", 403, b'"code":"nonce_failure_cache_sse"'),
    ("aipkit_frontend_chat_stream", 200, b'"error":"Security check failed. Please refresh the page and try again."'),
    ("aipkit_get_conversation_history", 403, b'"code":"nonce_failure"'),
])
def test_stale_nonce_fault_answers_in_the_steps_form(emu: Emulator, action: str, status: int, marker: bytes) -> None:
    emu.configure(fault="stale_nonce", fault_target="ajax")
    r = requests.post(emu.ajax_url, data={"action": action, "_ajax_nonce": emu.current_nonce, "message": "m"}, timeout=5)
    assert r.status_code == status
    assert marker in r.content
    assert emu.stats["stale_nonce"] == 1


def test_reset_on_the_cache_step(emu: Emulator) -> None:
    emu.configure(fault="reset", fault_target="cache", fault_count=1)
    with pytest.raises(requests.ConnectionError):
        requests.post(emu.ajax_url, data={"action": "aipkit_cache_sse_message"}, timeout=5)
    assert emu.stats["status_counts"][0] == 1
    with socket.create_connection(("127.0.0.1", int(emu.base_url.rsplit(":", 1)[1])), timeout=5):
        pass


def test_client_side_stream_error_helper_reports_text(emu: Emulator) -> None:
    emu.configure(draft_bots=(5,))
    client = ThirdPartyClient(emu.page_url)
    with pytest.raises(StreamError, match="Invalid chatbot specified."):
        client.ask("hi")

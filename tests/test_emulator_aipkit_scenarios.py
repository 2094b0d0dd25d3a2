"""The 2.x emulator's scenarios, driven by a third-party client written from the spec alone."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import requests

from chatgpt4o.emulator import DEFAULT_ERA, Emulator, EmulatorConfig

from .aipkit_thirdparty import StreamError, ThirdPartyClient, read_configs, sse_events


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(era="2.4.71", page_size=5_000) as emulator:
        yield emulator


def _stream_events(emu: Emulator, key: str, **params: object) -> list[tuple[str, object]]:
    query = {"action": "aipkit_frontend_chat_stream", "cache_key": key, "bot_id": 5, "session_id": "s",
             "conversation_uuid": "c", "_ajax_nonce": emu.current_nonce, **params}
    r = requests.get(emu.ajax_url, params=query, timeout=5)
    assert r.status_code == 200
    return list(sse_events(iter(r.content.split(b"\n"))))


def test_default_era_is_the_current_plugin() -> None:
    assert DEFAULT_ERA == "2.4.71" and EmulatorConfig().era == "2.4.71"


def test_full_turn_second_turn_sees_history_and_nonce_refresh(emu: Emulator) -> None:
    emu.configure(reply_template="{message} | turns={turns} | {history}")
    client = ThirdPartyClient(emu.page_url)
    assert client.ask("My name is Alice.") == "My name is Alice. | turns=0 | []"
    second = client.ask("What is my name?")
    assert second.startswith("What is my name? | turns=2 | ")
    assert json.loads(second.split(" | ", 2)[2]) == [
        {"role": "user", "content": "My name is Alice."},
        {"role": "assistant", "content": "My name is Alice. | turns=0 | []"}]
    emu.rotate_nonce()
    assert client.ask("again").startswith("again | turns=4")  # 403, refresh, retry
    assert emu.stats["nonce_refreshes"] == 1 and emu.stats["stale_nonce"] == 1


def test_max_messages_and_failed_turns_in_history(emu: Emulator) -> None:
    emu.configure(reply_template="turns={turns}", max_messages=3)
    client = ThirdPartyClient(emu.page_url)
    assert [client.ask(f"m{i}") for i in range(3)] == ["turns=0", "turns=2", "turns=3"]
    emu.configure(upstream_error="quota exceeded upstream")
    with pytest.raises(StreamError, match="API Error: quota exceeded upstream"):
        client.ask("fails")
    r = requests.post(emu.ajax_url, data={"action": "aipkit_get_conversation_history", "bot_id": 5,
                                          "_ajax_nonce": emu.current_nonce, "session_id": client.session_id,
                                          "conversation_uuid": client.conversation}, timeout=5)
    assert r.json()["data"]["history"][-1]["content"] == "Error: API Error: quota exceeded upstream"
    listing = requests.post(emu.ajax_url, data={"action": "aipkit_get_conversations_list", "bot_id": 5,
                                                "_ajax_nonce": emu.current_nonce, "session_id": client.session_id},
                            timeout=5).json()["data"]["conversations"]
    assert [c["id"] for c in listing] == [client.conversation] and listing[0]["title"] == "m0"


@pytest.mark.parametrize(("fields", "status", "code"), [
    ({"_ajax_nonce": "0123456789", "message": "x"}, 403, "nonce_failure_cache_sse"),
    ({"message": "0"}, 400, "empty_data_to_cache"),
    ({"message": ""}, 400, "empty_data_to_cache"),
])
def test_cache_errors(emu: Emulator, fields: dict[str, str], status: int, code: str) -> None:
    data = {"action": "aipkit_cache_sse_message", "_ajax_nonce": emu.current_nonce, "bot_id": "5", **fields}
    r = requests.post(emu.ajax_url, data=data, timeout=5)
    assert (r.status_code, r.json()["data"]["code"]) == (status, code)


@pytest.mark.parametrize(("origin", "allowed"), [
    (None, True), ("http://127.0.0.1:1", True), ("http://localhost", False), ("https://127.0.0.1", False)])
def test_origin_check_ignores_the_port(emu: Emulator, origin: str | None, allowed: bool) -> None:
    headers = {"Origin": origin} if origin else {}
    r = requests.post(emu.ajax_url, data={"action": "aipkit_cache_sse_message", "_ajax_nonce": emu.current_nonce,
                                          "bot_id": "5", "message": "hi"}, headers=headers, timeout=5)
    assert r.status_code == (200 if allowed else 403)
    if not allowed:
        assert r.json()["data"]["code"] == "embed_not_available"
        refresh = requests.post(emu.ajax_url, data={"action": "aipkit_get_frontend_chat_nonce", "bot_id": "5"},
                                headers=headers, timeout=5)
        assert refresh.json()["data"]["code"] == "cors_denied"


def test_www_is_significant(emu: Emulator) -> None:
    emu.configure(site_url="http://example.test")
    data = {"action": "aipkit_cache_sse_message", "_ajax_nonce": emu.current_nonce, "bot_id": "5", "message": "x"}
    assert requests.post(emu.ajax_url, data=data, headers={"Origin": "http://example.test:8080"}, timeout=5).ok
    assert requests.post(emu.ajax_url, data=data, headers={"Origin": "http://www.example.test"},
                         timeout=5).status_code == 403


@pytest.mark.parametrize(("config", "message", "error"), [
    ({"banned_words": ("spam",)}, "buy SPAM now", "Sorry, your message could not be sent as it contains prohibited words."),
    ({"banned_words": ("spam",)}, "spammy is fine", None),
    ({"banned_ips": ("127.0.0.1",)}, "hi", "Access from your IP address has been blocked."),
    ({"moderation_words": ("kill",)}, "kill it", "Your message was flagged by the moderation system and could not be sent."),
    ({"guest_limit": 0}, "hi", "Access disabled for guests."),
    ({"draft_bots": (5,)}, "hi", "Invalid chatbot specified."),
])
def test_stream_refusals(emu: Emulator, config: dict[str, object], message: str, error: str | None) -> None:
    emu.configure(**config)
    client = ThirdPartyClient(emu.page_url)
    if error is None:
        assert client.ask(message) == f"echo: {message}"
        return
    with pytest.raises(StreamError) as refused:
        client.ask(message)
    assert str(refused.value) == error


@pytest.mark.parametrize(("era", "text", "notice"), [
    ("2.4.71", "You have reached your quota for this period.", True),
    ("2.4.0", "You have reached your quota for this period.", False),
    ("2.3.40", "You have reached your token limit for this period.", False),
])
def test_guest_quota_per_session(era: str, text: str, notice: bool) -> None:
    actions = ({"label": "Sign up", "url": "https://example.test/join", "variant": "primary"},)
    with Emulator(era=era, page_size=5_000, guest_limit=3, quota_actions=actions) as emu:
        client = ThirdPartyClient(emu.page_url)
        client.ask("one two")  # 2 + 4 words of reply: over the limit afterwards
        with pytest.raises(StreamError) as over:
            client.ask("again")
        assert str(over.value) == text
        assert ("quota_notice" in over.value.data) is notice
        if notice:
            assert over.value.data["quota_notice"]["actions"] == list(actions)
        assert ThirdPartyClient(emu.page_url).ask("fresh session") == "echo: fresh session"


@pytest.mark.parametrize("era", ["2.3.19", "2.3.40", "2.4.0", "2.4.71"])
def test_eras(era: str) -> None:
    with Emulator(era=era, page_size=5_000) as emu:
        page = requests.get(emu.page_url, timeout=5).text
        cfg = read_configs(page)[0]
        assert f"public-main.bundle.js?ver={era}'" in page
        assert ("aipkit_getChatNonceAction" in page) is (era >= "2.4")
        assert ("streamEnabled" in cfg) is (era != "2.4.71")
        assert ("userIp" in cfg) is era.startswith("2.3")
        refresh = requests.post(emu.ajax_url, data={"action": "aipkit_get_frontend_chat_nonce"}, timeout=5)
        assert (refresh.status_code, refresh.text == "0") == ((200, False) if era >= "2.4" else (400, True))
        key = requests.post(emu.ajax_url, data={"action": "aipkit_cache_sse_message", "_ajax_nonce": cfg["nonce"],
                                                "bot_id": 5, "message": "hi"}, timeout=5).json()["data"]["cache_key"]
        r = requests.get(emu.ajax_url, params={"action": "aipkit_frontend_chat_stream", "cache_key": key, "bot_id": 5,
                                               "session_id": "s", "conversation_uuid": "c", "_ajax_nonce": "bad"}, timeout=5)
        old = era == "2.3.19"
        assert (b"Security check failed (nonce)." in r.content) is old
        assert r.content.startswith(b": ") is era.startswith("2.4")
        nonstream = {"action": "aipkit_frontend_chat_message", "_ajax_nonce": "bad", "bot_id": 5, "session_id": "s",
                     "conversation_uuid": "c", "message": "<b>hi</b>"}
        r = requests.post(emu.ajax_url, data=nonstream, timeout=5)
        if era == "2.4.71":
            assert (r.status_code, r.text) == (400, "0")
        elif old:
            assert r.json()["data"]["reply"] == "echo: hi"  # no nonce check, tags stripped
        else:
            assert r.status_code == 403
            ok = requests.post(emu.ajax_url, data={**nonstream, "_ajax_nonce": cfg["nonce"]}, timeout=5).json()
            assert ok["data"]["reply"] == "echo: <b>hi</b>" and ok["data"]["message_id"].startswith("aipkit-msg-")
        foreign = requests.post(emu.ajax_url, data={"action": "aipkit_cache_sse_message", "_ajax_nonce": cfg["nonce"],
                                                    "bot_id": 5, "message": "x"}, headers={"Origin": "http://evil.test"},
                                timeout=5)
        assert foreign.status_code == (200 if old else 403)


def test_several_bots_popup_sitewide_and_subpage() -> None:
    with Emulator(era="2.4.71", page_size=5_000, bots=3, popup=True, sitewide_popup=True, bot_path="/help/") as emu:
        home = requests.get(emu.page_url, timeout=5).text
        assert [c["botId"] for c in read_configs(home)] == [8]  # only the site-wide popup
        sub = requests.get(emu.base_url + "/help/", timeout=5).text
        configs = read_configs(sub)
        assert [c["botId"] for c in configs] == [5, 6, 7, 8]
        assert len({c["nonce"] for c in configs}) == 1 and all(c["popupEnabled"] for c in configs)
        assert {c["postId"] for c in configs} == {12}
        assert re.search(r'<div class="aipkit_popup_wrapper[^"]*" id="aipkit_popup_wrapper_6" data-config=', sub)
        assert 'id="aipkit_chat_container_6" aria-hidden="true" inert>' in sub  # no data-config inside
        for bot in (6, 8):
            assert ThirdPartyClient(emu.base_url + "/help/", bot_id=bot).ask("hi") == "echo: hi"
        assert emu.stats["page_fetches"] == 4


def test_counters_and_connections(emu: Emulator) -> None:
    ThirdPartyClient(emu.page_url).ask("hi")
    stats = emu.stats
    assert (stats["page_fetches"], stats["cache_posts"], stats["streams"], stats["ajax_posts"]) == (1, 1, 1, 2)
    assert stats["connections"] >= 1 and stats["requests"] == 3


def test_cache_keys_expire_after_the_ttl() -> None:
    now = [time.time()]
    with Emulator(era="2.4.71", page_size=5_000, clock=lambda: now[0]) as emu:
        client = ThirdPartyClient(emu.page_url)
        key = client.cache("hi").json()["data"]["cache_key"]
        assert re.fullmatch(r"aipkit_sse_[A-Za-z0-9]{32}", key)
        now[0] += 61
        assert _stream_events(emu, key)[0] == ("error", {"error": "Cached message has expired."})



def test_cache_latency_delays_the_cache_step_only(emu: Emulator) -> None:
    client = ThirdPartyClient(emu.page_url)
    emu.configure(latency=30.0)  # ``latency`` alone leaves the cache step immediate
    assert client.cache("hi").json()["success"] is True
    emu.configure(latency=0.0, cache_latency=30.0)
    with pytest.raises(requests.ReadTimeout):
        client.http.post(emu.ajax_url, data={"action": "aipkit_cache_sse_message", "bot_id": "5",
                                             "_ajax_nonce": emu.current_nonce, "message": "hi"}, timeout=0.5)
    assert client.refresh_nonce() and requests.get(emu.page_url, timeout=5).ok  # other requests: at once
    emu.configure(cache_latency=0.0)
    assert client.ask("again") == "echo: again"


def test_cache_latency_option_and_validation() -> None:
    from chatgpt4o.emulator.__main__ import build_parser, config_from_args

    args = build_parser().parse_args(["--era", "2.4.71", "--latency", "0.3", "--cache-latency", "0.3"])
    config = config_from_args(args)
    assert (config.latency, config.cache_latency) == (0.3, 0.3)
    assert EmulatorConfig().cache_latency == 0.0
    with pytest.raises(ValueError, match="cache_latency"):
        EmulatorConfig(cache_latency=-1.0)

def test_cli_help_lists_scenarios_and_verbose_logs_each_request() -> None:
    help_text = subprocess.run([sys.executable, "-m", "chatgpt4o.emulator", "--help"], check=True, capture_output=True,
                               text=True, timeout=30).stdout
    assert "scenarios:" in help_text and "--bots 3" in help_text and "sse_no_done" in help_text
    proc = subprocess.Popen([sys.executable, "-m", "chatgpt4o.emulator", "-v", "--era", "2.4.71", "--bots", "2",
                             "--popup", "--page-size", "5000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stderr is not None
        base = proc.stdout.readline().strip()
        client = ThirdPartyClient(base + "/", bot_id=6)
        assert client.ask("hi") == "echo: hi"
        proc.terminate()
        proc.wait(timeout=10)
        lines = [line for line in proc.stderr.read().splitlines() if " -> " in line]
        assert len(lines) == 3
        assert "GET / -> 200" in lines[0] and "action=aipkit_frontend_chat_stream -> 200" in lines[2]
        assert client.cfg["nonce"] not in "\n".join(lines)  # the query string is not logged
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

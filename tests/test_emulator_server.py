"""Integration tests of the emulator over real sockets: page, plugin behaviour, eras, control
endpoints, concurrency, TLS, CLI and the pytest fixtures."""

from __future__ import annotations

import http.client
import json
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from chatgpt4o.emulator import ERAS, Emulator, EmulatorConfig, running


def _fields(emu: Emulator, message: str | None = "hi", history: Any = None, **extra: str) -> dict[str, str]:
    fields = {
        "_wpnonce": emu.current_nonce, "post_id": "11", "url": emu.base_url,
        "action": "wpaicg_chat_shortcode_message", "bot_id": "0", "chatbot_identity": "shortcode",
        "wpaicg_chat_client_id": "abcdefghij", "chat_id": "7",
        "wpaicg_chat_history": json.dumps(
            history if history is not None else [{"id": "", "text": f"Human: {message}"}], ensure_ascii=False
        ),
    }
    if message is not None:
        fields["message"] = message
    fields.update(extra)
    return fields


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(era="1.8.96") as emulator:
        yield emulator


@pytest.fixture(autouse=True)
def _defaults(emu: Emulator) -> Iterator[None]:
    yield
    emu.configure(**{k: v for k, v in EmulatorConfig(era="1.8.96").to_dict().items() if k not in ("tls", "certfile", "keyfile")})


def _chat(emu: Emulator, **kwargs: Any) -> requests.Response:
    return requests.post(emu.ajax_url, data=_fields(emu, **kwargs), timeout=5)


def _shortcode(html: str) -> str:
    match = re.search(r'<div class="wpaicg-chat-shortcode"(.*?)\n>', html, re.DOTALL)
    assert match
    return match.group(1)


def _attr(fragment: str, name: str) -> str:
    match = re.search(rf'{name}\s*=\s*"([^"]*)"', fragment)
    assert match, name
    return match.group(1)


# ----------------------------------------------------------------------------- the page


def test_default_page_has_the_chat_box_nonce_first(emu: Emulator) -> None:
    html = requests.get(emu.page_url, timeout=5).text
    first_nonce = re.search(r'data-nonce="([0-9a-f]+)"', html)
    assert first_nonce and first_nonce.group(1) == emu.current_nonce
    assert '<div class="wpaicg-chatbox"' not in html


def test_page_has_every_protocol_attribute_and_tokens(emu: Emulator) -> None:
    r = requests.get(emu.page_url, timeout=5)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/html; charset=UTF-8"
    box = _shortcode(r.text)
    assert _attr(box, "data-nonce") == emu.current_nonce
    assert _attr(box, "data-post-id") == "11"
    assert _attr(box, "data-url") == emu.base_url
    assert _attr(box, "data-bot-id") == "0"
    assert _attr(box, "data-type") == "shortcode"
    assert _attr(box, "data-openai_stream_nav") == "0"
    assert 'data-memory-limit = "100"' in box
    for name in ("data-assistant-enabled", "data-autoload_chat_conversations", "data-user-bg-color",
                 "data-typewriter-effect", "data-feedback_btn", "data-voice_service", "data-lead-name",
                 "data-bg_text_field", "data-copy_btn", "data-openai_model"):
        assert name in box
    img = re.search(r'id="wpaicg-img-nonce" value="([0-9a-f]{10})"', r.text)
    assert img and img.group(1) != emu.current_nonce
    params = re.search(r"var wpaicgParams = (\{.*?\});\n", r.text)
    assert params
    assert '"ajax_url":"http:\\/\\/127.0.0.1:' in params.group(1)
    decoded = json.loads(params.group(1))
    assert decoded["ajax_url"] == emu.ajax_url
    assert decoded["search_nonce"] == emu.current_nonce
    assert decoded["logged_in"] == "0"


def test_decoys_and_widget_come_before_the_shortcode_box(emu: Emulator) -> None:
    emu.configure(extra_chatboxes=True)
    html = requests.get(emu.page_url, timeout=5).text
    box_at = html.index('<div class="wpaicg-chat-shortcode"')
    first_nonce = re.search(r'data-nonce="([0-9a-f]+)"', html)
    assert first_nonce and first_nonce.start() < box_at
    assert first_nonce.group(1) != emu.current_nonce
    widget_at = html.index('<div class="wpaicg-chatbox"')
    assert widget_at < box_at
    assert 'data-type="widget"' in html[widget_at:box_at]
    post_ids = set(re.findall(r'data-post-id="(\d+)"', html[:box_at]))
    assert post_ids - {"11"}


def test_page_size_and_options(wpaicg_emulator_factory: Callable[..., Emulator]) -> None:
    big = wpaicg_emulator_factory(page_size=300_000, stream=True, bot_id=5, post_id=99,
                                  page_path="/chat/", memory_limit=20)
    r = requests.get(big.page_url, timeout=5)
    assert 270_000 <= len(r.content) <= 330_000
    box = _shortcode(r.text)
    assert _attr(box, "data-openai_stream_nav") == "1"
    assert _attr(box, "data-bot-id") == "5"
    assert _attr(box, "data-post-id") == "99"
    assert _attr(box, "data-url") == big.base_url + "/chat"
    assert 'data-memory-limit = "20"' in box
    missing = requests.get(big.base_url + "/nope/", timeout=5)
    assert missing.status_code == 404 and "Nothing here" in missing.text
    redirect = requests.get(big.base_url + "/chat", allow_redirects=False, timeout=5)
    assert redirect.status_code == 301 and redirect.headers["Location"] == big.page_url
    small = wpaicg_emulator_factory(page_size=1000, chatbox=False, extra_chatboxes=False)
    html = requests.get(small.page_url, timeout=5).text
    assert "data-nonce" not in html and "wpaicg-chat-shortcode\"" not in html


@pytest.mark.parametrize(("era", "ver"), [("1.8.79", "1.8.79"), ("1.8.91", "1.8.91"), ("1.8.96", "1.8.96"), ("2.x", "2.3.2")])
def test_assets_show_the_era(wpaicg_emulator: Emulator, era: str, ver: str) -> None:
    wpaicg_emulator.configure(era=era)
    html = requests.get(wpaicg_emulator.page_url, timeout=5).text
    assert f"gpt3-ai-content-generator/public/js/wp-ai-content-generator-public.js?ver={ver}" in html
    assert 'class="wpaicg-chat-shortcode"' in html  # 2.x: a cached page still has the legacy box


def test_rotation_changes_page_nonce_and_rejects_old(emu: Emulator) -> None:
    old = emu.current_nonce
    emu.rotate_nonce()
    assert emu.current_nonce != old
    assert _attr(_shortcode(requests.get(emu.page_url, timeout=5).text), "data-nonce") == emu.current_nonce
    r = requests.post(emu.ajax_url, data=_fields(emu, _wpnonce=old), timeout=5)
    assert r.status_code == 403
    assert _chat(emu).json()["status"] == "success"


def test_expired_nonce_with_fake_clock(wpaicg_emulator_factory: Callable[..., Emulator]) -> None:
    now = [5_000_000.0]
    emu = Emulator(era="1.8.96", clock=lambda: now[0]).start()
    try:
        fields = _fields(emu)
        now[0] += 86400.0 + 43200.0  # beyond the previous tick
        r = requests.post(emu.ajax_url, data=fields, timeout=5)
        assert r.status_code == 403 and r.text == "The link you followed has expired."
        assert emu.stats["stale_nonce"] == 1
    finally:
        emu.stop()


# ----------------------------------------------------------------------------- plugin behaviour


def test_multipart_and_files_are_parsed(emu: Emulator) -> None:
    files = {k: (None, v) for k, v in _fields(emu, "multi part").items()}
    files["image"] = ("pic.png", b"\x89PNG....", "image/png")  # type: ignore[assignment]
    r = requests.post(emu.ajax_url, files=files, timeout=5)
    assert r.json()["data"] == "echo: multi part"
    last = emu.requests[-1]
    assert last["form"]["message"] == "multi part"
    assert last["files"] == [{"field": "image", "filename": "pic.png", "content_type": "image/png", "size": 8}]
    assert last["status"] == 200 and last["method"] == "POST"


def test_reply_template_fields_and_history(emu: Emulator) -> None:
    emu.configure(reply_template="{turns}|{identity}|{client_id}|{history}|{message}")
    history = [{"id": 1, "text": "Human: first"}, {"id": 2, "text": "AI: answer"},
               {"id": "", "text": ""}, {"id": "", "text": "Human: second"}]
    doc = _chat(emu, message="second", history=history).json()
    turns, identity, client, hist, message = doc["data"].split("|")
    assert (turns, identity, client, message) == ("3", "shortcode", "abcdefghij", "second")
    assert json.loads(hist) == [{"role": "user", "content": "first"}, {"role": "assistant", "content": "answer"},
                                {"role": "user", "content": "second"}]
    # legacy list of strings
    doc = _chat(emu, message="x", history=["Human: a", "AI: b", "Human: x"]).json()
    assert doc["data"].startswith("3|")
    # PHP trims before removing "AI: ", so a bare "AI: " item survives as the text "AI:"
    doc = _chat(emu, message="x", history=["AI: ", "Human: x"]).json()
    assert json.loads(doc["data"].split("|")[3])[0] == {"role": "assistant", "content": "AI:"}
    # a quote anywhere in the history breaks the plugin's decode (it strips every backslash)
    doc = _chat(emu, message="x", history=[{"id": "", "text": 'Human: say "hi"'}]).json()
    assert doc["data"].startswith("0|")


def test_fixed_reply(emu: Emulator) -> None:
    emu.configure(reply="Fixed **markdown**")
    assert _chat(emu).json()["data"] == "Fixed **markdown**"


@pytest.mark.parametrize(
    ("era", "message", "model_sees"),
    [
        ("1.8.96", 'a <b>x</b>\n "q" it\'s 100%41', 'a <b>x</b>\n "q" it\'s 100%41'),
        ("1.8.91", 'a <b>x</b>\n "q" it\'s 100%41', "a x \"q\" it's 100"),
        ("1.8.79", 'a <b>x</b>\n "q" it\'s', 'a x \\"q\\" it\\\'s'),
    ],
    ids=["1.8.96-unslash-only", "1.8.91-sanitized", "1.8.79-no-unslash"],
)
def test_message_handling_by_era(emu: Emulator, era: str, message: str, model_sees: str) -> None:
    emu.configure(era=era)
    assert _chat(emu, message=message).json()["data"] == "echo: " + model_sees


def test_old_era_reads_request_and_answers_json_nonce_error(emu: Emulator) -> None:
    emu.configure(era="1.8.79")
    r = requests.get(emu.ajax_url, params=_fields(emu, "via get"), timeout=5)
    assert r.json()["data"] == "echo: via get"
    r = requests.post(emu.ajax_url, data=_fields(emu, _wpnonce="nope"), timeout=5)
    assert r.status_code == 200
    assert r.json() == {"status": "error", "msg": "Nonce verification failed"}


def test_era_2x_endpoint_gone(emu: Emulator) -> None:
    emu.configure(era="2.x")
    r = _chat(emu)
    assert r.status_code == 400 and r.text == "0"
    assert r.headers["Connection"] == "close"


@pytest.mark.parametrize(
    ("scenario", "expected"),
    [
        ({"api_key": False}, {"status": "error", "msg": "Unable to initialize the AI instance. Please make sure the API key is valid."}),
        ({"banned_ips": ("127.0.0.1",)}, {"status": "error", "msg": "You are not allowed to access this feature."}),
        ({"banned_words": ("Forbidden",)}, {"status": "error", "msg": "Your message contains prohibited words. Please modify your message and try again."}),
        ({"token_limit": True}, {"msg": "You have reached your token limit.", "tokenLimitReached": True}),
        ({"upstream_error": "Rate limit"}, {"status": "error", "msg": "Rate limit"}),
    ],
    ids=["no-api-key", "banned-ip", "banned-word", "token-limit", "upstream-error"],
)
def test_plugin_errors_json(emu: Emulator, scenario: dict[str, Any], expected: dict[str, Any]) -> None:
    emu.configure(**scenario)
    doc = _chat(emu, message="a forbidden word").json()
    for key, value in expected.items():
        assert doc[key] == value
    assert list(doc)[: len(expected)] == list(expected)


def test_banned_words_are_whole_space_separated_tokens(emu: Emulator) -> None:
    emu.configure(banned_words=("bad",))
    assert _chat(emu, message="this is BAD").json()["status"] == "error"
    assert _chat(emu, message="badly done").json()["status"] == "success"


def _sse_events(r: requests.Response) -> list[str]:
    return [block for block in r.text.split("\n\n") if block]


def test_stream_success_format(emu: Emulator) -> None:
    emu.configure(stream=True, reply="one two three")
    r = _chat(emu)
    assert r.headers["Content-Type"] == "text/event-stream;charset=UTF-8"
    assert r.headers["Transfer-Encoding"] == "chunked"
    events = _sse_events(r)
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(e[len("data: "):]) for e in events[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == "one two three"
    assert len(chunks) == 5
    assert chunks[-1]["choices"][0] == {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}


@pytest.mark.parametrize("end", ["stop", "limited"])
def test_stream_upstream_error(emu: Emulator, end: str) -> None:
    emu.configure(stream=True, upstream_error='Bad "key" here', stream_error_end=end)
    events = _sse_events(_chat(emu))
    assert events[0] == 'event: message\ndata: {"choices":[{"delta":{"content":"Bad"}}]}'
    assert events[1] == 'event: message\ndata: {"choices":[{"delta":{"content":" "key""}}]}'
    last = 'data: {"choices":[{"finish_reason":"stop"}]}' if end == "stop" else "event: message\ndata: [LIMITED]"
    assert events[-1] == last
    assert "[DONE]" not in events


@pytest.mark.parametrize(
    ("scenario", "flag"),
    [({"banned_ips": ("127.0.0.1",)}, "ipBanned"), ({"banned_words": ("hi",)}, "messageFlagged")],
)
def test_stream_flags_are_followed_by_model_output(emu: Emulator, scenario: dict[str, Any], flag: str) -> None:
    emu.configure(stream=True, **scenario)
    events = _sse_events(_chat(emu))
    first = json.loads(events[0][len("data: "):])
    assert first[flag] is True and "msg" in first
    assert events[-1] == "data: [DONE]"


def test_stream_token_limit_and_empty_message(emu: Emulator) -> None:
    emu.configure(stream=True, token_limit=True)
    r = _chat(emu)
    assert r.text == 'data: {"msg":"You have reached your token limit.","tokenLimitReached":true}\n\n'
    emu.configure(token_limit=False)
    r = _chat(emu, message=None)
    assert r.headers["Content-Type"] == "application/json; charset=UTF-8"
    assert r.json() == {"status": "error", "msg": "It appears that nothing was inputted."}


def test_stream_latency_is_spread_over_events(emu: Emulator) -> None:
    emu.configure(stream=True, latency=0.05, reply="a b c")
    assert _sse_events(_chat(emu))[-1] == "data: [DONE]"


def test_body_over_post_max_size_is_dropped(emu: Emulator) -> None:
    r = _chat(emu, message="x" * (9 * 1024 * 1024))
    assert r.status_code == 400 and r.text == "0"


def test_unknown_action_and_bare_get(emu: Emulator) -> None:
    r = requests.post(emu.ajax_url, data={"action": "heartbeat"}, timeout=5)
    assert (r.status_code, r.text) == (400, "0")
    r = requests.get(emu.ajax_url, timeout=5)
    assert (r.status_code, r.text) == (400, "0")


# ----------------------------------------------------------------------------- control and stats


def test_stats_endpoint_and_counters(wpaicg_emulator: Emulator) -> None:
    emu = wpaicg_emulator
    with requests.Session() as s:
        s.get(emu.page_url, timeout=5)
        s.post(emu.ajax_url, data=_fields(emu), timeout=5)
        s.post(emu.ajax_url, data=_fields(emu, _wpnonce="bad"), timeout=5)
        stats = s.get(emu.base_url + "/__emulator__/stats", timeout=5).json()
    assert stats["page_fetches"] == 1
    assert stats["ajax_posts"] == 2
    assert stats["requests"] == 3
    assert stats["connections"] == 1
    assert stats["stale_nonce"] == 1
    assert stats["errors"] == 1
    assert stats["faults_injected"] == 0
    assert stats["status_counts"] == {"200": 2, "403": 1}
    local = emu.stats
    assert local["status_counts"][200] == 2 and local["status_counts"]["403"] == 1
    assert local["status_counts"][500] == 0
    emu.reset_stats()
    assert emu.stats["ajax_posts"] == 0 and emu.requests == []


def test_control_rotate_and_config(wpaicg_emulator: Emulator) -> None:
    emu = wpaicg_emulator
    old = emu.current_nonce
    r = requests.post(emu.base_url + "/__emulator__/rotate", timeout=5)
    assert r.json()["nonce"] == emu.current_nonce != old
    r = requests.post(emu.base_url + "/__emulator__/config", json={"reply": "from cli", "banned_words": ["zz"]},
                      timeout=5)
    assert r.status_code == 200 and r.json()["reply"] == "from cli"
    assert emu.config.banned_words == ("zz",)
    assert _chat(emu).json()["data"] == "from cli"
    bad = requests.post(emu.base_url + "/__emulator__/config", json={"era": "9.9"}, timeout=5)
    assert bad.status_code == 400
    assert emu.stats["ajax_posts"] == 1  # control calls are not site traffic


def test_config_validation() -> None:
    with pytest.raises(ValueError):
        EmulatorConfig(era="3.0")
    with pytest.raises(ValueError):
        EmulatorConfig(fault="nope")
    with pytest.raises(TypeError):
        Emulator(no_such_field=1)
    with pytest.raises(ValueError):
        Emulator(host="0.0.0.0")
    assert set(ERAS) == {"1.8.79", "1.8.91", "1.8.96", "2.x", "2.3.19", "2.3.40", "2.4.0", "2.4.71"}


def test_running_context_manager() -> None:
    with running(era="1.8.96", reply="ok") as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(base_url + "/__emulator__/stats", timeout=5) as resp:
            assert json.load(resp)["requests"] == 0


# ----------------------------------------------------------------------------- concurrency


def test_64_concurrent_keepalive_connections(emu: Emulator) -> None:
    emu.reset_stats()
    port = int(emu.base_url.rsplit(":", 1)[1])
    body = "&".join(f"{k}={v}" for k, v in _fields(emu).items())
    barrier = threading.Barrier(64, timeout=10)
    results: list[list[int]] = []
    errors: list[BaseException] = []

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.connect()
            barrier.wait()  # all 64 connections are open at once
            codes = []
            for _ in range(3):
                conn.request("POST", emu.config.ajax_path, body=body,
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
                resp = conn.getresponse()
                assert json.loads(resp.read())["status"] == "success"
                codes.append(resp.status)
            results.append(codes)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=worker) for _ in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert not errors
    assert results == [[200, 200, 200]] * 64
    assert emu.stats["connections"] == 64
    assert emu.stats["ajax_posts"] == 192


# ----------------------------------------------------------------------------- TLS and CLI


def test_tls_with_generated_certificate() -> None:
    with Emulator(era="1.8.96", tls=True) as emu:
        assert emu.base_url.startswith("https://127.0.0.1:")
        assert emu.ca_file
        context = ssl.create_default_context(cafile=emu.ca_file)
        port = int(emu.base_url.rsplit(":", 1)[1])
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=5)
        try:
            conn.request("GET", "/")
            resp = conn.getresponse()
            assert resp.status == 200 and b"wpaicg-chat-shortcode" in resp.read()
        finally:
            conn.close()
        r = requests.post(emu.ajax_url, data=_fields(emu), verify=emu.ca_file, timeout=5)
        assert r.json()["status"] == "success"
        ca_file = emu.ca_file
    import os

    assert not os.path.exists(ca_file)  # temp dir cleaned up on stop


def test_cli_serves_and_exits_cleanly_on_sigterm() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "chatgpt4o.emulator", "--era", "1.8.96", "--port", "0", "--reply", "from the cli"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", base_url)
        page = requests.get(base_url + "/", timeout=5)
        nonce = re.search(r'class="wpaicg-chat-shortcode".*?data-nonce="([0-9a-f]{10})"', page.text, re.DOTALL)
        assert nonce
        r = requests.post(base_url + "/wp-admin/admin-ajax.php",
                          data={"action": "wpaicg_chat_shortcode_message", "_wpnonce": nonce.group(1), "message": "m"},
                          timeout=5)
        assert r.json()["data"] == "from the cli"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_cli_refuses_non_loopback_host() -> None:
    proc = subprocess.run([sys.executable, "-m", "chatgpt4o.emulator", "--host", "0.0.0.0"],
                          capture_output=True, text=True, timeout=20, check=False)
    assert proc.returncode == 2
    assert "only 127.0.0.0/8" in proc.stderr


# ----------------------------------------------------------------------------- pytest plugin


def test_plugin_fixture_is_running(wpaicg_emulator: Emulator) -> None:
    assert requests.get(wpaicg_emulator.page_url, timeout=5).status_code == 200


def test_plugin_factory_stops_what_it_started(wpaicg_emulator_factory: Callable[..., Emulator]) -> None:
    a = wpaicg_emulator_factory(era="1.8.91")
    b = wpaicg_emulator_factory(stream=True)
    assert a.base_url != b.base_url
    assert a.config.era == "1.8.91" and b.config.stream


# ----------------------------------------------------------------------------- shutdown


@pytest.mark.parametrize("fault", ["hang", "sse_endless", "endless_chunked", None])
def test_stop_ends_hanging_and_idle_connections(fault: str | None) -> None:
    emu = Emulator(era="1.8.96", fault=fault).start()
    port = int(emu.base_url.rsplit(":", 1)[1])
    body = "&".join(f"{k}={v}" for k, v in _fields(emu).items()).encode()
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    with sock:
        sock.sendall(b"POST /wp-admin/admin-ajax.php HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Type: application/x-www-form-urlencoded\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        if fault is None:  # a normal answer, then the keep-alive connection idles
            assert sock.recv(15) == b"HTTP/1.1 200 OK"
        emu.stop()
        # the server side is gone: reading drains what was sent, then hits EOF or a reset
        try:
            while sock.recv(1 << 20):
                pass
        except ConnectionResetError:
            pass
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()

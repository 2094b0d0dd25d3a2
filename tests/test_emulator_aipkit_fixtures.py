"""The 2.x emulator against the recordings of a live AI Puffer 2.4.71 (fixtures/aipkit-2.4.71).

Every recorded answer is replayed with the request that produced it; status, content type,
header names (in order) and values, and the body must match once the parts that differ by
nature (keys, message and response ids, timestamps, nonces, token counts, the host) are
normalised. The homepage's ``data-config`` is checked byte for byte against the plugin's encoding.
"""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from chatgpt4o.emulator import Emulator
from chatgpt4o.emulator.aipkit_page import wp_json_encode_hex
from chatgpt4o.emulator.wordpress import esc_html

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "aipkit-2.4.71"
HTTP_FILES = sorted(p.name for p in FIXTURES.glob("*.http"))
SID = "11111111-2222-4333-8444-555555555555"
CID = "aaaaaaaa-bbbb-4ccc-8ddd-000000000001"
UNICODE = 'Gr\u00fc\u00dfe, \u4e16\u754c! "quoted" & <b>tags</b>\nsecond line'
OPENAI_ERROR = ("Incorrect API key provided: sk-offli**************************************0000. You can find "
                "your API key at https://platform.openai.com/account/api-keys. (Code: invalid_api_key)")
_VARIABLE = {"date", "server", "content-length", "transfer-encoding", "connection"}


def read_fixture(name: str) -> tuple[int, list[tuple[str, str]], bytes]:
    head, _, body = (FIXTURES / name).read_bytes().partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    return int(lines[0].split()[1]), [(k.strip(), v.strip()) for k, _, v in (x.partition(":") for x in lines[1:])], body


def normalise(body: bytes) -> bytes:
    for pattern, repl in (
        (rb"aipkit_sse_[A-Za-z0-9]{32}", b"KEY"), (rb"aipkit-msg-[0-9a-f]{13}\d\.?\d{8}", b"MSG"),
        (rb"resp_[0-9a-f]{48}", b"RESP"), (rb"id: err-\d+", b"id: err-T"), (rb'"timestamp":\d+', b'"timestamp":0'),
        (rb'"nonce":"[0-9a-f]{10}"', b'"nonce":"N"'), (rb'_tokens":\d+', b'_tokens":0'),
        (rb'"role":"system","content":"[^"]*"', b'"role":"system","content":"S"'),
        (rb"http://127\.0\.0\.1:\d+", b"http://HOST"),
    ):
        body = re.sub(pattern, repl, body)
    return body


class Site:
    """A module-wide 2.4.71 emulator whose clock the expiry case moves forward."""

    def __init__(self) -> None:
        self.now = [time.time()]
        self.emu = Emulator(era="2.4.71", clock=lambda: self.now[0], page_size=20_000, bot_id=5, post_id=6,
                            banned_words=("forbidden",))

    def cache(self, message: str | None = "hi", nonce: str | None = None, **extra: str) -> requests.Response:
        fields = {"action": "aipkit_cache_sse_message", "_ajax_nonce": nonce or self.emu.current_nonce, "bot_id": "5"}
        if message is not None:
            fields["message"] = message
        fields.update(extra)
        return requests.post(self.emu.ajax_url, files={k: (None, v) for k, v in fields.items()}, timeout=10)

    def key(self, message: str = "hi", **extra: str) -> str:
        return str(self.cache(message, **extra).json()["data"]["cache_key"])

    def stream(self, key: str | None, nonce: str | None = None, drop: tuple[str, ...] = (), **extra: str) -> requests.Response:
        params: dict[str, Any] = {"action": "aipkit_frontend_chat_stream", "cache_key": key, "bot_id": "5",
                                  "session_id": SID, "conversation_uuid": CID, "post_id": "6",
                                  "_ts": "1700000000000", "_ajax_nonce": nonce or self.emu.current_nonce}
        params.update(extra)
        params = {k: v for k, v in params.items() if v is not None and k not in drop}
        return requests.get(self.emu.ajax_url, params=params, timeout=10)

    def post(self, **fields: str) -> requests.Response:
        return requests.post(self.emu.ajax_url, data=fields, timeout=10)


def _rotated_stream(s: Site) -> requests.Response:
    old = s.emu.current_nonce
    key = s.key()
    s.emu.rotate_nonce()
    return s.stream(key, nonce=old)


def _rotated_cache(s: Site) -> requests.Response:
    old = s.emu.current_nonce
    s.emu.rotate_nonce()
    return s.cache(nonce=old)


def _expired(s: Site) -> requests.Response:
    key = s.key()
    s.now[0] += 61
    return s.stream(key)


def _reused(s: Site) -> requests.Response:
    key = s.key()
    s.stream(key)
    return s.stream(key)


def _history(s: Site) -> requests.Response:
    conv = "cccccccc-dddd-4eee-8fff-000000000099"
    for n, text in ((18, "My name is Alice."), (19, "What is my name?")):
        s.stream(s.key(text, user_client_message_id=f"aipkit-client-msg-5-17000000000{n}-abcde"),
                 conversation_uuid=conv).close()
    return s.post(action="aipkit_get_conversation_history", _ajax_nonce=s.emu.current_nonce, bot_id="5",
                  session_id=SID, conversation_uuid=conv)


def _guest_limit(s: Site) -> requests.Response:
    s.emu.configure(guest_limit=1)
    sid = "33333333-4444-4555-8666-777777777777"
    s.stream(s.key("first"), session_id=sid).close()
    return s.stream(s.key("second"), session_id=sid, conversation_uuid="5379e1aa-80f2-406a-9d63-45d9ddcca13a")


LEGACY = {"_wpnonce": "157f369479", "post_id": "6", "url": "http://127.0.0.1:8089",
          "action": "wpaicg_chat_shortcode_message", "message": "hi", "bot_id": "0",
          "chatbot_identity": "shortcode", "wpaicg_chat_client_id": "abcdefghij",
          "wpaicg_chat_history": '[{"id":"","text":"Human: hi"}]'}

RECIPES: dict[str, tuple[dict[str, Any], Callable[[Site], requests.Response]]] = {
    "01-hi-a-cache.http": ({}, lambda s: s.cache(user_client_message_id="aipkit-client-msg-5-1700000000001-abcde")),
    "01-hi-b-stream.http": ({}, lambda s: s.stream(s.key())),
    "02-a-cache-urlencoded.http": ({}, lambda s: s.post(action="aipkit_cache_sse_message", message="Hello there, what is 2+2?",
                                                         _ajax_nonce=s.emu.current_nonce, bot_id="5")),
    "02-b-stream.http": ({}, lambda s: s.stream(s.key("Hello there, what is 2+2?"),
                                                conversation_uuid="0a779fbe-8c4e-49b8-8060-d94fc53ab20b")),
    "03-a-cache-unicode.http": ({}, lambda s: s.cache(UNICODE)),
    "03-b-stream-unicode.http": ({}, lambda s: s.stream(s.key(UNICODE), conversation_uuid="22b9cc0e-7e63-4da6-9c71-8b11fc478f06")),
    "05-no-nonstream-ajax-action.http": ({}, lambda s: s.post(action="aipkit_frontend_chat_message", message="hi",
                                                               _ajax_nonce=s.emu.current_nonce, bot_id="5", session_id=SID,
                                                               conversation_uuid=CID, post_id="6")),
    "06-legacy-1x-action.http": ({}, lambda s: s.post(**LEGACY)),
    "16-a-cache-wrong-nonce.http": ({}, lambda s: s.cache(nonce="0123456789")),
    "17-a-cache-missing-nonce.http": ({}, lambda s: requests.post(s.emu.ajax_url, files={
        "action": (None, "aipkit_cache_sse_message"), "message": (None, "hi"), "bot_id": (None, "5")}, timeout=10)),
    "18-b-stream-wrong-nonce.http": ({}, lambda s: s.stream(s.key(), nonce="0123456789")),
    "21-nonce-refresh.http": ({}, lambda s: s.post(action="aipkit_get_frontend_chat_nonce", bot_id="5")),
    "23-a-cache-stale-nonce.http": ({}, _rotated_cache),
    "24-b-stream-stale-nonce.http": ({}, _rotated_stream),
    "25-nonce-refresh-after-rotation.http": ({}, lambda s: (s.emu.rotate_nonce(), s.post(
        action="aipkit_get_frontend_chat_nonce", bot_id="5"))[1]),
    "27-a-cache-missing-message.http": ({}, lambda s: s.cache(None)),
    "28-a-cache-empty-message.http": ({}, lambda s: s.cache("")),
    "30-b-stream-missing-cache-key.http": ({}, lambda s: s.stream(None, drop=("_ts",))),
    "31-b-stream-unknown-cache-key.http": ({}, lambda s: s.stream("aipkit_sse_NeverIssuedNeverIssuedNeverIssue")),
    "32-b-stream-reused-cache-key.http": ({}, _reused),
    "32c-b-stream-expired-cache-key.http": ({}, _expired),
    "33-b-stream-missing-session-id.http": ({}, lambda s: s.stream(s.key(), drop=("session_id", "_ts"))),
    "34-b-stream-missing-conversation-uuid.http": ({}, lambda s: s.stream(s.key(), drop=("conversation_uuid", "_ts"))),
    "35-b-stream-unknown-bot.http": ({}, lambda s: s.stream(s.key(), bot_id="999999")),
    "41-missing-action.http": ({}, lambda s: requests.post(s.emu.ajax_url, files={
        "message": (None, "hi"), "_ajax_nonce": (None, s.emu.current_nonce)}, timeout=10)),
    "43-openai-error-b-stream.http": ({"upstream_error": OPENAI_ERROR}, lambda s: s.stream(s.key("[[openai-error]] hi"))),
    "47-history-turn1-b-stream.http": ({}, lambda s: s.stream(s.key("My name is Alice."),
                                                              conversation_uuid="cccccccc-dddd-4eee-8fff-000000000001")),
    "48-history-turn2-b-stream.http": ({}, lambda s: s.stream(s.key("What is my name?"),
                                                              conversation_uuid="cccccccc-dddd-4eee-8fff-000000000001")),
    "51-get-conversation-history.http": ({}, _history),
    "62-guest-limit-exceeded-b-stream.http": ({}, _guest_limit),
    "66-banned-word-b-stream.http": ({}, lambda s: s.stream(s.key("this is forbidden talk"),
                                                            conversation_uuid="15de4e44-e368-4490-b131-75a889a4d834")),
}


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    s = Site()
    with s.emu:
        yield s


def test_every_recording_has_a_recipe() -> None:
    assert len(HTTP_FILES) == 31
    assert set(HTTP_FILES) == set(RECIPES)


@pytest.mark.parametrize("name", HTTP_FILES)
def test_emulator_matches_recorded_answer(site: Site, name: str) -> None:
    status, headers, body = read_fixture(name)
    scenario, send = RECIPES[name]
    site.emu.configure(**{"upstream_error": None, "guest_limit": None, **scenario})
    got = send(site)
    assert got.status_code == status
    recorded = {k.lower(): v for k, v in headers}
    assert got.headers["Content-Type"] == recorded["content-type"]
    assert [k.lower() for k in got.raw.headers if k.lower() not in _VARIABLE] == \
        [k.lower() for k, _ in headers if k.lower() not in _VARIABLE]
    for key, value in recorded.items():
        if key not in _VARIABLE:
            assert got.headers[key] == value, key
    for key in ("transfer-encoding", "connection"):
        if key in recorded:
            assert got.headers.get(key) == recorded[key], key
    assert normalise(got.content) == normalise(body)


def test_nonce_refresh_gives_the_page_nonce_before_and_after_rotation(site: Site) -> None:
    before = site.post(action="aipkit_get_frontend_chat_nonce", bot_id="5").json()["data"]["nonce"]
    assert before == site.emu.current_nonce
    site.emu.rotate_nonce()
    after = site.post(action="aipkit_get_frontend_chat_nonce", bot_id="5").json()["data"]["nonce"]
    assert after != before
    page = requests.get(site.emu.page_url, timeout=10).text
    assert f"&quot;nonce&quot;:&quot;{after}&quot;" in page


def _raw_config(markup: str) -> str:
    match = re.search(r"data-config='([^']*)'", markup)
    assert match
    return match.group(1)


def test_data_config_encoding_is_byte_exact_on_the_recorded_config() -> None:
    recorded_raw = _raw_config((FIXTURES / "chatbox-markup.html").read_text("utf-8"))
    config = json.loads((FIXTURES / "chatbox-config.json").read_text("utf-8"))
    assert esc_html(wp_json_encode_hex(config)) == recorded_raw


def test_data_config_escapes_like_the_plugin() -> None:
    text = wp_json_encode_hex({"a": "x'y\"z<b>&c</b> \u00fc/\\\n"})
    assert text == '{"a":"x\\u0027y\\u0022z\\u003Cb\\u003E\\u0026c\\u003C\\/b\\u003E \u00fc\\/\\\\\\n"}'
    assert "'" not in esc_html(text)


def test_page_config_has_the_recorded_keys_and_values(site: Site) -> None:
    recorded = json.loads((FIXTURES / "chatbox-config.json").read_text("utf-8"))
    page = requests.get(site.emu.page_url, timeout=10).text
    raw = _raw_config(page)
    ours = json.loads(html.unescape(raw))
    assert list(ours) == list(recorded)
    assert esc_html(wp_json_encode_hex(ours)) == raw
    for key in ("botId", "postId", "provider", "headerName", "text", "customThemeSettings", "popupEnabled"):
        assert ours[key] == recorded[key], key
    assert ours["nonce"] == site.emu.current_nonce
    assert ours["ajaxUrl"] == site.emu.ajax_url


def test_page_markup_mirrors_the_recorded_homepage(site: Site) -> None:
    recorded = (FIXTURES / "homepage.html").read_text("utf-8")
    page = requests.get(site.emu.page_url, timeout=10).text
    for marker in (
        '<div class="aipkit_chat_container aipkit-theme-custom  aipkit-sidebar-state-closed   " id="aipkit_chat_container_5" data-bot-id="5" data-config=\'',
        'id="aipkit_chat_input_field_5"', "<script id='aipkit-public-main-js-extra'>",
        "<script id='aipkit-public-main-js-before'>", "<script id='aipkit-public-main-js-after'>",
        'window.aipkit_getChatNonceAction = "aipkit_get_frontend_chat_nonce";',
        "/wp-content/plugins/gpt3-ai-content-generator/dist/js/public-main.bundle.js?ver=2.4.71' id='aipkit-public-main-js'",
        "data-custom-theme='{&quot;primary_color&quot;:&quot;#0B5FFF&quot;",
    ):
        assert marker in recorded, marker
        assert marker in page, marker
    assert "data-nonce" not in page

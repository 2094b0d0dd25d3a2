"""The AIPKit (2.x) protocol core: the recorded 2.4.71 site replayed, page reading, requests, JSON answers."""

from __future__ import annotations

import json
import random
import re
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from chatgpt4o import exceptions as e
from chatgpt4o.protocols import aipkit
from chatgpt4o.protocols.aipkit import (
    cache_request,
    check_stream_answer,
    iter_stream_deltas,
    parse_aipkit_page,
    read_cache_answer,
    read_nonce_answer,
    stream_request,
)

from . import _aipkit_recordings as rec

PAGE = "http://127.0.0.1:8089/"
SESSION = "11111111-2222-4333-8444-555555555555"
CONVERSATION = "aaaaaaaa-bbbb-4ccc-8ddd-000000000001"

# --- Every recording, replayed ---------------------------------------------------------------

# name -> the value read, or the error raised
EXPECTED: dict[str, Any] = {
    "01-hi-a-cache.http": "aipkit_sse_jI3oEO87NKz3OIauCkUZd3kzd0wSRGQ3",
    "01-hi-b-stream.http": "echo: hi",
    "02-a-cache-urlencoded.http": "aipkit_sse_NnrpP8u5tvByCTjN2Ep1BXbbupXO5ik0",
    "02-b-stream.http": "echo: Hello there, what is 2+2?",
    "03-a-cache-unicode.http": "aipkit_sse_UTlq8pPnLXi85fv9AKL3XQ8lzqmiJqR4",
    "03-b-stream-unicode.http": 'echo: Grüße, 世界! "quoted" & <b>tags</b>\nsecond line',
    "05-no-nonstream-ajax-action.http": e.EndpointGoneError,
    "06-legacy-1x-action.http": e.EndpointGoneError,
    "16-a-cache-wrong-nonce.http": e.NonceExpiredError,
    "17-a-cache-missing-nonce.http": e.NonceExpiredError,
    "18-b-stream-wrong-nonce.http": e.NonceExpiredError,
    "21-nonce-refresh.http": "157f369479",
    "23-a-cache-stale-nonce.http": e.NonceExpiredError,
    "24-b-stream-stale-nonce.http": e.NonceExpiredError,
    "25-nonce-refresh-after-rotation.http": "16fd1ecfbb",
    "27-a-cache-missing-message.http": e.EmptyMessageError,
    "28-a-cache-empty-message.http": e.EmptyMessageError,
    "30-b-stream-missing-cache-key.http": aipkit.CacheMissError,
    "31-b-stream-unknown-cache-key.http": aipkit.CacheMissError,
    "32-b-stream-reused-cache-key.http": aipkit.CacheMissError,
    "32c-b-stream-expired-cache-key.http": aipkit.CacheMissError,
    "33-b-stream-missing-session-id.http": e.ResponseError,
    "34-b-stream-missing-conversation-uuid.http": e.ResponseError,
    "35-b-stream-unknown-bot.http": e.BotNotFoundError,
    "41-missing-action.http": e.EndpointGoneError,
    "43-openai-error-b-stream.http": e.SiteConfigurationError,  # API Error: Incorrect API key provided
    "47-history-turn1-b-stream.http": "echo: My name is Alice.",
    "48-history-turn2-b-stream.http": "echo: What is my name?",
    # Another action's success answer is not a cache key.
    "51-get-conversation-history.http": e.MalformedResponseError,
    "62-guest-limit-exceeded-b-stream.http": e.TokenLimitError,
    "66-banned-word-b-stream.http": e.MessageFlaggedError,
}


def _read(name: str) -> Any:
    answer = rec.load(name)
    if "-b-" in name:
        check_stream_answer(answer.status, answer.headers, answer.body[:4096])
        return "".join(iter_stream_deltas([answer.body], aipkit.TurnEvents(bot_id=5, bot_ids=(5,))))
    if "nonce-refresh" in name:
        return read_nonce_answer(answer.status, answer.headers, answer.body)
    return read_cache_answer(answer.status, answer.headers, answer.body)


def test_every_recording_has_an_expectation() -> None:
    assert sorted(EXPECTED) == rec.names()


@pytest.mark.parametrize("name", sorted(EXPECTED), ids=lambda n: n.removesuffix(".http"))
def test_recording_replays(name: str) -> None:
    expected = EXPECTED[name]
    if isinstance(expected, type):
        with pytest.raises(expected):
            _read(name)
    else:
        assert _read(name) == expected


def test_recorded_stream_side_events_are_kept_apart() -> None:
    turn = aipkit.TurnEvents()
    text = "".join(iter_stream_deltas([rec.load("01-hi-b-stream.http").body], turn))
    assert text == "echo: hi" and turn.done
    assert turn.message_ids == ["aipkit-msg-6b09a8405d7b99.13586260"]
    assert turn.openai_response_id == "resp_13d0a9fc1f8bfc8817ca2a9d6f253214b1750ce7eaa0952d"
    assert [s["type"] for s in turn.statuses] == ["response.created", "response.in_progress"]


def test_recorded_quota_notice_reaches_the_error() -> None:
    with pytest.raises(e.TokenLimitError) as info:
        "".join(iter_stream_deltas([rec.load("62-guest-limit-exceeded-b-stream.http").body]))
    assert info.value.notice == "You have reached your quota for this period."
    assert info.value.actions == ()
    assert info.value.site_message == "You have reached your quota for this period."


def test_recorded_unknown_bot_names_the_bots_of_the_page() -> None:
    site = parse_aipkit_page(rec.text("homepage.html"), PAGE)
    turn = aipkit.TurnEvents(bot_id=999999, bot_ids=site.bot_ids)
    with pytest.raises(e.BotNotFoundError, match=r"999999.*seen on the page: 5") as info:
        "".join(iter_stream_deltas([rec.load("35-b-stream-unknown-bot.http").body], turn))
    assert info.value.bot_ids == (5,) and info.value.bot_id == 999999


def test_recorded_homepage() -> None:
    html = rec.text("homepage.html")
    site = parse_aipkit_page(html, PAGE)
    assert aipkit.looks_like_aipkit(html)
    assert site.ajax_url == "http://127.0.0.1:8089/wp-admin/admin-ajax.php"
    assert site.nonce == "157f369479" and site.post_id == 6
    assert site.plugin_version == "2.4.71" and site.era.name == "2.4.1"
    assert site.bots == (aipkit.BotInfo(id=5, name="Site Assistant", mode="inline", provider="OpenAI"),)
    assert site.default_bot.id == 5 and site.preamble is True
    assert "157f369479" not in repr(site)


def test_recorded_chatbox_markup_matches_its_decoded_config() -> None:
    cfg = json.loads(rec.text("chatbox-config.json"))
    site = parse_aipkit_page(rec.text("chatbox-markup.html"), PAGE)
    assert (site.ajax_url, site.nonce, site.post_id) == (cfg["ajaxUrl"], cfg["nonce"], cfg["postId"])
    assert site.bots[0] == aipkit.BotInfo(cfg["botId"], cfg["headerName"], "inline", cfg["provider"])
    # No bundle script in the fragment: the config's keys place it at 2.4.67+.
    assert site.plugin_version is None and site.era.name == "2.4.1"


def _curl_url(name: str) -> str:
    index = rec.text("INDEX.md")
    section = index[index.index(f"## {name}\n") :]
    return re.search(r"curl -N '([^']+)'", section).group(1)  # type: ignore[union-attr]


def test_stream_query_matches_the_recorded_request_in_order() -> None:
    request = stream_request(
        "http://127.0.0.1:8089/wp-admin/admin-ajax.php", "157f369479", 5,
        "aipkit_sse_jI3oEO87NKz3OIauCkUZd3kzd0wSRGQ3",
        session_id=SESSION, conversation_id=CONVERSATION, post_id=6, now_ms=1700000000000,
    )
    assert request.full_url == _curl_url("01-hi-b-stream")


def test_cache_fields_match_the_recorded_request() -> None:
    index = rec.text("INDEX.md")
    section = index[index.index("## 01-hi-a-cache\n") :]
    recorded = dict(re.findall(r"--form-string (\w+)=(\S+)", section.split("```", 2)[1]))
    request = cache_request(
        "http://127.0.0.1:8089/wp-admin/admin-ajax.php", "157f369479", 5, "hi",
        client_msg_id="aipkit-client-msg-5-1700000000001-abcde",
    )
    assert dict(request.data) == recorded


# --- Page reading ---------------------------------------------------------------------------


def test_inline_bot() -> None:
    site = parse_aipkit_page(rec.page(rec.inline(rec.config(12))), "https://example.com/p/")
    assert site.bots == (aipkit.BotInfo(12, "Bot 12", "inline", "OpenAI"),)
    assert (site.ajax_url, site.nonce, site.post_id) == ("https://example.com/wp-admin/admin-ajax.php", "3f9a1c2b7d", 45)


def test_popup_bot_reads_the_wrapper_not_the_inner_box() -> None:
    site = parse_aipkit_page(rec.page(rec.popup(rec.config(7, popupEnabled=True))), "https://example.com/")
    assert site.bots == (aipkit.BotInfo(7, "Bot 7", "popup", "OpenAI"),)
    assert site.default_bot.mode == "popup"


def test_config_on_the_inner_popup_box_still_counts_as_popup() -> None:
    cfg = rec.data_config(rec.config(7))
    html = rec.page(
        '<div class="aipkit_popup_wrapper" id="aipkit_popup_wrapper_7" data-bot-id="7">'
        f'<div class="aipkit_chat_container aipkit_popup_content" data-config={cfg}></div></div>'
    )
    assert parse_aipkit_page(html, "https://e.com/").bots[0].mode == "popup"


def test_site_wide_popup_at_the_end_of_body_and_an_inline_bot() -> None:
    html = rec.page(rec.inline(rec.config(3)), tail=rec.popup(rec.config(9, headerName="Helper")))
    site = parse_aipkit_page(html, "https://example.com/")
    assert [(b.id, b.mode) for b in site.bots] == [(3, "inline"), (9, "popup")]
    assert site.default_bot.id == 3


def test_default_bot_is_the_first_inline_even_after_a_popup() -> None:
    html = rec.page(rec.popup(rec.config(1)), rec.inline(rec.config(2)), rec.inline(rec.config(3)))
    site = parse_aipkit_page(html, "https://example.com/")
    assert site.bot_ids == (1, 2, 3) and site.default_bot.id == 2


def test_same_bot_twice_is_listed_once() -> None:
    site = parse_aipkit_page(rec.page(rec.inline(rec.config(4)), rec.inline(rec.config(4))), "https://e.com/")
    assert site.bot_ids == (4,)


def test_escaped_json_values_come_back_exact() -> None:
    name = """Tom's "bot" <b>&</b> — Grüße"""
    cfg = rec.config(5, headerName=name, ajaxUrl="https://sub.example.org/wp/wp-admin/admin-ajax.php")
    html = rec.page(rec.inline(cfg))
    assert "\\u0022" in html and "\\u0027" in html and "\\u003C" in html and "\\/" in html
    site = parse_aipkit_page(html, "https://example.com/")
    assert site.bots[0].name == name
    assert site.ajax_url == "https://sub.example.org/wp/wp-admin/admin-ajax.php"  # used as given


def test_attribute_order_and_quoting_do_not_matter() -> None:
    value = rec.data_config(rec.config(8))
    double = '"' + value[1:-1] + '"'
    html = rec.page(
        f'<div data-config={double} data-bot-id="8" id="aipkit_chat_container_8"\n  class="aipkit-theme-dark aipkit_chat_container"></div>'
    )
    assert parse_aipkit_page(html, "https://e.com/").bot_ids == (8,)


def test_other_elements_with_data_config_are_ignored() -> None:
    other = "<div class=\"slider\" data-config='{\"botId\":1,\"ajaxUrl\":\"https://x/\",\"nonce\":\"n\"}'></div>"
    script = "<script>document.querySelectorAll('[data-config]'); var s = 'aipkit_chat_container';</script>"
    html = rec.page(other, script, rec.inline(rec.config(6)))
    assert parse_aipkit_page(html, "https://e.com/").bot_ids == (6,)
    assert not aipkit.looks_like_aipkit(rec.page(other, script))


@pytest.mark.parametrize(
    ("cfg", "missing"),
    [
        pytest.param({"botId": None}, ("botId",), id="no-botId"),
        pytest.param({"nonce": None}, ("nonce",), id="no-nonce"),
        pytest.param({"nonce": ""}, ("nonce",), id="empty-nonce"),
        pytest.param({"ajaxUrl": None}, ("ajaxUrl",), id="no-ajaxUrl"),
        pytest.param({"ajaxUrl": "javascript:alert(1)"}, ("ajaxUrl",), id="not-http-ajaxUrl"),
        pytest.param({"botId": 0, "nonce": None}, ("botId", "nonce"), id="several"),
    ],
)
def test_missing_keys(cfg: dict[str, Any], missing: tuple[str, ...]) -> None:
    with pytest.raises(e.TokensNotFoundError) as info:
        parse_aipkit_page(rec.page(rec.inline(rec.config(5, **cfg))), "https://e.com/chat/")
    assert info.value.missing == missing and info.value.url == "https://e.com/chat/"
    assert "3f9a1c2b7d" not in str(info.value)


def test_no_bot_at_all() -> None:
    with pytest.raises(e.TokensNotFoundError, match="AIPKit") as info:
        parse_aipkit_page("<html><body><p>[wpaicg_chatgpt]</p></body></html>", "https://e.com/")
    assert info.value.missing == ("data-config",)


def test_a_broken_bot_is_skipped_when_another_works() -> None:
    html = rec.page(rec.inline(rec.config(1, nonce=None)), rec.popup(rec.config(2)))
    assert parse_aipkit_page(html, "https://e.com/").bot_ids == (2,)


@pytest.mark.parametrize(
    ("post_id", "expected"),
    [pytest.param(None, 0, id="absent"), pytest.param("7", 7, id="string"), pytest.param(-3, 0, id="negative"),
     pytest.param(True, 0, id="bool")],
)
def test_post_id(post_id: Any, expected: int) -> None:
    assert parse_aipkit_page(rec.page(rec.inline(rec.config(5, postId=post_id))), "https://e.com/").post_id == expected


def test_relative_ajax_url_is_resolved_against_the_page() -> None:
    site = parse_aipkit_page(rec.page(rec.inline(rec.config(5, ajaxUrl="/blog/wp-admin/admin-ajax.php"))), "https://e.com/blog/")
    assert site.ajax_url == "https://e.com/blog/wp-admin/admin-ajax.php"


def test_legacy_page_is_not_aipkit() -> None:
    from pathlib import Path

    legacy = (Path(__file__).parent / "fixtures" / "wpaicg-1.8.96" / "homepage.html").read_text(encoding="utf-8")
    assert not aipkit.looks_like_aipkit(legacy)


def test_bot_at_the_end_of_a_large_page() -> None:
    filler = "<p class='x' data-x=\"1\">" + "lorem ipsum " * 40 + "</p>"
    html = rec.page(filler * 1200, tail=rec.popup(rec.config(11)))
    assert len(html) > 500_000
    assert parse_aipkit_page(html, "https://e.com/").bot_ids == (11,)


# --- Version and era ------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("head", "cfg", "version", "era"),
    [
        pytest.param(rec.BUNDLE.format(ver="2.3.19"), {}, "2.3.19", "2.3", id="bundle-2.3.19"),
        pytest.param(rec.BUNDLE.format(ver="2.3.40"), {}, "2.3.40", "2.3.20", id="bundle-2.3.40"),
        pytest.param(rec.BUNDLE.format(ver="2.4.0"), {}, "2.4.0", "2.3.41", id="bundle-2.4.0"),
        pytest.param(rec.BUNDLE.format(ver="2.4.71"), {}, "2.4.71", "2.4.1", id="bundle-2.4.71"),
        pytest.param(rec.BUNDLE.format(ver="2.3.41").replace("?ver", "?foo=1&#038;ver"), {}, "2.3.41", "2.3.41",
                     id="bundle-entity-amp"),
        pytest.param(rec.BUNDLE.format(ver="1787344627"), {"streamEnabled": True}, None, "2.3.41",
                     id="timestamp-ver-ignored"),
        pytest.param("", {"streamEnabled": True, "popupLabelEnabled": None}, None, "2.3.20", id="before-2.3.41"),
        pytest.param("", {"streamEnabled": True, "userIp": "1.2.3.4"}, None, "2.3.41", id="userIp-with-labels"),
        pytest.param("<script>window.aipkit_getChatNonceAction = \"aipkit_get_frontend_chat_nonce\";</script>",
                     {"streamEnabled": True, "popupLabelEnabled": None}, None, "2.3.41", id="nonce-action-script"),
        pytest.param("", {"streamEnabled": False}, None, "2.3.41", id="streamEnabled-labels"),
        pytest.param("", {}, None, "2.4.1", id="no-streamEnabled"),
        pytest.param("", {"enableGoogleConversationState": False}, None, "2.4.1", id="google-state"),
    ],
)
def test_version_and_era(head: str, cfg: dict[str, Any], version: str | None, era: str) -> None:
    site = parse_aipkit_page(rec.page(rec.inline(rec.config(5, **cfg)), head=head), "https://e.com/")
    assert site.plugin_version == version and site.era.name == era


def test_stream_enabled_false_is_reported() -> None:
    site = parse_aipkit_page(rec.page(rec.inline(rec.config(5, streamEnabled=False))), "https://e.com/")
    assert site.bots[0].stream_enabled is False


@pytest.mark.parametrize(
    ("version", "name", "refresh", "non_stream", "nonce_text"),
    [
        ("2.2", "2.3", False, True, "Security check failed (nonce)."),
        ("2.3", "2.3", False, True, "Security check failed (nonce)."),
        ("2.3.19", "2.3", False, True, "Security check failed (nonce)."),
        ("2.3.20", "2.3.20", False, True, "Security check failed. Please refresh the page and try again."),
        ("2.3.40", "2.3.20", False, True, "Security check failed. Please refresh the page and try again."),
        ("2.3.41", "2.3.41", True, True, "Security check failed. Please refresh the page and try again."),
        ("2.4.0", "2.3.41", True, True, "Security check failed. Please refresh the page and try again."),
        ("2.4.1", "2.4.1", True, False, "Security check failed. Please refresh the page and try again."),
        ("2.4.71", "2.4.1", True, False, "Security check failed. Please refresh the page and try again."),
    ],
)
def test_eras(version: str, name: str, refresh: bool, non_stream: bool, nonce_text: str) -> None:
    era = aipkit.era_for_version(version)
    assert (era.name, era.nonce_refresh, era.non_stream, era.stream_nonce_error) == (name, refresh, non_stream, nonce_text)
    assert era.non_stream_checks_nonce is (era.name != "2.3")


@pytest.mark.parametrize(("version", "preamble"), [("2.3.92", False), ("2.3.93", True), ("2.4.71", True)])
def test_preamble_by_version(version: str, preamble: bool) -> None:
    html = rec.page(rec.inline(rec.config(5)), head=rec.BUNDLE.format(ver=version))
    assert parse_aipkit_page(html, "https://e.com/").preamble is preamble


def test_choose_bot() -> None:
    site = parse_aipkit_page(rec.page(rec.popup(rec.config(1)), rec.inline(rec.config(2))), "https://e.com/")
    assert site.choose_bot() == 2
    assert site.choose_bot(1) == 1
    assert site.choose_bot(77) == 77 and site.bot(77) is None  # not on the page: the nonce is shared
    with pytest.raises(e.InvalidConfigError):
        site.choose_bot(0)
    with pytest.raises(e.MessageTypeError):
        site.choose_bot(True)
    with pytest.raises(e.MessageTypeError):
        site.choose_bot("2")  # type: ignore[arg-type]


# --- Requests -------------------------------------------------------------------------------

AJAX = "https://example.com/wp-admin/admin-ajax.php"


def _no_origin(request: aipkit.Request) -> None:
    assert all(name.lower() not in ("origin", "referer") for name, _ in request.headers)


def test_cache_request() -> None:
    request = cache_request(AJAX, "3f9a1c2b7d", 5, "Hello there")
    assert request.method == "POST" and request.url == AJAX and not request.stream
    names = [name for name, _ in request.data]
    assert names == ["action", "_ajax_nonce", "bot_id", "message", "user_client_message_id"]
    fields = dict(request.data)
    assert fields["action"] == "aipkit_cache_sse_message" and fields["message"] == "Hello there"
    assert re.fullmatch(r"aipkit-client-msg-5-\d{13}-[0-9a-z]{5}", fields["user_client_message_id"])
    assert dict(parse_qsl(request.body.decode())) == fields
    assert ("Content-Type", "application/x-www-form-urlencoded") in request.headers
    _no_origin(request)
    assert "3f9a1c2b7d" not in repr(request)


def test_client_message_id_is_reproducible() -> None:
    one = aipkit.client_message_id(9, now_ms=1766000000000, rng=random.Random(1))
    assert one == aipkit.client_message_id(9, now_ms=1766000000000, rng=random.Random(1))
    assert one.startswith("aipkit-client-msg-9-1766000000000-")


@pytest.mark.parametrize(
    ("message", "error"),
    [pytest.param("", e.InvalidMessagesError, id="empty"), pytest.param("0", e.InvalidMessagesError, id="zero"),
     pytest.param("a\ud800", e.InvalidMessagesError, id="lone-surrogate"),
     pytest.param(b"hi", e.MessageTypeError, id="bytes")],
)
def test_cache_request_refuses_bad_messages(message: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        cache_request(AJAX, "n", 5, message)


@pytest.mark.parametrize("bot_id", [0, -1, True, "5", 5.0])
def test_requests_refuse_bad_bot_ids(bot_id: Any) -> None:
    with pytest.raises((e.InvalidRequestError, e.MessageTypeError)):
        cache_request(AJAX, "n", bot_id, "hi")
    with pytest.raises((e.InvalidRequestError, e.MessageTypeError)):
        aipkit.nonce_refresh_request(AJAX, bot_id)


def test_stream_request_without_post_id() -> None:
    request = stream_request(AJAX + "?lang=de", "n0nce", 5, "aipkit_sse_k", session_id=SESSION,
                             conversation_id=CONVERSATION, now_ms=1)
    query = urlsplit(request.full_url).query
    assert [name for name, _ in parse_qsl(query)] == [
        "lang", "action", "cache_key", "bot_id", "session_id", "conversation_uuid", "_ts", "_ajax_nonce"]
    assert request.method == "GET" and request.stream and request.body == b""
    assert ("Accept", "text/event-stream") in request.headers
    _no_origin(request)
    assert "n0nce" not in repr(request)


@pytest.mark.parametrize(
    ("session_id", "conversation_id"),
    [pytest.param("", CONVERSATION, id="empty-session"), pytest.param("s" * 65, CONVERSATION, id="long-session"),
     pytest.param(SESSION, CONVERSATION.upper(), id="uppercase-conversation"),
     pytest.param(SESSION, CONVERSATION + "0", id="long-conversation")],
)
def test_stream_request_refuses_bad_ids(session_id: str, conversation_id: str) -> None:
    with pytest.raises(e.InvalidRequestError):
        stream_request(AJAX, "n", 5, "k", session_id=session_id, conversation_id=conversation_id)


def test_nonce_refresh_request() -> None:
    request = aipkit.nonce_refresh_request(AJAX, 5)
    assert request.method == "POST" and request.data == (("action", "aipkit_get_frontend_chat_nonce"), ("bot_id", "5"))
    _no_origin(request)


def test_new_ids() -> None:
    sessions = {aipkit.new_session_id() for _ in range(50)}
    conversations = {aipkit.new_conversation_id() for _ in range(50)}
    assert len(sessions) == len(conversations) == 50
    for value in sessions | conversations:
        assert uuid.UUID(value).version == 4 and value == value.lower() and len(value) == 36


def test_cache_busting_url() -> None:
    assert aipkit.cache_busting_url("https://e.com/chat/?a=1#x", now_ms=5) == "https://e.com/chat/?a=1&aipkit_nocache=5"
    assert aipkit.cache_busting_url("https://e.com", now_ms=5) == "https://e.com/?aipkit_nocache=5"


# --- JSON answers ---------------------------------------------------------------------------

JSON = {"Content-Type": "application/json; charset=UTF-8"}
HTML = {"Content-Type": "text/html; charset=UTF-8"}


def _err(message: str, code: str | None = None) -> bytes:
    data: dict[str, Any] = {"message": message}
    if code:
        data["code"] = code
    return json.dumps({"success": False, "data": data}).encode()


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        pytest.param(403, _err("Embed feature is not available with your current plan.", "embed_not_available"),
                     e.SiteConfigurationError, id="embed_not_available"),
        pytest.param(403, _err("This domain is not permitted to access the chatbot.", "cors_denied"),
                     e.SiteConfigurationError, id="cors_denied"),
        pytest.param(403, _err("Your session has expired or the request is invalid. Please refresh the page and "
                               "try again.", "nonce_failure_cache_sse"), e.NonceExpiredError, id="nonce"),
        pytest.param(403, _err("Something else."), e.NonceExpiredError, id="other-403-refreshes"),
        pytest.param(403, b"-1", e.NonceExpiredError, id="minus-one"),
        pytest.param(500, _err("Image validation component is unavailable.", "image_validator_missing"),
                     e.SiteConfigurationError, id="image_validator_missing"),
        pytest.param(400, _err("Invalid image data provided.", "invalid_image_payload"), e.ResponseError,
                     id="invalid_image_payload"),
        pytest.param(400, _err("Too many images uploaded. Max images: 4.", "too_many_images"), e.ResponseError,
                     id="too_many_images"),
        pytest.param(400, _err("Data to cache (message or image) cannot be empty.", "empty_data_to_cache"),
                     e.EmptyMessageError, id="empty_data_to_cache"),
        pytest.param(400, _err("Failed to encode data for caching. The message may contain invalid characters.",
                               "json_encode_failed"), e.ResponseError, id="json_encode_failed"),
        pytest.param(500, _err("Cache component missing.", "cache_component_missing"), e.SiteConfigurationError,
                     id="cache_component_missing"),
        pytest.param(500, _err("Failed to store message in database cache.", "sse_cache_db_insert_failed"),
                     e.SiteConfigurationError, id="sse_cache_db_insert_failed"),
        pytest.param(503, _err("SSE service not ready."), e.SiteConfigurationError, id="sse-not-ready"),
        pytest.param(429, _err("Too many requests. Please wait a minute and try again.", "public_request_rate_limit"),
                     e.RateLimitError, id="per-ip-rate-limit"),
        pytest.param(503, b"<html><body>Service Unavailable</body></html>", e.ServerError, id="html-503"),
        pytest.param(403, b"<html><head><title>Just a moment...</title></head></html>", e.ChallengeError,
                     id="challenge"),
        pytest.param(200, b"<html>cached page</html>", e.MalformedResponseError, id="html-200"),
        pytest.param(200, b'{"success":true,"data":{}}', e.MalformedResponseError, id="no-cache-key"),
        pytest.param(400, b"0", e.EndpointGoneError, id="zero"),
    ],
)
def test_cache_answer_errors(status: int, body: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        read_cache_answer(status, JSON if body.startswith(b"{") else HTML, body)


def test_rate_limit_waits_a_minute_by_default() -> None:
    with pytest.raises(e.RateLimitError) as info:
        read_cache_answer(429, JSON, _err("Too many requests. Please wait a minute and try again.",
                                          "public_request_rate_limit"))
    assert info.value.retry_after == 60.0


def test_origin_errors_explain_the_origin_check() -> None:
    with pytest.raises(e.SiteConfigurationError, match="Origin header"):
        read_cache_answer(403, JSON, _err("Embed feature is not available with your current plan.",
                                          "embed_not_available"))


def test_cache_answer_with_php_notice_before_the_json() -> None:
    body = b'<br /><b>Notice</b>: x<br />{"success":true,"data":{"cache_key":"aipkit_sse_abc"}}'
    assert read_cache_answer(200, HTML, body) == "aipkit_sse_abc"


def test_nonce_answer() -> None:
    assert read_nonce_answer(400, HTML, b"0") is None  # before 2.3.41: read the page again
    with pytest.raises(e.SiteConfigurationError):
        read_nonce_answer(403, JSON, _err("This domain is not permitted to access the chatbot.", "cors_denied"))
    with pytest.raises(e.MalformedResponseError) as info:
        read_nonce_answer(200, JSON, b'{"success":true,"data":{"nonce":"bad nonce<script>"}}')
    assert "bad nonce" not in str(info.value) and not info.value.excerpt


@pytest.mark.parametrize(
    ("status", "headers", "head", "error"),
    [
        pytest.param(400, HTML, b"0", e.EndpointGoneError, id="gone"),
        pytest.param(200, HTML, b"<html>login</html>", e.MalformedResponseError, id="html"),
        pytest.param(403, HTML, b"<title>Attention Required! | Cloudflare</title>", e.ChallengeError, id="waf"),
        pytest.param(502, HTML, b"Bad gateway", e.ServerError, id="502"),
        pytest.param(403, JSON, _err("x", "nonce_failure"), e.NonceExpiredError, id="json-nonce"),
    ],
)
def test_stream_answer_that_is_not_a_stream(status: int, headers: dict[str, str], head: bytes,
                                            error: type[Exception]) -> None:
    with pytest.raises(error):
        check_stream_answer(status, headers, head)


def test_redaction_reaches_messages_and_excerpts() -> None:
    def redact(text: str) -> str:
        return text.replace("s3cret", "[redacted]")

    with pytest.raises(e.UpstreamError) as info:
        read_cache_answer(400, JSON, _err("bad s3cret value", "whatever"), redact=redact)
    assert "s3cret" not in str(info.value) and "s3cret" not in info.value.site_message
    with pytest.raises(e.MalformedResponseError) as bad:
        read_cache_answer(200, HTML, b"<p>s3cret</p>", redact=redact)
    assert "s3cret" not in bad.value.excerpt and "[redacted]" in bad.value.excerpt

"""Building the form and reading every answer shape (protocol.md §3, §4)."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatgpt4o import exceptions as e
from chatgpt4o._answer import parse_retry_after
from chatgpt4o.protocols.wpaicg import (
    DATA_MISSING,
    ChatTokens,
    build_form,
    encode_form,
    iter_text,
    read_reply,
)
from chatgpt4o.sse import SSEDecoder

from .conftest import load_recorded, recorded_names

JSON = {"Content-Type": "application/json; charset=UTF-8"}
HTML = {"Content-Type": "text/html; charset=UTF-8"}
SSE = {"Content-Type": "text/event-stream;charset=UTF-8"}
TOKENS = ChatTokens(nonce="abc123def0", post_id="11", url="https://chatgpt4o.one", ajax_url="https://chatgpt4o.one/wp-admin/admin-ajax.php")


def test_form_has_every_field_in_the_page_scripts_order() -> None:
    fields = build_form(TOKENS, "Hi there", client_id="AbCdE12345", chat_id=4242)
    assert [k for k, _ in fields] == [
        "_wpnonce", "post_id", "url", "action", "message", "bot_id", "chatbot_identity",
        "wpaicg_chat_client_id", "wpaicg_chat_history", "chat_id",
    ]
    form = dict(fields)
    assert form["_wpnonce"] == "abc123def0"
    assert form["action"] == "wpaicg_chat_shortcode_message"
    assert form["chatbot_identity"] == "shortcode"
    assert json.loads(form["wpaicg_chat_history"]) == [{"id": "", "text": "Human: Hi there"}]


def test_form_history_ends_with_the_current_turn() -> None:
    history = [{"id": "", "text": "Human: a"}, {"id": "", "text": "AI: b"}]
    form = dict(build_form(TOKENS, "c", client_id="x" * 10, chat_id=1, history=history))
    assert json.loads(form["wpaicg_chat_history"])[-1] == {"id": "", "text": "Human: c"}
    assert len(json.loads(form["wpaicg_chat_history"])) == 3


def test_encoded_form_round_trips_unicode() -> None:
    fields = build_form(TOKENS, "Grüße & <b>\n100%", client_id="x" * 10, chat_id=1)
    assert parse_qsl(encode_form(fields).decode("ascii"), keep_blank_values=True) == fields


# -- the recorded answers of a real plugin 1.8.96 ------------------------------

EXPECTED = {
    "01-success-urlencoded.http": "echo: Hello there, what is 2+2?",
    "03-unicode-message.http": 'echo: Grüße, 世界! "quoted" & <b>tags</b>\nsecond line',
    "04-openai-error.http": e.SiteConfigurationError,
    "05-wrong-nonce.http": e.NonceExpiredError,
    "07-missing-message.http": e.EmptyMessageError,
    "09-missing-action.http": e.EndpointGoneError,
    "11-get-with-fields.http": e.EmptyMessageError,
    "16-stream-success.http": "echo: Hello streaming world",
    "17-stream-openai-error.http": e.SiteConfigurationError,
    "18-stream-missing-message.http": e.EmptyMessageError,
    "21-stale-nonce-with-referer.http": e.NonceExpiredError,
}


def test_every_recorded_answer_is_covered() -> None:
    assert sorted(EXPECTED) == recorded_names()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_recorded_answers(name: str) -> None:
    rec = load_recorded(name)
    expected = EXPECTED[name]
    if isinstance(expected, str):
        assert read_reply(rec.status, rec.headers, rec.body) == expected
    else:
        with pytest.raises(expected) as info:
            read_reply(rec.status, rec.headers, rec.body)
        assert isinstance(info.value, RuntimeError)


def test_stream_error_keeps_the_providers_words() -> None:
    rec = load_recorded("17-stream-openai-error.http")
    with pytest.raises(e.UpstreamError) as info:
        read_reply(rec.status, rec.headers, rec.body)
    assert info.value.site_message.startswith("Incorrect API key provided: sk-offli")
    assert info.value.site_message.endswith("https://platform.openai.com/account/api-keys.")


def _json(obj: object) -> bytes:
    return json.dumps(obj).replace("/", "\\/").encode()


CF_CHALLENGE = b"<!DOCTYPE html><html><head><title>Just a moment...</title></head><body><script>window._cf_chl_opt={}</script></body></html>"

SHAPES = [
    ("success", 200, JSON, _json({"status": "success", "msg": "Something went wrong", "greeting_message": "g", "data": "hi", "log": False}), "hi"),
    ("success-no-status", 200, JSON, _json({"data": "hi"}), "hi"),
    ("success-empty-data", 200, JSON, _json({"status": "success", "data": ""}), ""),
    ("php-notice-first", 200, HTML, b"<br />\n<b>Notice</b>:  Undefined index: x in /var/www/a.php on line 3<br />\n" + _json({"status": "success", "data": "ok"}), "ok"),
    ("bom", 200, JSON, b"\xef\xbb\xbf" + _json({"status": "success", "data": "ok"}), "ok"),
    ("empty-input", 200, JSON, _json({"status": "error", "msg": "It appears that nothing was inputted."}), e.EmptyMessageError),
    ("no-api-key", 200, JSON, _json({"status": "error", "msg": "Unable to initialize the AI instance. Please make sure the API key is valid."}), e.SiteConfigurationError),
    ("old-no-api-key", 200, JSON, _json({"status": "error", "msg": "Missing API Setting"}), e.SiteConfigurationError),
    ("ip-banned", 200, JSON, _json({"status": "error", "msg": "You are not allowed to access this feature."}), e.IPBannedError),
    ("prohibited-words", 200, JSON, _json({"status": "error", "msg": "Your message contains prohibited words. Please modify your message and try again."}), e.MessageFlaggedError),
    ("upstream-text", 200, JSON, _json({"status": "error", "msg": "That model is currently overloaded", "greeting_message": "g", "log": False}), e.UpstreamError),
    ("token-limit", 200, JSON, _json({"msg": "You have reached your token limit.", "tokenLimitReached": True}), e.TokenLimitError),
    ("nonce-json", 200, JSON, _json({"status": "error", "msg": "Nonce verification failed"}), e.NonceExpiredError),
    ("nonce-403-html", 403, HTML, b"The link you followed has expired.", e.NonceExpiredError),
    ("nonce-minus-one", 403, HTML, b"-1", e.NonceExpiredError),
    ("endpoint-gone", 400, HTML, b"0", e.EndpointGoneError),
    ("no-data", 200, JSON, _json({"status": "success", "msg": "Something went wrong"}), e.MalformedResponseError),
    ("data-not-text", 200, JSON, _json({"status": "success", "data": 42}), e.MalformedResponseError),
    ("json-array", 200, JSON, b"[]", e.MalformedResponseError),
    ("not-json", 200, HTML, b"<html><body>There has been a critical error on this website.</body></html>", e.MalformedResponseError),
    ("empty-body", 200, JSON, b"", e.MalformedResponseError),
    ("truncated-json", 200, JSON, b'{"status":"success","data":"hel', e.MalformedResponseError),
    ("invalid-utf8", 200, JSON, b'{"status":"success","data":"\xff\xfe"}', e.MalformedResponseError),
    ("trailing-junk", 200, JSON, _json({"data": "x"}) + b"<!-- cache -->", e.MalformedResponseError),
    ("cf-challenge-header", 403, {**HTML, "cf-mitigated": "challenge", "Server": "cloudflare"}, CF_CHALLENGE, e.ChallengeError),
    ("cf-challenge-body-503", 503, {**HTML, "Server": "cloudflare"}, CF_CHALLENGE, e.ChallengeError),
    ("cf-waf", 403, HTML, b"<title>Attention Required! | Cloudflare</title>", e.ChallengeError),
    ("rate-limited", 429, {**HTML, "Retry-After": "7"}, b"slow down", e.RateLimitError),
    ("server-500", 500, HTML, b"boom", e.ServerError),
    ("bad-gateway", 502, HTML, b"<html>502</html>", e.ServerError),
    ("request-timeout-408", 408, HTML, b"", e.ServerError),
    ("forbidden-other", 403, HTML, b"Forbidden", e.HTTPStatusError),
    ("not-found", 404, HTML, b"<html>404</html>", e.HTTPStatusError),
    ("redirect", 302, {**HTML, "Location": "https://elsewhere.example/"}, b"", e.HTTPStatusError),
]


@pytest.mark.parametrize(("status", "headers", "body", "expected"), [s[1:] for s in SHAPES], ids=[s[0] for s in SHAPES])
def test_response_shapes(status: int, headers: dict[str, str], body: bytes, expected: object) -> None:
    if isinstance(expected, str):
        assert read_reply(status, headers, body) == expected
    else:
        assert isinstance(expected, type)
        with pytest.raises(expected) as info:
            read_reply(status, headers, body)
        assert isinstance(info.value, e.Chatgpt4oError)
        assert type(info.value) is expected or expected in (e.HTTPStatusError, e.MalformedResponseError)


def test_missing_data_keeps_the_documented_text() -> None:
    with pytest.raises(RuntimeError, match="Unexpected response structure: 'data' field missing"):
        read_reply(200, JSON, _json({"status": "success"}))
    assert DATA_MISSING == "Unexpected response structure: 'data' field missing"


def test_status_errors_carry_code_excerpt_and_retry_after() -> None:
    with pytest.raises(e.RateLimitError) as info:
        read_reply(429, {"Retry-After": "7"}, b"x" * 10_000)
    assert info.value.status_code == 429
    assert info.value.retry_after == 7.0
    assert len(info.value.excerpt) <= 200


def test_redaction_applies_to_excerpts_and_messages() -> None:
    with pytest.raises(e.ServerError) as info:
        read_reply(500, HTML, b"nonce abc123def0 leaked", redact=lambda s: s.replace("abc123def0", "***"))
    assert "abc123def0" not in str(info.value) and "abc123def0" not in info.value.excerpt


def test_retry_after_forms() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == pytest.approx(10.0)


# -- server-sent events ----------------------------------------------------------


def chunk(content: str | None = None, *, role: bool = False, finish: str | None = None) -> str:
    delta = {"role": "assistant", "content": ""} if role else ({"content": content} if content is not None else {})
    return "data: " + json.dumps({"id": "c1", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}) + "\n\n"


def stream_of(*parts: str) -> bytes:
    return "".join(parts).encode()


def test_sse_collects_delta_content() -> None:
    body = stream_of(chunk(role=True), chunk("Hel"), chunk("lo"), chunk(finish="stop"), "data: [DONE]\n\n")
    assert "".join(iter_text([body])) == "Hello"


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=60), st.sampled_from(["\n", "\r\n", "\r"]))
def test_sse_chunk_boundaries_and_line_endings_do_not_matter(cuts: list[int], eol: str) -> None:
    text = "Grüße 世界 🎉 ok"
    body = stream_of(": keep-alive\n\n", chunk(role=True), *(chunk(ch) for ch in text), "data: [DONE]\n\n").replace(b"\n", eol.encode())
    pieces, pos = [], 0
    for size in cuts:
        pieces.append(body[pos : pos + size])
        pos += size
    pieces.append(body[pos:])
    assert "".join(iter_text(pieces)) == text


def test_sse_legacy_completions_text_and_eof_after_finish_reason() -> None:
    body = b'data: {"choices":[{"text":"a"}]}\n\ndata: {"choices":[{"text":"b","finish_reason":"length"}]}'
    assert "".join(iter_text([body])) == "ab"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'data: {"choices":[{"text":"a"}]}\n\ndata: {"choices":[{"text":"b"}]}', id="legacy"),
        pytest.param(stream_of(chunk("a"), chunk("b")), id="chat-chunks"),
        pytest.param(b"", id="empty"),
        pytest.param(b'data: {"choices":[{"delta":{},"finish_reason":null}]}\n\n', id="finish-null"),
    ],
)
def test_sse_eof_without_an_end_marker_is_truncated(body: bytes) -> None:
    pieces: list[str] = []
    with pytest.raises(e.StreamTruncatedError):
        pieces.extend(iter_text([body]))
    assert len("".join(pieces)) <= 2


def test_sse_stops_at_done_even_if_more_follows() -> None:
    body = stream_of(chunk("a"), "data: [DONE]\n\n", chunk("b"))
    assert "".join(iter_text([body])) == "a"


def test_sse_multi_line_data_and_unknown_fields() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(b"id: 1\nretry: 5\nevent: x\ndata: a\ndata: b\n\n")
    assert [(ev.event, ev.data) for ev in events] == [("x", "a\nb")]


@pytest.mark.parametrize(
    ("flag", "error"),
    [("tokenLimitReached", e.TokenLimitError), ("messageFlagged", e.MessageFlaggedError),
     ("ipBanned", e.IPBannedError), ("pineconeError", e.UpstreamError)],
)
def test_sse_flag_events_raise_even_when_model_text_follows(flag: str, error: type) -> None:
    body = stream_of(f'data: {{"msg":"refused","{flag}":true}}\n\n', chunk("model text"), "data: [DONE]\n\n")
    with pytest.raises(error):
        "".join(iter_text([body]))


def test_sse_word_split_error_ending_in_limited() -> None:
    words = ["Rate", " limit", " reached"]
    body = stream_of(*(f'event: message\ndata: {{"choices":[{{"delta":{{"content":"{w}"}}}}]}}\n\n' for w in words), "data: [LIMITED]\n\n")
    with pytest.raises(e.UpstreamError, match="Rate limit reached"):
        "".join(iter_text([body]))


def test_sse_word_split_error_with_unescaped_quotes() -> None:
    body = b'event: message\ndata: {"choices":[{"delta":{"content":"Bad"}}]}\n\nevent: message\ndata: {"choices":[{"delta":{"content":" "value""}}]}\n\ndata: {"choices":[{"finish_reason":"stop"}]}\n\n'
    with pytest.raises(e.UpstreamError, match='Bad "value"'):
        "".join(iter_text([body]))


def test_sse_garbage_event_is_malformed() -> None:
    with pytest.raises(e.MalformedResponseError):
        "".join(iter_text([b"data: {not json\n\n"]))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=80), max_size=8))
def test_sse_reader_raises_only_our_errors(chunks: list[bytes]) -> None:
    try:
        "".join(iter_text(chunks))
    except e.Chatgpt4oError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.integers(100, 599), st.binary(max_size=300), st.sampled_from([JSON, HTML, SSE]))
def test_response_reader_raises_only_our_errors(status: int, body: bytes, headers: dict[str, str]) -> None:
    try:
        assert isinstance(read_reply(status, headers, body), str)
    except e.Chatgpt4oError:
        pass


@pytest.mark.parametrize("value", ["²", "٣", "1e3", "-1", "", "  "])
def test_retry_after_odd_values_are_ignored(value: str) -> None:
    assert parse_retry_after(value) is None

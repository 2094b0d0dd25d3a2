"""The AIPKit answer stream: every rule of protocol-aipkit.md §4.6, and the plugin's error texts."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatgpt4o import exceptions as e
from chatgpt4o.protocols.aipkit import (
    CacheMissError,
    TurnEvents,
    iter_deltas,
    iter_stream_deltas,
    site_error,
)
from chatgpt4o.sse import SSEDecoder, SSEEvent

from . import _aipkit_recordings as rec

PREAMBLE = ":" + " " * 4096 + "\n\n"


def record(data: Any, event: str | None = None, *, id_: str | None = None) -> str:
    head = f"event: {event}\n" if event else ""
    head += f"id: {id_}\n" if id_ else ""
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False).replace("/", "\\/")
    return f"{head}data: {payload}\n\n"


def start(n: int = 1) -> str:
    return record({"message_id": f"aipkit-msg-66f1c2a3b4c5d{n}.1234567{n}"}, "message_start")


def delta(text: str) -> str:
    return record({"delta": text})


DONE = record({"finished": True}, "done")


def read(*parts: str, turn: TurnEvents | None = None) -> str:
    return "".join(iter_stream_deltas([("".join(parts)).encode()], turn))


def test_normal_turn_with_the_preamble() -> None:
    assert read(PREAMBLE, start(), delta("Hello"), delta(" there!"), DONE) == "Hello there!"


def test_decoder_resets_the_event_name_after_each_record() -> None:
    events = SSEDecoder().feed(b'event: status\ndata: {"type":"x"}\n\ndata: {"delta":"a"}\n\n')
    assert [ev.event for ev in events] == ["status", ""]
    # ...and the stream reader counts the unnamed record as text.
    assert read(start(), record({"type": "x"}, "status"), delta("a"), DONE) == "a"


def test_decoder_ignores_comments_and_id_lines() -> None:
    events = SSEDecoder().feed((PREAMBLE + ": keep\nevent: error\nid: err-1\ndata: {}\n\n").encode())
    assert events == [SSEEvent("error", "{}")]


def test_several_messages_are_joined_by_a_blank_line() -> None:
    body = [start(1), delta("Welcome!"), start(2), delta(""), delta("Hi"), delta(" you"), DONE]
    turn = TurnEvents()
    assert read(*body, turn=turn) == "Welcome!\n\nHi you"
    assert len(turn.message_ids) == 2


def test_an_empty_message_adds_no_separator() -> None:
    assert read(start(1), start(2), delta("Hi"), start(3), DONE) == "Hi"


def test_delta_before_message_start_counts() -> None:
    assert read(delta("a"), start(), delta("b"), DONE) == "a\n\nb"


def test_warning_is_appended_as_the_page_shows_it() -> None:
    warning = record({"error": "Web search failed"}, "warning", id_="err-1")
    assert read(start(), delta("Answer"), warning, DONE) == "Answer\n\n*Web search failed*"
    turn = TurnEvents()
    assert read(start(), warning, delta("x"), DONE, turn=turn) == "*Web search failed*x"
    assert turn.warnings == ["Web search failed"]


def test_side_events_stay_out_of_the_text() -> None:
    seen: list[str] = []
    turn = TurnEvents(on_event=lambda name, data: seen.append(name))
    text = read(
        start(),
        record({"type": "response.web_search_call.in_progress"}, "status"),
        record([{"type": "url_citation", "url": "https://a"}], "citations"),
        record({"searchEntryPoint": {}}, "grounding_metadata"),
        record({"id": "resp_1"}, "openai_response_id"),
        record({"id": "gi_1"}, "google_interaction_id"),
        delta("T"),
        record({"finished": True, "citations": [{"url": "https://b"}]}, "done"),
        turn=turn,
    )
    assert text == "T"
    assert turn.openai_response_id == "resp_1" and turn.google_interaction_id == "gi_1"
    assert [c["url"] for c in turn.citations] == ["https://a", "https://b"]
    assert turn.grounding_metadata == {"searchEntryPoint": {}}
    assert turn.statuses == [{"type": "response.web_search_call.in_progress"}]
    assert seen == ["message_start", "status", "citations", "grounding_metadata", "openai_response_id",
                    "google_interaction_id", "done"]


def test_form_event_gives_no_text() -> None:
    turn = TurnEvents()
    assert read(record({"form_definition": {"form_id": 3}}, "display_form_event"), DONE, turn=turn) == ""
    assert turn.form == {"form_definition": {"form_id": 3}}


def test_error_ends_the_turn_and_what_follows_is_not_read() -> None:
    pieces = iter_stream_deltas([(start() + delta("partial")).encode(),
                                 record({"error": "Connection Error: timeout"}, "error", id_="err-2").encode(),
                                 b"this chunk is never read"])
    assert next(pieces) == "partial"
    with pytest.raises(e.UpstreamError, match="Connection Error: timeout"):
        next(pieces)


def test_end_of_stream_without_done_is_truncation() -> None:
    with pytest.raises(e.StreamTruncatedError):
        read(PREAMBLE, start(), delta("half an ans"))
    with pytest.raises(e.StreamTruncatedError):
        read("")
    assert issubclass(e.StreamTruncatedError, e.APIConnectionError)


def test_the_partial_text_is_never_returned_as_the_answer() -> None:
    pieces = iter_stream_deltas([(start() + delta("half")).encode()])
    assert next(pieces) == "half"
    with pytest.raises(e.StreamTruncatedError):
        next(pieces)
    # yielded as it came, then the failure


def test_done_stops_the_reading() -> None:
    assert read(start(), delta("a"), DONE, delta("b"), record({"error": "late"}, "error")) == "a"


def test_done_without_blank_line_at_eof_counts() -> None:
    assert read(start(), delta("a"), 'event: done\ndata: {"finished":true}') == "a"


@pytest.mark.parametrize(
    "bad",
    [pytest.param("data: \n\n", id="empty-data"), pytest.param("data: {not json\n\n", id="garbage"),
     pytest.param('data: ["delta"]\n\n', id="array"), pytest.param('data: {"delta": 5}\n\n', id="non-text-delta"),
     pytest.param("event: status\ndata: nope\n\n", id="bad-status")],
)
def test_undecodable_records_are_skipped(bad: str) -> None:
    assert read(start(), delta("a"), bad, delta("b"), DONE) == "ab"


def test_unreadable_error_event_is_still_an_error() -> None:
    with pytest.raises(e.UpstreamError, match="unreadable"):
        read(start(), "event: error\ndata: \n\n", DONE)


@pytest.mark.parametrize("eol", ["\r\n", "\r"], ids=["crlf", "cr"])
def test_other_line_endings(eol: str) -> None:
    body = "".join([PREAMBLE, start(), delta("x\ny"), DONE]).replace("\n", eol)
    assert read(body) == "x\ny"


def test_turnstile_gate_is_a_challenge() -> None:
    with pytest.raises(e.ChallengeError):
        read(record({"error": "Please verify", "ts_required": True}, "error"), DONE)


def test_quota_notice_with_actions() -> None:
    notice = {"type": "quota_notice", "message": "Out of credits", "actions": [
        {"label": "Buy", "url": "https://e.com/buy", "variant": "primary"}, "junk"]}
    with pytest.raises(e.TokenLimitError) as info:
        read(record({"error": "Out of credits", "quota_notice": notice}, "error"), DONE)
    assert info.value.notice == "Out of credits"
    assert info.value.actions == ({"label": "Buy", "url": "https://e.com/buy", "variant": "primary"},)


def test_iter_deltas_takes_events() -> None:
    events = [SSEEvent("message_start", '{"message_id":"m"}'), SSEEvent("", '{"delta":"ok"}'),
              SSEEvent("done", '{"finished":true}')]
    assert "".join(iter_deltas(events)) == "ok"


# --- Chunk boundaries ------------------------------------------------------------------------

EXAMPLES = [
    rec.load("03-b-stream-unicode.http").body,
    "".join([PREAMBLE, start(1), delta("Grüße 🎉"), start(2), delta("世界"),
             record({"error": "Note"}, "warning", id_="err-1"), DONE]).encode(),
]
EXPECTED = ['echo: Grüße, 世界! "quoted" & <b>tags</b>\nsecond line', "Grüße 🎉\n\n世界\n\n*Note*"]


@pytest.mark.parametrize("index", [0, 1], ids=["recorded-unicode", "two-messages-warning"])
def test_a_cut_at_every_byte(index: int) -> None:
    body, expected = EXAMPLES[index], EXPECTED[index]
    for cut in range(len(body) + 1):
        assert "".join(iter_stream_deltas([body[:cut], body[cut:]])) == expected, cut


@pytest.mark.parametrize("index", [0, 1], ids=["recorded-unicode", "two-messages-warning"])
def test_one_byte_at_a_time(index: int) -> None:
    body = EXAMPLES[index]
    assert "".join(iter_stream_deltas(body[i : i + 1] for i in range(len(body)))) == EXPECTED[index]


@settings(max_examples=150, deadline=None)
@given(st.sampled_from([0, 1]), st.lists(st.integers(1, 300), min_size=1, max_size=40))
def test_chunk_boundaries_do_not_matter(index: int, cuts: list[int]) -> None:
    body, pieces, pos = EXAMPLES[index], [], 0
    for size in cuts:
        pieces.append(body[pos : pos + size])
        pos += size
    pieces.append(body[pos:])
    assert "".join(iter_stream_deltas(pieces)) == EXPECTED[index]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=80), max_size=8))
def test_stream_reader_raises_only_our_errors(chunks: list[bytes]) -> None:
    try:
        "".join(iter_stream_deltas(chunks))
    except e.Chatgpt4oError:
        pass


# --- Error texts ----------------------------------------------------------------------------

ERRORS = [
    ("Security check failed. Please refresh the page and try again.", e.NonceExpiredError, "nonce-2.3.20+"),
    ("Security check failed (nonce).", e.NonceExpiredError, "nonce-2.3.19"),
    ("This domain is not permitted to access the chatbot.", e.SiteConfigurationError, "cors"),
    ("Server error: Stream processing components not ready.", e.SiteConfigurationError, "components"),
    ("SSE service components not fully initialized.", e.SiteConfigurationError, "sse-components"),
    ("Message cache key is missing.", CacheMissError, "cache-key-missing"),
    ("Message not found in cache.", CacheMissError, "cache-unknown"),
    ("Cached message has expired.", CacheMissError, "cache-expired"),
    ("Cache key cannot be empty.", CacheMissError, "cache-key-empty"),
    ("Unsupported stream context.", e.SiteConfigurationError, "context"),
    ("Chat stream handler component missing.", e.SiteConfigurationError, "handler"),
    ("Invalid chatbot specified.", e.BotNotFoundError, "bot"),
    ("Conversation ID is missing.", e.ResponseError, "conversation"),
    ("Session ID is missing for guest.", e.ResponseError, "session"),
    ("Message or image cannot be empty.", e.EmptyMessageError, "empty"),
    ("Could not load chatbot configuration.", e.SiteConfigurationError, "config"),
    ("Access disabled for guests.", e.TokenLimitError, "guests-disabled"),
    ("Access disabled for your account/role.", e.TokenLimitError, "role-disabled"),
    ("You have reached your quota for this period.", e.TokenLimitError, "quota"),
    ("You have reached your token limit for this period.", e.TokenLimitError, "token-limit-old"),
    ("User/Session ID missing for token check.", e.ResponseError, "token-check"),
    ("Access from your IP address has been blocked.", e.IPBannedError, "banned-ip"),
    ("Sorry, your message could not be sent as it contains prohibited words.", e.MessageFlaggedError, "words"),
    ("Your message was flagged by the moderation system and could not be sent.", e.MessageFlaggedError,
     "moderation"),
    ("Failed to log user message.", e.SiteConfigurationError, "log"),
    ("API Error: The model is overloaded", e.UpstreamError, "api-error"),
    ("API Error: Incorrect API key provided: sk-abc", e.SiteConfigurationError, "api-key"),
    ("Connection Error: Operation timed out after 120000 milliseconds", e.UpstreamError, "curl"),
    ("Connection error: no data received from AI.", e.UpstreamError, "no-data"),
    ("An unknown API error occurred.", e.UpstreamError, "unknown-api-error-2.4.0"),
    ("Too many requests. Please wait a minute and try again.", e.RateLimitError, "per-ip-2.4.97"),
    ("Unable to verify this request. Please try again.", e.ServerError, "unverifiable-ip"),
    ("Some trigger block text", e.UpstreamError, "anything-else"),
]


@pytest.mark.parametrize(("text", "error"), [pytest.param(t, c, id=i) for t, c, i in ERRORS])
def test_error_texts(text: str, error: type[Exception]) -> None:
    with pytest.raises(error) as info:
        read(start(), record({"error": text}, "error", id_="err-1"), DONE)
    assert type(info.value) is error  # the exact class, not only a parent
    if isinstance(info.value, e.ResponseError):
        assert info.value.site_message == text


def test_site_error_redacts() -> None:
    error = site_error("API Error: key sk-SECRET is wrong", redact=lambda s: s.replace("sk-SECRET", "sk-***"))
    assert "sk-SECRET" not in str(error) and "sk-***" in str(error)


def test_bot_not_found_names_the_bots_seen() -> None:
    error = site_error("Invalid chatbot specified.", bot_id=4, bot_ids=[1, 2])
    assert isinstance(error, e.BotNotFoundError)
    assert (error.bot_id, error.bot_ids) == (4, (1, 2)) and "1, 2" in str(error)


def test_token_limit_error_keeps_its_old_signature() -> None:
    error = e.TokenLimitError("quota", site_message="q")
    assert (error.notice, error.actions, error.site_message) == ("", (), "q")

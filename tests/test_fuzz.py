"""Property and fuzz tests (hypothesis) for the page reader, the response reader and the SSE parser.

tests/test_protocol_wpaicg_page.py and tests/test_protocol_wpaicg.py already fuzz arbitrary text pages, arbitrary bytes as
SSE chunks and arbitrary status/body pairs. These add structure-aware fuzzing: mutations of the
real recorded homepage, well-formed JSON of any shape, event streams assembled from the
plugin's real event kinds (flags, word-split errors, [DONE], [LIMITED]) cut at random places
with random line endings, deep nesting, and Retry-After values. The rule everywhere: the answer
or one of our typed errors, nothing else.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatgpt4o import exceptions as e
from chatgpt4o._answer import decode_json_body, parse_retry_after
from chatgpt4o.protocols.wpaicg import iter_text, parse_page, read_reply

from .conftest import FIXTURES

URL = "https://chat.example/"
JSON_CT = {"Content-Type": "application/json; charset=UTF-8"}
SSE_CT = {"Content-Type": "text/event-stream;charset=UTF-8"}
HOMEPAGE = (FIXTURES / "homepage.html").read_text(encoding="utf-8")
# The real page holds the box near this spot; mutations are aimed around it half the time.
BOX_AT = max(0, HOMEPAGE.find("wpaicg-chat-shortcode") - 2000)


# --- the page reader: mutations of the real homepage ------------------------------------------

_mutation = st.one_of(
    st.tuples(st.just("delete"), st.integers(0, len(HOMEPAGE)), st.integers(1, 5000)),
    st.tuples(st.just("insert"), st.integers(0, len(HOMEPAGE)), st.text(max_size=200)),
    st.tuples(st.just("replace"), st.integers(0, len(HOMEPAGE)), st.text(st.sampled_from('<>"\'= /-&;\x00\n'), max_size=50)),
    st.tuples(st.just("truncate"), st.integers(0, len(HOMEPAGE)), st.just("")),
    st.tuples(st.just("near-box"), st.integers(BOX_AT, BOX_AT + 6000), st.text(st.sampled_from('<>"\'= /-x0'), max_size=30)),
)


def _mutate(page: str, mutations: list[tuple[str, int, Any]]) -> str:
    for kind, at, arg in mutations:
        at = min(at, len(page))
        if kind == "delete":
            page = page[:at] + page[at + arg :]
        elif kind == "insert":
            page = page[:at] + arg + page[at:]
        elif kind in ("replace", "near-box"):
            page = page[:at] + arg + page[at + len(arg) :]
        else:
            page = page[:at]
    return page


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_mutation, min_size=1, max_size=6))
def test_mutated_real_homepage_gives_tokens_or_our_error(mutations: list[tuple[str, int, Any]]) -> None:
    page = _mutate(HOMEPAGE, mutations)
    try:
        tokens = parse_page(page, URL)
    except e.PageError:  # TokensNotFoundError included
        return
    assert tokens.nonce and isinstance(tokens.nonce, str)
    assert tokens.post_id and tokens.post_id.isdigit()
    assert tokens.ajax_url.startswith(("http://", "https://"))


def test_the_unmutated_homepage_parses() -> None:
    assert parse_page(HOMEPAGE, URL).nonce


# --- the response reader: JSON of any shape -------------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
_payload = st.one_of(
    _json,
    st.fixed_dictionaries(
        {"status": st.sampled_from(["success", "error", "", None]), "data": _json},
        optional={"msg": st.text(max_size=40), "tokenLimitReached": st.booleans(), "ipBanned": st.booleans(),
                  "messageFlagged": st.booleans(), "log": _json},
    ),
)


@settings(max_examples=300, deadline=None)
@given(_payload, st.sampled_from(["", "<br />\n<b>Notice</b>: Undefined index in x.php\n", "\ufeff", "  \r\n"]))
def test_any_json_answer_gives_the_data_or_our_error(payload: Any, prefix: str) -> None:
    body = (prefix + json.dumps(payload)).encode()
    try:
        answer = read_reply(200, JSON_CT, body)
    except e.Chatgpt4oError:
        return
    # Only a dict with a string data and no error flag is an answer, and then it is exactly data.
    assert isinstance(payload, dict) and payload.get("status") != "error"
    assert not any(payload.get(flag) for flag in ("tokenLimitReached", "ipBanned", "messageFlagged"))
    assert answer == payload["data"]


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 200_000), st.sampled_from(["[", '{"a":']))
def test_deeply_nested_json_is_our_error(depth: int, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    body = (opener * depth + ("1" if opener != "[" else "") + closer * depth).encode()
    try:
        read_reply(200, JSON_CT, body)
    except e.Chatgpt4oError:
        pass
    event = b"data: " + body + b"\n\n"
    try:
        "".join(iter_text([event]))
    except e.Chatgpt4oError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200), st.binary(max_size=50))
def test_json_decoder_with_arbitrary_prefix_and_suffix(prefix: bytes, suffix: bytes) -> None:
    good = json.dumps({"status": "success", "data": "ok"}).encode()
    try:
        value = decode_json_body(prefix + good + suffix)
    except e.MalformedResponseError:
        return
    assert value is not None


# --- the SSE parser: the plugin's real event kinds, cut anywhere -----------------------------------


def _delta(text: str) -> str:
    doc = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": text}}]}
    return "data: " + json.dumps(doc) + "\n\n"


_FLAG_ERRORS = {"tokenLimitReached": e.TokenLimitError, "messageFlagged": e.MessageFlaggedError,
                "ipBanned": e.IPBannedError, "pineconeError": e.UpstreamError}

_event = st.one_of(
    st.tuples(st.just("delta"), st.text(max_size=12)),
    st.tuples(st.just("flag"), st.sampled_from(sorted(_FLAG_ERRORS))),
    st.tuples(st.just("word"), st.text(st.characters(blacklist_characters='"\\\n\r', blacklist_categories=["Cs"]), min_size=1, max_size=8)),
    st.tuples(st.just("comment"), st.text(st.characters(blacklist_characters="\n\r", blacklist_categories=["Cs"]), max_size=10)),
    st.tuples(st.just("done"), st.just("")),
    st.tuples(st.just("limited"), st.just("")),
    st.tuples(st.just("garbage"), st.binary(max_size=20)),
)


def _render(kind: str, arg: Any) -> bytes:
    if kind == "garbage":
        return b"data: " + bytes(arg) + b"\n\n"
    text: str = str(arg)
    if kind == "delta":
        return _delta(text).encode()
    if kind == "flag":
        return ("data: " + json.dumps({"msg": "refused", text: True}) + "\n\n").encode()
    if kind == "word":
        return ('event: message\ndata: {"choices":[{"delta":{"content":" ' + text + '"}}]}\n\n').encode()
    if kind == "comment":
        return (": " + text + "\n\n").encode()
    if kind == "done":
        return b"data: [DONE]\n\n"
    if kind == "limited":
        return b"data: [LIMITED]\n\n"
    raise AssertionError(kind)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(_event, max_size=12),
    st.lists(st.integers(1, 64), max_size=40),
    st.sampled_from(["\n", "\r\n", "\r"]),
)
def test_event_streams_cut_anywhere_give_text_or_our_error(
    events: list[tuple[str, Any]], cuts: list[int], eol: str
) -> None:
    body = b"".join(_render(kind, arg) for kind, arg in events).replace(b"\n", eol.encode())
    pieces, pos = [], 0
    for size in cuts:
        pieces.append(body[pos : pos + size])
        pos += size
    pieces.append(body[pos:])
    ended = next((i for i, (kind, _) in enumerate(events) if kind in ("done", "limited")), len(events))
    live = events[:ended]  # what is read before the stream ends
    first_bad = next((item for item in live if item[0] in ("flag", "garbage")), None)
    try:
        text = "".join(iter_text(pieces))
    except e.Chatgpt4oError as exc:
        if first_bad is not None and first_bad[0] == "flag":
            # A flag raises its own error at once, whatever follows (model text, error words).
            assert isinstance(exc, _FLAG_ERRORS[first_bad[1]]), repr(exc)
        elif isinstance(exc, e.StreamTruncatedError):
            # No [DONE]/[LIMITED]: the stream was cut short, never an answer.
            assert ended == len(events), repr(exc)
        else:
            assert first_bad is not None or any(kind == "word" for kind, _ in live), repr(exc)
        return
    # No error: the text is exactly the deltas before [DONE]/[LIMITED], whatever the cuts and
    # line endings (JSON escapes any line break inside a delta).
    assert first_bad is None or first_bad[0] == "garbage"
    assert ended < len(events), "a stream without its end marker was taken as an answer"
    if first_bad is None:
        assert not any(kind == "word" for kind, _ in live)
        assert text == "".join(arg for kind, arg in live if kind == "delta")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=10), min_size=1, max_size=20), st.lists(st.integers(1, 30), max_size=30))
def test_clean_streams_round_trip_through_any_cuts(words: list[str], cuts: list[int]) -> None:
    body = b"".join(_delta(w).encode() for w in words) + b"data: [DONE]\n\n"
    pieces, pos = [], 0
    for size in cuts:
        pieces.append(body[pos : pos + size])
        pos += size
    pieces.append(body[pos:])
    assert "".join(iter_text(pieces)) == "".join(words)
    assert read_reply(200, SSE_CT, body) == "".join(words)


# --- Retry-After --------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.none(), st.text(max_size=40), st.integers(-10**6, 10**12).map(str)))
def test_retry_after_never_raises(value: str | None) -> None:
    seconds = parse_retry_after(value, now=1_700_000_000.0)
    assert seconds is None or seconds >= 0

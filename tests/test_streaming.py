"""Streaming over real sockets: the emulator in every era and stream setting, and a scripted SSE site.

The emulator answers in JSON or as ``text/event-stream`` depending on the site's setting; the
client must return the same text either way. A tiny raw-socket site (:class:`ScriptedSite`)
writes SSE answers byte by byte under the test's control, which proves that pieces are
yielded as they arrive (the server holds the rest back until the test has the first piece)
and that stopping early closes the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import socketserver
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from chatgpt4o import Chatgpt4o, Client, create_async, create_async_stream
from chatgpt4o import exceptions as e
from chatgpt4o.emulator import Emulator

from ._loopback import read_request

pytestmark = pytest.mark.integration

LONG = "tell me a story about seven quick foxes jumping over lazy dogs"
# Bounds that only detect a hang; nothing here is timed.
WAIT = 10.0



@pytest.fixture
def emu(wpaicg_emulator_factory: Callable[..., Emulator], era: str, stream: bool) -> Emulator:
    return wpaicg_emulator_factory(era=era, stream=stream, page_size=20_000)


@pytest.fixture
def client(emu: Emulator) -> Iterator[Client]:
    with Client(emu.base_url, max_retries=0, timeout=WAIT) as c:
        yield c


@pytest.fixture(autouse=True)
def _fresh_facade() -> Iterator[None]:
    yield
    Chatgpt4o.close_clients()


def _pieces_until_error(iterator: Iterator[str]) -> tuple[list[str], BaseException | None]:
    pieces: list[str] = []
    try:
        pieces.extend(iterator)  # keeps what came before an error
    except e.Chatgpt4oError as exc:
        return pieces, exc
    return pieces, None


# --- the emulator: every era, both stream settings -----------------------------------------


def test_ask_returns_the_whole_answer_whatever_the_response_type(client: Client, emu: Emulator, stream: bool) -> None:
    assert client.ask(LONG) == "echo: " + LONG
    # The site's setting, not the client, chose the answer's form.
    assert client.inspect().stream is stream


def test_stream_yields_pieces_that_join_to_the_answer(client: Client, stream: bool) -> None:
    whole = client.ask(LONG)
    pieces = list(client.stream(LONG))
    assert "".join(pieces) == whole
    if stream:
        assert len(pieces) > 5, pieces  # one per word, as the model produced them
    else:
        assert pieces == [whole]  # a JSON answer is one piece


def test_breaking_out_of_a_stream_leaves_the_client_usable(client: Client, emu: Emulator, stream: bool) -> None:
    if stream:
        emu.configure(latency=2.0)  # spread over the events: the answer is still being sent
    for piece in client.stream(LONG):
        assert piece
        break
    emu.configure(latency=0.0)
    assert client.ask("next") == "echo: next"


@pytest.mark.parametrize(
    ("setting", "error", "site_text"),
    [
        pytest.param({"token_limit": True}, e.TokenLimitError, "You have reached your token limit.", id="token-limit"),
        pytest.param({"banned_ips": ("127.0.0.1",)}, e.IPBannedError, "You are not allowed to access this feature.", id="ip-banned"),
        pytest.param({"banned_words": ("foxes",)}, e.MessageFlaggedError, "Your message contains prohibited words.", id="banned-word"),
    ],
)
def test_plugin_flags_raise_the_typed_error_in_every_form(
    client: Client, emu: Emulator, setting: dict[str, Any], error: type[e.ResponseError], site_text: str,
) -> None:
    emu.configure(**setting)
    with pytest.raises(error) as info:
        client.ask(LONG)
    assert info.value.site_message.startswith(site_text)
    pieces, exc = _pieces_until_error(client.stream(LONG))
    assert isinstance(exc, error)
    assert pieces == []  # nothing of the model's text that may follow the flag is yielded


@pytest.mark.parametrize("setting", [{"banned_ips": ("127.0.0.1",)}, {"banned_words": ("foxes",)}], ids=["ip-banned", "banned-word"])
def test_model_text_really_follows_the_flag_in_stream_mode(wpaicg_emulator_factory: Callable[..., Emulator], era: str, setting: dict[str, Any]) -> None:
    """The premise of the test above: the plugin does not stop after a ban flag."""
    emu = wpaicg_emulator_factory(era=era, stream=True, page_size=20_000, **setting)
    with Client(emu.base_url, max_retries=0, timeout=WAIT) as client:
        client.inspect()
        tokens = client._tokens
        assert tokens is not None
        form = {"_wpnonce": tokens.nonce, "post_id": tokens.post_id, "url": tokens.url,
                "action": "wpaicg_chat_shortcode_message", "message": LONG, "bot_id": "0",
                "chatbot_identity": "shortcode", "wpaicg_chat_client_id": "abcdefghij",
                "wpaicg_chat_history": "[]", "chat_id": "1"}
        body = requests.post(emu.ajax_url, data=form, timeout=WAIT).text
        flag = body.find('"ipBanned":true') if "banned_ips" in setting else body.find('"messageFlagged":true')
        assert 0 <= flag < body.find('"content":"echo:')
        with pytest.raises(e.BlockedError):
            client.ask(LONG)


@pytest.mark.parametrize("end", ["stop", "limited"])
def test_upstream_error_words_are_gathered_into_one_error(client: Client, emu: Emulator, stream: bool, end: str) -> None:
    words = 'The model "gpt-5-turbo" does not exist or you do not have access to it.'
    emu.configure(upstream_error=words, stream_error_end=end)
    with pytest.raises(e.UpstreamError) as info:
        client.ask("hi")
    assert info.value.site_message == words
    pieces, exc = _pieces_until_error(client.stream("hi"))
    assert isinstance(exc, e.UpstreamError) and exc.site_message == words
    assert pieces == []  # the provider's words are the error, never the answer


def test_astream_is_an_async_iterator_of_the_same_pieces(client: Client) -> None:
    async def collect() -> list[str]:
        iterator = client.astream(LONG)
        assert hasattr(iterator, "__anext__")
        return [piece async for piece in iterator]

    pieces = asyncio.run(collect())
    assert "".join(pieces) == client.ask(LONG)


def test_astream_raises_the_typed_error(client: Client, emu: Emulator) -> None:
    emu.configure(token_limit=True)

    async def collect() -> list[str]:
        return [piece async for piece in client.astream(LONG)]

    with pytest.raises(e.TokenLimitError):
        asyncio.run(collect())


def test_create_async_stream_and_create_async(emu: Emulator, stream: bool) -> None:
    messages = [{"role": "user", "content": LONG}]

    async def run() -> tuple[list[str], str, str]:
        iterator = create_async_stream("gpt-4o-mini", messages, base_url=emu.base_url, timeout=WAIT)
        pieces = [piece async for piece in iterator]
        whole = await create_async("gpt-4o-mini", messages, base_url=emu.base_url, timeout=WAIT)
        # The documented signature keeps returning str, whatever a caller passes.
        still_text = await create_async("gpt-4o-mini", messages, base_url=emu.base_url, timeout=WAIT, stream=True)
        return pieces, whole, still_text

    pieces, whole, still_text = asyncio.run(run())
    assert isinstance(whole, str) and isinstance(still_text, str)
    assert whole == still_text == "echo: " + LONG
    assert "".join(pieces) == whole
    assert (len(pieces) > 1) is stream


TEN_WORDS = "one two three four five six seven eight nine ten"


def test_a_stream_cut_short_by_a_clean_close_is_a_failure_never_the_answer(
    wpaicg_emulator_factory: Callable[..., Emulator],
) -> None:
    """PHP's max_execution_time ending a long answer: the socket closes cleanly, no [DONE]."""
    emu = wpaicg_emulator_factory(era="1.8.96", stream=True, reply=TEN_WORDS, latency=1.0)
    with Client(emu.base_url, max_retries=0, timeout=WAIT) as client:
        client.inspect()
        chat = client.chat()

        def stop_mid_answer() -> None:
            # Counted from the post's arrival: the answer's ten words take 1 s.
            while emu.stats["ajax_posts"] < 1:
                threading.Event().wait(0.01)
            threading.Event().wait(0.45)
            emu.stop()

        stopper = threading.Thread(target=stop_mid_answer, daemon=True)
        stopper.start()
        try:
            with pytest.raises(e.StreamTruncatedError, match="end marker"):
                chat.ask("hi")
        finally:
            stopper.join(WAIT)
        assert chat.history == []


def test_a_truncated_stream_is_retried_by_ask_and_never_recorded(wpaicg_emulator_factory: Callable[..., Emulator]) -> None:
    emu = wpaicg_emulator_factory(era="1.8.96", stream=True, reply=TEN_WORDS, fault="sse_no_done", fault_count=1)
    with Client(emu.base_url, max_retries=1, timeout=WAIT, sleep=lambda _s: None) as client:
        chat = client.chat()
        assert chat.ask("hi") == TEN_WORDS
        assert emu.stats["ajax_posts"] == 2
        emu.configure(fault="sse_no_done", fault_count=1)
        pieces, exc = _pieces_until_error(chat.stream("again"))
        assert isinstance(exc, e.StreamTruncatedError) and isinstance(exc, e.APIConnectionError)
        assert "".join(pieces) == TEN_WORDS  # every word came, but not the end marker
        assert [item["text"] for item in chat.history] == ["Human: hi", f"AI: {TEN_WORDS}"]


# --- a scripted SSE site: arrival order, early close, odd framing ----------------------------

NONCE = "0a1b2c3d4e"
Answer = Callable[[socket.socket, "ScriptedSite"], None]


class ScriptedSite:
    """A chat page plus an ajax endpoint whose answer ``answer(sock, site)`` writes by hand."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.gate = threading.Event()          # the test lets the rest of the answer go
        self.gate_timed_out = threading.Event()  # the server stopped waiting for the test
        self.client_closed = threading.Event()   # the client hung up mid-answer
        self.finished = threading.Event()
        self.posts = 0
        self.form = b""
        site = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                sock: socket.socket = self.request
                sock.settimeout(WAIT)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                head, body = read_request(sock)
                if head.startswith(b"GET "):
                    sock.sendall(_http(200, "text/html; charset=UTF-8", site.page().encode()))
                    return
                site.posts += 1
                site.form = body
                try:
                    site.answer(sock, site)
                finally:
                    site.finished.set()

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def page(self) -> str:
        return (
            "<html><head><link rel='stylesheet' href='/wp-content/plugins/gpt3-ai-content-generator/"
            "public/css/wp-ai-content-generator-public.css?ver=1.8.96'></head><body>"
            f'<div class="wpaicg-chat-shortcode" data-nonce="{NONCE}" data-post-id="11" data-url="{self.base_url}" '
            'data-bot-id="0" data-type="shortcode" data-openai_stream_nav="1" data-memory-limit = "100"></div>'
            f'<script>var wpaicgParams = {{"ajax_url":"{self.base_url}/wp-admin/admin-ajax.php","search_nonce":"{NONCE}"}};</script>'
            "</body></html>"
        )

    def wait_for_gate(self) -> None:
        if not self.gate.wait(WAIT):
            self.gate_timed_out.set()

    def __enter__(self) -> ScriptedSite:  # noqa: PYI034 - Self needs Python 3.11
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.gate.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(WAIT)


def _http(status: int, ctype: str, body: bytes) -> bytes:
    return (f"HTTP/1.1 {status} OK\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n").encode() + body


SSE_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream;charset=UTF-8\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n"
SSE_CHUNKED_HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream;charset=UTF-8\r\n"
                    b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")


def delta(text: str) -> bytes:
    doc = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": text}}]}
    return b"data: " + json.dumps(doc, ensure_ascii=False).encode() + b"\n\n"


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def test_pieces_are_yielded_as_they_arrive() -> None:
    def answer(sock: socket.socket, site: ScriptedSite) -> None:
        sock.sendall(SSE_HEAD + delta("first "))
        site.wait_for_gate()  # the rest goes only once the test holds the first piece
        sock.sendall(delta("second") + b"data: [DONE]\n\n")

    with ScriptedSite(answer) as site, Client(site.base_url, max_retries=0, timeout=WAIT) as client:
        pieces = client.stream("hi")
        first = next(pieces)
        # The server is still holding the rest back: this piece came before the answer ended.
        assert not site.gate_timed_out.is_set() and not site.finished.is_set()
        assert first == "first "
        site.gate.set()
        assert first + "".join(pieces) == "first second"
        assert not site.gate_timed_out.is_set()


@pytest.mark.parametrize("how", ["close", "break"])
def test_stopping_early_closes_the_response(how: str) -> None:
    def answer(sock: socket.socket, site: ScriptedSite) -> None:
        sock.sendall(SSE_CHUNKED_HEAD + _chunk(delta("first ")))
        sock.settimeout(0.05)
        for _ in range(int(WAIT / 0.05)):  # the answer would go on; watch for the client leaving
            try:
                if sock.recv(1) == b"":
                    site.client_closed.set()
                    return
            except TimeoutError:
                continue
            except OSError:
                site.client_closed.set()
                return

    with ScriptedSite(answer) as site, Client(site.base_url, max_retries=0, timeout=WAIT) as client:
        if how == "close":
            pieces = client.stream("hi")
            assert next(pieces) == "first "
            pieces.close()
        else:
            for piece in client.stream("hi"):
                assert piece == "first "
                break
        assert site.client_closed.wait(WAIT), "the client kept the connection open after stopping"


def _script(*writes: bytes, head: bytes = SSE_HEAD) -> Answer:
    def answer(sock: socket.socket, site: ScriptedSite) -> None:
        sock.sendall(head)
        for data in writes:
            sock.sendall(data)

    return answer


def _bytewise(data: bytes) -> tuple[bytes, ...]:
    return tuple(data[i : i + 1] for i in range(len(data)))


_ROLE = b'data: {"choices":[{"delta":{"role":"assistant","content":""}}]}\n\n'
_MIXED = (
    b": keep-alive comment\n\n"
    + b"event: message\r\n" + _ROLE.replace(b"\n\n", b"\r\n\r\n")
    + delta("Caf\u00e9 ") + b'data: {"choices":[{"text":"legacy "}]}\n\n'
    + b"id: 7\nretry: 100\n" + delta("\U0001f389 done")
    + b'data: {"choices":[{"delta":{},"finish_reason":"stop"}]}\n\n'
)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        pytest.param(_script(_MIXED, b"data: [DONE]\n\n"), "Caf\u00e9 legacy \U0001f389 done", id="done"),
        pytest.param(_script(_MIXED), "Caf\u00e9 legacy \U0001f389 done", id="eof-without-done"),
        pytest.param(_script(delta("no blank line") + b"data: [DONE]"), "no blank line", id="eof-mid-event"),
        pytest.param(_script(*_bytewise(_MIXED + b"data: [DONE]\n\n")), "Caf\u00e9 legacy \U0001f389 done", id="byte-by-byte"),
        pytest.param(
            _script(*(_chunk(part) for part in _bytewise(_MIXED)), b"0\r\n\r\n", head=SSE_CHUNKED_HEAD),
            "Caf\u00e9 legacy \U0001f389 done", id="chunked-byte-by-byte",
        ),
        pytest.param(_script(delta("kept"), b"data: [DONE]\n\n", delta(" ignored")), "kept", id="text-after-done"),
    ],
)
def test_sse_framing_over_a_socket(answer: Answer, expected: str) -> None:
    with ScriptedSite(answer) as site, Client(site.base_url, max_retries=0, timeout=WAIT) as client:
        assert "".join(client.stream("hi")) == expected
        assert client.ask("hi") == expected


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(_script(delta("cut "), delta("short")), id="no-end-marker"),
        pytest.param(_script(delta("cut "), delta("short")[:-2]), id="eof-mid-event"),
        pytest.param(_script(_chunk(delta("cut short")), b"0\r\n\r\n", head=SSE_CHUNKED_HEAD), id="chunked-clean-close"),
        pytest.param(_script(), id="empty-stream"),
    ],
)
def test_a_stream_without_its_end_marker_is_truncated(answer: Answer) -> None:
    with ScriptedSite(answer) as site, Client(site.base_url, max_retries=0, timeout=WAIT) as client:
        with pytest.raises(e.StreamTruncatedError):
            client.ask("hi")
        pieces, exc = _pieces_until_error(client.stream("hi"))
        assert isinstance(exc, e.StreamTruncatedError)
        assert "".join(pieces) in ("", "cut short")


def test_a_stream_truncated_before_any_text_is_retried() -> None:
    def answer(sock: socket.socket, site: ScriptedSite) -> None:
        if site.posts == 1:
            sock.sendall(SSE_HEAD + b": keep-alive\n\n")  # then a clean close, no end marker
        else:
            sock.sendall(SSE_HEAD + delta("whole") + b"data: [DONE]\n\n")

    with ScriptedSite(answer) as site, Client(site.base_url, max_retries=1, timeout=WAIT, sleep=lambda _s: None) as client:
        assert list(client.stream("hi")) == ["whole"]
        assert site.posts == 2


def test_flag_after_model_text_started_still_raises() -> None:
    """A flag event wins even when the stream carries model text around it."""
    flag = b'data: {"msg":"You are not allowed to access this feature.","ipBanned":true}\n\n'
    with ScriptedSite(_script(flag, delta("model text"), b"data: [DONE]\n\n")) as site, \
            Client(site.base_url, max_retries=0, timeout=WAIT) as client:
        with pytest.raises(e.IPBannedError):
            client.ask("hi")
        pieces, exc = _pieces_until_error(client.stream("hi"))
        assert isinstance(exc, e.IPBannedError) and pieces == []


@pytest.mark.parametrize("how", ["stream", "ask"])
def test_deadline_ends_an_answer_that_never_finishes(how: str) -> None:
    """An SSE answer framed by ``Connection: close`` that trickles on ends at the client's
    timeout with APITimeoutError, never as a "complete" partial answer (hang check only)."""
    def answer(sock: socket.socket, site: ScriptedSite) -> None:
        sock.sendall(SSE_HEAD + delta("start "))
        with contextlib.suppress(OSError):
            for _ in range(int(WAIT / 2 / 0.05)):  # bounded: the test cannot hang on a bug
                if site.gate.wait(0.05):
                    return
                sock.sendall(b": still thinking\n\n")

    with ScriptedSite(answer) as site, Client(site.base_url, max_retries=0, timeout=1.0) as client:
        if how == "stream":
            pieces, exc = _pieces_until_error(client.stream("hi"))
            assert pieces == ["start "]
            assert isinstance(exc, e.APITimeoutError)
        else:
            with pytest.raises(e.APITimeoutError):
                client.ask("hi")
        assert not site.finished.is_set(), "the answer ran to its end: the deadline did not cut it"

"""``Client(impersonate=...)`` over real sockets, against the emulator's TLS bot check."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import pickle
import select
import socket
import ssl
import sys
import threading
from collections.abc import Iterator

import pytest
import requests.utils

from chatgpt4o import (
    APITimeoutError,
    ChallengeError,
    Client,
    InvalidConfigError,
    TLSError,
    cli,
    create_async,
)
from chatgpt4o.emulator import Emulator

from ._loopback import read_request

pytestmark = pytest.mark.integration


#: Both plugin generations: the legacy shortcode (one POST per ask) and AIPKit (a cache POST,
#: then a GET of the event stream).
ERAS = ("1.8.96", "2.4.71")


@pytest.fixture(scope="module", params=ERAS)
def emu(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    with Emulator(era=request.param, tls=True, bot_check="tls") as emulator:
        yield emulator


def _requests_per_ask(emu: Emulator) -> int:
    return 2 if emu.config.era.startswith("2.") else 1


def test_default_client_is_challenged(emu: Emulator) -> None:
    before = emu.stats["challenged_connections"]
    with Client(emu.page_url, verify=emu.ca_file, max_retries=0) as client, pytest.raises(ChallengeError):
        client.ask("hi")
    assert emu.stats["challenged_connections"] > before
    assert emu.stats["status_counts"][403] >= 1


def test_challenge_then_answer_on_the_same_site(emu: Emulator) -> None:
    # The same ask, the same site: only the transport differs.
    with Client(emu.page_url, verify=emu.ca_file, max_retries=0) as plain, pytest.raises(ChallengeError):
        plain.ask("same question")
    with Client(emu.page_url, verify=emu.ca_file, max_retries=0, impersonate="chrome") as browser:
        assert browser.ask("same question") == "echo: same question"
        assert "".join(browser.stream("streamed too")) == "echo: streamed too"


@pytest.mark.parametrize("target", ["chrome", "firefox", "safari", "edge", "chrome131", "safari18_0"])
def test_impersonating_client_gets_the_answer(emu: Emulator, target: str) -> None:
    # The page GET and the POST (the client's direct-adapter fast path) both pass the bot check.
    with Client(emu.page_url, impersonate=target, verify=emu.ca_file) as client:
        assert client.ask(f"hi {target}") == f"echo: hi {target}"
    sent = emu.requests[-1]["headers"]
    assert "Mozilla/5.0" in sent["user-agent"]
    assert ("Firefox/" in sent["user-agent"]) == target.startswith("firefox")
    assert ("sec-ch-ua" in sent) == target.startswith(("chrome", "edge"))


def test_extra_headers_win_over_the_browser_defaults(emu: Emulator) -> None:
    with Client(emu.page_url, impersonate="chrome", verify=emu.ca_file, headers={"User-Agent": "mine/1"}) as client:
        client.ask("hi")
    assert emu.requests[-1]["headers"]["user-agent"] == "mine/1"


@pytest.mark.parametrize("target", ["netscape", "chrome999", "Chrome", "", "tor"])
def test_unknown_target_raises_before_io(emu: Emulator, target: str) -> None:
    before = emu.stats["connections"]
    with pytest.raises(InvalidConfigError, match="impersonate"):
        Client(emu.page_url, impersonate=target, verify=emu.ca_file)
    assert emu.stats["connections"] == before


def test_missing_extra_names_the_pip_command(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "curl_cffi" or m.startswith("curl_cffi.")] + ["chatgpt4o._curl"]:
        monkeypatch.setitem(sys.modules, name, None)  # type: ignore[arg-type]
    before = emu.stats["connections"]
    with pytest.raises(InvalidConfigError, match=r"pip install 'chatgpt4o\[browser\]'"):
        Client(emu.page_url, impersonate="chrome")
    assert emu.stats["connections"] == before


def test_warm_asks_reuse_the_connection(emu: Emulator) -> None:
    with Client(emu.page_url, impersonate="chrome", verify=emu.ca_file) as client:
        client.ask("warm up")
        before, requests_before = emu.stats["connections"], emu.stats["requests"]
        for i in range(100):
            assert client.ask(f"q{i}") == f"echo: q{i}"
        assert emu.stats["connections"] == before
        assert emu.stats["requests"] - requests_before == 100 * _requests_per_ask(emu)


def test_concurrent_asks(emu: Emulator) -> None:
    with Client(emu.page_url, impersonate="chrome", verify=emu.ca_file, max_concurrency=4) as client:
        answers = client.ask_many([f"n{i}" for i in range(12)], concurrency=4)
    assert answers == [f"echo: n{i}" for i in range(12)]


def test_pickled_client_keeps_impersonating(emu: Emulator) -> None:
    with Client(emu.page_url, impersonate="safari", verify=emu.ca_file) as client:
        clone = pickle.loads(pickle.dumps(client))
    with clone:
        assert clone.ask("again") == "echo: again"


def test_wrong_ca_is_a_tls_error(emu: Emulator) -> None:
    with Client(emu.page_url, impersonate="chrome", verify=requests.utils.DEFAULT_CA_BUNDLE_PATH,
                max_retries=0) as client, pytest.raises(TLSError):
        client.ask("hi")


def test_verify_false(emu: Emulator) -> None:
    with Client(emu.page_url, impersonate="chrome", verify=False) as client:
        assert client.ask("hi") == "echo: hi"


def test_default_verify_rejects_the_self_signed_certificate(emu: Emulator) -> None:
    with Client(emu.page_url, impersonate="chrome", max_retries=0) as client, pytest.raises(TLSError):
        client.ask("hi")


def test_cookies_are_sent(emu: Emulator) -> None:
    cookies = {"cf_clearance": "clearance-value-123"}
    with Client(emu.page_url, impersonate="chrome", verify=emu.ca_file, cookies=cookies) as client:
        client.ask("hi")
    assert "cf_clearance=clearance-value-123" in emu.requests[-1]["headers"]["cookie"]


@pytest.mark.parametrize("era", ERAS)
def test_deadline_is_respected(era: str) -> None:
    # Without the deadline the ask would succeed after the latency.
    with Emulator(era=era, tls=True, latency=30.0) as slow, Client(
        slow.page_url, impersonate="chrome", verify=slow.ca_file, timeout=0.5, max_retries=0
    ) as client, pytest.raises(APITimeoutError):
        client.ask("hi")


@pytest.mark.parametrize("era", ERAS)
def test_stopping_a_stream_early_frees_the_transfer(era: str) -> None:
    with Emulator(era=era, tls=True, stream=True, latency=0.2, reply="one two three four five six") as site, Client(
        site.page_url, impersonate="chrome", verify=site.ca_file
    ) as client:
        pieces = client.stream("hi")
        assert next(pieces) == "one "
        pieces.close()
        assert "".join(client.stream("again")) == "one two three four five six"
        assert client.ask("and again") == "one two three four five six"


# -- a CONNECT proxy on loopback ---------------------------------------------------------


@contextlib.contextmanager
def _connect_proxy() -> Iterator[tuple[int, list[bytes]]]:
    """A tiny HTTP CONNECT proxy; yields its port and the request heads it saw."""
    listener = socket.create_server(("127.0.0.1", 0))
    heads: list[bytes] = []
    stop = threading.Event()

    def tunnel(conn: socket.socket) -> None:
        with conn:
            head, _ = read_request(conn)
            heads.append(head)
            target = head.split(b" ")[1].decode()
            host, _, port = target.rpartition(":")
            with socket.create_connection((host, int(port)), timeout=5) as upstream:
                conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                while not stop.is_set():
                    ready, _, _ = select.select([conn, upstream], [], [], 0.1)
                    for sock in ready:
                        data = sock.recv(65536)
                        if not data:
                            return
                        (upstream if sock is conn else conn).sendall(data)

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=tunnel, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield listener.getsockname()[1], heads
    finally:
        stop.set()
        listener.close()


def test_proxy_is_used_with_its_credentials(emu: Emulator) -> None:
    with _connect_proxy() as (port, heads):
        proxy = f"http://user:s3cret-pass@127.0.0.1:{port}"
        with Client(emu.page_url, impersonate="chrome", verify=emu.ca_file, proxy=proxy) as client:
            assert client.ask("via proxy") == "echo: via proxy"
            assert "s3cret" not in repr(client)
    assert heads and heads[0].startswith(b"CONNECT 127.0.0.1:")
    expected = base64.b64encode(b"user:s3cret-pass")
    assert b"Proxy-Authorization: Basic " + expected in heads[0]


# -- streaming with the server waiting for the client ------------------------------------


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def _events(era: str) -> tuple[bytes, bytes, bytes]:
    """The stream in three parts: up to the first delta, the second delta, the rest and the end."""
    if era.startswith("2."):
        # AIPKit: a GET of the event stream, a comment of 4096 spaces first (2.3.93+)
        def delta(text: str) -> bytes:
            return _chunk(('data: {"delta":"' + text + '"}\n\n').encode())

        start = _chunk(b":" + b" " * 4096 + b"\n\n") + _chunk(
            b'event: message_start\ndata: {"message_id":"aipkit-msg-66f1c2a3b4c5d4.12345678"}\n\n')
        end = _chunk(b'event: done\ndata: {"finished":true}\n\n')
    else:
        def delta(text: str) -> bytes:
            return _chunk(('data: {"choices":[{"delta":{"content":"' + text + '"}}]}\n\n').encode())

        start, end = b"", _chunk(b"data: [DONE]\n\n")  # a 1.x stream always ends with [DONE]
    return start + delta("first"), delta(" second"), delta(" third") + end + b"0\r\n\r\n"


@pytest.mark.parametrize("era", ERAS)
def test_stream_yields_each_event_as_it_arrives(era: str) -> None:
    """The server holds the second event until the client has the first: a client that
    buffered the body would only see the first event after the server gave up waiting."""
    with Emulator(era=era, tls=True, stream=True) as site:  # for its page and its certificate
        _serve_held_back_stream(site, era)


def _serve_held_back_stream(site: Emulator, era: str) -> None:
    page = site.render_page()
    certfile = site.ca_file
    assert certfile is not None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certfile, os.path.join(os.path.dirname(certfile), "key.pem"))
    release, sent_second = threading.Event(), threading.Event()
    heads: list[bytes] = []
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    first, second, rest = _events(era)
    stream_head = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
                   b"Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\nTransfer-Encoding: chunked\r\n\r\n")

    def serve() -> None:
        raw, _ = listener.accept()
        with context.wrap_socket(raw, server_side=True) as conn:
            conn.settimeout(10)
            read_request(conn)  # the page
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=UTF-8\r\n"
                         b"Set-Cookie: wp_visit=v-42; path=/\r\n"
                         + f"Content-Length: {len(page)}\r\n\r\n".encode() + page)
            if era.startswith("2."):  # step 1: the message goes to the cache
                heads.append(read_request(conn)[0])
                body = b'{"success":true,"data":{"cache_key":"aipkit_sse_AbCdEfGhIjKlMnOpQrStUvWxYz012345"}}'
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=UTF-8\r\n"
                             + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            heads.append(read_request(conn)[0])  # the stream
            conn.sendall(stream_head + first)
            release.wait(5)
            conn.sendall(second)
            sent_second.set()
            conn.sendall(rest)

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    try:
        with Client(f"https://127.0.0.1:{port}/", impersonate="chrome", verify=certfile, timeout=20) as client:
            pieces = client.stream("hi")
            got = next(pieces)
            got_first_before_second = not sent_second.is_set()
            release.set()
            others = list(pieces)
    finally:
        release.set()
        server.join(10)
        listener.close()
    assert got == "first"
    assert got_first_before_second
    assert others == [" second", " third"]
    assert heads[0].startswith(b"POST /wp-admin/admin-ajax.php ")
    if era.startswith("2."):
        assert heads[1].startswith(b"GET /wp-admin/admin-ajax.php?action=aipkit_frontend_chat_stream&cache_key=")
    assert all(b"wp_visit=v-42" in head for head in heads)  # the page's cookie came back each time


# -- the CLI and create_async ------------------------------------------------------------


def test_cli_impersonate(emu: Emulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", emu.ca_file or "")
    assert cli.main(["--base-url", emu.page_url, "--impersonate", "chrome", "ask", "from the cli"]) == 0
    assert capsys.readouterr().out.strip() == "echo: from the cli"
    assert cli.main(["--base-url", emu.page_url, "ask", "no impersonation"]) != 0
    assert "challenge" in capsys.readouterr().err.lower()


def test_cli_unknown_target(emu: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--base-url", emu.page_url, "--impersonate", "netscape", "ask", "hi"]) != 0
    assert "netscape" in capsys.readouterr().err


def test_create_async_impersonate(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", emu.ca_file or "")
    answer = asyncio.run(create_async("gpt-4o-mini", "async hi", base_url=emu.page_url, impersonate="firefox"))
    assert answer == "echo: async hi"

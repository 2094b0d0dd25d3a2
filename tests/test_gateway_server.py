"""The gateway's standard-library server: HTTP/1.1 persistent connections, framing, bounds, any WSGI app.

Most tests serve a small WSGI application (no site behind it) so that what is checked is the
server; a few serve the gateway itself in front of the emulator. Raw sockets and
``http.client`` are the callers, so every byte on the wire is visible.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from wsgiref.validate import validator

import openai
import pytest

from chatgpt4o import Client
from chatgpt4o.emulator import Emulator
from chatgpt4o.gateway import GatewayServer, create_app, make_server

pytestmark = pytest.mark.integration

App = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
USER = [{"role": "user", "content": "hello"}]


@contextlib.contextmanager
def serving(app: App) -> Iterator[GatewayServer]:
    server = make_server(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        server.wait_idle(5.0)
        thread.join(5.0)


def echo(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """Answers what it saw: the client's port (one per connection), the path and the body."""
    body = environ["wsgi.input"].read()
    doc = {"port": environ["REMOTE_PORT"], "path": environ["PATH_INFO"], "query": environ["QUERY_STRING"],
           "body": body.decode("latin-1"), "agent": environ.get("HTTP_USER_AGENT")}
    data = json.dumps(doc).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def pieces(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
    """A body of unknown length, yielded piece by piece (a streamed answer)."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    yield from (b"one ", b"", b"two ", b"three")


def ignores_body(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [environ["REMOTE_PORT"].encode()]


def connect(server: GatewayServer) -> http.client.HTTPConnection:
    host, port = server.server_address[:2]
    return http.client.HTTPConnection(str(host), int(port), timeout=10)


def raw(server: GatewayServer, data: bytes) -> bytes:
    """Send ``data`` on a fresh connection and read until the server closes it."""
    host, port = server.server_address[:2]
    with socket.create_connection((str(host), int(port)), timeout=10) as sock:
        sock.sendall(data)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    return reply


def get(conn: http.client.HTTPConnection, path: str, body: bytes | None = None,
        headers: dict[str, str] | None = None) -> tuple[http.client.HTTPResponse, bytes]:
    conn.request("POST" if body is not None else "GET", path, body=body, headers=headers or {})
    response = conn.getresponse()
    return response, response.read()


# -- persistent connections ----------------------------------------------------


def test_two_requests_share_one_connection() -> None:
    with serving(echo) as server:
        conn = connect(server)
        first, data1 = get(conn, "/a?x=1", b"hello")
        sock = conn.sock
        assert sock is not None  # http.client drops its socket when the server closes it
        second, data2 = get(conn, "/b%20c", b"world")
        assert conn.sock is sock  # http.client reconnects when the server closed the connection
        assert first.version == second.version == 11 and first.getheader("Connection") is None
        one, two = json.loads(data1), json.loads(data2)
        assert one["port"] == two["port"]  # the server saw one client connection
        assert (one["path"], one["query"], one["body"]) == ("/a", "x=1", "hello")
        assert (two["path"], two["body"]) == ("/b c", "world")
        other = connect(server)
        assert json.loads(get(other, "/")[1])["port"] != one["port"]
        conn.close()
        other.close()


def test_streamed_body_is_chunked_and_the_connection_goes_on() -> None:
    with serving(pieces) as server:
        conn = connect(server)
        response, data = get(conn, "/")
        assert response.getheader("Transfer-Encoding") == "chunked" and response.getheader("Content-Length") is None
        assert data == b"one two three"
        sock = conn.sock
        assert sock is not None  # http.client drops its socket when the server closes it
        assert get(conn, "/")[1] == b"one two three"
        assert conn.sock is sock
        conn.close()


def test_gateway_stream_over_one_connection_then_a_completion() -> None:
    body = json.dumps({"model": "gpt-4o-mini", "messages": USER, "stream": True}).encode()
    with Emulator(era="1.8.96", stream=True, reply="alpha beta") as emulator, \
            Client(emulator.base_url, max_retries=0, timeout=20) as client, serving(create_app(client)) as server:
        conn = connect(server)
        response, data = get(conn, "/v1/chat/completions", body, {"Content-Type": "application/json"})
        assert response.status == 200 and response.getheader("Transfer-Encoding") == "chunked"
        events = [line[6:] for line in data.decode().split("\n\n") if line]
        assert events[-1] == "[DONE]"
        deltas = [json.loads(e)["choices"][0]["delta"].get("content", "") for e in events[:-1]]
        assert "".join(deltas) == "alpha beta" and len([d for d in deltas if d]) == 2
        sock = conn.sock
        assert sock is not None  # http.client drops its socket when the server closes it
        whole = json.dumps({"model": "gpt-4o-mini", "messages": USER}).encode()
        response, data = get(conn, "/v1/chat/completions", whole, {"Content-Type": "application/json"})
        assert response.status == 200 and json.loads(data)["choices"][0]["message"]["content"] == "alpha beta"
        assert conn.sock is sock
        conn.close()


def test_openai_client_reuses_its_connection(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="chatgpt4o.gateway.access")
    with Emulator(era="1.8.96") as emulator, Client(emulator.base_url, max_retries=0, timeout=20) as client, \
            serving(create_app(client)) as server:
        seen: list[str] = []

        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            seen.append(environ["REMOTE_PORT"])
            return server_app(environ, start_response)

        server_app, server.app = server.app, app
        api = openai.OpenAI(base_url=server.url, api_key="x", max_retries=0, timeout=30)
        for _ in range(3):
            assert api.chat.completions.create(model="gpt-4o-mini", messages=USER).choices[0].message.content
        api.models.list()
        assert server.wait_idle(10)
    assert len(seen) == 4 and len(set(seen)) == 1
    lines = [r.getMessage() for r in caplog.records if r.name == "chatgpt4o.gateway.access"]
    assert len(lines) == 4 and all('" 200 ' in line for line in lines)


@pytest.mark.parametrize(("request_head", "kept"), [
    (b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", False),
    (b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Keep-Alive, close\r\n\r\n", False),
    (b"GET / HTTP/1.0\r\n\r\n", False),
    (b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", True),
], ids=["close", "close-among-tokens", "http10", "http10-keep-alive"])
def test_connection_header_is_honoured(request_head: bytes, kept: bool) -> None:
    with serving(echo) as server:
        host, port = server.server_address[:2]
        with socket.create_connection((str(host), int(port)), timeout=10) as sock:
            sock.sendall(request_head)
            reply = b""
            while b"}" not in reply:
                chunk = sock.recv(65536)
                assert chunk, reply
                reply += chunk
            head = reply.partition(b"\r\n\r\n")[0].lower()
            assert head.startswith(b"http/1.1 200")
            if kept:
                assert b"connection: keep-alive" in head
                sock.sendall(request_head)  # the same connection answers again
                assert sock.recv(65536).startswith(b"HTTP/1.1 200")
            else:
                assert b"connection: close" in head or request_head.endswith(b"HTTP/1.0\r\n\r\n")
                assert sock.recv(65536) == b""  # then the server closes it


def test_a_small_unread_body_is_skipped_and_the_connection_kept() -> None:
    with serving(ignores_body) as server:
        conn = connect(server)
        first = get(conn, "/", b"x" * 5000)[1]
        sock = conn.sock
        assert sock is not None  # http.client drops its socket when the server closes it
        assert get(conn, "/", b"y" * 10)[1] == first  # the next request was read where it begins
        assert conn.sock is sock
        conn.close()


def test_a_large_unread_body_closes_the_connection_after_the_answer() -> None:
    with serving(ignores_body) as server:
        host, port = server.server_address[:2]
        with socket.create_connection((str(host), int(port)), timeout=10) as sock:
            sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 104857600\r\n\r\n" + b"z" * 1000)
            reply = b""
            while chunk := sock.recv(65536):
                reply += chunk
        assert reply.startswith(b"HTTP/1.1 200") and b"\r\nConnection: close\r\n" in reply


def test_chunked_request_body() -> None:
    with serving(echo) as server:
        conn = connect(server)
        conn.request("POST", "/", body=iter([b"ab", b"", b"cd\n", b"ef"]), encode_chunked=True)
        response = conn.getresponse()
        assert json.loads(response.read())["body"] == "abcd\nef"
        assert get(conn, "/", b"next")[0].status == 200
        conn.close()


def test_expect_100_continue() -> None:
    with serving(echo) as server:
        host, port = server.server_address[:2]
        with socket.create_connection((str(host), int(port)), timeout=10) as sock:
            sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
            assert sock.recv(65536) == b"HTTP/1.1 100 Continue\r\n\r\n"
            sock.sendall(b"body")
            reply = b""
            while b"}" not in reply:
                reply += sock.recv(65536)
            assert reply.startswith(b"HTTP/1.1 200") and b'"body": "body"' in reply


# -- concurrency and stopping --------------------------------------------------


def test_a_slow_client_does_not_block_others() -> None:
    with serving(echo) as server:
        host, port = server.server_address[:2]
        with socket.create_connection((str(host), int(port)), timeout=10) as slow_head, \
                socket.create_connection((str(host), int(port)), timeout=10) as slow_body:
            slow_head.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")  # the rest of the head never comes
            slow_body.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")  # nor the body
            conn = connect(server)
            response, data = get(conn, "/", b"quick")
            assert response.status == 200 and json.loads(data)["body"] == "quick"
            conn.close()


def test_closing_the_server_closes_idle_connections() -> None:
    with serving(echo) as server:
        conn = connect(server)
        assert get(conn, "/")[0].status == 200
        sock = conn.sock
        assert sock is not None  # http.client drops its socket when the server closes it
        server.server_close()
        assert sock.recv(1) == b""  # the idle connection is closed, not left open for its idle timeout
        assert server.wait_idle(5)
        conn.close()


# -- bounds and malformed requests ---------------------------------------------


@pytest.mark.parametrize(("data", "status"), [
    (b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n", b"414"),
    (b"GET / HTTP/1.1\r\n" + b"X-A: b\r\n" * 200 + b"\r\n", b"431"),
    (b"GET / HTTP/1.1\r\nX-Big: " + b"b" * 70000 + b"\r\n\r\n", b"431"),
    (b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", b"400"),
    (b"POST / HTTP/1.1\r\nContent-Length: -3\r\n\r\n", b"400"),
    (b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", b"400"),
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", b"501"),
    (b"GET / HTTP/2.0\r\n\r\n", b"505"),
    (b"GET /\r\n\r\n", b"400"),
    (b"GET / HTTP/1.1\r\nNo colon here\r\n\r\n", b"400"),
    (b"GET / HTTP/1.1\r\nExpect: magic\r\n\r\n", b"417"),
], ids=["long-line", "many-headers", "big-header", "cl-and-te", "negative-cl", "two-cls", "gzip-te",
        "http2", "http09", "bad-header", "bad-expect"])
def test_malformed_requests_are_refused_and_the_connection_closed(data: bytes, status: bytes) -> None:
    with serving(echo) as server:
        reply = raw(server, data)
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.split()[1] == status and b"\r\nConnection: close" in head
    assert json.loads(body)["error"]["code"] == "bad_http_request"


def test_a_malformed_chunked_body_is_400_from_the_gateway() -> None:
    with Emulator(era="1.8.96") as emulator, Client(emulator.base_url, max_retries=0) as client, \
            serving(create_app(client)) as server:
        reply = raw(server, b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                            b"zz\r\nabc\r\n0\r\n\r\n")
        assert emulator.stats["ajax_posts"] == 0
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.split()[1] == b"400" and b"Connection: close" in head
    assert json.loads(body)["error"]["code"] == "invalid_body"


# -- any WSGI application ------------------------------------------------------


def test_the_gateway_runs_under_the_wsgi_validator() -> None:
    # wsgiref's validator checks both sides of PEP 3333: this server's environ and the app.
    body = json.dumps({"model": "gpt-4o-mini", "messages": USER}).encode()
    streamed = json.dumps({"model": "gpt-4o-mini", "messages": USER, "stream": True}).encode()
    with Emulator(era="1.8.96") as emulator, Client(emulator.base_url, max_retries=0) as client, \
            serving(validator(create_app(client))) as server:
        conn = connect(server)
        for path, data, status in (("/v1/chat/completions", body, 200), ("/v1/chat/completions", streamed, 200),
                                   ("/v1/models", None, 200), ("/nope", None, 404)):
            response, answer = get(conn, path, data, {"Content-Type": "application/json"})
            assert response.status == status, answer
        conn.request("HEAD", "/v1/models")
        response = conn.getresponse()
        assert response.status == 405 and response.read() == b"" and int(response.getheader("Content-Length", "0")) > 0
        assert get(conn, "/v1/models")[0].status == 200  # HEAD sent no body: the connection goes on
        conn.close()


def test_an_application_failure_is_500_and_a_failure_mid_stream_cuts_the_body(
        caplog: pytest.LogCaptureFixture) -> None:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
        if environ["PATH_INFO"] == "/early":
            raise RuntimeError("boom")
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"partial"
        raise RuntimeError("late boom")

    with serving(app) as server:
        reply = raw(server, b"GET /early HTTP/1.1\r\nHost: x\r\n\r\n")
        assert reply.startswith(b"HTTP/1.1 500") and b"boom" not in reply
        conn = connect(server)
        conn.request("GET", "/late")
        response = conn.getresponse()
        with pytest.raises(http.client.IncompleteRead):
            response.read()  # no last chunk: the client knows the body is not whole
        conn.close()
    assert [r.getMessage().split()[0] for r in caplog.records if r.levelno == logging.ERROR] == ["the", "the"]

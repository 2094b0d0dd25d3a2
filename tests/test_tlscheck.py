"""The emulator's ClientHello parser, on hellos captured from real TLS stacks."""

from __future__ import annotations

import socket
import ssl
import struct
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatgpt4o.emulator import tlscheck

GREASE = [0x0A0A + 0x1010 * i for i in range(16)]


def _python_hello(alpn: list[str] | None = None) -> bytes:
    """The first bytes Python's ssl sends, read on the other end of a socket pair."""
    client, server = socket.socketpair()
    context = ssl.create_default_context()
    if alpn:
        context.set_alpn_protocols(alpn)

    def handshake() -> None:
        try:
            context.wrap_socket(client, server_hostname="localhost")
        except OSError:
            pass  # the server side closes without answering

    thread = threading.Thread(target=handshake, daemon=True)
    thread.start()
    server.settimeout(5)
    data = b""
    while len(data) < 5 or len(data) < tlscheck.hello_length(data):
        data += server.recv(65536)
    server.close()
    thread.join(5)
    client.close()
    return data


def _curl_hello(target: str) -> bytes:
    """The first bytes curl_cffi impersonating ``target`` sends to a raw socket server."""
    from curl_cffi import requests as curl_requests

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    got: dict[str, bytes] = {}

    def serve() -> None:
        conn, _ = listener.accept()
        conn.settimeout(5)
        data = b""
        while len(data) < 5 or len(data) < tlscheck.hello_length(data):
            more = conn.recv(65536)
            if not more:
                break
            data += more
        got["hello"] = data
        conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    with pytest.raises(Exception):  # noqa: B017 - the server hangs up after the hello
        curl_requests.get(f"https://localhost:{port}/", impersonate=target, timeout=5)
    thread.join(5)
    listener.close()
    return got["hello"]


@pytest.fixture(scope="module")
def python_hello() -> bytes:
    return _python_hello(["h2", "http/1.1"])


@pytest.fixture(scope="module")
def chrome_hello() -> bytes:
    return _curl_hello("chrome")


def test_python_hello_is_no_browser(python_hello: bytes) -> None:
    hello = tlscheck.parse_client_hello(python_hello)
    assert tlscheck.hello_length(python_hello) == len(python_hello)
    assert hello.server_name == "localhost"
    assert hello.alpn == ("h2", "http/1.1")
    assert 0x1301 in hello.cipher_suites  # TLS_AES_128_GCM_SHA256
    assert 0x0010 in hello.extensions and 0x002B in hello.extensions
    assert 0x0304 in hello.supported_versions  # TLS 1.3
    assert not hello.grease_in_ciphers and not hello.grease_in_extensions
    assert not tlscheck.looks_like_browser(hello)


def test_python_hello_without_alpn() -> None:
    hello = tlscheck.parse_client_hello(_python_hello())
    assert hello.alpn == ()
    assert 0x0010 not in hello.extensions


def test_chrome_hello_is_a_browser(chrome_hello: bytes) -> None:
    hello = tlscheck.parse_client_hello(chrome_hello)
    assert tlscheck.hello_length(chrome_hello) == len(chrome_hello)
    assert hello.grease_in_ciphers and hello.grease_in_extensions
    assert hello.alpn == ("h2", "http/1.1")
    assert hello.server_name == "localhost"
    assert tlscheck.looks_like_browser(hello)


@pytest.mark.parametrize("target", ["firefox", "safari", "edge"])
def test_other_browsers_are_browsers(target: str) -> None:
    assert tlscheck.looks_like_browser(tlscheck.parse_client_hello(_curl_hello(target)))


def test_grease_values() -> None:
    assert all(tlscheck.is_grease(v) for v in GREASE)
    assert GREASE[-1] == 0xFAFA
    assert not any(tlscheck.is_grease(v) for v in (0x0A0B, 0x1A0A, 0x0000, 0x1301, 0xFAFB, 0x0B0B))


@pytest.mark.parametrize("cut", [1, 4, 5, 6, 9, 43, 100, -1], ids=lambda c: f"cut{c}")
def test_truncated_hello(python_hello: bytes, cut: int) -> None:
    prefix = python_hello[:cut]
    assert tlscheck.hello_length(prefix) > len(prefix)  # read more
    with pytest.raises(ValueError, match="truncated"):
        tlscheck.parse_client_hello(prefix)


def test_hello_split_over_two_records(python_hello: bytes) -> None:
    payload = python_hello[5:]
    half = len(payload) // 2
    split = (
        b"\x16\x03\x01" + struct.pack("!H", half) + payload[:half]
        + b"\x16\x03\x01" + struct.pack("!H", len(payload) - half) + payload[half:]
    )
    first = split[: 5 + half]
    assert len(first) < tlscheck.hello_length(first) <= len(split)  # the next record's header, then all
    assert tlscheck.hello_length(split[: 5 + half + 5]) == len(split)
    assert tlscheck.hello_length(split) == len(split)
    assert tlscheck.parse_client_hello(split) == tlscheck.parse_client_hello(python_hello)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "not a TLS handshake"),
        (b"\x17\x03\x03\x00\x10" + b"\x00" * 16, "not a TLS handshake"),
        (b"\x16\x03\x01\x00\x00", "bad TLS record length"),
        (b"\x16\x03\x01\xff\xff", "bad TLS record length"),
        (b"\x16\x03\x01\x00\x04\x02\x00\x00\x00", "not a ClientHello"),
    ],
    ids=["plain-http", "application-data", "empty-record", "huge-record", "server-hello"],
)
def test_malformed_records(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        tlscheck.hello_length(data)
    with pytest.raises(ValueError, match=message):
        tlscheck.parse_client_hello(data)


def _record(body: bytes) -> bytes:
    handshake = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + struct.pack("!H", len(handshake)) + handshake


def test_lengths_that_do_not_add_up() -> None:
    head = b"\x03\x03" + b"\x00" * 32 + b"\x00"
    odd_suites = head + b"\x00\x03\x13\x01\x13" + b"\x01\x00"
    with pytest.raises(ValueError, match="odd"):
        tlscheck.parse_client_hello(_record(odd_suites))
    long_extensions = head + b"\x00\x02\x13\x01" + b"\x01\x00" + b"\x00\x10\x00\x00"
    with pytest.raises(ValueError, match="truncated"):
        tlscheck.parse_client_hello(_record(long_extensions))
    trailing = head + b"\x00\x02\x13\x01" + b"\x01\x00" + b"\x00\x00" + b"junk"
    with pytest.raises(ValueError, match="after the extensions"):
        tlscheck.parse_client_hello(_record(trailing))


def test_minimal_hello_without_extensions() -> None:
    body = b"\x03\x03" + b"\x00" * 32 + b"\x00" + b"\x00\x04\x0a\x0a\x13\x01" + b"\x01\x00"
    hello = tlscheck.parse_client_hello(_record(body))
    assert hello.cipher_suites == (0x0A0A, 0x1301)
    assert hello.extensions == ()
    assert hello.grease_in_ciphers and not tlscheck.looks_like_browser(hello)


@given(st.binary(max_size=300))
def test_any_bytes_parse_or_raise_value_error(data: bytes) -> None:
    for attempt in (data, b"\x16\x03\x01" + data):
        try:
            tlscheck.parse_client_hello(attempt)
        except ValueError:
            pass
        try:
            assert tlscheck.hello_length(attempt) > 0
        except ValueError:
            pass

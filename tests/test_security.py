"""Security: TLS verification, secrets kept out of logs/reprs/errors, credentials kept on the site.

Secrets are the nonce (every one the client ever sent, rotations included), cookie values,
proxy credentials and ``Authorization``-like header values.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3

from chatgpt4o import Client, create_async
from chatgpt4o import exceptions as e
from chatgpt4o.emulator import Emulator

from ._loopback import read_request

COOKIE = "cfclear-7f3a9c2e1d5b"
TOKEN = "tok-8e1f0a6b4c2d9"
PROXY_PASSWORD = "pa55word-q9z"


# --- TLS ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_emulator() -> Iterator[Emulator]:
    with Emulator(era="1.8.96", tls=True) as emu:
        yield emu


def test_tls_is_verified_by_default(tls_emulator: Emulator) -> None:
    tls_emulator.reset_stats()
    with Client(tls_emulator.base_url, timeout=5) as client, pytest.raises(e.TLSError) as info:
        client.ask("hello")
    text = str(info.value)
    assert "certificate verification failed" in text and "verify=" in text
    assert isinstance(info.value, e.APIConnectionError)
    # Not retried (a certificate does not get better) and nothing was sent over the connection.
    assert tls_emulator.stats["requests"] == 0


def test_tls_default_holds_for_create_async(tls_emulator: Emulator) -> None:
    with pytest.raises(e.TLSError):
        asyncio.run(create_async("gpt-4o-mini", "hello", timeout=5, base_url=tls_emulator.base_url))


def test_a_ca_bundle_opts_in_to_a_private_certificate(tls_emulator: Emulator) -> None:
    assert tls_emulator.ca_file
    with Client(tls_emulator.base_url, timeout=5, verify=tls_emulator.ca_file) as client:
        assert client.ask("hello") == "echo: hello"


def _ca_directory(ca_file: str, directory: Path) -> str:
    """A CA path (a directory of certificates named by their subject hash) holding ``ca_file``."""
    subject_hash = subprocess.run(
        ["openssl", "x509", "-hash", "-noout", "-in", ca_file], capture_output=True, text=True, check=True,
    ).stdout.strip()
    shutil.copy(ca_file, directory / f"{subject_hash}.0")
    return str(directory)


def test_a_directory_of_hashed_certificates_is_a_ca_path(tls_emulator: Emulator, tmp_path: Path) -> None:
    assert tls_emulator.ca_file
    with Client(tls_emulator.base_url, timeout=5, verify=_ca_directory(tls_emulator.ca_file, tmp_path)) as client:
        assert client.ask("hello") == "echo: hello"


@pytest.mark.parametrize("how", ["bundle", "directory"])
def test_warm_asks_do_not_look_at_the_ca_path_again(
    tls_emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str,
) -> None:
    assert tls_emulator.ca_file
    ca_path = tls_emulator.ca_file if how == "bundle" else _ca_directory(tls_emulator.ca_file, tmp_path)
    looked_at: list[str] = []
    for name in ("isdir", "isfile", "exists"):
        real = getattr(os.path, name)

        def spy(path: Any, real: Callable[[Any], bool] = real, name: str = name) -> bool:
            if str(path) == ca_path:
                looked_at.append(name)
            return real(path)

        monkeypatch.setattr(os.path, name, spy)
    with Client(tls_emulator.base_url, timeout=5, verify=ca_path) as client:
        client.ask("first")
        looked_at.clear()
        for i in range(5):
            assert client.ask(f"warm {i}") == f"echo: warm {i}"
    assert looked_at == []


def test_verify_false_opts_out(tls_emulator: Emulator) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
        with Client(tls_emulator.base_url, timeout=5, verify=False) as client:
            assert client.ask("hello") == "echo: hello"


# --- secrets in logs, reprs and exception texts -------------------------------------------------


class Capture(logging.Handler):
    """Every record of every logger (the emulator's own server-side log excepted)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("chatgpt4o.emulator"):
            return
        self.lines.append(self.format(record))


@pytest.fixture
def all_logs() -> Iterator[Capture]:
    handler = Capture()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    loggers = [logging.getLogger(name) for name in ("chatgpt4o", "urllib3", "urllib3.connectionpool", "requests")]
    old = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(old_level)
    for lg, level in zip(loggers, old, strict=True):
        lg.setLevel(level)


def exception_texts(exc: BaseException) -> list[str]:
    texts = [str(exc), repr(exc), *(str(a) for a in exc.args)]
    for name in ("excerpt", "site_message"):
        texts.append(str(getattr(exc, name, "")))
    return texts


def test_a_full_session_leaks_no_secret(all_logs: Capture) -> None:
    texts: list[str] = []
    errors: list[BaseException] = []
    with Emulator(era="1.8.96",
        rotate_every=3, fault_rate=0.3, seed=3, retry_after="0",
        fault_mix=("reset", "502", "503", "429", "truncated", "stale_nonce", "non_json", "invalid_utf8", "challenge"),
    ) as emu, Client(
        emu.base_url, timeout=5, cookies={"cf_clearance": COOKIE}, headers={"Authorization": f"Bearer {TOKEN}"},
        sleep=lambda s: None,
    ) as client:
        texts.append(repr(client.inspect()))
        for i in range(40):
            try:
                texts.append(client.ask(f"question {i}"))
            except e.Chatgpt4oError as exc:
                errors.append(exc)
        for i in range(5):
            try:
                texts.append("".join(client.stream(f"streamed {i}")))
            except e.Chatgpt4oError as exc:
                errors.append(exc)
        chat = client.chat(system="be brief")
        for i in range(5):
            try:
                chat.ask(f"turn {i}")
            except e.Chatgpt4oError as exc:
                errors.append(exc)
        texts += [repr(chat), chat.to_json(), repr(client)]
        for item in client.ask_many([f"many {i}" for i in range(10)], concurrency=4):
            if isinstance(item, BaseException):
                errors.append(item)
        nonces = {r["form"].get("_wpnonce", "") for r in emu.requests} | {emu.current_nonce}
        nonces.discard("")
        stats = emu.stats
    for error in errors:
        texts += exception_texts(error)
    texts += all_logs.lines
    everything = "\n".join(texts)

    # The session really went through rotations, faults, retries and typed errors.
    assert len(nonces) >= 5, nonces
    assert stats["faults_injected"] >= 10 and stats["stale_nonce"] >= 3
    assert errors, "some asks failed"
    assert any("retrying" in line for line in all_logs.lines)
    assert any(line.startswith("urllib3") for line in all_logs.lines), "urllib3's DEBUG log was captured"
    # ... and none of its secrets surfaced anywhere.
    for secret in sorted(nonces) + [COOKIE, TOKEN]:
        assert secret not in everything, f"secret {secret!r} leaked"


def _dead_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    sock.close()
    return port


def test_proxy_credentials_never_shown(all_logs: Capture, wpaicg_emulator: Emulator) -> None:
    proxy = f"http://proxyuser:{PROXY_PASSWORD}@127.0.0.1:{_dead_port()}"
    with Client(wpaicg_emulator.base_url, proxy=proxy, timeout=3, sleep=lambda s: None) as client:
        shown = repr(client)
        with pytest.raises(e.APIConnectionError) as info:
            client.ask("hello")
    basic = base64.b64encode(f"proxyuser:{PROXY_PASSWORD}".encode()).decode()
    everything = "\n".join([shown, *exception_texts(info.value), *all_logs.lines])
    assert "proxy" in str(info.value).lower() or "127.0.0.1" in str(info.value)
    assert PROXY_PASSWORD not in everything and basic not in everything
    assert wpaicg_emulator.stats["requests"] == 0


def test_proxy_credentials_hidden_from_create_async_errors(all_logs: Capture, wpaicg_emulator: Emulator) -> None:
    proxy = f"http://proxyuser:{PROXY_PASSWORD}@127.0.0.1:{_dead_port()}"
    with pytest.raises(e.APIConnectionError) as info:
        asyncio.run(create_async("gpt-4o-mini", "hello", proxy=proxy, timeout=3, base_url=wpaicg_emulator.base_url))
    assert PROXY_PASSWORD not in "\n".join([*exception_texts(info.value), *all_logs.lines])


class OneShotServer:
    """Answers every request with ``respond(request_bytes)``; records what it received."""

    def __init__(self, respond: Callable[[bytes, int], bytes], context: ssl.SSLContext | None = None) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.05)
        self.port = int(self.sock.getsockname()[1])
        self.received: list[bytes] = []
        self._respond = respond
        self._context = context
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            try:
                conn.settimeout(5)
                if self._context is not None:
                    conn = self._context.wrap_socket(conn, server_side=True)
                head, body = read_request(conn)
                request = head + b"\r\n\r\n" + body
                self.received.append(request)
                conn.sendall(self._respond(request, len(self.received)))
            except (OSError, ssl.SSLError):
                pass
            finally:
                conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def _page(nonce: str) -> bytes:
    html = (
        '<html><head><link href="/wp-content/plugins/gpt3-ai-content-generator/public/css/a.css?ver=1.8.96"></head>'
        f'<body><div class="wpaicg-chat-shortcode" data-nonce="{nonce}" data-post-id="11" data-bot-id="0" '
        'data-type="shortcode" data-openai_stream_nav="0"></div></body></html>'
    ).encode()
    return b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(html), html)


def test_a_secret_cut_by_the_excerpt_limit_is_still_hidden() -> None:
    """The excerpt keeps the first 160 characters: a nonce across that edge must not show in part."""
    nonce = "9a8b7c6d5e"

    def respond(request: bytes, n: int) -> bytes:
        if request.startswith(b"GET"):
            return _page(nonce)
        body = b"x" * 155 + f" {nonce} {COOKIE} trailing".encode()
        return b"HTTP/1.1 500 Oops\r\nContent-Type: text/html\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)

    server = OneShotServer(respond)
    try:
        with (
            Client(f"http://127.0.0.1:{server.port}", timeout=3, max_retries=0, cookies={"cf_clearance": COOKIE}) as client,
            pytest.raises(e.ServerError) as info,
        ):
            client.ask("hello")
    finally:
        server.close()
    everything = "\n".join(exception_texts(info.value))
    assert nonce not in everything
    assert nonce[:4] not in everything, "part of the nonce shows at the excerpt's edge"


# --- credentials stay on the site -----------------------------------------------------------------


@pytest.mark.parametrize("target", ["page", "ajax"])
def test_cookies_and_authorization_never_follow_a_redirect_to_another_host(target: str) -> None:
    with Emulator(era="1.8.96", fault="redirect_other_host", fault_target=target) as site:
        port = int(site.base_url.rsplit(":", 1)[1])
        with Emulator(era="1.8.96", host="127.0.0.2", port=port) as other:
            with Client(
                site.base_url, timeout=3, cookies={"cf_clearance": COOKIE},
                headers={"Authorization": f"Bearer {TOKEN}"}, sleep=lambda s: None,
            ) as client, pytest.raises((e.PageError, e.HTTPStatusError)) as info:
                client.ask("hello")
            assert other.stats["connections"] == 0 and other.stats["requests"] == 0
        assert "127.0.0.2" in str(info.value)
        if target == "ajax":
            # The site itself did get them: the test can tell sent from not sent.
            headers = site.requests[0]["headers"]
            assert COOKIE in headers.get("cookie", "") and TOKEN in headers.get("authorization", "")


def _redirect_to(location: str) -> Callable[[bytes, int], bytes]:
    def respond(request: bytes, n: int) -> bytes:
        return f"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode()

    return respond


def _assert_no_credentials(requests_seen: list[dict[str, Any]]) -> None:
    for request in requests_seen:
        assert COOKIE not in request["headers"].get("cookie", ""), "cookie sent to another origin"
        assert TOKEN not in request["headers"].get("authorization", ""), "Authorization sent to another origin"


def test_a_redirect_to_another_port_does_not_carry_credentials() -> None:
    """Another port is another origin (another server): requests itself drops Authorization there."""
    with Emulator(era="1.8.96") as other:
        server = OneShotServer(_redirect_to(other.base_url + "/"))
        try:
            with Client(
                f"http://127.0.0.1:{server.port}", timeout=3, cookies={"cf_clearance": COOKIE},
                headers={"Authorization": f"Bearer {TOKEN}"},
            ) as client:
                try:
                    client.ask("hello")
                except e.Chatgpt4oError:
                    pass  # refusing the redirect is fine too
            _assert_no_credentials(other.requests)
        finally:
            server.close()


def test_an_https_to_http_downgrade_does_not_carry_credentials() -> None:
    from chatgpt4o.emulator.server import _make_certificate

    with tempfile.TemporaryDirectory() as tmp, Emulator(era="1.8.96") as plain:
        certfile, keyfile = _make_certificate(tmp)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certfile, keyfile)
        server = OneShotServer(_redirect_to(plain.base_url + "/"), context)
        try:
            with Client(
                f"https://127.0.0.1:{server.port}", timeout=3, verify=certfile, cookies={"cf_clearance": COOKIE},
                headers={"Authorization": f"Bearer {TOKEN}"},
            ) as client:
                try:
                    client.ask("hello")
                except e.Chatgpt4oError:
                    pass  # refusing the downgrade is fine too
            assert server.received, "the HTTPS site was asked first"
            _assert_no_credentials(plain.requests)
        finally:
            server.close()

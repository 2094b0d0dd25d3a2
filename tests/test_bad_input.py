"""Caller-side bad input: a catalogue, each refused before any I/O with a clear, typed message.

Every entry goes through a public entry point (``Client(...)``, ``ask``, ``stream``,
``ask_many``, ``ask_async``, ``chat().ask``, ``create_async``) of a client pointed at a running
emulator; the emulator's counters prove that not one connection was opened. ``BAD_INPUTS`` is
the catalogue; ``len(BAD_INPUTS)`` is the figure reported in the README's Reliability section.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from chatgpt4o import Client, create_async
from chatgpt4o import exceptions as e
from chatgpt4o.emulator import Emulator

MODEL = "gpt-4o-mini"
TEN_MB = "x" * (10 * 1024 * 1024)


@dataclass(frozen=True)
class Bad:
    """One bad input: ``call(client, base_url)`` must raise ``error`` matching ``match``."""

    id: str
    call: Callable[[Any, str], Any]  # Any: the calls pass deliberately ill-typed values
    error: type[Exception]
    match: str


def _client(**kwargs: Any) -> Callable[[Client, str], Any]:
    def call(_: Client, base_url: str) -> Any:
        kwargs.setdefault("base_url", base_url)
        return Client(**kwargs)

    return call


def _url(url: object) -> Callable[[Client, str], Any]:
    return lambda _c, _u: Client(url)  # type: ignore[arg-type]


def _create(*args: Any, **kwargs: Any) -> Callable[[Client, str], Any]:
    def call(_: Client, base_url: str) -> Any:
        kwargs.setdefault("base_url", base_url)
        return create_async(*args, **kwargs)

    return call


BAD_INPUTS: list[Bad] = [
    # --- Client(...): base URL
    Bad("base_url-int", _url(123), e.MessageTypeError, "base_url must be a str"),
    Bad("base_url-bytes", _url(b"https://chatgpt4o.one"), e.MessageTypeError, "base_url must be a str"),
    Bad("base_url-empty", _url(""), e.InvalidConfigError, "base_url is empty"),
    Bad("base_url-blank", _url("   "), e.InvalidConfigError, "base_url is empty"),
    Bad("base_url-file-scheme", _url("file:///etc/passwd"), e.InvalidConfigError, "must use http or https"),
    Bad("base_url-ftp-scheme", _url("ftp://example.org/"), e.InvalidConfigError, "must use http or https"),
    Bad("base_url-javascript", _url("javascript:alert(1)"), e.InvalidConfigError, "must use http or https"),
    Bad("base_url-no-scheme", _url("chatgpt4o.one"), e.InvalidConfigError, "must use http or https"),
    Bad("base_url-no-host", _url("https://"), e.InvalidConfigError, "no valid host"),
    Bad("base_url-space-in-host", _url("https://exa mple.org"), e.InvalidConfigError, "whitespace"),
    Bad("base_url-NUL", _url("https://example.org\x00.evil/"), e.InvalidConfigError, "control characters"),
    Bad("base_url-CRLF", _url("https://example.org/\r\nHost: evil"), e.InvalidConfigError, "control characters"),
    Bad("base_url-port-out-of-range", _url("https://example.org:99999/"), e.InvalidConfigError, "not a valid URL"),
    Bad("base_url-port-zero", _url("https://example.org:0/"), e.InvalidConfigError, "port 0"),
    # --- Client(...): timeout, retries, concurrency
    Bad("timeout-negative", _client(timeout=-1), e.InvalidConfigError, "timeout must be a positive"),
    Bad("timeout-zero", _client(timeout=0), e.InvalidConfigError, "timeout must be a positive"),
    Bad("timeout-nan", _client(timeout=math.nan), e.InvalidConfigError, "timeout must be a positive"),
    Bad("timeout-inf", _client(timeout=math.inf), e.InvalidConfigError, "timeout must be a positive"),
    Bad("timeout-str", _client(timeout="30"), e.MessageTypeError, "timeout must be a number"),
    Bad("timeout-bool", _client(timeout=True), e.MessageTypeError, "timeout must be a number"),
    Bad("max_retries-negative", _client(max_retries=-1), e.InvalidConfigError, "max_retries must be at least 0"),
    Bad("max_retries-float", _client(max_retries=1.5), e.MessageTypeError, "max_retries must be an int"),
    Bad("max_retries-str", _client(max_retries="2"), e.MessageTypeError, "max_retries must be an int"),
    Bad("max_retries-huge", _client(max_retries=10_000), e.InvalidConfigError, "max_retries must be at most"),
    Bad("max_concurrency-zero", _client(max_concurrency=0), e.InvalidConfigError, "max_concurrency must be at least 1"),
    # --- Client(...): proxy
    Bad("proxy-int", _client(proxy=8080), e.MessageTypeError, "proxy must be a str"),
    Bad("proxy-ftp-scheme", _client(proxy="ftp://proxy.example:21"), e.InvalidConfigError, "proxy must use"),
    Bad("proxy-file-scheme", _client(proxy="file:///tmp/proxy"), e.InvalidConfigError, "proxy must use"),
    Bad("proxy-not-a-url", _client(proxy="not a proxy"), e.InvalidConfigError, "proxy contains whitespace"),
    Bad("proxy-no-host", _client(proxy="http://:3128"), e.InvalidConfigError, "proxy has no valid host"),
    Bad("proxy-bad-port", _client(proxy="http://proxy.example:http"), e.InvalidConfigError, "proxy is not a valid URL"),
    # --- Client(...): cookies, headers, session, verify, sleep
    Bad("cookies-list", _client(cookies=["cf_clearance=abc"]), e.MessageTypeError, "cookies must be a dict"),
    Bad("cookies-str", _client(cookies="cf_clearance=abc"), e.MessageTypeError, "cookies must be a dict"),
    Bad("cookies-CRLF-value", _client(cookies={"cf_clearance": "abc\r\nX-Injected: 1"}), e.InvalidConfigError, "cookie"),
    Bad("headers-list", _client(headers=[("X-A", "b")]), e.MessageTypeError, "headers must be a mapping"),
    Bad("headers-str", _client(headers="X-A: b"), e.MessageTypeError, "headers must be a mapping"),
    Bad("headers-CRLF-value", _client(headers={"X-A": "a\r\nX-Injected: 1"}), e.InvalidConfigError, "header"),
    Bad("headers-bad-name", _client(headers={"Bad Name": "x"}), e.InvalidConfigError, "header"),
    Bad("session-str", _client(session="requests"), e.MessageTypeError, "session must be a requests.Session"),
    Bad("verify-int", _client(verify=1), e.MessageTypeError, "verify must be a bool or a CA bundle path"),
    Bad("verify-missing-file", _client(verify="/nonexistent/ca.pem"), e.InvalidConfigError, "no such file"),
    Bad("verify-not-a-certificate", _client(verify=__file__), e.InvalidConfigError, "not a PEM CA bundle"),
    Bad("create_async-proxy-socks-without-pysocks", _create(MODEL, "hi", proxy="socks5h://127.0.0.1:9"),
        e.InvalidConfigError, "PySocks"),
    Bad("sleep-not-callable", _client(sleep=5), e.MessageTypeError, "sleep must be callable"),
    # --- ask(): messages
    Bad("ask-None", lambda c, _: c.ask(None), e.MessageTypeError, "messages must be a str or a list"),
    Bad("ask-int", lambda c, _: c.ask(42), e.MessageTypeError, "messages must be a str or a list"),
    Bad("ask-bytes", lambda c, _: c.ask(b"hello"), e.MessageTypeError, "messages must be a str or a list"),
    Bad("ask-dict-not-list", lambda c, _: c.ask({"role": "user", "content": "hi"}), e.MessageTypeError, "not dict"),
    Bad("ask-empty-str", lambda c, _: c.ask(""), e.InvalidMessagesError, "the prompt is empty"),
    Bad("ask-whitespace-only", lambda c, _: c.ask(" \n\t "), e.InvalidMessagesError, "the prompt is empty"),
    Bad("ask-empty-list", lambda c, _: c.ask([]), e.InvalidMessagesError, "messages is empty"),
    Bad("ask-list-of-str", lambda c, _: c.ask(["hello"]), e.MessageTypeError, r"messages\[0\] must be a dict"),
    Bad("ask-unknown-role", lambda c, _: c.ask([{"role": "wizard", "content": "hi"}]), e.InvalidMessagesError, "unknown role 'wizard'"),
    Bad("ask-role-int", lambda c, _: c.ask([{"role": 1, "content": "hi"}]), e.MessageTypeError, r"\['role'\] must be a str"),
    Bad("ask-missing-content", lambda c, _: c.ask([{"role": "user"}]), e.InvalidMessagesError, "has no 'content' key"),
    Bad("ask-missing-role", lambda c, _: c.ask([{"content": "hi"}]), e.InvalidMessagesError, "has no 'role' key"),
    Bad("ask-content-int", lambda c, _: c.ask([{"role": "user", "content": 7}]), e.MessageTypeError, r"\['content'\] must be a str"),
    Bad("ask-content-None", lambda c, _: c.ask([{"role": "user", "content": None}]), e.MessageTypeError, r"\['content'\] must be a str"),
    Bad(
        "ask-content-parts",
        lambda c, _: c.ask([{"role": "user", "content": [{"type": "text", "text": "hi"}]}]),
        e.MessageTypeError, "content parts are not supported",
    ),
    Bad("ask-NUL-byte", lambda c, _: c.ask("a\x00b"), e.InvalidMessagesError, "NUL byte"),
    Bad("ask-NUL-in-list", lambda c, _: c.ask([{"role": "user", "content": "\x00"}]), e.InvalidMessagesError, "NUL byte"),
    Bad("ask-10MB-prompt", lambda c, _: c.ask(TEN_MB), e.InvalidMessagesError, "over the 2097152 byte limit"),
    Bad("ask-lone-surrogate", lambda c, _: c.ask("hi \ud800"), e.InvalidMessagesError, "lone surrogate"),
    Bad("ask-unknown-model", lambda c, _: c.ask("hi", model="gpt-5-ultra"), e.UnknownModelError, "unknown model 'gpt-5-ultra'; known models"),
    Bad("ask-model-int", lambda c, _: c.ask("hi", model=4), e.MessageTypeError, "model must be a str"),
    Bad("ask-timeout-zero", lambda c, _: c.ask("hi", timeout=0), e.InvalidConfigError, "timeout must be a positive"),
    Bad("ask-timeout-negative", lambda c, _: c.ask("hi", timeout=-5), e.InvalidConfigError, "timeout must be a positive"),
    Bad("ask-timeout-nan", lambda c, _: c.ask("hi", timeout=math.nan), e.InvalidConfigError, "timeout must be a positive"),
    Bad("ask-bot-id-str", lambda c, _: c.ask("hi", bot_id="5"), e.MessageTypeError, "bot_id must be an int"),
    Bad("ask-bot-id-zero", lambda c, _: c.ask("hi", bot_id=0), e.InvalidConfigError, "bot_id must be a positive"),
    Bad("stream-bot-id-negative", lambda c, _: c.stream("hi", bot_id=-3), e.InvalidConfigError, "bot_id must be a positive"),
    Bad("client-bot-id-bool", _client(bot_id=True), e.MessageTypeError, "bot_id must be an int"),
    Bad("client-protocol-unknown", _client(protocol="wpaicg3"), e.InvalidConfigError, "protocol must be 'auto'"),
    Bad("client-protocol-int", _client(protocol=2), e.MessageTypeError, "protocol must be a str"),
    # --- stream(): raised when called, not when iterated
    Bad("stream-empty", lambda c, _: c.stream(""), e.InvalidMessagesError, "the prompt is empty"),
    Bad("stream-unknown-model", lambda c, _: c.stream("hi", model="nope"), e.UnknownModelError, "unknown model"),
    Bad("stream-timeout-negative", lambda c, _: c.stream("hi", timeout=-1), e.InvalidConfigError, "timeout must be a positive"),
    # --- ask_many(): every prompt and setting checked up front
    Bad("ask_many-str", lambda c, _: c.ask_many("hello"), e.MessageTypeError, "prompts must be an iterable"),
    Bad("ask_many-None", lambda c, _: c.ask_many(None), e.MessageTypeError, "prompts must be an iterable"),
    Bad("ask_many-one-empty", lambda c, _: c.ask_many(["fine", ""]), e.InvalidMessagesError, r"prompts\[1\]: the prompt is empty"),
    Bad("ask_many-one-bad-role", lambda c, _: c.ask_many(["ok", [{"role": "x", "content": "y"}]]), e.InvalidMessagesError, r"prompts\[1\]"),
    Bad("ask_many-concurrency-zero", lambda c, _: c.ask_many(["ok"], concurrency=0), e.InvalidConfigError, "concurrency must be between"),
    Bad("ask_many-concurrency-too-big", lambda c, _: c.ask_many(["ok"], concurrency=10_000), e.InvalidConfigError, "larger max_concurrency"),
    Bad("ask_many-concurrency-float", lambda c, _: c.ask_many(["ok"], concurrency=2.5), e.MessageTypeError, "concurrency must be an int"),
    Bad("ask_many-timeout-negative", lambda c, _: c.ask_many(["ok"], timeout=-1), e.InvalidConfigError, "timeout must be a positive"),
    # --- ask_async()
    Bad("ask_async-empty", lambda c, _: c.ask_async(""), e.InvalidMessagesError, "the prompt is empty"),
    Bad("ask_async-unknown-model", lambda c, _: c.ask_async("hi", model="mistral-7b"), e.UnknownModelError, "unknown model"),
    # --- chat()
    Bad("chat-system-int", lambda c, _: c.chat(system=5), e.MessageTypeError, "system must be a str"),
    Bad("chat-ask-empty", lambda c, _: c.chat().ask(""), e.InvalidMessagesError, "the prompt is empty"),
    Bad("chat-ask-None", lambda c, _: c.chat().ask(None), e.MessageTypeError, "message must be a str"),
    Bad("chat-ask-list", lambda c, _: c.chat().ask([{"role": "user", "content": "x"}]), e.MessageTypeError, "message must be a str"),
    Bad("chat-ask-NUL", lambda c, _: c.chat().ask("\x00"), e.InvalidMessagesError, "NUL byte"),
    Bad("chat-ask-10MB", lambda c, _: c.chat().ask(TEN_MB), e.InvalidMessagesError, "byte limit"),
    Bad("chat-ask-timeout-zero", lambda c, _: c.chat().ask("hi", timeout=0), e.InvalidConfigError, "timeout must be a positive"),
    # --- create_async()
    Bad("create_async-unknown-model", _create("gpt-5-ultra", "hi"), e.UnknownModelError, "unknown model"),
    Bad("create_async-empty-messages", _create(MODEL, []), e.InvalidMessagesError, "messages is empty"),
    Bad("create_async-unknown-role", _create(MODEL, [{"role": "robot", "content": "x"}]), e.InvalidMessagesError, "unknown role"),
    Bad("create_async-timeout-negative", _create(MODEL, "hi", timeout=-1), e.InvalidConfigError, "timeout must be a positive"),
    Bad("create_async-proxy-ftp", _create(MODEL, "hi", proxy="ftp://p:21"), e.InvalidConfigError, "proxy must use"),
    Bad("create_async-base_url-file", _create(MODEL, "hi", base_url="file:///etc/passwd"), e.InvalidConfigError, "must use http or https"),
    Bad("create_async-cookies-str", _create(MODEL, "hi", cookies="a=b"), e.MessageTypeError, "cookies must be a dict"),
    Bad("create_async-unknown-keyword", _create(MODEL, "hi", frobnicate=True), e.MessageTypeError, "unexpected keyword argument"),
]


@pytest.fixture(autouse=True)
def _no_pysocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on a machine without PySocks (``import socks`` fails), whatever is installed here."""
    monkeypatch.setitem(sys.modules, "socks", None)


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(era="1.8.96") as emu:
        yield emu


@pytest.fixture
def client(emulator: Emulator) -> Iterator[Client]:
    with Client(emulator.base_url, timeout=5) as c:
        yield c


def _run(result: Any) -> None:
    """Drive what the call returned far enough to surface a late error (without doing I/O)."""
    if inspect.iscoroutine(result):
        asyncio.run(result)
    elif isinstance(result, Client):
        result.close()


def test_the_catalogue_is_large_and_ids_are_unique() -> None:
    assert len(BAD_INPUTS) >= 30
    assert len({bad.id for bad in BAD_INPUTS}) == len(BAD_INPUTS)


@pytest.mark.parametrize("bad", BAD_INPUTS, ids=[bad.id for bad in BAD_INPUTS])
def test_bad_input_is_refused_before_any_io(bad: Bad, client: Client, emulator: Emulator) -> None:
    before = emulator.stats
    with pytest.raises(bad.error, match=bad.match) as info:
        _run(bad.call(client, emulator.base_url))
    after = emulator.stats
    # Not one connection, not one request: the refusal came before any I/O.
    assert (after["connections"], after["requests"]) == (before["connections"], before["requests"])
    exc = info.value
    assert isinstance(exc, e.Chatgpt4oError)
    assert isinstance(exc, (ValueError, TypeError))  # InvalidRequestError / MessageTypeError
    text = str(exc)
    assert 10 < len(text) < 400, "a clear, short message"
    assert TEN_MB[:1000] not in text  # the prompt is not echoed back


@pytest.mark.parametrize("method", ["ask", "stream", "ask_async", "astream"])
def test_unknown_keywords_are_type_errors_before_any_io(method: str, client: Client, emulator: Emulator) -> None:
    """Explicit keywords only: a keyword of another SDK is Python's own TypeError (and a type checker's error)."""
    before = emulator.stats
    with pytest.raises(TypeError, match="temperature"):
        getattr(client, method)("hi", temperature=0.2)
    assert emulator.stats["requests"] == before["requests"]


def test_the_client_still_works_after_every_refusal(client: Client, emulator: Emulator) -> None:
    """The refusals leave no state behind: the same client then asks normally."""
    for bad in BAD_INPUTS:
        if bad.id.startswith(("ask-", "chat-")):
            with pytest.raises(bad.error):
                _run(bad.call(client, emulator.base_url))
    assert client.ask("still fine") == "echo: still fine"


@pytest.mark.parametrize("scheme", ["socks5", "socks5h", "socks4", "socks4a"])
def test_a_socks_proxy_without_pysocks_is_a_config_error_not_a_retried_connection_error(
    scheme: str, emulator: Emulator, monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = emulator.stats["connections"]
    with pytest.raises(e.InvalidConfigError, match=r"PySocks.*pip install"):
        Client(emulator.base_url, proxy=f"{scheme}://127.0.0.1:9")
    monkeypatch.setenv("ALL_PROXY", f"{scheme}://127.0.0.1:9")
    with pytest.raises(e.InvalidConfigError, match="PySocks"):
        Client(emulator.base_url)
    assert emulator.stats["connections"] == before


def test_ca_bundle_paths_are_checked_before_any_io(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Any,
) -> None:
    # A directory of hashed certificates is what requests calls a CA path: accepted.
    with Client(emulator.base_url, verify=str(tmp_path)) as client:
        assert client.ask("dir") == "echo: dir"
    empty = tmp_path / "empty.pem"
    empty.write_text("")
    with pytest.raises(e.InvalidConfigError, match="not a PEM CA bundle"):
        Client(emulator.base_url, verify=str(empty))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/bundle.pem")
    with pytest.raises(e.InvalidConfigError, match="REQUESTS_CA_BUNDLE"):
        Client(emulator.base_url)
    with Client(emulator.base_url, verify=False) as client:  # no bundle is read: nothing to check
        assert client.ask("insecure") == "echo: insecure"

"""The OpenAI-compatible gateway: the real ``openai`` client over real sockets, backed by the emulator.

Every test runs a gateway (``create_app`` + ``make_server`` on port 0) in front of a fresh
emulator; the malformed requests go through ``http.client`` because the ``openai`` package
would refuse to send them.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, ClassVar

import openai
import pytest

from chatgpt4o import Client, format_prompt
from chatgpt4o.emulator import Emulator
from chatgpt4o.exceptions import InvalidConfigError
from chatgpt4o.gateway import (
    ENV_API_KEY,
    ENV_BOT_ID,
    MAX_BODY_BYTES,
    Gateway,
    GatewayServer,
    create_app,
    make_server,
)
from chatgpt4o.models import DEFAULT_MODEL, MODEL_ALIASES

pytestmark = pytest.mark.integration

#: Plugin eras the gateway is tested against; each runs with a JSON and a streaming site.
ERAS = ["1.8.96", "2.4.71"]
SITES = [pytest.param((era, stream), id=f"{era}-{'sse' if stream else 'json'}")
         for era in ERAS for stream in (False, True)]
KEY = "gw-test-key-0123456789"
USER = [{"role": "user", "content": "hello"}]


@pytest.fixture(autouse=True)
def _no_gateway_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_API_KEY, raising=False)
    monkeypatch.delenv(ENV_BOT_ID, raising=False)


@dataclass
class Running:
    url: str
    emulator: Emulator
    app: Gateway
    server: GatewayServer

    def openai(self, key: str = "x") -> openai.OpenAI:
        return openai.OpenAI(base_url=self.url, api_key=key, max_retries=0, timeout=30)

    def raw(self, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
        host, port = self.server.server_address[:2]
        conn = http.client.HTTPConnection(str(host), int(port), timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            data = response.read()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, json.loads(data)
        finally:
            conn.close()


@contextlib.contextmanager
def gateway_for(emulator: Emulator, client: Client | None = None, **options: Any) -> Iterator[Running]:
    client = client if client is not None else Client(emulator.base_url, max_retries=0, timeout=20)
    app = create_app(client, **options)
    server = make_server(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield Running(server.url, emulator, app, server)
    finally:
        server.shutdown()
        server.server_close()
        server.wait_idle(5.0)
        thread.join(5.0)
        client.close()


@pytest.fixture(params=SITES)
def site(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    era, stream = request.param
    with Emulator(era=era, stream=stream) as emulator:
        yield emulator


@pytest.fixture
def gw(site: Emulator) -> Iterator[Running]:
    with gateway_for(site) as running:
        yield running


def _legacy(site: Emulator) -> bool:
    return site.config.era.startswith("1.")


@pytest.fixture(params=[p for p in SITES if p.values[0][0].startswith("1.")])
def legacy_site(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """A 1.x site (one bot on the page, bot id 0), JSON then streaming."""
    era, stream = request.param
    with Emulator(era=era, stream=stream) as emulator:
        yield emulator


def _error(raised: pytest.ExceptionInfo[openai.APIStatusError]) -> dict[str, Any]:
    body = raised.value.body
    assert isinstance(body, dict)
    assert set(body) == {"message", "type", "param", "code"}
    return body


# -- answers ------------------------------------------------------------------


def test_completion(gw: Running) -> None:
    answer = gw.openai().chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert answer.object == "chat.completion"
    assert answer.id.startswith("chatcmpl-") and answer.created > 0
    assert answer.model == MODEL_ALIASES["gpt-4o-mini"]
    assert len(answer.choices) == 1
    assert answer.choices[0].message.role == "assistant"
    assert answer.choices[0].message.content == "echo: hello"
    assert answer.choices[0].finish_reason == "stop"


def test_each_request_is_one_conversation_holding_the_transcript(gw: Running) -> None:
    messages = [
        {"role": "developer", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "What is"}, {"type": "text", "text": "2+2?"}]},
        {"role": "assistant", "content": "4"},
        {"role": "user", "content": "And 3+3?", "name": "ignored"},
    ]
    answer = gw.openai().chat.completions.create(model=DEFAULT_MODEL, messages=messages, temperature=0.2,
                                                 max_tokens=5, top_p=1, user="u1", extra_body={"unknown": 1})
    expected = format_prompt([{"role": "system", "content": "Be brief."},
                              {"role": "user", "content": "What is\n2+2?"},
                              {"role": "assistant", "content": "4"},
                              {"role": "user", "content": "And 3+3?"}])
    assert answer.choices[0].message.content == f"echo: {expected}"


def test_stream(gw: Running) -> None:
    gw.emulator.configure(reply="one two three four five six")
    chunks = list(gw.openai().chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True))
    assert {chunk.object for chunk in chunks} == {"chat.completion.chunk"}
    assert len({chunk.id for chunk in chunks}) == 1 and chunks[0].id.startswith("chatcmpl-")
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(chunk.choices[0].finish_reason is None for chunk in chunks[:-1])
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
    assert text == "one two three four five six"
    pieces = [chunk for chunk in chunks if chunk.choices[0].delta.content]
    # The site's deltas, one event each (2.x sites always stream).
    site_streams = gw.emulator.config.stream or not gw.emulator.config.era.startswith("1.")
    assert len(pieces) == (6 if site_streams else 1)


@pytest.mark.parametrize("era", ERAS)
def test_stream_chunks_reach_the_caller_while_the_site_is_still_answering(era: str) -> None:
    class Gated(Client):
        """Holds the site's second piece until the caller has read the first."""

        gate = threading.Event()
        opened: ClassVar[list[bool]] = []

        def stream(self, *args: Any, **kwargs: Any) -> Iterator[str]:
            inner = super().stream(*args, **kwargs)

            def pieces() -> Iterator[str]:
                for index, piece in enumerate(inner):
                    if index == 1:
                        self.opened.append(self.gate.wait(20))
                    yield piece

            return pieces()

    with Emulator(era=era, stream=True, reply="alpha beta gamma") as emulator, \
            gateway_for(emulator, Gated(emulator.base_url, max_retries=0)) as running:
        seen: list[str] = []
        for chunk in running.openai().chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True):
            if chunk.choices[0].delta.content:
                seen.append(chunk.choices[0].delta.content)
                Gated.gate.set()  # only a chunk that arrived early can open the gate in time
        assert Gated.opened == [True]
        assert seen == ["alpha ", "beta ", "gamma"]


@pytest.mark.parametrize("era", ERAS)
def test_failure_after_streaming_began_ends_the_stream_with_an_error(era: str) -> None:
    # 2.x: cut the answer, not the page; past the stream's 4 KiB preamble, so that some text came first.
    where = {} if era.startswith("1.") else {"fault_target": "stream"}
    words = " ".join(f"w{i}" for i in range(40 if era.startswith("1.") else 300))
    with Emulator(era=era, stream=True, reply=words, fault="truncated", **where) as emulator, \
            gateway_for(emulator) as running:
        seen: list[str] = []
        stream = running.openai().chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True)
        with pytest.raises(openai.APIError) as raised:
            for chunk in stream:
                seen.append(chunk.choices[0].delta.content or "")
        assert "".join(seen) and "".join(seen) != words
        assert isinstance(raised.value.body, dict) and raised.value.body["code"] == "site_unavailable"
        assert "APIConnectionError" in raised.value.message


def test_requests_are_served_in_parallel_through_one_client(site: Emulator) -> None:
    class Meeting(Client):
        barrier = threading.Barrier(3, timeout=20)

        def ask(self, *args: Any, **kwargs: Any) -> str:
            self.barrier.wait()  # passes only when three requests are inside at once
            return super().ask(*args, **kwargs)

    with gateway_for(site, Meeting(site.base_url, max_retries=0)) as running:
        answers: list[str | None] = []

        def one(i: int) -> None:
            answer = running.openai().chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": f"q{i}"}])
            answers.append(answer.choices[0].message.content)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert sorted(a or "" for a in answers) == ["echo: q0", "echo: q1", "echo: q2"]
        assert site.stats["page_fetches"] == 1  # one shared token cache


# -- models -------------------------------------------------------------------


def test_models_list(site: Emulator) -> None:
    site.configure(bot_id=7)
    with gateway_for(site) as running:
        client = running.openai()
        models = client.models.list()
        ids = [model.id for model in models.data]
        assert models.object == "list"
        assert ids[0] == DEFAULT_MODEL and set(MODEL_ALIASES) <= set(ids)
        assert "bot-7" in ids
        assert {model.object for model in models.data} == {"model"}
        assert client.models.retrieve("bot-7").id == "bot-7"
        answer = client.chat.completions.create(model="bot-7", messages=USER)
        assert answer.model == "bot-7" and answer.choices[0].message.content == "echo: hello"
        with pytest.raises(openai.NotFoundError) as raised:
            client.chat.completions.create(model="bot-8", messages=USER)
        assert _error(raised)["code"] == "model_not_found" and "bot-7" in _error(raised)["message"]


class _BotsClient(Client):
    """A client whose site describes several bots and that picks one per call (the 2.x API)."""

    calls: list[int | None]

    def inspect(self, *, timeout: float | None = None) -> Any:
        info = super().inspect(timeout=timeout)
        return SimpleNamespace(bot_id=info.bot_id, bots=(
            SimpleNamespace(id=0, name="Default", mode="inline", provider="OpenAI"),
            SimpleNamespace(id=5, name="Helper", mode="popup", provider="Google")))

    def ask(self, messages: Any, model: str | None = None, *, timeout: float | None = None,
            bot_id: int | None = None, **kwargs: Any) -> str:
        self.calls.append(bot_id)
        return super().ask(messages, model, timeout=timeout, **kwargs)

    def stream(self, messages: Any, model: str | None = None, *, timeout: float | None = None,
               bot_id: int | None = None, **kwargs: Any) -> Iterator[str]:
        self.calls.append(bot_id)
        return super().stream(messages, model, timeout=timeout, **kwargs)


class _OneBotClient(_BotsClient):
    """The same site, but a client without per-call bot selection (before the 2.x API)."""

    def ask(self, messages: Any, model: str | None = None, *, timeout: float | None = None, **kwargs: Any) -> str:
        return Client.ask(self, messages, model, timeout=timeout, **kwargs)

    def stream(self, messages: Any, model: str | None = None, *, timeout: float | None = None,
               **kwargs: Any) -> Iterator[str]:
        return Client.stream(self, messages, model, timeout=timeout, **kwargs)


def test_bot_models_pick_the_bot_per_request(legacy_site: Emulator) -> None:
    site = legacy_site
    client = _BotsClient(site.base_url, max_retries=0)
    client.calls = []
    with gateway_for(site, client) as running:
        api = running.openai()
        ids = [model.id for model in api.models.list().data]
        assert ids[-2:] == ["bot-0", "bot-5"]
        assert api.models.retrieve("bot-5").owned_by == "Google"
        api.chat.completions.create(model="bot-5", messages=USER)
        list(api.chat.completions.create(model="bot-0", messages=USER, stream=True))
        api.chat.completions.create(model="gpt-4o-mini", messages=USER)
        assert client.calls == [5, 0, None]


def test_a_client_without_bot_selection_answers_the_page_bot_only(legacy_site: Emulator) -> None:
    site = legacy_site
    with gateway_for(site, _OneBotClient(site.base_url, max_retries=0)) as running:
        api = running.openai()
        assert api.chat.completions.create(model="bot-0", messages=USER).choices[0].message.content == "echo: hello"
        with pytest.raises(openai.BadRequestError) as raised:
            api.chat.completions.create(model="bot-5", messages=USER)
        assert _error(raised)["code"] == "bot_selection_unsupported"
    with pytest.raises(InvalidConfigError, match="bot_id"):
        create_app(_OneBotClient(site.base_url), bot_id=3)


def test_bot_models_list_the_2x_sites_bots_and_pick_one_per_request() -> None:
    with Emulator(era="2.4.71", bots=3, popup=True, sitewide_popup=True, bot_path="/help/",
                  reply_template="bot {bot_id}: {message}") as emulator, \
            gateway_for(emulator, Client(emulator.base_url + "/help/", max_retries=0)) as running:
        api = running.openai()
        ids = [model.id for model in api.models.list().data]
        assert [i for i in ids if i.startswith("bot-")] == ["bot-5", "bot-6", "bot-7", "bot-8"]
        assert api.chat.completions.create(model="bot-7", messages=USER).choices[0].message.content == "bot 7: hello"
        pieces = api.chat.completions.create(model="bot-8", messages=USER, stream=True)
        assert "".join(chunk.choices[0].delta.content or "" for chunk in pieces) == "bot 8: hello"
        answer = api.chat.completions.create(model="gpt-4o-mini", messages=USER)
        assert answer.choices[0].message.content == "bot 5: hello"  # the page's first bot


# -- errors from the site -----------------------------------------------------

SITE_FAILURES = [
    pytest.param({"fault": "challenge"}, openai.InternalServerError, 502, "challenge", "ChallengeError", id="challenge"),
    pytest.param({"token_limit": True}, openai.RateLimitError, 429, "token_limit_reached", "TokenLimitError",
                 id="token-limit"),
    pytest.param({"fault": "503"}, openai.InternalServerError, 503, "site_unavailable", "ServerError", id="503"),
    pytest.param({"fault": "endpoint_gone"}, openai.InternalServerError, 502, "endpoint_gone", "EndpointGoneError",
                 id="endpoint-gone"),
    pytest.param({"latency": 8.0}, openai.InternalServerError, 504, "site_timeout", "APITimeoutError", id="deadline"),
]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize(("scenario", "error", "status", "code", "name"), SITE_FAILURES)
def test_site_failures_map_to_openai_errors(
    site: Emulator, scenario: dict[str, Any], error: type[openai.APIStatusError], status: int, code: str,
    name: str, stream: bool,
) -> None:
    if scenario == {"token_limit": True} and not _legacy(site):
        scenario = {"guest_limit": 0}  # 2.x: "Access disabled for guests."
    site.configure(**scenario)
    with gateway_for(site, Client(site.base_url, max_retries=0, timeout=1.0)) as running:
        with pytest.raises(error) as raised:
            answer = running.openai().chat.completions.create(model="gpt-4o-mini", messages=USER, stream=stream)
            if stream:
                list(answer)  # a stream that did not start fails at once, before reading
        assert raised.value.status_code == status
        body = _error(raised)
        assert body["code"] == code and body["message"].startswith(name + ": ")
        if status in (429, 503) and code != "token_limit_reached":
            assert raised.value.response.headers.get("retry-after") == "1"


def test_unknown_model_is_404(gw: Running) -> None:
    with pytest.raises(openai.NotFoundError) as raised:
        gw.openai().chat.completions.create(model="gpt-5-ultra", messages=USER)
    body = _error(raised)
    assert body["code"] == "model_not_found" and body["param"] == "model" and DEFAULT_MODEL in body["message"]
    with pytest.raises(openai.NotFoundError):
        gw.openai().models.retrieve("gpt-5-ultra")


def test_empty_messages_are_400(gw: Running) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        gw.openai().chat.completions.create(model="gpt-4o-mini", messages=[])
    assert _error(raised)["param"] == "messages"
    with pytest.raises(openai.BadRequestError) as raised:
        gw.openai().chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "  "}])
    assert _error(raised)["code"] == "invalid_request"
    assert gw.emulator.stats["ajax_posts"] == 0  # refused before any I/O


# -- malformed requests, over raw HTTP -----------------------------------------

MALFORMED = [
    pytest.param(b"{not json", "invalid_json", None, id="bad-json"),
    pytest.param(b"\xff\xfe", "invalid_json", None, id="not-utf8"),
    pytest.param(b"", "invalid_json", None, id="empty-body"),
    pytest.param(b"[1, 2]", "invalid_type", None, id="array-body"),
    pytest.param(b'{"model": "gpt-4o-mini"}', "missing_required_parameter", "messages", id="no-messages"),
    pytest.param(b'{"messages": "hello"}', "invalid_type", "messages", id="messages-string"),
    pytest.param(b'{"messages": [42]}', "invalid_type", "messages[0]", id="message-number"),
    pytest.param(b'{"messages": [{"role": "tool", "content": "x"}]}', "invalid_value", "messages[0].role",
                 id="unknown-role"),
    pytest.param(b'{"messages": [{"role": "user", "content": 5}]}', "invalid_type", "messages[0].content",
                 id="content-number"),
    pytest.param(b'{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}',
                 "unsupported_content_type", "messages[0].content[0]", id="image-part"),
    pytest.param(b'{"messages": [{"role": "user", "content": "hi"}], "model": 4}', "invalid_type", "model",
                 id="model-number"),
    pytest.param(b'{"messages": [{"role": "user", "content": "hi"}], "stream": "yes"}', "invalid_type", "stream",
                 id="stream-string"),
    pytest.param(b'{"messages": [{"role": "user", "content": "hi"}], "n": 2}', "invalid_value", "n", id="n-2"),
]


@pytest.mark.parametrize(("body", "code", "param"), MALFORMED)
def test_malformed_requests_are_400(gw: Running, body: bytes, code: str, param: str | None) -> None:
    status, headers, doc = gw.raw("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
    assert status == 400 and headers["content-type"] == "application/json"
    assert doc["error"]["type"] == "invalid_request_error"
    assert doc["error"]["code"] == code and doc["error"]["param"] == param
    assert gw.emulator.stats["ajax_posts"] == 0


def test_unknown_path_is_404_and_wrong_method_405(gw: Running) -> None:
    status, _, doc = gw.raw("GET", "/v2/chat")
    assert status == 404 and doc["error"]["code"] == "unknown_url"
    status, _, doc = gw.raw("POST", "/chat/completions", b"{}")
    assert status == 404
    status, headers, doc = gw.raw("GET", "/v1/chat/completions")
    assert status == 405 and headers["allow"] == "POST" and doc["error"]["code"] == "method_not_allowed"
    status, headers, _ = gw.raw("DELETE", "/v1/models")
    assert status == 405 and headers["allow"] == "GET"


def test_body_over_the_limit_is_413(gw: Running) -> None:
    body = b'{"messages": [{"role": "user", "content": "' + b"x" * MAX_BODY_BYTES + b'"}]}'
    status, _, doc = gw.raw("POST", "/v1/chat/completions", body)
    assert status == 413 and doc["error"]["code"] == "request_too_large"
    assert gw.emulator.stats["ajax_posts"] == 0


def test_413_is_answered_without_reading_the_body(gw: Running) -> None:
    # The body announced is never sent: a server that read it would wait until the timeout.
    host, port = gw.server.server_address[:2]
    with socket.create_connection((str(host), int(port)), timeout=10) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 104857600\r\n\r\n" + b"{" * 1000)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.split()[1] == b"413"
    assert json.loads(body)["error"]["code"] == "request_too_large"


def test_api_key(site: Emulator) -> None:
    with gateway_for(site, api_key=KEY) as running:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}, {"Authorization": f"Basic {KEY}"}):
            status, answer_headers, doc = running.raw("GET", "/v1/models", headers=headers)
            assert status == 401 and doc["error"]["code"] == "invalid_api_key", headers
            assert answer_headers["www-authenticate"] == "Bearer"
            assert KEY not in json.dumps(doc)
        with pytest.raises(openai.AuthenticationError):
            running.openai("wrong").chat.completions.create(model="gpt-4o-mini", messages=USER)
        answer = running.openai(KEY).chat.completions.create(model="gpt-4o-mini", messages=USER)
        assert answer.choices[0].message.content == "echo: hello"
        assert site.stats["ajax_posts"] == (1 if _legacy(site) else 2)  # 2.x: the cache step, then the stream


def test_create_app_reads_the_environment(site: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATGPT4O_BASE_URL", site.base_url)
    monkeypatch.setenv(ENV_API_KEY, KEY)
    app = create_app()
    try:
        assert app.requires_key and app.client.base_url == site.base_url
        assert KEY not in repr(app)
    finally:
        app.close()
    monkeypatch.setenv(ENV_BOT_ID, "seven")
    with pytest.raises(InvalidConfigError, match=ENV_BOT_ID):
        create_app()


def test_non_loopback_host_needs_a_key(site: Emulator) -> None:
    with Client(site.base_url) as client:
        with pytest.raises(InvalidConfigError, match="API key"):
            make_server(create_app(client), "0.0.0.0", 0)
        with pytest.raises(InvalidConfigError, match="empty"):
            create_app(client, api_key=" ")


def test_logs_hold_one_line_per_request_and_no_secret(site: Emulator, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="chatgpt4o")
    with gateway_for(site, api_key=KEY) as running:
        api = running.openai(KEY)
        api.models.list()
        api.chat.completions.create(model="gpt-4o-mini", messages=USER)
        list(api.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True))
        running.raw("GET", f"/v1/models?api_key={KEY}", headers={"Authorization": "Bearer wrong-" + KEY})
        site.configure(fault="challenge")  # its answer sets a __cf_bm cookie
        with pytest.raises(openai.InternalServerError):
            api.chat.completions.create(model="gpt-4o-mini", messages=USER)
        assert running.server.wait_idle(10)
        nonce = site.current_nonce
    access = [r.getMessage() for r in caplog.records if r.name == "chatgpt4o.gateway.access"]
    assert len(access) == 5
    assert [line.split('"')[1] for line in access] == [
        "GET /v1/models", "POST /v1/chat/completions", "POST /v1/chat/completions", "GET /v1/models",
        "POST /v1/chat/completions"]
    assert [line.split('"')[2].split()[0] for line in access] == ["200", "200", "200", "401", "502"]
    everything = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (KEY, nonce, "__cf_bm", "emulated."):
        assert secret not in everything

"""create_async and the Chatgpt4o provider facade."""

from __future__ import annotations

import asyncio
import inspect
import json
import threading
import time
from collections.abc import Callable

import pytest
import responses

import chatgpt4o
from chatgpt4o import Chatgpt4o, create_async, create_async_stream
from chatgpt4o import exceptions as e
from chatgpt4o.emulator import Emulator

from .test_client import AJAX, BASE, NONCE, form_of, ok, page


@pytest.fixture(autouse=True)
def _fresh_facade():  # type: ignore[no-untyped-def]
    Chatgpt4o.close_clients()
    Chatgpt4o._post_id = Chatgpt4o._nonce = None
    yield
    Chatgpt4o.close_clients()
    Chatgpt4o._post_id = Chatgpt4o._nonce = None


def test_documented_signature_is_pinned() -> None:
    for fn in (create_async, Chatgpt4o.create_async):
        sig = inspect.signature(fn)
        assert [(p.name, p.default) for p in sig.parameters.values()] == [
            ("model", inspect.Parameter.empty),
            ("messages", inspect.Parameter.empty),
            ("proxy", None),
            ("timeout", 120),
            ("cookies", None),
            ("kwargs", inspect.Parameter.empty),
        ]
        assert sig.return_annotation in (str, "str")
        assert inspect.iscoroutinefunction(fn)


def test_stream_entry_points_take_the_same_arguments() -> None:
    expected = inspect.signature(create_async).parameters
    for fn in (create_async_stream, Chatgpt4o.create_async_stream):
        sig = inspect.signature(fn)
        assert list(sig.parameters.values()) == list(expected.values())
        assert not inspect.iscoroutinefunction(fn)


def test_facade_attributes() -> None:
    assert Chatgpt4o.url == "https://chatgpt4o.one"
    assert Chatgpt4o.working is True
    assert Chatgpt4o.default_model == "gpt-4o-mini-2024-07-18"
    assert Chatgpt4o.default_model in Chatgpt4o.models
    assert Chatgpt4o.model_aliases == {"gpt-4o-mini": "gpt-4o-mini-2024-07-18"}
    assert Chatgpt4o._post_id is None and Chatgpt4o._nonce is None
    assert Chatgpt4o.get_model("gpt-4o-mini") == Chatgpt4o.default_model


@responses.activate
def test_create_async_returns_the_answer_and_mirrors_tokens() -> None:
    responses.get(BASE + "/", body=page())
    responses.post(AJAX, json=ok("async answer"))
    answer = asyncio.run(create_async("gpt-4o-mini", [{"role": "user", "content": "Hi"}], base_url=BASE, stream=True))
    assert answer == "async answer"
    assert (Chatgpt4o._post_id, Chatgpt4o._nonce) == ("11", NONCE)


@responses.activate
def test_facade_url_can_point_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Chatgpt4o, "url", BASE)
    responses.get(BASE + "/", body=page())
    responses.post(AJAX, json=ok("from facade"))
    assert asyncio.run(Chatgpt4o.create_async(Chatgpt4o.default_model, "Hi")) == "from facade"


@responses.activate
def test_missing_post_id_or_nonce_is_a_runtime_error() -> None:
    responses.get(BASE + "/", body="<html>no chat</html>")
    with pytest.raises(RuntimeError, match="data-post-id"):
        asyncio.run(create_async("gpt-4o-mini", "Hi", base_url=BASE))


@responses.activate
def test_reply_without_data_is_a_runtime_error_with_the_documented_text() -> None:
    responses.get(BASE + "/", body=page())
    responses.post(AJAX, json={"status": "success"})
    with pytest.raises(RuntimeError, match="Unexpected response structure: 'data' field missing"):
        asyncio.run(create_async("gpt-4o-mini", "Hi", base_url=BASE))


@responses.activate
def test_bad_input_is_refused_before_any_io() -> None:
    with pytest.raises(e.UnknownModelError):
        asyncio.run(create_async("gpt-99", "Hi", base_url=BASE))
    with pytest.raises(e.InvalidMessagesError):
        asyncio.run(create_async("gpt-4o-mini", [], base_url=BASE))
    with pytest.raises(e.InvalidConfigError):
        asyncio.run(create_async("gpt-4o-mini", "Hi", base_url=BASE, timeout=0))
    with pytest.raises(e.MessageTypeError):
        asyncio.run(create_async("gpt-4o-mini", "Hi", base_url=BASE, bogus=1))
    assert len(responses.calls) == 0


@responses.activate
def test_the_loop_is_not_blocked_and_many_calls_run_at_once() -> None:
    active = {"now": 0, "peak": 0}
    lock = threading.Lock()

    def slow(request):  # type: ignore[no-untyped-def]
        with lock:
            active["now"] += 1
            active["peak"] = max(active["peak"], active["now"])
        time.sleep(0.3)
        with lock:
            active["now"] -= 1
        return 200, {"Content-Type": "application/json"}, json.dumps(ok(form_of(request)["message"]))

    responses.get(BASE + "/", body=page())
    responses.add_callback(responses.POST, AJAX, callback=slow)

    async def main() -> tuple[list[str], int]:
        ticks = 0
        stop = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not stop.is_set():
                ticks += 1
                await asyncio.sleep(0.01)

        tick_task = asyncio.create_task(ticker())
        answers = await asyncio.gather(*(create_async("gpt-4o-mini", f"q{i}", base_url=BASE) for i in range(48)))
        stop.set()
        await tick_task
        return answers, ticks

    answers, ticks = asyncio.run(main())
    assert answers == [f"q{i}" for i in range(48)]
    assert ticks > 5  # the loop kept running while the asks waited
    assert active["peak"] >= 32  # not throttled by a small default pool


@responses.activate
def test_works_inside_an_already_running_loop_like_jupyter() -> None:
    responses.get(BASE + "/", body=page())
    responses.post(AJAX, json=ok("inside"))

    async def cell() -> str:
        # A notebook cell is a coroutine run by the kernel's own loop.
        return await create_async("gpt-4o-mini", "Hi", base_url=BASE)

    loop = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(cell()) == "inside"
    finally:
        loop.close()


@responses.activate
def test_create_async_stream_yields_pieces() -> None:
    sse = "".join(
        "data: " + json.dumps({"id": "1", "object": "chat.completion.chunk", "choices": [{"delta": {"content": w}}]}) + "\n\n"
        for w in ["a", "b", "c"]
    ) + "data: [DONE]\n\n"
    responses.get(BASE + "/", body=page())
    responses.post(AJAX, body=sse, content_type="text/event-stream")

    async def collect() -> list[str]:
        return [piece async for piece in create_async_stream("gpt-4o-mini", "Hi", base_url=BASE)]

    assert asyncio.run(collect()) == ["a", "b", "c"]


@responses.activate
def test_calls_with_the_same_settings_share_one_client() -> None:
    responses.get(BASE + "/", body=page())
    responses.post(AJAX, json=ok())
    asyncio.run(create_async("gpt-4o-mini", "a", base_url=BASE))
    asyncio.run(create_async("gpt-4o-mini", "b", base_url=BASE))
    assert sum(1 for c in responses.calls if c.request.method == "GET") == 1


def test_public_names_are_pinned() -> None:
    assert sorted(chatgpt4o.__all__) == sorted([
        "__version__", "Client", "SiteInfo", "BotInfo", "Conversation", "Chatgpt4o", "create_async", "create_async_stream",
        "format_prompt", "DEFAULT_MODEL", "MODELS", "MODEL_ALIASES",
        "APIConnectionError", "APITimeoutError", "BlockedError", "BotNotFoundError", "CacheMissError", "ChallengeError",
        "Chatgpt4oError", "EmptyMessageError", "EndpointGoneError", "HTTPStatusError", "IPBannedError", "InvalidConfigError",
        "InvalidMessagesError", "InvalidRequestError", "MalformedResponseError", "MessageFlaggedError",
        "MessageTypeError", "NonceExpiredError", "PageError", "RateLimitError", "ResponseError",
        "ResponseTooLargeError", "ServerError", "SiteConfigurationError", "StreamTruncatedError", "TLSError",
        "TokenLimitError", "TokensNotFoundError", "UnknownModelError", "UpstreamError",
    ])
    for name in chatgpt4o.__all__:
        assert getattr(chatgpt4o, name) is not None
    assert set(chatgpt4o.__all__) <= set(dir(chatgpt4o))
    with pytest.raises(AttributeError):
        chatgpt4o.nope  # noqa: B018


def test_every_exception_is_a_documented_runtime_error() -> None:
    import chatgpt4o.exceptions as exc_module

    for name in exc_module.__all__:
        cls = getattr(exc_module, name)
        assert issubclass(cls, chatgpt4o.Chatgpt4oError) and issubclass(cls, RuntimeError)
        assert cls.__doc__ and cls.__doc__.strip()
        assert name in (exc_module.__doc__ or "")
    assert issubclass(e.InvalidRequestError, ValueError)
    assert issubclass(e.MessageTypeError, TypeError)


def test_py_typed_is_shipped() -> None:
    import pathlib

    assert (pathlib.Path(chatgpt4o.__file__).parent / "py.typed").exists()


# -- the environment means the same for every entry point (issue 13, item 1) ------------------


def _dead_url() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_create_async_reads_the_base_url_from_the_environment(
    wpaicg_emulator_factory: Callable[..., Emulator], monkeypatch: pytest.MonkeyPatch,
) -> None:
    emu = wpaicg_emulator_factory(era="1.8.96", reply="from the environment")
    monkeypatch.setenv("CHATGPT4O_BASE_URL", emu.base_url)

    async def both() -> tuple[str, list[str]]:
        whole = await create_async("gpt-4o-mini", "Hi")
        pieces = [piece async for piece in create_async_stream("gpt-4o-mini", "Hi")]
        return whole, pieces

    whole, pieces = asyncio.run(both())
    assert whole == "".join(pieces) == "from the environment"
    assert asyncio.run(Chatgpt4o.create_async("gpt-4o-mini", "Hi")) == "from the environment"


def test_create_async_reads_the_timeout_from_the_environment(
    wpaicg_emulator_factory: Callable[..., Emulator], monkeypatch: pytest.MonkeyPatch,
) -> None:
    emu = wpaicg_emulator_factory(era="1.8.96", latency=4.0)
    monkeypatch.setenv("CHATGPT4O_TIMEOUT", "1")
    monkeypatch.setenv("CHATGPT4O_MAX_RETRIES", "0")
    with pytest.raises(e.APITimeoutError, match="1 s timeout"):
        asyncio.run(create_async("gpt-4o-mini", "Hi", base_url=emu.base_url))
    monkeypatch.setenv("CHATGPT4O_TIMEOUT", "not a number")
    with pytest.raises(e.InvalidConfigError, match="CHATGPT4O_TIMEOUT"):
        asyncio.run(create_async("gpt-4o-mini", "Hi", base_url=emu.base_url))


def test_an_explicit_base_url_or_a_changed_facade_url_wins_over_the_environment(
    wpaicg_emulator_factory: Callable[..., Emulator], monkeypatch: pytest.MonkeyPatch,
) -> None:
    emu = wpaicg_emulator_factory(era="1.8.96", reply="explicit")
    monkeypatch.setenv("CHATGPT4O_BASE_URL", _dead_url())
    assert asyncio.run(create_async("gpt-4o-mini", "Hi", base_url=emu.base_url)) == "explicit"
    monkeypatch.setattr(Chatgpt4o, "url", emu.base_url)
    assert asyncio.run(create_async("gpt-4o-mini", "Hi")) == "explicit"


def test_an_explicit_timeout_wins_over_the_environment(
    wpaicg_emulator_factory: Callable[..., Emulator], monkeypatch: pytest.MonkeyPatch,
) -> None:
    emu = wpaicg_emulator_factory(era="1.8.96", latency=1.5, reply="patient")
    monkeypatch.setenv("CHATGPT4O_TIMEOUT", "0.5")
    assert asyncio.run(create_async("gpt-4o-mini", "Hi", base_url=emu.base_url, timeout=30)) == "patient"

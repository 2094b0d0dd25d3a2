"""The client against the emulator's 2.x (AIPKit) site over real sockets, in every 2.x era."""

from __future__ import annotations

import asyncio
import json
import logging
import pickle
import re
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

import chatgpt4o.exceptions as e
from chatgpt4o import Client, Conversation, create_async
from chatgpt4o.emulator import Emulator

AIPKIT_ERAS = ["2.3.19", "2.3.40", "2.4.0", "2.4.71"]
UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
Factory = Callable[..., Emulator]


@pytest.fixture(params=AIPKIT_ERAS)
def era(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _streams(emu: Emulator) -> list[dict[str, str]]:
    return [r["form"] for r in emu.requests if r["form"].get("action") == "aipkit_frontend_chat_stream"]


def _caches(emu: Emulator) -> list[dict[str, str]]:
    return [r["form"] for r in emu.requests if r["form"].get("action") == "aipkit_cache_sse_message"]


def test_detects_2x_and_answers_in_every_era(aipkit_emulator_factory: Factory, era: str) -> None:
    emu = aipkit_emulator_factory(era=era, reply_template="{message} | turns={turns}")
    with Client(emu.base_url) as client:
        assert client.ask("Hello") == "Hello | turns=0"
        info = client.inspect()
    assert (info.protocol, info.plugin_version, info.bot_id, info.has_nonce) == ("aipkit", era, 5, True)
    assert [(b.id, b.mode, b.provider) for b in info.bots] == [(5, "inline", "OpenAI")]
    assert info.bots[0].name  # headerName
    assert emu.stats["cache_posts"] == 1 and emu.stats["streams"] == 1


def test_a_2x_site_with_streaming_switched_off_is_still_streamed(aipkit_emulator_factory: Factory) -> None:
    """2.3-2.4.0 bots may have streamEnabled false; the stream action answers for them too (one road)."""
    for era in ("2.3.19", "2.4.0"):
        emu = aipkit_emulator_factory(era=era, stream=False)
        with Client(emu.base_url) as client:
            assert client.ask("hi") == "echo: hi"
            assert list(client.stream("one two")) == ["echo: ", "one ", "two"]
        assert (emu.stats["streams"], emu.stats["nonstream_posts"]) == (2, 0)


def test_one_turn_is_a_cache_post_then_a_stream_get_without_origin(aipkit_emulator_factory: Factory) -> None:
    emu = aipkit_emulator_factory(post_id=11)
    with Client(emu.base_url) as client:
        client.ask("Hello there")
        session_id = client.session_id
    cache, stream = [r for r in emu.requests if r["path"].endswith("admin-ajax.php")]
    assert cache["method"] == "POST" and stream["method"] == "GET"
    assert list(cache["form"]) == ["action", "_ajax_nonce", "bot_id", "message", "user_client_message_id"]
    assert cache["form"]["message"] == "Hello there"
    assert re.fullmatch(r"aipkit-client-msg-5-\d{13}-[0-9a-z]{5}", cache["form"]["user_client_message_id"])
    assert list(stream["form"]) == ["action", "cache_key", "bot_id", "session_id", "conversation_uuid", "post_id",
                                   "_ts", "_ajax_nonce"]
    assert stream["form"]["session_id"] == session_id and UUID4.fullmatch(session_id)
    assert UUID4.fullmatch(stream["form"]["conversation_uuid"])
    for request in (cache, stream):
        assert "origin" not in {name.lower() for name in request["headers"]}


def test_post_id_is_sent_only_above_zero(aipkit_emulator_factory: Factory) -> None:
    emu = aipkit_emulator_factory(post_id=0)
    with Client(emu.base_url) as client:
        client.ask("hi")
    assert "post_id" not in _streams(emu)[0]


def test_bots_default_choice_and_bot_id(aipkit_emulator_factory: Factory) -> None:
    emu = aipkit_emulator_factory(bots=3, popup=True, sitewide_popup=True, bot_path="/help/",
                                  reply_template="bot {bot_id}")
    with Client(emu.base_url + "/help/") as client:
        info = client.inspect()
        assert [(b.id, b.mode) for b in info.bots] == [(5, "popup"), (6, "popup"), (7, "popup"), (8, "popup")]
        assert info.bot_id == 5  # no inline bot: the first popup
        assert client.ask("x") == "bot 5"
        assert client.ask("x", bot_id=7) == "bot 7"
        assert "".join(client.stream("x", bot_id=8)) == "bot 8"
        assert asyncio.run(client.ask_async("x", bot_id=6)) == "bot 6"
    with Client(emu.base_url, bot_id=6) as client:  # the home page shows only bot 8 (site-wide popup)
        assert client.inspect().bot_id == 6
        assert client.ask("x") == "bot 6"  # a bot not on this page: the nonce serves every bot
    inline = emu.__class__(era="2.4.71", bots=2)
    with inline, Client(inline.base_url) as client:
        assert client.inspect().bot_id == 5 and client.ask("x") == "echo: x"


def test_an_unknown_bot_names_the_bots_of_the_page(aipkit_emulator_factory: Factory) -> None:
    emu = aipkit_emulator_factory(bots=2)
    with Client(emu.base_url, bot_id=42) as client, pytest.raises(e.BotNotFoundError) as raised:
        client.ask("hi")
    assert raised.value.bot_id == 42 and raised.value.bot_ids == (5, 6)
    assert "5, 6" in str(raised.value)


def test_stream_yields_deltas_as_they_arrive(aipkit_emulator_factory: Factory) -> None:
    emu = aipkit_emulator_factory(reply="alpha beta gamma", fault="sse_trickle", fault_target="stream",
                                  slow_seconds=0.05)
    with Client(emu.base_url) as client, client.stream("go") as pieces:
        first = next(pieces)
        before = emu.stats["requests"]
        assert first == "alpha "
        assert list(pieces) == ["beta ", "gamma"]
        assert emu.stats["requests"] == before


def test_an_answer_without_done_is_a_failure_never_a_partial_answer(aipkit_emulator_factory: Factory) -> None:
    emu = aipkit_emulator_factory(reply="one two three", fault="sse_no_done", fault_target="stream")
    with Client(emu.base_url, max_retries=0) as client:
        with pytest.raises(e.StreamTruncatedError):
            client.ask("hi")
        seen: list[str] = []
        with pytest.raises(e.StreamTruncatedError):
            seen.extend(client.stream("hi"))
        assert "".join(seen) == "one two three"  # handed out as it came, then the failure
        chat = client.chat()
        with pytest.raises(e.StreamTruncatedError):
            chat.ask("hi")
        assert chat.history == []  # never recorded


def test_nonce_rotation_costs_one_refresh_request_or_one_page_read(aipkit_emulator_factory: Factory,
                                                                    era: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="chatgpt4o")
    emu = aipkit_emulator_factory(era=era)
    with Client(emu.base_url) as client:
        client.ask("before")
        emu.rotate_nonce()
        assert client.ask("after") == "echo: after"
        client.ask("again")
    refreshes = 1 if era >= "2.4" else 0
    assert (emu.stats["nonce_refreshes"], emu.stats["page_fetches"]) == (refreshes, 2 - refreshes)
    if era < "2.4":  # the page again, past page caches
        pages = [r.getMessage() for r in caplog.records if r.getMessage().startswith("read chat page")]
        assert "aipkit_nocache=" not in pages[0] and "aipkit_nocache=" in pages[-1]
    assert len(_caches(emu)) == 4  # both steps redone after the stale one


def test_stale_nonce_on_the_stream_step_redoes_both_steps(aipkit_emulator_factory: Factory, era: str) -> None:
    emu = aipkit_emulator_factory(era=era, fault="stale_nonce", fault_target="stream", fault_count=1)
    with Client(emu.base_url) as client:
        assert client.ask("hi") == "echo: hi"
        assert "".join(client.stream("yo")) == "echo: yo"
    keys = [s["cache_key"] for s in _streams(emu)]
    assert len(keys) == 3 and len(set(keys)) == 3  # never the same key twice


def test_concurrent_callers_share_one_refresh(aipkit_emulator_factory: Factory) -> None:
    emu = aipkit_emulator_factory()
    with Client(emu.base_url, max_concurrency=16) as client:
        client.ask("warm")
        emu.rotate_nonce()
        answers = client.ask_many([f"m{i}" for i in range(16)], concurrency=16, return_exceptions=False)
    assert answers == [f"echo: m{i}" for i in range(16)]
    assert (emu.stats["nonce_refreshes"], emu.stats["page_fetches"]) == (1, 1)


def test_a_refresh_endpoint_answering_0_falls_back_to_the_page(aipkit_emulator_factory: Factory) -> None:
    emu = aipkit_emulator_factory(era="2.4.71", fault="endpoint_gone", fault_target="nonce")
    with Client(emu.base_url) as client:
        client.ask("x")
        emu.rotate_nonce()
        assert client.ask("y") == "echo: y"
    assert emu.stats["page_fetches"] == 2


def test_a_cache_miss_redoes_both_steps_exactly_once(aipkit_emulator_factory: Factory) -> None:
    emu = aipkit_emulator_factory(cache_ttl=0)
    with Client(emu.base_url) as client, pytest.raises(e.CacheMissError):
        client.ask("hi")
    assert (len(_caches(emu)), len(_streams(emu))) == (2, 2)
    assert len({s["cache_key"] for s in _streams(emu)}) == 2


def test_conversations_use_the_servers_history(aipkit_emulator_factory: Factory, era: str, tmp_path: Path) -> None:
    emu = aipkit_emulator_factory(era=era, reply_template="{message} | {history}")
    with Client(emu.base_url) as client:
        chat = client.chat()
        assert UUID4.fullmatch(chat.conversation_id) and chat.session_id == client.session_id
        chat.ask("My name is Ada.")
        second = chat.ask("What is my name?")
        assert "My name is Ada." in second
        # Only the new message went out each turn.
        assert [c["message"] for c in _caches(emu)] == ["My name is Ada.", "What is my name?"]
        assert {s["conversation_uuid"] for s in _streams(emu)} == {chat.conversation_id}
        chat.save(tmp_path / "chat.json")
        saved = json.loads((tmp_path / "chat.json").read_text())
        assert saved["session_id"] == client.session_id and saved["conversation_id"] == chat.conversation_id
    with Client(emu.base_url) as other:
        again = Conversation.load(other, tmp_path / "chat.json")
        assert "What is my name?" in again.ask("And now?")  # the same server-side history
        assert _streams(emu)[-1]["session_id"] == saved["session_id"]


def test_ask_outside_a_conversation_starts_a_new_one_each_call(aipkit_emulator_factory: Factory) -> None:
    emu = aipkit_emulator_factory(reply_template="turns={turns}")
    with Client(emu.base_url) as client:
        assert [client.ask("a"), client.ask("b")] == ["turns=0", "turns=0"]
    ids = [s["conversation_uuid"] for s in _streams(emu)]
    assert len(set(ids)) == 2 and {s["session_id"] for s in _streams(emu)} == {client.session_id}


def test_system_is_laid_in_front_of_the_first_message(aipkit_emulator_factory: Factory) -> None:
    emu = aipkit_emulator_factory()
    with Client(emu.base_url) as client:
        chat = client.chat(system="Answer in French.")
        chat.ask("Hello")
        chat.ask("Again")
        chat.reset()
        chat.ask("Fresh")
    first, second, third = (c["message"] for c in _caches(emu))
    assert first == "System: Answer in French.\nUser: Hello\nAssistant:"
    assert second == "Again"
    assert third.startswith("System: Answer in French.")  # a new conversation after reset()
    assert len({s["conversation_uuid"] for s in _streams(emu)}) == 2


def test_turns_of_one_conversation_run_one_at_a_time(aipkit_emulator_factory: Factory) -> None:
    emu = aipkit_emulator_factory(latency=0.05, reply_template="turns={turns}")
    with Client(emu.base_url) as client:
        chat = client.chat()
        answers: list[str] = []
        threads = [threading.Thread(target=lambda: answers.append(chat.ask("x"))) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(answers) == ["turns=0", "turns=2", "turns=4", "turns=6"]


def test_session_id_is_stable_survives_pickling_and_is_never_rotated(aipkit_emulator_factory: Factory) -> None:
    emu = aipkit_emulator_factory(guest_limit=3)
    with Client(emu.base_url, bot_id=5) as client:
        restored = pickle.loads(pickle.dumps(client))
        assert restored.session_id == client.session_id and restored.bot_id == 5
        client.ask("one two")
        with pytest.raises(e.TokenLimitError) as over:
            client.ask("again")
        with pytest.raises(e.TokenLimitError):
            client.ask("and again")
    assert over.value.notice  # 2.4.71 sends its quota notice
    assert {s["session_id"] for s in _streams(emu)} == {client.session_id}


@pytest.mark.parametrize(("config", "error"), [
    pytest.param({"guest_limit": 0}, e.TokenLimitError, id="guests-disabled"),
    pytest.param({"banned_words": ("spam",)}, e.MessageFlaggedError, id="banned-word"),
    pytest.param({"moderation_words": ("spam",)}, e.MessageFlaggedError, id="moderation"),
    pytest.param({"banned_ips": ("127.0.0.1",)}, e.IPBannedError, id="banned-ip"),
    pytest.param({"upstream_error": "model overloaded"}, e.UpstreamError, id="api-error"),
    pytest.param({"draft_bots": (5,)}, e.BotNotFoundError, id="draft-bot"),
])
def test_site_refusals_map_to_typed_errors(aipkit_emulator_factory: Factory, config: dict[str, object],
                                          error: type[Exception]) -> None:
    emu = aipkit_emulator_factory(**config)
    with Client(emu.base_url, max_retries=0) as client, pytest.raises(error):
        client.ask("spam please")


def test_the_origin_check_never_fires_without_an_origin_header(aipkit_emulator_factory: Factory) -> None:
    emu = aipkit_emulator_factory(site_url="http://example.test")  # a siteurl on another host than the pages
    with Client(emu.base_url) as client:
        assert client.ask("hi") == "echo: hi"


def test_quota_notice_and_actions_reach_the_error(aipkit_emulator_factory: Factory) -> None:
    actions = ({"label": "Sign up", "url": "https://example.test/join", "variant": "primary"},)
    emu = aipkit_emulator_factory(guest_limit=1, quota_actions=actions)
    with Client(emu.base_url) as client:
        client.ask("hello")
        with pytest.raises(e.TokenLimitError) as over:
            client.ask("hello")
    assert over.value.actions == actions and over.value.notice


def test_forced_protocols(aipkit_emulator_factory: Factory, wpaicg_emulator: Emulator) -> None:
    emu = aipkit_emulator_factory()
    with Client(emu.base_url, protocol="aipkit") as client:
        assert client.ask("hi") == "echo: hi"
    with Client(emu.base_url, protocol="wpaicg", max_retries=0) as client, pytest.raises(e.TokensNotFoundError):
        client.ask("hi")
    with Client(wpaicg_emulator.base_url, protocol="aipkit", max_retries=0) as client, \
            pytest.raises(e.TokensNotFoundError):
        client.ask("hi")
    with Client(wpaicg_emulator.base_url) as client:
        assert client.inspect().protocol == "wpaicg"


def test_async_with_client_astream_and_create_async(aipkit_emulator_factory: Factory) -> None:
    emu = aipkit_emulator_factory(bots=2, reply_template="bot {bot_id}: {message}")

    async def main() -> tuple[str, list[str], str]:
        async with Client(emu.base_url) as client:
            async with client.astream("hi", bot_id=6) as pieces:
                streamed = [piece async for piece in pieces]
            answer = await client.ask_async("yo")
        assert client._closed
        facade = await create_async("gpt-4o-mini", "hey", base_url=emu.base_url, bot_id=6)
        return answer, streamed, facade

    answer, streamed, facade = asyncio.run(main())
    assert (answer, "".join(streamed), facade) == ("bot 5: yo", "bot 6: hi", "bot 6: hey")


def test_with_stream_closes_the_connection_early(aipkit_emulator_factory: Factory) -> None:
    emu = aipkit_emulator_factory(fault="sse_endless", fault_target="stream")
    with Client(emu.base_url, timeout=30) as client:
        with client.stream("hi") as pieces:
            pass  # leave before reading: the endless stream is closed, nothing hangs
        assert pieces._pieces.gi_frame is None  # type: ignore[attr-defined]


def test_with_conversation_stream_closes_the_connection_early(aipkit_emulator_factory: Factory) -> None:
    emu = aipkit_emulator_factory(reply="alpha beta gamma", fault="sse_trickle", fault_target="stream",
                                  slow_seconds=0.2, fault_count=1)
    with Client(emu.base_url, timeout=30) as client:
        chat = client.chat()
        with chat.stream("hi") as pieces:
            assert next(pieces) == "alpha "
        assert list(pieces) == []  # closed on leaving the block: nothing more is read
        assert chat.history == []  # an answer cut short is never recorded
        assert chat.ask("again") == "alpha beta gamma"  # the turn's lock was let go
        assert len(chat.history) == 2

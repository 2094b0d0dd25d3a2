"""Conversations (``Client.chat()``) against the emulator, in every era and stream setting.

What the site receives is read from the emulator's request log (``emu.requests[i]["form"]``,
the decoded POST form) and what the model saw from the emulator's ``reply_template``
(``{turns}``: history items the server parsed, ``{history}``: those items as JSON).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from chatgpt4o import Client, Conversation
from chatgpt4o import exceptions as e
from chatgpt4o.emulator import Emulator

pytestmark = pytest.mark.integration

WAIT = 10.0



@pytest.fixture
def make_emu(wpaicg_emulator_factory: Callable[..., Emulator], era: str, stream: bool) -> Callable[..., Emulator]:
    def make(**overrides: Any) -> Emulator:
        return wpaicg_emulator_factory(era=era, stream=stream, page_size=20_000, **overrides)

    return make


@pytest.fixture
def clients() -> Iterator[Callable[[Emulator], Client]]:
    made: list[Client] = []

    def make(emu: Emulator) -> Client:
        client = Client(emu.base_url, max_retries=0, timeout=WAIT)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def sent(emu: Emulator, index: int = -1) -> dict[str, Any]:
    """The form of an ajax request, with the history decoded."""
    form = dict(emu.requests[index]["form"])
    form["history"] = json.loads(form["wpaicg_chat_history"])
    return form


def turn(role: str, text: str) -> dict[str, str]:
    return {"id": "", "text": f"{'Human' if role == 'user' else 'AI'}: {text}"}


def say(chat: Conversation, message: str, how: str) -> str:
    if how == "ask":
        return chat.ask(message)
    if how == "stream":
        return "".join(chat.stream(message))
    return asyncio.run(chat.ask_async(message))


# --- the site's own format -------------------------------------------------------------------


def test_turns_share_one_client_id_and_send_the_history_in_the_sites_format(
    make_emu: Callable[..., Emulator], clients: Callable[[Emulator], Client],
) -> None:
    emu = make_emu()
    client = clients(emu)
    chat = client.chat()
    messages = ["My name is Ada.", "What is my name?", "Spell it backwards."]
    answers = [say(chat, message, how) for message, how in zip(messages, ["ask", "stream", "async"], strict=True)]
    assert answers == [f"echo: {m}" for m in messages]

    forms = [sent(emu, i) for i in range(-3, 0)]
    ids = {form["wpaicg_chat_client_id"] for form in forms}
    assert ids == {chat.client_id}
    assert re.fullmatch(r"[A-Za-z0-9]{10}", chat.client_id)
    for index, form in enumerate(forms):
        assert form["message"] == messages[index]  # only the new turn
        expected: list[dict[str, str]] = []
        for earlier in range(index):
            expected += [turn("user", messages[earlier]), turn("assistant", answers[earlier])]
        assert form["history"] == [*expected, turn("user", messages[index])]  # ends with the current turn
    # The answers are recorded in the same format.
    assert chat.history == [item for m, a in zip(messages, answers, strict=True) for item in (turn("user", m), turn("assistant", a))]


def test_history_is_trimmed_to_the_pages_memory_limit(make_emu: Callable[..., Emulator], clients: Callable[[Emulator], Client]) -> None:
    emu = make_emu(memory_limit=4, reply_template="turns={turns}")
    chat = clients(emu).chat()
    full: list[dict[str, str]] = []
    for n in range(6):
        message = f"message {n}"
        answer = chat.ask(message)
        form = sent(emu)
        assert form["history"] == [*full, turn("user", message)][-4:]
        assert answer == f"turns={min(len(full) + 1, 4)}"  # what the server parsed
        full += [turn("user", message), turn("assistant", answer)]
    assert chat.history == full  # the conversation keeps everything; only the window is sent


def test_restored_conversation_on_a_fresh_client_honours_the_memory_limit(
    make_emu: Callable[..., Emulator], clients: Callable[[Emulator], Client],
) -> None:
    """The first ask of a fresh client must not send more than the page's limit either."""
    emu = make_emu(memory_limit=4)
    chat = clients(emu).chat()
    for n in range(4):
        chat.ask(f"message {n}")
    restored = Conversation.from_json(clients(emu), chat.to_json())
    restored.ask("and now?")
    history = sent(emu)["history"]
    assert len(history) <= 4, f"sent {len(history)} history items to a page whose data-memory-limit is 4"
    assert history[-1] == turn("user", "and now?")


def test_the_system_prompt_stays_in_the_window_past_the_memory_limit(
    make_emu: Callable[..., Emulator], clients: Callable[[Emulator], Client],
) -> None:
    emu = make_emu(memory_limit=4)
    chat = clients(emu).chat(system="Answer like a pirate.")
    for n in range(5):
        say(chat, f"message {n}", ["ask", "stream", "async"][n % 3])
        history = sent(emu)["history"]
        assert history[0] == turn("user", "Answer like a pirate."), history
        assert len(history) <= 4 and history[-1] == turn("user", f"message {n}")
    assert history[1:-1] == [turn("user", "message 3"), turn("assistant", "echo: message 3")]
    # Restored on a fresh client, whose first ask runs before the page (and its limit) is read.
    restored = Conversation.from_json(clients(emu), chat.to_json())
    restored.ask("and now?")
    history = sent(emu)["history"]
    assert history[0] == turn("user", "Answer like a pirate.") and len(history) <= 4


# --- isolation --------------------------------------------------------------------------------


def test_conversations_never_share_client_ids(make_emu: Callable[..., Emulator], clients: Callable[[Emulator], Client]) -> None:
    emu = make_emu(reply_template="{client_id}")
    client = clients(emu)
    first, second = client.chat(), client.chat()
    assert first.ask("a") == first.client_id
    assert second.ask("b") == second.client_id
    plain = client.ask("c")  # the client's own asks have yet another id
    assert len({first.client_id, second.client_id, plain}) == 3
    assert first.ask("again") == first.client_id
    assert sent(emu)["history"][0] == turn("user", "a")  # and its own history


def test_a_cookie_set_for_one_conversation_never_reaches_another(
    make_emu: Callable[..., Emulator], clients: Callable[[Emulator], Client],
) -> None:
    """A challenge answer sets ``__cf_bm`` on the conversation that got it, and only there."""
    emu = make_emu()
    client = clients(emu)
    first, second = client.chat(), client.chat()
    first.ask("hello")
    second.ask("hello")
    emu.configure(fault="challenge", fault_target="ajax", fault_count=1)
    before = list(first.history)
    with pytest.raises(e.ChallengeError):
        first.ask("this one is challenged")
    assert first.history == before  # a failed ask records nothing

    second.ask("after the challenge")
    assert "__cf_bm" not in emu.requests[-1]["headers"].get("cookie", "")
    client.ask("the client itself")
    assert "__cf_bm" not in emu.requests[-1]["headers"].get("cookie", "")
    first.ask("back to the first")
    # The jar worked: the conversation that received the cookie sends it back.
    assert "__cf_bm=" in emu.requests[-1]["headers"].get("cookie", "")
    assert client.chat().ask("brand new") and "__cf_bm" not in emu.requests[-1]["headers"].get("cookie", "")


# --- saving and restoring -----------------------------------------------------------------------


def test_save_and_load_continue_the_conversation(
    make_emu: Callable[..., Emulator], clients: Callable[[Emulator], Client], tmp_path: Path,
) -> None:
    emu = make_emu(reply_template="turns={turns}")
    chat = clients(emu).chat(system="Answer briefly.")
    chat.ask("one")
    chat.ask("two")
    path = tmp_path / "chat.json"
    chat.save(path)
    saved = path.read_text(encoding="utf-8")
    assert emu.current_nonce not in saved  # no secrets in the file

    restored = Conversation.load(clients(emu), path)  # another client, as after a restart
    assert restored.client_id == chat.client_id
    assert restored.history == chat.history
    assert restored.system == "Answer briefly."
    assert restored.ask("three") == "turns=6"  # system + 2 turns of 2 items + the current one
    form = sent(emu)
    assert form["wpaicg_chat_client_id"] == chat.client_id
    assert form["history"] == [{"id": "", "text": "Human: Answer briefly."}, *chat.history, turn("user", "three")]

    again = Conversation.from_json(clients(emu), json.loads(restored.to_json()))  # a dict works too
    assert again.history == restored.history and len(again.history) == 6


def test_from_json_refuses_what_is_not_a_saved_conversation(make_emu: Callable[..., Emulator], clients: Callable[[Emulator], Client]) -> None:
    client = clients(make_emu())
    for junk in ("not json", "[]", '{"history": []}', json.dumps({"format": "chatgpt4o.conversation/1", "history": [1]})):
        with pytest.raises(e.InvalidMessagesError):
            Conversation.from_json(client, junk)


# --- failures ----------------------------------------------------------------------------------


def test_a_failed_ask_leaves_the_history_unchanged(make_emu: Callable[..., Emulator], clients: Callable[[Emulator], Client]) -> None:
    emu = make_emu()
    chat = clients(emu).chat()
    chat.ask("first")
    before = [dict(item) for item in chat.history]

    emu.configure(upstream_error="The server had an error while processing your request.")
    with pytest.raises(e.UpstreamError):
        chat.ask("fails in ask")
    with pytest.raises(e.UpstreamError):
        list(chat.stream("fails in stream"))
    emu.configure(upstream_error=None, token_limit=True)
    with pytest.raises(e.TokenLimitError):
        chat.ask("over the quota")
    # Spread over the events of a streamed answer: still being sent when the caller stops.
    emu.configure(token_limit=False, latency=0.5 if emu.config.stream else 0.0)
    for _piece in chat.stream("stopped early"):
        break  # an incomplete answer is not recorded
    emu.configure(latency=0.0)
    assert chat.history == before

    chat.ask("works again")
    assert sent(emu)["history"] == [*before, turn("user", "works again")]


# --- what the model sees ---------------------------------------------------------------------

TRICKY_TURNS = [
    'He said "hi" and left',
    "path C:\\temp\\new and \\\\server \\n not a newline",
    "line one\nline two\n    indented\tand tabbed",
    "<b>bold</b> and <script>x()</script> and </div>",
    "100%ab off, %20 encoded, 50% plain",
    "\U0001f389 \u0645\u0631\u062d\u0628\u0627 \u05e9\u05dc\u05d5\u05dd",
]
_TAG_GAP = re.compile(r"< (?=[A-Za-z/!?])")


def fold(text: str) -> str:
    """Undo the substitutions ``chatgpt4o._fidelity`` documents for history turns.

    U+2060 after ``%`` is dropped, U+FF02/U+FF3C are ``"``/``\\``, U+2028 a newline, U+00A0 a
    space (runs of spaces and tabs), a tab four spaces, ``< x`` the tag start ``<x``. Applied to
    both sides, so an equality means nothing else was lost or changed.
    """
    text = text.replace("\u2060", "").replace("\uff02", '"').replace("\uff3c", "\\")
    text = text.replace("\u2028", "\n").replace("\u00a0", " ").replace("\t", "    ")
    return _TAG_GAP.sub("<", text)


def parsed_history(answer: str) -> list[dict[str, str]]:
    """The history the emulator's model saw, from ``reply_template="turns={turns} history={history}"``."""
    match = re.fullmatch(r"turns=(\d+) history=(.*)", answer, re.DOTALL)
    assert match, answer
    history: list[dict[str, str]] = json.loads(match.group(2))
    assert len(history) == int(match.group(1))
    return history


@pytest.mark.parametrize("how", ["ask", "stream"])
def test_the_model_sees_every_prior_turn_intact(
    make_emu: Callable[..., Emulator], clients: Callable[[Emulator], Client], how: str,
) -> None:
    emu = make_emu(reply_template="turns={turns} history={history}")
    chat = clients(emu).chat()
    expected: list[tuple[str, str]] = []
    for text in TRICKY_TURNS:
        answer = say(chat, text, how)
        seen = parsed_history(answer)
        want = [*expected, ("user", text)]
        assert [item["role"] for item in seen] == [role for role, _ in want]
        for item, (_, original) in zip(seen, want, strict=True):
            assert fold(item["content"]) == fold(original), (item["content"], original)
        expected += [("user", text), ("assistant", answer)]


def test_an_answer_quoting_ai_colon_keeps_it_in_the_history(
    make_emu: Callable[..., Emulator], clients: Callable[[Emulator], Client],
) -> None:
    """The server deletes every ``AI: `` inside an assistant turn; the client should protect
    (or at least document) it. Fails until the encoding covers it (see the report)."""
    emu = make_emu(reply="Transcript -- Human: hi AI: hello")
    chat = clients(emu).chat()
    chat.ask("show a transcript")
    emu.configure(reply=None, reply_template="turns={turns} history={history}")
    seen = parsed_history(chat.ask("thanks"))
    assert fold(seen[1]["content"]) == "Transcript -- Human: hi AI: hello"

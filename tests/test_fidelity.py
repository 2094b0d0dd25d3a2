"""Prompt fidelity through the emulator, and the claims of ``chatgpt4o/_fidelity.py``'s docstring.

The catalogue, the metric and the two ways of sending (as-is / through the client) live in
``benchmarks/fidelity.py``, which prints the figures; here their properties are asserted.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator

import pytest
import requests

import chatgpt4o._fidelity as fidelity_module
from benchmarks.fidelity import CATALOGUE, EraResult, measure, post_raw, survived
from chatgpt4o import Client
from chatgpt4o.emulator import Emulator

pytestmark = pytest.mark.integration

SANITIZING = ["1.8.79", "1.8.91"]
ERAS = [*SANITIZING, "1.8.96"]
STREAMS = [pytest.param(False, id="json"), pytest.param(True, id="sse")]
WAIT = 10.0


@functools.cache
def result(era: str, stream: bool) -> EraResult:
    return measure(era, stream=stream)


@pytest.fixture
def emu(wpaicg_emulator_factory: Callable[..., Emulator], request: pytest.FixtureRequest) -> Emulator:
    era, stream = request.param if isinstance(request.param, tuple) else (request.param, False)
    return wpaicg_emulator_factory(era=era, stream=stream, page_size=20_000)


@pytest.fixture
def client(emu: Emulator) -> Iterator[Client]:
    with Client(emu.base_url, max_retries=0, timeout=WAIT) as c:
        yield c


# --- the figures --------------------------------------------------------------------------------


def test_the_metric_counts_characters_of_the_prompt_found_in_order() -> None:
    assert survived("abc", "abc") == 3
    assert survived("<b>x</b>", "x") == 1
    assert survived("100%ab", "100%\u2060ab") == 6  # an inserted character costs nothing ...
    assert survived("a\nb", "a\u2028b") == 2  # ... a replaced one is lost
    assert survived("abc", "") == 0
    assert survived("ab", "ba") == 1


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("stream", STREAMS)
def test_the_client_never_loses_more_than_posting_as_is(era: str, stream: bool) -> None:
    figures = result(era, stream)
    assert len(figures.prompts) == len(CATALOGUE)
    assert figures.percent("after") >= figures.percent("before")
    for prompt in figures.prompts:
        assert prompt.after_survived >= prompt.before_survived, prompt


@pytest.mark.parametrize("era", ERAS)
def test_the_stream_setting_changes_nothing_the_model_receives(era: str) -> None:
    assert [p.after for p in result(era, True).prompts] == [p.after for p in result(era, False).prompts]


@pytest.mark.parametrize("stream", STREAMS)
def test_in_1_8_96_every_prompt_arrives_unchanged(stream: bool) -> None:
    figures = result("1.8.96", stream)
    assert figures.percent("before") == figures.percent("after") == 100.0
    assert all(p.after == p.prompt and p.before == p.prompt for p in figures.prompts)


@pytest.mark.parametrize("era", SANITIZING)
def test_sanitizing_eras_lose_text_when_posted_as_is(era: str) -> None:
    """The premise: without the encoding, tags and %xx sequences are lost."""
    figures = result(era, False)
    assert figures.percent("before") < 90.0
    lost = {p.name for p in figures.prompts if p.before_survived < len(p.prompt)}
    assert {"html", "script", "generics", "percent", "urlencoded"} <= lost


@pytest.mark.parametrize("era", SANITIZING)
@pytest.mark.parametrize("stream", STREAMS)
def test_tags_and_percent_sequences_survive_through_the_client(era: str, stream: bool) -> None:
    by_name = {p.name: p for p in result(era, stream).prompts}
    for name in ("html", "script", "generics", "percent", "urlencoded"):
        prompt = by_name[name]
        assert prompt.after_survived == len(prompt.prompt), (name, prompt.after)
    assert "100%\u2060ab" in by_name["percent"].after
    assert "< script>alert(1)< /script>" in by_name["script"].after


# --- the docstring of chatgpt4o/_fidelity.py is true -------------------------------------------

_TAG_GAP = re.compile(r"< (?=[A-Za-z/!?])")
_SLASHED = re.compile(r"\\(.)", re.DOTALL)


def documented(text: str, *, unslash: bool = False) -> str:
    """Undo every substitution the docstring admits: then nothing else may differ.

    U+2060 after ``%`` dropped; U+2028 is a newline; U+00A0 a space; a tab four spaces;
    ``< x`` the tag start ``<x``; ``&lt;`` a lone ``<``; with ``unslash`` the magic-quote
    backslashes of plugins up to 1.8.90.
    """
    if unslash:
        text = _SLASHED.sub(r"\1", text)
    text = text.replace("\u2060", "").replace("\u2028", "\n").replace("\u00a0", " ")
    text = text.replace("\t", "    ").replace("&lt;", "<")
    return _TAG_GAP.sub("<", text)


@pytest.mark.parametrize("era", SANITIZING)
def test_everything_the_client_loses_is_documented(era: str) -> None:
    """Through the client, each catalogue prompt differs from what the model received only by
    the substitutions the docstring lists (fails for leading spaces: see the report)."""
    for prompt in result(era, False).prompts:
        received = documented(prompt.after, unslash=era == "1.8.79")
        assert received == documented(prompt.prompt), prompt.name


def test_the_docstring_names_what_it_promises() -> None:
    doc = fidelity_module.__doc__ or ""
    for claim in ("strips anything that looks like a tag", "U+2028", "U+00A0", "U+2060", "&lt;",
                  "magic", "1.8.96", "U+FF02", "U+FF3C"):
        assert claim in doc, claim


@pytest.mark.parametrize("emu", SANITIZING, indirect=True)
def test_what_sanitize_text_field_does_to_a_raw_message(emu: Emulator) -> None:
    # 1. tags stripped, 2. runs of white space (newlines too) become one space and the ends are
    # trimmed, 3. every %xx octet deleted.
    assert post_raw(emu, "  <b>bold</b>\n\n\tand   spaced 100%ab %41 50% ") == "bold and spaced 100 50%"


@pytest.mark.parametrize("emu", SANITIZING, indirect=True)
def test_what_the_client_sends_for_a_sanitizing_site(emu: Emulator, client: Client) -> None:
    client.ask("<b>x</b> a  b\tc\nd 100%ab")
    sent = emu.requests[-1]["form"]["message"]
    assert sent == "< b>x< /b> a \u00a0b \u00a0\u00a0\u00a0c\u2028d 100%\u2060ab"


@pytest.mark.parametrize("emu", ["1.8.96"], indirect=True)
def test_a_site_that_does_not_sanitize_gets_the_message_untouched(emu: Emulator, client: Client) -> None:
    message = "<b>x</b> a  b\tc\nd 100%ab \"q\" \\"
    assert client.ask(message) == "echo: " + message
    assert emu.requests[-1]["form"]["message"] == message


@pytest.mark.parametrize("emu", ["1.8.79", "1.8.91"], indirect=True)
def test_magic_quotes_reach_the_model_only_up_to_1_8_90(emu: Emulator, client: Client) -> None:
    answer = client.ask("it's \"quoted\" \\ here")
    if emu.config.era == "1.8.79":
        assert answer == "echo: it\\'s \\\"quoted\\\" \\\\ here"
    else:
        assert answer == "echo: it's \"quoted\" \\ here"


@pytest.mark.parametrize("emu", ERAS, indirect=True)
def test_a_lone_less_than_sign_arrives_as_an_entity_only_where_sanitized(emu: Emulator, client: Client) -> None:
    expected = "if n < 0" if emu.config.era == "1.8.96" else "if n &lt; 0"
    assert client.ask("if n < 0") == "echo: " + expected


@pytest.mark.parametrize("emu", ERAS, indirect=True)
def test_a_quote_in_a_raw_history_breaks_the_whole_history(emu: Emulator) -> None:
    """The server deletes every backslash before decoding the history, in every era."""
    emu.configure(reply_template="turns={turns} history={history}")
    history = json.dumps([{"id": "", "text": 'Human: say "hi"'}, {"id": "", "text": "AI: line\none"},
                          {"id": "", "text": "Human: next"}])
    form = {"_wpnonce": emu.current_nonce, "post_id": "11", "url": emu.base_url,
            "action": "wpaicg_chat_shortcode_message", "message": "next", "bot_id": "0",
            "chatbot_identity": "shortcode", "wpaicg_chat_client_id": "abcdefghij",
            "wpaicg_chat_history": history}
    assert requests.post(emu.ajax_url, data=form, timeout=WAIT).json()["data"] == "turns=0 history=[]"
    form["wpaicg_chat_history"] = json.dumps([{"id": "", "text": "AI: line\none"}, {"id": "", "text": "Human: next"}])
    reply = requests.post(emu.ajax_url, data=form, timeout=WAIT).json()["data"]
    assert json.loads(reply.split("history=", 1)[1])[0]["content"] == "linenone"  # \n became n


@pytest.mark.parametrize("emu", ERAS, indirect=True)
def test_the_client_keeps_the_history_free_of_escapes(emu: Emulator, client: Client) -> None:
    emu.configure(reply_template="turns={turns}")
    chat = client.chat()
    chat.ask('say "hi" \\ there\nnow')
    assert chat.ask("next") == "turns=3"  # nothing broke the history
    sent = emu.requests[-1]["form"]["wpaicg_chat_history"]
    assert "\\" not in sent
    assert "say \uff02hi\uff02 \uff3c there\u2028now" in sent

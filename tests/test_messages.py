"""Message validation and the documented prompt layout."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatgpt4o import format_prompt
from chatgpt4o.exceptions import InvalidMessagesError, MessageTypeError
from chatgpt4o.messages import MAX_PROMPT_BYTES, ROLES, normalize_messages


def test_one_message_is_its_content_verbatim() -> None:
    assert format_prompt([{"role": "user", "content": "  Hi\n there  "}]) == "  Hi\n there  "


def test_plain_string_is_a_user_message() -> None:
    assert format_prompt("Hello") == "Hello"
    assert normalize_messages("Hello") == [{"role": "user", "content": "Hello"}]


def test_several_messages_use_role_lines_and_a_final_assistant() -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Bye"},
    ]
    assert format_prompt(messages) == "System: Be brief.\nUser: Hi\nAssistant: Hello!\nUser: Bye\nAssistant:"


def test_extra_keys_are_ignored_and_tuples_accepted() -> None:
    assert format_prompt(({"role": "user", "content": "x", "name": "bob"},)) == "x"


BAD = [
    ("empty-list", [], InvalidMessagesError),
    ("none", None, MessageTypeError),
    ("int", 3, MessageTypeError),
    ("bytes", b"hi", MessageTypeError),
    ("dict-not-list", {"role": "user", "content": "x"}, MessageTypeError),
    ("item-not-dict", ["hi"], MessageTypeError),
    ("missing-role", [{"content": "x"}], InvalidMessagesError),
    ("missing-content", [{"role": "user"}], InvalidMessagesError),
    ("unknown-role", [{"role": "tool", "content": "x"}], InvalidMessagesError),
    ("role-not-str", [{"role": 1, "content": "x"}], MessageTypeError),
    ("content-list", [{"role": "user", "content": [{"type": "text", "text": "x"}]}], MessageTypeError),
    ("content-none", [{"role": "user", "content": None}], MessageTypeError),
    ("nul-byte", [{"role": "user", "content": "a\x00b"}], InvalidMessagesError),
    ("blank", "   \n\t", InvalidMessagesError),
    ("empty-string", "", InvalidMessagesError),
    ("lone-surrogate", "\ud800", InvalidMessagesError),
    ("too-large", "x" * (MAX_PROMPT_BYTES + 1), InvalidMessagesError),
    ("too-large-multibyte", "é" * (MAX_PROMPT_BYTES // 2 + 1), InvalidMessagesError),
]


@pytest.mark.parametrize(("messages", "error"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_messages_raise_typed_errors(messages: object, error: type) -> None:
    with pytest.raises(error) as info:
        format_prompt(messages)  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError if error is InvalidMessagesError else TypeError)
    assert str(info.value)


_content = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=50)
_message = st.fixed_dictionaries({"role": st.sampled_from(ROLES), "content": _content})


@settings(max_examples=300, deadline=None)
@given(st.lists(_message, min_size=1, max_size=8))
def test_prompt_layout_property(messages: list[dict[str, str]]) -> None:
    try:
        prompt = format_prompt(messages)
    except InvalidMessagesError:
        assert not (messages[0]["content"] if len(messages) == 1 else "x").strip()
        return
    if len(messages) == 1:
        assert prompt == messages[0]["content"]
    else:
        assert prompt.endswith("\nAssistant:")
        expected = "\n".join(f"{m['role'].capitalize()}: {m['content']}" for m in messages)
        assert prompt == expected + "\nAssistant:"

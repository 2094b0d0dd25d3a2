"""The page reader: tokens out of chat pages, real and hostile."""

from __future__ import annotations

import html as htmllib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatgpt4o.exceptions import TokensNotFoundError
from chatgpt4o.page import plugin_era
from chatgpt4o.protocols.wpaicg import ChatTokens, parse_page

URL = "https://example.org/"


def box(attrs: str, cls: str = "wpaicg-chat-shortcode") -> str:
    return f'<div class="{cls}" {attrs}><ul></ul></div>'


def test_real_homepage_of_plugin_1_8_96(homepage_html: str) -> None:
    tokens = parse_page(homepage_html, "http://127.0.0.1:8088/")
    assert tokens.nonce == "8cd765cdc2"
    assert tokens.post_id == "4"
    assert tokens.url == "http://127.0.0.1:8088"
    assert tokens.bot_id == "0"
    assert tokens.chat_type == "shortcode"
    assert tokens.identity == "shortcode"
    assert tokens.stream is False
    assert tokens.memory_limit == 100  # written as data-memory-limit = "100"
    assert tokens.ajax_url == "http://127.0.0.1:8088/wp-admin/admin-ajax.php"
    assert tokens.plugin_version == "1.8.96"
    assert tokens.era == "1.8.96"
    assert tokens.sanitizes_messages is False


def test_repr_hides_the_nonce(homepage_html: str) -> None:
    tokens = parse_page(homepage_html, "http://127.0.0.1:8088/")
    assert "8cd765cdc2" not in repr(tokens)
    assert "8cd765cdc2" not in str(tokens)


@pytest.mark.parametrize(
    "attrs",
    [
        'data-nonce="abc123def0" data-post-id="11"',
        "data-nonce='abc123def0' data-post-id='11'",
        'data-post-id = "11"   data-nonce =  "abc123def0"',
        'data-nonce=abc123def0 data-post-id=11',
        'data-post-id="11"\n     data-nonce\n="abc123def0"',
        'data-nonce="abc&#49;23def0" data-post-id="1&#x31;"',
    ],
    ids=["double-quotes", "single-quotes", "spaces-around-equals", "unquoted", "newlines", "entities"],
)
def test_attribute_spelling_is_tolerated(attrs: str) -> None:
    tokens = parse_page(box(attrs), URL)
    assert (tokens.nonce, tokens.post_id) == ("abc123def0", "11")


def test_other_plugins_elements_are_never_taken() -> None:
    page = (
        '<form class="comment-form" data-post-id="99" data-nonce="0ther0ther">'
        '<div class="wpforms" data-nonce="f0rmsf0rms" data-post-id="98"></div>'
        + box('data-nonce="abc123def0" data-post-id="11"')
        + '<div class="like-button" data-post-id="97" data-nonce="l1kel1ke00"></div>'
    )
    tokens = parse_page(page, URL)
    assert (tokens.nonce, tokens.post_id) == ("abc123def0", "11")


def test_shortcode_box_wins_over_the_widget() -> None:
    page = (
        box('data-nonce="w1dget0000" data-post-id="5" data-type="widget"', cls="wpaicg-chatbox")
        + box('data-nonce="abc123def0" data-post-id="11" data-type="shortcode"')
    )
    tokens = parse_page(page, URL)
    assert tokens.nonce == "abc123def0"
    assert tokens.chat_type == "shortcode"


def test_widget_alone_is_used() -> None:
    tokens = parse_page(box('data-nonce="w1dget0000" data-post-id="5" data-type="widget"', cls="wpaicg-chatbox"), URL)
    assert (tokens.nonce, tokens.identity) == ("w1dget0000", "widget")


def test_custom_bot_identity_and_settings() -> None:
    page = box(
        'data-nonce="abc123def0" data-post-id="7" data-bot-id="42" data-type="shortcode" '
        'data-openai_stream_nav="1" data-memory-limit = "12" data-url="https://example.org/chat"'
    )
    tokens = parse_page(page, "https://example.org/chat/")
    assert tokens.identity == "custom_bot_42"
    assert tokens.stream is True
    assert tokens.memory_limit == 12
    assert tokens.url == "https://example.org/chat"
    assert tokens.ajax_url == "https://example.org/wp-admin/admin-ajax.php"


def test_wpaicg_params_give_ajax_url_and_nonce_fallback() -> None:
    page = (
        box('data-post-id="11"')
        + '<script id="wpaicg-init-js-extra">\nvar wpaicgParams = {"ajax_url":"https:\\/\\/example.org\\/blog\\/wp-admin\\/admin-ajax.php",'
        '"search_nonce":"5ea7c40000","logged_in":"0"};\n</script>'
    )
    tokens = parse_page(page, URL)
    assert tokens.nonce == "5ea7c40000"
    assert tokens.ajax_url == "https://example.org/blog/wp-admin/admin-ajax.php"


@pytest.mark.parametrize(
    ("page", "missing"),
    [
        (box('data-nonce="abc123def0"'), ("data-post-id",)),
        (box('data-post-id="11"'), ("data-nonce",)),
        ("<html><body><p>no chat here</p></body></html>", ("data-post-id", "data-nonce")),
        ('<div class="other" data-post-id="1" data-nonce="x0x0x0x0x0"></div>', ("data-post-id", "data-nonce")),
        (box('data-nonce="" data-post-id=" "'), ("data-post-id", "data-nonce")),
    ],
    ids=["no-post-id", "no-nonce", "no-chat-box", "only-other-plugins", "empty-values"],
)
def test_missing_tokens_raise_a_runtime_error_naming_what_and_where(page: str, missing: tuple[str, ...]) -> None:
    with pytest.raises(TokensNotFoundError) as info:
        parse_page(page, URL)
    assert isinstance(info.value, RuntimeError)
    assert info.value.missing == missing
    for name in missing:
        assert name in str(info.value)
    assert URL in str(info.value)


def test_aipkit_page_says_why() -> None:
    with pytest.raises(TokensNotFoundError, match="2.x"):
        parse_page('<div class="aipkit_chat_container" data-config="{}"></div>', URL)


def test_large_page_with_the_box_deep_inside(homepage_html: str) -> None:
    filler = "<p>" + "lorem ipsum dolor sit amet " * 20000 + "</p>"
    page = homepage_html.replace("<body", filler + "<body", 1)
    assert len(page) > 500_000
    assert parse_page(page, URL).nonce == "8cd765cdc2"


def test_unusual_markup_falls_back_to_a_full_parse() -> None:
    # Upper-case attribute names defeat the fast string search.
    page = '<DIV CLASS="wpaicg-chat-shortcode" DATA-NONCE="abc123def0" DATA-POST-ID="11"></DIV>'
    assert parse_page(page, URL).nonce == "abc123def0"


@pytest.mark.parametrize(
    ("version", "era"),
    [(None, "unknown"), ("1.7.86", "1.7"), ("1.8.79", "1.8.79"), ("1.8.85", "1.8.80"), ("1.8.91", "1.8.91"),
     ("1.9.18", "1.8.96"), ("1.8.96", "1.8.96"), ("2.3.2", "2.x")],
)
def test_plugin_era(version: str | None, era: str) -> None:
    assert plugin_era(version) == era


def test_version_decides_sanitizing() -> None:
    base = {"nonce": "n", "post_id": "1", "url": "u", "ajax_url": "a"}
    assert ChatTokens(**base, plugin_version="1.8.95").sanitizes_messages
    assert not ChatTokens(**base, plugin_version="1.8.96").sanitizes_messages
    assert ChatTokens(**base, plugin_version=None).sanitizes_messages


_value = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"), min_size=1, max_size=30).filter(
    lambda s: s.strip() == s and s != ""
)


@settings(max_examples=150, deadline=None)
@given(nonce=_value, post_id=st.integers(1, 10**9), noise=st.lists(_value, max_size=5), quote=st.sampled_from(['"', "'"]))
def test_any_escaped_value_round_trips(nonce: str, post_id: int, noise: list[str], quote: str) -> None:
    value = htmllib.escape(nonce, quote=True)
    others = "".join(f'<div class="x" data-nonce="{htmllib.escape(n)}" data-post-id="3">{htmllib.escape(n)}</div>' for n in noise)
    page = others + box(f"data-post-id={quote}{post_id}{quote} data-nonce={quote}{value}{quote}") + others
    tokens = parse_page(page, URL)
    assert tokens.nonce == nonce
    assert tokens.post_id == str(post_id)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_arbitrary_text_gives_tokens_or_our_error(text: str) -> None:
    try:
        parse_page(text, URL)
    except TokensNotFoundError:
        pass


def test_an_unclosed_quote_in_the_chat_box_does_not_stall_the_reader() -> None:
    """A hostile page must not make the tag scanner backtrack for ever (run apart, with a bound)."""
    import subprocess
    import sys

    code = (
        "from chatgpt4o.protocols.wpaicg import parse_page\n"
        "from chatgpt4o.exceptions import TokensNotFoundError\n"
        "page = '<div class=\"wpaicg-chat-shortcode\" data-nonce=\"x\" data-post-id=\"1\" data-q=\"' + \"a'\" * 3000\n"
        "try:\n    parse_page(page, 'http://x/')\nexcept TokensNotFoundError:\n    print('typed error')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.stdout.strip() == "typed error", done.stderr

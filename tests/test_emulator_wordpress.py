"""Unit tests of the emulator's WordPress maths: nonces, sanitize_text_field, slashes, JSON."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from chatgpt4o.emulator import Emulator, sanitize_text_field, wp_nonce
from chatgpt4o.emulator.wordpress import (
    addslashes,
    esc_html,
    nonce_tick,
    php_json_encode,
    php_strip_tags,
    sanitize_textarea_field,
    wp_pre_kses_less_than,
    wp_unslash,
    wp_verify_nonce,
)

# ----------------------------------------------------------------------------- nonces


def test_wp_nonce_is_the_middle_ten_hex_digits_of_hmac_md5() -> None:
    expected = hmac.new(b"k", b"12345|wpaicg-chatbox|0|", hashlib.md5).hexdigest()[-12:-2]
    assert wp_nonce("k", "wpaicg-chatbox", 12345) == expected
    assert len(expected) == 10


@pytest.mark.parametrize(
    ("now", "tick"),
    [(0.0, 0), (1.0, 1), (43200.0, 1), (43200.5, 2), (86400.0, 2), (86400.001, 3)],
    ids=["epoch", "first-second", "end-of-tick-1", "start-of-tick-2", "end-of-tick-2", "tick-3"],
)
def test_nonce_tick_is_ceil_of_half_life(now: float, tick: int) -> None:
    assert nonce_tick(now, 86400.0) == tick


def test_nonce_valid_in_current_and_previous_tick_only() -> None:
    nonce = wp_nonce("s", "a", 100)
    assert wp_verify_nonce(nonce, "s", "a", 100) == 1
    assert wp_verify_nonce(nonce, "s", "a", 101) == 2
    assert wp_verify_nonce(nonce, "s", "a", 102) == 0
    assert wp_verify_nonce(nonce, "s", "a", 99) == 0
    assert wp_verify_nonce(nonce, "other", "a", 100) == 0
    assert wp_verify_nonce(nonce, "s", "other-action", 100) == 0
    assert wp_verify_nonce("", "s", "a", 100) == 0


def test_emulator_nonce_follows_injected_clock_and_rotation() -> None:
    now = [1_000_000.0]
    emu = Emulator(era="1.8.96", clock=lambda: now[0], nonce_life=100.0)
    first = emu.current_nonce
    assert first == wp_nonce("emulator-secret", "wpaicg-chatbox", nonce_tick(now[0], 100.0))
    assert emu.verify_nonce(first)
    now[0] += 50.0  # next tick: the old nonce is still accepted
    assert emu.current_nonce != first
    assert emu.verify_nonce(first)
    now[0] += 50.0  # two ticks later: expired
    assert not emu.verify_nonce(first)
    fresh = emu.current_nonce
    emu.rotate_nonce()
    assert not emu.verify_nonce(fresh)
    assert emu.verify_nonce(emu.current_nonce)


def test_rotate_every_invalidates_after_n_checks() -> None:
    emu = Emulator(era="1.8.96", rotate_every=2)
    nonce = emu.current_nonce
    assert emu.verify_nonce(nonce)
    assert emu.verify_nonce(nonce)  # second check passes, then the secret changes
    assert not emu.verify_nonce(nonce)
    assert emu.current_nonce != nonce


# ----------------------------------------------------------------------------- sanitizing

SANITIZE_CASES = [
    ("<b>bold</b> text", "bold text", "tags-stripped"),
    ("a<script>alert(1)</script>b", "ab", "script-contents-dropped"),
    ("x<style>p{color:red}</style>y", "xy", "style-contents-dropped"),
    ("a < b", "a &lt; b", "lone-less-than-escaped"),
    ("1 <2", "1 &lt;2", "unclosed-less-than-escaped"),
    ("a < b> c", "a < b> c", "less-than-space-is-not-a-tag"),
    ("x<!-- comment -->y", "xy", "comment-removed"),
    ("line1\nline2\tend", "line1 line2 end", "newlines-tabs-collapsed"),
    ("a \r\n\r\n   b", "a b", "whitespace-runs-collapsed"),
    ("%ab%AB keep", "keep", "octets-removed-both-cases"),
    ("a %41 b", "a b", "octet-removal-recollapses-spaces"),
    ("100%", "100%", "percent-sign-kept"),
    ("%zz", "%zz", "non-hex-octet-kept"),
    ("%%4141", "", "octet-removal-repeats"),
    ("   padded\t ", "padded", "trimmed"),
    ('say "hi" & \'bye\'', 'say "hi" & \'bye\'', "quotes-ampersand-untouched-without-tags"),
    ('<a href="x>y">link</a>', "link", "quoted-gt-inside-tag"),
    ("caf\u00e9 \u4e16\u754c", "caf\u00e9 \u4e16\u754c", "unicode-kept"),
    ("bad\udcff", "", "invalid-utf8-emptied"),
    ("<p>para</p>\n<p>two</p>", "para two", "block-tags-and-newline"),
    ("a\x00b", "a\x00b", "nul-kept-without-tags"),
]


@pytest.mark.parametrize(("raw", "expected"), [c[:2] for c in SANITIZE_CASES], ids=[c[2] for c in SANITIZE_CASES])
def test_sanitize_text_field(raw: str, expected: str) -> None:
    assert sanitize_text_field(raw) == expected


def test_sanitize_textarea_field_keeps_newlines() -> None:
    assert sanitize_textarea_field(" a\n<b>b</b>\tc ") == "a\nb\tc"


def test_pre_kses_less_than_and_strip_tags_pieces() -> None:
    assert wp_pre_kses_less_than("a<b") == "a&lt;b"
    assert wp_pre_kses_less_than("<b>x</b>") == "<b>x</b>"
    assert php_strip_tags("<?php echo 1; ?>k") == "k"
    assert php_strip_tags("<!DOCTYPE html>t") == "t"
    assert php_strip_tags("a<b<c>>d") == "ad"


# ----------------------------------------------------------------------------- slashes, escaping


@pytest.mark.parametrize(
    "raw", ['plain', 'it\'s "quoted"', "back\\slash", "nul\x00byte", "\\\\double"],
    ids=["plain", "quotes", "backslash", "nul", "double-backslash"],
)
def test_wp_unslash_undoes_magic_quotes(raw: str) -> None:
    assert wp_unslash(addslashes(raw)) == raw


def test_addslashes_matches_php() -> None:
    assert addslashes("a'b\"c\\d") == "a\\'b\\\"c\\\\d"


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        ({"a": "x/y"}, '{"a":"x\\/y"}'),
        ("Gr\u00fc\u00dfe", '"Gr\\u00fc\\u00dfe"'),
        ("\U0001f600", '"\\ud83d\\ude00"'),
        ({"s": "success", "log": False, "n": 42}, '{"s":"success","log":false,"n":42}'),
        ('q"<b>', '"q\\"<b>"'),
        ("a\nb", '"a\\nb"'),
    ],
    ids=["slash", "latin", "surrogate-pair", "compact-and-false", "quote-and-tags", "newline"],
)
def test_php_json_encode(value: object, encoded: str) -> None:
    assert php_json_encode(value) == encoded


def test_esc_html_does_not_double_encode() -> None:
    assert esc_html('<a href="x">&amp; & \'</a>') == "&lt;a href=&quot;x&quot;&gt;&amp; &amp; &#039;&lt;/a&gt;"

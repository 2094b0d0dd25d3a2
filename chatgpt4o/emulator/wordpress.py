"""The bits of WordPress core the emulator has to reproduce byte for byte.

Everything here is a pure function modelled on WordPress 6.x / PHP 8 source:

- nonces (``wp_create_nonce``/``wp_verify_nonce`` for a guest: uid 0, empty session token);
- ``sanitize_text_field``/``sanitize_textarea_field`` (``_sanitize_text_fields`` with
  ``wp_check_invalid_utf8``, ``wp_pre_kses_less_than``, ``wp_strip_all_tags`` and PHP's
  ``strip_tags`` state machine, the whitespace collapse and the ``%xx`` octet loop);
- magic quotes (``wp_magic_quotes`` = PHP ``addslashes``) and ``wp_unslash`` (``stripslashes``);
- ``json_encode``/``wp_json_encode`` output (compact, ``\\/``, ``\\uXXXX`` with surrogate pairs);
- ``esc_html``/``esc_attr`` and a small ``esc_url``.

Strings carry undecodable request bytes as lone surrogates (``errors="surrogateescape"``), which
is how ``wp_check_invalid_utf8`` can tell that the original bytes were not UTF-8.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
from typing import Any

__all__ = [
    "AIPKIT_NONCE_ACTION",
    "IMG_NONCE_ACTION",
    "NONCE_ACTION",
    "addslashes",
    "esc_html",
    "esc_url",
    "nonce_tick",
    "php_json_encode",
    "php_strip_tags",
    "sanitize_key",
    "sanitize_text_field",
    "sanitize_textarea_field",
    "wp_check_invalid_utf8",
    "wp_nonce",
    "wp_pre_kses_less_than",
    "wp_strip_all_tags",
    "wp_unslash",
    "wp_verify_nonce",
]

#: ``wp_create_nonce('wpaicg-chatbox')``: ``data-nonce`` and ``wpaicgParams.search_nonce``.
NONCE_ACTION = "wpaicg-chatbox"
#: The hidden ``#wpaicg-img-nonce`` input (image upload), a different value.
IMG_NONCE_ACTION = "wpaicg-img-nonce"
#: ``wp_create_nonce('aipkit_frontend_chat_nonce')``: the one nonce of the 2.x chat (``cfg.nonce``).
AIPKIT_NONCE_ACTION = "aipkit_frontend_chat_nonce"


# --------------------------------------------------------------------------- nonces


def nonce_tick(now: float, nonce_life: float = 86400.0) -> int:
    """``wp_nonce_tick()``: ``ceil(time() / (nonce_life / 2))``."""
    return math.ceil(now / (nonce_life / 2.0))


def wp_nonce(secret: str, action: str, tick: int) -> str:
    """A guest's nonce: ``substr(wp_hash("$tick|$action|0|", 'nonce'), -12, 10)``.

    ``wp_hash`` is HMAC-MD5 keyed by NONCE_KEY.NONCE_SALT; here the key is ``secret``.
    """
    digest = hmac.new(secret.encode("utf-8"), f"{tick}|{action}|0|".encode(), hashlib.md5)
    return digest.hexdigest()[-12:-2]


def wp_verify_nonce(nonce: str, secret: str, action: str, tick: int) -> int:
    """``wp_verify_nonce``: 1 if made in this tick, 2 if in the previous one, else 0."""
    if not nonce:
        return 0
    for age, candidate_tick in ((1, tick), (2, tick - 1)):
        if hmac.compare_digest(wp_nonce(secret, action, candidate_tick), nonce):
            return age
    return 0


def sanitize_key(key: str) -> str:
    """``sanitize_key``: lowercase, only ``[a-z0-9_-]`` kept."""
    return re.sub(r"[^a-z0-9_\-]", "", key.lower())


# --------------------------------------------------------------------------- slashes


def addslashes(value: str) -> str:
    """PHP ``addslashes`` (what ``wp_magic_quotes`` does to every request value)."""
    return (
        value.replace("\\", "\\\\").replace("'", "\\'").replace('"', '\\"').replace("\0", "\\0")
    )


_STRIPSLASHES = re.compile(r"\\(.?)", re.DOTALL)


def wp_unslash(value: str) -> str:
    """``wp_unslash`` = PHP ``stripslashes``: ``\\x`` -> ``x``, ``\\\\`` -> ``\\``, ``\\0`` -> NUL."""

    def repl(match: re.Match[str]) -> str:
        char = match.group(1)
        return "\0" if char == "0" else char

    return _STRIPSLASHES.sub(repl, value)


# --------------------------------------------------------------------------- output


def php_json_encode(value: Any) -> str:
    """PHP ``json_encode`` with default flags: compact, ``/`` as ``\\/``, ASCII-only escapes."""
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"))
    return text.replace("/", "\\/")


_ENTITY = re.compile(r"&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")
_SPECIAL = re.compile(r"[&<>\"']")


def esc_html(text: str) -> str:
    """``esc_html``/``esc_attr``: ``& < > " '`` as entities, valid entities not double-encoded."""
    if not _SPECIAL.search(text):
        return text
    out = []
    pos = 0
    for match in _SPECIAL.finditer(text):
        out.append(text[pos : match.start()])
        char = match.group(0)
        if char == "&" and _ENTITY.match(text, match.start()):
            out.append("&")
        else:
            out.append({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#039;"}[char])
        pos = match.end()
    out.append(text[pos:])
    return "".join(out)


def esc_url(url: str) -> str:
    """The part of ``esc_url`` that matters for a referer link: no quotes, ``&`` as ``&#038;``."""
    url = re.sub(r"[^a-zA-Z0-9\-~+_.?#=!&;,/:%@$|*'()\[\]\x80-\U0010ffff]", "", url.replace(" ", "%20"))
    return url.replace("&amp;", "&#038;").replace("&", "&#038;").replace("'", "&#039;")


# --------------------------------------------------------------------------- sanitizing


def wp_check_invalid_utf8(text: str) -> str:
    """``wp_check_invalid_utf8($text, false)``: the empty string when the bytes were not UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: undecodable request bytes
        return ""
    return text


_LESS_THAN = re.compile(r"<[^>]*?((?=<)|>|$)", re.DOTALL)


def wp_pre_kses_less_than(text: str) -> str:
    """Escape every ``<`` that does not start a ``<...>`` run before the next ``<`` or the end."""

    def repl(match: re.Match[str]) -> str:
        chunk = match.group(0)
        return chunk if ">" in chunk else esc_html(chunk)

    return _LESS_THAN.sub(repl, text)


_PHP_SPACE = " \t\n\r\v\f"


def php_strip_tags(text: str) -> str:
    """PHP 8 ``strip_tags($text)`` (no allowed tags): the ``php_strip_tags_ex`` state machine.

    States: 0 text, 1 HTML tag, 2 ``<?`` PHP block, 3 ``<!`` declaration, 4 ``<!--`` comment.
    A ``<`` followed by whitespace is text; quotes inside tags hide ``>``; nested ``<`` in a tag
    raise a depth counter; an unterminated tag swallows the rest of the string; NULs vanish.
    """
    out: list[str] = []
    state = 0
    depth = 0
    in_q = ""
    lc = ""
    br = 0
    n = len(text)
    i = 0
    while i < n:
        c = text[i]
        prev = text[i - 1] if i > 0 else ""
        nxt = text[i + 1] if i + 1 < n else "\0"
        if c == "\0":
            pass
        elif state == 0:
            if c == "<":
                if not in_q:
                    if nxt in _PHP_SPACE:
                        out.append(c)
                    else:
                        lc = "<"
                        state = 1
            elif c == ">":
                if depth:
                    depth -= 1
                elif not in_q:
                    out.append(c)
            else:
                out.append(c)
        elif state == 1:
            if c == "<":
                if not in_q and nxt not in _PHP_SPACE:
                    depth += 1
            elif c == ">":
                if depth:
                    depth -= 1
                elif not in_q:
                    lc = ">"
                    in_q = ""
                    state = 0
            elif c in "\"'":
                if i != 0 and (not in_q or c == in_q):
                    in_q = "" if in_q else c
            elif c == "!" and prev == "<":
                state = 3
                lc = c
            elif c == "?" and prev == "<":
                br = 0
                state = 2
        elif state == 2:
            if c == "(":
                if lc not in ('"', "'"):
                    lc = "("
                    br += 1
            elif c == ")":
                if lc not in ('"', "'"):
                    lc = ")"
                    br -= 1
            elif c == ">":
                if depth:
                    depth -= 1
                elif not in_q and not br and lc != '"' and prev == "?":
                    in_q = ""
                    state = 0
            elif c in "\"'":
                if prev != "\\":
                    if lc == c:
                        lc = ""
                    elif lc != "\\":
                        lc = c
                if i != 0 and (not in_q or c == in_q):
                    in_q = "" if in_q else c
            elif c in "lL" and text[max(0, i - 4) : i].lower() == "<?xm":
                state = 1
        elif state == 3:
            if c == ">":
                if depth:
                    depth -= 1
                elif not in_q:
                    in_q = ""
                    state = 0
            elif c in "\"'":
                if i != 0 and prev != "\\" and (not in_q or c == in_q):
                    in_q = "" if in_q else c
            elif c == "-" and text[max(0, i - 2) : i] == "!-":
                state = 4
            elif c in "eE" and text[max(0, i - 6) : i].lower() == "doctyp":
                state = 1
        else:  # state 4: inside <!-- ... -->
            if c == ">" and not in_q and text[max(0, i - 2) : i] == "--":
                in_q = ""
                state = 0
        i += 1
    return "".join(out)


_SCRIPT_STYLE = re.compile(r"<(script|style)[^>]*?>.*?</\1>", re.IGNORECASE | re.DOTALL)


def wp_strip_all_tags(text: str, remove_breaks: bool = False) -> str:
    """``wp_strip_all_tags``: drop script/style elements with contents, ``strip_tags``, trim."""
    text = _SCRIPT_STYLE.sub("", text)
    text = php_strip_tags(text)
    if remove_breaks:
        text = re.sub(r"[\r\n\t ]+", " ", text)
    return php_trim(text)


def php_trim(text: str) -> str:
    """PHP ``trim`` (space, tab, LF, CR, NUL, vertical tab) -- not Unicode whitespace."""
    return text.strip(" \t\n\r\0\x0b")


_OCTET = re.compile(r"%[a-f0-9]{2}", re.IGNORECASE)


def _sanitize_text_fields(text: str, keep_newlines: bool) -> str:
    filtered = wp_check_invalid_utf8(text)
    if "<" in filtered:
        filtered = wp_pre_kses_less_than(filtered)
        filtered = wp_strip_all_tags(filtered, False)
        # so that the newline stripping below cannot build a tag again
        filtered = filtered.replace("<\n", "&lt;\n")
    if not keep_newlines:
        filtered = re.sub(r"[\r\n\t ]+", " ", filtered)
    filtered = php_trim(filtered)
    found = False
    while True:
        match = _OCTET.search(filtered)
        if match is None:
            break
        filtered = filtered.replace(match.group(0), "")
        found = True
    if found:
        filtered = php_trim(re.sub(r" +", " ", filtered))
    return filtered


def sanitize_text_field(text: str) -> str:
    """WordPress ``sanitize_text_field``: what plugin <= 1.8.95 did to ``message``.

    >>> sanitize_text_field("  <b>Hi</b>\\n there %41 100% ")
    'Hi there 100%'
    """
    return _sanitize_text_fields(text, keep_newlines=False)


def sanitize_textarea_field(text: str) -> str:
    """WordPress ``sanitize_textarea_field``: like ``sanitize_text_field`` but keeps newlines."""
    return _sanitize_text_fields(text, keep_newlines=True)

"""Keeping a prompt intact through the site's ``sanitize_text_field``.

Up to plugin 1.8.95 the server runs WordPress's ``sanitize_text_field`` on
the message before the model sees it (protocol.md §7). That function

1. strips anything that looks like a tag (``<b>``, ``</div>``, ``<x``...);
2. turns every run of spaces, tabs and newlines into one space, and trims;
3. deletes every ``%`` followed by two hex digits (``100%ab`` → ``100``).

:func:`encode_message` rewrites a message so that what the model receives
is as close as possible to what the user wrote:

* ``<`` followed by a tag-like character gets a space after it (``< b>``):
  PHP's ``strip_tags`` leaves ``<`` followed by white space alone;
* a newline becomes U+2028 LINE SEPARATOR, and each space after the first of
  a run becomes U+00A0 NO-BREAK SPACE, so line breaks and indentation keep
  a visible trace (the site's collapsing rule matches only ASCII white
  space); a tab becomes four such spaces; spaces at the very start or end
  all become U+00A0, since the site trims ASCII white space there;
* ``%`` before two hex digits gets U+2060 WORD JOINER after it, an invisible
  character the percent rule does not match.

What cannot survive: exact newlines and tabs (they arrive as U+2028 and
spaces), and a lone ``<`` with no ``>`` after it, which WordPress itself
turns into ``&lt;``. Up to 1.8.90 the server also keeps WordPress's magic
quotes, so ``'``, ``"`` and ``\\`` reach the model with a backslash before
them. From plugin 1.8.96 on, messages arrive unchanged and the client sends
them as they are.

The history (``wpaicg_chat_history``) fares worse, in every version: the
server sanitizes the JSON text, then deletes *every* backslash before
decoding it. A ``"`` inside a turn (JSON ``\\"``) therefore breaks the whole
history, and escapes such as ``\\n`` turn into ``n``. :func:`encode_history_text`
applies the message rules and then keeps the JSON free of escapes: ``"``
becomes U+FF02 FULLWIDTH QUOTATION MARK, ``\\`` becomes U+FF3C FULLWIDTH
REVERSE SOLIDUS, other control characters become spaces. The server also
deletes every ``AI: `` inside an assistant turn (it means to drop the
prefix only), so past the prefix ``AI: `` is sent as ``AI:`` + U+00A0.
"""

from __future__ import annotations

import re

__all__ = ["encode_history_text", "encode_message"]

_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")
_PERCENT = re.compile(r"%(?=[0-9A-Fa-f]{2})")
_SPACE_RUN = re.compile(r" {2,}")
_EDGE_SPACES = re.compile(r"^ +| +$")
_NEWLINE = re.compile(r"\r\n|\r|\n")


def encode_message(message: str) -> str:
    """Rewrite ``message`` to pass ``sanitize_text_field`` as intact as possible."""
    if "<" in message:
        message = _TAG_START.sub("< ", message)
    if "%" in message:
        message = _PERCENT.sub("%\u2060", message)
    if "\t" in message:
        message = message.replace("\t", "    ")
    if "\n" in message or "\r" in message:
        message = _NEWLINE.sub("\u2028", message)
    if message.startswith(" ") or message.endswith(" "):
        message = _EDGE_SPACES.sub(lambda m: "\u00a0" * len(m.group(0)), message)
    if "  " in message:
        message = _SPACE_RUN.sub(lambda m: " " + "\u00a0" * (len(m.group(0)) - 1), message)
    return message


# Characters json.dumps would escape with a backslash (besides the newline
# handled by encode_message): the quote, the backslash, control characters.
_JSON_ESCAPED = {ord('"'): "\uff02", ord("\\"): "\uff3c", **{c: " " for c in range(32)}, 0x7F: " "}


def encode_history_text(text: str) -> str:
    """Rewrite one history turn so the server decodes the history intact."""
    text = encode_message(text).translate(_JSON_ESCAPED)
    if text.startswith("AI: ") and "AI: " in text[4:]:
        text = "AI: " + text[4:].replace("AI: ", "AI:\u00a0")
    return text

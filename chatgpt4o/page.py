"""Reading the chat tokens out of a wpaicg chat page. No I/O happens here.

The plugin renders its chat box as a ``<div class="wpaicg-chat-shortcode"
data-nonce=... data-post-id=... data-type="shortcode">`` (the floating widget
uses the class ``wpaicg-chatbox``), and an inline ``var wpaicgParams = {...}``
script with the AJAX URL and the same nonce as ``search_nonce``.

Pages are large (hundreds of KB of theme markup) while the chat box is one
tag, so the reader finds the tags carrying ``data-nonce`` with plain string
searches and hands only those tags to BeautifulSoup, which deals with
attribute order, quoting, spacing around ``=`` and entities. Other plugins'
elements that carry ``data-nonce``/``data-post-id`` are ignored: only a
wpaicg chat box counts. Only when that fast path finds no box is the whole
page parsed, so that unusual markup still works.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from .exceptions import TokensNotFoundError

__all__ = ["ChatTokens", "parse_page", "plugin_era"]

_SHORTCODE_CLASS = "wpaicg-chat-shortcode"
_WIDGET_CLASS = "wpaicg-chatbox"
_VERSION_RE = re.compile(r"gpt3-ai-content-generator/[^\"'?\s<>]*\?ver=([0-9][0-9A-Za-z.\-]*)")
_PARAMS_RE = re.compile(r"wpaicgParams\s*=\s*(?=\{)")
# Whole-page parsing is the fallback for odd markup; beyond this size it
# costs more than it can be worth.
_FALLBACK_LIMIT = 2 * 1024 * 1024


@dataclass(frozen=True)
class ChatTokens:
    """What a chat page tells a client: the tokens to post and the box's settings.

    ``nonce`` is a secret of sorts (it authorises posts for 12–24 hours), so
    it is left out of the ``repr``.
    """

    nonce: str = field(repr=False)
    post_id: str
    url: str
    ajax_url: str
    bot_id: str = "0"
    chat_type: str = "shortcode"
    stream: bool = False
    memory_limit: int | None = None
    plugin_version: str | None = None
    assistant_enabled: bool = False
    page_url: str = ""

    @property
    def identity(self) -> str:
        """The ``chatbot_identity`` the page's script sends for this box."""
        if self.bot_id not in ("", "0"):
            return f"custom_bot_{self.bot_id}"
        return self.chat_type

    @property
    def era(self) -> str:
        """A guess at the plugin's protocol era from its version (see :func:`plugin_era`)."""
        return plugin_era(self.plugin_version)

    @property
    def sanitizes_messages(self) -> bool:
        """Whether the site runs ``sanitize_text_field`` on messages (plugin < 1.8.96).

        Unknown versions count as sanitizing: encoding for it costs little on
        a site that does not.
        """
        version = _version_tuple(self.plugin_version)
        return version is None or version < (1, 8, 96)


def _version_tuple(version: str | None) -> tuple[int, ...] | None:
    if not version:
        return None
    parts = re.findall(r"\d+", version)
    return tuple(int(p) for p in parts[:3]) if parts else None


def plugin_era(version: str | None) -> str:
    """Name the protocol era of a plugin version (protocol.md §0).

    Returns one of ``"unknown"``, ``"1.7"`` (history in cookies), ``"1.8.79"``
    (EventSource streaming, JSON nonce errors), ``"1.8.80"`` (fetch
    streaming), ``"1.8.91"`` (403 HTML nonce errors, POST only),
    ``"1.8.96"`` (messages no longer sanitized) or ``"2.x"`` (legacy chat
    endpoint removed).
    """
    v = _version_tuple(version)
    if v is None:
        return "unknown"
    if v >= (2,):
        return "2.x"
    for floor, name in (((1, 8, 96), "1.8.96"), ((1, 8, 91), "1.8.91"), ((1, 8, 80), "1.8.80"), ((1, 8, 79), "1.8.79")):
        if v >= floor:
            return name
    return "1.7"


_TAG_SPECIAL = re.compile("[>\"']")


def _tag_around(html: str, pos: int) -> str | None:
    """Return the start tag containing ``html[pos]``, honouring quoted values.

    A plain scan from quote to quote, linear in the tag's length whatever the
    markup (an unclosed quote must not make a regular expression backtrack).
    """
    start = html.rfind("<", 0, pos)
    if start < 0:
        return None
    # ``pos`` is an attribute name, outside quotes: scan on to the closing '>'.
    i = pos
    while True:
        special = _TAG_SPECIAL.search(html, i)
        if special is None:
            return None
        j = special.start()
        if html[j] == ">":
            return html[start : j + 1]
        close = html.find(html[j], j + 1)
        if close < 0:
            return None
        i = close + 1


# Every attribute of a start tag, so that quoted values are skipped whole.
_ATTR_RE = re.compile(r"""([^\s=/>"']+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'>]+))?""")
_WANTED = frozenset({
    "class", "data-nonce", "data-post-id", "data-url", "data-bot-id", "data-type",
    "data-openai_stream_nav", "data-memory-limit", "data-assistant-enabled",
})


def _attrs_of(tag: str) -> dict[str, Any] | None:
    """Parse a start tag's attributes with BeautifulSoup.

    The chat box carries some sixty attributes; only the ones read here are
    handed to BeautifulSoup (which decodes quoting and entities), which
    keeps the parse to a few dozen microseconds.
    """
    from bs4 import BeautifulSoup

    name_end = re.match(r"<\s*[A-Za-z][^\s/>]*", tag)
    if name_end is None:
        return None
    kept = [
        f"{name}={value}" if value else name
        for name, value in _ATTR_RE.findall(tag, name_end.end(), len(tag) - 1)
        if name.lower() in _WANTED
    ]
    soup = BeautifulSoup("<div " + " ".join(kept) + ">", "html.parser")
    element = soup.find(True)
    return dict(element.attrs) if element is not None else None


def _classes(attrs: dict[str, Any]) -> list[str]:
    value = attrs.get("class", [])
    return value.split() if isinstance(value, str) else list(value)


def _is_chat_box(attrs: dict[str, Any]) -> bool:
    classes = _classes(attrs)
    return _SHORTCODE_CLASS in classes or _WIDGET_CLASS in classes


def _rank(attrs: dict[str, Any]) -> int:
    # The shortcode box is what the site's chat page is about; the floating
    # widget is a fallback.
    classes = _classes(attrs)
    if _SHORTCODE_CLASS in classes or attrs.get("data-type") == "shortcode":
        return 0
    return 1


def _chat_boxes_fast(html: str) -> list[dict[str, Any]]:
    """Chat boxes found by string search.

    Tags with a data-nonce are few; only those naming a wpaicg chat class are
    parsed. The first shortcode box ends the search: it is the one used.
    """
    widgets: list[str] = []
    pos = html.find("data-nonce")
    while pos >= 0:
        tag = _tag_around(html, pos)
        if tag is not None and _SHORTCODE_CLASS in tag:
            attrs = _attrs_of(tag)
            if attrs is not None and _is_chat_box(attrs) and _rank(attrs) == 0:
                return [attrs]
        elif tag is not None and _WIDGET_CLASS in tag:
            widgets.append(tag)
        pos = html.find("data-nonce", pos + 10)
    boxes = [attrs for attrs in map(_attrs_of, widgets) if attrs is not None and _is_chat_box(attrs)]
    return boxes


def _chat_boxes_slow(html: str) -> list[dict[str, Any]]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    return [dict(el.attrs) for el in soup.find_all(True) if _is_chat_box(el.attrs)]


_PARAM_RE = {
    key: re.compile('"' + key + r'"\s*:\s*"((?:[^"\\]|\\.)*)"') for key in ("ajax_url", "search_nonce")
}


def _wpaicg_params(html: str) -> dict[str, Any]:
    """``ajax_url`` and ``search_nonce`` of the inline ``var wpaicgParams = {...}``.

    The object also carries the plugin's translations (several KB); only the
    two strings are read, each decoded as the JSON string it is.
    """
    # WordPress prints the localized script among the footer scripts, so the
    # search runs backwards from the end; usages of wpaicgParams in later
    # scripts are skipped until the definition.
    match = None
    start = len(html)
    while match is None:
        start = html.rfind("wpaicgParams", 0, start)
        if start < 0:
            return {}
        match = _PARAMS_RE.match(html, start)
    end = html.find("</script>", match.end())
    scope = html[match.end() : end if end >= 0 else len(html)]
    found: dict[str, Any] = {}
    for key, pattern in _PARAM_RE.items():
        value = pattern.search(scope)
        if value is not None:
            try:
                found[key] = json.loads(f'"{value.group(1)}"')
            except ValueError:
                continue
    return found


def _text(attrs: dict[str, Any], name: str) -> str | None:
    value = attrs.get(name)
    if isinstance(value, list):  # multi-valued attributes come back as lists
        value = " ".join(value)
    if value is None:
        return None
    value = value.strip()
    return value or None


def _origin(url: str) -> str:
    match = re.match(r"^[A-Za-z][A-Za-z0-9+.\-]*://[^/?#]+", url)
    return match.group(0) if match else url.rstrip("/")


def parse_page(html: str, page_url: str) -> ChatTokens:
    """Read the chat tokens from a chat page's HTML.

    Args:
        html: the page as text.
        page_url: where the page came from; used for messages, for the
            default ``data-url`` and to build the default AJAX URL.

    Returns:
        ChatTokens of the shortcode chat box (the floating widget if the page
        has no shortcode box).

    Raises:
        TokensNotFoundError: no chat box, or it lacks ``data-post-id`` or a
            nonce (``data-nonce``, else ``wpaicgParams.search_nonce``). The
            message names what is missing and the page.
    """
    boxes = _chat_boxes_fast(html)
    if not boxes and len(html) <= _FALLBACK_LIMIT and (_SHORTCODE_CLASS in html or _WIDGET_CLASS in html):
        boxes = _chat_boxes_slow(html)
    params = _wpaicg_params(html)
    box = min(boxes, key=_rank) if boxes else {}

    nonce = _text(box, "data-nonce") or (str(params.get("search_nonce") or "").strip() or None)
    post_id = _text(box, "data-post-id")
    missing = tuple(name for name, value in (("data-post-id", post_id), ("data-nonce", nonce)) if not value)
    if missing:
        where = "the chat box" if box else "any wpaicg chat box"
        hint = "is this a wpaicg chat page?"
        if not box and "aipkit" in html.lower():
            hint = "the site runs AI Power 2.x (AIPKit), which removed the legacy chat protocol"
        raise TokensNotFoundError(
            f"no {' or '.join(missing)} attribute found on {where} at {page_url} — {hint}",
            missing=missing,
            url=page_url,
        )
    assert nonce is not None and post_id is not None

    ajax_url = str(params.get("ajax_url") or "").strip() or _origin(page_url) + "/wp-admin/admin-ajax.php"
    memory = _text(box, "data-memory-limit")
    version = _VERSION_RE.search(html)
    return ChatTokens(
        nonce=nonce,
        post_id=post_id,
        url=_text(box, "data-url") or page_url.rstrip("/"),
        ajax_url=ajax_url,
        bot_id=_text(box, "data-bot-id") or "0",
        chat_type=_text(box, "data-type") or ("shortcode" if _SHORTCODE_CLASS in _classes(box) else "widget"),
        stream=_text(box, "data-openai_stream_nav") == "1",
        memory_limit=int(memory) if memory and memory.isdigit() else None,
        plugin_version=version.group(1) if version else None,
        assistant_enabled=_text(box, "data-assistant-enabled") == "true",
        page_url=page_url,
    )

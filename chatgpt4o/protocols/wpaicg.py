"""Plugin 1.x, the legacy shortcode chat (``wpaicg_chat_shortcode_message``). No I/O.

The plugin renders its chat box as a ``<div class="wpaicg-chat-shortcode"
data-nonce=... data-post-id=... data-type="shortcode">`` (the floating widget
uses the class ``wpaicg-chatbox``), and an inline ``var wpaicgParams = {...}``
script with the AJAX URL and the same nonce as ``search_nonce``. A turn is one
POST of the form :func:`build_form` lays out; the answer is JSON or, when the
box streams, an event stream (read by :mod:`._wpaicg_reply`). A stale nonce is
refreshed by reading the page again.

Other plugins' elements that carry ``data-nonce``/``data-post-id`` are
ignored: only a wpaicg chat box counts. Only when the string search finds no
box is the whole page parsed, so that unusual markup still works.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar
from urllib.parse import urlencode

from .. import page
from .._answer import Redact, same
from .._fidelity import encode_history_text, encode_message
from ..exceptions import TokensNotFoundError
from ._ids import new_client_id
from ._wpaicg_reply import (
    DATA_MISSING,
    check_status,
    iter_text,
    read_reply,
    reply_from_payload,
)
from .base import Answer, Request, Site, Turn

__all__ = [
    "ACTION", "DATA_MISSING", "ChatTokens", "build_form", "check_status", "encode_form", "iter_text",
    "new_client_id", "parse_page", "read_page", "read_reply", "refetch_url", "refresh", "refreshed",
    "reply_from_payload", "turn",
]

ACTION = "wpaicg_chat_shortcode_message"
_SHORTCODE_CLASS = "wpaicg-chat-shortcode"
_WIDGET_CLASS = "wpaicg-chatbox"
_PARAMS_RE = re.compile(r"wpaicgParams\s*=\s*(?=\{)")
# Whole-page parsing is the fallback for odd markup; beyond this size it
# costs more than it can be worth.
_FALLBACK_LIMIT = 2 * 1024 * 1024
_WANTED = frozenset({
    "class", "data-nonce", "data-post-id", "data-url", "data-bot-id", "data-type",
    "data-openai_stream_nav", "data-memory-limit", "data-assistant-enabled",
})


@dataclass(frozen=True, kw_only=True)
class ChatTokens(Site):
    """What a 1.x chat page tells a client: the tokens to post and the box's settings."""

    protocol: ClassVar[str] = "wpaicg"

    post_id: str
    url: str
    bot_id: str = "0"
    chat_type: str = "shortcode"
    stream: bool = False
    memory_limit: int | None = None
    assistant_enabled: bool = False

    @property
    def era(self) -> str:
        """A guess at the plugin's protocol era from its version (see :func:`chatgpt4o.page.plugin_era`)."""
        return self.era_name

    @property
    def identity(self) -> str:
        """The ``chatbot_identity`` the page's script sends for this box."""
        if self.bot_id not in ("", "0"):
            return f"custom_bot_{self.bot_id}"
        return self.chat_type

    @cached_property  # read on every turn; the version does not change
    def sanitizes_messages(self) -> bool:
        """Whether the site runs ``sanitize_text_field`` on messages (plugin < 1.8.96).

        Unknown versions count as sanitizing: encoding for it costs little on
        a site that does not.
        """
        version = page.version_tuple(self.plugin_version)
        return version is None or version < (1, 8, 96)


# -- the page ------------------------------------------------------------------


def _is_chat_box(attrs: dict[str, Any]) -> bool:
    classes = page.classes(attrs)
    return _SHORTCODE_CLASS in classes or _WIDGET_CLASS in classes


def _rank(attrs: dict[str, Any]) -> int:
    # The shortcode box is what the site's chat page is about; the floating
    # widget is a fallback.
    if _SHORTCODE_CLASS in page.classes(attrs) or attrs.get("data-type") == "shortcode":
        return 0
    return 1


def _chat_boxes_fast(html: str) -> list[dict[str, Any]]:
    """Chat boxes found by string search; the first shortcode box ends the search."""
    widgets: list[str] = []
    for tag in page.tags_with(html, "data-nonce"):
        if _SHORTCODE_CLASS in tag:
            attrs = page.attrs_of(tag, _WANTED)
            if attrs is not None and _is_chat_box(attrs) and _rank(attrs) == 0:
                return [attrs]
        elif _WIDGET_CLASS in tag:
            widgets.append(tag)
    found = (page.attrs_of(tag, _WANTED) for tag in widgets)
    return [attrs for attrs in found if attrs is not None and _is_chat_box(attrs)]


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
        boxes = [attrs for attrs in page.all_elements(html) if _is_chat_box(attrs)]
    params = _wpaicg_params(html)
    box = min(boxes, key=_rank) if boxes else {}

    nonce = page.attr_text(box, "data-nonce") or (str(params.get("search_nonce") or "").strip() or None)
    post_id = page.attr_text(box, "data-post-id")
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

    ajax_url = str(params.get("ajax_url") or "").strip() or page.origin(page_url) + "/wp-admin/admin-ajax.php"
    memory = page.attr_text(box, "data-memory-limit")
    classes = page.classes(box)
    return ChatTokens(
        nonce=nonce,
        post_id=post_id,
        url=page.attr_text(box, "data-url") or page_url.rstrip("/"),
        ajax_url=ajax_url,
        bot_id=page.attr_text(box, "data-bot-id") or "0",
        chat_type=page.attr_text(box, "data-type") or ("shortcode" if _SHORTCODE_CLASS in classes else "widget"),
        stream=page.attr_text(box, "data-openai_stream_nav") == "1",
        memory_limit=int(memory) if memory and memory.isdigit() else None,
        plugin_version=page.plugin_version(html),
        assistant_enabled=page.attr_text(box, "data-assistant-enabled") == "true",
        page_url=page_url,
    )


read_page = parse_page


# -- the request ---------------------------------------------------------------


def build_form(
    tokens: ChatTokens,
    message: str,
    *,
    client_id: str,
    chat_id: int,
    history: Sequence[Mapping[str, Any]] = (),
) -> list[tuple[str, str]]:
    """Return the chat form's fields, in the order the page's script sends them.

    ``history`` is the conversation so far in the site's own format
    (``[{"id": ..., "text": "Human: ..."}, {"id": ..., "text": "AI: ..."}]``);
    like the page's script, the current turn is appended to it. Trimmed to
    the page's ``data-memory-limit``, items with a true ``"system"`` key stay
    at the front (the key itself is not sent). Texts are
    encoded to survive the server's sanitizing (see :mod:`._fidelity`): the
    message only where the plugin version sanitizes it, the history always.
    """
    items = [*history, {"id": "", "text": f"Human: {message}"}]
    turns = [{"id": item.get("id", ""), "text": encode_history_text(str(item.get("text", "")))} for item in items]
    if tokens.memory_limit:
        # The page's script keeps only the last data-memory-limit items; the
        # server trusts what it gets. Trimmed here, with the tokens actually
        # sent, so a history restored before the page was read obeys it too.
        # Items marked "system" (a conversation's system prompt) stay first.
        pinned = [t for t, item in zip(turns, items, strict=True) if item.get("system")]
        rest = [t for t, item in zip(turns, items, strict=True) if not item.get("system")]
        room = tokens.memory_limit - len(pinned)
        turns = pinned + rest[-room:] if room > 0 else rest[-tokens.memory_limit :]
    if tokens.sanitizes_messages:
        message = encode_message(message)
    return [
        ("_wpnonce", tokens.nonce),
        ("post_id", tokens.post_id),
        ("url", tokens.url),
        ("action", ACTION),
        ("message", message),
        ("bot_id", tokens.bot_id),
        ("chatbot_identity", tokens.identity),
        ("wpaicg_chat_client_id", client_id),
        ("wpaicg_chat_history", json.dumps(turns, ensure_ascii=False, separators=(",", ":"))),
        ("chat_id", str(chat_id)),
    ]


def encode_form(fields: Sequence[tuple[str, str]]) -> bytes:
    """URL-encode ``fields`` as ``application/x-www-form-urlencoded`` bytes."""
    return urlencode(fields).encode("ascii")


def turn(
    site: ChatTokens, message: str, *, client_id: str, history: Sequence[Mapping[str, Any]] = (),
    session_id: str = "", conversation_id: str | None = None, bot_id: int | None = None,
    system: str | None = None,
) -> Turn:
    """One POST of the chat form; its answer is the reply (JSON or an event stream).

    The page has one bot and the history travels with each turn (where a
    conversation also carries its ``system`` prompt), so ``session_id``,
    ``conversation_id``, ``bot_id`` and ``system`` are not used.
    """
    fields = build_form(site, message, client_id=client_id, chat_id=secrets.randbelow(100000) + 1, history=history)
    yield Request("POST", site.ajax_url, fields, {
        "Content-Type": "application/x-www-form-urlencoded; charset=UTF-8",
        "Accept": "application/json, text/event-stream, */*",
        "Origin": page.origin(site.page_url),
        "Referer": site.page_url,
    })


def refresh(site: ChatTokens) -> Request | None:
    """1.x has no nonce endpoint: the page is read again."""
    return None


def refreshed(site: ChatTokens, answer: Answer, redact: Redact = same) -> ChatTokens:
    """Never called for 1.x (:func:`refresh` asks for no request); the site as it was."""
    return site


def refetch_url(site: ChatTokens) -> str | None:
    """The configured page, as it was read the first time."""
    return None

"""Reading an AI Puffer 2.3+ ("AIPKit") chat page. No I/O happens here.

Every chat bot on the page is one element carrying a ``data-config``
attribute: ``div.aipkit_chat_container`` for an inline bot,
``div.aipkit_popup_wrapper`` for a popup (including the site-wide popup the
plugin prints at the end of ``<body>``). The attribute is HTML-escaped JSON
(protocol-aipkit.md §1.2–1.5) with ``botId``, ``ajaxUrl``, ``nonce`` and
``postId``; the nonce is the same for every bot of the page.

As for the 1.x page (:mod:`chatgpt4o.page`), the tags are found by string
search and only those tags are handed to BeautifulSoup, so a 500 KB page
costs one linear scan.

The plugin version comes from ``public-main.bundle.js?ver=``; without it the
configuration's keys bound it (§1.9). The version decides the *era*, i.e.
what the site's chat endpoints do (§8.0, §8.1).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar
from urllib.parse import urljoin, urlsplit

from .. import page
from ..exceptions import InvalidConfigError, MessageTypeError, TokensNotFoundError
from .base import BotInfo, Site

__all__ = [
    "ERAS",
    "AipkitSite",
    "BotInfo",
    "Era",
    "era_for_version",
    "looks_like_aipkit",
    "parse_aipkit_page",
]

_INLINE = "aipkit_chat_container"
_POPUP = "aipkit_popup_wrapper"
_POPUP_CONTENT = "aipkit_popup_content"  # the container inside a popup wrapper
_WANTED = frozenset({"class", "id", "data-config", "data-bot-id"})
# ``ver`` must look like a plugin version: optimisers replace it with a
# timestamp (the recorded page's CSS has ``?ver=1787344627``).
_VERSION_RE = re.compile(
    r"public-main\.bundle\.js\?(?:[^\"'\s<>]*?&(?:amp;|#0?38;)?)?ver=(\d{1,2}\.\d{1,3}(?:\.\d{1,3})?)(?![\d.])"
)
_NONCE_ACTION_RE = re.compile(r"aipkit_getChatNonceAction\s*=")


@dataclass(frozen=True)
class Era:
    """What the chat endpoints of a range of plugin versions do (protocol-aipkit.md §8).

    ``name`` is the first version of the range.
    """

    name: str
    first: tuple[int, ...]
    nonce_refresh: bool  # aipkit_get_frontend_chat_nonce answers (else 400 "0": refetch the page)
    non_stream: bool  # aipkit_frontend_chat_message exists
    non_stream_checks_nonce: bool
    stream_nonce_error: str  # the stream's text for a stale nonce
    preamble: bool | None  # the 4 KiB comment first; None: some versions of the era only


_NONCE_TEXT_OLD = "Security check failed (nonce)."
_NONCE_TEXT = "Security check failed. Please refresh the page and try again."

#: The eras, oldest first.
ERAS: tuple[Era, ...] = (
    Era("2.3", (2, 3), False, True, False, _NONCE_TEXT_OLD, False),
    Era("2.3.20", (2, 3, 20), False, True, True, _NONCE_TEXT, False),
    Era("2.3.41", (2, 3, 41), True, True, True, _NONCE_TEXT, None),  # preamble from 2.3.93
    Era("2.4.1", (2, 4, 1), True, False, True, _NONCE_TEXT, True),
)


def era_for_version(version: str | tuple[int, ...]) -> Era:
    """The :class:`Era` of a plugin version (``"2.4.71"``); versions before 2.3 get the first."""
    v = (page.version_tuple(version) or ()) if isinstance(version, str) else version
    return next((era for era in reversed(ERAS) if v >= era.first), ERAS[0])


@dataclass(frozen=True, kw_only=True)
class AipkitSite(Site):
    """What an AIPKit page tells a client. The nonce is left out of the ``repr``.

    ``plugin_version`` is None when the page does not say; ``era`` is then
    bounded from what the page shows.
    """

    protocol: ClassVar[str] = "aipkit"

    post_id: int
    era: Era
    bots: tuple[BotInfo, ...]

    @property
    def era_name(self) -> str:
        """The first plugin version of the era (``"2.4.1"``...)."""
        return self.era.name

    @cached_property  # read on every turn
    def default_bot(self) -> BotInfo:
        """The first inline bot, else the first popup (the page has at least one bot)."""
        return next((bot for bot in self.bots if bot.mode == "inline"), self.bots[0])

    @cached_property  # read on every turn
    def bot_ids(self) -> tuple[int, ...]:
        """The ids of the bots on the page, in page order."""
        return tuple(bot.id for bot in self.bots)

    @property
    def preamble(self) -> bool | None:
        """Whether the stream starts with the 4 KiB comment (None: cannot tell)."""
        if self.plugin_version is not None:
            return (page.version_tuple(self.plugin_version) or ()) >= (2, 3, 93)
        return self.era.preamble

    def bot(self, bot_id: int) -> BotInfo | None:
        """The bot with this id on the page, or None."""
        return next((bot for bot in self.bots if bot.id == bot_id), None)

    def choose_bot(self, bot_id: int | None = None) -> int:
        """The bot id to chat with: ``bot_id`` (which need not be on this page), else the default.

        Any bot of the site works with the page's nonce (one nonce for all
        bots), so an id not on the page is accepted; the site answers
        "Invalid chatbot specified." if it has no such published bot.

        Raises:
            MessageTypeError: ``bot_id`` is not an int.
            InvalidConfigError: ``bot_id`` is not positive.
        """
        if bot_id is None:
            return self.default_bot.id
        if isinstance(bot_id, bool) or not isinstance(bot_id, int):
            raise MessageTypeError(f"bot_id must be an int, not {type(bot_id).__name__}")
        if bot_id <= 0:
            raise InvalidConfigError(f"bot_id must be a positive integer, got {bot_id}")
        return bot_id


def _candidate_tags(html: str) -> list[tuple[str, str]]:
    """(kind, tag) for every start tag with a data-config naming an AIPKit class, in page order."""
    found: list[tuple[str, str]] = []
    for tag in page.tags_with(html, "data-config"):
        if tag[:4].lower() == "<div":
            if _POPUP in tag:
                found.append(("popup", tag))
            elif _INLINE in tag:
                found.append(("inline", tag))
    return found


def looks_like_aipkit(html: str) -> bool:
    """True when the page carries an AIPKit chat bot (a ``data-config`` on an AIPKit element)."""
    if _INLINE not in html and _POPUP not in html:
        return False
    return bool(_candidate_tags(html))


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    return None


def _configs(html: str) -> list[tuple[str, list[str], dict[str, Any]]]:
    """(mode, classes, decoded config) of every bot element, in page order."""
    out: list[tuple[str, list[str], dict[str, Any]]] = []
    for kind, tag in _candidate_tags(html):
        attrs = page.attrs_of(tag, _WANTED) or {}
        classes = page.classes(attrs)
        wanted = _POPUP if kind == "popup" else _INLINE
        raw = attrs.get("data-config")
        if wanted not in classes or not isinstance(raw, str):
            continue
        if kind == "inline" and _POPUP_CONTENT in classes:
            kind = "popup"  # a popup's inner box (its wrapper normally holds the config)
        try:
            config = json.loads(raw)  # BeautifulSoup already undid the HTML escaping
        except (ValueError, RecursionError):
            continue
        if isinstance(config, dict):
            out.append((kind, classes, config))
    return out


def _bounds(html: str, configs: list[dict[str, Any]]) -> tuple[tuple[int, ...], tuple[int, ...] | None]:
    """A lower and an upper bound of the version from what the page shows (§1.9)."""
    low: tuple[int, ...] = (2, 3)
    high: tuple[int, ...] | None = None
    if _NONCE_ACTION_RE.search(html) or any("popupLabelEnabled" in c for c in configs):
        low = (2, 3, 41)
    if any("enableGoogleConversationState" in c for c in configs):
        low = max(low, (2, 4, 67))
    if any("streamEnabled" in c for c in configs):
        high = (2, 4, 0)
    elif configs:
        # Every 2.3-2.4.0 config carries streamEnabled (the plugin's own key set).
        low = max(low, (2, 4, 1))
    if any("userIp" in c for c in configs):
        high = min(high or (2, 3, 87), (2, 3, 87))
    if configs and low < (2, 3, 41):
        # Neither the popup label keys nor the refresh script: before 2.3.41.
        high = min(high or (2, 3, 40), (2, 3, 40))
    return low, high


def _era_without_version(low: tuple[int, ...], high: tuple[int, ...] | None) -> Era:
    if high is not None and high <= (2, 3, 40):
        # 2.3 and 2.3.20 look alike on the page; the later one is the safer guess
        # (it checks the nonce on every endpoint, which a client sends anyway).
        return era_for_version((2, 3, 20))
    return era_for_version(low)


def parse_aipkit_page(html: str, page_url: str) -> AipkitSite:
    """Read the AIPKit bots, nonce and version from a chat page's HTML.

    Args:
        html: the page as text.
        page_url: where the page came from (for messages and relative URLs).

    Returns:
        An :class:`AipkitSite` with every bot of the page, in page order.

    Raises:
        TokensNotFoundError: no bot element with a usable ``data-config``
            (``missing`` names what lacks: ``data-config``, ``botId``,
            ``ajaxUrl``, ``nonce``).

    Example:
        >>> site = parse_aipkit_page(html, "https://example.com/")  # doctest: +SKIP
        >>> site.default_bot.id, site.era.name                      # doctest: +SKIP
        (5, '2.4.1')
    """
    found = _configs(html)
    bots: list[BotInfo] = []
    first: dict[str, Any] | None = None
    missing: tuple[str, ...] = ("data-config",)
    for kind, _classes, config in found:
        bot_id = _int(config.get("botId"))
        ajax = config.get("ajaxUrl")
        ajax = urljoin(page_url, ajax.strip()) if isinstance(ajax, str) and ajax.strip() else ""
        nonce = config.get("nonce")
        nonce = nonce.strip() if isinstance(nonce, str) else ""
        lacks = tuple(
            name
            for name, ok in (
                ("botId", bot_id is not None and bot_id > 0),
                ("ajaxUrl", urlsplit(ajax).scheme in ("http", "https")),
                ("nonce", bool(nonce)),
            )
            if not ok
        )
        if lacks:
            missing = lacks if missing == ("data-config",) else missing
            continue
        assert bot_id is not None
        if first is None:
            first = {"ajax": ajax, "nonce": nonce, "post_id": max(_int(config.get("postId")) or 0, 0)}
        if any(bot.id == bot_id for bot in bots):
            continue  # the same bot twice (2.3.39 renders duplicates): the first one counts
        name, provider = config.get("headerName"), config.get("provider")
        bots.append(BotInfo(
            id=bot_id,
            name=name if isinstance(name, str) else "",
            mode="popup" if kind == "popup" else "inline",
            provider=provider if isinstance(provider, str) else "",
            stream_enabled=config.get("streamEnabled", True) is not False,
        ))
    if first is None:
        where = "the AIPKit chat bot" if found else "any AIPKit chat bot"
        raise TokensNotFoundError(
            f"no usable {' / '.join(missing)} found on {where} at {page_url} — "
            "is this an AI Puffer 2.3+ (AIPKit) chat page? (bots injected by JavaScript or "
            "only on other pages are not visible; try the page that shows the chat)",
            missing=missing,
            url=page_url,
        )
    match = _VERSION_RE.search(html)
    version = match.group(1) if match else None
    configs = [config for _, _, config in found]
    era = era_for_version(version) if version else _era_without_version(*_bounds(html, configs))
    return AipkitSite(
        page_url=page_url,
        ajax_url=first["ajax"],
        nonce=first["nonce"],
        post_id=first["post_id"],
        plugin_version=version,
        era=era,
        bots=tuple(bots),
    )

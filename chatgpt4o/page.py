"""Reading attributes out of a WordPress page, for both plugin generations. No I/O.

Pages are large (hundreds of KB of theme markup) while a chat box is one tag,
so readers find the tags they want with plain string searches
(:func:`tags_with`) and hand only those tags to BeautifulSoup
(:func:`attrs_of`), which deals with attribute order, quoting, spacing around
``=`` and entities. :func:`all_elements` parses a whole page, the fallback for
unusual markup. Both generations are the same WordPress plugin (slug
``gpt3-ai-content-generator``), so its version and era are read here too.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from typing import Any

__all__ = [
    "all_elements", "attr_text", "attrs_of", "classes", "origin", "plugin_era", "plugin_version", "tags_with",
    "version_tuple",
]

_VERSION_RE = re.compile(r"gpt3-ai-content-generator/[^\"'?\s<>]*\?ver=([0-9][0-9A-Za-z.\-]*)")
_TAG_SPECIAL = re.compile("[>\"']")
_TAG_NAME_RE = re.compile(r"<\s*[A-Za-z][^\s/>]*")
_DIGITS_RE = re.compile(r"\d+")
_ORIGIN_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://[^/?#]+")
# Every attribute of a start tag, so that quoted values are skipped whole.
_ATTR_RE = re.compile(r"""([^\s=/>"']+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'>]+))?""")


def version_tuple(version: str | None) -> tuple[int, ...] | None:
    """``"1.8.96"`` -> ``(1, 8, 96)``; ``None`` when there are no digits."""
    if not version:
        return None
    parts = _DIGITS_RE.findall(version)
    return tuple(int(p) for p in parts[:3]) if parts else None


def plugin_version(html: str) -> str | None:
    """The plugin's version, from the ``?ver=`` of its scripts and styles."""
    match = _VERSION_RE.search(html)
    return match.group(1) if match else None


def plugin_era(version: str | None) -> str:
    """Name the protocol era of a plugin version (protocol.md §0).

    Returns one of ``"unknown"``, ``"1.7"`` (history in cookies), ``"1.8.79"``
    (EventSource streaming, JSON nonce errors), ``"1.8.80"`` (fetch
    streaming), ``"1.8.91"`` (403 HTML nonce errors, POST only),
    ``"1.8.96"`` (messages no longer sanitized) or ``"2.x"`` (legacy chat
    endpoint removed).
    """
    v = version_tuple(version)
    if v is None:
        return "unknown"
    if v >= (2,):
        return "2.x"
    for floor, name in (((1, 8, 96), "1.8.96"), ((1, 8, 91), "1.8.91"), ((1, 8, 80), "1.8.80"), ((1, 8, 79), "1.8.79")):
        if v >= floor:
            return name
    return "1.7"


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


def tags_with(html: str, attribute: str) -> Iterator[str]:
    """The start tags that carry ``attribute``, in page order, as raw markup."""
    pos = html.find(attribute)
    while pos >= 0:
        tag = _tag_around(html, pos)
        if tag is not None:
            yield tag
        pos = html.find(attribute, pos + len(attribute))


def attrs_of(tag: str, wanted: Collection[str]) -> dict[str, Any] | None:
    """Parse the ``wanted`` attributes of one start tag with BeautifulSoup.

    A chat box carries dozens of attributes; only the ones asked for are
    handed to BeautifulSoup (which decodes quoting and entities), which keeps
    the parse to a few dozen microseconds.
    """
    from bs4 import BeautifulSoup

    name_end = _TAG_NAME_RE.match(tag)
    if name_end is None:
        return None
    kept = [
        f"{name}={value}" if value else name
        for name, value in _ATTR_RE.findall(tag, name_end.end(), len(tag) - 1)
        if name.lower() in wanted
    ]
    soup = BeautifulSoup("<div " + " ".join(kept) + ">", "html.parser")
    element = soup.find(True)
    return dict(element.attrs) if element is not None else None


def all_elements(html: str) -> Iterator[dict[str, Any]]:
    """The attributes of every element of a whole page (slow: the fallback)."""
    from bs4 import BeautifulSoup

    for element in BeautifulSoup(html, "html.parser").find_all(True):
        yield dict(element.attrs)


def classes(attrs: dict[str, Any]) -> list[str]:
    """The element's classes, whether BeautifulSoup gave a list or a string."""
    value = attrs.get("class", [])
    return value.split() if isinstance(value, str) else list(value)


def attr_text(attrs: dict[str, Any], name: str) -> str | None:
    """An attribute's value, stripped; ``None`` when absent or blank."""
    value = attrs.get(name)
    if isinstance(value, list):  # multi-valued attributes come back as lists
        value = " ".join(value)
    if value is None:
        return None
    value = value.strip()
    return value or None


def origin(url: str) -> str:
    """``scheme://host[:port]`` of a URL (the URL itself, unslashed, if it has none)."""
    match = _ORIGIN_RE.match(url)
    return match.group(0) if match else url.rstrip("/")

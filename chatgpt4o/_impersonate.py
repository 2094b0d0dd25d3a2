"""Looking like a browser on the wire: ``Client(impersonate="chrome")``.

Bot checks (Cloudflare and others) compare a connection's TLS ClientHello with those of real
browsers; Python's ``ssl`` looks like no browser. With the ``browser`` extra
(``pip install 'chatgpt4o[browser]'``, which installs ``curl_cffi`` and its bundled
libcurl-impersonate), the client's session sends through :class:`chatgpt4o._curl.CurlAdapter`
instead of the pooled urllib3 adapter: TLS and HTTP/2 as the chosen browser sends them, and the
browser's default headers (:func:`browser_headers`).

It solves no challenge: a site that demands a human check still answers with one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .exceptions import InvalidConfigError, MessageTypeError

if TYPE_CHECKING:
    from requests.adapters import BaseAdapter

__all__ = ["FAMILIES", "add_cli_option", "browser_headers", "check_target", "impersonating_adapter"]

#: The browser families accepted by name; versioned names (``"chrome131"``, ``"safari184"``,
#: ``"firefox133"``, ``"edge101"``, ``"chrome131_android"``, ``"safari18_0_ios"``...) are those
#: curl_cffi knows.
FAMILIES: tuple[str, ...] = ("chrome", "edge", "firefox", "safari")

_INSTALL = "pip install 'chatgpt4o[browser]'"
_NAME_RE = re.compile(r"^(chrome|edge|firefox|safari)(\d+[a-z]?(?:_\d+)*)?(_android|_ios)?$")

_ACCEPT_HTML = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
_ACCEPT_CHROME = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,"
    "*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
)


def check_target(target: object) -> str:
    """``target`` if it names a browser this client can impersonate; else a typed error.

    Only the spelling is checked here (no import): curl_cffi's own list is consulted when the
    adapter is built.
    """
    if not isinstance(target, str):
        raise MessageTypeError(f"impersonate must be a browser name such as 'chrome', not {type(target).__name__}")
    if not _NAME_RE.match(target):
        raise InvalidConfigError(
            f"impersonate={target!r} is not a browser this client can impersonate; "
            f"use one of {', '.join(repr(f) for f in FAMILIES)} (or a versioned name such as 'chrome131')"
        )
    return target


def _resolve(target: str) -> str:
    """The curl_cffi target for ``target`` (a family name becomes its newest version)."""
    try:
        from curl_cffi.requests.impersonate import (
            BrowserType,
            resolve_latest_browser_type,
        )
    except ImportError:
        raise InvalidConfigError(
            f"impersonate={target!r} needs the optional browser transport: {_INSTALL}"
        ) from None
    resolved = str(resolve_latest_browser_type(target))  # type: ignore[no-untyped-call]
    known = {member.value for member in BrowserType}
    if resolved not in known:
        family = target[: len(target) - len(target.lstrip("abcdefghijklmnopqrstuvwxyz"))]
        versions = sorted(name for name in known if name.startswith(family))
        raise InvalidConfigError(
            f"impersonate={target!r} is not known to the installed curl_cffi; "
            f"known: {', '.join(versions) or ', '.join(FAMILIES)}"
        )
    return resolved


def impersonating_adapter(target: str, *, pool_maxsize: int = 10) -> BaseAdapter:
    """A requests adapter whose TLS and HTTP/2 look like the browser ``target``.

    Args:
        target: ``"chrome"``, ``"edge"``, ``"firefox"``, ``"safari"`` or a versioned curl_cffi
            name (``"chrome131"``).
        pool_maxsize: transfers kept ready for reuse (each with its kept-alive connections).

    Raises:
        MessageTypeError: ``target`` is not a string.
        InvalidConfigError: the name is unknown, or the ``browser`` extra is not installed (the
            message names ``pip install 'chatgpt4o[browser]'``). Both before any I/O.
    """
    resolved = _resolve(check_target(target))
    try:
        from ._curl import CurlAdapter
    except ImportError:
        raise InvalidConfigError(
            f"impersonate={target!r} needs the optional browser transport: {_INSTALL}"
        ) from None
    return CurlAdapter(resolved, pool_maxsize=pool_maxsize)


def _major(version: str | None, default: str) -> str:
    match = re.match(r"\d+", version or "")
    return match.group(0) if match else default


def _safari_version(digits: str | None) -> str:
    """``"184"`` -> ``"18.4"``, ``"2601"`` -> ``"26.0.1"``, ``"17_0"`` -> ``"17.0"``."""
    if not digits:
        return "26.0.1"
    if "_" in digits:
        return digits.replace("_", ".")
    if len(digits) >= 4:
        return f"{digits[:2]}.{digits[2]}.{digits[3:]}"
    return f"{digits[:-1]}.{digits[-1]}"


def browser_headers(target: str) -> dict[str, str]:
    """The headers ``target``'s browser sends with every request, matching its TLS fingerprint.

    A family name uses the version curl_cffi impersonates for it when installed.
    """
    name = check_target(target)
    try:
        name = _resolve(name)
    except InvalidConfigError:
        pass  # headers need no curl_cffi; the adapter reports the missing extra
    match = _NAME_RE.match(name)
    assert match is not None  # checked above; _resolve only returns curl_cffi's names
    family, version, platform = match.group(1), match.group(2), match.group(3)
    if family in ("chrome", "edge"):
        major = _major(version, "131")
        mobile = platform == "_android"
        system = "Linux; Android 10; K" if mobile else "Windows NT 10.0; Win64; x64"
        user_agent = (
            f"Mozilla/5.0 ({system}) AppleWebKit/537.36 (KHTML, like Gecko) "
            f"Chrome/{major}.0.0.0 {'Mobile ' if mobile else ''}Safari/537.36"
        )
        brand = '"Google Chrome"'
        if family == "edge":
            user_agent += f" Edg/{major}.0.0.0"
            brand = '"Microsoft Edge"'
        return {
            "sec-ch-ua": f'"Chromium";v="{major}", {brand};v="{major}", "Not_A Brand";v="99"',
            "sec-ch-ua-mobile": "?1" if mobile else "?0",
            "sec-ch-ua-platform": '"Android"' if mobile else '"Windows"',
            "Upgrade-Insecure-Requests": "1",
            "User-Agent": user_agent,
            "Accept": _ACCEPT_CHROME,
            "Accept-Encoding": "gzip, deflate, br, zstd",
            "Accept-Language": "en-US,en;q=0.9",
        }
    if family == "firefox":
        major = _major(version, "133")
        return {
            "User-Agent": f"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{major}.0) Gecko/20100101 Firefox/{major}.0",
            "Accept": _ACCEPT_HTML,
            "Accept-Language": "en-US,en;q=0.5",
            "Accept-Encoding": "gzip, deflate, br, zstd",
            "Upgrade-Insecure-Requests": "1",
        }
    release = _safari_version(version)
    if platform == "_ios":
        user_agent = (
            f"Mozilla/5.0 (iPhone; CPU iPhone OS {release.replace('.', '_')} like Mac OS X) "
            f"AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{release} Mobile/15E148 Safari/604.1"
        )
    else:
        user_agent = (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
            f"(KHTML, like Gecko) Version/{release} Safari/605.1.15"
        )
    return {
        "User-Agent": user_agent,
        "Accept": _ACCEPT_HTML,
        "Accept-Language": "en-US,en;q=0.9",
        "Accept-Encoding": "gzip, deflate, br",
    }


def add_cli_option(add: Callable[..., Any]) -> None:
    """Add ``--impersonate BROWSER`` through the CLI's ``add(*flags, **settings)``."""
    add("--impersonate", default=None, metavar="BROWSER",
        help="send with this browser's TLS fingerprint and headers: chrome, firefox, safari, edge "
        "(needs pip install 'chatgpt4o[browser]'); solves no challenge")

"""The plugin generations this client speaks, and which one a page speaks.

``wpaicg`` is plugin 1.x (the legacy shortcode chat, :mod:`.wpaicg`);
``aipkit`` is 2.x (AIPKit / AI Puffer, with its own module beside it). Each is
a module of pure functions behind the interface :mod:`.base` describes; this
module is the one place that maps a name or a page to one of them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Literal

from ..exceptions import InvalidConfigError, MessageTypeError

if TYPE_CHECKING:
    from .base import Generation

__all__ = ["NAMES", "check_bot_id", "check_protocol", "choose", "detect", "for_name"]

Name = Literal["wpaicg", "aipkit"]
NAMES: tuple[Name, ...] = ("wpaicg", "aipkit")

# Each generation's module is imported on first use (the page's arrival, or a
# named protocol's first turn), so a client starts without either.
_MODULES: dict[str, str] = {"wpaicg": f"{__name__}.wpaicg", "aipkit": f"{__name__}.aipkit"}

# Markers of the 1.x chat markup (protocol.md §1).
_WPAICG_MARKERS = ("wpaicg-chat-shortcode", "wpaicg-chatbox", "wpaicgParams")
# The classes of the 2.x bot elements (aipkit_page); a page with neither is not 2.x.
_AIPKIT_MARKERS = ("aipkit_chat_container", "aipkit_popup_wrapper")


def detect(html: str) -> Name | None:
    """Which generation's chat box a page holds: ``"wpaicg"``, ``"aipkit"``, or ``None``.

    A 1.x box (its classes or ``wpaicgParams``) means 1.x, even beside 2.x
    assets (a page cached before the upgrade still posts to the old action
    only if it has the old box). Otherwise an AIPKit ``data-config`` on an
    inline container or a popup wrapper (protocol-aipkit.md §1.2–1.3) means 2.x.
    """
    if any(marker in html for marker in _WPAICG_MARKERS):
        return "wpaicg"
    if any(marker in html for marker in _AIPKIT_MARKERS):
        from .aipkit_page import looks_like_aipkit

        if looks_like_aipkit(html):
            return "aipkit"
    return None


def for_name(name: str) -> Generation:
    """The protocol module called ``name``.

    Raises:
        InvalidConfigError: an unknown name, or a generation this build lacks.
    """
    _check_name(name)
    module: Generation = importlib.import_module(_MODULES[name])
    return module


def _check_name(name: str) -> None:
    if name not in _MODULES:
        known = ", ".join(sorted(_MODULES))
        raise InvalidConfigError(f"protocol must be 'auto' or one of: {known}; not {name!r}")


def choose(setting: str, html: str) -> Generation:
    """The generation to speak to a page: ``setting`` unless it is ``"auto"``, then :func:`detect`.

    A page that shows neither generation goes to 1.x, whose reader names what
    is missing (and says so when the page looks like 2.x).
    """
    if setting == "auto":
        found = detect(html)
        setting = found if found is not None and found in _MODULES else "wpaicg"
    return for_name(setting)


def check_protocol(setting: object) -> str:
    """``setting`` if it is ``"auto"`` or a generation's name (checked before any I/O).

    Raises:
        MessageTypeError: not a str.
        InvalidConfigError: an unknown name.
    """
    if not isinstance(setting, str):
        raise MessageTypeError(f"protocol must be a str, not {type(setting).__name__}")
    if setting != "auto":
        _check_name(setting)
    return setting


def check_bot_id(bot_id: object) -> int | None:
    """``bot_id`` if it is ``None`` or a positive int (checked before any I/O).

    Raises:
        MessageTypeError: not an int.
        InvalidConfigError: zero or negative.
    """
    if bot_id is None:
        return None
    if isinstance(bot_id, bool) or not isinstance(bot_id, int):
        raise MessageTypeError(f"bot_id must be an int, not {type(bot_id).__name__}")
    if bot_id <= 0:
        raise InvalidConfigError(f"bot_id must be a positive integer (a bot's id on the site), not {bot_id}")
    return bot_id

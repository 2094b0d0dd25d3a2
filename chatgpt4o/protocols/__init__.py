"""The plugin generations this client speaks, and which one a page speaks.

``wpaicg`` is plugin 1.x (the legacy shortcode chat, :mod:`.wpaicg`);
``aipkit`` is 2.x (AIPKit / AI Puffer, with its own module beside it). Each is
a module of pure functions behind the interface :mod:`.base` describes; this
module is the one place that maps a name or a page to one of them.
"""

from __future__ import annotations

from typing import Literal

from ..exceptions import InvalidConfigError
from . import wpaicg
from .base import Generation

__all__ = ["NAMES", "choose", "detect", "for_name"]

Name = Literal["wpaicg", "aipkit"]
NAMES: tuple[Name, ...] = ("wpaicg", "aipkit")

_MODULES: dict[str, Generation] = {"wpaicg": wpaicg}

# Markers of each generation's chat markup (protocol.md §1, protocol-aipkit.md §1.2–1.3).
_WPAICG_MARKERS = ("wpaicg-chat-shortcode", "wpaicg-chatbox", "wpaicgParams")
_AIPKIT_MARKERS = ("aipkit_chat_container", "aipkit_popup_wrapper")


def detect(html: str) -> Name | None:
    """Which generation's chat box a page holds: ``"wpaicg"``, ``"aipkit"``, or ``None``.

    A page with a 1.x box speaks 1.x even if it also loads 2.x assets.
    """
    if any(marker in html for marker in _WPAICG_MARKERS):
        return "wpaicg"
    if any(marker in html for marker in _AIPKIT_MARKERS):
        return "aipkit"
    return None


def for_name(name: str) -> Generation:
    """The protocol module called ``name``.

    Raises:
        InvalidConfigError: an unknown name, or a generation this build lacks.
    """
    module = _MODULES.get(name)
    if module is None:
        known = ", ".join(sorted(_MODULES))
        raise InvalidConfigError(f"protocol must be 'auto' or one of: {known}; not {name!r}")
    return module


def choose(setting: str, html: str) -> Generation:
    """The generation to speak to a page: ``setting`` unless it is ``"auto"``, then :func:`detect`.

    A page that shows neither generation goes to 1.x, whose reader names what
    is missing (and says so when the page looks like 2.x).
    """
    if setting == "auto":
        found = detect(html)
        setting = found if found is not None and found in _MODULES else "wpaicg"
    return for_name(setting)

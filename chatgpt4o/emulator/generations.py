"""The plugin generations: which module serves an era, and what such a module provides."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from . import aipkit, wpaicg
from .aipkit_era import is_aipkit
from .core import Request, Response

if TYPE_CHECKING:
    from .handler import ActionFn, Handler

__all__ = ["Generation", "generation"]


class Generation(Protocol):
    """What a plugin generation module provides (:mod:`.wpaicg`, :mod:`.aipkit`)."""

    @property
    def ACTIONS(self) -> Mapping[str, ActionFn]:
        """admin-ajax action name -> handler."""

    def nonce_failure(self, h: Handler, req: Request, /) -> Response:
        """The answer to a stale nonce on ``req``."""

    def page(self, h: Handler, req: Request, /) -> Response:
        """The chat page."""

    @property
    def STEPS(self) -> Mapping[str, str]:
        """admin-ajax action -> fault target of its step."""

    @property
    def COUNTERS(self) -> Mapping[str, str]:
        """admin-ajax action -> counter name."""


def generation(era: str) -> Generation:
    """The module of the plugin generation serving ``era``."""
    return aipkit if is_aipkit(era) else wpaicg

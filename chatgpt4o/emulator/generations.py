"""The plugin generations: which module serves an era, what such a module provides, and
admin-ajax's dispatch to the action handlers the era registered."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from . import aipkit, wpaicg
from .aipkit_era import is_aipkit
from .core import Request, Response, zero_400
from .interfaces import ActionFn, Connection
from .scenarios import endpoint_removed

__all__ = ["Generation", "ajax", "generation"]


class Generation(Protocol):
    """What a plugin generation module provides (:mod:`.wpaicg`, :mod:`.aipkit`)."""

    @property
    def ACTIONS(self) -> Mapping[str, ActionFn]:
        """admin-ajax action name -> handler."""

    def nonce_failure(self, h: Connection, req: Request, /) -> Response:
        """The answer to a stale nonce on ``req``."""

    def page(self, h: Connection, req: Request, /) -> Response:
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


def ajax(h: Connection, req: Request) -> Response:
    """admin-ajax: the handler the era registered for ``action``, else ``0``/400."""
    action = req.request.get("action", "")
    era = h.emulator.config.era
    gen = generation(era)
    handler = gen.ACTIONS.get(action) if gen is aipkit or not endpoint_removed(era) else None
    if handler is None or req.method not in ("GET", "POST"):
        # an action nobody registered gets admin-ajax's full headers; a missing one fewer
        return zero_400(full_headers=bool(action) and gen is aipkit)
    return handler(h, req)

"""Pytest fixtures that run the site emulator on 127.0.0.1.

Loading: installing the package registers this module as the ``chatgpt4o_emulator`` pytest11
entry point, so the fixtures are available everywhere. Without the installed entry point, add
to a ``conftest.py``::

    pytest_plugins = ["chatgpt4o.emulator.pytest_plugin"]

Fixtures, by plugin generation (each default can be overridden with ``era=``):

- ``aipkit_emulator`` / ``aipkit_emulator_factory``: the current plugin, AI Puffer's AIPKit chat,
  era :data:`~chatgpt4o.emulator.DEFAULT_ERA` (``"2.4.71"``), like ``Emulator()``.
- ``wpaicg_emulator`` / ``wpaicg_emulator_factory``: the legacy 1.x shortcode chat, era
  :data:`~chatgpt4o.emulator.LEGACY_ERA` (``"1.8.96"``). These fixtures are named after the 1.x
  plugin, so they keep serving it: tests written against them before 2.x existed still talk to
  the site they were written for.

``*_emulator`` is a fresh running :class:`~chatgpt4o.emulator.Emulator` for one test (change the
scenario with ``.configure(...)``); ``*_emulator_factory`` is ``make(**overrides) -> Emulator``
starting emulators with any :class:`~chatgpt4o.emulator.EmulatorConfig` fields, all stopped
after the test.

Example::

    def test_retries_on_503(aipkit_emulator):
        aipkit_emulator.configure(fault="503", fault_count=1, fault_target="cache")
        ...
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .scenarios import DEFAULT_ERA, LEGACY_ERA
from .server import Emulator

__all__ = ["aipkit_emulator", "aipkit_emulator_factory", "wpaicg_emulator", "wpaicg_emulator_factory"]


def _factory(default_era: str) -> Iterator[Callable[..., Emulator]]:
    started: list[Emulator] = []

    def make(**overrides: Any) -> Emulator:
        overrides.setdefault("era", default_era)
        emulator = Emulator(**overrides).start()
        started.append(emulator)
        return emulator

    yield make
    for emulator in reversed(started):
        emulator.stop()


# The factories first, then the single emulators: each is its factory called once.


@pytest.fixture
def wpaicg_emulator_factory() -> Iterator[Callable[..., Emulator]]:
    """A factory ``make(**overrides)`` of started 1.x emulators (era 1.8.96 unless given)."""
    yield from _factory(LEGACY_ERA)


@pytest.fixture
def aipkit_emulator_factory() -> Iterator[Callable[..., Emulator]]:
    """A factory ``make(**overrides)`` of started 2.x emulators (era 2.4.71 unless given)."""
    yield from _factory(DEFAULT_ERA)


@pytest.fixture
def wpaicg_emulator(wpaicg_emulator_factory: Callable[..., Emulator]) -> Emulator:
    """A running 1.x emulator with the default scenario (era 1.8.96, JSON answers)."""
    return wpaicg_emulator_factory()


@pytest.fixture
def aipkit_emulator(aipkit_emulator_factory: Callable[..., Emulator]) -> Emulator:
    """A running AIPKit emulator with the default scenario (era 2.4.71, one inline bot)."""
    return aipkit_emulator_factory()

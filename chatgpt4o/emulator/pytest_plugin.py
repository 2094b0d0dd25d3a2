"""Pytest fixtures that run the wpaicg site emulator on 127.0.0.1.

Loading: installing the package registers this module as the ``chatgpt4o_emulator`` pytest11
entry point, so the fixtures are available everywhere. Without the installed entry point, add
to a ``conftest.py``::

    pytest_plugins = ["chatgpt4o.emulator.pytest_plugin"]

Fixtures:

- ``wpaicg_emulator``: a fresh running :class:`~chatgpt4o.emulator.Emulator` with the default
  scenario for one test; change the scenario with ``wpaicg_emulator.configure(...)``.
- ``wpaicg_emulator_factory``: ``make(**overrides) -> Emulator`` starting emulators with any
  :class:`~chatgpt4o.emulator.EmulatorConfig` fields; all of them are stopped after the test.

Example::

    def test_retries_on_503(wpaicg_emulator):
        wpaicg_emulator.configure(fault="503", fault_count=1)
        ...
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .server import Emulator

__all__ = ["wpaicg_emulator", "wpaicg_emulator_factory"]


@pytest.fixture
def wpaicg_emulator_factory() -> Iterator[Callable[..., Emulator]]:
    """A factory ``make(**overrides)`` of started emulators, stopped at teardown."""
    started: list[Emulator] = []

    def make(**overrides: Any) -> Emulator:
        emulator = Emulator(**overrides).start()
        started.append(emulator)
        return emulator

    yield make
    for emulator in reversed(started):
        emulator.stop()


@pytest.fixture
def wpaicg_emulator() -> Iterator[Emulator]:
    """A running emulator with the default scenario (era 1.8.96, JSON answers)."""
    with Emulator() as emulator:
        yield emulator

"""Model names, aliases and resolution."""

from __future__ import annotations

import pytest

from chatgpt4o import DEFAULT_MODEL, MODEL_ALIASES, MODELS
from chatgpt4o.exceptions import MessageTypeError, UnknownModelError
from chatgpt4o.models import resolve_model


def test_default_and_alias() -> None:
    assert DEFAULT_MODEL == "gpt-4o-mini-2024-07-18"
    assert DEFAULT_MODEL in MODELS
    assert MODEL_ALIASES["gpt-4o-mini"] == DEFAULT_MODEL
    assert resolve_model("gpt-4o-mini") == DEFAULT_MODEL
    assert resolve_model(None) == DEFAULT_MODEL
    assert resolve_model(DEFAULT_MODEL) == DEFAULT_MODEL


def test_unknown_model_lists_the_known_ones() -> None:
    with pytest.raises(UnknownModelError) as info:
        resolve_model("gpt-5")
    assert isinstance(info.value, ValueError)
    assert "gpt-4o-mini" in str(info.value) and DEFAULT_MODEL in str(info.value)


def test_model_must_be_a_string() -> None:
    with pytest.raises(MessageTypeError):
        resolve_model(4)  # type: ignore[arg-type]

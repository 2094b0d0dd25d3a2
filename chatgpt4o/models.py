"""Model names the chat sites advertise, and how a requested name is resolved.

The wpaicg plugin chooses the model on the server, from the site's own
settings: no request field selects it. These names document what
chatgpt4o.one advertised and keep code written for the provider facade
working; resolving a name validates it, and nothing more is sent.
"""

from __future__ import annotations

from .exceptions import MessageTypeError, UnknownModelError

__all__ = ["DEFAULT_MODEL", "MODELS", "MODEL_ALIASES", "resolve_model"]

DEFAULT_MODEL = "gpt-4o-mini-2024-07-18"

MODELS: tuple[str, ...] = (DEFAULT_MODEL,)

MODEL_ALIASES: dict[str, str] = {"gpt-4o-mini": DEFAULT_MODEL}


def resolve_model(model: str | None) -> str:
    """Return the canonical model name for ``model`` (``None`` or ``""`` → default).

    Raises:
        MessageTypeError: ``model`` is not a string.
        UnknownModelError: the name is neither a model nor an alias; the
            message lists the known names.
    """
    if model is None or model == "":
        return DEFAULT_MODEL
    if not isinstance(model, str):
        raise MessageTypeError(f"model must be a str, not {type(model).__name__}")
    if model in MODELS:
        return model
    try:
        return MODEL_ALIASES[model]
    except KeyError:
        known = ", ".join(sorted(set(MODELS) | set(MODEL_ALIASES)))
        raise UnknownModelError(
            f"unknown model {model!r}; known models: {known} "
            "(the site picks its model server-side, so only these names are accepted)"
        ) from None

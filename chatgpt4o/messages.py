"""Validating chat messages and laying them out as the one prompt the site takes.

The wpaicg chat form carries a single ``message`` field, so a list of
messages is flattened by :func:`format_prompt` in the documented layout:

* one message → its content, verbatim;
* several → one ``Role: content`` line per message (role capitalised),
  joined by newlines, then a final ``Assistant:`` line for the model to
  continue.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .exceptions import InvalidMessagesError, MessageTypeError

__all__ = ["MAX_PROMPT_BYTES", "ROLES", "Message", "Messages", "format_prompt", "normalize_messages"]

#: Roles a message may have.
ROLES = ("system", "user", "assistant")

#: Largest prompt accepted, in UTF-8 bytes. PHP drops a request body over its
#: ``post_max_size`` (8 MB by default) whole; a form-encoded prompt may triple
#: in size, so 2 MiB stays clear of that with room to spare.
MAX_PROMPT_BYTES = 2 * 1024 * 1024

Message = dict[str, str]
Messages = str | Sequence[Mapping[str, Any]]


def normalize_messages(messages: Messages) -> list[Message]:
    """Check ``messages`` and return them as a new list of ``{"role", "content"}`` dicts.

    A plain string stands for one user message. Extra keys in a message are
    ignored. Nothing is sent anywhere.

    Raises:
        MessageTypeError: ``messages`` is not a string or a sequence of
            mappings, or a role/content is not a string.
        InvalidMessagesError: the list is empty, a role is unknown, a
            content holds a NUL byte, or the prompt is empty or too large.
    """
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    elif isinstance(messages, (bytes, bytearray, Mapping)) or not isinstance(messages, Sequence):
        raise MessageTypeError(
            "messages must be a str or a list of {'role': ..., 'content': ...} dicts, "
            f"not {type(messages).__name__}"
        )
    if not messages:
        raise InvalidMessagesError("messages is empty: give at least one message")
    out: list[Message] = []
    for index, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise MessageTypeError(
                f"messages[{index}] must be a dict with 'role' and 'content', "
                f"not {type(message).__name__}"
            )
        for key in ("role", "content"):
            if key not in message:
                raise InvalidMessagesError(f"messages[{index}] has no {key!r} key")
        role, content = message["role"], message["content"]
        if not isinstance(role, str):
            raise MessageTypeError(f"messages[{index}]['role'] must be a str, not {type(role).__name__}")
        if role not in ROLES:
            raise InvalidMessagesError(
                f"messages[{index}] has unknown role {role!r}; use one of {', '.join(ROLES)}"
            )
        if not isinstance(content, str):
            raise MessageTypeError(
                f"messages[{index}]['content'] must be a str, not {type(content).__name__} "
                "(images, files and content parts are not supported by the site)"
            )
        if "\x00" in content:
            raise InvalidMessagesError(f"messages[{index}]['content'] contains a NUL byte")
        out.append({"role": role, "content": content})
    return out


def format_prompt(messages: Messages) -> str:
    """Lay ``messages`` out as the single prompt the site's form takes.

    Example::

        >>> format_prompt("Hi")
        'Hi'
        >>> format_prompt([{"role": "system", "content": "Be brief."},
        ...                {"role": "user", "content": "Hi"}])
        'System: Be brief.\\nUser: Hi\\nAssistant:'

    Raises:
        MessageTypeError, InvalidMessagesError: as :func:`normalize_messages`,
        and when the prompt is blank or over :data:`MAX_PROMPT_BYTES`.
    """
    items = normalize_messages(messages)
    if len(items) == 1:
        prompt = items[0]["content"]
    else:
        lines = [f"{m['role'].capitalize()}: {m['content']}" for m in items]
        prompt = "\n".join(lines) + "\nAssistant:"
    check_prompt(prompt)
    return prompt


def check_prompt(prompt: str) -> None:
    """Refuse a blank prompt or one larger than :data:`MAX_PROMPT_BYTES`."""
    if not prompt.strip():
        raise InvalidMessagesError("the prompt is empty: the site would answer 'nothing was inputted'")
    try:
        size = len(prompt.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidMessagesError("the prompt contains a lone surrogate, which is not valid text") from None
    if size > MAX_PROMPT_BYTES:
        raise InvalidMessagesError(
            f"the prompt is {size} bytes, over the {MAX_PROMPT_BYTES} byte limit; "
            "the site drops request bodies that large"
        )


def checked_prompt(messages: Messages, model: str | None, kwargs: Mapping[str, Any], timeout: float | None) -> str:
    """The prompt of one ask, every argument checked before any I/O (``kwargs``: the unknown ones)."""
    from ._config import check_timeout
    from .models import resolve_model

    if timeout is not None:
        check_timeout(timeout)
    if kwargs:
        raise MessageTypeError(
            f"unexpected keyword argument(s): {', '.join(sorted(kwargs))} (accepted: messages, model, timeout)"
        )
    resolve_model(model)
    return format_prompt(messages)

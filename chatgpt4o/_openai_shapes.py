"""OpenAI's HTTP shapes, read and written by the gateway: pure functions, no I/O.

What a chat-completions request may hold, and what the gateway does with it:

* ``messages`` (required): a non-empty list of ``{"role", "content"}`` objects. ``content`` is a
  string or a list of text parts (``{"type": "text", "text": ...}``), joined by newlines; other
  part types (images, audio, files) are refused, because the site takes text only. The role
  ``developer`` is read as ``system``; extra keys of a message (``name``...) are ignored.
* ``model``: a model name or alias of :mod:`chatgpt4o.models`, or ``bot-<id>`` for one of the
  site's bots. Absent or ``null`` means the default model.
* ``stream``: ``true`` for server-sent events; ``n`` must be 1 when given.
* Anything else (``temperature``, ``top_p``, ``max_tokens``, ``stop``, ``tools``, ``user``,
  ``stream_options``, unknown keys...) is accepted and ignored, like most OpenAI-compatible
  servers do: the site picks its own settings and no request field reaches them.

Every refusal is a :class:`~chatgpt4o._gateway_errors.GatewayError` (HTTP 400) naming the
``param`` at fault.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._gateway_errors import bad_request

__all__ = [
    "ChatRequest",
    "chunk_events",
    "completion",
    "completion_chunk",
    "json_bytes",
    "model_object",
    "models_list",
    "parse_chat_request",
    "sse_event",
]

# One encoder for every answer: json.dumps with keywords would build a new one per call.
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}


@dataclass(frozen=True)
class ChatRequest:
    """A chat-completions request, checked: messages as the client takes them."""

    messages: list[dict[str, str]]
    model: str | None
    stream: bool


def _content(value: object, index: int) -> str:
    param = f"messages[{index}].content"
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        texts: list[str] = []
        for number, part in enumerate(value):
            where = f"{param}[{number}]"
            if not isinstance(part, dict):
                raise bad_request(f"{where} must be an object, not {_kind(part)}", where, "invalid_type")
            kind = part.get("type")
            if kind != "text":
                raise bad_request(
                    f"{where} has type {kind!r}: only text parts are supported (the site takes text only)",
                    where, "unsupported_content_type",
                )
            text = part.get("text")
            if not isinstance(text, str):
                raise bad_request(f"{where}.text must be a string, not {_kind(text)}", where, "invalid_type")
            texts.append(text)
        return "\n".join(texts)
    raise bad_request(
        f"{param} must be a string or a list of text parts, not {_kind(value)}", param, "invalid_type"
    )


def _kind(value: object) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "an array",
            dict: "an object"}.get(type(value), type(value).__name__)


def parse_chat_request(body: bytes) -> ChatRequest:
    """Read and check a ``POST /v1/chat/completions`` body.

    Raises:
        GatewayError: HTTP 400 for a body that is not a JSON object or a field of the wrong
            type or value (the error names the field in ``param``).
    """
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise bad_request(f"the request body is not valid JSON ({error})", None, "invalid_json") from None
    if not isinstance(data, dict):
        raise bad_request(f"the request body must be a JSON object, not {_kind(data)}", None, "invalid_type")
    if "messages" not in data:
        raise bad_request("missing required parameter: 'messages'", "messages", "missing_required_parameter")
    raw = data["messages"]
    if not isinstance(raw, list):
        raise bad_request(f"messages must be an array, not {_kind(raw)}", "messages", "invalid_type")
    if not raw:
        raise bad_request("messages must not be empty: give at least one message", "messages", "empty_array")
    messages: list[dict[str, str]] = []
    for index, message in enumerate(raw):
        if not isinstance(message, dict):
            raise bad_request(f"messages[{index}] must be an object, not {_kind(message)}",
                              f"messages[{index}]", "invalid_type")
        role = message.get("role")
        if not isinstance(role, str) or role not in _ROLES:
            raise bad_request(
                f"messages[{index}].role must be one of {', '.join(_ROLES)}, not {role!r}",
                f"messages[{index}].role", "invalid_value",
            )
        messages.append({"role": _ROLES[role], "content": _content(message.get("content"), index)})
    model = data.get("model")
    if model is not None and not isinstance(model, str):
        raise bad_request(f"model must be a string, not {_kind(model)}", "model", "invalid_type")
    stream = data.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise bad_request(f"stream must be a boolean, not {_kind(stream)}", "stream", "invalid_type")
    n = data.get("n")
    if n is not None and (isinstance(n, bool) or n != 1):
        raise bad_request(f"n must be 1, not {n!r}: the site gives one answer per request", "n", "invalid_value")
    return ChatRequest(messages, model or None, bool(stream))


def completion(ident: str, created: int, model: str, text: str) -> dict[str, Any]:
    """A ``chat.completion`` object with one choice. ``usage`` is left out: the site does not
    report token counts, and zeros would be a made-up figure."""
    return {
        "id": ident,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": text, "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }],
    }


def completion_chunk(
    ident: str, created: int, model: str, delta: dict[str, str], finish_reason: str | None = None,
) -> dict[str, Any]:
    """One ``chat.completion.chunk`` of a stream."""
    return {
        "id": ident,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }


def sse_event(data: dict[str, Any] | str) -> bytes:
    """One server-sent event: ``data: <json>`` and a blank line (a string is sent as is)."""
    text = data if isinstance(data, str) else _encode(data)
    return b"data: " + text.encode("utf-8") + b"\n\n"


def model_object(model_id: str, created: int, owned_by: str) -> dict[str, Any]:
    """One entry of ``GET /v1/models``."""
    return {"id": model_id, "object": "model", "created": created, "owned_by": owned_by}


def models_list(models: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``GET /v1/models`` answer."""
    return {"object": "list", "data": models}


def json_bytes(doc: dict[str, Any]) -> bytes:
    """A JSON answer's body."""
    return _encode(doc).encode("utf-8")


def chunk_events(ident: str, created: int, model: str) -> Callable[[dict[str, str], str | None], bytes]:
    """A maker of one stream's events: ``make(delta, finish_reason)`` is
    ``sse_event(completion_chunk(ident, created, model, delta, finish_reason))``, with the
    parts every chunk of the stream shares encoded once."""
    head = _encode({"id": ident, "object": "chat.completion.chunk", "created": created, "model": model})
    prefix = ("data: " + head[:-1] + ',"choices":[{"index":0,"delta":').encode("utf-8")
    middle = b',"logprobs":null,"finish_reason":'

    def make(delta: dict[str, str], finish_reason: str | None = None) -> bytes:
        return b"".join((prefix, _encode(delta).encode("utf-8"), middle,
                         _encode(finish_reason).encode("utf-8"), b"}]}\n\n"))

    return make

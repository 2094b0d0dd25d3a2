"""The AIPKit event stream (``aipkit_frontend_chat_stream``): records, headers, a turn's events.

Wire shape (protocol-aipkit.md §4, fixtures ``*-b-stream*.http``): always HTTP 200 with the
headers below; from 2.3.93 a comment of 4096 spaces first; then ``[event: NAME\\n][id: ID\\n]
data: JSON\\n\\n`` records with ``json_encode(..., JSON_UNESCAPED_UNICODE)`` data (``\\/``, raw
UTF-8), where only ``error`` and ``warning`` carry ``id: err-<unix time>``.

A successful OpenAI (Responses API) turn at 2.4.71 is ``message_start``, two ``status``
records, the deltas (the first is ``"echo: "`` with the default reply; then one word with its
trailing space each), ``openai_response_id``, ``done``. Errors before ``message_start`` end with
``done``; provider errors after it do not (§4.4).
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable, Iterator

from .aipkit_era import AipkitEra
from .core import Response, nocache_headers, words
from .interfaces import Site

__all__ = ["PREAMBLE", "Turn", "error_stream", "headers", "message_id", "record", "turn_stream"]

PREAMBLE = ":" + " " * 4096 + "\n\n"
_UNKNOWN_API_ERROR = "An unknown API error occurred."
_MIDSTREAM_ERROR = "The server had an error while processing your request. Sorry about that!"


def headers(era: AipkitEra) -> list[tuple[str, str]]:
    """The stream's headers, in the recorded order (framing goes before Content-Type)."""
    cache = "no-cache, no-store, must-revalidate, max-age=0" + (", no-transform" if era.preamble else "")
    return [
        *nocache_headers(cache),
        ("Pragma", "no-cache"),
        ("X-Accel-Buffering", "no"),
        ("Connection", "keep-alive"),
        ("Content-Type", "text/event-stream; charset=utf-8"),
    ]


def _json(value: object) -> str:
    # json_encode with JSON_UNESCAPED_UNICODE: raw UTF-8, "\/", U+2028/9 still escaped
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.replace("/", "\\/").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def record(data: object, event: str | None = None, now: float | None = None) -> str:
    """One SSE record; ``now`` adds ``id: err-<int(now)>`` (error and warning records)."""
    head = f"event: {event}\n" if event else ""
    if now is not None:
        head += f"id: err-{int(now)}\n"
    return f"{head}data: {_json(data)}\n\n"


def message_id(now: float) -> str:
    """``'aipkit-msg-' . uniqid('', true)``: 13 hex digits of time, then entropy with a dot."""
    sec = int(now)
    usec = int((now - sec) * 1_000_000)
    entropy = f"{int.from_bytes(os.urandom(4), 'big') % 10}.{int.from_bytes(os.urandom(4), 'big') % 10**8:08d}"
    return f"aipkit-msg-{sec:08x}{usec:05x}{entropy}"


def error_stream(emu: Site, era: AipkitEra, text: str, extra: dict[str, object] | None = None) -> Response:
    """An error before ``message_start``: ``error`` (with its id), then ``done``."""
    data: dict[str, object] = {"error": text, **(extra or {})}
    body = (PREAMBLE if era.preamble else "") + record(data, "error", emu.clock()) + record({"finished": True}, "done")
    return Response(200, headers(era), stream=iter([body.encode("utf-8")]), chunked=True, outcome="error")


class Turn:
    """What a successful stream needs: the reply and what to do when it went out (or failed)."""

    def __init__(self, reply: str, on_success: Callable[[str, str, str], None],
                 on_error: Callable[[str], None], upstream_error: str | None, openai: bool) -> None:
        self.reply = reply
        self.on_success = on_success  # (reply, message id, response id)
        self.on_error = on_error  # ("Error: ..." text stored as the bot's message)
        self.upstream_error = upstream_error
        self.openai = openai


def turn_stream(emu: Site, era: AipkitEra, turn: Turn, variant: str = "normal") -> Response:
    """The events of one turn after validation; ``variant`` ``no_done``/``provider_error`` are faults."""
    latency = emu.config.latency
    msg_id = message_id(emu.clock())
    response_id = "resp_" + secrets.token_hex(24)
    pieces = words(turn.reply)
    pause = latency / (len(pieces) + 1)  # before each piece and before done: latency in all

    def produce() -> Iterator[bytes]:
        out = [PREAMBLE] if era.preamble else []
        out.append(record({"message_id": msg_id}, "message_start"))
        if turn.upstream_error is not None:  # the provider refused before any data (fixture 43)
            text = "API Error: " + turn.upstream_error
            turn.on_error(text)
            out.append(record({"error": text}, "error", emu.clock()))
            yield "".join(out).encode("utf-8")
            return
        if era.preamble and turn.openai:
            for kind in ("response.created", "response.in_progress"):
                out.append(record({"type": kind, "status": "in_progress", "response_id": response_id}, "status"))
        yield "".join(out).encode("utf-8")
        for index, piece in enumerate(pieces):
            if pause and emu.wait(pause):
                return
            yield record({"delta": piece}).encode("utf-8")
            if variant == "provider_error" and index == 0:
                text = _MIDSTREAM_ERROR if era.relays_midstream_error else _UNKNOWN_API_ERROR
                if turn.upstream_error:
                    text = turn.upstream_error if era.relays_midstream_error else _UNKNOWN_API_ERROR
                turn.on_error(text)
                yield record({"error": text}, "error", emu.clock()).encode("utf-8")
                return
        if pause and emu.wait(pause):
            return
        if variant == "no_done":  # the script died before storing the reply or sending done
            return
        turn.on_success(turn.reply, msg_id, response_id)
        tail = record({"id": response_id}, "openai_response_id") if turn.openai else ""
        yield (tail + record({"finished": True}, "done")).encode("utf-8")

    outcome = "ok" if variant == "normal" and turn.upstream_error is None else "error"
    return Response(200, headers(era), stream=produce(), chunked=True, outcome=outcome)

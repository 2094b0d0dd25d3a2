"""``chatgpt4o [ask] QUESTION``: one answer, streamed to stdout (or one JSON object)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from . import exceptions as exc
from ._cli_base import add_common, as_messages, open_client
from ._cli_output import OK, spinner, stream_out

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    """Register ``ask``."""
    ask = subparsers.add_parser("ask", help="one answer (the default command)",
                                description="Print the answer to QUESTION (read from stdin if absent or '-').")
    ask.add_argument("question", nargs="*", help="the question; several words are joined by spaces")
    add_common(ask, sub=True)
    ask.set_defaults(run=run)


def _question(args: argparse.Namespace) -> str:
    words: list[str] = args.question
    if words and words != ["-"]:
        return " ".join(words)
    if sys.stdin is None or sys.stdin.isatty():
        raise exc.InvalidMessagesError("no question given — pass it as an argument or pipe it on stdin")
    text = sys.stdin.read().strip()
    if not text:
        raise exc.InvalidMessagesError("the question read from stdin is empty — pipe some text in")
    return text


def run(args: argparse.Namespace) -> int:
    """Print the answer; returns the exit code."""
    from .models import resolve_model

    question = _question(args)
    model = resolve_model(args.model)
    messages = as_messages(question, args.system)
    with open_client(args) as client:
        started = time.monotonic()
        if args.json:
            answer = client.ask(messages, model)
            print(json.dumps({
                "answer": answer, "model": model, "base_url": client.base_url,
                "seconds": round(time.monotonic() - started, 3),
            }, ensure_ascii=False))
        else:
            stream_out(client.stream(messages, model), spinner(args))
    return OK

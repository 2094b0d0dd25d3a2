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
                                description="Print the answer to QUESTION. Text piped on stdin is read too: "
                                "alone, or followed by a blank line and QUESTION.")
    ask.add_argument("question", nargs="*", help="the question; several words are joined by spaces")
    add_common(ask, sub=True)
    ask.set_defaults(run=run)


def _question(args: argparse.Namespace) -> str:
    """The argument, the piped stdin, or both: stdin, a blank line, the argument (as llm and sgpt do)."""
    words: list[str] = args.question
    argument = " ".join(words) if words and words != ["-"] else ""
    piped = sys.stdin is not None and not sys.stdin.isatty()
    text = ""
    if piped:
        try:
            text = sys.stdin.read().strip()
        except (OSError, ValueError):  # a closed or unreadable stdin: nothing was piped
            piped = False
    if argument and text:
        return f"{text}\n\n{argument}"
    if argument:
        return argument
    if not piped:
        raise exc.InvalidMessagesError("no question given — pass it as an argument or pipe it on stdin")
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

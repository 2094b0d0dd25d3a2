"""``chatgpt4o chat``: an interactive conversation, with /commands."""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Any

from . import exceptions as exc
from ._cli_base import add_common, open_client
from ._cli_output import OK, error_line, report, say, spinner, stream_out
from ._version import __version__
from .client import Client
from .conversation import Conversation

__all__ = ["add_parser", "run"]

_CHAT_HELP_LINE = "/reset, /save FILE, /load FILE, /help, /exit (Ctrl-D); Ctrl-C cancels an answer"
_CHAT_HELP = """\
commands:
  /reset        forget the conversation so far
  /save FILE    save the conversation as JSON
  /load FILE    continue a conversation saved with /save
  /help         this help
  /exit         leave (or Ctrl-D)
Ctrl-C while an answer is running cancels it; the conversation stays as it was."""


def _turns(conversation: Conversation) -> str:
    count = len(conversation.history) // 2
    return f"{count} turn" if count == 1 else f"{count} turns"


def _chat_command(line: str, client: Client, conversation: Conversation) -> Conversation | None:
    """Run a /command; returns the conversation to continue with, or None to leave."""
    name, _, rest = line.partition(" ")
    path = rest.strip()
    if name in ("/exit", "/quit"):
        return None
    if name == "/help":
        say(_CHAT_HELP)
    elif name == "/reset":
        conversation.reset()
        say("(conversation reset)")
    elif name in ("/save", "/load"):
        if not path:
            say(f"error: {name} needs a file name — e.g. {name} chat.json")
        elif name == "/save":
            try:
                conversation.save(path)
                say(f"(saved {_turns(conversation)} to {path})")
            except OSError as error:
                say(f"error: cannot write {path}: {error.strerror or error} — check the path")
        else:
            try:
                conversation = Conversation.load(client, path)
                say(f"(loaded {_turns(conversation)} from {path})")
            except OSError as error:
                say(f"error: cannot read {path}: {error.strerror or error} — check the path")
            except exc.Chatgpt4oError as error:
                say(error_line(error))
    else:
        say(f"error: unknown command {name} — type /help for the commands")
    return conversation


def run(args: argparse.Namespace) -> int:
    """Chat until EOF or /exit; returns the exit code."""
    from .models import resolve_model

    resolve_model(args.model)  # checked like everywhere; the site picks its model itself
    interactive = sys.stdin.isatty()
    if interactive:
        with contextlib.suppress(ImportError):
            import readline  # noqa: F401 - line editing and history for input()
    status = OK
    with open_client(args) as client:
        conversation = Conversation(client, system=args.system)
        if interactive:
            say(f"chatgpt4o {__version__} — chatting with {client.base_url}; /help for commands, Ctrl-D to leave")
        while True:
            try:
                if interactive:
                    line = input("you> ")
                else:
                    raw = sys.stdin.readline()
                    if not raw:
                        break
                    line = raw.rstrip("\n")
            except EOFError:
                if interactive:
                    say("")
                break
            except KeyboardInterrupt:
                say("")  # Ctrl-C at the prompt: a fresh prompt, like a shell
                continue
            line = line.strip()
            if not line:
                continue
            if line.startswith("/"):
                next_conversation = _chat_command(line, client, conversation)
                if next_conversation is None:
                    break
                conversation = next_conversation
                continue
            pieces = conversation.stream(line)
            try:
                stream_out(pieces, spinner(args))
            except KeyboardInterrupt:
                # Stop reading: closing the stream closes the response; the turn is
                # not recorded, so the conversation stays as it was.
                pieces.close()
                sys.stdout.write("\n")
                sys.stdout.flush()
                say("(answer cancelled)")
            except exc.Chatgpt4oError as error:
                status = report(error, args.verbose)
    # Through a pipe, a failed turn shows in the exit code; at a terminal, the person saw it.
    return status if not interactive else OK


def add_parser(subparsers: Any) -> None:
    """Register ``chat``."""
    chat = subparsers.add_parser("chat", help="an interactive conversation",
                                 description="Chat with the site; the history is kept. Commands: " + _CHAT_HELP_LINE)
    add_common(chat, sub=True)
    chat.set_defaults(run=run)

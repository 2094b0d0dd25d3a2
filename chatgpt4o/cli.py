"""The ``chatgpt4o`` command line: a thin shell over :class:`chatgpt4o.Client`.

Commands::

    chatgpt4o "question"            one answer (``ask`` is implied; stdin when piped)
    chatgpt4o ask "chat"            the explicit form, for a question that names a command
    chatgpt4o chat                  an interactive conversation (history kept)
    chatgpt4o check                 does this site work right now? (alias: ``doctor``)

``--emulator`` runs any of them against the bundled emulator, in-process and offline.

Every failure prints one line, ``error: <what happened> — <what to do>``, on stderr and
exits with the code of its class (:data:`EXIT_CODES`); ``--verbose`` adds the logs and the
traceback. No protocol logic lives here: the library does the work and raises the errors.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from . import _cli_ask, _cli_chat, _cli_check, _cli_serve
from ._cli_base import add_common
from ._cli_output import EXIT_CODES, OK, USAGE, error_line, exit_code_for, report
from ._version import __version__

__all__ = ["EXIT_CODES", "SUBCOMMANDS", "build_parser", "error_line", "exit_code_for", "main"]

#: The commands, each a module with ``add_parser(subparsers)`` (which sets ``run``
#: as the parser's default) and ``run(args) -> int``; one line adds a command.
SUBCOMMANDS = (_cli_ask, _cli_chat, _cli_check, _cli_serve)


class _Parser(argparse.ArgumentParser):
    # Usage errors follow the one-line format of every other error.
    def error(self, message: str) -> NoReturn:
        self.exit(USAGE, f"error: {message} — see {self.prog} --help\n")


def _exit_code_table() -> str:
    return "\n".join(f"  {code:>3}  {meaning}" for code, meaning, _ in sorted(EXIT_CODES))


def _command_names(parser: argparse.ArgumentParser) -> set[str]:
    return {name for action in parser._actions if isinstance(action, argparse._SubParsersAction)
            for name in action.choices}


def build_parser() -> argparse.ArgumentParser:
    """The ``chatgpt4o`` argument parser."""
    parser = _Parser(
        prog="chatgpt4o",
        description="Ask a site running the WordPress AI Power (wpaicg) chat from the terminal.",
        usage="chatgpt4o [options] [ask] QUESTION...\n"
        "       chatgpt4o [options] chat\n"
        "       chatgpt4o [options] check\n"
        "       chatgpt4o [options] serve [--host H] [--port P]",
        epilog="examples:\n"
        "  chatgpt4o --emulator \"Hello\"          offline, against the bundled emulator\n"
        "  chatgpt4o \"Capital of France?\"\n"
        "  echo \"Summarize: ...\" | chatgpt4o -s \"Answer briefly.\"\n"
        "  chatgpt4o ask chat                    a question that is a command's name\n"
        "  chatgpt4o --base-url https://example.org/chat/ check\n\n"
        "exit codes:\n" + _exit_code_table(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"chatgpt4o {__version__}")
    add_common(parser, sub=False)
    subs = parser.add_subparsers(dest="command", metavar="COMMAND", prog="chatgpt4o")
    for command in SUBCOMMANDS:
        command.add_parser(subs)
    return parser


def _with_command(argv: list[str], parser: argparse.ArgumentParser) -> list[str]:
    """Insert ``ask`` when no command is named: ``chatgpt4o "question"`` is ``chatgpt4o ask "question"``."""
    takes_value = {
        flag for action in parser._actions if action.nargs != 0 for flag in action.option_strings
    }
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--" or not arg.startswith("-") or arg == "-":
            if arg in _command_names(parser):
                return argv
            return argv[:i] + ["ask"] + argv[i:]
        if arg in takes_value:
            i += 1  # skip the option's value
        elif len(arg) > 2 and not arg.startswith("--") and arg[:2] in takes_value:
            pass  # -mVALUE
        i += 1
    return argv + ["ask"]


def _setup_logging(verbose: bool) -> None:
    if not verbose:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logger = logging.getLogger("chatgpt4o")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (``sys.exit(main())``)."""
    parser = build_parser()
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(_with_command(arguments, parser))
    except SystemExit as stop:  # --help, --version, or a usage error (argparse printed it)
        return stop.code if isinstance(stop.code, int) else USAGE
    _setup_logging(args.verbose)
    # With --json, a failure is a JSON error object on stdout (as `check --json` reports it).
    as_json = bool(getattr(args, "json", False))
    try:
        return int(args.run(args))
    except KeyboardInterrupt as error:
        sys.stdout.flush()
        return report(error, args.verbose, as_json=as_json)
    except BrokenPipeError:
        # `chatgpt4o ... | head`: the reader left; say nothing more (and let the
        # interpreter's final flush go to /dev/null instead of failing again).
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return OK
    except Exception as error:  # noqa: BLE001 - the one place that turns errors into exit codes
        return report(error, args.verbose, as_json=as_json)

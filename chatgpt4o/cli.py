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
import json
import logging
import os
import sys
import threading
import time
import traceback
from collections.abc import Iterator, Sequence
from typing import IO, TYPE_CHECKING, Any, NoReturn

from . import exceptions as exc
from ._version import __version__

if TYPE_CHECKING:
    from .client import Client
    from .conversation import Conversation

__all__ = ["EXIT_CODES", "build_parser", "exit_code_for", "main"]

# -- exit codes ---------------------------------------------------------------

OK, INTERNAL, USAGE, CONNECTION, TIMEOUT, BLOCKED, REFUSED, UNUSABLE, BAD_ANSWER = range(9)
INTERRUPTED = 130

#: ``(code, meaning, exception classes)``; the first row whose classes match wins, so a
#: subclass that needs its own code comes before its parent.
EXIT_CODES: tuple[tuple[int, str, tuple[type[BaseException], ...]], ...] = (
    (OK, "the answer was printed (check: the round trip succeeded)", ()),
    (INTERNAL, "unexpected internal error (a bug: please report it with --verbose output)", ()),
    (USAGE, "usage, invalid input or configuration",
     (exc.InvalidRequestError, exc.MessageTypeError)),
    (TIMEOUT, "timed out (APITimeoutError)", (exc.APITimeoutError,)),
    (CONNECTION, "connection failed: DNS, refused, reset, proxy, TLS (APIConnectionError, TLSError)",
     (exc.APIConnectionError,)),
    (BLOCKED, "blocked: Cloudflare challenge, banned IP, flagged message (ChallengeError, BlockedError)",
     (exc.ChallengeError, exc.BlockedError)),
    (REFUSED, "the site refused or failed the message: token limit, upstream error... (ResponseError)",
     (exc.ResponseError,)),
    (UNUSABLE, ("the site is not usable with this protocol: no chat box, endpoint gone, nonce "
                "rejected (PageError, EndpointGoneError, NonceExpiredError)"),
     (exc.PageError, exc.EndpointGoneError, exc.NonceExpiredError)),
    (BAD_ANSWER, ("bad or unexpected answer: unreadable reply, HTTP status, rate limit "
                  "(MalformedResponseError, HTTPStatusError)"),
     (exc.MalformedResponseError, exc.HTTPStatusError)),
    (INTERRUPTED, "interrupted (Ctrl-C)", ()),
)


def exit_code_for(error: BaseException) -> int:
    """The exit code of ``error`` (see :data:`EXIT_CODES`)."""
    if isinstance(error, KeyboardInterrupt):
        return INTERRUPTED
    for code, _meaning, classes in EXIT_CODES:
        if classes and isinstance(error, classes):
            return code
    return INTERNAL


def _exit_code_table() -> str:
    return "\n".join(f"  {code:>3}  {meaning}" for code, meaning, _ in sorted(EXIT_CODES))


# What to do, for the errors whose message does not already say it (no "—" in it).
_HINTS: tuple[tuple[type[BaseException], str], ...] = (
    (exc.InvalidRequestError, "check the command line (chatgpt4o --help)"),
    (exc.MessageTypeError, "check the command line (chatgpt4o --help)"),
    (exc.APITimeoutError, "the site is slow or unreachable; raise --timeout or try later"),
    (exc.APIConnectionError, "check the URL, your network and --proxy"),
    (exc.ChallengeError, "the site sits behind a challenge; try later or from another network"),
    (exc.BlockedError, "the site refuses this message or address"),
    (exc.ResponseError, "the site could not answer; try later"),
    (exc.PageError, "is --base-url a page with the AI Power chat box? try `chatgpt4o check`"),
    (exc.EndpointGoneError, "the site no longer offers this chat; try `chatgpt4o check`"),
    (exc.NonceExpiredError, "try again; if it persists, run `chatgpt4o check`"),
    (exc.MalformedResponseError, "the site answered something unexpected; rerun with --verbose"),
    (exc.HTTPStatusError, "try later; rerun with --verbose for details"),
)


def error_line(error: BaseException) -> str:
    """``error: <what happened> — <what to do>`` on one line."""
    if isinstance(error, KeyboardInterrupt):
        return "error: interrupted — run the command again to get an answer"
    text = " ".join(str(error).split()) or type(error).__name__
    if "—" not in text:
        hint = next((h for cls, h in _HINTS if isinstance(error, cls)), None)
        if hint is None:
            hint = "this is a bug in chatgpt4o: rerun with --verbose and report the traceback"
            text = f"{type(error).__name__}: {text}"
        text = f"{text} — {hint}"
    return f"error: {text}"


def _report(error: BaseException, verbose: bool) -> int:
    if verbose and not isinstance(error, KeyboardInterrupt):
        traceback.print_exception(type(error), error, error.__traceback__, file=sys.stderr)
    print(error_line(error), file=sys.stderr, flush=True)
    return exit_code_for(error)


# -- the parser ---------------------------------------------------------------

COMMANDS = ("ask", "chat", "check", "doctor")


def _add_common(parser: argparse.ArgumentParser, *, sub: bool) -> None:
    # The same options are accepted before and after the command. In the subparsers they
    # default to SUPPRESS so that an option given before the command is not overwritten.
    def add(*flags: str, **kwargs: Any) -> None:
        if sub:
            kwargs["default"] = argparse.SUPPRESS
        parser.add_argument(*flags, **kwargs)

    add("-m", "--model", default=None, help="model name (checked; the site picks its model itself)")
    add("-s", "--system", default=None, metavar="TEXT", help="system prompt")
    add("--base-url", default=None, metavar="URL",
        help="the chat page (default: $CHATGPT4O_BASE_URL, else https://chatgpt4o.one)")
    add("--proxy", default=None, metavar="URL", help="proxy URL (default: $CHATGPT4O_PROXY)")
    add("--timeout", type=float, default=None, metavar="SECONDS",
        help="seconds one answer may take in all (default: $CHATGPT4O_TIMEOUT, else 120)")
    add("--retries", type=int, default=None, metavar="N",
        help="retries of transient failures (default: $CHATGPT4O_MAX_RETRIES, else 2)")
    add("--json", action="store_true", default=False, help="print one JSON object instead of text")
    add("-v", "--verbose", action="store_true", default=False, help="debug logs and tracebacks on stderr")
    add("--emulator", action="store_true", default=False,
        help="start the bundled site emulator in-process and use it (offline)")
    add("--emulator-stream", action="store_true", default=False,
        help="with --emulator: the emulated site streams its answers")
    add("--emulator-era", default=None, metavar="ERA",
        help="with --emulator: plugin era to emulate (1.8.79, 1.8.91, 1.8.96, 2.x)")
    from ._impersonate import add_cli_option  # impersonate
    add_cli_option(add)  # impersonate


class _Parser(argparse.ArgumentParser):
    # Usage errors follow the one-line format of every other error.
    def error(self, message: str) -> NoReturn:
        self.exit(USAGE, f"error: {message} — see {self.prog} --help\n")


def build_parser() -> argparse.ArgumentParser:
    """The ``chatgpt4o`` argument parser."""
    parser = _Parser(
        prog="chatgpt4o",
        description="Ask a site running the WordPress AI Power (wpaicg) chat from the terminal.",
        usage="chatgpt4o [options] [ask] QUESTION...\n"
        "       chatgpt4o [options] chat\n"
        "       chatgpt4o [options] check",
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
    _add_common(parser, sub=False)
    subs = parser.add_subparsers(dest="command", metavar="COMMAND", prog="chatgpt4o")
    ask = subs.add_parser("ask", help="one answer (the default command)",
                          description="Print the answer to QUESTION (read from stdin if absent or '-').")
    ask.add_argument("question", nargs="*", help="the question; several words are joined by spaces")
    _add_common(ask, sub=True)
    chat = subs.add_parser("chat", help="an interactive conversation",
                           description="Chat with the site; the history is kept. Commands: " + _CHAT_HELP_LINE)
    _add_common(chat, sub=True)
    for name in ("check", "doctor"):
        check = subs.add_parser(
            name, help="check that the site works now" if name == "check" else "alias of check",
            description="Check step by step whether the site works: homepage, chat tokens, plugin "
            "era, streaming, and a round trip. Exit code 0 only when the round trip succeeds.",
        )
        check.add_argument("--prompt", default="ping", help="the message of the round trip (default: ping)")
        _add_common(check, sub=True)
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
            if arg in COMMANDS:
                return argv
            return argv[:i] + ["ask"] + argv[i:]
        if arg in takes_value:
            i += 1  # skip the option's value
        elif len(arg) > 2 and not arg.startswith("--") and arg[:2] in takes_value:
            pass  # -mVALUE
        i += 1
    return argv + ["ask"]


# -- the client and the emulator -------------------------------------------------


@contextlib.contextmanager
def _client(args: argparse.Namespace) -> Iterator[Client]:
    from .client import Client

    base_url: str | None = args.base_url
    with contextlib.ExitStack() as stack:
        if args.emulator:
            if base_url is not None:
                raise exc.InvalidConfigError("--emulator and --base-url exclude each other — pass one of them")
            from .emulator import Emulator

            options: dict[str, Any] = {"stream": args.emulator_stream}
            if args.emulator_era:
                options["era"] = args.emulator_era
            try:
                emulator = Emulator(**options)
            except (ValueError, TypeError) as error:
                raise exc.InvalidConfigError(f"bad emulator setting: {error} — see chatgpt4o --help") from None
            base_url = stack.enter_context(emulator).base_url
        elif args.emulator_stream or args.emulator_era:
            raise exc.InvalidConfigError("--emulator-stream and --emulator-era need --emulator — add --emulator")
        client = stack.enter_context(
            Client(base_url, timeout=args.timeout, proxy=args.proxy, max_retries=args.retries,
                   impersonate=args.impersonate)  # impersonate
        )
        yield client


def _messages(question: str, system: str | None) -> str | list[dict[str, str]]:
    if system is None:
        return question
    return [{"role": "system", "content": system}, {"role": "user", "content": question}]


class Spinner:
    """A quiet spinner on stderr while waiting for the first piece; only on a terminal."""

    FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"

    def __init__(self, stream: IO[str], enabled: bool) -> None:
        self._stream = stream
        self._enabled = enabled
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Spinner:
        if self._enabled:
            self._thread = threading.Thread(target=self._spin, name="chatgpt4o-spinner", daemon=True)
            self._thread.start()
        return self

    def _spin(self) -> None:
        i = 0
        # A short grace period: quick answers show no spinner at all.
        while not self._done.wait(0.1 if i else 0.3):
            self._stream.write(f"\r{self.FRAMES[i % len(self.FRAMES)]} ")
            self._stream.flush()
            i += 1
        if i:
            self._stream.write("\r\x1b[K")
            self._stream.flush()

    def stop(self) -> None:
        """Stop and clear the spinner (idempotent); returns once the line is clean."""
        self._done.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None


def _stream_out(pieces: Iterator[str], spinner: Spinner) -> str:
    """Write the pieces to stdout as they arrive; return the whole answer."""
    parts: list[str] = []
    try:
        for piece in pieces:
            spinner.stop()
            sys.stdout.write(piece)
            sys.stdout.flush()
            parts.append(piece)
    finally:
        spinner.stop()
    answer = "".join(parts)
    if answer and not answer.endswith("\n"):
        sys.stdout.write("\n")
    sys.stdout.flush()
    return answer


def _spinner(args: argparse.Namespace) -> Spinner:
    return Spinner(sys.stderr, enabled=sys.stderr.isatty() and not args.verbose).start()


# -- ask ----------------------------------------------------------------------


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


def cmd_ask(args: argparse.Namespace) -> int:
    from .models import resolve_model

    question = _question(args)
    model = resolve_model(args.model)
    messages = _messages(question, args.system)
    with _client(args) as client:
        started = time.monotonic()
        if args.json:
            answer = client.ask(messages, model)
            print(json.dumps({
                "answer": answer, "model": model, "base_url": client.base_url,
                "seconds": round(time.monotonic() - started, 3),
            }, ensure_ascii=False))
        else:
            _stream_out(client.stream(messages, model), _spinner(args))
    return OK


# -- chat ---------------------------------------------------------------------

_CHAT_HELP_LINE = "/reset, /save FILE, /load FILE, /help, /exit (Ctrl-D); Ctrl-C cancels an answer"
_CHAT_HELP = """\
commands:
  /reset        forget the conversation so far
  /save FILE    save the conversation as JSON
  /load FILE    continue a conversation saved with /save
  /help         this help
  /exit         leave (or Ctrl-D)
Ctrl-C while an answer is running cancels it; the conversation stays as it was."""


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _chat_command(line: str, client: Client, conversation: Conversation) -> Conversation | None:
    """Run a /command; returns the conversation to continue with, or None to leave."""
    from .conversation import Conversation

    name, _, rest = line.partition(" ")
    path = rest.strip()
    if name in ("/exit", "/quit"):
        return None
    if name == "/help":
        _say(_CHAT_HELP)
    elif name == "/reset":
        conversation.reset()
        _say("(conversation reset)")
    elif name in ("/save", "/load"):
        if not path:
            _say(f"error: {name} needs a file name — e.g. {name} chat.json")
        elif name == "/save":
            try:
                conversation.save(path)
                _say(f"(saved {len(conversation.history) // 2} turns to {path})")
            except OSError as error:
                _say(f"error: cannot write {path}: {error.strerror or error} — check the path")
        else:
            try:
                conversation = Conversation.load(client, path)
                _say(f"(loaded {len(conversation.history) // 2} turns from {path})")
            except OSError as error:
                _say(f"error: cannot read {path}: {error.strerror or error} — check the path")
            except exc.Chatgpt4oError as error:
                _say(error_line(error))
    else:
        _say(f"error: unknown command {name} — type /help for the commands")
    return conversation


def cmd_chat(args: argparse.Namespace) -> int:
    from .models import resolve_model

    resolve_model(args.model)  # checked like everywhere; the site picks its model itself
    interactive = sys.stdin.isatty()
    if interactive:
        with contextlib.suppress(ImportError):
            import readline  # noqa: F401 - line editing and history for input()
    status = OK
    with _client(args) as client:
        conversation = client.chat(system=args.system)
        if interactive:
            _say(f"chatgpt4o {__version__} — chatting with {client.base_url}; /help for commands, Ctrl-D to leave")
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
                    _say("")
                break
            except KeyboardInterrupt:
                _say("")  # Ctrl-C at the prompt: a fresh prompt, like a shell
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
                _stream_out(pieces, _spinner(args))
            except KeyboardInterrupt:
                # Stop reading: closing the generator closes the response; the turn is
                # not recorded, so the conversation stays as it was.
                close = getattr(pieces, "close", None)
                if close is not None:
                    close()
                sys.stdout.write("\n")
                sys.stdout.flush()
                _say("(answer cancelled)")
            except exc.Chatgpt4oError as error:
                status = _report(error, args.verbose)
    # Through a pipe, a failed turn shows in the exit code; at a terminal, the person saw it.
    return status if not interactive else OK


# -- check --------------------------------------------------------------------


class _Report:
    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.steps: list[dict[str, Any]] = []

    def step(self, name: str, ok: bool, detail: str) -> None:
        self.steps.append({"step": name, "ok": ok, "detail": detail})
        if not self.as_json:
            print(f"  {'ok  ' if ok else 'FAIL'}  {name:<20} {detail}", flush=True)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def cmd_check(args: argparse.Namespace) -> int:
    report = _Report(args.json)
    result: dict[str, Any] = {"ok": False, "base_url": None, "site": None, "round_trip": None, "error": None}
    code = OK
    with _client(args) as client:
        result["base_url"] = client.base_url
        if not args.json:
            print(f"checking {client.base_url}", flush=True)
        try:
            code = _check_steps(client, args, report, result)
        except exc.Chatgpt4oError as error:
            code = exit_code_for(error)
            result["error"] = {"type": type(error).__name__, "message": error_line(error)[7:], "exit_code": code}
            if not args.json:
                print(f"result: the site does not work ({type(error).__name__}, exit code {code})", flush=True)
                _report(error, args.verbose)
    result["steps"] = report.steps
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    return code


def _check_steps(client: Client, args: argparse.Namespace, report: _Report, result: dict[str, Any]) -> int:
    try:
        info = client.inspect()
    except exc.TokensNotFoundError:
        report.step("homepage", True, f"{client.base_url} answered")
        report.step("chat tokens", False, "no chat box (data-post-id / data-nonce) on the page")
        raise
    except exc.Chatgpt4oError as error:
        report.step("homepage", False, f"{client.base_url}: {type(error).__name__}")
        raise
    result["site"] = info.as_dict()
    report.step("homepage", True, f"{info.page_url} in {_ms(info.fetch_seconds)}")
    report.step("chat tokens", True, f"post id {info.post_id}, bot id {info.bot_id}, identity {info.identity}, "
                f"nonce {'present' if info.has_nonce else 'missing'}")
    version = info.plugin_version or "not shown on the page"
    report.step("plugin", True, f"AI Power {version}, protocol era {info.era}")
    report.step("streaming", True, "on (answers arrive as server-sent events)" if info.stream
                else "off (answers arrive as one JSON reply)")
    report.step("memory limit", True, f"{info.memory_limit} history items" if info.memory_limit else "not set")
    started = time.monotonic()
    try:
        answer = client.ask(args.prompt, args.model)
    except exc.Chatgpt4oError as error:
        report.step("round trip", False, f"{args.prompt!r}: {type(error).__name__}")
        raise
    seconds = time.monotonic() - started
    result["round_trip"] = {"prompt": args.prompt, "answer": answer, "seconds": round(seconds, 3)}
    shown = " ".join(answer.split())
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    report.step("round trip", True, f"{args.prompt!r} -> {shown!r} in {_ms(seconds)}")
    result["ok"] = True
    if not args.json:
        print("result: the site works", flush=True)
    return OK


# -- main ---------------------------------------------------------------------


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
    handlers = {"ask": cmd_ask, "chat": cmd_chat, "check": cmd_check, "doctor": cmd_check}
    try:
        return handlers[args.command](args)
    except KeyboardInterrupt as error:
        sys.stdout.flush()
        return _report(error, args.verbose)
    except BrokenPipeError:
        # `chatgpt4o ... | head`: the reader left; say nothing more (and let the
        # interpreter's final flush go to /dev/null instead of failing again).
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return OK
    except Exception as error:  # noqa: BLE001 - the one place that turns errors into exit codes
        return _report(error, args.verbose)

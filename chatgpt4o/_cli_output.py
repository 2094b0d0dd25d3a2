"""Command-line output: exit codes, the one-line error format, the spinner, streamed answers."""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
import traceback
from collections.abc import Iterator
from typing import IO

from . import exceptions as exc

__all__ = [
    "EXIT_CODES", "Spinner", "error_line", "error_object", "exit_code_for", "report", "say", "spinner", "stream_out",
]

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


# What to do, for the errors whose message does not already say it (no "—" in it).
_HINTS: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], str], ...] = (
    ((exc.InvalidRequestError, exc.MessageTypeError), "check the command line (chatgpt4o --help)"),
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


# The library's hints name Client keywords; at the command line, the options that set them.
_OPTION_HINTS: tuple[tuple[str, str], ...] = (
    (r"pass verify='/path/to/ca\.pem' for a private CA, or verify=False to skip the check",
     "pass --ca-bundle /path/to/ca.pem for a private CA, or --insecure to skip the check"),
    (r"\(cookies=\)", "(--cookie cf_clearance=VALUE)"),
    (r"\bbase_url\b=?", "--base-url"),
    (r"\btimeout=", "--timeout"),
    (r"\bproxy=", "--proxy"),
    (r"\bverify=", "--ca-bundle"),
    (r"\bcookies=", "--cookie"),
    (r"\bheaders=", "--header"),
    (r"\bmax_retries=", "--retries"),
    (r"\bimpersonate=", "--impersonate"),
)


def _cli_hint(text: str) -> str:
    """``text`` with the hint (after the last "—") naming CLI options instead of keywords."""
    head, dash, hint = text.rpartition(" — ")
    if not dash:
        return text
    for pattern, option in _OPTION_HINTS:
        hint = re.sub(pattern, option, hint)
    return f"{head}{dash}{hint}"


def error_line(error: BaseException) -> str:
    """``error: <what happened> — <what to do>`` on one line."""
    if isinstance(error, KeyboardInterrupt):
        return "error: interrupted — run the command again to get an answer"
    text = _cli_hint(" ".join(str(error).split()) or type(error).__name__)
    if "—" not in text:
        hint = next((h for cls, h in _HINTS if isinstance(error, cls)), None)
        if hint is None:
            hint = "this is a bug in chatgpt4o: rerun with --verbose and report the traceback"
            text = f"{type(error).__name__}: {text}"
        text = f"{text} — {hint}"
    return f"error: {text}"


def error_object(error: BaseException) -> dict[str, object]:
    """The error as ``--json`` prints it: ``{"type", "message", "exit_code"}``."""
    return {"type": type(error).__name__, "message": error_line(error).removeprefix("error: "),
            "exit_code": exit_code_for(error)}


def report(error: BaseException, verbose: bool, *, as_json: bool = False) -> int:
    if verbose and not isinstance(error, KeyboardInterrupt):
        traceback.print_exception(type(error), error, error.__traceback__, file=sys.stderr)
    if as_json:
        print(json.dumps({"error": error_object(error)}, ensure_ascii=False), flush=True)
    else:
        print(error_line(error), file=sys.stderr, flush=True)
    return exit_code_for(error)


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


def stream_out(pieces: Iterator[str], spinner: Spinner) -> str:
    """Write the pieces to stdout as they arrive; return the whole answer."""
    parts: list[str] = []
    try:
        for piece in pieces:
            spinner.stop()
            parts.append(piece)  # before writing: a Ctrl-C right after the write still sees it
            sys.stdout.write(piece)
            sys.stdout.flush()
    except BaseException:
        # Cut off (Ctrl-C, an error): end the partial line, so the error gets its own.
        if parts and not parts[-1].endswith("\n"):
            sys.stdout.write("\n")
            sys.stdout.flush()
        raise
    finally:
        spinner.stop()
    answer = "".join(parts)
    if answer and not answer.endswith("\n"):
        sys.stdout.write("\n")
    sys.stdout.flush()
    return answer


def spinner(args: argparse.Namespace) -> Spinner:
    return Spinner(sys.stderr, enabled=sys.stderr.isatty() and not args.verbose).start()


def say(text: str) -> None:
    """A line for the person at the terminal (stderr), not for a pipe."""
    print(text, file=sys.stderr, flush=True)

"""What every command shares: the common options and the client (or the emulator) they open."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from . import exceptions as exc
from ._impersonate import add_cli_option

if TYPE_CHECKING:
    from .client import Client

__all__ = ["add_common", "as_messages", "client_options", "open_client", "site_url"]


def add_common(parser: argparse.ArgumentParser, *, sub: bool, asks: bool = True) -> None:
    """The options of every command (``asks=False``: only those of the site, for ``serve``)."""
    # The same options are accepted before and after the command. In the subparsers they
    # default to SUPPRESS so that an option given before the command is not overwritten.
    def add(*flags: str, **kwargs: Any) -> None:
        if sub:
            kwargs["default"] = argparse.SUPPRESS
        parser.add_argument(*flags, **kwargs)

    if asks:
        add("-m", "--model", default=None, help="model name (checked; the site picks its model itself)")
        add("-s", "--system", default=None, metavar="TEXT", help="system prompt")
        add("--json", action="store_true", default=False, help="print one JSON object instead of text")
    add("--base-url", default=None, metavar="URL",
        help="the chat page (default: $CHATGPT4O_BASE_URL, else https://chatgpt4o.one)")
    add("--proxy", default=None, metavar="URL", help="proxy URL (default: $CHATGPT4O_PROXY)")
    add("--timeout", type=float, default=None, metavar="SECONDS",
        help="seconds one answer may take in all (default: $CHATGPT4O_TIMEOUT, else 120)")
    add("--retries", type=int, default=None, metavar="N",
        help="retries of transient failures (default: $CHATGPT4O_MAX_RETRIES, else 2)")
    add("--cookie", action="append", type=_cookie, default=None, metavar="NAME=VALUE",
        help="send this cookie (repeatable), e.g. a browser's cf_clearance=...")
    add("--header", action="append", type=_header, default=None, metavar="'NAME: VALUE'",
        help="send this header with every request (repeatable)")
    add("--ca-bundle", default=None, metavar="PATH",
        help="verify TLS with this CA bundle (PEM file or directory) instead of the system's")
    add("--insecure", action="store_true", default=False, help="do not verify TLS certificates")
    add("-v", "--verbose", action="store_true", default=False, help="debug logs and tracebacks on stderr")
    add("--emulator", action="store_true", default=False,
        help="start the bundled site emulator in-process and use it (offline)")
    add("--emulator-stream", action="store_true", default=False,
        help="with --emulator: the emulated site streams its answers")
    add("--bot-id", type=int, default=None, metavar="N",
        help="2.x sites: the chat bot to talk to (default: the page's first inline bot, else its first popup)")
    add("--emulator-era", default=None, metavar="ERA",
        help="with --emulator: plugin era to emulate: 2.4.71 (default), 2.4.0, 2.3.40, 2.3.19 (AIPKit), "
             "1.8.96, 1.8.91, 1.8.79 (legacy chat), 2.x (legacy chat removed)")
    add_cli_option(add)


def _cookie(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, e.g. cf_clearance=..., not {text.split('=')[0]!r}")
    return name.strip(), value


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected 'NAME: VALUE', not {text!r}")
    return name.strip(), value.strip()


def _verify(args: argparse.Namespace) -> bool | str:
    ca_bundle: str | None = getattr(args, "ca_bundle", None)
    if getattr(args, "insecure", False):
        if ca_bundle is not None:
            raise exc.InvalidConfigError("--ca-bundle and --insecure exclude each other — pass one of them")
        # Asked for in so many words: no warning per request on stderr.
        import warnings

        import urllib3

        warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)
        return False
    return True if ca_bundle is None else ca_bundle


@contextlib.contextmanager
def open_client(args: argparse.Namespace) -> Iterator[Client]:
    from .client import Client

    with contextlib.ExitStack() as stack:
        base_url = site_url(args, stack)
        yield stack.enter_context(Client(base_url, **client_options(args)))


def client_options(args: argparse.Namespace) -> dict[str, Any]:
    """The :class:`Client` keywords the common options give."""
    return {
        "timeout": getattr(args, "timeout", None), "proxy": getattr(args, "proxy", None),
        "max_retries": getattr(args, "retries", None), "impersonate": getattr(args, "impersonate", None),
        "bot_id": getattr(args, "bot_id", None), "cookies": dict(getattr(args, "cookie", None) or ()),
        "headers": dict(getattr(args, "header", None) or ()), "verify": _verify(args),
    }


#: The plugin era ``--emulator`` starts when ``--emulator-era`` is not given.
EMULATOR_ERA = "2.4.71"


def site_url(args: argparse.Namespace, stack: contextlib.ExitStack) -> str | None:
    """The site to talk to: ``--base-url``, or the emulator ``--emulator`` starts in ``stack``."""
    base_url: str | None = getattr(args, "base_url", None)
    era, stream = getattr(args, "emulator_era", None), getattr(args, "emulator_stream", False)
    if not getattr(args, "emulator", False):
        if era or stream:
            raise exc.InvalidConfigError("--emulator-stream and --emulator-era need --emulator — add --emulator")
        return base_url
    if base_url is not None:
        raise exc.InvalidConfigError("--emulator and --base-url exclude each other — pass one of them")
    from .emulator import Emulator

    try:
        emulator = Emulator(stream=stream, era=era or EMULATOR_ERA)
    except (ValueError, TypeError) as error:
        raise exc.InvalidConfigError(f"bad emulator setting: {error} — see chatgpt4o --help") from None
    return str(stack.enter_context(emulator).base_url)


def as_messages(question: str, system: str | None) -> str | list[dict[str, str]]:
    if system is None:
        return question
    return [{"role": "system", "content": system}, {"role": "user", "content": question}]

"""``chatgpt4o serve``: the OpenAI-compatible gateway (:mod:`chatgpt4o.gateway`) on the command line.

The command line module registers it with :func:`add_parser` and runs it with :func:`run`. It
prints the URL an OpenAI client takes (``http://127.0.0.1:8000/v1``) on stdout, then serves until
Ctrl-C (exit code 130) or SIGTERM (exit code 0), and writes one access-log line per request on
stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

from . import exceptions as exc
from ._cli_base import add_common, client_options, site_url

__all__ = ["add_parser", "run"]

_DESCRIPTION = """\
Serve the site over the OpenAI HTTP API (/v1/models, /v1/chat/completions), so any OpenAI
client talks to it:

  openai.OpenAI(base_url="http://127.0.0.1:8000/v1", api_key="x")

Listens on 127.0.0.1 by default; another host needs an API key. Give the key in the
CHATGPT4O_API_KEY environment variable rather than --api-key: a command line is visible to
every user of the machine. Ctrl-C or SIGTERM stops it."""


def add_parser(subparsers: Any) -> None:
    """Add the ``serve`` command to the ``chatgpt4o`` parser's subparsers."""
    parser = subparsers.add_parser(
        "serve", help="an OpenAI-compatible HTTP gateway to the site", description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )

    add_common(parser, sub=True, asks=False)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on; 0 picks a free one (default 8000)")
    parser.add_argument("--api-key", default=None, metavar="KEY",
                        help="require 'Authorization: Bearer KEY' (default: $CHATGPT4O_API_KEY)")
    parser.set_defaults(run=run)


class _Terminated(Exception):
    """SIGTERM arrived."""


@contextlib.contextmanager
def _on_sigterm() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        raise _Terminated

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _access_log() -> Iterator[None]:
    logger = logging.getLogger("chatgpt4o.gateway.access")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    saved = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # the --verbose handler on "chatgpt4o" would print each line twice
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]


def run(args: argparse.Namespace) -> int:
    """Run ``chatgpt4o serve``; returns the exit code (0 after SIGTERM, 130 after Ctrl-C)."""
    from .gateway import ENV_API_KEY, create_app, is_loopback, make_server

    if not 0 <= args.port <= 65535:
        raise exc.InvalidConfigError(f"--port must be within 0..65535, not {args.port}")
    if not is_loopback(args.host) and not (args.api_key or os.environ.get(ENV_API_KEY)):
        raise exc.InvalidConfigError(
            f"refusing to listen on {args.host} without an API key — set ${ENV_API_KEY} (or --api-key), "
            "or keep --host 127.0.0.1"
        )
    with contextlib.ExitStack() as stack:
        site = site_url(args, stack)
        # --bot-id: the bot that answers the plain model names (default: the page's own).
        app = create_app(base_url=site, api_key=args.api_key, **client_options(args))
        stack.callback(app.close)
        try:
            server = make_server(app, args.host, args.port)
        except OSError as error:
            raise exc.InvalidConfigError(
                f"cannot listen on {args.host}:{args.port}: {error.strerror or error} — pick another --port "
                "(0 picks a free one)"
            ) from None
        stack.enter_context(_access_log())
        print(server.url, flush=True)
        key_note = "an API key is required" if app.requires_key else "no API key"
        print(f"chatgpt4o gateway for {app.client.base_url} on {server.url} ({key_note}); Ctrl-C stops it",
              file=sys.stderr, flush=True)
        code = 0
        try:
            with _on_sigterm():
                server.serve_forever(poll_interval=0.2)
        except KeyboardInterrupt:
            code = 130
        except _Terminated:
            code = 0
        finally:
            server.server_close()
            server.wait_idle(5.0)
        print("chatgpt4o gateway stopped", file=sys.stderr, flush=True)
        return code

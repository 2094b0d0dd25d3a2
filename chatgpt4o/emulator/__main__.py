"""``python -m chatgpt4o.emulator``: serve the wpaicg site emulator until SIGINT/SIGTERM.

The first line on stdout is exactly the base URL (flushed), so scripts can read it::

    url=$(python -m chatgpt4o.emulator --port 0 | head -n1)
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

from .scenarios import ERAS, FAULTS, EmulatorConfig
from .server import Emulator


def _loopback(value: str) -> str:
    if value == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an IP address") from None
    if not address.is_loopback or address.version != 4:
        raise argparse.ArgumentTypeError(f"refusing to listen on {value}: only 127.0.0.0/8 is allowed")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command line parser (``--help`` lists every fault)."""
    faults = "\n".join(f"  {name:<20} {doc}" for name, doc in FAULTS.items())
    parser = argparse.ArgumentParser(
        prog="python -m chatgpt4o.emulator",
        description="Serve a local emulation of a WordPress site with the AI Power (wpaicg) chat "
        "shortcode. Prints the base URL on the first line, then serves until SIGINT/SIGTERM.",
        epilog="faults (--fault NAME, or POST /__emulator__/config {\"fault\": NAME}):\n" + faults
        + "\n\ncontrol endpoints: GET /__emulator__/stats, POST /__emulator__/rotate, "
        "POST /__emulator__/config (JSON object of EmulatorConfig fields)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--host", type=_loopback, default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    add("--port", type=int, default=0, help="TCP port; 0 picks a free one (default)")
    add("--era", choices=ERAS, default="1.8.96", help="plugin era to emulate (default 1.8.96)")
    add("--stream", action="store_true", help="answer chat requests with SSE (data-openai_stream_nav=1)")
    add("--tls", action="store_true", help="serve HTTPS (self-signed cert made with openssl unless --certfile)")
    add("--certfile", help="PEM certificate for --tls")
    add("--keyfile", help="PEM private key for --tls")
    add("--bot-check", choices=("tls",), help="tls: challenge HTTPS clients whose TLS hello is no browser's")
    add("--post-id", type=int, default=11, help="data-post-id (default 11)")
    add("--bot-id", type=int, default=0, help="data-bot-id; non-zero = custom bot (default 0)")
    add("--page-path", default="/", help="path of the chat page (default /)")
    add("--reply", help="fixed reply text (default: 'echo: <message>')")
    add("--latency", type=float, default=0.0, help="seconds before each chat answer")
    add("--fault", choices=sorted(FAULTS), help="inject this fault (see the list below)")
    add("--fault-target", choices=("ajax", "page", "both"), default="ajax", help="requests the fault hits")
    add("--fault-count", type=int, default=0, help="only the next N matching requests get --fault")
    add("--fault-rate", type=float, default=0.0, help="probability of a random fault per request")
    add("--seed", type=int, default=0, help="seed of the fault RNG")
    add("--rotate-every", type=int, default=0, help="new nonce secret after every N ajax requests")
    add("--nonce-life", type=float, default=86400.0, help="WordPress nonce_life in seconds")
    add("--page-size", type=int, default=300_000, help="approximate homepage size in bytes")
    add("--no-chatbox", action="store_true", help="render the page without the chat box")
    add("--extra-chatboxes", action="store_true",
        help="also render the floating widget and other plugins' data-nonce elements before the box")
    add("--banned-word", action="append", default=[], metavar="WORD", help="banned word (repeatable)")
    add("--ban-ip", action="append", default=[], metavar="IP", help="banned client IP (repeatable)")
    add("--token-limit", action="store_true", help="answer every chat request with the token-limit flag")
    add("--upstream-error", metavar="TEXT", help="provider error text returned instead of a reply")
    add("--no-api-key", action="store_true", help="'Unable to initialize the AI instance' error")
    add("-v", "--verbose", action="store_true", help="log every request to stderr")
    return parser


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    """Map parsed arguments onto an :class:`EmulatorConfig`."""
    fields: dict[str, Any] = {
        "era": args.era, "stream": args.stream, "tls": args.tls, "certfile": args.certfile,
        "keyfile": args.keyfile, "post_id": args.post_id, "bot_id": args.bot_id,
        "page_path": args.page_path, "reply": args.reply, "latency": args.latency,
        "fault": args.fault, "fault_target": args.fault_target, "fault_count": args.fault_count,
        "fault_rate": args.fault_rate, "seed": args.seed, "rotate_every": args.rotate_every,
        "nonce_life": args.nonce_life, "page_size": args.page_size, "chatbox": not args.no_chatbox,
        "extra_chatboxes": args.extra_chatboxes,
        "banned_words": tuple(args.banned_word), "banned_ips": tuple(args.ban_ip),
        "token_limit": args.token_limit, "upstream_error": args.upstream_error,
        "api_key": not args.no_api_key, "bot_check": args.bot_check,
    }
    return EmulatorConfig(**fields)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the emulator until SIGINT/SIGTERM; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verbose:
        logging.basicConfig(level=logging.DEBUG, format="%(asctime)s %(message)s")
    try:
        config = config_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    done = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        done.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    emulator = Emulator(config, host=args.host, port=args.port).start()
    try:
        sys.stdout.write(emulator.base_url + "\n")
        sys.stdout.flush()
        if emulator.ca_file:  # stdout stays exactly the URL; the CA path goes to stderr
            sys.stderr.write(f"certificate (pass as verify=/cafile=): {emulator.ca_file}\n")
        while not done.wait(0.5):
            pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

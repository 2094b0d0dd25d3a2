"""``python -m chatgpt4o.emulator``: serve the site emulator until SIGINT/SIGTERM.

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

from .scenarios import DEFAULT_ERA, ERAS, FAULT_TARGETS, FAULTS, EmulatorConfig
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


#: Named scenarios shown by ``--help``: what to pass for common situations.
SCENARIOS: tuple[tuple[str, str], ...] = (
    ("current site (2.4.71)", "--era 2.4.71"),
    ("AIPKit eras", "--era 2.3.19 | 2.3.40 | 2.4.0 | 2.4.71"),
    ("legacy 1.x site", "--era 1.8.96 [--stream]  (also 1.8.79, 1.8.91)"),
    ("legacy page, 2.x site behind a cache", "--era 2.x"),
    ("several bots on one page", "--bots 3"),
    ("popup bot / site-wide popup", "--popup / --sitewide-popup"),
    ("bot on a sub-page", "--bot-path /help/"),
    ("draft bot (renders, stream fails)", "--draft-bot 5"),
    ("guest quota / guests disabled", "--guest-limit 50 / --guest-limit 0"),
    ("banned word, IP, moderation", "--banned-word WORD --ban-ip IP --moderation-word WORD"),
    ("provider error", "--upstream-error TEXT"),
    ("nonce rotation", "--rotate-every N, POST /__emulator__/rotate"),
    ("faults on one step", "--fault NAME --fault-target page|cache|stream|nonce|ajax|both"),
    ("stream without done / provider error mid-stream", "--fault sse_no_done / sse_provider_error"),
    ("trickle / endless stream", "--fault sse_trickle --slow-seconds 0.5 / --fault sse_endless"),
)


def build_parser() -> argparse.ArgumentParser:
    """The command line parser (``--help`` lists the scenarios and every fault)."""
    faults = "\n".join(f"  {name:<20} {doc}" for name, doc in FAULTS.items())
    scenarios = "\n".join(f"  {name:<48} {args}" for name, args in SCENARIOS)
    parser = argparse.ArgumentParser(
        prog="python -m chatgpt4o.emulator",
        description="Serve a local emulation of a WordPress site with the AI Puffer / AI Power chat "
        "plugin (2.x AIPKit or the legacy 1.x shortcode). Prints the base URL on the first line, "
        "then serves until SIGINT/SIGTERM.",
        epilog="scenarios:\n" + scenarios
        + "\n\nfaults (--fault NAME, or POST /__emulator__/config {\"fault\": NAME}):\n" + faults
        + "\n\ncontrol endpoints: GET /__emulator__/stats, POST /__emulator__/rotate, "
        "POST /__emulator__/config (JSON object of EmulatorConfig fields)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--host", type=_loopback, default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    add("--port", type=int, default=0, help="TCP port; 0 picks a free one (default)")
    add("--era", choices=ERAS, default=DEFAULT_ERA, help=f"plugin era to emulate (default {DEFAULT_ERA})")
    add("--stream", action="store_true",
        help="1.x: answer chat requests with SSE (data-openai_stream_nav=1); 2.x <= 2.4.0: streamEnabled")
    add("--tls", action="store_true", help="serve HTTPS (self-signed cert made with openssl unless --certfile)")
    add("--certfile", help="PEM certificate for --tls")
    add("--keyfile", help="PEM private key for --tls")
    add("--bot-check", choices=("tls",), help="tls: challenge HTTPS clients whose TLS hello is no browser's")
    add("--post-id", type=int, default=11, help="data-post-id / postId (default 11)")
    add("--bot-id", type=int, default=0, help="1.x data-bot-id (0 = shortcode); 2.x first bot id (0 = 5)")
    add("--bots", type=int, default=1, help="2.x: bots on the chat page (default 1)")
    add("--popup", action="store_true", help="2.x: the page's bots are popups")
    add("--sitewide-popup", action="store_true", help="2.x: one more bot, a popup on every page")
    add("--bot-path", metavar="PATH", help="2.x: the bots live on this sub-page, not on --page-path")
    add("--draft-bot", type=int, action="append", default=[], metavar="ID",
        help="2.x: this bot is a draft: it renders, its stream fails (repeatable)")
    add("--guest-limit", type=int, metavar="TOKENS", help="2.x: guest token quota per session (0 = no guests)")
    add("--max-messages", type=int, default=15, help="2.x: stored messages replayed per turn (default 15)")
    add("--moderation-word", action="append", default=[], metavar="WORD",
        help="2.x: a word OpenAI moderation flags (2.4.71; repeatable)")
    add("--site-url", metavar="URL", help="2.x: WordPress siteurl for the Origin check (default: the base URL)")
    add("--page-path", default="/", help="path of the chat page (default /)")
    add("--reply", help="fixed reply text (default: 'echo: <message>')")
    add("--latency", type=float, default=0.0, help="seconds before each chat answer")
    add("--cache-latency", type=float, default=0.0, help="2.x: seconds before the cache step answers")
    add("--fault", choices=sorted(FAULTS), help="inject this fault (see the list below)")
    add("--fault-target", choices=FAULT_TARGETS, default="ajax", help="requests the fault hits (default ajax)")
    add("--slow-seconds", type=float, default=2.0, help="delay of the slow, slow_body and sse_trickle faults")
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
    add("-v", "--verbose", action="store_true", help="log one line per request to stderr")
    return parser


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    """Map parsed arguments onto an :class:`EmulatorConfig`."""
    fields: dict[str, Any] = {
        "era": args.era, "stream": args.stream, "tls": args.tls, "certfile": args.certfile,
        "keyfile": args.keyfile, "post_id": args.post_id, "bot_id": args.bot_id,
        "page_path": args.page_path, "reply": args.reply, "latency": args.latency,
        "cache_latency": args.cache_latency,
        "fault": args.fault, "fault_target": args.fault_target, "fault_count": args.fault_count,
        "fault_rate": args.fault_rate, "seed": args.seed, "rotate_every": args.rotate_every,
        "nonce_life": args.nonce_life, "page_size": args.page_size, "chatbox": not args.no_chatbox,
        "extra_chatboxes": args.extra_chatboxes,
        "banned_words": tuple(args.banned_word), "banned_ips": tuple(args.ban_ip),
        "token_limit": args.token_limit, "upstream_error": args.upstream_error,
        "api_key": not args.no_api_key, "bot_check": args.bot_check, "bots": args.bots, "popup": args.popup,
        "sitewide_popup": args.sitewide_popup, "bot_path": args.bot_path, "draft_bots": tuple(args.draft_bot),
        "guest_limit": args.guest_limit, "max_messages": args.max_messages,
        "moderation_words": tuple(args.moderation_word), "site_url": args.site_url,
        "slow_seconds": args.slow_seconds,
    }
    return EmulatorConfig(**fields)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the emulator until SIGINT/SIGTERM; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verbose:  # the emulator logs one INFO line per request (method, path, action, status)
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        log = logging.getLogger("chatgpt4o.emulator")
        log.addHandler(handler)
        log.setLevel(logging.INFO)
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

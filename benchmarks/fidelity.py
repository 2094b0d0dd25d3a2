"""Prompt fidelity: how much of what the user wrote reaches the model, per plugin era.

Run::

    python benchmarks/fidelity.py            # one table, a row per era
    python benchmarks/fidelity.py --detail   # and every prompt, as the model received it

Each prompt of :data:`CATALOGUE` is sent to the bundled emulator (127.0.0.1, no network), whose
model answers ``echo: <the message as the server handed it to the model>``, twice:

* **before**: posted as-is, the way third-party clients post the chat form (a plain
  ``requests.post`` of ``_wpnonce, post_id, url, action, message, bot_id``; no encoding);
* **after**: through ``chatgpt4o.Client.ask``, which encodes the message where the plugin
  version sanitizes it (``chatgpt4o/_fidelity.py``).

Metric: for a prompt ``P`` and the text ``R`` the model received, *survived* is the number of
characters of ``P`` found in ``R`` in order: the total size of the matching blocks of
``difflib.SequenceMatcher(None, P, R, autojunk=False)``. Characters are code points. The
figure per era is ``sum(survived) / sum(len(P))`` over the catalogue, as a percentage. A
prompt refused by the site (e.g. one that sanitizes to nothing) counts as ``R = ""``. Two
further columns keep the figure honest: *exact* counts prompts that arrive identical
(``R == P``), and *added* counts characters of ``R`` that are not from ``P`` (the encoding's
invisible U+2060, the space in ``< b``, magic-quote backslashes...). The column *after ~%*
is the after figure when the encoding's documented stand-ins count as the character they
stand for (U+2028 for a newline, U+00A0 for a space; U+2060 dropped): what a reader, or a
model, sees.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import requests

from chatgpt4o import Client
from chatgpt4o.emulator import Emulator
from chatgpt4o.exceptions import Chatgpt4oError

__all__ = ["CATALOGUE", "ERAS", "EraResult", "PromptResult", "measure", "post_raw", "post_with_client", "stand_ins", "survived"]

ERAS: tuple[str, ...] = ("1.8.79", "1.8.91", "1.8.96")
PREFIX = "echo: "

#: (name, prompt): the kinds of text users paste into a chat box.
CATALOGUE: tuple[tuple[str, str], ...] = (
    ("html", '<div class="note">Hello <b>world</b></div>'),
    ("script", "Why does <script>alert(1)</script> not run inside </div>?"),
    ("python", 'def f(x):\n    if x < 10 and x > 2:\n        return "ok"\n    return None'),
    ("generics", "In Java, List<String> and Map<K, V> are generic types."),
    ("percent", "Growth was 100%ab, then 50%cd; 3% of users stayed."),
    ("urlencoded", "Search for hello%20world and caf%C3%A9 in the logs"),
    ("quotes", "She said \"it's fine\" and 'left'."),
    ("backslashes", "Paths: C:\\Users\\new\\test and \\\\server\\share; regex \\d+\\n"),
    ("emoji", "Party \U0001f389\U0001f389 time \U0001f469\u200d\U0001f4bb \u2705"),
    ("arabic", "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645\u060c \u0643\u064a\u0641 \u062d\u0627\u0644\u0643\u061f"),
    ("hebrew", "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd, \u05de\u05d4 \u05e9\u05dc\u05d5\u05de\u05da?"),
    ("multiline", "Steps:\n  1. open the file\n  2. close it\n\nDone."),
    ("tabs", "name\tage\nada\t36\nalan\t41"),
    ("comparison", "Is a < b > c true when a<b?"),
    ("lone_lt", "if n < 0: print(n)"),
    ("entities", "Tom &amp; Jerry &lt;3 &copy; 2024"),
    ("json", '{"key": "va\\"lue", "list": [1, 2]}'),
    ("markdown", "**bold** _it_ `code` # heading > quote"),
    ("indented_start", "    return x  # the first line of a pasted block"),
)


@dataclass(frozen=True)
class PromptResult:
    """One prompt and what the model received before and after the client's encoding."""

    name: str
    prompt: str
    before: str
    after: str

    @property
    def before_survived(self) -> int:
        return survived(self.prompt, self.before)

    @property
    def after_survived(self) -> int:
        return survived(self.prompt, self.after)


@dataclass(frozen=True)
class EraResult:
    """The catalogue's figures for one era."""

    era: str
    prompts: tuple[PromptResult, ...]

    @property
    def chars(self) -> int:
        return sum(len(p.prompt) for p in self.prompts)

    def percent(self, which: str) -> float:
        total = sum(survived(p.prompt, getattr(p, which)) for p in self.prompts)
        return 100.0 * total / self.chars

    def percent_stand_ins(self) -> float:
        total = sum(survived(p.prompt, stand_ins(p.after)) for p in self.prompts)
        return 100.0 * total / self.chars

    def exact(self, which: str) -> int:
        return sum(getattr(p, which) == p.prompt for p in self.prompts)

    def added(self, which: str) -> int:
        return sum(len(getattr(p, which)) - survived(p.prompt, getattr(p, which)) for p in self.prompts)


def stand_ins(received: str) -> str:
    """``received`` with the encoding's stand-ins read as what they stand for."""
    return received.replace("\u2060", "").replace("\u2028", "\n").replace("\u00a0", " ")


def survived(original: str, received: str) -> int:
    """Characters of ``original`` found in ``received`` in order (difflib matching blocks)."""
    matcher = difflib.SequenceMatcher(None, original, received, autojunk=False)
    return sum(block.size for block in matcher.get_matching_blocks())


def _received(reply: str) -> str:
    return reply[len(PREFIX):] if reply.startswith(PREFIX) else ""


def post_raw(emu: Emulator, message: str, timeout: float = 10.0) -> str:
    """What the model gets when ``message`` is posted as-is (JSON answers only); "" if refused."""
    form = {
        "_wpnonce": emu.current_nonce,
        "post_id": str(emu.config.post_id),
        "url": emu.base_url,
        "action": "wpaicg_chat_shortcode_message",
        "message": message,
        "bot_id": "0",
    }
    response = requests.post(emu.ajax_url, data=form, timeout=timeout)
    try:
        payload = response.json()
    except ValueError:
        return ""
    data = payload.get("data") if isinstance(payload, dict) else None
    return _received(data) if isinstance(data, str) else ""


def post_with_client(client: Client, message: str) -> str:
    """What the model gets when ``message`` goes through :meth:`Client.ask`; "" if refused."""
    try:
        return _received(client.ask(message))
    except Chatgpt4oError:
        return ""


def measure(era: str, *, stream: bool = False, catalogue: Sequence[tuple[str, str]] = CATALOGUE) -> EraResult:
    """Send the catalogue through an emulator of ``era``, before and after the encoding.

    ``stream`` is the site's setting for the client's asks; the raw posts always use a JSON
    site (the model receives the same message either way).
    """
    results: list[PromptResult] = []
    with Emulator(era=era, stream=False, page_size=20_000) as raw_site, \
            Emulator(era=era, stream=stream, page_size=20_000) as site, \
            Client(site.base_url, max_retries=0, timeout=10) as client:
        for name, prompt in catalogue:
            results.append(PromptResult(name, prompt, post_raw(raw_site, prompt), post_with_client(client, prompt)))
    return EraResult(era, tuple(results))


def _table(results: Sequence[EraResult]) -> str:
    header = (f"{'era':<8} {'prompts':>7} {'chars':>6}  {'before %':>8} {'after %':>8} {'after ~%':>8}  "
              f"{'exact before':>12} {'exact after':>11}  {'added before':>12} {'added after':>11}")
    lines = [header, "-" * len(header)]
    for r in results:
        n = len(r.prompts)
        exact_before, exact_after = f"{r.exact('before')}/{n}", f"{r.exact('after')}/{n}"
        lines.append(
            f"{r.era:<8} {n:>7} {r.chars:>6}  {r.percent('before'):>8.1f} {r.percent('after'):>8.1f} "
            f"{r.percent_stand_ins():>8.1f}  "
            f"{exact_before:>12} {exact_after:>11}  {r.added('before'):>12} {r.added('after'):>11}"
        )
    return "\n".join(lines)


def _detail(result: EraResult) -> str:
    lines = [f"\n{result.era}: per prompt (survived characters / length; received text as JSON)"]
    for p in result.prompts:
        lines.append(f"  {p.name:<15} before {p.before_survived:>3}/{len(p.prompt):<3} {json.dumps(p.before, ensure_ascii=False)}")
        lines.append(f"  {'':<15} after  {p.after_survived:>3}/{len(p.prompt):<3} {json.dumps(p.after, ensure_ascii=False)}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--detail", action="store_true", help="also print every prompt as received")
    parser.add_argument("--stream", action="store_true", help="make the client's site stream (SSE)")
    args = parser.parse_args(argv)
    results = [measure(era, stream=args.stream) for era in ERAS]
    print("Prompt fidelity: characters of the prompt that reach the model unchanged, in order")
    print(f"({len(CATALOGUE)} prompts; before = posted as-is, after = chatgpt4o.Client.ask)\n")
    print(_table(results))
    if args.detail:
        for result in results:
            print(_detail(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

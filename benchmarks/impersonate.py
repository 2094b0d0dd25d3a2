"""The cost of looking like a browser: ``Client(impersonate=...)`` against the default adapter.

    python benchmarks/impersonate.py              # 7 rounds of 200 warm asks per side and era
    python benchmarks/impersonate.py --quick      # 3 rounds of 50
    python benchmarks/impersonate.py --era 2.4.71 # one generation only

Both plugin generations: 2.4.71 (AIPKit, the default era: a warm ask is two requests, the
cache POST and the GET of the event stream) and 1.8.96 (legacy: one POST). HTTPS with
keep-alive, the emulator in its own process on 127.0.0.1 (so the server does not share the
client's GIL). Each round times a warm client of each side asking ``--asks`` times, the order
alternating from round to round; a figure is the median over rounds, and the cost is reported
as a ratio to the default adapter on the same era. Connections are counted on an in-process
emulator (exact counters): new connections and requests per 100 warm asks, the target being
0 new connections. Needs the ``browser`` extra. Nothing here is asserted by the test suite.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks._common import EmulatorProcess, machine_facts, median, prompt
from chatgpt4o import Client
from chatgpt4o.emulator import Emulator

ERAS = ("2.4.71", "1.8.96")  # AIPKit (the default era), legacy


def timed(page_url: str, verify: bool | str, n: int, impersonate: str | None) -> float:
    """Seconds per ask over ``n`` warm asks (one untimed ask first)."""
    with Client(page_url, verify=verify, impersonate=impersonate) as client:
        client.ask("warm up")
        started = time.perf_counter()
        for i in range(n):
            if not client.ask(prompt(i)).startswith("echo: "):
                raise RuntimeError("unexpected answer")
        return (time.perf_counter() - started) / n


def new_connections(era: str, impersonate: str | None, n: int = 100) -> tuple[int, int]:
    """New TCP connections the emulator accepted, and requests it served, during ``n`` warm asks."""
    with Emulator(era=era, tls=True) as emu, Client(emu.page_url, verify=emu.ca_file or True,
                                                    impersonate=impersonate) as client:
        client.ask("warm up")
        before, requests_before = emu.stats["connections"], emu.stats["requests"]
        for i in range(n):
            client.ask(prompt(i))
        return int(emu.stats["connections"] - before), int(emu.stats["requests"] - requests_before)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 rounds of 50 asks")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--asks", type=int, default=None)
    parser.add_argument("--target", default="chrome", help="browser to impersonate (default chrome)")
    parser.add_argument("--era", action="append", choices=ERAS, help="era to measure (default: both)")
    args = parser.parse_args()
    rounds = args.rounds or (3 if args.quick else 7)
    asks = args.asks or (50 if args.quick else 200)
    sides: dict[str, str | None] = {"default": None, args.target: args.target}
    facts = machine_facts()
    print(f"# {facts['date']}, {facts['cpus']} CPUs, {facts['cpu_model']}, Python {sys.version.split()[0]}")
    print(f"# HTTPS keep-alive, emulator in its own process, {rounds} rounds x {asks} warm asks, medians")
    print(f"{'era':<8} {'adapter':<10} {'ms/ask':>8} {'ratio':>7} {'new conns/100 asks':>19} {'requests/100 asks':>18}")
    for era in args.era or ERAS:
        per_ask: dict[str, list[float]] = {name: [] for name in sides}
        with EmulatorProcess(tls=True, era=era) as emu:
            for r in range(rounds):
                order = list(sides) if r % 2 == 0 else list(reversed(sides))
                for name in order:
                    per_ask[name].append(timed(emu.page_url, emu.verify, asks, sides[name]))
        base = median(per_ask["default"])
        for name, impersonate in sides.items():
            value = median(per_ask[name])
            conns, served = new_connections(era, impersonate)
            print(f"{era:<8} {name:<10} {value * 1000:8.3f} {value / base:7.2f} {conns:>19} {served:>18}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

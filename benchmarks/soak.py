"""The long fault soak, and the reliability figures for the README.

Runs the same soak as ``tests/test_reliability.py`` (one shared Client, many threads, an
emulator injecting random faults with nonce rotation), only longer, and prints: faults
injected, asks lost (target 0), hangs (target 0), failures against the retry budget's
prediction, and the sizes of the bad-input and hostile-response catalogues.

Usage::

    python benchmarks/soak.py                      # 20,000 asks, 32 threads
    python benchmarks/soak.py --asks 5000 --threads 16 --seed 1
"""

from __future__ import annotations

import argparse
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from tests.test_bad_input import BAD_INPUTS
from tests.test_hostile import HOSTILE
from tests.test_reliability import (
    ASK_TIMEOUT,
    FAULT_MIX,
    FAULT_RATE,
    MAX_RETRIES,
    ROTATE_EVERY,
    SLOW_SECONDS,
    binomial_bound,
    run_soak,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--asks", type=int, default=20_000)
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--fault-rate", type=float, default=FAULT_RATE)
    args = parser.parse_args(argv)

    print(
        f"soak: {args.asks} asks from {args.threads} threads, fault rate {args.fault_rate:.0%} "
        f"({', '.join(FAULT_MIX)}), nonce rotation every {ROTATE_EVERY} requests, "
        f"timeout {ASK_TIMEOUT:g} s (slow bodies stall {SLOW_SECONDS:g} s), max_retries {MAX_RETRIES}, "
        f"seed {args.seed}",
        flush=True,
    )
    result = run_soak(args.asks, args.threads, seed=args.seed, fault_rate=args.fault_rate)
    low, high = binomial_bound(result.asks, result.predicted_p)
    stats = result.stats
    rows = [
        ("asks", f"{result.asks}"),
        ("wall time", f"{result.seconds:.1f} s ({result.asks / result.seconds:.0f} asks/s)"),
        ("ajax posts (incl. retries)", f"{stats['ajax_posts']}"),
        ("faults injected", f"{stats['faults_injected']} ({stats['faults_injected'] / stats['ajax_posts']:.1%} of posts)"),
        ("answers by status (0 = no answer)", f"{dict(sorted(stats['status_counts'].items()))}"),
        ("stale nonces met / page fetches", f"{stats['stale_nonce']} / {stats['page_fetches']}"),
        ("answered correctly", f"{result.answered}"),
        ("failed with one typed error", f"{result.failures} {dict(result.errors)}"),
        ("failures predicted", f"{result.predicted:.1f} (accepted {low:.0f}..{high:.0f})"),
        ("wrong answers (crossed)", f"{result.wrong_answers}"),
        ("asks lost (untyped or none)", f"{len(result.lost)}"),
        ("unexpected typed errors", f"{sum(result.unexpected_errors.values())}"),
        ("hangs (past timeout + 1.5 s)", f"{result.hangs}"),
        ("slowest ask", f"{result.slowest:.2f} s (timeout {ASK_TIMEOUT:g} s)"),
        ("bad inputs tried (catalogue)", f"{len(BAD_INPUTS)}"),
        ("hostile responses tried (catalogue)", f"{len(HOSTILE)}"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    for item in result.lost[:10]:
        print(f"  lost: {item}")
    ok = (
        not result.lost and result.hangs == 0 and result.wrong_answers == 0
        and not result.unexpected_errors and low <= result.failures <= high
    )
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

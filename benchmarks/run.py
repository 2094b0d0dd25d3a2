"""Run every benchmark of issue 6 side by side and print one table.

    python benchmarks/run.py            # the full run (a few minutes on 2 cores)
    python benchmarks/run.py --quick    # a short smoke run (fewer asks and rounds)
    python benchmarks/run.py --json out.json --g4f-python /tmp/g4fenv/bin/python

Everything runs against the bundled emulator on 127.0.0.1, over HTTPS (a self-signed certificate,
verified: the client gets ``verify=<its CA file>``) and over plain HTTP. Timed figures use an
emulator in its own process; counted figures use an in-process emulator, whose counters are exact.
Figures are ratios against anchors measured in the same run, never absolute times alone:

- anchor (a): a minimal loop over one ``requests.Session`` posting the full form with a nonce
  read once (``_common.anchor_a``), the floor for any requests-based client;
- anchor (b): gpt4free's ``Chatgpt4o`` provider (``g4f==6.7.1``) in a subprocess run by the
  Python given with ``--g4f-python`` or ``$G4F_PYTHON`` (default ``/tmp/g4fenv/bin/python`` when it
  exists; ``benchmarks/setup_g4f_env.sh`` makes it), else a re-creation of its request pattern
  (see ``anchor_g4f.py``). The table says which anchor ran.

Sides are interleaved: each round runs ours, (a) and (b) one after the other, the order rotating
from round to round, and each figure is the median over the rounds, so drifting noise hits every
side alike. Nothing here is asserted by the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import timeit
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import _common
from _common import HERE, ROOT, EmulatorProcess, child_env, median


@dataclass
class Row:
    figure: str
    measured: str
    target: str
    ok: bool | None  # None: reported, no target

    @property
    def verdict(self) -> str:
        return "report" if self.ok is None else ("yes" if self.ok else "NO")


@dataclass
class Report:
    facts: dict[str, Any]
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)

    def add(self, figure: str, measured: str, target: str, ok: bool | None) -> None:
        self.rows.append(Row(figure, measured, target, ok))
        print(f"  {figure}: {measured}  (target {target}: {Row(figure, measured, target, ok).verdict})", flush=True)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- figures


def counts(report: Report, n: int) -> None:
    """Requests and new TCP connections per warm ask, from the emulator's counters."""
    from chatgpt4o import Client
    from chatgpt4o.emulator import Emulator

    for scheme, tls in (("HTTPS", True), ("HTTP", False)):
        with Emulator(era="1.8.96", tls=tls) as emu, Client(emu.page_url, verify=emu.ca_file or True) as client:
            client.ask("warm up")
            emu.reset_stats()
            for i in range(n):
                client.ask(_common.prompt(i))
            stats = emu.stats
        per_request = stats["requests"] / n
        per_connection = stats["connections"] / n
        report.raw[f"counts_{scheme}"] = stats
        report.add(f"requests per warm ask, {scheme}", f"{per_request:g}", "1", per_request == 1)
        report.add(f"new connections per warm ask, {scheme}", f"{per_connection:g}", "0", stats["connections"] == 0)


def _ask_after(barrier: threading.Barrier, client: Any, i: int, answers: list[str]) -> None:
    barrier.wait()
    answers[i] = client.ask(_common.prompt(i))


def rotation(report: Report, n: int) -> None:
    """``n`` asks fired at once right after a nonce rotation: the page is read once."""
    from chatgpt4o import Client
    from chatgpt4o.emulator import Emulator

    for scheme, tls in (("HTTPS", True), ("HTTP", False)):
        with Emulator(era="1.8.96", tls=tls) as emu, Client(emu.page_url, verify=emu.ca_file or True) as client:
            client.ask("warm up")
            emu.rotate_nonce()
            emu.reset_stats()
            barrier = threading.Barrier(n)
            answers: list[str] = [""] * n
            threads = [threading.Thread(target=_ask_after, args=(barrier, client, i, answers)) for i in range(n)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)
            stats = emu.stats
        good = sum(a.startswith("echo: ") for a in answers)
        report.raw[f"rotation_{scheme}"] = stats
        report.notes.append(f"nonce rotation, {scheme}: {n} asks fired together after the rotation; "
                            f"{stats['stale_nonce']} got the stale-nonce 403, then {stats['page_fetches']} page "
                            f"fetch(es), {stats['ajax_posts']} posts in all")
        report.add(
            f"page fetches, {n} asks across a nonce rotation, {scheme}",
            f"{stats['page_fetches']} ({good}/{n} answered)",
            "exactly 1", stats["page_fetches"] == 1 and good == n,
        )


class G4FAnchor:
    """The anchor (b) subprocess, kept alive between rounds."""

    def __init__(self, python: str, url: str, ca_file: str | None, mode: str) -> None:
        self._proc = subprocess.Popen(
            [python, os.path.join(HERE, "anchor_g4f.py"), "--url", url, "--serve", "--mode", mode],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=child_env(ca_file), cwd=HERE,
        )
        ready = self._read()
        self.label = str(ready["anchor"])

    def _read(self) -> dict[str, Any]:
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            assert self._proc.stderr is not None
            raise RuntimeError(f"anchor (b) failed: {self._proc.stderr.read()[-2000:]}")
        return dict(json.loads(line))

    def run(self, n: int) -> float:
        assert self._proc.stdin is not None
        self._proc.stdin.write(json.dumps({"n": n}) + "\n")
        self._proc.stdin.flush()
        return float(self._read()["seconds"])

    def close(self) -> None:
        if self._proc.poll() is None:
            assert self._proc.stdin is not None
            try:
                self._proc.stdin.write('{"quit": true}\n')
                self._proc.stdin.flush()
                self._proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self._proc.kill()
                self._proc.wait(timeout=10)


def sequential(report: Report, emu: EmulatorProcess, scheme: str, n: int, rounds: int,
               g4f_python: str, g4f_mode: str) -> None:
    anchor_b = G4FAnchor(g4f_python, emu.base_url, emu.ca_file, g4f_mode)
    report.notes.append(f"anchor (b), {scheme}: {anchor_b.label} (run by {g4f_python})")
    sides: dict[str, Callable[[], float]] = {
        "ours": lambda: _common.ours(emu.page_url, emu.verify, n),
        "a": lambda: _common.anchor_a(emu.page_url, emu.verify, n),
        "b": lambda: anchor_b.run(n),
    }
    times: dict[str, list[float]] = {name: [] for name in sides}
    try:
        for side in sides.values():  # one untimed pass each: caches, page, imports
            side()
        order = list(sides)
        for r in range(rounds):
            for name in order[r % 3:] + order[: r % 3]:
                times[name].append(sides[name]())
    finally:
        anchor_b.close()
    med = {name: median(values) for name, values in times.items()}
    report.raw[f"sequential_{scheme}"] = {"n": n, "rounds": rounds, "seconds": times}
    spread = statistics.pstdev(times["ours"]) / med["ours"] if rounds > 1 else 0.0
    per_ask = ", ".join(f"{name} {med[name] / n * 1000:.2f} ms" for name in sides)
    report.notes.append(f"{n} sequential asks, {scheme}, zero latency, median of {rounds} rounds (ours spread "
                        f"±{spread:.0%}), per ask: {per_ask}")
    ratio_a = med["ours"] / med["a"]
    ratio_b = med["ours"] / med["b"]
    report.add(f"{n} asks, {scheme}: ours / (a)", f"{ratio_a:.2f}",
               "<= 1.15", ratio_a <= 1.15)
    target = 0.5 if scheme == "HTTPS" else 0.75
    report.add(f"{n} asks, {scheme}: ours / (b)", f"{ratio_b:.2f}", f"<= {target}", ratio_b <= target)


def _worker(args: list[str], ca_file: str | None = None) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, os.path.join(HERE, "_worker.py"), *args], capture_output=True, text=True,
        env=child_env(ca_file), cwd=HERE, timeout=600, check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"worker {args[0]} failed: {out.stderr[-2000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def concurrency(report: Report, emu: EmulatorProcess, scheme: str, n: int, latency: float) -> None:
    emu.configure(latency=latency)
    try:
        result = _worker(["concurrent", "--url", emu.page_url, "--n", str(n)], emu.ca_file)
        naive = _worker(["to_thread", "--url", emu.page_url, "--n", str(n)]
                        + (["--ca", emu.ca_file] if emu.ca_file else []))
    finally:
        emu.configure(latency=0.0)
    bundle_cold: float | None = None
    if emu.ca_file:
        # Real sites are checked against a full CA bundle (certifi: ~120 certificates), not one
        # certificate: measure the cold burst with certifi's bundle plus the emulator's CA.
        import certifi

        with tempfile.TemporaryDirectory() as tmp:
            bundle = os.path.join(tmp, "bundle.pem")
            with open(bundle, "wb") as out:
                for path in (certifi.where(), emu.ca_file):
                    with open(path, "rb") as part:
                        out.write(part.read() + b"\n")
            emu.configure(latency=latency)
            try:
                bundle_cold = _worker(["concurrent", "--url", emu.page_url, "--n", str(n)], bundle)["cold"] / latency
            finally:
                emu.configure(latency=0.0)
    warm = median(result["warm"]) / latency
    cold = result["cold"] / latency
    report.raw[f"concurrency_{scheme}"] = {"create_async": result, "to_thread": naive}
    report.notes.append(
        f"{n} concurrent create_async, {latency * 1000:.0f} ms server latency, {scheme}: warm batches "
        + ", ".join(f"{w:.3f}" for w in result["warm"]) + f" s; cold (first call in a fresh process, after "
        f"import: page fetch, page parser import, {n} new connections) {result['cold']:.3f} s; "
        f"asyncio.to_thread over Client.ask on the default executor ({naive['default_workers']} threads) "
        f"{naive['wall']:.3f} s")
    report.add(f"{n} x create_async, {scheme}: wall / {latency * 1000:.0f} ms",
               f"{warm:.2f}", "<= 1.5", warm <= 1.5)
    report.add(f"  the same, cold process, {scheme}",
               f"{cold:.2f}", "<= 1.5", cold <= 1.5)
    if bundle_cold is not None:
        report.add(f"  the same, cold, full CA bundle, {scheme}", f"{bundle_cold:.2f}", "<= 1.5", bundle_cold <= 1.5)
    report.add(f"  asyncio.to_thread(ask) x {n} ({naive['default_workers']} threads), {scheme}",
               f"{naive['wall'] / latency:.2f}", "report", None)


def extraction(report: Report, emu: EmulatorProcess, repeat: int) -> None:
    import requests

    from chatgpt4o.protocols.wpaicg import parse_page

    emu.configure(page_size=500_000)
    try:
        html = requests.get(emu.page_url, verify=emu.verify, timeout=30).text
    finally:
        emu.configure(page_size=300_000)
    url = emu.page_url
    nonce, post_id, anchored = _common.NONCE_RE, _common.POST_ID_RE, _common.ANCHORED_NONCE_RE
    tokens = parse_page(html, url)
    assert nonce.search(html) and tokens.nonce == nonce.search(html).group(1)  # type: ignore[union-attr]

    def ours() -> None:
        parse_page(html, url)

    def pair() -> None:
        post_id.search(html)
        nonce.search(html)

    def single() -> None:
        anchored.search(html)

    def best(fn: Callable[[], None]) -> float:
        number = 20
        return min(timeit.repeat(fn, number=number, repeat=repeat)) / number

    t_ours, t_pair, t_single = [], [], []
    for _ in range(3):  # interleaved
        t_ours.append(best(ours))
        t_pair.append(best(pair))
        t_single.append(best(single))
    o, p, s = min(t_ours), min(t_pair), min(t_single)
    report.raw["extraction"] = {"page_bytes": len(html.encode()), "ours": o, "pair": p, "single": s}
    box_at = html.find('class="wpaicg-chat-shortcode"')
    report.notes.append(
        f"token extraction from a {len(html.encode()) / 1000:.0f} KB page (chat box at "
        f"{box_at / 1000:.0f} KB): parse_page {o * 1e6:.0f} us, the two "
        f"third-party regexes {p * 1e6:.0f} us, one anchored regex {s * 1e6:.0f} us"
    )
    report.add("500 KB page: parse_page / 2 regexes (g4f)", f"{o / p:.2f}", "<= 3", o / p <= 3)
    report.add("  parse_page / 1 anchored regex", f"{o / s:.2f}", "<= 3", o / s <= 3)


_IMPORT_CODE = "import time; t = time.perf_counter(); {stmt}; print(time.perf_counter() - t)"


def imports(report: Report, runs: int) -> None:
    statements = {"requests": "import requests", "chatgpt4o": "import chatgpt4o",
                  "Client": "from chatgpt4o import Client"}
    times: dict[str, list[float]] = {name: [] for name in statements}
    env = child_env()
    for _ in range(runs):
        for name, stmt in statements.items():  # interleaved, each in a fresh interpreter
            out = subprocess.run([sys.executable, "-c", _IMPORT_CODE.format(stmt=stmt)], capture_output=True,
                                 text=True, env=env, cwd=ROOT, check=True)
            times[name].append(float(out.stdout.strip()))
    med = {name: median(v) for name, v in times.items()}
    report.raw["imports"] = times
    report.notes.append(f"import time, median of {runs} fresh interpreters: "
                        + ", ".join(f"{stmt} {med[name] * 1000:.1f} ms" for name, stmt in statements.items()))
    report.add("import chatgpt4o / import requests", f"{med['chatgpt4o'] / med['requests']:.2f}", "<= 1.5",
               med["chatgpt4o"] / med["requests"] <= 1.5)
    report.add("  from chatgpt4o import Client / same", f"{med['Client'] / med['requests']:.2f}",
               "report", None)


def memory(report: Report, emu: EmulatorProcess, asks: int, n: int, noise_mb: float) -> None:
    step = max(asks // 10, 1)
    result = _worker(["rss", "--url", emu.page_url, "--asks", str(asks), "--n", str(n), "--step", str(step)]
                     + (["--ca", emu.ca_file] if emu.ca_file else []))
    report.raw["rss"] = result
    samples = result["samples"]
    first, last = samples[0][1], samples[-1][1]
    growth = (last - first) / 1024
    report.add(f"peak RSS, {n} concurrent asks, HTTPS", f"{result['peak_kb'] / 1024:.1f} MB", "report", None)
    report.add(f"RSS growth, ask {samples[0][0]} to {samples[-1][0]}",
               f"{growth:+.2f} MB", f"<= {noise_mb:g} MB", growth <= noise_mb)
    report.notes.append(f"RSS, HTTPS: {result['before_kb'] / 1024:.1f} MB after the first ask, peak "
                        f"{result['peak_kb'] / 1024:.1f} MB around {n} concurrent asks, "
                        f"{result['after_burst_kb'] / 1024:.1f} MB after them")
    report.notes.append("RSS samples (asks, MB): " + ", ".join(f"{a}: {kb / 1024:.1f}" for a, kb in samples))


# ---------------------------------------------------------------- output


def rst_table(report: Report) -> str:
    header = ("figure", "measured", "target", "met")
    rows = [(r.figure, r.measured, r.target, r.verdict) for r in report.rows]
    widths = [max(len(header[i]), *(len(row[i]) for row in rows)) for i in range(4)]
    rule = "  ".join("=" * w for w in widths)

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([rule, line(header), rule, *(line(r) for r in rows), rule])


def facts_text(facts: dict[str, Any]) -> str:
    return (f"{facts['date']}; {facts['cpus']} CPUs ({facts['cpu_model']}); {facts['implementation']} "
            f"{facts['python']} on {facts['platform']}; requests {facts['requests']}, urllib3 {facts['urllib3']}")


def default_g4f_python() -> str:
    env = os.environ.get("G4F_PYTHON")
    if env:
        return env
    candidate = "/tmp/g4fenv/bin/python"
    return candidate if os.path.exists(candidate) else sys.executable


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--g4f-python", default=default_g4f_python(),
                        help="Python with g4f==6.7.1 and curl_cffi (default: $G4F_PYTHON, /tmp/g4fenv/bin/python)")
    parser.add_argument("--g4f-mode", choices=("auto", "g4f", "recreate"), default="auto",
                        help="anchor (b): the real provider if it loads (auto), or insist on one")
    parser.add_argument("--json", metavar="FILE", help="also write every raw number to FILE")
    parser.add_argument("--only", nargs="*", metavar="FIGURE",
                        choices=("sequential", "counts", "rotation", "concurrency", "extraction", "imports", "memory"),
                        help="run only these figures")
    args = parser.parse_args(argv)

    quick = args.quick
    seq_n, rounds = (100, 2) if quick else (300, 7)
    wanted = set(args.only or ("sequential", "counts", "rotation", "concurrency", "extraction", "imports", "memory"))
    report = Report(_common.machine_facts())
    log(f"machine: {facts_text(report.facts)}")
    started = time.perf_counter()
    with EmulatorProcess(tls=True) as https, EmulatorProcess(tls=False) as http:
        if "sequential" in wanted:
            for emu, scheme in ((https, "HTTPS"), (http, "HTTP")):
                log(f"sequential asks over {scheme} ({seq_n} x {rounds} rounds)...")
                sequential(report, emu, scheme, seq_n, rounds, args.g4f_python, args.g4f_mode)
        if "counts" in wanted:
            log("requests and connections per warm ask...")
            counts(report, 20 if quick else 100)
        if "rotation" in wanted:
            log("concurrent asks across a nonce rotation...")
            rotation(report, 64)
        if "concurrency" in wanted:
            for emu, scheme in ((https, "HTTPS"), (http, "HTTP")):
                log(f"64 concurrent create_async over {scheme}...")
                concurrency(report, emu, scheme, 64, 0.3)
        if "extraction" in wanted:
            log("token extraction...")
            extraction(report, http, 3 if quick else 7)
        if "imports" in wanted:
            log("import times...")
            imports(report, 5 if quick else 21)
        if "memory" in wanted:
            log("memory...")
            memory(report, https, 1000 if quick else 5000, 64, 2.0)
    elapsed = time.perf_counter() - started

    print()
    print(f"Machine: {facts_text(report.facts)}")
    print(f"Command: python benchmarks/run.py{' --quick' if quick else ''} ({elapsed:.0f} s)")
    print()
    print(rst_table(report))
    print()
    for note in report.notes:
        print(f"- {note}")
    missed = [r.figure for r in report.rows if r.ok is False]
    print()
    print("targets missed: " + ("; ".join(missed) if missed else "none"))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"facts": report.facts, "quick": quick, "seconds": elapsed,
                       "rows": [r.__dict__ for r in report.rows], "notes": report.notes, "raw": report.raw},
                      handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

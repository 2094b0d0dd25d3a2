"""The OpenAI-compatible gateway's figures (issue 14), side by side in one run.

    python benchmarks/gateway.py            # the full run (about half a minute on 2 cores)
    python benchmarks/gateway.py --quick    # a short smoke run

The emulator (plain HTTP) and the gateway (``python -m chatgpt4o serve``) each run in their own
process; the callers run here. Figures are ratios between sides measured in the same run:

1. Overhead per request at zero server latency: a request through the gateway against a direct
   ``Client.ask`` to the same emulator (target at most 1.3). The gateway side is measured with a
   lean HTTP caller (``http.client`` on one persistent connection: what the gateway itself adds;
   also with a new connection per request), with ``requests`` and with the ``openai`` package
   (what a user of it sees, the package's own cost included). The floor is the same server with
   an empty application: the HTTP hop alone. Rounds interleave the sides, the order rotating;
   each figure is the median over the rounds of the per-request median.
2. 32 concurrent ``openai`` clients, one request each, with 300 ms of server latency: wall time
   of the burst against one request alone (target at most 1.5).

Nothing here is asserted by the test suite.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import _common
import openai
import requests
from _common import ROOT, EmulatorProcess, child_env, median

from chatgpt4o import Client
from chatgpt4o.gateway import create_app


class GatewayProcess:
    """``python -m chatgpt4o serve --base-url <site> --port 0`` in a child process."""

    def __init__(self, site: str) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "chatgpt4o", "serve", "--base-url", site, "--port", "0", "--retries", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=child_env(), cwd=ROOT,
        )
        assert self._proc.stdout is not None
        self.url = self._proc.stdout.readline().strip()
        if not self.url.startswith("http"):
            self.stop()
            raise RuntimeError(f"the gateway did not start: {self.url!r}")

    def stop(self) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait(timeout=10)


def _per_request(call: Callable[[int], object], n: int) -> float:
    times = []
    for i in range(n):
        started = time.perf_counter()
        call(i)
        times.append(time.perf_counter() - started)
    return median(times)


def overhead(emulator: EmulatorProcess, gateway: GatewayProcess, n: int, rounds: int) -> dict[str, float]:
    """Median seconds per request of each side at zero server latency."""
    emulator.configure(latency=0.0)
    direct = Client(emulator.base_url, max_retries=0)
    api = openai.OpenAI(base_url=gateway.url, api_key="x", max_retries=0)
    parts = urlsplit(gateway.url)
    lean = requests.Session()
    lean.trust_env = False

    def post(conn: http.client.HTTPConnection, i: int) -> object:
        body = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": _common.prompt(i)}]})
        conn.request("POST", parts.path + "/chat/completions", body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {data[:200]!r}")
        return json.loads(data)["choices"][0]["message"]["content"]

    kept = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)

    def via_http_client(i: int) -> object:
        # The leanest Python caller, on one persistent connection: what is left is what the gateway adds.
        return post(kept, i)

    def via_http_client_fresh(i: int) -> object:
        # The same with a new connection per request (a TCP connect each time).
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
        try:
            return post(conn, i)
        finally:
            conn.close()

    def via_requests(i: int) -> object:
        response = lean.post(gateway.url + "/chat/completions", json={"model": "gpt-4o-mini", "messages": [
            {"role": "user", "content": _common.prompt(i)}]}, timeout=30)
        response.raise_for_status()
        return response.json()["choices"][0]["message"]["content"]

    app = create_app(Client(emulator.base_url, max_retries=0))

    def in_process(i: int) -> object:
        # The WSGI application called directly: its own cost, without any socket or server.
        body = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": _common.prompt(i)}]})
        data = body.encode()
        environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/v1/chat/completions",
                   "CONTENT_LENGTH": str(len(data)), "wsgi.input": io.BytesIO(data)}
        return json.loads(b"".join(app(environ, lambda status, headers: None)))

    floor = EmptyAppProcess()
    floor_parts = urlsplit(floor.url)
    floor_kept = http.client.HTTPConnection(floor_parts.hostname or "127.0.0.1", floor_parts.port, timeout=30)
    floor_api = openai.OpenAI(base_url=floor.url, api_key="x", max_retries=0)

    def trivial(conn: http.client.HTTPConnection) -> object:
        conn.request("POST", "/v1/chat/completions", body=b'{"messages": []}', headers={"Content-Type": "application/json"})
        return conn.getresponse().read()

    def trivial_fresh(i: int) -> object:
        conn = http.client.HTTPConnection(floor_parts.hostname or "127.0.0.1", floor_parts.port, timeout=30)
        try:
            return trivial(conn)
        finally:
            conn.close()

    sides: dict[str, Callable[[int], object]] = {
        "direct Client.ask": lambda i: direct.ask(_common.prompt(i)),
        "gateway app, in-process": in_process,
        "empty app, same server": lambda i: trivial(floor_kept),
        "empty app, new connection": trivial_fresh,
        "empty app, openai package": lambda i: floor_api.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": _common.prompt(i)}]),
        "gateway, http.client POST": via_http_client,
        "gateway, http.client, new conn": via_http_client_fresh,
        "gateway, requests POST": via_requests,
        "gateway, openai package": lambda i: api.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": _common.prompt(i)}]),
    }
    for call in sides.values():  # warm up: page read, imports, connection pools
        for i in range(5):
            call(i)
    results: dict[str, list[float]] = {name: [] for name in sides}
    names = list(sides)
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            results[name].append(_per_request(sides[name], n))
    direct.close()
    app.close()
    kept.close()
    floor_kept.close()
    floor.stop()
    return {name: median(values) for name, values in results.items()}


_EMPTY_APP = """
from chatgpt4o.gateway import make_server

BODY = (b'{"id":"chatcmpl-0","object":"chat.completion","created":0,"model":"gpt-4o-mini","choices":'
        b'[{"index":0,"message":{"role":"assistant","content":"x","refusal":null},"logprobs":null,'
        b'"finish_reason":"stop"}]}')

def app(environ, start_response):
    environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))])
    return [BODY]

server = make_server(app, "127.0.0.1", 0)
print(server.url, flush=True)
server.serve_forever(poll_interval=0.2)
"""


class EmptyAppProcess:
    """The gateway's server with an application that answers at once, in its own process like
    the gateway: the cost of the HTTP hop alone."""

    def __init__(self) -> None:
        self._proc = subprocess.Popen([sys.executable, "-c", _EMPTY_APP], stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL, text=True, env=child_env(), cwd=ROOT)
        assert self._proc.stdout is not None
        self.url = self._proc.stdout.readline().strip()
        if not self.url.startswith("http"):
            self.stop()
            raise RuntimeError(f"the empty application's server did not start: {self.url!r}")

    def stop(self) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait(timeout=10)


def concurrency(emulator: EmulatorProcess, gateway: GatewayProcess, clients: int, rounds: int) -> tuple[float, float]:
    """(seconds of one request alone, wall seconds of ``clients`` concurrent requests), medians."""
    emulator.configure(latency=0.3)
    apis = [openai.OpenAI(base_url=gateway.url, api_key="x", max_retries=0, timeout=60) for _ in range(clients)]

    def one(api: openai.OpenAI, i: int) -> None:
        api.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": _common.prompt(i)}])

    one(apis[0], 0)
    singles, walls = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        one(apis[0], 1)
        singles.append(time.perf_counter() - started)
        barrier = threading.Barrier(clients + 1)
        errors: list[BaseException] = []

        def run(api: openai.OpenAI, i: int, barrier: threading.Barrier = barrier,
                errors: list[BaseException] = errors) -> None:
            barrier.wait()
            try:
                one(api, i)
            except BaseException as error:  # noqa: BLE001 - counted and reported
                errors.append(error)

        threads = [threading.Thread(target=run, args=(api, i)) for i, api in enumerate(apis)]
        for thread in threads:
            thread.start()
        barrier.wait()
        started = time.perf_counter()
        for thread in threads:
            thread.join()
        walls.append(time.perf_counter() - started)
        if errors:
            raise RuntimeError(f"{len(errors)} of {clients} concurrent requests failed: {errors[0]!r}")
    return median(singles), median(walls)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer requests and rounds")
    args = parser.parse_args()
    n, rounds, burst_rounds = (20, 3, 2) if args.quick else (100, 7, 5)
    facts = _common.machine_facts()
    print(f"# gateway figures — {facts['date']}, {facts['cpus']} CPUs ({facts['cpu_model']}), "
          f"Python {facts['python']}, openai {openai.__version__}")
    with EmulatorProcess(tls=False) as emulator:
        gateway = GatewayProcess(emulator.base_url)
        try:
            times = overhead(emulator, gateway, n, rounds)
            single, wall = concurrency(emulator, gateway, 32, burst_rounds)
        finally:
            gateway.stop()
    base = times["direct Client.ask"]
    print(f"\n1. per request at zero server latency ({rounds} rounds x {n} requests, median of medians)")
    for name, seconds in times.items():
        print(f"   {name:<31} {seconds * 1000:7.2f} ms   x{seconds / base:.2f}")
    lean_ratio = times["gateway, http.client POST"] / base
    app_ratio = times["gateway app, in-process"] / base
    hop = times["empty app, same server"]
    print(f"   the application alone (in-process) / direct: {app_ratio:.2f} (target <= 1.3: "
          f"{'yes' if app_ratio <= 1.3 else 'NO'})")
    print(f"   the bare HTTP hop (empty app, same server, persistent connection): {hop * 1000:.2f} ms, "
          f"so no gateway behind this server can go below (direct + hop) / direct = {(base + hop) / base:.2f}; "
          f"with a new connection per request the hop is {times['empty app, new connection'] * 1000:.2f} ms")
    api_hop = times["empty app, openai package"]
    print(f"   with the openai package as caller the floor is (direct + {api_hop * 1000:.2f} ms) / direct = "
          f"{(base + api_hop) / base:.2f}: the package's own work per call, not the server's")
    print(f"   gateway / direct: {lean_ratio:.2f} (target <= 1.3: {'yes' if lean_ratio <= 1.3 else 'NO'}); "
          f"added by the gateway: {(times['gateway, http.client POST'] - base) * 1000:.2f} ms per request")
    print(f"   with other callers: http.client, new connection each {times['gateway, http.client, new conn'] / base:.2f}; "
          f"requests {times['gateway, requests POST'] / base:.2f}; openai package {times['gateway, openai package'] / base:.2f} "
          f"(target <= 1.3: {'yes' if times['gateway, openai package'] / base <= 1.3 else 'NO'}; the package's own "
          "cost per call is included)")
    ratio = wall / single
    print(f"\n2. 32 concurrent openai clients, 300 ms server latency ({burst_rounds} rounds, medians)")
    print(f"   one request alone {single * 1000:.0f} ms; 32 at once {wall * 1000:.0f} ms wall")
    print(f"   wall / one request: {ratio:.2f} (target <= 1.5: {'yes' if ratio <= 1.5 else 'NO'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

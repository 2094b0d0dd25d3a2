"""Shared pieces of the benchmark suite: the emulator in its own process, anchor (a), statistics.

The emulator runs in a separate process (``python -m chatgpt4o.emulator``) for every timed
figure, so that the server's work does not compete with the client under test for one GIL:
on a 2-core machine the server gets one core, the client the other. Figures that only count
(requests per ask, page fetches) use an in-process :class:`~chatgpt4o.emulator.Emulator`,
whose counters are exact (no control request ever lands in them).
"""

from __future__ import annotations

import json
import os
import platform
import random
import re
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# The two regexes third-party clients (gpt4free's Chatgpt4o provider among them) use.
POST_ID_RE = re.compile(r'data-post-id="([0-9]+)"')
NONCE_RE = re.compile(r'data-nonce="(.*?)"')
# One scan anchored on the chat box's class: the cheapest correct single-regex reader.
ANCHORED_NONCE_RE = re.compile(r'class="wpaicg-chat-shortcode"[^>]*?data-nonce="([^"]*)"')

ACTION = "wpaicg_chat_shortcode_message"


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def machine_facts() -> dict[str, Any]:
    """What a reader needs to compare a run with theirs."""
    import requests as _requests
    import urllib3

    cpu_model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu_model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model or platform.processor() or "unknown",
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(terse=True),
        "requests": _requests.__version__,
        "urllib3": getattr(urllib3, "__version__", "?"),
    }


def child_env(ca_file: str | None = None) -> dict[str, str]:
    """The environment for a child process; ``ca_file`` becomes the trusted bundle for every
    library that reads one from the environment (requests, curl_cffi, OpenSSL)."""
    env = dict(os.environ)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        env.pop(name, None)
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    if ca_file:
        for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
            env[name] = ca_file
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return env


class EmulatorProcess:
    """``python -m chatgpt4o.emulator`` in a child process, controlled over its HTTP endpoints."""

    def __init__(self, *, tls: bool, page_size: int = 300_000, era: str = "1.8.96") -> None:
        self.tls = tls
        args = [sys.executable, "-m", "chatgpt4o.emulator", "--era", era, "--host", "127.0.0.1", "--port", "0",
                "--page-size", str(page_size)]
        if tls:
            args.append("--tls")
        self._proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env(), cwd=ROOT,
        )
        assert self._proc.stdout is not None and self._proc.stderr is not None
        self.base_url = self._proc.stdout.readline().strip()
        if not self.base_url.startswith("http"):
            err = self._proc.stderr.read() if self._proc.poll() is not None else ""
            self.stop()
            raise RuntimeError(f"the emulator did not start: {self.base_url!r} {err}")
        self.ca_file: str | None = None
        if tls:
            line = self._proc.stderr.readline().strip()
            self.ca_file = line.rsplit(": ", 1)[-1]
        self.page_url = self.base_url + "/"
        self.ajax_url = self.base_url + "/wp-admin/admin-ajax.php"
        self._control = requests.Session()
        self._control.trust_env = False

    @property
    def verify(self) -> bool | str:
        return self.ca_file or True

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self._control.request(
            method, self.base_url + path, data=json.dumps(body) if body is not None else None,
            verify=self.verify, timeout=30,
        )
        response.raise_for_status()
        return response.json()

    def configure(self, **changes: Any) -> None:
        self._call("POST", "/__emulator__/config", changes)

    def rotate(self) -> None:
        self._call("POST", "/__emulator__/rotate")

    def stats(self) -> dict[str, Any]:
        return dict(self._call("GET", "/__emulator__/stats"))

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the emulator's process has used so far; 0.0 where /proc is missing."""
        try:
            with open(f"/proc/{self._proc.pid}/stat", encoding="ascii") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime

    def stop(self) -> None:
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)
        self._control.close()

    def __enter__(self) -> EmulatorProcess:  # noqa: PYI034 (typing.Self needs 3.11)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def prompt(i: int) -> str:
    return f"Benchmark question number {i}: what is {i} plus {i}?"


def anchor_a(page_url: str, verify: bool | str, n: int) -> float:
    """Anchor (a): the floor for a requests-based client.

    One ``requests.Session``, the nonce read once (not timed), then ``n`` posts of the full form
    (every field the page's script sends) and ``resp.json()["data"]``. ``verify`` is passed per
    request because requests lets ``REQUESTS_CA_BUNDLE`` override a session's ``verify``.
    Returns the seconds the ``n`` asks took.
    """
    origin = page_url.split("/", 3)
    ajax_url = "/".join(origin[:3]) + "/wp-admin/admin-ajax.php"
    with requests.Session() as session:
        html = session.get(page_url, verify=verify, timeout=30).text
        nonce_match, post_match = NONCE_RE.search(html), POST_ID_RE.search(html)
        if nonce_match is None or post_match is None:
            raise RuntimeError("anchor (a): no nonce or post id on the page")
        nonce, post_id = nonce_match.group(1), post_match.group(1)
        client_id = "".join(random.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(10))
        started = time.perf_counter()
        for i in range(n):
            message = prompt(i)
            data = {
                "_wpnonce": nonce, "post_id": post_id, "url": page_url.rstrip("/"), "action": ACTION,
                "message": message, "bot_id": "0", "chatbot_identity": "shortcode",
                "wpaicg_chat_client_id": client_id,
                "wpaicg_chat_history": json.dumps([{"id": "", "text": "Human: " + message}]),
                "chat_id": str(random.randint(1, 100000)),
            }
            response = session.post(ajax_url, data=data, verify=verify, timeout=30)
            answer = response.json()["data"]
            if not answer.startswith("echo: "):
                raise RuntimeError(f"anchor (a): unexpected answer {answer[:80]!r}")
        return time.perf_counter() - started


def ours(page_url: str, verify: bool | str, n: int) -> float:
    """``Client.ask`` ``n`` times on a warm client (one ask first, not timed); seconds taken."""
    from chatgpt4o import Client

    with Client(page_url, verify=verify) as client:
        client.ask("warm up")
        started = time.perf_counter()
        for i in range(n):
            answer = client.ask(prompt(i))
            if not answer.startswith("echo: "):
                raise RuntimeError(f"ours: unexpected answer {answer[:80]!r}")
        return time.perf_counter() - started


def rss_now_kb() -> int:
    """Current resident set size (VmRSS) in kB."""
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def rss_peak_kb() -> int:
    """Peak resident set size of this process so far, in kB (``ru_maxrss``)."""
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)

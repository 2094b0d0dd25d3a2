"""Hostile server responses: each ends as one typed error (or the right answer), in bounded time
and memory, with a short excerpt where the body says something.

Two kinds of server: the emulator's fault table (``fault_target`` ``ajax`` or ``page``), run in a
subprocess so that ``tracemalloc`` measures the client alone; and raw sockets for what no
well-behaved HTTP server would send (malformed status lines, endless headers, bad chunk sizes,
Content-Length mismatches...). ``HOSTILE`` is the catalogue; ``len(HOSTILE)`` is the figure
reported in the README's Reliability section.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from chatgpt4o import Client
from chatgpt4o import exceptions as e
from chatgpt4o.sse import SSEDecoder

from ._loopback import read_request

#: Memory the client may use while reading one hostile answer (the size caps are 8 MB).
MEMORY_CAP = 48 * 1024 * 1024
SLACK = 1.5
NONCE = "0f1e2d3c4b"

Writer = Callable[[socket.socket], None]


@dataclass(frozen=True)
class Hostile:
    """One hostile server behaviour and the outcome the client must turn it into.

    ``source``: ``"ajax"``/``"page"`` (an emulator fault on that target), ``"config"`` (an
    emulator scenario) or ``"raw"`` (``ajax`` bytes or a writer on a raw socket; ``page``
    replaces the chat page). ``error`` ``None`` means the right answer is expected.
    """

    id: str
    source: str
    fault: str | None = None
    ajax: bytes | Writer | None = None
    page: bytes | None = None
    config: dict[str, Any] = field(default_factory=dict)
    error: type[Exception] | tuple[type[Exception], ...] | None = None
    says: str = ""  # a piece of the message or excerpt that tells the user what happened
    stream: bool = False  # read with Client.stream instead of Client.ask
    timeout: float = 3.0


# --- raw responses ----------------------------------------------------------------------------


def http(status: str, body: bytes, ctype: str = "application/json; charset=UTF-8", extra: str = "") -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n{extra}Connection: close\r\n\r\n"
    return head.encode() + body


def success(data: str) -> bytes:
    return json.dumps({"status": "success", "msg": "Something went wrong", "data": data, "log": False}).encode()


def _endless_headers(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    for i in range(100_000):
        conn.sendall(b"X-Header-%d: value\r\n" % i)


def _endless_header_line(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nX-Long: ")
    for _ in range(10_000):
        conn.sendall(b"a" * 1000)


def _status_then_silence(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
    conn.settimeout(30)
    conn.recv(1)  # until the client goes away


def _endless_sse_line(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
    block = b"data: " + b"x" * 65536
    conn.sendall(b"%x\r\n%s\r\n" % (len(block), block))
    block = b"y" * 65536
    for _ in range(2000):  # one line, never ended: 128 MB if nobody stops reading
        conn.sendall(b"%x\r\n%s\r\n" % (len(block), block))


DEEP = 100_000
CHUNKED_JSON = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"

HOSTILE: list[Hostile] = [
    # --- the emulator's fault table, on admin-ajax
    Hostile("html-instead-of-json", "ajax", "non_json", error=e.MalformedResponseError, says="<title>Oops!"),
    Hostile("json-array", "ajax", "json_array", error=e.MalformedResponseError, says="expected a JSON object"),
    Hostile("data-not-a-string", "ajax", "data_not_string", error=e.MalformedResponseError, says="'data' is a int"),
    Hostile("no-data-key", "ajax", "no_data", error=e.MalformedResponseError, says="'data' field missing"),
    Hostile("200-empty-body", "ajax", "empty", error=e.MalformedResponseError, says="empty"),
    Hostile("huge-body-20MB", "ajax", "huge_body", error=e.ResponseTooLargeError, says="larger than"),
    Hostile("gzip-bomb-1GiB", "ajax", "gzip_bomb", error=e.ResponseTooLargeError, says="larger than"),
    Hostile("endless-chunked", "ajax", "endless_chunked", error=(e.ResponseTooLargeError, e.APITimeoutError)),
    Hostile("invalid-utf8", "ajax", "invalid_utf8", error=e.MalformedResponseError, says="not valid UTF-8"),
    Hostile("redirect-other-host", "ajax", "redirect_other_host", error=e.HTTPStatusError, says="127.0.0.2"),
    Hostile("redirect-loop", "ajax", "redirect_loop", error=e.HTTPStatusError, says="HTTP 302"),
    Hostile("sse-never-ends-ask", "ajax", "sse_endless", error=e.APITimeoutError, timeout=1.5),
    Hostile("sse-never-ends-stream", "ajax", "sse_endless", error=e.APITimeoutError, stream=True, timeout=1.5),
    Hostile("php-notice-before-json", "ajax", "php_notice", error=None),
    Hostile("zero-400-endpoint-gone", "ajax", "endpoint_gone", error=e.EndpointGoneError, says="answered '0'"),
    Hostile("cloudflare-challenge", "ajax", "challenge", error=e.ChallengeError, says="Cloudflare challenge"),
    Hostile("cloudflare-waf-block", "ajax", "waf_block", error=e.ChallengeError, says="WAF"),
    Hostile("500-critical-error", "ajax", "500", error=e.ServerError, says="critical error"),
    Hostile("408-request-timeout", "ajax", "408", error=e.ServerError, says="HTTP 408"),
    Hostile("429-always", "ajax", "429", error=e.RateLimitError, says="429"),
    Hostile("stale-nonce-always", "ajax", "stale_nonce", error=e.NonceExpiredError, says="nonce"),
    Hostile("reset-always", "ajax", "reset", error=e.APIConnectionError, says="failed"),
    Hostile("truncated-always", "ajax", "truncated", error=e.APIConnectionError, says="failed"),
    # --- the emulator's fault table, on the chat page
    Hostile("page-50MB", "page", "huge_page", error=e.ResponseTooLargeError, says="larger than"),
    Hostile("page-gzip-bomb", "page", "gzip_bomb", error=e.ResponseTooLargeError, says="larger than"),
    Hostile("page-endless-chunked", "page", "endless_chunked", error=(e.ResponseTooLargeError, e.APITimeoutError)),
    Hostile("page-redirect-other-host", "page", "redirect_other_host", error=e.PageError, says="another site"),
    Hostile("page-redirect-loop", "page", "redirect_loop", error=e.PageError, says="redirects too often"),
    Hostile("page-challenge", "page", "challenge", error=e.ChallengeError, says="Cloudflare"),
    Hostile("page-html-without-chat-box", "page", "non_json", error=e.TokensNotFoundError, says="data-post-id"),
    Hostile("page-empty", "page", "empty", error=e.TokensNotFoundError, says="data-post-id"),
    Hostile("page-zero-400", "page", "endpoint_gone", error=e.PageError, says="HTTP 400 — check base_url"),
    Hostile("page-502", "page", "502", error=e.ServerError, says="HTTP 502"),
    Hostile("page-invalid-utf8", "page", "invalid_utf8", error=e.TokensNotFoundError, says="data-post-id"),
    Hostile("page-without-chatbox", "config", config={"chatbox": False}, error=e.TokensNotFoundError, says="data-post-id"),
    # --- raw sockets: what the emulator cannot send
    Hostile("malformed-status-line", "raw", ajax=b"HTTX/1.1 two hundred\r\n\r\nhello", error=e.APIConnectionError, says="failed"),
    Hostile("no-status-line-http09", "raw", ajax=success("raw"), error=e.APIConnectionError, says="failed"),
    Hostile("headers-never-end", "raw", ajax=_endless_headers, error=e.APIConnectionError, says="100 headers"),
    Hostile("header-line-never-ends", "raw", ajax=_endless_header_line, error=e.APIConnectionError, says="header line"),
    Hostile("status-line-then-silence", "raw", ajax=_status_then_silence, error=e.APITimeoutError, timeout=1.5),
    Hostile("closed-without-a-byte", "raw", ajax=b"", error=e.APIConnectionError, says="without response"),
    Hostile("only-100-continue", "raw", ajax=b"HTTP/1.1 100 Continue\r\n\r\n", error=e.APIConnectionError),
    Hostile(
        "content-length-longer-than-body", "raw",
        ajax=b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n" + success("cut"),
        error=e.APIConnectionError, says="IncompleteRead",
    ),
    Hostile(
        "content-length-shorter-than-body", "raw",
        ajax=b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 12\r\nConnection: close\r\n\r\n" + success("x" * 50),
        error=e.MalformedResponseError, says="not valid JSON",
    ),
    Hostile(
        "content-length-conflicting", "raw",
        ajax=b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 7\r\n\r\n{}",
        error=e.APIConnectionError, says="Content-Length",
    ),
    Hostile(
        "content-length-not-a-number", "raw",
        ajax=b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: lots\r\nConnection: close\r\n\r\n" + success("read to the end"),
        error=None,
    ),
    Hostile(
        "chunk-size-not-hex", "raw", ajax=CHUNKED_JSON.encode() + b"zz\r\n{}\r\n0\r\n\r\n",
        error=e.APIConnectionError, says="IncompleteRead",
    ),
    Hostile(
        "chunk-shorter-than-declared", "raw", ajax=CHUNKED_JSON.encode() + b"ff\r\n{}\r\n",
        error=e.APIConnectionError, says="IncompleteRead",
    ),
    Hostile(
        "gzip-header-garbage-body", "raw",
        ajax=http("200 OK", b"this is not gzip at all", extra="Content-Encoding: gzip\r\n"),
        error=e.MalformedResponseError, says="could not be decoded",
    ),
    Hostile("204-no-content", "raw", ajax=b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n", error=e.MalformedResponseError, says="empty"),
    Hostile("status-999", "raw", ajax=http("999 Odd", b"odd"), error=e.ServerError, says="HTTP 999"),
    Hostile("json-nested-100k-deep", "raw", ajax=http("200 OK", b"[" * DEEP + b"]" * DEEP), error=e.MalformedResponseError),
    Hostile(
        "sse-event-nested-100k-deep", "raw",
        ajax=http("200 OK", b"data: " + b"[" * DEEP + b"]" * DEEP + b"\n\n", ctype="text/event-stream"),
        error=e.MalformedResponseError,
    ),
    Hostile("json-50000-digit-number", "raw", ajax=http("200 OK", b'{"status":"success","data":' + b"9" * 50_000 + b"}"), error=e.MalformedResponseError),
    Hostile("json-raw-control-chars", "raw", ajax=http("200 OK", b'{"status":"success","data":"a\x00\x01b"}'), error=e.MalformedResponseError, says="not valid JSON"),
    Hostile(
        "sse-garbage-event", "raw", ajax=http("200 OK", b"data: {not json at all\n\n", ctype="text/event-stream"),
        error=e.MalformedResponseError, says="unreadable event",
    ),
    Hostile("sse-line-never-ends", "raw", ajax=_endless_sse_line, error=(e.ResponseTooLargeError, e.APITimeoutError), stream=True),
    Hostile(
        "ajax-redirect-to-file-url", "raw", ajax=b"HTTP/1.1 302 Found\r\nLocation: file:///etc/passwd\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        error=e.HTTPStatusError, says="file:///etc/passwd",
    ),
    Hostile(
        "page-redirect-to-file-url", "raw",
        page=b"HTTP/1.1 302 Found\r\nLocation: file:///etc/passwd\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        error=e.PageError, says="another site",
    ),
    Hostile(
        "page-binary-junk", "raw", page=http("200 OK", bytes(range(256)) * 64, ctype="text/html"),
        error=e.TokensNotFoundError, says="data-post-id",
    ),
]


# --- servers ------------------------------------------------------------------------------------


def _page_html(base: str) -> bytes:
    return (
        '<html><head><link rel="stylesheet" href="/wp-content/plugins/gpt3-ai-content-generator/public/css/'
        'wpaicg-rtl.css?ver=1.8.96"></head><body><div class="wpaicg-chat-shortcode" '
        f'data-nonce="{NONCE}" data-post-id="11" data-url="{base}" data-bot-id="0" data-type="shortcode" '
        'data-openai_stream_nav="0" data-memory-limit = "100"></div></body></html>'
    ).encode()


class RawSite:
    """A socket server: the chat page on GET (or ``page``), ``ajax`` on POST. Stops by itself."""

    def __init__(self, ajax: bytes | Writer | None, page: bytes | None) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.page = page if page is not None else http("200 OK", _page_html(self.url), ctype="text/html; charset=UTF-8")
        self.ajax = ajax
        self.posts = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self._conns.append(conn)
            thread = threading.Thread(target=self._handle, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        try:
            head, _ = read_request(conn)
            if not head:
                return
            if head.startswith(b"GET"):
                conn.sendall(self.page)
                return
            self.posts += 1
            if callable(self.ajax):
                self.ajax(conn)
            elif self.ajax is not None:
                conn.sendall(self.ajax)
        except OSError:
            pass
        finally:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        for conn in self._conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for thread in self._threads:
            thread.join(2)
        self.sock.close()


class EmulatorProcess:
    """The emulator in a subprocess, reconfigured through its control endpoint."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "chatgpt4o.emulator", "--era", "1.8.96", "--port", "0"], stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        assert self.url.startswith("http://127.0.0.1:"), self.url

    def configure(self, **changes: Any) -> None:
        request = urllib.request.Request(
            self.url + "/__emulator__/config", data=json.dumps(changes).encode(), method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + "/__emulator__/stats", timeout=10) as response:
            return dict(json.loads(response.read()))

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture(scope="module")
def site() -> Iterator[EmulatorProcess]:
    emu = EmulatorProcess()
    yield emu
    emu.close()


NORMAL = {"fault": None, "fault_target": "ajax", "fault_count": 0, "fault_rate": 0.0, "stream": False,
          "chatbox": True, "retry_after": "1"}


def test_the_catalogue_is_large_and_ids_are_unique() -> None:
    assert len(HOSTILE) >= 25
    assert len({h.id for h in HOSTILE}) == len(HOSTILE)


@pytest.mark.parametrize("case", HOSTILE, ids=[h.id for h in HOSTILE])
def test_hostile_response_becomes_one_typed_error(case: Hostile, site: EmulatorProcess) -> None:
    raw: RawSite | None = None
    if case.source == "raw":
        raw = RawSite(case.ajax, case.page)
        url = raw.url
    else:
        changes = dict(NORMAL, **case.config)
        if case.fault:
            changes.update(fault=case.fault, fault_target=case.source)
        site.configure(**changes)
        url = site.url
    try:
        with Client(url, timeout=case.timeout, sleep=lambda s: None) as client:
            tracemalloc.start()
            started = time.monotonic()
            try:
                outcome: Any = "".join(client.stream("hi")) if case.stream else client.ask("hi")
            except BaseException as exc:  # noqa: BLE001 - checked below: it must be typed
                outcome = exc
            seconds = time.monotonic() - started
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
    finally:
        if raw is not None:
            raw.close()
        else:
            site.configure(**NORMAL)

    assert seconds <= case.timeout + SLACK, f"took {seconds:.2f} s"
    assert peak <= MEMORY_CAP, f"peak {peak / 1e6:.1f} MB while reading"
    if case.error is None:
        assert isinstance(outcome, str), repr(outcome)
        assert outcome in ("echo: hi", "read to the end")
        return
    assert isinstance(outcome, e.Chatgpt4oError), f"untyped: {outcome!r}"
    assert isinstance(outcome, case.error), repr(outcome)
    text = str(outcome)
    assert len(text) <= 800, "messages stay short"
    excerpt = getattr(outcome, "excerpt", "")
    assert len(excerpt) <= 160
    if case.says:
        assert case.says in text + " " + excerpt, (text, excerpt)


def test_sse_line_that_never_ends_does_not_stall_the_reader() -> None:
    """8 MB of one event line in 8 KB pieces (as a socket delivers them) is read in bounded time.

    A reader that re-joins and re-scans its whole buffer for every piece does ~4 GB of work
    here and stalls for tens of seconds; a linear one takes milliseconds. The bound is a hang
    check, hundreds of times the linear cost.
    """
    decoder = SSEDecoder()
    piece = b"y" * 8192
    started = time.monotonic()
    events = decoder.feed(b"data: ")
    for n in range(1024):
        events += decoder.feed(piece)
        assert time.monotonic() - started < 5.0, f"stalled: only {n * 8} KB of the line read in 5 s"
    events += decoder.feed(b"\n\n")
    assert [len(ev.data) for ev in events] == [8 * 1024 * 1024]


def test_php_notice_answer_is_the_reply_not_the_notice(site: EmulatorProcess) -> None:
    site.configure(**dict(NORMAL, fault="php_notice"))
    try:
        with Client(site.url, timeout=3) as client:
            assert client.ask("notice me") == "echo: notice me"
    finally:
        site.configure(**NORMAL)

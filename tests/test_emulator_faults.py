"""Every fault in FAULTS does what its documentation says (real sockets, short delays)."""

from __future__ import annotations

import http.client
import importlib
import json
import socket
import zlib
from collections.abc import Iterator

import pytest
import requests

from chatgpt4o.emulator import FAULTS, Emulator


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(era="1.8.96", slow_seconds=0.3, page_size=20_000) as emulator:
        yield emulator


@pytest.fixture(autouse=True)
def _clean(emu: Emulator) -> Iterator[None]:
    emu.configure(fault=None, fault_count=0, fault_rate=0.0, fault_target="ajax", stream=False)
    yield
    emu.configure(fault=None, fault_count=0, fault_rate=0.0, fault_target="ajax", stream=False)


def _fields(emu: Emulator, message: str = "hi") -> dict[str, str]:
    return {
        "_wpnonce": emu.current_nonce, "post_id": "11", "action": "wpaicg_chat_shortcode_message",
        "message": message, "bot_id": "0", "chatbot_identity": "shortcode",
        "wpaicg_chat_client_id": "abcdefghij", "wpaicg_chat_history": "[]", "chat_id": "1",
    }


def _post(emu: Emulator, fault: str, timeout: float = 5.0, stream: bool = False) -> requests.Response:
    emu.configure(fault=fault)
    return requests.post(emu.ajax_url, data=_fields(emu), allow_redirects=False, timeout=timeout, stream=stream)


def _raw_request(emu: Emulator, fault: str, target: str = "ajax") -> socket.socket:
    """Send a chat POST on a raw socket and return it (for faults that misbehave on the wire)."""
    emu.configure(fault=fault, fault_target=target)
    body = "&".join(f"{k}={v}" for k, v in _fields(emu).items()).encode()
    port = int(emu.base_url.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    path = emu.config.ajax_path if target == "ajax" else emu.config.page_path
    method = "POST" if target == "ajax" else "GET"
    sock.sendall(
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode() + body
    )
    return sock


def test_challenge(emu: Emulator) -> None:
    r = _post(emu, "challenge")
    assert r.status_code == 403
    assert r.headers["cf-mitigated"] == "challenge"
    assert r.headers["Server"] == "cloudflare"
    assert r.headers["CF-RAY"]
    assert "<title>Just a moment...</title>" in r.text
    assert "_cf_chl_opt" in r.text and "/cdn-cgi/challenge-platform/" in r.text


def test_waf_block(emu: Emulator) -> None:
    r = _post(emu, "waf_block")
    assert r.status_code == 403
    assert "Attention Required! | Cloudflare" in r.text
    assert "cf-mitigated" not in r.headers


@pytest.mark.parametrize("fault", ["429", "503"])
def test_retry_after_statuses(emu: Emulator, fault: str) -> None:
    emu.configure(retry_after="7")
    r = _post(emu, fault)
    assert r.status_code == int(fault)
    assert r.headers["Retry-After"] == "7"
    emu.configure(retry_after="1")


@pytest.mark.parametrize("fault", ["500", "502", "408"])
def test_plain_error_statuses(emu: Emulator, fault: str) -> None:
    r = _post(emu, fault)
    assert r.status_code == int(fault)
    assert r.headers["Content-Type"].startswith("text/html")


def test_reset(emu: Emulator) -> None:
    with pytest.raises(requests.exceptions.ConnectionError):
        _post(emu, "reset")


def test_slow_answers_after_delay(emu: Emulator) -> None:
    with pytest.raises(requests.exceptions.ReadTimeout):
        _post(emu, "slow", timeout=0.05)
    r = _post(emu, "slow")
    assert r.json()["data"] == "echo: hi"


def test_slow_body_sends_headers_first(emu: Emulator) -> None:
    sock = _raw_request(emu, "slow_body")
    with sock:
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(4096)
        assert head.startswith(b"HTTP/1.1 200 OK")
        length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
        body = head.split(b"\r\n\r\n", 1)[1]
        assert body == b""  # nothing yet: the body comes slow_seconds later
        while len(body) < length:
            body += sock.recv(65536)
        assert json.loads(body)["data"] == "echo: hi"


def test_hang_never_answers(emu: Emulator) -> None:
    sock = _raw_request(emu, "hang")
    with sock:
        sock.settimeout(0.3)
        with pytest.raises(socket.timeout):
            sock.recv(1)


def test_trickle_sends_one_byte_at_a_time(emu: Emulator) -> None:
    sock = _raw_request(emu, "trickle")
    with sock:
        assert sock.recv(100) == b"H"
        sock.settimeout(0.2)
        with pytest.raises(socket.timeout):
            sock.recv(100)


def test_truncated(emu: Emulator) -> None:
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        _post(emu, "truncated")


def test_non_json(emu: Emulator) -> None:
    r = _post(emu, "non_json")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/html")
    with pytest.raises(ValueError):
        r.json()


def test_php_notice_precedes_json(emu: Emulator) -> None:
    r = _post(emu, "php_notice")
    assert r.text.startswith("<br />\n<b>Notice</b>:  Undefined index: wpaicg_chat_client_id in ")
    assert json.loads(r.text[r.text.index("{"):])["data"] == "echo: hi"


@pytest.mark.parametrize(
    ("fault", "body"),
    [("empty", b""), ("json_array", b"[]")],
)
def test_degenerate_json(emu: Emulator, fault: str, body: bytes) -> None:
    r = _post(emu, fault)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json; charset=UTF-8"
    assert r.content == body


def test_data_not_string(emu: Emulator) -> None:
    doc = _post(emu, "data_not_string").json()
    assert doc["status"] == "success" and doc["data"] == 42


def test_no_data(emu: Emulator) -> None:
    doc = _post(emu, "no_data").json()
    assert doc["status"] == "success" and "data" not in doc


def test_huge_body(emu: Emulator) -> None:
    r = _post(emu, "huge_body", stream=True)
    with r:
        assert int(r.headers["Content-Length"]) > 20_000_000
        assert sum(len(c) for c in r.iter_content(1 << 20)) == int(r.headers["Content-Length"])


def test_gzip_bomb(emu: Emulator) -> None:
    r = _post(emu, "gzip_bomb", stream=True)
    with r:
        assert r.headers["Content-Encoding"] == "gzip"
        wire = r.raw.read(decode_content=False)
    assert len(wire) == int(r.headers["Content-Length"]) < 4_000_000
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    member = inflater.decompress(wire)  # stops after the first gzip member
    member_size = len(wire) - len(inflater.unused_data)
    count = len(wire) // member_size
    assert wire == wire[:member_size] * count  # identical members, concatenated
    assert len(member) * count >= 1 << 30  # 1 GiB once inflated


def test_endless_chunked(emu: Emulator) -> None:
    r = _post(emu, "endless_chunked", stream=True)
    with r:
        assert r.headers["Transfer-Encoding"] == "chunked"
        got = 0
        for piece in r.iter_content(65536):
            got += len(piece)
            if got > 1_000_000:
                break
    assert got > 1_000_000


def test_invalid_utf8(emu: Emulator) -> None:
    r = _post(emu, "invalid_utf8")
    with pytest.raises(UnicodeDecodeError):
        r.content.decode("utf-8")
    assert r.content.startswith(b'{"status":"success"')


def test_redirect_other_host(emu: Emulator) -> None:
    r = _post(emu, "redirect_other_host")
    assert r.status_code == 302
    port = emu.base_url.rsplit(":", 1)[1]
    assert r.headers["Location"] == f"http://127.0.0.2:{port}{emu.config.ajax_path}"


def test_redirect_loop(emu: Emulator) -> None:
    r = _post(emu, "redirect_loop")
    assert r.status_code == 302
    assert r.headers["Location"] == emu.ajax_url


def test_sse_endless(emu: Emulator) -> None:
    r = _post(emu, "sse_endless", stream=True)
    with r:
        assert r.headers["Content-Type"].startswith("text/event-stream")
        lines = []
        for line in r.iter_lines():
            lines.append(line)
            if b": keep-alive" in lines:
                break
    assert lines[0].startswith(b"data: {")


def test_huge_page(emu: Emulator) -> None:
    emu.configure(fault="huge_page", fault_target="page")
    r = requests.get(emu.page_url, stream=True, timeout=5)
    with r:
        assert int(r.headers["Content-Length"]) > 50_000_000
        assert r.raw.read(15).startswith(b"<!doctype html>")


def test_stale_nonce(emu: Emulator) -> None:
    before = emu.stats["stale_nonce"]
    r = _post(emu, "stale_nonce")
    assert r.status_code == 403
    assert r.text == "The link you followed has expired."
    assert emu.stats["stale_nonce"] == before + 1


def test_stale_nonce_old_era_is_json() -> None:
    with Emulator(era="1.8.79", fault="stale_nonce") as old:
        r = requests.post(old.ajax_url, data=_fields(old), timeout=5)
    assert r.status_code == 200
    assert r.json() == {"status": "error", "msg": "Nonce verification failed"}


def test_endpoint_gone(emu: Emulator) -> None:
    r = _post(emu, "endpoint_gone")
    assert r.status_code == 400 and r.text == "0"


def test_fault_count_is_a_burst(emu: Emulator) -> None:
    emu.reset_stats()
    emu.configure(fault="503", fault_count=2)
    codes = [requests.post(emu.ajax_url, data=_fields(emu), timeout=5).status_code for _ in range(3)]
    assert codes == [503, 503, 200]
    assert emu.config.fault is None
    assert emu.stats["faults_injected"] == 2


def test_fault_target_page_leaves_ajax_alone(emu: Emulator) -> None:
    emu.configure(fault="502", fault_target="page")
    assert requests.get(emu.page_url, timeout=5).status_code == 502
    assert requests.post(emu.ajax_url, data=_fields(emu), timeout=5).status_code == 200


def test_fault_rate_is_reproducible_with_seed() -> None:
    def run() -> list[int]:
        with Emulator(era="1.8.96", fault_rate=0.5, fault_mix=("502", "503", "429"), seed=42) as e:
            return [requests.post(e.ajax_url, data=_fields(e), timeout=5).status_code for _ in range(12)]

    first = run()
    assert first == run()
    assert set(first) - {200} and 200 in first


def test_http_client_sees_reset_as_connection_error(emu: Emulator) -> None:
    emu.configure(fault="reset")
    conn = http.client.HTTPConnection("127.0.0.1", int(emu.base_url.rsplit(":", 1)[1]), timeout=5)
    try:
        conn.request("POST", emu.config.ajax_path, body=b"action=x",
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
        with pytest.raises((ConnectionError, http.client.RemoteDisconnected)):
            conn.getresponse()
    finally:
        conn.close()


# fault -> the test above that checks it (a static table, so the check does not depend on order)
COVERAGE = {
    "challenge": "test_challenge", "waf_block": "test_waf_block", "429": "test_retry_after_statuses",
    "503": "test_retry_after_statuses", "500": "test_plain_error_statuses",
    "502": "test_plain_error_statuses", "408": "test_plain_error_statuses", "reset": "test_reset",
    "slow": "test_slow_answers_after_delay", "slow_body": "test_slow_body_sends_headers_first",
    "hang": "test_hang_never_answers", "trickle": "test_trickle_sends_one_byte_at_a_time",
    "truncated": "test_truncated", "non_json": "test_non_json",
    "php_notice": "test_php_notice_precedes_json", "empty": "test_degenerate_json",
    "json_array": "test_degenerate_json", "data_not_string": "test_data_not_string",
    "no_data": "test_no_data", "huge_body": "test_huge_body", "gzip_bomb": "test_gzip_bomb",
    "endless_chunked": "test_endless_chunked", "invalid_utf8": "test_invalid_utf8",
    "redirect_other_host": "test_redirect_other_host", "redirect_loop": "test_redirect_loop",
    "sse_endless": "test_sse_endless", "huge_page": "test_huge_page",
    "stale_nonce": "test_stale_nonce", "endpoint_gone": "test_endpoint_gone",
    "sse_no_done": "test_emulator_aipkit_faults.test_stream_without_done",
    "sse_provider_error": "test_emulator_aipkit_faults.test_provider_error_mid_stream",
    "sse_trickle": "test_emulator_aipkit_faults.test_trickle_sends_the_stream_event_by_event",
}


def test_every_fault_has_a_test() -> None:
    assert set(COVERAGE) == set(FAULTS)
    for test_name in COVERAGE.values():
        module, _, name = test_name.rpartition(".")
        where = vars(importlib.import_module(f"tests.{module}")) if module else globals()
        assert callable(where[name])

"""The fault table: what the emulator does instead of (or around) a normal answer.

Each fault is ``fault(handler, request, normal) -> Response | None``: it returns the answer to
send, or ``None`` when it already did everything on the socket itself (resets, hangs, trickles).
``normal()`` builds the answer the site would have given, for faults that distort it. The names
and their documentation live in :data:`~chatgpt4o.emulator.scenarios.FAULTS`; which request gets
a fault is decided by :func:`~chatgpt4o.emulator.scenarios.pick_fault`.
"""

from __future__ import annotations

import gzip
import random
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from . import aipkit, aipkit_stream, wpaicg
from .aipkit_era import aipkit_era, is_aipkit
from .core import (
    AJAX_HEADERS,
    HTML,
    JSON,
    Request,
    Response,
    cached,
    chunk,
    head,
    html_page,
    zero_400,
)
from .generations import generation
from .interfaces import Connection
from .scenarios import FAULTS
from .wordpress import php_json_encode

__all__ = ["FAULT_TABLE", "FaultFn"]

_PHP_NOTICE = (
    "<br />\n<b>Notice</b>:  Undefined index: wpaicg_chat_client_id in "
    "/var/www/html/wp-content/plugins/gpt3-ai-content-generator/classes/wpaicg_chat.php "
    "on line <b>123</b><br />\n"
)


def _gzip_bomb() -> bytes:
    # 64 identical gzip members of 16 MiB of spaces: ~1 MB on the wire, 1 GiB inflated
    member = gzip.compress(b" " * (16 * 1024 * 1024), compresslevel=9)
    return member * 64


def _huge_json() -> bytes:
    filler = "x" * (20 * 1024 * 1024)
    return php_json_encode(
        {"status": "success", "msg": "Something went wrong", "greeting_message": wpaicg.GREETING,
         "data": filler, "log": False}
    ).encode("ascii")


def _huge_filler() -> bytes:
    line = b"<!-- " + b"wp-cache-padding " * 60 + b"-->\n"
    return line * (50 * 1024 * 1024 // len(line) + 1)



class FaultFn(Protocol):
    """``fault(handler, request, normal)``: see the module docstring."""

    def __call__(self, h: Connection, req: Request, normal: Callable[[], Response], /) -> Response | None: ...


def _cf_ray() -> str:
    return f"{random.getrandbits(64):016x}-FRA"


def _fault_challenge(h: Connection, req: Request, normal: Callable[[], Response]) -> Response:
    ray = _cf_ray()
    html = (
        '<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>'
        '<meta http-equiv="Content-Type" content="text/html; charset=UTF-8">'
        '<meta name="robots" content="noindex,nofollow"></head><body>'
        '<div class="main-wrapper" role="main"><div class="main-content">'
        '<noscript><div class="h2"><span id="challenge-error-text">Enable JavaScript and cookies '
        "to continue</span></div></noscript></div></div><script>(function(){window._cf_chl_opt={"
        f"cvId: '3',cZone: \"127.0.0.1\",cType: 'managed',cRay: '{ray[:16]}',cH: 'emulated',"
        f"cUPMDTk: \"\\/?__cf_chl_tk=emulated\",cFPWv: 'b',cITimeS: '{int(time.time())}'}};"
        "var cpo = document.createElement('script');"
        f"cpo.src = '/cdn-cgi/challenge-platform/h/b/orchestrate/chl_page/v1?ray={ray[:16]}';"
        "document.getElementsByTagName('head')[0].appendChild(cpo);}());</script></body></html>"
    )
    headers = [
        ("Server", "cloudflare"),
        ("Cache-Control", "private, max-age=0, no-store, no-cache, must-revalidate, post-check=0, pre-check=0"),
        ("Expires", "Thu, 01 Jan 1970 00:00:01 GMT"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("Referrer-Policy", "same-origin"),
        ("X-Frame-Options", "SAMEORIGIN"),
        ("cf-mitigated", "challenge"),
        ("Set-Cookie", f"__cf_bm=emulated.{int(time.time())}; path=/; HttpOnly; SameSite=None"),
        ("CF-RAY", ray),
        HTML,
    ]
    return Response(403, headers, html.encode("utf-8"), outcome="error")


def _fault_waf_block(h: Connection, req: Request, normal: Callable[[], Response]) -> Response:
    ray = _cf_ray()
    body = (
        '<div id="cf-wrapper"><div id="cf-error-details"><h1 data-translate="block_headline">'
        "Sorry, you have been blocked</h1><h2>You are unable to access 127.0.0.1</h2>"
        f'<p>Cloudflare Ray ID: <strong class="font-semibold">{ray[:16]}</strong></p></div></div>'
    )
    return html_page(403, "Attention Required! | Cloudflare", body,
                      [("Server", "cloudflare"), ("CF-RAY", ray)])


def _status_fault(status: int, title: str, text: str, retry: bool = False,
                  close: bool = False) -> FaultFn:
    def fault(h: Connection, req: Request, normal: Callable[[], Response]) -> Response:
        extra = [("Retry-After", h.emulator.config.retry_after)] if retry else []
        return html_page(status, title, f"<h1>{title}</h1><p>{text}</p>", extra, close=close)

    return fault


def _fault_500(h: Connection, req: Request, normal: Callable[[], Response]) -> Response:
    body = ('<div class="wp-die-message"><p>There has been a critical error on this website.</p>'
            '<p><a href="https://wordpress.org/documentation/article/faq-troubleshooting/">'
            "Learn more about troubleshooting WordPress.</a></p></div>")
    return html_page(500, "WordPress &rsaquo; Error", body, close=True)


def _fault_reset(h: Connection, req: Request, normal: Callable[[], Response]) -> None:
    h.abort(rst=True)


def _fault_slow(h: Connection, req: Request, normal: Callable[[], Response]) -> Response | None:
    if h.emulator.wait(h.emulator.config.slow_seconds):
        h.abort()
        return None
    return normal()


def _fault_slow_body(h: Connection, req: Request, normal: Callable[[], Response]) -> None:
    resp = normal()
    body = resp.materialize()
    resp.stream, resp.length = None, None
    h.write(head(resp, len(body)))
    if not h.emulator.wait(h.emulator.config.slow_seconds):
        h.write(body)
    else:
        h.abort()


def _fault_hang(h: Connection, req: Request, normal: Callable[[], Response]) -> None:
    h.hold(60.0)
    h.abort()


def _fault_trickle(h: Connection, req: Request, normal: Callable[[], Response]) -> None:
    resp = normal()
    body = resp.materialize()
    data = head(resp, len(body)) + body
    for i in range(len(data)):
        h.write(data[i : i + 1])
        if h.emulator.wait(1.0):
            break
    h.abort()


def _fault_truncated(h: Connection, req: Request, normal: Callable[[], Response]) -> None:
    resp = normal()
    body = resp.materialize()
    h.write(head(resp, len(body) + 1000) + body[: max(0, len(body) // 2)])
    h.abort()


def _fault_non_json(h: Connection, req: Request, normal: Callable[[], Response]) -> Response:
    body = ('<!doctype html>\n<html lang="en-US"><head><meta charset="UTF-8" /><title>Oops! '
            "&#8211; AI Chat</title></head><body class=\"error\"><div class=\"site\">"
            "<h1>Something went wrong.</h1><p>The theme could not render this request.</p>"
            "</div></body></html>\n")
    return Response(200, [*AJAX_HEADERS, HTML], body.encode("utf-8"), outcome="error")


def _fault_php_notice(h: Connection, req: Request, normal: Callable[[], Response]) -> Response:
    resp = normal()
    body = _PHP_NOTICE.encode("utf-8") + resp.materialize()
    return Response(resp.status, resp.headers, body, close=resp.close, outcome=resp.outcome)


def _json_fault(body: Callable[[], bytes], headers: Iterable[tuple[str, str]] = ()) -> FaultFn:
    def fault(h: Connection, req: Request, normal: Callable[[], Response]) -> Response:
        return Response(200, [*AJAX_HEADERS, *headers, JSON], body(), outcome="error")

    return fault


def _success_json(**changes: Any) -> Callable[[], bytes]:
    def build() -> bytes:
        doc: dict[str, Any] = {"status": "success", "msg": "Something went wrong",
                               "greeting_message": wpaicg.GREETING, "data": "echo: fault", "log": False}
        doc.update(changes)
        return php_json_encode({k: v for k, v in doc.items() if v is not _MISSING}).encode("ascii")

    return build


_MISSING = object()


def _fault_invalid_utf8() -> bytes:
    text = _success_json(data="INVALID")().replace(b"INVALID", b"echo: \xff\xfe broken \xc3\x28")
    return text


def _fault_endless_chunked(h: Connection, req: Request, normal: Callable[[], Response]) -> None:
    resp = Response(200, [*AJAX_HEADERS, JSON], stream=iter(()), chunked=True)
    h.write(head(resp, None) + chunk(b'{"status":"success","msg":"Something went wrong","data":"'))
    block = chunk(b"x" * 16384)
    while not h.emulator.wait(0.005):
        if not h.write(block):
            break
    h.abort()


def _aipkit_stream(h: Connection, req: Request) -> bool:
    return is_aipkit(h.emulator.config.era) and req.request.get("action") == "aipkit_frontend_chat_stream"


def _fault_sse_endless(h: Connection, req: Request, normal: Callable[[], Response]) -> None:
    if _aipkit_stream(h, req):
        era = aipkit_era(h.emulator.config.era)
        resp = Response(200, aipkit_stream.headers(era), stream=iter(()), chunked=True)
        start = (aipkit_stream.PREAMBLE if era.preamble else "") + aipkit_stream.record(
            {"message_id": aipkit_stream.message_id(h.emulator.clock())}, "message_start")
        h.write(head(resp, None) + chunk(start.encode()))
        while not h.emulator.wait(0.05):
            if not h.write(chunk(b'data: {"delta":""}\n\n')):
                break
        h.abort()
        return
    resp = Response(200, list(wpaicg.SSE_HEADERS), stream=iter(()), chunked=True)
    first = ('data: {"id":"chatcmpl-endless","object":"chat.completion.chunk","created":0,'
             '"model":"gpt-3.5-turbo","choices":[{"index":0,"delta":{"role":"assistant","content":""},'
             '"logprobs":null,"finish_reason":null}]}\n\n')
    h.write(head(resp, None) + chunk(first.encode()))
    n = 0
    while not h.emulator.wait(0.05):
        n += 1
        event = (b": keep-alive\n\n" if n % 2 else
                 b'data: {"id":"chatcmpl-endless","object":"chat.completion.chunk","created":0,'
                 b'"model":"gpt-3.5-turbo","choices":[{"index":0,"delta":{"content":""},'
                 b'"logprobs":null,"finish_reason":null}]}\n\n')
        if not h.write(chunk(event)):
            break
    h.abort()


def _stream_variant(variant: str) -> FaultFn:
    def fault(h: Connection, req: Request, normal: Callable[[], Response]) -> Response:
        if _aipkit_stream(h, req):
            return aipkit.stream(h, req, variant)
        resp = normal()
        if variant == "no_done" and resp.stream is not None:
            resp.stream = _without_end(resp.stream)
        return resp

    return fault


def _without_end(events: Iterable[bytes]) -> Iterator[bytes]:
    """1.x: the answer's events without the closing finish_reason chunk and [DONE], then a clean close."""
    for event in events:
        if b"data: [DONE]" in event or b'"finish_reason":"stop"' in event or b"data: [LIMITED]" in event:
            continue
        yield event


def _fault_sse_trickle(h: Connection, req: Request, normal: Callable[[], Response]) -> None:
    resp = normal()
    pieces: list[bytes] = []
    for part in ([resp.body] if resp.stream is None else resp.stream):
        # SSE records one by one; the 4 KiB preamble and whole bodies in 1 KiB slices
        pieces.extend(part[i : i + 1024] for i in range(0, len(part), 1024))
    delay = h.emulator.config.slow_seconds
    if resp.stream is None:
        h.write(head(resp, len(resp.body)))
        for piece in pieces:
            if h.emulator.wait(delay) or not h.write(piece):
                h.abort()
                return
        return
    h.write(head(resp, None))
    for piece in pieces:
        if h.emulator.wait(delay) or not h.write(chunk(piece)):
            h.abort()
            return
    h.write(b"0\r\n\r\n")


def _fault_redirect(other_host: bool) -> FaultFn:
    def fault(h: Connection, req: Request, normal: Callable[[], Response]) -> Response:
        base = h.emulator.base_url
        if other_host:
            base = base.replace("127.0.0.1", "127.0.0.2", 1)
        headers = [("X-Redirect-By", "WordPress"), ("Location", base + req.target), HTML]
        return Response(302, headers, b"", outcome="error")

    return fault


def _fault_huge_page(h: Connection, req: Request, normal: Callable[[], Response]) -> Response:
    resp = normal()
    body = resp.materialize()
    filler = cached("huge_page", _huge_filler)
    cut = body.find(b"</head>")
    cut = max(cut, 0)
    parts = [body[:cut], filler, body[cut:]]
    return Response(resp.status, resp.headers, b"", stream=parts,
                    length=sum(len(p) for p in parts), outcome=resp.outcome)


def _fault_stale_nonce(h: Connection, req: Request, normal: Callable[[], Response]) -> Response:
    h.emulator.count("stale_nonce")
    return generation(h.emulator.config.era).nonce_failure(h, req)


def _fault_endpoint_gone(h: Connection, req: Request, normal: Callable[[], Response]) -> Response:
    return zero_400()



FAULT_TABLE: dict[str, FaultFn] = {
    "challenge": _fault_challenge,
    "waf_block": _fault_waf_block,
    "429": _status_fault(429, "429 Too Many Requests", "Too many requests, slow down.", retry=True),
    "500": _fault_500,
    "502": _status_fault(502, "502 Bad Gateway", "nginx", close=True),
    "503": _status_fault(503, "Maintenance", "Briefly unavailable for scheduled maintenance. "
                         "Check back in a minute.", retry=True, close=True),
    "408": _status_fault(408, "408 Request Timeout", "Server timeout waiting for the HTTP request "
                         "from the client.", close=True),
    "reset": _fault_reset,
    "slow": _fault_slow,
    "slow_body": _fault_slow_body,
    "hang": _fault_hang,
    "trickle": _fault_trickle,
    "truncated": _fault_truncated,
    "non_json": _fault_non_json,
    "php_notice": _fault_php_notice,
    "empty": _json_fault(lambda: b""),
    "json_array": _json_fault(lambda: b"[]"),
    "data_not_string": _json_fault(_success_json(data=42)),
    "no_data": _json_fault(_success_json(data=_MISSING)),
    "huge_body": _json_fault(lambda: cached("huge_body", _huge_json)),
    "gzip_bomb": _json_fault(lambda: cached("gzip_bomb", _gzip_bomb), [("Content-Encoding", "gzip")]),
    "endless_chunked": _fault_endless_chunked,
    "invalid_utf8": _json_fault(_fault_invalid_utf8),
    "redirect_other_host": _fault_redirect(other_host=True),
    "redirect_loop": _fault_redirect(other_host=False),
    "sse_endless": _fault_sse_endless,
    "huge_page": _fault_huge_page,
    "stale_nonce": _fault_stale_nonce,
    "sse_no_done": _stream_variant("no_done"),
    "sse_provider_error": _stream_variant("provider_error"),
    "sse_trickle": _fault_sse_trickle,
    "endpoint_gone": _fault_endpoint_gone,
}
assert set(FAULT_TABLE) == set(FAULTS), "every documented fault needs a handler"


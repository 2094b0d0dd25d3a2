"""Plugin generation 1.x: AI Power's ``wpaicg_chat_shortcode_message`` (eras 1.8.79 - 1.8.96).

The handler follows ``WPAICG_Chat::wpaicg_chatbox_message()`` of ``classes/wpaicg_chat.php`` in
source order (see the package docstring for what each era does to ``message`` and
``wpaicg_chat_history``): nonce (``check_admin_referer``), AI instance/API key, banned IP,
message, banned words, token limit, empty message, upstream call. Answers are the plugin's JSON
or an OpenAI-style SSE stream, PHP-escaped like the recordings in ``fixtures/wpaicg-1.8.96``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

from . import theme
from .core import (
    AJAX_HEADERS,
    HTML,
    JSON,
    Request,
    Response,
    format_reply,
    nocache_headers,
    words,
)
from .interfaces import ActionFn, Connection
from .scenarios import (
    EmulatorConfig,
    nonce_failure_is_json,
    reads_request,
    sanitizes_message,
)
from .wordpress import (
    addslashes,
    esc_url,
    php_json_encode,
    php_trim,
    sanitize_text_field,
    sanitize_textarea_field,
    wp_unslash,
)

__all__ = ["ACTIONS", "COUNTERS", "GREETING", "SSE_HEADERS", "STEPS", "chat", "nonce_failure", "page"]

GREETING = (
    "Converse as if you were an AI assistant. Answer the question as truthfully as possible "
    "using the provided context. Tone: Friendly.\n, Current context: \"" + theme.SITE_NAME + '"'
)
_NONCE_EXPIRED = "The link you followed has expired."
_MSG_EMPTY = "It appears that nothing was inputted."
_MSG_NO_KEY = "Unable to initialize the AI instance. Please make sure the API key is valid."
_MSG_IP = "You are not allowed to access this feature."
_MSG_WORDS = "Your message contains prohibited words. Please modify your message and try again."
_MSG_TOKENS = "You have reached your token limit."

SSE_HEADERS: tuple[tuple[str, str], ...] = (
    *nocache_headers("no-cache"),
    ("X-Accel-Buffering", "no"),
    ("Content-Type", "text/event-stream;charset=UTF-8"),
)


def page(h: Connection, req: Request) -> Response:
    """The chat page with the legacy shortcode box."""
    emu = h.emulator
    body = emu.render_page()
    headers = [
        ("Link", f'<{emu.base_url}/wp-json/>; rel="https://api.w.org/"'),
        ("Link", (f'<{emu.base_url}/wp-json/wp/v2/pages/{emu.config.post_id}>; rel="alternate"; '
                  'type="application/json"')),
        ("Vary", "Accept-Encoding"),
        HTML,
    ]
    return Response(200, headers, body)


def nonce_failure(h: Connection, req: Request) -> Response:
    """A failed ``check_admin_referer``: 200 JSON up to 1.8.90, then 403 HTML."""
    cfg = h.emulator.config
    if nonce_failure_is_json(cfg.era):
        body = php_json_encode({"status": "error", "msg": "Nonce verification failed"})
        return Response(200, [*AJAX_HEADERS, JSON], body.encode("ascii"), outcome="error")
    text = _NONCE_EXPIRED
    referer = _same_site_referer(h, req)
    if referer:
        text += f'</p><p><a href="{esc_url(referer)}">Please try again.</a>'
    return Response(403, [*AJAX_HEADERS, HTML], text.encode("utf-8"), outcome="error")


def _same_site_referer(h: Connection, req: Request) -> str:
    """``wp_get_referer()``: a Referer on the site's own host that is not this very URL."""
    referer = req.headers.get("referer", "")
    if not referer:
        return ""
    try:
        host = urlsplit(referer).hostname
    except ValueError:
        return ""
    if host != urlsplit(h.emulator.base_url).hostname:
        return ""
    if referer in (req.target, h.emulator.base_url + req.target):
        return ""
    return referer


def chat(h: Connection, req: Request) -> Response:
    """The ``wpaicg_chat_shortcode_message`` action: nonce check, then the plugin's handler."""
    emu = h.emulator
    cfg = emu.config
    if not emu.verify_nonce(req.request.get("_wpnonce", "")):
        emu.count("stale_nonce")
        resp = nonce_failure(h, req)
    else:
        resp = _chat(h, req, cfg)
    if resp.stream is None:  # SSE answers spread the latency over their events instead
        emu.wait(cfg.latency)
    return resp


def _chat(h: Connection, req: Request, cfg: EmulatorConfig) -> Response:
    """``WPAICG_Chat::wpaicg_chatbox_message()`` after the nonce check, in source order."""
    fields = req.request if reads_request(cfg.era) else req.post

    def json_answer(doc: dict[str, Any], outcome: str = "error") -> Response:
        return Response(200, [*AJAX_HEADERS, JSON], php_json_encode(doc).encode("ascii"),
                        outcome=outcome)

    if not cfg.api_key:
        return json_answer({"status": "error", "msg": _MSG_NO_KEY})

    # SSE events the plugin already echoed (ban flags); the stream branch does not exit
    flags: list[str] = []
    if req.client_ip in cfg.banned_ips:
        if not cfg.stream:
            return json_answer({"status": "error", "msg": _MSG_IP})
        flags.append(php_json_encode({"msg": _MSG_IP, "ipBanned": True}))

    slashed = addslashes(fields.get("message", ""))  # wp_magic_quotes
    if cfg.era == "1.8.79":
        message = sanitize_text_field(slashed)  # no wp_unslash in 1.8.79
    elif sanitizes_message(cfg.era):
        message = sanitize_text_field(wp_unslash(slashed))
    else:
        message = wp_unslash(slashed)

    banned = {word.strip().lower() for word in cfg.banned_words if word.strip()}
    if banned and any(word in banned for word in message.lower().split(" ")):
        if not cfg.stream:
            return json_answer({"status": "error", "msg": _MSG_WORDS})
        flags.append(php_json_encode({"msg": _MSG_WORDS, "messageFlagged": True}))

    if cfg.token_limit:
        doc = {"msg": _MSG_TOKENS, "tokenLimitReached": True}
        if not cfg.stream:
            return json_answer(doc)
        flags.append(php_json_encode(doc))
        return _sse(h, cfg, [f"data: {flag}\n\n" for flag in flags], outcome="error")

    if message == "":
        if flags:  # headers already went out as SSE: the JSON lands in the stream body
            events = [f"data: {flag}\n\n" for flag in flags]
            events.append(php_json_encode({"status": "error", "msg": _MSG_EMPTY}))
            return _sse(h, cfg, events, outcome="error")
        return json_answer({"status": "error", "msg": _MSG_EMPTY})

    history = _history(fields, cfg)
    identity = sanitize_text_field(wp_unslash(addslashes(fields.get("chatbot_identity", ""))))
    client_id = sanitize_text_field(wp_unslash(addslashes(fields.get("wpaicg_chat_client_id", ""))))
    reply = format_reply(cfg, message, history, identity=identity, client_id=client_id)
    emu = h.emulator
    if cfg.upstream_error is not None:
        if not cfg.stream:
            return json_answer({"status": "error", "msg": cfg.upstream_error,
                                "greeting_message": GREETING, "log": False})
        events = [f"data: {flag}\n\n" for flag in flags]
        for index, word in enumerate(cfg.upstream_error.split(" ")):
            piece = word if index == 0 else " " + word
            # the plugin concatenates the raw word into the JSON text: no escaping
            events.append('event: message\ndata: {"choices":[{"delta":{"content":"' + piece + '"}}]}\n\n')
        if cfg.stream_error_end == "limited":
            events.append("event: message\ndata: [LIMITED]\n\n")
        else:
            events.append('data: {"choices":[{"finish_reason":"stop"}]}\n\n')
        return _sse(h, cfg, events, outcome="error")

    if not cfg.stream:
        return json_answer({"status": "success", "msg": "Something went wrong",
                            "greeting_message": GREETING, "data": reply, "log": False}, "ok")

    ident = f"chatcmpl-emu{random.getrandbits(64):016x}"
    created = int(emu.clock())

    def chunk(delta: dict[str, str], finish: str | None) -> str:
        doc = {"id": ident, "object": "chat.completion.chunk", "created": created,
               "model": "gpt-3.5-turbo", "system_fingerprint": "fp_emulator",
               "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
        return "data: " + json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n\n"

    events = [f"data: {flag}\n\n" for flag in flags]
    events.append(chunk({"role": "assistant", "content": ""}, None))
    events.extend(chunk({"content": piece}, None) for piece in words(reply))
    events.append(chunk({}, "stop"))
    events.append("data: [DONE]\n\n")
    return _sse(h, cfg, events, outcome="error" if flags else "ok")

def _sse(h: Connection, cfg: EmulatorConfig, events: list[str], outcome: str) -> Response:
    emu = h.emulator
    pause = cfg.latency / max(1, len(events))

    def produce() -> Iterator[bytes]:
        for event in events:
            if pause and emu.wait(pause):
                return
            yield event.encode("utf-8", "surrogateescape")

    return Response(200, list(SSE_HEADERS), stream=produce(), chunked=True, outcome=outcome)

def _history(fields: dict[str, str], cfg: EmulatorConfig) -> list[dict[str, str]]:
    """The history the model gets (before the server re-appends the current message)."""
    raw = fields.get("wpaicg_chat_history", "")
    if not raw:
        return []
    slashed = addslashes(raw)
    if cfg.era == "1.8.79":
        text = sanitize_text_field(slashed)
    else:
        text = sanitize_textarea_field(wp_unslash(slashed))
    text = text.replace("\\", "")  # the plugin strips every backslash before json_decode
    try:
        decoded = json.loads(text)
    except ValueError:
        return []
    items: Iterable[Any]
    if isinstance(decoded, list):
        items = decoded
    elif isinstance(decoded, dict):
        items = decoded.values()
    else:
        return []
    out: list[dict[str, str]] = []
    for item in items:
        if isinstance(item, dict) and "text" in item:
            item = item["text"]
        if not isinstance(item, str):
            if isinstance(item, (int, float)) and not isinstance(item, bool):
                item = str(item)
            else:
                continue
        item = php_trim(item)
        if item.startswith("Human: "):
            out.append({"role": "user", "content": php_trim(item[len("Human: "):])})
        else:
            content = php_trim(item.replace("AI: ", ""))
            if content:
                out.append({"role": "assistant", "content": content})
    return out




#: admin-ajax actions of the 1.x plugin (both names reach the same handler).
ACTIONS: dict[str, ActionFn] = {"wpaicg_chat_shortcode_message": chat, "wpaicg_chatbox_message": chat}
#: 1.x has one step; its faults use the ``ajax`` target and its requests the ``ajax_posts`` counter.
STEPS: dict[str, str] = {}
COUNTERS: dict[str, str] = {}

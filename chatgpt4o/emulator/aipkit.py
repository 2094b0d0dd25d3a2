"""Plugin generation 2.x: AI Puffer's AIPKit chat (eras 2.3.19, 2.3.40, 2.4.0, 2.4.71).

admin-ajax actions (protocol-aipkit.md §2, checked in the plugin's order):

- ``aipkit_get_frontend_chat_nonce`` (2.3.41+): a fresh nonce; 403 ``cors_denied`` for a foreign
  Origin with a ``bot_id``.
- ``aipkit_cache_sse_message``: Origin (with ``bot_id``) -> nonce -> message -> ``cache_key``.
- ``aipkit_frontend_chat_stream``: always 200 SSE; Origin -> nonce -> cache -> bot, conversation,
  session, message -> token quota -> moderation -> log the user message -> the turn
  (:mod:`.aipkit_stream`) -> log the reply or "Error: ...".
- ``aipkit_frontend_chat_message`` (up to 2.4.0): the same turn as one JSON answer.
- ``aipkit_get_conversation_history``, ``aipkit_get_conversations_list``.

Everything else, the legacy ``wpaicg_*`` actions included, is ``0`` with HTTP 400.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from . import aipkit_page
from .aipkit_era import AipkitEra, aipkit_era
from .aipkit_store import CachedMessage
from .aipkit_stream import Turn, error_stream, message_id, turn_stream
from .core import AJAX_HEADERS, HTML, JSON, Request, Response, format_reply, zero_400
from .interfaces import ActionFn, Connection
from .wordpress import (
    AIPKIT_NONCE_ACTION,
    php_json_encode,
    sanitize_key,
    sanitize_text_field,
    wp_check_invalid_utf8,
    wp_strip_all_tags,
)

__all__ = ["ACTIONS", "COUNTERS", "STEPS", "nonce_failure", "page", "stream"]

_CORS = "This domain is not permitted to access the chatbot."
_EMBED = "Embed feature is not available with your current plan."
_CACHE_NONCE = "Your session has expired or the request is invalid. Please refresh the page and try again."
_NONSTREAM_NONCE = "Security check failed. Please refresh the page and try again."
_MSG_IP = "Access from your IP address has been blocked."
_MSG_WORDS = "Sorry, your message could not be sent as it contains prohibited words."
_MSG_FLAGGED = "Your message was flagged by the moderation system and could not be sent."
_MODEL = "gpt-5.6-luna"
_SYSTEM = "You are the friendly assistant of the emulated site. Answer briefly."


def _send(status: int, data: Any, success: bool = False) -> Response:
    """``wp_send_json_success``/``wp_send_json_error``."""
    body = php_json_encode({"success": success, "data": data}).encode("ascii")
    # Apache closes the connection after a 400 (not after a 403), as the recordings show
    return Response(status, [*AJAX_HEADERS, JSON], body, close=status == 400, outcome="ok" if success else "error")


def _error(status: int, message: str, code: str | None = None) -> Response:
    return _send(status, {"message": message, **({"code": code} if code else {})})


def _int(value: str) -> int:
    match = re.match(r"\s*[+-]?\d+", value)
    return abs(int(match.group(0))) if match else 0  # absint


def _cross_origin(h: Connection, req: Request) -> bool:
    """The plugin's same-origin test: no Origin is same-origin; scheme and host, not port."""
    origin = req.headers.get("origin", "")
    if not origin:
        return False
    site = urlsplit(h.emulator.config.site_url or h.emulator.base_url)
    theirs = urlsplit(origin)
    return (theirs.hostname or "") != (site.hostname or "") or (theirs.scheme or "http") != (site.scheme or "http")


def _nonce_ok(h: Connection, req: Request) -> bool:
    ok = h.emulator.verify_nonce(req.request.get("_ajax_nonce", ""), AIPKIT_NONCE_ACTION)
    if not ok:
        h.emulator.count("stale_nonce")
    return ok


def page(h: Connection, req: Request) -> Response:
    """The chat page (or the bots' sub-page) with AIPKit chat boxes."""
    emu = h.emulator
    body = emu.render_page(req.path, req.client_address[0])
    post = emu.config.post_id + (1 if req.path == emu.config.bot_path else 0)
    headers = [
        ("Link", f'<{emu.base_url}/wp-json/>; rel="https://api.w.org/"'),
        ("Link", f'<{emu.base_url}/wp-json/wp/v2/pages/{post}>; rel="alternate"; type="application/json"'),
        ("Vary", "Accept-Encoding"),
        HTML,
    ]
    return Response(200, headers, body)


def nonce_failure(h: Connection, req: Request) -> Response:
    """A stale nonce, in the form of the step ``req`` is (``stale_nonce`` fault)."""
    action = req.request.get("action", "")
    era = aipkit_era(h.emulator.config.era)
    if action == "aipkit_frontend_chat_stream":
        return error_stream(h.emulator, era, era.stream_nonce_text)
    if action == "aipkit_frontend_chat_message":
        return _send(403, {"message": _NONSTREAM_NONCE})
    if action in ("aipkit_get_conversation_history", "aipkit_get_conversations_list"):
        return _error(403, "Security check failed (nonce).", "nonce_failure")
    return _error(403, _CACHE_NONCE, "nonce_failure_cache_sse")


def refresh_nonce(h: Connection, req: Request) -> Response:
    """``aipkit_get_frontend_chat_nonce``: no nonce needed; Origin checked only with a bot_id."""
    if _int(req.post.get("bot_id", "")) > 0 and _cross_origin(h, req):
        return _error(403, _CORS, "cors_denied")
    return _send(200, {"nonce": h.emulator.nonce(AIPKIT_NONCE_ACTION)}, success=True)


def cache(h: Connection, req: Request) -> Response:
    """``aipkit_cache_sse_message``: step 1 of a turn (answered after ``cache_latency``)."""
    emu = h.emulator
    cfg = emu.config
    emu.wait(cfg.cache_latency)
    era = aipkit_era(cfg.era)
    if era.origin_check and _int(req.post.get("bot_id", "")) > 0 and _cross_origin(h, req):
        return _error(403, _EMBED, "embed_not_available")
    if not _nonce_ok(h, req):
        return _error(403, _CACHE_NONCE, "nonce_failure_cache_sse")
    message = wp_check_invalid_utf8(req.post.get("message", "")).replace("\0", "")
    if message in ("", "0"):  # PHP empty()
        return _error(400, "Data to cache (message or image) cannot be empty.", "empty_data_to_cache")
    client_id = sanitize_key(req.post.get("user_client_message_id", ""))
    key = emu.aipkit.cache_message(message, client_id, emu.clock(), cfg.cache_ttl)
    return _send(200, {"cache_key": key}, success=True)


def _bot_entry(reply: str, msg_id: str, response_id: str, now: float, cfg: Any,
               model_input: list[dict[str, str]]) -> dict[str, Any]:
    tokens_in, tokens_out = sum(len(m["content"].split()) for m in model_input) + 60, len(reply.split())
    usage = {"input_tokens": tokens_in, "output_tokens": tokens_out, "total_tokens": tokens_in + tokens_out}
    return {
        "message_id": msg_id.replace(".", ""), "role": "bot", "content": reply, "timestamp": int(now),
        "provider": cfg.provider, "model": _MODEL, "usage": {**usage, "provider_raw": {
            "input_tokens": tokens_in, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": tokens_out,
            "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": tokens_in + tokens_out}},
        "request_payload": {"provider": cfg.provider, "model": _MODEL, "payload_sent": {
            "model": _MODEL, "input": [{"role": "system", "content": _SYSTEM}, *model_input],
            "stream": True, "store": False, "max_output_tokens": 4000, "reasoning": {"effort": "none"}}},
        "openai_response_id": response_id,
    }


def _prepare(h: Connection, req: Request, era: AipkitEra, cached: CachedMessage | None,
             message: str, nonstream: bool) -> tuple[str, str | None, Turn | None]:
    """Validation, quota, moderation and the user message's log entry, shared by both paths.

    Returns ``(error text, quota message or None, None)`` or ``("", None, turn)``.
    """
    emu = h.emulator
    cfg = emu.config
    fields = req.request
    bot = _int(fields.get("bot_id", ""))
    conversation = sanitize_key(fields.get("conversation_uuid", ""))[:36]
    session = sanitize_text_field(fields.get("session_id", ""))[:64]
    if bot not in aipkit_page.bot_ids(cfg) or bot in cfg.draft_bots:
        return "Invalid chatbot specified.", None, None
    if not conversation:
        return "Conversation ID is missing.", None, None
    if not session:
        return "Session ID is missing for guest.", None, None
    if not message:
        return "Message or image cannot be empty.", None, None
    if cfg.guest_limit == 0:
        return "Access disabled for guests.", None, None
    if cfg.guest_limit is not None and emu.aipkit.usage(session, bot) >= cfg.guest_limit:
        quota = cfg.token_limit_message or era.quota_text
        return quota, quota, None
    if req.client_address[0] in cfg.banned_ips:
        return _MSG_IP, None, None

    def has(words: tuple[str, ...]) -> bool:
        return any(re.search(rf"\b{re.escape(w.strip())}\b", message, re.IGNORECASE) for w in words if w.strip())

    if has(cfg.banned_words):
        return _MSG_WORDS, None, None
    if era.moderation and has(cfg.moderation_words):
        return _MSG_FLAGGED, None, None
    key = (bot, session, conversation)
    now = emu.clock()
    stored = emu.aipkit.messages(key)[-cfg.max_messages :]
    history = [{"role": "assistant" if m["role"] == "bot" else "user", "content": m["content"]} for m in stored]
    user_id = (cached.client_message_id if cached else "") or message_id(now).replace(".", "")
    emu.aipkit.append(key, {"message_id": user_id, "role": "user", "content": message, "timestamp": int(now)}, now)
    seen = history + [{"role": "user", "content": message}] if nonstream else history  # sent twice (§8.0)
    reply = format_reply(cfg, message, seen, bot_id=bot, session_id=session, conversation_uuid=conversation)
    model_input = history + [{"role": "user", "content": message}]

    def on_success(text: str, msg_id: str, response_id: str) -> None:
        when = emu.clock()
        emu.aipkit.append(key, _bot_entry(text, msg_id, response_id, when, cfg, model_input), when)
        emu.aipkit.add_usage(session, bot, max(1, len(message.split()) + len(text.split())))

    def on_error(text: str) -> None:
        when = emu.clock()
        emu.aipkit.append(key, {"message_id": message_id(when).replace(".", ""), "role": "bot",
                                "content": "Error: " + text, "timestamp": int(when)}, when)

    upstream = cfg.upstream_error
    if not cfg.api_key and upstream is None:
        upstream = "Incorrect API key provided. (Code: invalid_api_key)"
    return "", None, Turn(reply, on_success, on_error, upstream, cfg.provider == "OpenAI")


def stream(h: Connection, req: Request, variant: str = "normal") -> Response:
    """``aipkit_frontend_chat_stream``: step 2 of a turn (``variant``: see :func:`turn_stream`)."""
    emu = h.emulator
    era = aipkit_era(emu.config.era)
    fields = req.request
    if era.origin_check and _cross_origin(h, req):
        return error_stream(emu, era, _CORS)
    if not _nonce_ok(h, req):
        return error_stream(emu, era, era.stream_nonce_text)
    key = fields.get("cache_key", "")
    if not key:
        return error_stream(emu, era, "Message cache key is missing.")
    cached = emu.aipkit.take_message(sanitize_key(key), emu.clock(), emu.config.cache_ttl)
    if isinstance(cached, str):
        return error_stream(emu, era, cached)
    error, quota, turn = _prepare(h, req, era, cached, cached.message, nonstream=False)
    if turn is None:
        extra: dict[str, object] = {}
        if quota is not None and era.quota_notice:
            actions = [dict(a, variant=a.get("variant", "primary")) for a in emu.config.quota_actions]
            extra["quota_notice"] = {"type": "quota_notice", "message": quota, "actions": actions}
        return error_stream(emu, era, error, extra)
    return turn_stream(emu, era, turn, variant)


def message(h: Connection, req: Request) -> Response:
    """``aipkit_frontend_chat_message`` (2.3 - 2.4.0): one turn, answered as JSON."""
    emu = h.emulator
    era = aipkit_era(emu.config.era)
    if not era.nonstream:
        return zero_400(full_headers=True)
    if era.origin_check and _int(req.post.get("bot_id", "")) > 0 and _cross_origin(h, req):
        return _send(403, {"message": _EMBED})
    if era.nonstream_nonce and not _nonce_ok(h, req):
        return _send(403, {"message": _NONSTREAM_NONCE})
    if _int(req.post.get("bot_id", "")) not in aipkit_page.bot_ids(emu.config):
        # observed: a PHP type error, WordPress' critical-error page
        return Response(500, [HTML], b"<p>There has been a critical error on this website.</p>", outcome="error")
    text = wp_check_invalid_utf8(req.post.get("message", "")).replace("\0", "")
    if era.nonstream_strips_tags:
        text = wp_strip_all_tags(text)
    error, quota, turn = _prepare(h, req, era, None, text, nonstream=True)
    emu.wait(emu.config.latency)
    if turn is None:
        status = {"Invalid chatbot specified.": 400, _MSG_IP: 403}.get(error, 429 if quota or "guests" in error
                                                                        else 400)
        return _send(status, {"message": error})
    if turn.upstream_error is not None:
        turn.on_error(turn.upstream_error)
        return _send(400, {"message": turn.upstream_error})
    msg_id = message_id(emu.clock())
    turn.on_success(turn.reply, msg_id, "")
    return _send(200, {"reply": turn.reply, "message_id": msg_id}, success=True)


def _guest(h: Connection, req: Request) -> tuple[Response | None, int, str]:
    if not _nonce_ok(h, req):
        return _error(403, "Security check failed (nonce).", "nonce_failure"), 0, ""
    return None, _int(req.post.get("bot_id", "")), sanitize_text_field(req.post.get("session_id", ""))[:64]


def history(h: Connection, req: Request) -> Response:
    """``aipkit_get_conversation_history``: the stored messages of one conversation."""
    failed, bot, session = _guest(h, req)
    if failed is not None:
        return failed
    conversation = sanitize_key(req.post.get("conversation_uuid", ""))[:36]
    if not bot or not conversation:
        return _error(400, "Bot ID and Conversation ID are required.", "missing_params")
    if not session:
        return _error(400, "Session ID is required for guest history.", "missing_session_id")
    return _send(200, {"history": h.emulator.aipkit.messages((bot, session, conversation))}, success=True)


def conversations(h: Connection, req: Request) -> Response:
    """``aipkit_get_conversations_list``: a guest's conversations with a bot, newest first."""
    failed, bot, session = _guest(h, req)
    if failed is not None:
        return failed
    if not bot:
        return _error(400, "Bot ID is required.", "missing_bot_id")
    if not session:
        return _error(400, "User or Session ID is required.", "missing_identifier")
    rows = []
    for uuid, items, when in h.emulator.aipkit.conversations(bot, session):
        first = next((m["content"] for m in items if m["role"] == "user"), "")
        title = " ".join(first.split()[:5]) + ("..." if len(first.split()) > 5 else "")
        rows.append({"id": uuid, "title": title, "timestamp": int(when)})
    return _send(200, {"conversations": rows}, success=True)


def _refresh_if_registered(h: Connection, req: Request) -> Response:
    return refresh_nonce(h, req) if aipkit_era(h.emulator.config.era).nonce_refresh else zero_400(full_headers=True)


#: admin-ajax actions of the AIPKit plugin (the era decides on the two that come and go).
ACTIONS: dict[str, ActionFn] = {
    "aipkit_get_frontend_chat_nonce": _refresh_if_registered,
    "aipkit_cache_sse_message": cache,
    "aipkit_frontend_chat_stream": stream,
    "aipkit_frontend_chat_message": message,
    "aipkit_get_conversation_history": history,
    "aipkit_get_conversations_list": conversations,
}

#: action -> the fault target of its step.
STEPS: dict[str, str] = {"aipkit_cache_sse_message": "cache", "aipkit_frontend_chat_stream": "stream",
                         "aipkit_get_frontend_chat_nonce": "nonce"}

#: action -> the counter it increments (see ``Emulator.stats``).
COUNTERS: dict[str, str] = {"aipkit_cache_sse_message": "cache_posts", "aipkit_frontend_chat_stream": "streams",
                            "aipkit_get_frontend_chat_nonce": "nonce_refreshes",
                            "aipkit_frontend_chat_message": "nonstream_posts",
                            "aipkit_get_conversation_history": "history_requests",
                            "aipkit_get_conversations_list": "history_requests"}

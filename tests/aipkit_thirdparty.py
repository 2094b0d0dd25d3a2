"""A small third-party 2.x (AIPKit) client, written from protocol-aipkit.md §9 alone.

Plain ``requests`` and a 20-line SSE reader; nothing from ``chatgpt4o`` (the emulator tests use it
to check that the emulator speaks the protocol as a stranger reads it).
"""

from __future__ import annotations

import html
import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import requests


def sse_events(lines: Iterator[bytes]) -> Iterator[tuple[str, Any]]:
    """``(event, data)`` per record; comments skipped, undecodable data skipped (§4.6)."""
    event, data = "message", []
    for raw in lines:
        line = raw.decode("utf-8").rstrip("\r")
        if line == "":
            if data:
                try:
                    yield event, json.loads("\n".join(data))
                except ValueError:
                    pass
            event, data = "message", []
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)


def read_configs(page_html: str) -> list[dict[str, Any]]:
    """Every bot's ``data-config`` (§1.9 fallback regex, HTML-unescaped)."""
    found = re.findall(r"id=\"aipkit_(?:chat_container|popup_wrapper)_(\d+)\"[^>]*?data-config='([^']*)'", page_html)
    return [json.loads(html.unescape(raw)) for _, raw in found]


class StreamError(Exception):
    """An ``error`` event."""

    def __init__(self, text: str, data: dict[str, Any]) -> None:
        super().__init__(text)
        self.data = data


class Truncated(Exception):
    """The stream ended without ``done``."""


class ThirdPartyClient:
    """One guest: a session id, one conversation per instance."""

    def __init__(self, page_url: str, bot_id: int | None = None) -> None:
        self.http = requests.Session()
        self.page_url = page_url
        configs = read_configs(self.http.get(page_url, timeout=10).text)
        self.cfg = next(c for c in configs if bot_id is None or c["botId"] == bot_id)
        self.session_id = str(uuid.uuid4())
        self.conversation = str(uuid.uuid4())

    def refresh_nonce(self) -> str:
        r = self.http.post(self.cfg["ajaxUrl"], data={"action": "aipkit_get_frontend_chat_nonce",
                                                       "bot_id": self.cfg["botId"]}, timeout=10)
        self.cfg["nonce"] = r.json()["data"]["nonce"]
        return str(self.cfg["nonce"])

    def cache(self, text: str) -> requests.Response:
        return self.http.post(self.cfg["ajaxUrl"], files={
            "action": (None, "aipkit_cache_sse_message"), "_ajax_nonce": (None, self.cfg["nonce"]),
            "bot_id": (None, str(self.cfg["botId"])), "message": (None, text)}, timeout=10)

    def ask(self, text: str, *, retried: bool = False) -> str:
        r = self.cache(text)
        body = r.json() if r.headers.get("content-type", "").startswith("application/json") else None
        if not (body and body.get("success")):
            if not retried and r.status_code == 403:
                self.refresh_nonce()
                return self.ask(text, retried=True)
            raise RuntimeError(f"cache step failed: {r.status_code} {r.text[:200]}")
        params = {"action": "aipkit_frontend_chat_stream", "cache_key": body["data"]["cache_key"],
                  "bot_id": self.cfg["botId"], "session_id": self.session_id,
                  "conversation_uuid": self.conversation, "_ts": 1700000000000, "_ajax_nonce": self.cfg["nonce"]}
        if self.cfg.get("postId", 0) > 0:
            params["post_id"] = self.cfg["postId"]
        reply: list[str] = []
        with self.http.get(self.cfg["ajaxUrl"], params=params, headers={"Accept": "text/event-stream"},
                           stream=True, timeout=(5, 30)) as resp:
            for event, data in sse_events(resp.iter_lines(delimiter=b"\n")):
                if event == "message_start":
                    reply.append("")
                elif event == "message" and "delta" in data:
                    reply[-1] += data["delta"]
                elif event == "error":
                    raise StreamError(data.get("error", ""), data)
                elif event == "done":
                    return "".join(reply)
        raise Truncated("".join(reply))

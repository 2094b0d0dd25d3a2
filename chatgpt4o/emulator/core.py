"""The WordPress side of every request: parsed requests, answers, admin-ajax's stock replies.

Shared by both plugin generations and by the fault table: :class:`Request` (the request the way
PHP sees it: ``$_GET``, ``$_POST``, ``$_FILES``), :class:`Response` (one answer, whole or
streamed), the body parsers (urlencoded and multipart at the byte level, like PHP), admin-ajax's
headers and its ``0``/400 answer for an action nobody registered.
"""

from __future__ import annotations

import dataclasses
import email.message
import email.utils
import json
import re
import threading
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote_to_bytes

from .scenarios import EmulatorConfig

__all__ = [
    "AJAX_HEADERS",
    "HTML",
    "JSON",
    "POST_MAX_SIZE",
    "SERVER",
    "Request",
    "Response",
    "StatusCounts",
    "cached",
    "chunk",
    "client_ip",
    "format_reply",
    "head",
    "html_page",
    "nocache_headers",
    "parse_multipart",
    "parse_urlencoded",
    "words",
    "zero_400",
]

POST_MAX_SIZE = 8 * 1024 * 1024  # PHP's default post_max_size
SERVER = "Apache/2.4.71 (Debian)"

_NOCACHE = "no-cache, must-revalidate, max-age=0"  # wp_get_nocache_headers()


def nocache_headers(cache_control: str = _NOCACHE) -> list[tuple[str, str]]:
    """What admin-ajax sends before an action's answer, in the recorded order: ``X-Robots-Tag``,
    ``nocache_headers()`` (the plugin's streams send their own ``Cache-Control``), nosniff and
    the frame options."""
    return [
        ("X-Robots-Tag", "noindex"),
        ("X-Content-Type-Options", "nosniff"),
        ("Expires", "Wed, 11 Jan 1984 05:00:00 GMT"),
        ("Cache-Control", cache_control),
        ("Referrer-Policy", "strict-origin-when-cross-origin"),
        ("X-Frame-Options", "SAMEORIGIN"),
    ]


# admin-ajax's headers for a registered action (nocache + nosniff + frame options), fixture order
AJAX_HEADERS: tuple[tuple[str, str], ...] = tuple(nocache_headers())
JSON = ("Content-Type", "application/json; charset=UTF-8")
HTML = ("Content-Type", "text/html; charset=UTF-8")

# --------------------------------------------------------------------------- data


@dataclasses.dataclass
class Response:
    """One answer. ``stream`` (if set) is written after the head, chunked or ``length`` bytes."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    stream: Iterable[bytes] | None = None
    chunked: bool = False
    length: int | None = None
    close: bool = False
    outcome: str = "ok"  # "ok" or "error": feeds stats["errors"]

    def materialize(self) -> bytes:
        """The whole body as bytes (drains ``stream``)."""
        if self.stream is None:
            return self.body
        return self.body + b"".join(self.stream)


@dataclasses.dataclass
class Request:
    """A parsed request, the way PHP would see it (``$_GET``, ``$_POST``, ``$_FILES``)."""

    method: str
    path: str
    target: str
    headers: dict[str, str]
    get: dict[str, str]
    post: dict[str, str]
    files: list[dict[str, Any]]
    client_ip: str
    client_address: tuple[str, int]
    body: bytes = b""
    body_dropped: bool = False

    @property
    def request(self) -> dict[str, str]:
        """``$_REQUEST`` (request_order "GP": POST overrides GET)."""
        merged = dict(self.get)
        merged.update(self.post)
        return merged


class StatusCounts(dict[int, int]):
    """``{status: count}``; a missing status reads as 0, ``"200"`` works like ``200``."""

    def __missing__(self, key: Any) -> int:
        if isinstance(key, str) and key.isdigit() and int(key) in self:
            return self[int(key)]
        return 0


# --------------------------------------------------------------------------- helpers


def head(resp: Response, length: int | None) -> bytes:
    """Status line and headers of ``resp``; ``length`` None means chunked.

    The framing headers go right before ``Content-Type``, as Apache orders them.
    """
    try:
        reason = HTTPStatus(resp.status).phrase
    except ValueError:
        reason = ""
    lines = [f"HTTP/1.1 {resp.status} {reason}", "Date: " + email.utils.formatdate(usegmt=True)]
    if not any(name.lower() == "server" for name, _ in resp.headers):
        lines.append("Server: " + SERVER)
    framing = ["Transfer-Encoding: chunked"] if length is None else [f"Content-Length: {length}"]
    if resp.close:
        framing.append("Connection: close")
    placed = False
    for name, value in resp.headers:
        if name == "Content-Type" and not placed:
            lines.extend(framing)
            placed = True
        lines.append(f"{name}: {value}")
    if not placed:
        lines.extend(framing)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")



def chunk(data: bytes) -> bytes:
    """One HTTP/1.1 chunk."""
    return b"%x\r\n%s\r\n" % (len(data), data)


def _php_value(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def parse_urlencoded(body: bytes) -> dict[str, str]:
    """``application/x-www-form-urlencoded`` at the byte level, like PHP (last field wins)."""
    fields: dict[str, str] = {}
    for pair in body.split(b"&"):
        if not pair:
            continue
        name, _, value = pair.partition(b"=")
        key = _php_value(unquote_to_bytes(name.replace(b"+", b" ")))
        fields[key] = _php_value(unquote_to_bytes(value.replace(b"+", b" ")))
    return fields


def parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """``multipart/form-data`` the way PHP fills ``$_POST``/``$_FILES`` (last field wins)."""
    header = email.message.Message()
    header["content-type"] = content_type
    boundary = header.get_param("boundary")
    fields: dict[str, str] = {}
    files: list[dict[str, Any]] = []
    if not isinstance(boundary, str) or not boundary:
        return fields, files
    delimiter = b"--" + boundary.encode("latin-1")
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break
        if part.startswith(b"\r\n"):
            part = part[2:]
        elif part.startswith(b"\n"):
            part = part[1:]
        head, sep, content = part.partition(b"\r\n\r\n")
        if not sep:
            head, sep, content = part.partition(b"\n\n")
        if content.endswith(b"\r\n"):
            content = content[:-2]
        elif content.endswith(b"\n"):
            content = content[:-1]
        headers = email.message.Message()
        for line in head.decode("utf-8", "replace").splitlines():
            header_name, _, value = line.partition(":")
            if header_name.strip():
                headers[header_name.strip()] = value.strip()
        name = headers.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        filename = headers.get_param("filename", header="content-disposition")
        if isinstance(filename, str):
            files.append(
                {
                    "field": name,
                    "filename": filename,
                    "content_type": headers.get("content-type", ""),
                    "size": len(content),
                }
            )
        else:
            fields[name] = _php_value(content)
    return fields, files


def client_ip(headers: dict[str, str], remote: str) -> str:
    """The plugin's getIpAddress(): proxy headers first, REMOTE_ADDR last."""
    for name in ("client-ip", "x-forwarded-for", "x-forwarded", "x-cluster-client-ip",
                 "forwarded-for", "forwarded"):
        value = headers.get(name, "")
        if value:
            for item in value.split(","):
                item = item.strip()
                if re.fullmatch(r"[0-9a-fA-F:.]+", item):
                    return item
    return remote


def words(text: str) -> list[str]:
    """Split a reply into streamed pieces the way OpenAI tokens look ("echo: ", "Hello ")."""
    return re.findall(r"\s*\S+\s*", text) or ([text] if text else [])


_CACHE_LOCK = threading.Lock()
_CACHE: dict[str, bytes] = {}


def cached(name: str, build: Callable[[], bytes]) -> bytes:
    """``build()`` once per process (large fault bodies)."""
    with _CACHE_LOCK:
        if name not in _CACHE:
            _CACHE[name] = build()
        return _CACHE[name]


def html_page(status: int, title: str, body: str, extra: Iterable[tuple[str, str]] = (),
              close: bool = False) -> Response:
    """A small HTML error page (a proxy's, a host's or WordPress' own)."""
    html = f"<!DOCTYPE html>\n<html><head><title>{title}</title></head><body>{body}</body></html>\n"
    return Response(status, [*extra, HTML], html.encode("utf-8"), close=close, outcome="error")


def zero_400(full_headers: bool = False) -> Response:
    """admin-ajax's ``wp_die('0', 400)`` for an unregistered action; Apache closes after a 400.

    ``full_headers``: an action was given, so admin-ajax had already sent nosniff and the frame
    options (fixture aipkit 05); without an action it dies before them (fixture 41).
    """
    headers = ([*AJAX_HEADERS, HTML] if full_headers else
               [("X-Robots-Tag", "noindex"), ("Expires", "Wed, 11 Jan 1984 05:00:00 GMT"),
                ("Cache-Control", _NOCACHE), HTML])
    return Response(400, headers, b"0", close=True, outcome="error")


def format_reply(cfg: EmulatorConfig, message: str, history: list[dict[str, str]], **extra: Any) -> str:
    """What the emulated model answers: ``cfg.reply``, else ``cfg.reply_template`` filled in.

    Placeholders: ``{message}`` (what the model got this turn), ``{turns}`` (history items),
    ``{history}`` (JSON list of ``{"role","content"}``) and the generation's ``extra`` names.
    A template that does not format (unknown name, stray brace) is answered verbatim.
    """
    if cfg.reply is not None:
        return cfg.reply
    try:
        return cfg.reply_template.format(message=message, turns=len(history),
                                         history=json.dumps(history, ensure_ascii=False), **extra)
    except (KeyError, IndexError, ValueError):
        return cfg.reply_template

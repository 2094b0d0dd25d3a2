"""The recorded answers of a live AI Puffer 2.4.71 site (tests/fixtures/aipkit-2.4.71/), and page builders."""

from __future__ import annotations

import html as html_module
import json
import pathlib
from dataclasses import dataclass
from typing import Any

FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures" / "aipkit-2.4.71"


@dataclass(frozen=True)
class Recording:
    """One answer as recorded by ``curl -i``: status, headers, body."""

    name: str
    status: int
    headers: dict[str, str]
    body: bytes


def load(name: str) -> Recording:
    """Read ``name`` (an .http file); the bodies are stored already de-chunked."""
    raw = (FIXTURES / name).read_bytes()
    head, sep, body = raw.partition(b"\r\n\r\n")
    assert sep, f"{name}: no blank line after the headers"
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        key, _, value = line.partition(":")
        headers[key.strip()] = value.strip()
    return Recording(name, int(lines[0].split()[1]), headers, body)


def names() -> list[str]:
    """Every recorded answer."""
    return sorted(path.name for path in FIXTURES.glob("*.http"))


def text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def wp_json(value: Any) -> str:
    """``wp_json_encode`` with JSON_UNESCAPED_UNICODE | JSON_HEX_TAG | APOS | AMP | QUOT (and ``\\/``)."""
    encoded = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for raw, hexed in (("<", "\\u003C"), (">", "\\u003E"), ("'", "\\u0027"), ("&", "\\u0026"), ("/", "\\/")):
        encoded = encoded.replace(raw, hexed)
    # Quotes inside strings are \" after json.dumps: the plugin writes \u0022.
    return encoded.replace('\\"', "\\u0022")


def data_config(config: dict[str, Any]) -> str:
    """The attribute value as the plugin prints it (esc_attr of the JSON, in single quotes)."""
    return "'" + html_module.escape(wp_json(config), quote=True).replace("&#x27;", "&#039;") + "'"


def config(bot_id: int, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "botId": bot_id,
        "ajaxUrl": "https://example.com/wp-admin/admin-ajax.php",
        "nonce": "3f9a1c2b7d",
        "postId": 45,
        "popupEnabled": False,
        "headerName": f"Bot {bot_id}",
        "provider": "OpenAI",
        "popupLabelEnabled": True,
    }
    base.update(extra)
    return {k: v for k, v in base.items() if v is not None}


def inline(cfg: dict[str, Any]) -> str:
    bot = cfg.get("botId", 0)
    return (
        f'<div class="aipkit_chat_container aipkit-theme-light aipkit-sidebar-state-closed" '
        f'id="aipkit_chat_container_{bot}" data-bot-id="{bot}" data-config={data_config(cfg)}>'
        '<div class="aipkit_chat_body"><div class="aipkit_chat_main"><div class="aipkit_chat_messages"></div>'
        "</div></div></div>"
    )


def popup(cfg: dict[str, Any]) -> str:
    bot = cfg.get("botId", 0)
    return (
        f'<div class="aipkit_popup_wrapper aipkit-popup-theme-light" id="aipkit_popup_wrapper_{bot}" '
        f'data-config={data_config(cfg)} data-bot-id="{bot}" data-icon-size="medium">'
        f'<button type="button" class="aipkit_popup_trigger" id="aipkit_popup_trigger_{bot}">Chat</button>'
        f'<div class="aipkit_chat_container aipkit_popup_content aipkit-theme-light" '
        f'id="aipkit_chat_container_{bot}" aria-hidden="true" inert><div class="aipkit_chat_body"></div></div>'
        "</div>"
    )


BUNDLE = (
    "<script src='https://example.com/wp-content/plugins/gpt3-ai-content-generator/dist/js/"
    "public-main.bundle.js?ver={ver}' id='aipkit-public-main-js'></script>"
)


def page(*bots: str, head: str = "", tail: str = "") -> str:
    return (
        f"<!doctype html><html><head><title>t</title>{head}</head><body><main>"
        + "".join(bots)
        + f"</main>{tail}</body></html>"
    )

"""The 2.x chat page: a WordPress front page with AIPKit chat boxes (inline or popup).

The markup follows ``fixtures/aipkit-2.4.71/homepage.html`` and protocol-aipkit.md §1.2-1.6:
``div.aipkit_chat_container`` (inline) or ``div.aipkit_popup_wrapper`` (popup) carrying
``data-bot-id`` and ``data-config`` (the plugin's ``wp_json_encode`` with the HEX flags, then
``esc_attr``, in single quotes), the ``aipkit-public-main-js`` script with ``?ver=<version>`` and,
from 2.3.41, the inline ``window.aipkit_getChatNonceAction`` and the nonce-retry wrappers.

The page is rendered once per scenario with slots (:class:`~.theme.PageTemplate`); each GET joins
in the current nonce and, for eras that print it, the visitor's IP (``userIp``).
"""

from __future__ import annotations

import json
import math
from typing import Any

from . import theme
from .aipkit_config import CONFIG_2_4_71
from .aipkit_era import aipkit_era
from .scenarios import EmulatorConfig
from .theme import SITE_NAME, PageTemplate, split_template
from .wordpress import esc_html

__all__ = ["IP_SLOT", "NONCE_SLOT", "bot_ids", "build_aipkit_page", "page_bots", "wp_json_encode_hex"]

#: Template slots (plain ASCII, unchanged by the JSON and attribute escaping).
NONCE_SLOT = "@@AIPKIT-NONCE@@"
IP_SLOT = "@@AIPKIT-USER-IP@@"

_PLUGIN = "/wp-content/plugins/gpt3-ai-content-generator"
_NAMES = ("Site Assistant", "Sales Helper", "Support Desk", "Docs Guide", "Travel Buddy")
_HEX = {'"': "\\u0022", "'": "\\u0027", "<": "\\u003C", ">": "\\u003E", "&": "\\u0026",
        "\\": "\\\\", "/": "\\/", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
        "\u2028": "\\u2028", "\u2029": "\\u2029"}


def _php_string(text: str) -> str:
    out = []
    for char in text:
        if char in _HEX:
            out.append(_HEX[char])
        elif ord(char) < 0x20:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)  # JSON_UNESCAPED_UNICODE
    return '"' + "".join(out) + '"'


def wp_json_encode_hex(value: Any) -> str:
    """``wp_json_encode($v, JSON_UNESCAPED_UNICODE|JSON_HEX_TAG|JSON_HEX_APOS|JSON_HEX_AMP|JSON_HEX_QUOT)``."""
    if isinstance(value, str):
        return _php_string(value)
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) and value != int(value) else str(int(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{_php_string(str(k))}:{wp_json_encode_hex(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(wp_json_encode_hex(v) for v in value) + "]"
    raise TypeError(f"cannot encode {type(value).__name__}")


def bot_ids(config: EmulatorConfig) -> tuple[int, ...]:
    """Every bot of the site: the page's bots, then the site-wide popup bot (if any)."""
    first = config.bot_id or 5
    count = config.bots + (1 if config.sitewide_popup else 0)
    return tuple(range(first, first + count))


def page_bots(config: EmulatorConfig) -> tuple[int, ...]:
    """The bots rendered by the shortcode on the chat page (``bot_path`` or ``page_path``)."""
    return bot_ids(config)[: config.bots]


def _bot_config(config: EmulatorConfig, bot: int, index: int, ajax_url: str, post_id: int,
                popup: bool) -> dict[str, Any]:
    era = aipkit_era(config.era)
    out: dict[str, Any] = {}
    for key, value in CONFIG_2_4_71.items():
        if not era.popup_label_keys and (key.startswith(("popupLabel", "headerAvatar"))
                                         or key in ("popupIconSize", "popupIconStyle", "headerOnlineText")):
            continue
        if not era.google_state_key and key in ("enableGoogleConversationState", "fileUploadProvider"):
            continue
        if key == "footerText" and era.stream_enabled_key:
            out["streamEnabled"] = config.stream
        if key == "requireConsentCompliance" and era.user_ip_key:
            out["userIp"] = IP_SLOT
        out[key] = value
    out.update(botId=bot, ajaxUrl=ajax_url, nonce=NONCE_SLOT, postId=post_id, popupEnabled=popup,
               headerName=_NAMES[index % len(_NAMES)] + (f" {index + 1}" if index >= len(_NAMES) else ""),
               provider=config.provider)
    return out


def _attr(value: Any) -> str:
    return esc_html(wp_json_encode_hex(value))


def _chat_body(bot: int) -> str:
    return f"""
        <div class="aipkit_chat_body">
                        <div class="aipkit_chat_main">
                                        <div class="aipkit_chat_header">
        <div class="aipkit_header_info">
                                </div>
                <div class="aipkit_header_actions">
                            <button type="button" class="aipkit_header_btn aipkit_fullscreen_btn" title="Fullscreen" aria-label="Fullscreen" aria-expanded="false"></button>
                                            </div>
    </div>
                                    <div class="aipkit_chat_messages"></div>
                                    <div class="aipkit_conversation_starters"></div>
                                    <div class="aipkit_chat_input">
        <div class="aipkit_chat_input_wrapper">
            <textarea
                id="aipkit_chat_input_field_{bot}"
                name="aipkit_chat_message_{bot}"
                class="aipkit_chat_input_field"
                placeholder="Type your message..."
                aria-label="Chat message input"
                rows="1"
            ></textarea>
             <div class="aipkit_chat_input_actions_bar">
                <div class="aipkit_chat_input_actions_right">
                    <button
                        class="aipkit_input_action_btn aipkit_chat_action_btn aipkit_send_btn"
                        aria-label="Send Message"
                        title="Send Message"
                        type="button"
                    >
                        <span class="aipkit_spinner" hidden></span>
                    </button>
                </div>
            </div>
        </div>
            </div>
                </div>
        </div>
"""


def _box(config: EmulatorConfig, bot: int, index: int, ajax_url: str, post_id: int, popup: bool) -> str:
    cfg = _bot_config(config, bot, index, ajax_url, post_id, popup)
    data_config = _attr(cfg)
    theme = _attr(cfg["customThemeSettings"])
    if not popup:
        return (f'    <div class="aipkit_chat_container aipkit-theme-custom  aipkit-sidebar-state-closed   " '
                f"id=\"aipkit_chat_container_{bot}\" data-bot-id=\"{bot}\" data-config='{data_config}' "
                f"data-custom-theme='{theme}' style=\"--aipkit-chat-accent-color:#0B5FFF;\" >"
                f"{_chat_body(bot)}            </div>\n")
    icon = ' data-icon-size="medium"' if aipkit_era(config.era).popup_label_keys else ""
    return (f'<div class="aipkit_popup_wrapper aipkit-popup-theme-custom aipkit-popup-standard aipkit-theme-custom" '
            f"id=\"aipkit_popup_wrapper_{bot}\" data-config='{data_config}' data-bot-id=\"{bot}\"{icon} "
            f"data-custom-theme='{theme}'>\n"
            f'  <button type="button" class="aipkit_popup_trigger aipkit_popup_position-bottom-right '
            f'aipkit_popup_trigger--size-medium" id="aipkit_popup_trigger_{bot}" aria-label="Open chat" '
            f'aria-expanded="false"></button>\n'
            f'  <div class="aipkit_chat_container aipkit_popup_content aipkit-theme-custom" '
            f'id="aipkit_chat_container_{bot}" aria-hidden="true" inert>{_chat_body(bot)}  </div>\n</div>\n')


def _scripts(config: EmulatorConfig, base_url: str) -> str:
    era = aipkit_era(config.era)
    ver = era.version
    plugin = base_url + _PLUGIN
    assets = {name: f"{plugin}/dist/js/public-chat-{name.lower()[4:]}.bundle.js?ver={ver}"
              for name in ("chatSidebar", "chatStt", "chatUploads", "chatTts", "chatStarters")}
    assets = {"markdownIt": f"{plugin}/dist/vendor/js/markdown-it.min.js?ver={ver}", **assets}
    before = ("window.aipkitPublicAssetUrls = Object.assign({}, window.aipkitPublicAssetUrls || {}, "
              + json.dumps(assets, separators=(",", ":")).replace("/", "\\/") + ");\n")
    after = ""
    if era.nonce_refresh:
        before += 'window.aipkit_getChatNonceAction = "aipkit_get_frontend_chat_nonce";\n'
        after = ("<script id='aipkit-public-main-js-after'>\n;(function(){\n  try{\n"
                 "    if(typeof window.aipkit_chatUI_cacheSseMessage === 'function'){\n"
                 "      /* retry once with a fresh nonce from aipkit_get_frontend_chat_nonce */\n"
                 "    }\n  }catch(e){ /* noop */ }\n})();\n</script>\n")
    text = ('{"text":{"copySuccess":"Copied!","copyFail":"Failed to copy","newChat":"New Chat",'
            '"historyGuests":"History unavailable for guests.","historyEmpty":"No past conversations."}}')
    return (f"<script id='aipkit-public-main-js-extra'>\nvar aipkit_chat_config_global = {text};\n</script>\n"
            f"<script id='aipkit-public-main-js-before'>\n{before}</script>\n"
            f"<script src='{plugin}/dist/js/public-main.bundle.js?ver={ver}' id='aipkit-public-main-js'></script>\n"
            + after)


def build_aipkit_page(config: EmulatorConfig, base_url: str, path: str) -> PageTemplate:
    """Render the page at ``path`` (``page_path`` or ``bot_path``) for ``config`` (nonce as a slot)."""
    ajax_url = base_url + config.ajax_path
    shows_bots = path == (config.bot_path or config.page_path)
    post_id = config.post_id + (1 if config.bot_path and path == config.bot_path else 0)
    boxes = ""
    if shows_bots and config.chatbox:
        boxes = "".join(_box(config, bot, i, ajax_url, post_id, config.popup)
                        for i, bot in enumerate(page_bots(config)))
    sitewide = ""
    if config.sitewide_popup:
        bot = bot_ids(config)[-1]
        sitewide = _box(config, bot, config.bots, ajax_url, post_id, popup=True)
    scripts = _scripts(config, base_url) if boxes or sitewide else ""
    css = (f"<link rel='stylesheet' id='aipkit-public-main-css-css' href='{base_url}{_PLUGIN}/dist/css/"
           f"public-main.bundle.css?ver={aipkit_era(config.era).version}' media='all' />\n") if scripts else ""
    title = "Home" if path == config.page_path else "Help"
    head = f"""<!doctype html>
<html lang="en-US" >
<head>
	<meta charset="UTF-8" />
	<meta name="viewport" content="width=device-width, initial-scale=1" />
	<title>{title} &#8211; {SITE_NAME}</title>
<meta name='robots' content='max-image-preview:large' />
<link rel='stylesheet' id='wp-block-library-css' href='{base_url}/wp-includes/css/dist/block-library/style.min.css?ver=6.1.9' media='all' />
<link rel='stylesheet' id='twenty-twenty-one-style-css' href='{base_url}/wp-content/themes/twentytwentyone/style.css?ver=1.7' media='all' />
{css}<link rel="https://api.w.org/" href="{base_url}/wp-json/" /><link rel="alternate" type="application/json" href="{base_url}/wp-json/wp/v2/pages/{post_id}" />
<meta name="generator" content="WordPress 6.1.9" />
<link rel="canonical" href="{base_url}{path}" />
"""
    if not boxes:
        boxes = "<p>Welcome! Questions? Our assistant is one click away.</p>\n"
    body = theme.body_open(post_id) + theme.article(post_id, boxes)
    footer = theme.site_footer() + f"""{sitewide}<script>document.body.classList.remove("no-js");</script>
<script src='{base_url}/wp-content/themes/twentytwentyone/assets/js/responsive-embeds.js?ver=1.7' id='twenty-twenty-one-responsive-embeds-script-js'></script>
{scripts}</body>
</html>
"""
    html = theme.with_filler(head, body, footer, config.page_size, base_url)
    return split_template(html, (NONCE_SLOT, IP_SLOT))

"""The 1.x chat page: a WordPress front page with the legacy shortcode box (modelled on 1.8.96).

The markup follows ``fixtures/wpaicg-1.8.96/homepage.html`` (Twenty Twenty-One theme, WordPress
6.1): the plugin's inline chat CSS in the head, ``wpaicg-chat-shortcode`` with every ``data-``
attribute the plugin prints (including the ones written with spaces around ``=``), the hidden
``#wpaicg-img-nonce`` input and the ``wpaicg-init-js-extra`` script with ``wpaicgParams``.

Rendering is split in two so that page GETs are cheap: :func:`build_page_template` produces the
page once per scenario with placeholders, and :meth:`PageTemplate.render` only joins the nonces in.
"""

from __future__ import annotations

import hashlib

from . import theme
from .scenarios import EmulatorConfig, asset_version
from .theme import SITE_NAME, PageTemplate, split_template
from .wordpress import esc_html, php_json_encode

__all__ = ["IMG_NONCE_SLOT", "NONCE_SLOT", "build_page_template"]

#: Template slots for the ``wpaicg-chatbox`` and the image-upload nonces.
NONCE_SLOT = "\x00NONCE\x00"
IMG_NONCE_SLOT = "\x00IMGNONCE\x00"
_PLUGIN = "/wp-content/plugins/gpt3-ai-content-generator"




def _other_nonce(config: EmulatorConfig, action: str) -> str:
    # other plugins' nonces: stable per scenario, never equal to the chat nonce
    return hashlib.md5(f"{config.nonce_secret}|{action}".encode()).hexdigest()[-12:-2]


# The box's attributes as the plugin prints them, some as `data-x = "v"`: keep that, clients must cope.
_CHAT_ATTRIBUTES = """\
     data-user-bg-color="#ccf5e1"
     data-color="#495057"
     data-fontsize="14"
     data-use-avatar="0"
     data-user-avatar="https://secure.gravatar.com/avatar/?s=40&amp;d=mm&amp;r=g"
     data-you="You"
     data-ai-avatar="{plugin}/admin/images/chatbot.png"
     data-ai-name="AI"
     data-ai-bg-color="#d1e8ff"
     data-nonce="{nonce}"
     data-post-id="{post_id}"
     data-url="{data_url}"
     data-bot-id="{bot_id}"
     data-width="100%"
     data-height="50%"
     data-footer="false"
     data-has-bar="false"
     data-speech=""
     data-voice=""
     data-elevenlabs-model=""
     data-voice-error=""
     data-typewriter-effect = ""
     data-typewriter-speed="1"
     data-text_height="60"
     data-text_rounded="8"
     data-chat_rounded="8"
     data-voice_service=""
     data-voice_language="en-US"
     data-voice_name="en-US-Studio-M"
     data-voice_device=""
     data-voice_speed="1"
     data-voice_pitch="0"
     data-openai_model="tts-1"
     data-openai_voice="alloy"
     data-openai_output_format="mp3"
     data-openai_voice_speed="1.0"
     data-openai_stream_nav="{stream}"
     data-autoload_chat_conversations="0"
     data-copy_btn=""
     data-feedback_btn = ""
     data-feedback_title = "Feedback"
     data-feedback_message = "Please provide details: (optional)"
     data-feedback_success = "Thank you for your feedback!"
     data-user-voice-control = ""
     data-voice-muted-by-default=""
     data-memory-limit = "{memory_limit}"
     data-lead-collection = "0"
     data-lead-title = "Let us know how to contact you"
     data-lead-name = "Name"
     data-enable-lead-name = "1"
     data-lead-email = "Email"
     data-enable-lead-email = "1"
     data-lead-phone = "Phone"
     data-enable-lead-phone = "1"
     data-bg_text_field = "#ffffff"
     data-bg_text_field_font_color = "#495057"
     data-bg_text_field_border_color = "#ced4da"
     data-assistant-enabled="false"
     data-type="{box_type}"
"""


def _chat_attributes(config: EmulatorConfig, data_url: str, box_type: str) -> str:
    return _CHAT_ATTRIBUTES.format(
        plugin=_PLUGIN, nonce=NONCE_SLOT, post_id=config.post_id, data_url=esc_html(data_url),
        bot_id=config.bot_id, stream="1" if config.stream else "0", memory_limit=config.memory_limit,
        box_type=box_type,
    ).rstrip("\n")


_HEAD_CSS = """                    <style>
                        .wpaicg_chat_widget{
                            position: fixed;
                        }
                        .wpaicg_widget_left{
                            bottom: 15px;
                            left: 15px;
                        }
                        .wpaicg_widget_right{
                            bottom: 15px;
                            right: 15px;
                        }
                        .wpaicg_chat_widget_content .wpaicg-chatbox{
                            height: 100%;
                            border-radius: 5px;
                            border: none;
                        }
                        .wpaicg-chatbox-footer{
                            font-size: 0.75rem;
                            padding: 12px 20px;
                        }
                        textarea.wpaicg-chat-shortcode-typing,textarea.wpaicg-chatbox-typing {
                            flex: 1;
                            resize: vertical;
                            padding-left: 1em;
                        }
                    </style>
"""

_BOX_CSS = """<style>
    .wpaicg-chat-shortcode ::-webkit-scrollbar-track {
        background-color: #f8f9fa; /* Light grey track */
        border-radius: 10px;
    }
    .wpaicg-conversation-starters {
        display: flex;
        flex-wrap: wrap;
        gap: 10px;
        padding: 15px;
        justify-content: center;
        font-size: 14px;
        visibility: hidden;
    }
    .wpaicg-chat-shortcode {
        width: 100%;
        max-width: 100%;
        overflow: hidden;
    }
</style>
"""


def _box_inner(box_type: str) -> str:
    cls = "wpaicg-chat-shortcode" if box_type == "shortcode" else "wpaicg-chatbox"
    return f"""<div class="{cls}-content">
    <ul class="{cls}-messages">
                <li class="wpaicg-ai-message" style="color: #495057; font-size: 14px; background-color: #d1e8ff">
            <span class="wpaicg-chat-message">
                Hello 👋, how can I help you today?            </span>
        </li>
    </ul>
</div>
<span class="wpaicg-bot-thinking" style="padding-left: 20px;color: #495057;">Gathering thoughts&nbsp;<span class="wpaicg-jumping-dots"><span class="wpaicg-dot-1">.</span><span class="wpaicg-dot-2">.</span><span class="wpaicg-dot-3">.</span></span></span>
<div class="{cls}-type">
    <textarea type="text" name="{cls}-typing" class="auto-expand {cls}-typing" placeholder="Type a message"></textarea>
    <div class="wpaicg_chat_additions">
        <span class="wpaicg-thumbnail-placeholder"></span>
        <span class="wpaicg-mic-icon" data-type="{box_type}" role="button" aria-label="Mic" tabindex="0" style="display:none">
            <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 384 512"><path d="M176 0C123 0 80 43 80 96V256c0 53 43 96 96 96s96-43 96-96V96c0-53-43-96-96-96z"/></svg>
        </span>
"""


def _img_input() -> str:
    return f"""        <span class="wpaicg-img-icon" data-type="shortcode" style="display:none">
            <input type="file" id="imageUpload" class="wpaicg-img-file" accept="image/png, image/jpeg, image/webp, image/gif" style="display: none;" />
            <!-- add nonce -->
            <input type="hidden" id="wpaicg-img-nonce" value="{IMG_NONCE_SLOT}" />
        </span>
"""


_BOX_TAIL = """        <span class="wpaicg-img-spinner"></span>
                        <span class="wpaicg-chat-shortcode-send" role="button" aria-label="Send" tabindex="0">
            <svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" class="feather feather-send"><line x1="22" y1="2" x2="11" y2="13"></line><polygon points="22 2 15 22 11 13 2 9 22 2"></polygon></svg>
        </span>
            </div>
</div>
</div>
"""


def _other_plugins(config: EmulatorConfig, base: str) -> str:
    # decoys a naive `data-nonce` regex would pick first
    like = _other_nonce(config, "wp-ulike")
    comments = _other_nonce(config, "wpdiscuz_nonce")
    forms = _other_nonce(config, "wpforms-submit")
    return f"""<div class="wpulike wpulike-default"><div class="wp_ulike_general_class">
<button type="button" aria-label="Like Button" data-ulike-id="3" data-ulike-nonce="{like}" data-nonce="{like}" data-post-id="3" data-ulike-type="post" class="wp_ulike_btn wp_ulike_put_image wp_post_btn_3"></button>
<span class="count-box wp_ulike_counter_up" data-ulike-counter-value="12"></span></div></div>
<div id="wpdcom" class="wpdiscuz_unauth wpd-default" data-post-id="{config.post_id + 1}" data-nonce="{comments}"></div>
<form id="wpforms-form-7" class="wpforms-validate wpforms-form" data-formid="7" method="post" action="{base}/" data-post-id="7" data-nonce="{forms}" data-token="{_other_nonce(config, "wpforms-token")}">
<input type="hidden" name="wpforms[id]" value="7"><input type="hidden" name="_wpnonce" value="{forms}"></form>
"""


def _widget(config: EmulatorConfig, data_url: str) -> str:
    # the floating widget uses the same action, hence the same nonce, but another identity
    return f"""<div class="wpaicg_chat_widget wpaicg_widget_right">
<div class="wpaicg_chat_widget_content">
<div class="wpaicg-chatbox"
{_chat_attributes(config, data_url, "widget")}
>
{_box_inner("widget")}{_BOX_TAIL}</div>
<div class="wpaicg_toggle" id="wpaicg_toggle"><img src="{esc_html(_PLUGIN)}/admin/images/chatbot.png" alt="chat" /></div>
</div>
"""


def build_page_template(config: EmulatorConfig, base_url: str) -> PageTemplate:
    """Render the chat page for ``config`` served at ``base_url`` (nonces left as slots)."""
    ver = asset_version(config.era)
    plugin = base_url + _PLUGIN
    home = base_url + (config.page_path.rstrip("/") if config.page_path != "/" else "")
    page_url = base_url + config.page_path
    ajax = base_url + config.ajax_path
    params = {
        "ajax_url": ajax,
        "search_nonce": "NONCE_SLOT",
        "logged_in": "0",
        "languages": {
            "source": "Sources",
            "no_result": "No result found",
            "wrong": "Something went wrong",
            "removed_pdf": "Your pdf session is cleared",
        },
    }
    params_js = php_json_encode(params).replace("NONCE_SLOT", NONCE_SLOT)

    head = f"""<!doctype html>
<html lang="en-US" >
<head>
	<meta charset="UTF-8" />
	<meta name="viewport" content="width=device-width, initial-scale=1" />
	<title>{SITE_NAME} &#8211; Free AI chat</title>
<meta name='robots' content='max-image-preview:large' />

                                            <!-- Chat Bot CSS -->
{_HEAD_CSS}
            <link rel="alternate" type="application/rss+xml" title="{SITE_NAME} &raquo; Feed" href="{base_url}/feed/" />
<link rel='stylesheet' id='wp-block-library-css' href='{base_url}/wp-includes/css/dist/block-library/style.min.css?ver=6.1.9' media='all' />
<link rel='stylesheet' id='wp-ai-content-generator-css' href='{plugin}/public/css/wp-ai-content-generator-public.css?ver={ver}' media='all' />
<link rel='stylesheet' id='twenty-twenty-one-style-css' href='{base_url}/wp-content/themes/twentytwentyone/style.css?ver=1.7' media='all' />
<script src='{base_url}/wp-includes/js/jquery/jquery.min.js?ver=3.6.1' id='jquery-core-js'></script>
<script src='{base_url}/wp-includes/js/jquery/jquery-migrate.min.js?ver=3.3.2' id='jquery-migrate-js'></script>
<script src='{plugin}/public/js/wp-ai-content-generator-public.js?ver={ver}' id='wp-ai-content-generator-js'></script>
<link rel="https://api.w.org/" href="{base_url}/wp-json/" /><link rel="alternate" type="application/json" href="{base_url}/wp-json/wp/v2/pages/{config.post_id}" /><link rel="EditURI" type="application/rsd+xml" title="RSD" href="{base_url}/xmlrpc.php?rsd" />
<meta name="generator" content="WordPress 6.1.9" />
<link rel="canonical" href="{page_url}" />
<link rel='shortlink' href='{base_url}/?p={config.post_id}' />
"""
    extras = ""
    if config.extra_chatboxes:
        extras = _other_plugins(config, base_url) + (_widget(config, home) if config.chatbox else "")
    if config.chatbox:
        box = (
            _BOX_CSS
            + '<div class="wpaicg-chat-shortcode"\n'
            + _chat_attributes(config, home, "shortcode")
            + "\n>\n"
            + _box_inner("shortcode")
            + _img_input()
            + _BOX_TAIL
        )
    else:
        box = "<p>Welcome! The chat is temporarily unavailable.</p>\n"
    body = theme.body_open(config.post_id) + extras + theme.article(config.post_id, box)
    footer = theme.site_footer() + f"""	<script src='{plugin}/public/js/wpaicg-form-shortcode.js' id='wpaicg-gpt-form-js'></script>
<script id='wpaicg-init-js-extra'>
var wpaicgParams = {params_js};
</script>
<script src='{plugin}/public/js/wpaicg-init.js' id='wpaicg-init-js'></script>
<script src='{plugin}/public/js/wpaicg-chat.js' id='wpaicg-chat-script-js'></script>
<script src='{plugin}/public/js/marked.js' id='wpaicg-markdown-script-js'></script>
<script src='{base_url}/wp-content/themes/twentytwentyone/assets/js/responsive-embeds.js?ver=1.7' id='twenty-twenty-one-responsive-embeds-script-js'></script>
</body>
</html>
"""
    html = theme.with_filler(head, body, footer, config.page_size, base_url)
    return split_template(html, (NONCE_SLOT, IMG_NONCE_SLOT))



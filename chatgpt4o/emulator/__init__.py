"""A local emulator of a WordPress site running AI Power's (wpaicg) chat shortcode.

It serves, on 127.0.0.1 only, the chat page (``data-nonce``, ``data-post-id``, ``wpaicgParams``
...) and ``admin-ajax.php`` answering ``wpaicg_chat_shortcode_message`` exactly like the plugin
does (JSON or SSE, PHP-escaped, the same headers and error shapes as the recordings in
``fixtures/wpaicg-1.8.96``), with scenarios for plugin eras, nonce expiry and rotation, bans,
token limits, upstream errors and a table of network/HTTP faults.

Quick start::

    from chatgpt4o.emulator import Emulator

    with Emulator(era="1.8.96", stream=False) as emu:
        ...  # point the client at emu.page_url
        emu.configure(fault="503", fault_count=2)  # the next two ajax calls fail
        print(emu.stats["ajax_posts"])

Command line: ``python -m chatgpt4o.emulator --help``. Pytest: the ``wpaicg_emulator`` and
``wpaicg_emulator_factory`` fixtures (:mod:`chatgpt4o.emulator.pytest_plugin`).

What the plugin source says about ``message`` and ``wpaicg_chat_history``
(``classes/wpaicg_chat.php`` in WordPressBugBounty/plugins-gpt3-ai-content-generator; WordPress
adds magic quotes, i.e. ``addslashes``, to every request value before the plugin sees it):

- 1.8.79 (131dbb22): ``sanitize_text_field($_REQUEST['message'])`` with **no** ``wp_unslash``,
  so the magic-quote backslashes stay in (``it's`` reaches the model as ``it\\'s``). History:
  ``sanitize_text_field($_REQUEST['wpaicg_chat_history'])``, then every ``\\`` removed, then
  ``json_decode``.
- 1.8.91 (618bcad3) .. 1.8.95 (a99f44b1): ``sanitize_text_field(wp_unslash($_POST['message']))``;
  history ``sanitize_textarea_field(wp_unslash(...))`` (newlines kept, tags stripped), every
  ``\\`` removed, ``json_decode``.
- 1.8.96 (a961768): ``wp_unslash($_POST['message'])`` only: the message arrives unchanged;
  history handling as in 1.8.95.

Consequences the emulator reproduces: because all backslashes are removed from the history
JSON *before* decoding, a history item containing ``"`` makes the whole history undecodable
(the model gets no history), and JSON escapes such as ``\\n`` or ``\\u00fc`` turn into ``n`` and
``u00fc``; clients should send the history with ``ensure_ascii=False``. Items are ``{"id","text"}``
objects or plain strings; ``Human: `` items become user turns, everything else assistant turns
with ``AI: `` removed (empty ones dropped); then the server appends the current message again.
Order of the checks in 1.8.96 (source order, which the emulator follows): nonce
(``check_admin_referer``), AI instance/API key, banned IP, message read, banned words (lower-cased
message split on single spaces, exact token match), token limit, empty message, upstream call.
"""

from .scenarios import ERAS, FAULTS, EmulatorConfig
from .server import Emulator, running
from .wordpress import sanitize_text_field, wp_nonce

__all__ = [
    "ERAS",
    "FAULTS",
    "Emulator",
    "EmulatorConfig",
    "running",
    "sanitize_text_field",
    "wp_nonce",
]

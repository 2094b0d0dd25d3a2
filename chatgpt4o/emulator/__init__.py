"""A local emulator of a WordPress site running the AI Puffer / AI Power chat plugin.

It serves, on 127.0.0.1 only, both generations of the plugin's front-end chat, chosen by
``era=`` (:data:`ERAS`; default :data:`DEFAULT_ERA`, the current plugin):

- 2.x, AIPKit (eras 2.3.19, 2.3.40, 2.4.0, 2.4.71; :mod:`.aipkit`): pages with
  ``data-config`` chat boxes (inline, popup, several bots, a site-wide popup, a bot on a
  sub-page), the cache + event-stream turn, the nonce refresh, server-side history, guest
  quotas, bans, moderation and the Origin check, like the recordings in ``fixtures/aipkit-2.4.71``;
- 1.x, the legacy shortcode (eras 1.8.79, 1.8.91, 1.8.96; :mod:`.wpaicg`): ``data-nonce``
  pages and ``wpaicg_chat_shortcode_message`` answering JSON or SSE, PHP-escaped, like the
  recordings in ``fixtures/wpaicg-1.8.96``;

with nonce expiry and rotation shared by both, and a table of network/HTTP faults for every step.

Quick start::

    from chatgpt4o.emulator import Emulator

    with Emulator(era="2.4.71", bots=2) as emu:
        ...  # point the client at emu.page_url
        emu.configure(fault="503", fault_count=2, fault_target="cache")  # the next two cache posts fail
        print(emu.stats["streams"])

Command line: ``python -m chatgpt4o.emulator --help``. Pytest: the ``aipkit_emulator`` and
``aipkit_emulator_factory`` fixtures (2.x, era 2.4.71) and ``wpaicg_emulator`` and
``wpaicg_emulator_factory`` (1.x, era 1.8.96) (:mod:`chatgpt4o.emulator.pytest_plugin`).

What the 1.x plugin source says about ``message`` and ``wpaicg_chat_history``
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

from .scenarios import (
    DEFAULT_ERA,
    ERAS,
    FAULT_TARGETS,
    FAULTS,
    LEGACY_ERA,
    EmulatorConfig,
)
from .server import Emulator, running
from .wordpress import sanitize_text_field, wp_nonce

__all__ = [
    "DEFAULT_ERA",
    "ERAS",
    "FAULTS",
    "FAULT_TARGETS",
    "LEGACY_ERA",
    "Emulator",
    "EmulatorConfig",
    "running",
    "sanitize_text_field",
    "wp_nonce",
]

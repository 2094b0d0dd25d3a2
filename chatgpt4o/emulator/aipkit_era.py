"""What differs between the AIPKit (2.x) eras the emulator serves.

The table follows protocol-aipkit.md §8.0 (what live installs of 2.3.19, 2.3.40, 2.4.0 and
2.4.71 do; it wins over the source reading) and §8.1-8.3 for the rest: config keys, the SSE
preamble and ``status`` events, the inline nonce-refresh script.
"""

from __future__ import annotations

import dataclasses

__all__ = ["AIPKIT_ERAS", "AipkitEra", "aipkit_era", "is_aipkit"]

_NONCE_TEXT_OLD = "Security check failed (nonce)."
_NONCE_TEXT = "Security check failed. Please refresh the page and try again."
_QUOTA_OLD = "You have reached your token limit for this period."
_QUOTA = "You have reached your quota for this period."


@dataclasses.dataclass(frozen=True)
class AipkitEra:
    """One AIPKit version's behaviour, as the emulator reproduces it."""

    version: str
    #: ``aipkit_get_frontend_chat_nonce`` is registered (2.3.41+) and the page carries
    #: ``window.aipkit_getChatNonceAction`` and the retry wrappers.
    nonce_refresh: bool
    #: ``aipkit_frontend_chat_message`` is registered (2.3 - 2.4.0).
    nonstream: bool
    #: the non-stream action checks the nonce (2.3.20+).
    nonstream_nonce: bool
    #: the non-stream action strips HTML tags from the message (observed on 2.3.19).
    nonstream_strips_tags: bool
    #: the stream's ``error`` text for a bad nonce.
    stream_nonce_text: str
    #: a foreign ``Origin`` is refused (2.3.31+).
    origin_check: bool
    #: the default ``token_limit_message``.
    quota_text: str
    #: token-limit errors carry ``quota_notice`` (2.4.5+).
    quota_notice: bool
    #: the 4 KiB SSE preamble, ``no-transform`` and ``status`` events (2.3.93+ / 2.3.69+).
    preamble: bool
    #: OpenAI moderation has an effect on the free build (observed on 2.4.71 only).
    moderation: bool
    #: a provider error in the middle of a stream is relayed as such (else "An unknown API
    #: error occurred.", observed up to 2.4.0).
    relays_midstream_error: bool
    #: data-config keys: ``streamEnabled`` (<= 2.4.0), ``userIp`` (<= 2.3.87), ``popupLabel*``
    #: and ``data-icon-size`` (2.3.41+), ``enableGoogleConversationState`` (2.4.67+).
    stream_enabled_key: bool
    user_ip_key: bool
    popup_label_keys: bool
    google_state_key: bool


# Each era is the one before it and what changed.
_V2_3_19 = AipkitEra(
    version="2.3.19", nonce_refresh=False, nonstream=True, nonstream_nonce=False, nonstream_strips_tags=True,
    stream_nonce_text=_NONCE_TEXT_OLD, origin_check=False, quota_text=_QUOTA_OLD, quota_notice=False,
    preamble=False, moderation=False, relays_midstream_error=False, stream_enabled_key=True,
    user_ip_key=True, popup_label_keys=False, google_state_key=False,
)
_V2_3_40 = dataclasses.replace(
    _V2_3_19, version="2.3.40", nonstream_nonce=True, nonstream_strips_tags=False,
    stream_nonce_text=_NONCE_TEXT, origin_check=True,
)
_V2_4_0 = dataclasses.replace(
    _V2_3_40, version="2.4.0", nonce_refresh=True, quota_text=_QUOTA, preamble=True,
    user_ip_key=False, popup_label_keys=True,
)
_V2_4_71 = dataclasses.replace(
    _V2_4_0, version="2.4.71", nonstream=False, quota_notice=True, moderation=True,
    relays_midstream_error=True, stream_enabled_key=False, google_state_key=True,
)

AIPKIT_ERAS: dict[str, AipkitEra] = {era.version: era for era in (_V2_3_19, _V2_3_40, _V2_4_0, _V2_4_71)}


def is_aipkit(era: str) -> bool:
    """True for the AIPKit (2.3+) eras; False for 1.x and the cached-legacy-page era ``2.x``."""
    return era in AIPKIT_ERAS


def aipkit_era(era: str) -> AipkitEra:
    """The behaviour table of an AIPKit era (``KeyError`` for a 1.x era)."""
    return AIPKIT_ERAS[era]

"""The random ids a client makes up, as the sites' scripts do. Light: no ``uuid`` import.

``wpaicg_chat_client_id`` (1.x), the 2.x guest ``session_id`` and a 2.x
``conversation_uuid``; :mod:`.wpaicg` and :mod:`.aipkit_requests` re-export them.
"""

from __future__ import annotations

import secrets
import string

__all__ = ["new_client_id", "new_conversation_id", "new_session_id", "uuid4"]

_ALNUM = string.ascii_letters + string.digits


def uuid4() -> str:
    """A random UUID (version 4, RFC 4122 variant) as 36 lowercase hex digits and hyphens.

    The same text as ``str(uuid.uuid4())``, built from :func:`secrets.token_hex`.
    """
    value = int(secrets.token_hex(16), 16)
    value = (value & ~(0xF000 << 64)) | (0x4000 << 64)  # version 4
    value = (value & ~(0xC000 << 48)) | (0x8000 << 48)  # variant 10xx
    hexed = f"{value:032x}"
    return f"{hexed[:8]}-{hexed[8:12]}-{hexed[12:16]}-{hexed[16:20]}-{hexed[20:]}"


def new_client_id() -> str:
    """A fresh ``wpaicg_chat_client_id``: 10 letters and digits, like the page's script."""
    return "".join(secrets.choice(_ALNUM) for _ in range(10))


def new_session_id() -> str:
    """A new guest identity (UUIDv4), as the page's script makes one. Keep it per client."""
    return uuid4()


def new_conversation_id() -> str:
    """A new conversation id: a lowercase UUIDv4 (36 characters)."""
    return uuid4()

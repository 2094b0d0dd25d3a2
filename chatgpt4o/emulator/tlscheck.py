"""A TLS bot check, as CDNs do it: read the ClientHello, tell browsers from scripts.

Pure functions over bytes (no sockets): :func:`hello_length` says how many bytes the complete
ClientHello takes (so a server can peek until it has them), :func:`parse_client_hello` reads
it, :func:`looks_like_browser` classifies it.

The classification is deliberately simple and documented:

- Chrome, Edge and Safari (BoringSSL) put GREASE values (RFC 8701: ``0x0a0a``, ``0x1a1a``, ...
  ``0xfafa``) among their cipher suites *and* their extensions; OpenSSL (Python's ``ssl``,
  plain curl) never does.
- Firefox (NSS) sends no GREASE, but sends ``record_size_limit`` (28) and
  ``delegated_credentials`` (34), which OpenSSL clients do not.
"""

from __future__ import annotations

import dataclasses
import struct

__all__ = ["ClientHello", "hello_length", "is_grease", "looks_like_browser", "parse_client_hello"]

_HANDSHAKE = 0x16
_CLIENT_HELLO = 0x01
_EXT_SERVER_NAME = 0x0000
_EXT_ALPN = 0x0010
_EXT_SUPPORTED_VERSIONS = 0x002B
_EXT_RECORD_SIZE_LIMIT = 0x001C
_EXT_DELEGATED_CREDENTIALS = 0x0022
_MAX_RECORD = 16384 + 2048  # TLSPlaintext.length limit, with the slack TLS 1.2 allowed
_MAX_HELLO = 64 * 1024  # no real ClientHello is near this; bigger is an attack or garbage


def is_grease(value: int) -> bool:
    """True for the 16 GREASE code points of RFC 8701 (``0x0a0a``, ``0x1a1a``, ... ``0xfafa``)."""
    return (value & 0x0F0F) == 0x0A0A and (value >> 8) == (value & 0xFF)


@dataclasses.dataclass(frozen=True)
class ClientHello:
    """The fields of a ClientHello a bot check looks at."""

    legacy_version: int
    cipher_suites: tuple[int, ...]
    extensions: tuple[int, ...]  # extension types, in the order sent
    alpn: tuple[str, ...] = ()
    server_name: str | None = None
    supported_versions: tuple[int, ...] = ()

    @property
    def grease_in_ciphers(self) -> bool:
        return any(is_grease(c) for c in self.cipher_suites)

    @property
    def grease_in_extensions(self) -> bool:
        return any(is_grease(e) for e in self.extensions)


def _records(data: bytes) -> tuple[bytes, int]:
    """The handshake bytes of the leading handshake records and the bytes they occupy.

    Stops at the first record that is incomplete (its payload is then left out).
    """
    payload = bytearray()
    offset = 0
    while offset + 5 <= len(data):
        kind, _version, length = struct.unpack_from("!BHH", data, offset)
        if kind != _HANDSHAKE:
            raise ValueError(f"not a TLS handshake record (content type {kind:#04x})")
        if length == 0 or length > _MAX_RECORD:
            raise ValueError(f"bad TLS record length {length}")
        if offset + 5 + length > len(data):
            break
        payload += data[offset + 5 : offset + 5 + length]
        offset += 5 + length
        if len(payload) >= 4 and len(payload) >= 4 + int.from_bytes(payload[1:4], "big"):
            break
    return bytes(payload), offset


def hello_length(data: bytes) -> int:
    """How many bytes the complete ClientHello starting ``data`` occupies (records included).

    When ``data`` is too short to tell, the answer is the length to read before asking again
    (always more than ``len(data)``). Raises ``ValueError`` when the bytes cannot be the start
    of a ClientHello.
    """
    offset = 0
    payload = bytearray()
    while True:
        if offset + 5 > len(data):
            if offset < len(data) and data[offset] != _HANDSHAKE:
                raise ValueError(f"not a TLS handshake record (content type {data[offset]:#04x})")
            return offset + 5
        kind, _version, length = struct.unpack_from("!BHH", data, offset)
        if kind != _HANDSHAKE:
            raise ValueError(f"not a TLS handshake record (content type {kind:#04x})")
        if length == 0 or length > _MAX_RECORD:
            raise ValueError(f"bad TLS record length {length}")
        end: int = offset + 5 + int(length)
        if end > len(data):
            return end
        payload += data[offset + 5 : end]
        offset = end
        if len(payload) >= 4:
            if payload[0] != _CLIENT_HELLO:
                raise ValueError(f"not a ClientHello (handshake type {payload[0]})")
            body = int.from_bytes(payload[1:4], "big")
            if body > _MAX_HELLO:
                raise ValueError(f"ClientHello of {body} bytes is implausible")
            if len(payload) >= 4 + body:
                return end


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ValueError("truncated ClientHello")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def vector(self, length_bytes: int) -> bytes:
        return self.take(int.from_bytes(self.take(length_bytes), "big"))


def parse_client_hello(data: bytes) -> ClientHello:
    """Read the ClientHello from the first TLS record(s) in ``data``.

    Raises ``ValueError`` for anything that is not a complete, well-formed ClientHello
    (plain HTTP, truncated records, lengths that do not add up).
    """
    payload, _used = _records(data)
    if len(payload) < 4:
        raise ValueError("truncated ClientHello")
    if payload[0] != _CLIENT_HELLO:
        raise ValueError(f"not a ClientHello (handshake type {payload[0]})")
    body_length = int.from_bytes(payload[1:4], "big")
    if len(payload) < 4 + body_length:
        raise ValueError("truncated ClientHello")
    r = _Reader(payload[4 : 4 + body_length])
    legacy_version = r.u16()
    r.take(32)  # random
    r.vector(1)  # legacy_session_id
    suites_raw = r.vector(2)
    if len(suites_raw) % 2:
        raise ValueError("odd cipher_suites length")
    suites = tuple(int.from_bytes(suites_raw[i : i + 2], "big") for i in range(0, len(suites_raw), 2))
    r.vector(1)  # legacy_compression_methods
    extensions: list[int] = []
    alpn: tuple[str, ...] = ()
    server_name: str | None = None
    versions: tuple[int, ...] = ()
    if r.pos < len(r.data):
        ext = _Reader(r.vector(2))
        if r.pos != len(r.data):
            raise ValueError("bytes after the extensions")
        while ext.pos < len(ext.data):
            kind = ext.u16()
            value = ext.vector(2)
            extensions.append(kind)
            if kind == _EXT_ALPN:
                alpn = _alpn(value)
            elif kind == _EXT_SERVER_NAME:
                server_name = _server_name(value)
            elif kind == _EXT_SUPPORTED_VERSIONS and value:
                listed = value[1 : 1 + value[0]]
                versions = tuple(int.from_bytes(listed[i : i + 2], "big") for i in range(0, len(listed) - 1, 2))
    return ClientHello(legacy_version, suites, tuple(extensions), alpn, server_name, versions)


def _alpn(value: bytes) -> tuple[str, ...]:
    r = _Reader(_Reader(value).vector(2))
    names = []
    while r.pos < len(r.data):
        names.append(r.vector(1).decode("ascii", "replace"))
    return tuple(names)


def _server_name(value: bytes) -> str | None:
    r = _Reader(_Reader(value).vector(2))
    while r.pos < len(r.data):
        kind = r.u8()
        name = r.vector(2)
        if kind == 0:
            return name.decode("ascii", "replace")
    return None


def looks_like_browser(hello: ClientHello) -> bool:
    """Whether ``hello`` has a browser's traits (see the module docstring)."""
    if hello.grease_in_ciphers and hello.grease_in_extensions:
        return True
    return _EXT_RECORD_SIZE_LIMIT in hello.extensions and _EXT_DELEGATED_CREDENTIALS in hello.extensions

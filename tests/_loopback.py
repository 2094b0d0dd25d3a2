"""Helpers for the tests' own raw servers on 127.0.0.1."""

from __future__ import annotations

import socket


def read_request(sock: socket.socket) -> tuple[bytes, bytes]:
    """Read one HTTP request: its head (up to the blank line) and a body of Content-Length bytes.

    Returns what arrived if the peer closes early (an empty body when the head is incomplete).
    """
    data = b""
    while b"\r\n\r\n" not in data:
        more = sock.recv(65536)
        if not more:
            return data, b""
        data += more
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        more = sock.recv(65536)
        if not more:
            break
        body += more
    return head, body

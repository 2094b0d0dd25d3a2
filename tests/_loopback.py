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



def chatgpt4o_command(*args: str) -> list[str]:
    """``python -m chatgpt4o ARGS`` with Ctrl-C working even when pytest runs as a shell's
    background job (which starts with SIGINT ignored: Python then installs no handler)."""
    import sys

    code = ("import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
            "runpy.run_module('chatgpt4o', run_name='__main__', alter_sys=True)")
    return [sys.executable, "-c", code, *args]

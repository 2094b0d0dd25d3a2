"""A self-signed certificate for the emulator's HTTPS mode (made with the ``openssl`` command)."""

from __future__ import annotations

import os
import subprocess

__all__ = ["make_certificate"]


def make_certificate(directory: str) -> tuple[str, str]:
    """Write cert.pem and key.pem for 127.0.0.1/localhost into ``directory``; return their paths."""
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    cmd = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
           "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
           "-keyout", key, "-out", cert]
    try:
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)
    except FileNotFoundError as exc:
        raise RuntimeError("tls=True needs the `openssl` command to make a certificate "
                           "(or pass certfile= and keyfile=)") from exc
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"openssl failed: {exc.stderr.decode(errors='replace')}") from exc
    return cert, key

"""Anchor (b): gpt4free's ``Chatgpt4o`` provider (``g4f==6.7.1``) pointed at the emulator.

Run it with the Python of a virtualenv that has g4f and curl_cffi (``benchmarks/setup_g4f_env.sh``
makes one in /tmp/g4fenv); it imports nothing from chatgpt4o, so the two never share a process.

    /tmp/g4fenv/bin/python benchmarks/anchor_g4f.py --url https://127.0.0.1:PORT --n 300

With ``--serve`` it prints one JSON line ``{"ready": ..., "anchor": ...}``, then reads commands
from stdin, one JSON object a line (``{"n": 300}`` runs that many sequential asks and prints
``{"seconds": ...}``; ``{"quit": true}`` ends), so that run.py can alternate it with the other
sides without paying the import again. Over HTTPS the emulator's certificate is trusted through
``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` (set by run.py): curl_cffi reads them, verification stays on.

Anchors, best first (``--mode auto`` takes the first that loads):

``g4f``
    The real, unmodified ``g4f/Provider/not_working/Chatgpt4o.py``. g4f 6.7.1's
    ``g4f.Provider.not_working`` package cannot be imported as shipped (its ``__init__`` imports
    ``har/__init__.py``, which imports ``g4f.Provider.deprecated.LegacyLMArena``, a module the
    wheel ships as ``not_working/LegacyLMArena.py``; ``Liaobots.py`` imports the missing
    ``g4f.Provider.typing``). When the normal import fails, the package is registered without
    running its ``__init__`` and only ``Chatgpt4o.py`` is loaded from it; the reason is reported.
``recreate``
    A faithful re-creation of that file's request pattern: a new curl_cffi session per call
    (``impersonate="chrome"``, the provider's headers), the page read once into class-level
    ``_post_id``/``_nonce`` with the same two regexes, ``raise_for_status``, g4f's
    ``format_prompt``, the six-field form and ``response.json()["data"]``. Without curl_cffi
    it falls back to a new ``requests.Session`` per call, and says so.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
import json
import os
import re
import sys
import time
import types
from typing import Any

HEADERS = {
    "authority": "chatgpt4o.one",
    "accept": "*/*",
    "accept-language": "en,fr-FR;q=0.9,fr;q=0.8,es-ES;q=0.7,es;q=0.6,en-US;q=0.5,am;q=0.4,de;q=0.3",
    "origin": "https://chatgpt4o.one",
    "referer": "https://chatgpt4o.one",
    "sec-ch-ua": '"Chromium";v="118", "Google Chrome";v="118", "Not=A?Brand";v="99"',
    "sec-ch-ua-mobile": "?0",
    "sec-ch-ua-platform": '"macOS"',
    "sec-fetch-dest": "empty",
    "sec-fetch-mode": "cors",
    "sec-fetch-site": "same-origin",
    "user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/118.0.0.0 Safari/537.36",
}


def prompt(i: int) -> str:
    return f"Benchmark question number {i}: what is {i} plus {i}?"


def load_g4f() -> tuple[Any, str]:
    """The real provider class and a note on how it was loaded."""
    import g4f  # type: ignore[import-not-found]  # noqa: F401  (ImportError: not installed)

    version = _g4f_version()
    try:
        module = importlib.import_module("g4f.Provider.not_working.Chatgpt4o")
        return module.Chatgpt4o, f"g4f {version} Chatgpt4o (real provider)"
    except ImportError as exc:
        reason = f"{type(exc).__name__}: {exc}"
    for name in [m for m in sys.modules if m.startswith("g4f.Provider.not_working")]:
        del sys.modules[name]
    spec = importlib.util.find_spec("g4f")
    assert spec is not None and spec.origin is not None
    folder = os.path.join(os.path.dirname(spec.origin), "Provider", "not_working")
    package = types.ModuleType("g4f.Provider.not_working")
    package.__path__ = [folder]
    package.__package__ = "g4f.Provider.not_working"
    sys.modules["g4f.Provider.not_working"] = package
    module = importlib.import_module("g4f.Provider.not_working.Chatgpt4o")
    return module.Chatgpt4o, (
        f"g4f {version} Chatgpt4o (real provider file; its package __init__ was skipped because "
        f"importing it fails: {reason})"
    )


def _g4f_version() -> str:
    try:
        from importlib.metadata import version

        return version("g4f")
    except Exception:  # noqa: BLE001 - only for the label
        return "?"


class Recreated:
    """The request pattern of g4f's Chatgpt4o provider, re-created (see the module docstring)."""

    url = "https://chatgpt4o.one"
    _post_id: str | None = None
    _nonce: str | None = None
    transport = ""

    @staticmethod
    def format_prompt(messages: list[dict[str, str]]) -> str:
        # g4f.providers.helper.format_prompt without special tokens
        if len(messages) <= 1:
            return str(messages[0]["content"])
        text = "\n".join(f"{m['role'].capitalize()}: {m['content']}" for m in messages if m["content"].strip())
        return f"{text}\nAssistant:"

    @classmethod
    async def create_async(cls, model: str, messages: list[dict[str, str]], proxy: str | None = None,
                           timeout: int = 120, cookies: dict[str, str] | None = None, **kwargs: Any) -> str:
        from curl_cffi.requests import AsyncSession  # type: ignore[import-not-found]

        async with AsyncSession(headers=HEADERS, cookies=cookies, impersonate="chrome",
                                proxies={"all": proxy} if proxy else None, timeout=timeout) as session:
            if not cls._post_id or not cls._nonce:
                response = await session.get(f"{cls.url}/")
                response.raise_for_status()
                cls._read_page(response.text)
            data = cls._form(messages)
            response = await session.post(f"{cls.url}/wp-admin/admin-ajax.php", data=data, cookies=cookies)
            response.raise_for_status()
            return cls._data(response.json())

    @classmethod
    def create_sync(cls, messages: list[dict[str, str]]) -> str:
        """The same pattern with a new ``requests.Session`` per call (no curl_cffi)."""
        import requests

        with requests.Session() as session:
            session.headers.update(HEADERS)
            if not cls._post_id or not cls._nonce:
                response = session.get(f"{cls.url}/", timeout=120)
                response.raise_for_status()
                cls._read_page(response.text)
            response = session.post(f"{cls.url}/wp-admin/admin-ajax.php", data=cls._form(messages), timeout=120)
            response.raise_for_status()
            return cls._data(response.json())

    @classmethod
    def _read_page(cls, text: str) -> None:
        post_id = re.search(r'data-post-id="([0-9]+)"', text)
        nonce = re.search(r'data-nonce="(.*?)"', text)
        if not post_id:
            raise RuntimeError("No post ID found")
        cls._post_id = post_id.group(1)
        if not nonce:
            raise RuntimeError("No nonce found")
        cls._nonce = nonce.group(1)

    @classmethod
    def _form(cls, messages: list[dict[str, str]]) -> dict[str, Any]:
        return {"_wpnonce": cls._nonce, "post_id": cls._post_id, "url": cls.url,
                "action": "wpaicg_chat_shortcode_message", "message": cls.format_prompt(messages), "bot_id": "0"}

    @staticmethod
    def _data(payload: Any) -> str:
        if "data" not in payload:
            raise RuntimeError("Unexpected response structure: 'data' field missing")
        return str(payload["data"])


def load(mode: str) -> tuple[Any, str, bool]:
    """(provider, label, is_async)."""
    errors: list[str] = []
    if mode in ("auto", "g4f"):
        try:
            provider, label = load_g4f()
            return provider, label, True
        except Exception as exc:
            if mode == "g4f":
                raise
            errors.append(f"g4f unavailable ({type(exc).__name__}: {exc})")
    try:
        import curl_cffi  # type: ignore[import-not-found]

        label = f"re-creation of g4f's Chatgpt4o request pattern on curl_cffi {curl_cffi.__version__}"
        is_async = True
    except ImportError as exc:
        errors.append(f"curl_cffi unavailable ({exc})")
        label = "re-creation of g4f's Chatgpt4o request pattern on requests (new Session per call)"
        is_async = False
    if errors:
        label += "; " + "; ".join(errors)
    return Recreated, label, is_async


async def _run_async(provider: Any, n: int) -> float:
    started = time.perf_counter()
    for i in range(n):
        answer = await provider.create_async("gpt-4o-mini", [{"role": "user", "content": prompt(i)}])
        if not str(answer).startswith("echo: "):
            raise RuntimeError(f"unexpected answer {str(answer)[:80]!r}")
    return time.perf_counter() - started


def run(provider: Any, is_async: bool, n: int, loop: asyncio.AbstractEventLoop) -> float:
    if is_async:
        return loop.run_until_complete(_run_async(provider, n))
    started = time.perf_counter()
    for i in range(n):
        answer = provider.create_sync([{"role": "user", "content": prompt(i)}])
        if not answer.startswith("echo: "):
            raise RuntimeError(f"unexpected answer {answer[:80]!r}")
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="the emulator's base URL (no trailing slash)")
    parser.add_argument("--mode", choices=("auto", "g4f", "recreate"), default="auto")
    parser.add_argument("--n", type=int, default=300, help="sequential asks (without --serve)")
    parser.add_argument("--serve", action="store_true", help="read {'n': N} commands from stdin")
    args = parser.parse_args(argv)

    provider, label, is_async = load(args.mode)
    provider.url = args.url.rstrip("/")
    provider._post_id = provider._nonce = None
    loop = asyncio.new_event_loop()
    try:
        run(provider, is_async, 1, loop)  # reads the page once, as the provider does; not timed
        if not args.serve:
            print(json.dumps({"anchor": label, "n": args.n, "seconds": run(provider, is_async, args.n, loop)}))
            return 0
        print(json.dumps({"ready": True, "anchor": label}), flush=True)
        for line in sys.stdin:
            command = json.loads(line)
            if command.get("quit"):
                break
            seconds = run(provider, is_async, int(command["n"]), loop)
            print(json.dumps({"seconds": seconds, "n": command["n"]}), flush=True)
    finally:
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Reading the chat page over HTTP: same-site redirects, the status, the charset.

The page is read with a plain GET (never retried here: the caller's policy
does that) and redirects are followed by hand, only within the site, so a
redirect elsewhere never carries the client's cookies or headers. A status
other than 200 is the page's own error (``base_url`` is wrong), except
challenges, 408, 429 and 5xx, which keep their retried errors.
"""

from __future__ import annotations

import codecs
import importlib
import re
import sys
import threading
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from . import _config
from ._transport import ERROR_BODY_BYTES, read_capped
from .exceptions import PageError
from .protocols.base import Redact

__all__ = ["Check", "fetch_page", "same_site"]

Check = Callable[[int, Mapping[str, str], bytes, Redact], None]
_CHARSET_RE = re.compile(r"charset=[\"']?([\w.:-]+)", re.IGNORECASE)
_MAX_HOPS = 6


def _site_host(url: str) -> str:
    return (urlsplit(url).hostname or "").removeprefix("www.")


def same_site(a: str, b: str) -> bool:
    """Same host, counting ``www.example.org`` and ``example.org`` as one; same port; and no
    downgrade from https to http (cookies, nonce and headers would travel in clear text)."""
    pa, pb = urlsplit(a), urlsplit(b)
    if _site_host(a) != _site_host(b):
        return False
    if pa.scheme == "https" and pb.scheme != "https":
        return False
    default = {"http": 80, "https": 443}
    try:
        port_a = pa.port or default.get(pa.scheme)
        port_b = pb.port or default.get(pb.scheme)
    except ValueError:
        return False
    # http -> https on the default ports is an upgrade of the same site.
    upgrade = pa.scheme == "http" and pb.scheme == "https" and (port_a, port_b) == (80, 443)
    return port_a == port_b or upgrade


def _charset(content_type: str) -> str:
    """The charset a Content-Type names, if Python knows it; else UTF-8 (what WordPress sends).

    requests would assume ISO-8859-1 for any text/html without one.
    """
    match = _CHARSET_RE.search(content_type)
    if match:
        try:
            return codecs.lookup(match.group(1)).name
        except LookupError:
            pass
    return "utf-8"


# BeautifulSoup, then the generations' modules (imported on first use so a client starts fast).
_PAGE_READERS = ("bs4", "chatgpt4o.protocols.wpaicg", "chatgpt4o.protocols.aipkit")


def _import_all(names: tuple[str, ...]) -> None:
    for name in names:
        importlib.import_module(name)


def _warm_page_parser() -> None:
    """Import BeautifulSoup and the page readers in the background while the first page is on its way.

    The imports cost about 100 ms of CPU, the page fetch mostly waits on the
    network: overlapping them takes the imports off the first ask's latency.
    Python's import locks make the parser wait if it needs a module sooner.
    """
    missing = tuple(name for name in _PAGE_READERS if name not in sys.modules)
    if missing:
        threading.Thread(target=_import_all, args=(missing,), name="chatgpt4o-bs4", daemon=True).start()


def fetch_page(
    session: requests.Session, page_url: str, url: str | None, *, timeouts: Callable[[], tuple[float, float]],
    per_request: Mapping[str, Any], redact: Redact, check: Check,
) -> tuple[str, str, int]:
    """GET the chat page ``page_url`` (or ``url`` on the same site), following redirects within
    the site: ``(url, html, size)``.

    ``timeouts`` gives the (connect, read) timeouts left for each hop; ``check`` raises the
    typed error of a challenge, 408, 429 or 5xx answer.
    """
    url = url if url is not None and same_site(page_url, url) else page_url
    _warm_page_parser()
    for _hop in range(_MAX_HOPS):
        response = session.get(
            url, timeout=timeouts(), stream=True, allow_redirects=False,
            headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}, **per_request,
        )
        try:
            if response.is_redirect:
                target = urljoin(url, response.headers.get("Location", ""))
                if urlsplit(target).scheme not in ("http", "https") or not same_site(url, target):
                    raise PageError(
                        f"the chat page {url} redirects to another site ({redact(target)}) — "
                        "set base_url to the page that holds the chat box"
                    )
                url = target
                continue
            if response.status_code != 200:
                from ._answer import challenge  # loaded with the page readers

                body = read_capped(response, ERROR_BODY_BYTES, truncate=True)
                status = response.status_code
                # Challenges, 408/429 and 5xx keep their own (retried) errors; any other
                # status means the URL is wrong: the chat endpoint was never contacted.
                if status in (408, 429) or status >= 500 or challenge(status, response.headers, body):
                    check(status, response.headers, body, redact)
                raise PageError(f"the chat page URL {url} answered HTTP {status} — check base_url")
            body = read_capped(response, _config.MAX_PAGE_BYTES)
        finally:
            response.close()
        html = body.decode(_charset(response.headers.get("Content-Type", "")), "replace")
        return url, html, len(body)
    raise PageError(f"the chat page {page_url} redirects too often")

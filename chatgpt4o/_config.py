"""Client settings: defaults, environment variables, and their validation.

Order of precedence: a keyword given to :class:`~chatgpt4o.Client`, then the
environment variable below, then the default. This module is the only place
that reads the environment.

=========================  ===========================  =======================
setting                    environment variable         default
=========================  ===========================  =======================
``base_url``               ``CHATGPT4O_BASE_URL``       https://chatgpt4o.one
``timeout``                ``CHATGPT4O_TIMEOUT``        120 seconds
``proxy``                  ``CHATGPT4O_PROXY``          none
``max_retries``            ``CHATGPT4O_MAX_RETRIES``    2
=========================  ===========================  =======================

The usual variables of ``requests`` are honoured too, but read once, here,
when a client is made: ``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY`` with
``NO_PROXY`` when no proxy is configured, and ``REQUESTS_CA_BUNDLE`` /
``CURL_CA_BUNDLE`` when ``verify=True``. (requests would otherwise look them up
on every request, and let them override a session's own settings.)
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from .exceptions import InvalidConfigError, MessageTypeError

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_MAX_RETRIES", "DEFAULT_TIMEOUT", "ENV_VARS", "Settings", "resolve_settings"]

DEFAULT_BASE_URL = "https://chatgpt4o.one"
DEFAULT_TIMEOUT = 120.0
DEFAULT_MAX_RETRIES = 2
DEFAULT_CONCURRENCY = 64
#: Connect timeout of one attempt; the rest of the budget is for the answer.
CONNECT_TIMEOUT = 10.0
#: Size caps: a chat page and a reply are far smaller than these.
MAX_PAGE_BYTES = 8 * 1024 * 1024
MAX_REPLY_BYTES = 8 * 1024 * 1024
#: How much of a CA bundle is searched for a certificate (certifi's is ~300 KB).
MAX_CA_BUNDLE_BYTES = 16 * 1024 * 1024
#: Reuse page tokens for at most this long: WordPress nonces live 12–24 h.
TOKEN_MAX_AGE = 12 * 3600.0
USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)

ENV_VARS = ("CHATGPT4O_BASE_URL", "CHATGPT4O_TIMEOUT", "CHATGPT4O_PROXY", "CHATGPT4O_MAX_RETRIES")

_HOST_RE = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._\-]+)$")


@dataclass(frozen=True)
class Settings:
    """A validated client configuration (no secrets are shown by its repr)."""

    base_url: str
    page_url: str
    timeout: float
    proxy: str | None
    max_retries: int
    max_concurrency: int


def _clean_url(value: object, what: str, schemes: tuple[str, ...] = ("http", "https")) -> str:
    if not isinstance(value, str):
        raise MessageTypeError(f"{what} must be a str, not {type(value).__name__}")
    value = value.strip()
    if not value:
        raise InvalidConfigError(f"{what} is empty")
    if any(ch in value for ch in "\x00\r\n\t "):
        raise InvalidConfigError(f"{what} contains whitespace or control characters")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise InvalidConfigError(f"{what} is not a valid URL ({exc})") from None
    if parts.scheme.lower() not in schemes:
        raise InvalidConfigError(
            f"{what} must use {' or '.join(schemes)}, not {parts.scheme or 'no scheme'!r} "
            "(e.g. 'https://chatgpt4o.one')"
        )
    host = parts.hostname or ""
    if not host or not _HOST_RE.match(host if ":" not in host else f"[{host}]"):
        raise InvalidConfigError(f"{what} has no valid host name")
    if port == 0:
        raise InvalidConfigError(f"{what} has port 0")
    return value


def redact_url(url: str) -> str:
    """Hide the user name and password of a URL (for reprs and messages)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid URL>"
    if parts.username is None and parts.password is None:
        return url
    netloc = "***:***@" + (parts.hostname or "")
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def url_secrets(*urls: str) -> list[str]:
    """User names and passwords inside URLs, to redact."""
    found: list[str] = []
    for url in urls:
        try:
            parts = urlsplit(url)
            found += [p for p in (parts.username, parts.password) if p and len(p) >= 4]
        except ValueError:
            continue
    return found


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MessageTypeError(f"{what} must be a number of seconds, not {type(value).__name__}")
    number = float(value)
    if math.isnan(number) or number <= 0 or math.isinf(number):
        raise InvalidConfigError(f"{what} must be a positive, finite number of seconds, not {value!r}")
    return number


def check_timeout(value: object, what: str = "timeout") -> float:
    """Validate a timeout in seconds (positive and finite)."""
    return _number(value, what)


def _count(value: object, what: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise MessageTypeError(f"{what} must be an int, not {type(value).__name__}")
    if value < minimum:
        raise InvalidConfigError(f"{what} must be at least {minimum}, not {value}")
    return value


def _env_number(env: Mapping[str, str], name: str) -> float | None:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        return float(raw)
    except ValueError:
        raise InvalidConfigError(f"environment variable {name}={raw!r} is not a number") from None


def resolve_settings(
    base_url: str | None,
    timeout: float | None,
    proxy: str | None,
    max_retries: int | None,
    max_concurrency: int,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Merge keywords, environment and defaults; validate everything before any I/O."""
    env = os.environ if env is None else env
    if base_url is None:
        base_url = env.get("CHATGPT4O_BASE_URL") or DEFAULT_BASE_URL
    page_url = _clean_url(base_url, "base_url")
    parts = urlsplit(page_url)
    # The chat page may live below the root (e.g. https://host/chat/), or be a plain
    # permalink (https://host/?page_id=42): the query is part of the page's address.
    # A fragment never reaches a server; it is dropped.
    if parts.query:
        path = parts.path or "/"
        page_url = urlunsplit((parts.scheme.lower(), parts.netloc, path, parts.query, ""))
        base = page_url
    else:
        path = parts.path if parts.path.endswith("/") else parts.path + "/" if parts.path else "/"
        page_url = urlunsplit((parts.scheme.lower(), parts.netloc, path, "", ""))
        base = page_url.rstrip("/")

    if timeout is None:
        env_timeout = _env_number(env, "CHATGPT4O_TIMEOUT")
        timeout = DEFAULT_TIMEOUT if env_timeout is None else env_timeout
    timeout = _number(timeout, "timeout")

    if proxy is None:
        proxy = env.get("CHATGPT4O_PROXY") or None
    if proxy is not None:
        proxy = _clean_url(proxy, "proxy", ("http", "https", "socks4", "socks4a", "socks5", "socks5h"))

    if max_retries is None:
        env_retries = _env_number(env, "CHATGPT4O_MAX_RETRIES")
        max_retries = DEFAULT_MAX_RETRIES if env_retries is None else int(env_retries)
    max_retries = _count(max_retries, "max_retries", 0)
    if max_retries > 20:
        raise InvalidConfigError(f"max_retries must be at most 20, not {max_retries}")
    max_concurrency = _count(max_concurrency, "max_concurrency", 1)
    return Settings(base, page_url, timeout, proxy, max_retries, max_concurrency)


def environment_proxies(url: str) -> dict[str, str]:
    """The proxies the standard environment variables give for ``url`` (honours NO_PROXY)."""
    from requests.utils import get_environ_proxies

    return {k: v for k, v in get_environ_proxies(url).items() if k in ("http", "https", "all")}


def ca_bundle(verify: bool | str, env: Mapping[str, str] | None = None) -> bool | str:
    """``verify`` as given, or the CA bundle of REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE for ``True``."""
    env = os.environ if env is None else env
    if verify is True:
        return env.get("REQUESTS_CA_BUNDLE") or env.get("CURL_CA_BUNDLE") or True
    return verify


def checked_ca_bundle(verify: bool | str, env: Mapping[str, str] | None = None) -> bool | str:
    """:func:`ca_bundle`, checked before any I/O: a file must exist and hold PEM certificates.

    A directory is accepted as it is (requests takes it as a CA path of hashed
    certificates). Otherwise the mistake would surface only at the first
    request, as a connection error that is retried.
    """
    env = os.environ if env is None else env
    resolved = ca_bundle(verify, env)
    if not isinstance(resolved, str) or os.path.isdir(resolved):
        return resolved
    source = "verify" if isinstance(verify, str) else (
        "REQUESTS_CA_BUNDLE" if env.get("REQUESTS_CA_BUNDLE") else "CURL_CA_BUNDLE")
    if not os.path.isfile(resolved):
        raise InvalidConfigError(
            f"{source}={resolved!r}: no such file — pass the path of a PEM CA bundle "
            "(or of a directory of hashed certificates)"
        )
    # A look for the PEM marker, not a parse: the transport parses the bundle once, later,
    # and parsing a full bundle costs tens of milliseconds.
    try:
        with open(resolved, "rb") as handle:
            pem = b"-----BEGIN CERTIFICATE-----" in handle.read(MAX_CA_BUNDLE_BYTES)
    except OSError as exc:
        raise InvalidConfigError(f"{source}={resolved!r} cannot be read: {exc.strerror or exc}") from None
    if not pem:
        raise InvalidConfigError(
            f"{source}={resolved!r} is not a PEM CA bundle (no '-----BEGIN CERTIFICATE-----' in it) "
            "— pass the CA certificate file in PEM form"
        )
    return resolved



_SOCKS_SCHEMES = ("socks4", "socks4a", "socks5", "socks5h")


def check_proxy_support(proxies: Mapping[str, str], source: str) -> None:
    """A SOCKS proxy needs PySocks under requests: say so before any I/O, not as a retried connection error."""
    for url in proxies.values():
        scheme = urlsplit(url).scheme.lower() if "://" in url else ""
        if scheme in _SOCKS_SCHEMES:
            try:
                import socks  # type: ignore[import-untyped]  # noqa: F401
            except ImportError:
                raise InvalidConfigError(
                    f"the {scheme}:// proxy ({source}) needs PySocks, which is not installed "
                    "— pip install 'requests[socks]' (or PySocks)"
                ) from None
            return


_TOKEN_RE = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_BAD_VALUE_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def check_headers(headers: Mapping[str, str] | None) -> None:
    """Header names must be HTTP tokens and values free of CR, LF and other controls."""
    for name, value in (headers or {}).items():
        if not isinstance(name, str) or not _TOKEN_RE.match(name):
            raise InvalidConfigError(f"header name {name!r} is not a valid HTTP header name")
        if _BAD_VALUE_RE.search(str(value)):
            raise InvalidConfigError(f"the value of header {name!r} contains a line break or control character")


def check_cookies(cookies: object) -> None:
    """Cookie names must be tokens and values free of controls, ``;`` and ``,``."""
    if not isinstance(cookies, Mapping):
        return
    for name, value in cookies.items():
        if not isinstance(name, str) or not _TOKEN_RE.match(name):
            raise InvalidConfigError(f"cookie name {name!r} is not a valid cookie name")
        if _BAD_VALUE_RE.search(str(value)) or ";" in str(value):
            # the value itself is a secret: not shown
            raise InvalidConfigError(f"the value of cookie {name!r} contains a line break, ';' or a control character")


def secrets_of(proxy: str | None, cookies: object) -> tuple[str, ...]:
    """What the caller gave that must never show: proxy credentials, cookie values."""
    from http.cookiejar import CookieJar

    found: list[str] = []
    if proxy:
        found += url_secrets(proxy)
    if isinstance(cookies, Mapping):
        found += [str(v) for v in cookies.values()]
    elif isinstance(cookies, CookieJar):
        found += [c.value for c in cookies if c.value]
    return tuple(s for s in found if len(s) >= 4)


def check_arguments(*, verify: object, headers: object, cookies: object, sleep: object) -> None:
    """The types and contents of the client's keywords, before any I/O."""
    from http.cookiejar import CookieJar

    if not isinstance(verify, (bool, str)):
        raise MessageTypeError(f"verify must be a bool or a CA bundle path, not {type(verify).__name__}")
    if headers is not None and not isinstance(headers, Mapping):
        raise MessageTypeError(f"headers must be a mapping, not {type(headers).__name__}")
    if cookies is not None and not isinstance(cookies, (Mapping, CookieJar)):
        raise MessageTypeError(f"cookies must be a dict or a CookieJar, not {type(cookies).__name__}")
    if not callable(sleep):
        raise MessageTypeError("sleep must be callable")
    check_headers(headers)
    check_cookies(cookies)

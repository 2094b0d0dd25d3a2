"""The seam between the client and a plugin generation: what a protocol module provides.

A protocol module (:mod:`.wpaicg` for 1.x, ``aipkit`` for 2.x) is a set of
pure functions: it never opens a socket, sleeps or reads a clock the caller
cannot give it, so every shape is tested with plain bytes. The client does
the I/O and drives the module through the functions listed in
:class:`Generation`; a module satisfies it structurally (no base class).

Data that crosses the seam:

- :class:`Site`: what a page says (nonce, AJAX URL, plugin version); each
  generation subclasses it with its own fields (1.x: post id, chat box
  settings; 2.x: bots). The client caches it, shares it between threads and
  replaces it when the nonce goes stale.
- :class:`Request`: one HTTP request as data: method, URL, form fields (the
  body of a POST, the query of a GET), headers, and ``reply``: whether its
  answer is the reply itself (read by :func:`Generation.read_reply` or,
  streamed, :func:`Generation.iter_text`) or an intermediate step whose
  whole body goes back into the turn.
- :class:`Answer`: a complete intermediate answer (status, headers, body).

One turn is a generator (sans-IO): it yields requests and is sent the answer
of each intermediate one; the last request it yields has ``reply=True``::

    steps = generation.turn(site, "Hello", client_id=..., history=...)
    request = next(steps)
    while not request.reply:
        request = steps.send(answer_of(request))      # the client's I/O
    pieces = generation.iter_text(chunks_of(request), redact, request.context)  # or read_reply(...)

A turn also takes who asks and where: ``session_id`` and ``conversation_id``
(2.x keeps the history on the server under these), ``bot_id`` (2.x: any bot
of the site; 1.x has the page's one) and ``system`` (instructions to put in
front of the first message of a conversation where the history is not sent
by the client). A generation ignores what it has no use for. ``context`` on
the last request is opaque to the client and handed back to the readers
(2.x: the bot used and the page's bot ids, for the error that names them).

1.x yields one POST (``reply=True``; JSON or an event stream). 2.x yields
the cache POST (``reply=False``), reads ``cache_key`` from the answer it is
sent, then yields the stream GET (``reply=True``, SSE). Any typed error may
be raised from the generator, from :func:`Generation.check_status` (every
answer whose status is not 200 goes there first, with the first 64 KiB of its
body) or from the readers. :class:`~chatgpt4o.NonceExpiredError` means the
site's nonce is stale: the client then asks :func:`Generation.refresh` how to
get a fresh one: a request (2.x, 2.3.41+: ``aipkit_get_frontend_chat_nonce``),
whose answer :func:`Generation.refreshed` turns into a new :class:`Site`, or
``None`` (1.x, and 2.x before 2.3.41): read the page again. Either way one
thread refreshes while the others wait, and the turn is retried.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol

__all__ = ["Answer", "BotInfo", "Generation", "Redact", "Request", "Site", "Turn"]

Redact = Callable[[str], str]


@dataclass(frozen=True, kw_only=True)
class Site:
    """What a chat page tells a client; each generation adds its own fields.

    ``nonce`` authorises posts for 12–24 hours, so it is left out of the ``repr``.
    """

    #: The generation that reads and speaks to this site (``"wpaicg"``, ``"aipkit"``).
    protocol: ClassVar[str] = ""

    nonce: str = field(repr=False)
    ajax_url: str
    page_url: str = ""
    plugin_version: str | None = None

    @property
    def era_name(self) -> str:
        """The plugin's protocol era, as a short name (1.x: :func:`chatgpt4o.page.plugin_era`)."""
        # Loaded with the page readers; not needed to start a client.
        from ..page import plugin_era

        return plugin_era(self.plugin_version)


@dataclass(frozen=True)
class BotInfo:
    """One chat bot found on a page (2.x: every ``data-config``; 1.x: the page's one)."""

    id: int
    name: str  # 2.x: the config's headerName
    mode: Literal["inline", "popup"]
    provider: str  # "OpenAI", "Google", "Claude"... ("" when not given)
    stream_enabled: bool = True  # False only on 2.3-2.4.0 bots that answer in one piece


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request of a turn, as data."""

    method: str  # "GET" or "POST"
    url: str
    fields: Sequence[tuple[str, str]]  # POST: the urlencoded body; GET: the query string
    headers: Mapping[str, str]
    reply: bool = True  # the answer is the reply (else: read whole and sent back into the turn)
    context: Any = field(default=None, compare=False)  # handed back to the readers; opaque to the client


@dataclass(frozen=True, slots=True)
class Answer:
    """A complete answer to an intermediate request (its body read whole, size-capped)."""

    status: int
    headers: Mapping[str, str]
    body: bytes


Turn = Generator[Request, Answer, None]


class Generation(Protocol):
    """The functions a protocol module provides (all pure)."""

    def read_page(self, html: str, page_url: str) -> Site:
        """The site description of a chat page; ``TokensNotFoundError`` naming what is missing."""

    def turn(
        self, site: Any, message: str, *, client_id: str, history: Sequence[Mapping[str, Any]] = (),
        session_id: str = "", conversation_id: str | None = None, bot_id: int | None = None,
        system: str | None = None,
    ) -> Turn:
        """The requests of one turn (see the module docstring).

        ``client_id`` is the 1.x ``wpaicg_chat_client_id``, ``session_id``
        the 2.x guest identity; ``history`` is the conversation so far in the
        1.x site format (2.x keeps it server-side under ``session_id`` and
        ``conversation_id``; ``None``: a new conversation for this turn).
        """

    def check_status(self, status: int, headers: Mapping[str, str], body: bytes, redact: Redact) -> None:
        """Raise the typed error of a non-200 answer (or a challenge); return for other 2xx."""

    def read_reply(
        self, status: int, headers: Mapping[str, str], body: bytes, redact: Redact, context: Any = None,
    ) -> str:
        """The reply text of a complete answer to a ``reply`` request, or one typed error."""

    def iter_text(self, chunks: Iterable[bytes], redact: Redact, context: Any = None) -> Iterator[str]:
        """The reply text of an event stream, piece by piece, or one typed error."""

    def refresh(self, site: Any) -> Request | None:
        """The request that fetches a fresh nonce, or ``None``: read the page again."""

    def refreshed(self, site: Any, answer: Answer, redact: Redact) -> Site:
        """``site`` with the nonce the :func:`refresh` answer carries."""

    def refetch_url(self, site: Any) -> str | None:
        """Where to read the page again for a fresh nonce (``None``: the configured page)."""

"""Scenario configuration: plugin eras, the :class:`EmulatorConfig` knobs and the fault table.

A scenario is a plain dataclass so that it can be copied, compared, sent as JSON to a running
emulator (``POST /__emulator__/config``) and changed atomically with ``Emulator.configure``.
Fault *behaviour* lives in ``faults.py`` (it needs the socket); the names, their documentation
and the decision "does this request get a fault?" live here.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Mapping
from typing import Any

from .aipkit_era import AIPKIT_ERAS, is_aipkit

__all__ = ["DEFAULT_ERA", "ERAS", "FAULTS", "FAULT_TARGETS", "LEGACY_ERA", "EmulatorConfig", "asset_version",
           "endpoint_removed", "nonce_failure_is_json", "pick_fault", "reads_request", "sanitizes_message"]

#: Plugin eras the emulator reproduces (protocol.md §0).
#:
#: - ``1.8.79``: fields read from ``$_REQUEST`` (GET works), message ``sanitize_text_field``-ed
#:   *without* ``wp_unslash`` (magic-quote backslashes reach the model), stale nonce = 200 JSON.
#: - ``1.8.91``: ``$_POST`` only, ``sanitize_text_field(wp_unslash(...))``, stale nonce = 403 HTML.
#: - ``1.8.96``: like 1.8.91 but the message is only unslashed (reaches the model unchanged).
#: - ``2.x``: an upgraded site behind a full-page cache: the page still shows the legacy markup
#:   with ``ver=2.3.2`` assets, but the ``wpaicg_chat_shortcode_message`` action is gone: ``0``/400.
#: - ``2.3.19``, ``2.3.40``, ``2.4.0``, ``2.4.71``: AI Puffer's AIPKit chat (protocol-aipkit.md;
#:   the differences are in :mod:`.aipkit_era`).
ERAS: tuple[str, ...] = ("1.8.79", "1.8.91", "1.8.96", "2.x", *AIPKIT_ERAS)

#: The era of ``Emulator()`` and ``EmulatorConfig()`` without ``era=``: the current plugin.
DEFAULT_ERA = "2.4.71"
#: The newest legacy (1.x) era: the default of the ``wpaicg_emulator`` pytest fixtures.
LEGACY_ERA = "1.8.96"

_ASSET_VERSIONS: dict[str, str] = {"1.8.79": "1.8.79", "1.8.91": "1.8.91", "1.8.96": "1.8.96", "2.x": "2.3.2",
                                   **{era: era for era in AIPKIT_ERAS}}

#: Which requests a fault hits: ``page`` (the chat pages), ``ajax`` (every admin-ajax request),
#: ``both``, or one AIPKit step: ``cache`` (aipkit_cache_sse_message), ``stream``
#: (aipkit_frontend_chat_stream), ``nonce`` (aipkit_get_frontend_chat_nonce).
FAULT_TARGETS: tuple[str, ...] = ("ajax", "page", "both", "cache", "stream", "nonce")

#: Every injectable fault, name -> what the emulator does instead of (or around) the answer.
FAULTS: Mapping[str, str] = {
    "challenge": "Cloudflare managed challenge: 403, cf-mitigated: challenge, server: cloudflare, "
    "cf-ray, HTML 'Just a moment...' with _cf_chl_opt and /cdn-cgi/challenge-platform/",
    "waf_block": "Cloudflare WAF block: 403 'Attention Required! | Cloudflare' page",
    "429": "429 Too Many Requests with Retry-After: <retry_after>",
    "500": "500 with WordPress' 'There has been a critical error on this website.' page",
    "502": "502 Bad Gateway HTML page (nginx in front of php-fpm)",
    "503": "503 Service Unavailable with Retry-After: <retry_after> (maintenance mode page)",
    "408": "408 Request Timeout, Connection: close",
    "reset": "read the request, then close the socket with SO_LINGER 0 (TCP RST), no answer",
    "slow": "wait slow_seconds, then answer normally",
    "slow_body": "send the status line and headers now, the body after slow_seconds",
    "hang": "read the request and never answer: hold the socket until the client goes away, "
    "60 s pass or the server stops, then close it",
    "trickle": "send the normal response one byte per second",
    "truncated": "Content-Length larger than the body actually sent, then close",
    "non_json": "200 text/html body like a theme error page instead of JSON",
    "php_notice": "a PHP '<b>Notice</b>: Undefined index' block before the normal body",
    "empty": "200 application/json with an empty body",
    "json_array": "200 application/json body '[]'",
    "data_not_string": "success JSON whose data is the number 42",
    "no_data": "success JSON without the data key",
    "huge_body": "200 success JSON of about 20 MB",
    "gzip_bomb": "Content-Encoding: gzip body (~1 MB on the wire) inflating to 1 GiB",
    "endless_chunked": "200 JSON with a chunked body that never ends until the client goes away",
    "invalid_utf8": "success JSON whose data contains bytes that are not UTF-8",
    "redirect_other_host": "302 to http://127.0.0.2:<port>/<same path> (another loopback host)",
    "redirect_loop": "302 to the very same URL",
    "sse_endless": "text/event-stream that never ends: 1.x keep-alive comments and empty deltas; "
    "2.x message_start, then empty deltas",
    "huge_page": "a 50 MB HTML page (the normal page padded with 50 MB of markup)",
    "stale_nonce": "answer as if the nonce had expired, in the era's and step's form (1.x: 403 HTML or "
    "200 JSON; 2.x: 403 nonce_failure_cache_sse, or the stream's 'Security check failed' error)",
    "sse_no_done": "the normal streamed answer without its end (2.x: the done event; 1.x: the "
    "finish_reason chunk and [DONE]), then a clean close, as when PHP's max_execution_time ends the script",
    "sse_provider_error": "2.x stream: message_start, the first delta, then the provider's error "
    "(2.4.71: its text; up to 2.4.0: 'An unknown API error occurred.') and no done",
    "sse_trickle": "the normal answer one SSE event (or 1 KiB of the preamble) every slow_seconds",
    "endpoint_gone": "body '0' with HTTP 400, as when the action is not registered (plugin 2.x)",
}


@dataclasses.dataclass
class EmulatorConfig:
    """One scenario of the emulated WordPress + AI Power site. Every field has a default.

    Site and plugin:
        era: plugin era, one of :data:`ERAS`; default :data:`DEFAULT_ERA` (``"2.4.71"``).
        stream: 1.x: the site's ``data-openai_stream_nav`` setting (answers are SSE when on);
            2.x up to 2.4.0: the bots' ``streamEnabled`` flag (both actions work either way).
        post_id: ``data-post-id`` (1.x) / ``postId`` (2.x) of the chat page.
        bot_id: 1.x ``data-bot-id``, non-zero means a custom bot (identity ``custom_bot_<id>``);
            2.x: the first bot's id (0 means 5, the recorded site's), the others follow it.
        page_path: path of the chat page, e.g. ``"/"`` or ``"/chat/"``; other paths get a 404 page.
        ajax_path: path of admin-ajax (``wpaicgParams.ajax_url`` points to it).
        memory_limit: ``data-memory-limit`` (conversation_cut).
        nonce_life: WordPress ``nonce_life`` in seconds; a nonce is valid for its tick and the next.
        nonce_secret: NONCE_KEY/NONCE_SALT stand-in; ``wp_nonce(nonce_secret, action, tick)``.
        rotate_every: > 0: new secret after every N ajax requests (old nonces fail at once).

    AIPKit (2.x) site:
        bots: how many bots the chat page shows (ids ``bot_id``, ``bot_id + 1``, ...).
        popup: render the page's bots in popup mode (``data-config`` on ``.aipkit_popup_wrapper``).
        sitewide_popup: one more bot (the next id), popup, at the end of ``<body>`` of every page.
        bot_path: put the page's bots on this sub-page (``postId`` = ``post_id + 1``) instead of
            ``page_path``, which then shows none (only the site-wide popup, if any).
        draft_bots: ids of bots that are drafts: they render, but their stream fails with
            "Invalid chatbot specified.".
        provider: the bots' provider (``provider`` key; ``OpenAI`` adds the ``status`` and
            ``openai_response_id`` events of the Responses API).
        max_messages: stored messages replayed to the model per turn (bot setting, 1-1024).
        guest_limit: guest token quota per (session id, bot); ``None`` unlimited, 0 disables
            guests ("Access disabled for guests."). A turn uses one token per word of the
            message and of the reply; the check is "usage >= limit" before the turn.
        token_limit_message: the quota text; ``None`` for the era's default.
        quota_actions: ``quota_notice.actions`` (2.4.71): ``{"label","url","variant"}`` objects.
        moderation_words: words OpenAI moderation flags (enforced from 2.4.71, whole words).
        site_url: WordPress ``siteurl`` for the Origin check (``None``: the emulator's base URL);
            scheme and host compared, port ignored, ``www.`` significant.
        cache_ttl: seconds a cached message stays readable (the plugin's 60).

    The model:
        reply: fixed reply text; ``None`` uses ``reply_template``.
        reply_template: ``str.format`` template with ``{message}`` (what the model got this turn,
            after the era's sanitizing), ``{turns}`` (history items the model got before it),
            ``{history}`` (JSON list of ``{"role","content"}``: 1.x parsed from the posted
            history, 2.x the stored messages replayed), 1.x ``{identity}`` and ``{client_id}``,
            2.x ``{bot_id}``, ``{session_id}`` and ``{conversation_uuid}``.
        latency: seconds before each ajax answer (spread over the chunks when streaming). On 2.x
            it delays the stream step (and the non-stream action), not the cache step.
        cache_latency: 2.x: seconds before the cache step (``aipkit_cache_sse_message``) answers,
            so that both requests of a turn can carry a server latency (0: at once, as before).
        stream_error_end: how a streamed ``upstream_error`` ends: ``"stop"`` (the
            ``finish_reason`` chunk, fixture 17) or ``"limited"`` (``data: [LIMITED]``, what a PHP
            exception during the upstream call produces).

    The page:
        page_size: approximate size in bytes of the homepage (filler posts, styles, scripts).
        chatbox: ``False`` renders a page without any chat box.
        extra_chatboxes: also render, before the shortcode box, the floating widget
            (``wpaicg-chatbox``, ``data-type="widget"``) and other plugins' elements carrying
            their own ``data-nonce``/``data-post-id``. Off by default, like chatgpt4o.one and
            the recorded homepage, where the chat box holds the page's first ``data-nonce``
            (clients that take the first match work); on, it tests clients that must pick
            the right element.

    Plugin outcomes:
        banned_ips: client IPs refused (1.x: "You are not allowed to access this feature."; 2.x:
            "Access from your IP address has been blocked.", compared with REMOTE_ADDR only).
        banned_words: words that flag a message (1.x: space-separated tokens; 2.x: whole words),
            case-insensitive.
        api_key: ``False`` -> "Unable to initialize the AI instance. ..." error.
        upstream_error: provider error text -> 1.x ``status:error`` JSON or a word-split SSE;
            2.x ``error`` "API Error: <text>" right after ``message_start``, no ``done``.
        token_limit: ``True`` -> ``{"msg":"You have reached your token limit.","tokenLimitReached":true}``.

    Faults (see :data:`FAULTS`):
        fault: a fault name applied to matching requests (``None``: none).
        fault_target: which requests match, one of :data:`FAULT_TARGETS` (``"ajax"``, ``"page"``,
            ``"both"``, ``"cache"``, ``"stream"``, ``"nonce"``).
        fault_count: > 0: only the next N matching requests get ``fault`` (a burst), then normal.
        fault_rate: probability of a random fault from ``fault_mix`` per matching request.
        fault_mix: the faults ``fault_rate`` draws from.
        seed: seed of the fault RNG, for reproducible runs.
        retry_after: ``Retry-After`` value sent with the 429 and 503 faults.
        slow_seconds: the delay of the ``slow``/``slow_body`` faults.

    Transport:
        tls: serve HTTPS; ``certfile``/``keyfile`` ``None`` -> a self-signed certificate for
            127.0.0.1/localhost is generated with ``openssl`` at start (``Emulator.ca_file``).
        certfile, keyfile: PEM files to use instead.
        bot_check: ``"tls"``: over HTTPS, connections whose ClientHello lacks browser traits get
            a Cloudflare challenge for every request (see ``tlscheck.py``); ``None``: off.
    """

    era: str = DEFAULT_ERA
    stream: bool = False
    post_id: int = 11
    bot_id: int = 0
    page_path: str = "/"
    ajax_path: str = "/wp-admin/admin-ajax.php"
    memory_limit: int = 100
    nonce_life: float = 86400.0
    nonce_secret: str = "emulator-secret"
    rotate_every: int = 0
    bots: int = 1
    popup: bool = False
    sitewide_popup: bool = False
    bot_path: str | None = None
    draft_bots: tuple[int, ...] = ()
    provider: str = "OpenAI"
    max_messages: int = 15
    guest_limit: int | None = None
    token_limit_message: str | None = None
    quota_actions: tuple[dict[str, str], ...] = ()
    moderation_words: tuple[str, ...] = ()
    site_url: str | None = None
    cache_ttl: float = 60.0
    reply: str | None = None
    reply_template: str = "echo: {message}"
    latency: float = 0.0
    cache_latency: float = 0.0
    stream_error_end: str = "stop"
    page_size: int = 300_000
    chatbox: bool = True
    extra_chatboxes: bool = False
    banned_ips: tuple[str, ...] = ()
    banned_words: tuple[str, ...] = ()
    api_key: bool = True
    upstream_error: str | None = None
    token_limit: bool = False
    fault: str | None = None
    fault_target: str = "ajax"
    fault_count: int = 0
    fault_rate: float = 0.0
    fault_mix: tuple[str, ...] = ("reset", "502", "503", "429", "slow_body", "truncated")
    seed: int = 0
    retry_after: str = "1"
    slow_seconds: float = 2.0
    tls: bool = False
    certfile: str | None = None
    keyfile: str | None = None
    bot_check: str | None = None

    def __post_init__(self) -> None:
        # JSON (``/__emulator__/config``) and the CLI hand over lists; keep the dataclass hashable-ish
        for name in ("banned_ips", "banned_words", "fault_mix", "draft_bots", "quota_actions",
                     "moderation_words"):
            value = getattr(self, name)
            if isinstance(value, str):
                value = (value,)
            setattr(self, name, tuple(value))
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` for a value the emulator cannot serve."""
        if self.era not in ERAS:
            raise ValueError(f"era must be one of {ERAS}, not {self.era!r}")
        for name in ((self.fault,) if self.fault else ()) + self.fault_mix:
            if name not in FAULTS:
                raise ValueError(f"unknown fault {name!r}; known: {', '.join(FAULTS)}")
        if self.fault_target not in FAULT_TARGETS:
            raise ValueError(f"fault_target must be one of {FAULT_TARGETS}")
        if not 0.0 <= self.fault_rate <= 1.0:
            raise ValueError("fault_rate must be within [0, 1]")
        if self.stream_error_end not in ("stop", "limited"):
            raise ValueError("stream_error_end must be 'stop' or 'limited'")
        for name in ("page_path", "ajax_path"):
            if not getattr(self, name).startswith("/"):
                raise ValueError(f"{name} must start with '/'")
        if self.cache_latency < 0:
            raise ValueError("cache_latency must not be negative")
        if self.nonce_life <= 0:
            raise ValueError("nonce_life must be positive")
        if self.bot_check not in (None, "tls"):
            raise ValueError(f"bot_check must be None or 'tls', not {self.bot_check!r}")
        if self.bots < 0 or self.bot_id < 0:
            raise ValueError("bots and bot_id must not be negative")
        if not 1 <= self.max_messages <= 1024:
            raise ValueError("max_messages must be within 1..1024")
        if self.guest_limit is not None and self.guest_limit < 0:
            raise ValueError("guest_limit must be None or >= 0")
        if self.bot_path is not None and (not self.bot_path.startswith("/") or self.bot_path == self.page_path):
            raise ValueError("bot_path must start with '/' and differ from page_path")
        for action in self.quota_actions:
            if not isinstance(action, dict) or not {"label", "url"} <= set(action):
                raise ValueError("quota_actions items are {'label','url','variant'} objects")

    def replace(self, **changes: Any) -> EmulatorConfig:
        """A validated copy with ``changes`` applied (unknown names raise ``TypeError``)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The configuration as JSON-friendly values."""
        return {key: list(value) if isinstance(value, tuple) else value
                for key, value in dataclasses.asdict(self).items()}


def asset_version(era: str) -> str:
    """The ``?ver=`` of the plugin's assets on the page."""
    return _ASSET_VERSIONS[era]


def reads_request(era: str) -> bool:
    """Up to 1.8.90 the handler read ``$_REQUEST`` (so a GET with fields works)."""
    return era == "1.8.79"


def nonce_failure_is_json(era: str) -> bool:
    """Up to 1.8.90 a bad nonce is 200 JSON; from 1.8.91 ``check_admin_referer`` dies with 403."""
    return era == "1.8.79"


def sanitizes_message(era: str) -> bool:
    """Up to 1.8.95 ``message`` went through ``sanitize_text_field``."""
    return era in ("1.8.79", "1.8.91")


def endpoint_removed(era: str) -> bool:
    """2.x no longer registers the legacy chat actions."""
    return era == "2.x" or is_aipkit(era)


def pick_fault(
    config: EmulatorConfig, targets: tuple[str, ...], rng: random.Random
) -> tuple[str | None, dict[str, Any]]:
    """Decide the fault for one request matching ``targets`` (``("page",)``, ``("ajax", step)``).

    Returns ``(fault name or None, config changes to store back)``: a burst decrements
    ``fault_count`` and clears ``fault`` after its last request. The caller holds the lock that
    protects the config, so a burst of ``fault_count`` hits exactly N requests.
    """
    both = config.fault_target == "both" and ("ajax" in targets or "page" in targets)
    if config.fault_target not in targets and not both:
        return None, {}
    if config.fault:
        if config.fault_count > 0:
            left = config.fault_count - 1
            return config.fault, ({"fault_count": 0, "fault": None} if left == 0 else {"fault_count": left})
        return config.fault, {}  # no count: every matching request, until configure(fault=None)
    if config.fault_rate > 0.0 and config.fault_mix and rng.random() < config.fault_rate:
        return rng.choice(config.fault_mix), {}
    return None, {}

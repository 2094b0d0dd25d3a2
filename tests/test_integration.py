"""The client against the emulator over real sockets: every era, scenario and error shape."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from chatgpt4o import Client
from chatgpt4o import exceptions as e
from chatgpt4o.emulator import Emulator

Make = Callable[..., Emulator]
ERAS = ["1.8.79", "1.8.91", "1.8.96"]


@pytest.fixture
def make(wpaicg_emulator_factory: Make) -> Make:
    return wpaicg_emulator_factory


@pytest.fixture
def client_for() -> Iterator[Callable[..., Client]]:
    made: list[Client] = []

    def build(emu: Emulator, **kwargs: Any) -> Client:
        kwargs.setdefault("sleep", lambda s: None)
        kwargs.setdefault("timeout", 10)
        client = Client(emu.base_url, **kwargs)
        made.append(client)
        return client

    yield build
    for client in made:
        client.close()


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
@pytest.mark.parametrize("era", ERAS)
def test_ask_succeeds_in_every_era(make: Make, client_for: Callable[..., Client], era: str, stream: bool) -> None:
    emu = make(era=era, stream=stream)
    assert client_for(emu).ask("Hello there, what is 2+2?") == "echo: Hello there, what is 2+2?"


def test_a_warm_ask_is_one_request_on_a_kept_alive_connection(make: Make, client_for: Callable[..., Client]) -> None:
    emu = make()
    client = client_for(emu)
    client.ask("warm up")
    before = emu.stats
    for i in range(20):
        assert client.ask(f"q{i}") == f"echo: q{i}"
    after = emu.stats
    assert after["requests"] - before["requests"] == 20
    assert after["ajax_posts"] - before["ajax_posts"] == 20
    assert after["page_fetches"] == before["page_fetches"] == 1
    assert after["connections"] == before["connections"] == 1


@pytest.mark.parametrize("era", ERAS)
def test_nonce_rotation_between_asks(make: Make, client_for: Callable[..., Client], era: str) -> None:
    emu = make(era=era)
    client = client_for(emu)
    assert client.ask("one") == "echo: one"
    emu.rotate_nonce()
    assert client.ask("two") == "echo: two"
    assert emu.stats["page_fetches"] == 2
    assert emu.stats["stale_nonce"] == 1


def test_nonce_expiry_by_the_clock(make: Make, client_for: Callable[..., Client]) -> None:
    now = [1_000_001.0]  # tick = ceil(now / 5)
    emu = Emulator(era="1.8.96", nonce_life=10.0, clock=lambda: now[0]).start()
    try:
        client = client_for(emu)
        assert client.ask("before") == "echo: before"
        now[0] += 5.0  # one tick later: the previous tick's nonce still works
        assert client.ask("still") == "echo: still"
        assert emu.stats["page_fetches"] == 1
        now[0] += 5.0  # two ticks after the page was read: it has expired
        assert client.ask("after") == "echo: after"
        assert emu.stats["page_fetches"] == 2
    finally:
        emu.stop()


def test_rotation_under_32_concurrent_asks_refetches_the_page_once(make: Make, client_for: Callable[..., Client]) -> None:
    emu = make(latency=0.05)
    client = client_for(emu)
    client.ask("warm")
    emu.rotate_nonce()
    barrier = threading.Barrier(32)
    answers: dict[int, str] = {}
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        barrier.wait()
        try:
            answers[i] = client.ask(f"concurrent {i}")
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert answers == {i: f"echo: concurrent {i}" for i in range(32)}
    assert emu.stats["page_fetches"] == 2  # the first read and exactly one refresh


def test_rotate_every_n_requests(make: Make, client_for: Callable[..., Client]) -> None:
    emu = make(rotate_every=5)
    client = client_for(emu)
    for i in range(23):
        assert client.ask(f"r{i}") == f"echo: r{i}"
    stats = emu.stats
    assert stats["stale_nonce"] >= 3
    # Each rejected nonce costs exactly one page read, never more.
    assert stats["page_fetches"] == 1 + stats["stale_nonce"]


SCENARIOS: list[tuple[str, dict[str, Any], type[Exception]]] = [
    ("challenge", {"fault": "challenge"}, e.ChallengeError),
    ("challenge-on-page", {"fault": "challenge", "fault_target": "page"}, e.ChallengeError),
    ("waf-block", {"fault": "waf_block"}, e.ChallengeError),
    ("rate-limited", {"fault": "429", "retry_after": "0"}, e.RateLimitError),
    ("server-500", {"fault": "500"}, e.ServerError),
    ("bad-gateway", {"fault": "502"}, e.ServerError),
    ("unavailable", {"fault": "503", "retry_after": "0"}, e.ServerError),
    ("connection-reset", {"fault": "reset"}, e.APIConnectionError),
    ("truncated", {"fault": "truncated"}, e.APIConnectionError),
    ("non-json", {"fault": "non_json"}, e.MalformedResponseError),
    ("empty", {"fault": "empty"}, e.MalformedResponseError),
    ("json-array", {"fault": "json_array"}, e.MalformedResponseError),
    ("data-not-string", {"fault": "data_not_string"}, e.MalformedResponseError),
    ("no-data", {"fault": "no_data"}, e.MalformedResponseError),
    ("token-limit", {"token_limit": True}, e.TokenLimitError),
    ("banned-ip", {"banned_ips": ("127.0.0.1",)}, e.IPBannedError),
    ("prohibited-word", {"banned_words": ("forbidden",)}, e.MessageFlaggedError),
    ("no-api-key", {"api_key": False}, e.SiteConfigurationError),
    ("upstream-error", {"upstream_error": "The model is overloaded."}, e.UpstreamError),
    ("endpoint-gone-2x", {"era": "2.x"}, e.EndpointGoneError),
    ("endpoint-gone", {"fault": "endpoint_gone"}, e.EndpointGoneError),
    ("stale-nonce-always", {"fault": "stale_nonce"}, e.NonceExpiredError),
    ("stale-nonce-always-1.8.79", {"fault": "stale_nonce", "era": "1.8.79"}, e.NonceExpiredError),
    ("no-chat-box", {"chatbox": False}, e.TokensNotFoundError),
    ("page-server-error", {"fault": "503", "fault_target": "page", "retry_after": "0"}, e.ServerError),
]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
@pytest.mark.parametrize(("config", "error"), [s[1:] for s in SCENARIOS], ids=[s[0] for s in SCENARIOS])
def test_every_failure_maps_to_one_typed_error(
    make: Make, client_for: Callable[..., Client], config: dict[str, Any], error: type[Exception], stream: bool
) -> None:
    emu = make(stream=stream, **config)
    client = client_for(emu, max_retries=1)
    with pytest.raises(error) as info:
        client.ask("this message is forbidden")
    assert isinstance(info.value, e.Chatgpt4oError)
    assert emu.current_nonce not in str(info.value)


@pytest.mark.parametrize(
    ("fault", "count"),
    [("429", 2), ("500", 2), ("502", 2), ("503", 2), ("408", 2), ("reset", 2), ("truncated", 2), ("stale_nonce", 1)],
)
def test_transient_bursts_are_survived(make: Make, client_for: Callable[..., Client], fault: str, count: int) -> None:
    emu = make(fault=fault, fault_count=count, retry_after="0")
    client = client_for(emu, max_retries=2)
    assert client.ask("survive") == "echo: survive"


def test_php_notice_before_the_json_is_read(make: Make, client_for: Callable[..., Client]) -> None:
    emu = make(fault="php_notice")
    assert client_for(emu).ask("notice") == "echo: notice"


def test_a_recovering_site_after_an_error(make: Make, client_for: Callable[..., Client]) -> None:
    emu = make(fault="challenge")
    client = client_for(emu)
    with pytest.raises(e.ChallengeError):
        client.ask("x")
    emu.configure(fault=None)
    assert client.ask("y") == "echo: y"


def test_messages_are_laid_out_as_one_prompt(make: Make, client_for: Callable[..., Client]) -> None:
    emu = make()
    answer = client_for(emu).ask([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])
    assert answer == "echo: System: Be brief.\nUser: Hi\nAssistant:"
    form = emu.requests[-1]["form"]
    assert form["action"] == "wpaicg_chat_shortcode_message"
    assert set(form) >= {
        "_wpnonce", "post_id", "url", "action", "message", "bot_id", "chatbot_identity",
        "wpaicg_chat_client_id", "wpaicg_chat_history", "chat_id",
    }


def test_a_third_party_client_works_against_the_emulator_unchanged(make: Make) -> None:
    """A client written for chatgpt4o.one: GET /, two regexes, one form post."""
    emu = make()
    session = requests.Session()
    html = session.get(f"{emu.base_url}/", timeout=5).text
    post_id = re.search(r'data-post-id="([0-9]+)"', html)
    nonce = re.search(r'data-nonce="(.*?)"', html)
    assert post_id and nonce
    data = {
        "_wpnonce": nonce.group(1), "post_id": post_id.group(1), "url": emu.base_url,
        "action": "wpaicg_chat_shortcode_message", "message": "Hi from elsewhere", "bot_id": "0",
    }
    response = session.post(f"{emu.base_url}/wp-admin/admin-ajax.php", data=data, timeout=5)
    assert response.json()["data"] == "echo: Hi from elsewhere"
    session.close()


def test_https_with_the_emulators_certificate(make: Make, client_for: Callable[..., Client]) -> None:
    emu = make(tls=True)
    assert emu.base_url.startswith("https://")
    client = client_for(emu, verify=emu.ca_file)
    assert client.ask("secure") == "echo: secure"
    assert client.ask("again") == "echo: again"
    assert emu.stats["connections"] == 1  # one TLS handshake, then reuse


def test_self_signed_certificate_is_refused_by_default(make: Make, client_for: Callable[..., Client]) -> None:
    emu = make(tls=True)
    with pytest.raises(e.TLSError, match="verify="):
        client_for(emu).ask("x")


@pytest.mark.parametrize("status_path", ["/missing/", "/no/such/page/"])
def test_a_page_that_answers_404_is_a_page_error_naming_base_url(
    make: Make, client_for: Callable[..., Client], status_path: str,
) -> None:
    emu = make(era="1.8.96")
    client = Client(emu.base_url + status_path, max_retries=2, sleep=lambda s: None, timeout=10)
    with client, pytest.raises(e.PageError, match=r"answered HTTP 404 — check base_url") as info:
        client.ask("hi")
    assert "chat endpoint" not in str(info.value) and "try later" not in str(info.value)
    assert emu.stats["ajax_posts"] == 0
    assert emu.stats["requests"] == 1  # not retried: a wrong URL stays wrong


def test_a_plain_permalink_keeps_its_query_for_the_page_only(make: Make) -> None:
    """WordPress without pretty permalinks: the chat page is ``/?page_id=42``."""
    emu = make(era="1.8.96")
    with Client(emu.base_url + "/?page_id=42#chat", max_retries=0, timeout=10) as client:
        assert client.base_url == emu.base_url + "/?page_id=42"  # the fragment is dropped
        assert client.ask("hi") == "echo: hi"
    post = emu.requests[-1]  # (the emulator logs AJAX requests only; the page GET: test_client.py)
    assert (post["method"], post["path"]) == ("POST", "/wp-admin/admin-ajax.php")
    assert "page_id" not in post["form"]
    assert post["headers"]["referer"] == emu.base_url + "/?page_id=42"


def test_the_derived_ajax_url_never_carries_the_pages_query() -> None:
    from chatgpt4o.protocols.wpaicg import parse_page

    html = '<div class="wpaicg-chat-shortcode" data-nonce="0a1b2c3d4e" data-post-id="42"></div>'
    tokens = parse_page(html, "https://example.org/?page_id=42")
    assert tokens.ajax_url == "https://example.org/wp-admin/admin-ajax.php"

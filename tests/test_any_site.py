"""Any site running the wpaicg shortcode: other ids, a custom bot, a sub-path page, a moved
admin-ajax, decoy chat boxes; ``Client.inspect()``; pages without a chat box; plugin 2.x."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from chatgpt4o import Client, SiteInfo
from chatgpt4o import exceptions as e
from chatgpt4o.emulator import Emulator

from .conftest import STREAMS

pytestmark = pytest.mark.integration

EXTRAS = [pytest.param(False, id="plain-page"), pytest.param(True, id="decoy-boxes")]
WAIT = 10.0
AJAX_PATH = "/blog/wp-admin/admin-ajax.php"
INFO_FIELDS = {"page_url", "ajax_url", "post_id", "bot_id", "identity", "has_nonce", "plugin_version", "era",
               "stream", "memory_limit", "sanitizes_messages", "fetch_seconds", "protocol", "bots"}



@pytest.fixture(params=EXTRAS)
def extras(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.fixture
def site(wpaicg_emulator_factory: Callable[..., Emulator], era: str, stream: bool, extras: bool) -> Emulator:
    """A site unlike chatgpt4o.one: custom bot 7 on post 4242 at /chat/, admin-ajax under /blog/."""
    return wpaicg_emulator_factory(
        era=era, stream=stream, extra_chatboxes=extras, post_id=4242, bot_id=7, page_path="/chat/",
        ajax_path=AJAX_PATH, memory_limit=7, page_size=20_000,
        reply_template="{identity}|{client_id}|{message}",
    )


@pytest.fixture
def client(site: Emulator) -> Iterator[Client]:
    with Client(base_url=site.base_url + "/chat/", max_retries=0, timeout=WAIT) as c:
        yield c


def test_a_custom_bot_on_a_sub_path_page_is_asked_correctly(site: Emulator, client: Client, era: str) -> None:
    answer = client.ask("hello there")
    identity, client_id, message = answer.split("|")
    assert identity == "custom_bot_7"  # what the server read: the bot's identity was sent
    assert message == "hello there"
    assert "".join(client.stream("and again")).startswith(f"custom_bot_7|{client_id}|")

    request = site.requests[-1]
    assert request["path"] == AJAX_PATH  # wpaicgParams.ajax_url, not /wp-admin/admin-ajax.php
    assert request["method"] == "POST"
    form = request["form"]
    assert form["post_id"] == "4242"
    assert form["bot_id"] == "7"
    assert form["chatbot_identity"] == "custom_bot_7"
    assert form["url"] == site.base_url + "/chat"  # the box's data-url
    assert form["wpaicg_chat_client_id"] == client_id
    assert request["headers"].get("referer") == site.base_url + "/chat/"
    assert all(r["path"] == AJAX_PATH for r in site.requests)


def test_inspect_reports_what_the_page_says(site: Emulator, client: Client, era: str, stream: bool) -> None:
    info = client.inspect()
    assert isinstance(info, SiteInfo)
    assert info.era == era
    assert info.plugin_version == era
    assert info.stream is stream
    assert info.memory_limit == 7
    assert info.post_id == "4242"
    assert info.bot_id == "7"
    assert info.identity == "custom_bot_7"
    assert info.has_nonce is True
    assert info.sanitizes_messages is (era != "1.8.96")
    assert info.page_url == site.base_url + "/chat/"
    assert info.ajax_url == site.base_url + AJAX_PATH
    assert info.fetch_seconds >= 0
    assert set(info.as_dict()) == INFO_FIELDS
    assert info.protocol == "wpaicg"
    assert [(bot.id, bot.mode) for bot in info.bots] == [(7, "inline")]  # 1.x: the page's one bot
    json.dumps(info.as_dict())  # JSON-ready


def test_inspect_never_exposes_the_nonce(site: Emulator, client: Client) -> None:
    info = client.inspect()
    nonce = site.current_nonce
    assert nonce not in repr(info)
    assert nonce not in str(info)
    assert nonce not in json.dumps(info.as_dict())
    assert all(nonce not in str(getattr(info, name)) for name in INFO_FIELDS)
    assert "nonce=" not in repr(info).replace("has_nonce=", "")


def test_inspect_reads_the_page_afresh(site: Emulator, client: Client) -> None:
    client.inspect()
    site.configure(memory_limit=3)
    assert client.inspect().memory_limit == 3
    assert site.stats["page_fetches"] == 2


@pytest.mark.parametrize("bot_id", [0, 5], ids=["shortcode", "custom-bot"])
def test_the_shortcode_box_wins_over_the_widget_and_decoys(wpaicg_emulator_factory: Callable[..., Emulator], bot_id: int) -> None:
    """With the floating widget and other plugins' data-nonce elements on the page, the client
    still talks as the shortcode box (identity shortcode / custom_bot_<id>)."""
    emu = wpaicg_emulator_factory(extra_chatboxes=True, bot_id=bot_id, post_id=99, page_size=20_000,
                                  reply_template="{identity}")
    expected = "shortcode" if bot_id == 0 else f"custom_bot_{bot_id}"
    with Client(emu.base_url, max_retries=0, timeout=WAIT) as client:
        assert client.inspect().identity == expected
        assert client.ask("hi") == expected
        assert emu.requests[-1]["form"]["post_id"] == "99"
        assert emu.requests[-1]["form"]["_wpnonce"] == emu.current_nonce


@pytest.mark.parametrize("extras", EXTRAS)
@pytest.mark.parametrize("call", ["inspect", "ask"])
def test_a_page_without_a_chat_box_names_what_is_missing(
    wpaicg_emulator_factory: Callable[..., Emulator], extras: bool, call: str,
) -> None:
    # With decoys, other plugins' data-nonce/data-post-id elements are on the page: not a chat box.
    emu = wpaicg_emulator_factory(chatbox=False, extra_chatboxes=extras, page_size=20_000)
    with Client(emu.base_url, max_retries=0, timeout=WAIT) as client:
        action: Callable[[], Any] = client.inspect if call == "inspect" else (lambda: client.ask("hi"))
        with pytest.raises(e.TokensNotFoundError) as info:
            action()
    # The page still prints wpaicgParams (its search_nonce is the chat nonce), so only the
    # post id is missing, and no decoy's data-post-id stands in for it.
    assert info.value.missing == ("data-post-id",)
    assert "no data-post-id attribute found on any wpaicg chat box" in str(info.value)
    assert emu.base_url in str(info.value)
    assert isinstance(info.value, RuntimeError)
    assert emu.stats["ajax_posts"] == 0  # nothing was posted with a wrong token


@pytest.mark.parametrize("stream", STREAMS)
def test_plugin_2x_is_reported_and_its_endpoint_is_gone(wpaicg_emulator_factory: Callable[..., Emulator], stream: bool) -> None:
    emu = wpaicg_emulator_factory(era="2.x", stream=stream, page_size=20_000)
    with Client(emu.base_url, max_retries=2, timeout=WAIT, sleep=lambda _s: None) as client:
        info = client.inspect()
        assert info.era == "2.x"
        assert info.plugin_version == "2.3.2"
        assert info.has_nonce is True  # the cached page still looks usable ...
        with pytest.raises(e.EndpointGoneError) as gone:
            client.ask("hi")  # ... but the action is gone
        assert "2.x" in str(gone.value)
        with pytest.raises(e.EndpointGoneError):
            list(client.stream("hi"))
    assert emu.stats["status_counts"][400] == 2  # no retries: the endpoint will not come back


@pytest.mark.parametrize("call", ["inspect", "ask"])
def test_a_page_that_is_no_chat_page_at_all_names_both_tokens(call: str) -> None:
    """No chat box and no wpaicgParams: both tokens are named as missing."""
    body = b"<html><body><div data-nonce='0123456789' data-post-id='3' class='wpulike'></div>Blog</body></html>"

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=UTF-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        with Client(f"http://127.0.0.1:{server.server_address[1]}", max_retries=0, timeout=WAIT) as client:
            action: Callable[[], Any] = client.inspect if call == "inspect" else (lambda: client.ask("hi"))
            with pytest.raises(e.TokensNotFoundError) as info:
                action()
    finally:
        server.shutdown()
        server.server_close()
    assert set(info.value.missing) == {"data-post-id", "data-nonce"}
    assert "data-post-id" in str(info.value) and "data-nonce" in str(info.value)

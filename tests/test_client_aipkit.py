"""Request shapes and answer mapping of the 2.x client, with ``responses`` (no sockets)."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlsplit

import pytest
import responses

import chatgpt4o.exceptions as e
from chatgpt4o import Client

BASE = "https://chat.example"
AJAX = BASE + "/wp-admin/admin-ajax.php"
KEY = "aipkit_sse_" + "A" * 32
PREAMBLE = ":" + " " * 4095 + "\n\n"


def _page(nonce: str = "3f9a1c2b7d", post_id: int = 45, version: str = "2.4.71", bots: tuple[int, ...] = (5,)) -> str:
    blocks = []
    for bot in bots:
        config = {"botId": bot, "ajaxUrl": AJAX, "nonce": nonce, "postId": post_id, "headerName": f"Bot {bot}",
                  "provider": "OpenAI", "popupEnabled": False}
        escaped = json.dumps(config).replace('"', "&quot;")
        blocks.append(f"<div class=\"aipkit_chat_container\" id=\"aipkit_chat_container_{bot}\" "
                      f"data-bot-id=\"{bot}\" data-config='{escaped}'></div>")
    return ("<html><head><script src='/wp-content/plugins/gpt3-ai-content-generator/dist/js/"
            f"public-main.bundle.js?ver={version}'></script></head><body>{''.join(blocks)}</body></html>")


def _text(body: object) -> str:
    return body.decode() if isinstance(body, bytes) else str(body or "")


def _sse(*records: str) -> str:
    return PREAMBLE + "".join(records)


OK_STREAM = _sse('event: message_start\ndata: {"message_id":"m1"}\n\n', 'data: {"delta":"Hi"}\n\n',
                 'data: {"delta":" there"}\n\n', 'event: done\ndata: {"finished":true}\n\n')


def _cache_ok() -> dict[str, object]:
    return {"json": {"success": True, "data": {"cache_key": KEY}}}


@pytest.fixture
def client() -> Client:
    return Client(BASE, max_retries=1, sleep=lambda _s: None)


def _add_turn(stream_body: str = OK_STREAM) -> None:
    responses.add(responses.POST, AJAX, **_cache_ok())  # type: ignore[arg-type]
    responses.add(responses.GET, AJAX, body=stream_body, content_type="text/event-stream; charset=utf-8")


@responses.activate
def test_request_shapes(client: Client) -> None:
    responses.add(responses.GET, BASE + "/", body=_page())
    _add_turn()
    assert client.ask("Hello") == "Hi there"
    _page_call, cache, stream = responses.calls
    fields = parse_qsl(_text(cache.request.body))
    assert [name for name, _ in fields] == ["action", "_ajax_nonce", "bot_id", "message", "user_client_message_id"]
    assert dict(fields)["_ajax_nonce"] == "3f9a1c2b7d" and dict(fields)["message"] == "Hello"
    query = parse_qsl(urlsplit(stream.request.url).query)
    assert [name for name, _ in query] == ["action", "cache_key", "bot_id", "session_id", "conversation_uuid",
                                           "post_id", "_ts", "_ajax_nonce"]
    assert dict(query)["cache_key"] == KEY and dict(query)["session_id"] == client.session_id
    assert dict(query)["post_id"] == "45"
    for call in (cache, stream):
        assert "Origin" not in call.request.headers
        assert call.request.headers["Referer"] == BASE + "/"
    assert stream.request.headers["Accept"] == "text/event-stream"


@responses.activate
def test_post_id_zero_is_left_out(client: Client) -> None:
    responses.add(responses.GET, BASE + "/", body=_page(post_id=0))
    _add_turn()
    client.ask("Hello")
    assert "post_id" not in dict(parse_qsl(urlsplit(responses.calls[2].request.url).query))


@responses.activate
def test_stale_nonce_on_the_cache_step_costs_one_refresh_then_both_steps(client: Client) -> None:
    responses.add(responses.GET, BASE + "/", body=_page())
    responses.add(responses.POST, AJAX, status=403, json={"success": False, "data": {
        "message": "Your session has expired or the request is invalid.", "code": "nonce_failure_cache_sse"}})
    responses.add(responses.POST, AJAX, json={"success": True, "data": {"nonce": "8c21e0d4aa"}})
    _add_turn()
    assert client.ask("Hello") == "Hi there"
    actions = [dict(parse_qsl(_text(c.request.body) or urlsplit(c.request.url).query)).get("action") for c in responses.calls]
    assert actions == [None, "aipkit_cache_sse_message", "aipkit_get_frontend_chat_nonce",
                       "aipkit_cache_sse_message", "aipkit_frontend_chat_stream"]
    assert dict(parse_qsl(_text(responses.calls[2].request.body))) == {"action": "aipkit_get_frontend_chat_nonce",
                                                               "bot_id": "5"}
    assert dict(parse_qsl(_text(responses.calls[3].request.body)))["_ajax_nonce"] == "8c21e0d4aa"


@responses.activate
def test_a_nonce_still_stale_after_the_refresh_is_nonce_expired(client: Client) -> None:
    responses.add(responses.GET, BASE + "/", body=_page())
    stale = {"success": False, "data": {"message": "expired", "code": "nonce_failure_cache_sse"}}
    responses.add(responses.POST, AJAX, status=403, json=stale)
    responses.add(responses.POST, AJAX, json={"success": True, "data": {"nonce": "8c21e0d4aa"}})
    responses.add(responses.POST, AJAX, status=403, json=stale)
    with pytest.raises(e.NonceExpiredError) as raised:
        client.ask("Hello")
    assert "3f9a1c2b7d" not in str(raised.value) and "8c21e0d4aa" not in str(raised.value)


@responses.activate
def test_before_2_3_41_the_page_is_read_again_past_caches(client: Client) -> None:
    responses.add(responses.GET, BASE + "/", body=_page(version="2.3.40"))
    responses.add(responses.GET, AJAX, body=_sse('event: error\ndata: {"error":"Security check failed. Please '
                                                 'refresh the page and try again."}\n\n',
                                                 'event: done\ndata: {"finished":true}\n\n'),
                  content_type="text/event-stream")
    responses.add(responses.POST, AJAX, **_cache_ok())  # type: ignore[arg-type]
    responses.add(responses.POST, AJAX, **_cache_ok())  # type: ignore[arg-type]
    responses.add(responses.GET, AJAX, body=OK_STREAM, content_type="text/event-stream")
    assert client.ask("Hello") == "Hi there"
    pages = [c.request.url for c in responses.calls if c.request.url.startswith(BASE + "/?") or
             c.request.url == BASE + "/"]
    assert len(pages) == 2 and "aipkit_nocache=" in pages[1]


@pytest.mark.parametrize(("status", "body", "error"), [
    pytest.param(403, {"success": False, "data": {"message": "Embed feature is not available.",
                                                  "code": "embed_not_available"}},
                 e.SiteConfigurationError, id="embed_not_available"),
    pytest.param(403, {"success": False, "data": {"message": "x", "code": "cors_denied"}},
                 e.SiteConfigurationError, id="cors_denied"),
    pytest.param(400, "0", e.EndpointGoneError, id="action-gone"),
    pytest.param(503, "<html>maintenance</html>", e.ServerError, id="503"),
])
def test_cache_step_errors(client: Client, status: int, body: object, error: type[Exception]) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.GET, BASE + "/", body=_page())
        for _ in range(2):
            if isinstance(body, dict):
                mock.add(responses.POST, AJAX, status=status, json=body)
            else:
                mock.add(responses.POST, AJAX, status=status, body=str(body))
        with pytest.raises(error) as raised:
            client.ask("Hello")
        posts = sum(1 for call in mock.calls if call.request.method == "POST")
    assert posts == (2 if status == 503 else 1)  # only the 5xx is retried (max_retries=1)
    if status == 403:
        assert "Origin" in str(raised.value)  # the hint explains the Origin check


@pytest.mark.parametrize(("records", "error"), [
    pytest.param(['event: error\ndata: {"error":"Invalid chatbot specified."}\n\n'], e.BotNotFoundError, id="bot"),
    pytest.param([('event: error\ndata: {"error":"You have reached your quota for this period.","quota_notice":'
                   '{"message":"Sign up","actions":[{"label":"Join","url":"https://x.test","variant":"primary"}]}}\n\n')],
                 e.TokenLimitError, id="quota"),
    pytest.param(['event: message_start\ndata: {"message_id":"m"}\n\n', 'data: {"delta":"par"}\n\n'],
                 e.StreamTruncatedError, id="no-done"),
    pytest.param(['event: message_start\ndata: {}\n\n', 'event: error\ndata: {"error":"API Error: boom"}\n\n'],
                 e.UpstreamError, id="api-error"),
])
def test_stream_step_errors(client: Client, records: list[str], error: type[Exception]) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.GET, BASE + "/", body=_page(bots=(5, 6)))
        for _ in range(3):
            mock.add(responses.POST, AJAX, **_cache_ok())  # type: ignore[arg-type]
            mock.add(responses.GET, AJAX, body=_sse(*records), content_type="text/event-stream")
        with pytest.raises(error) as raised:
            client.ask("Hello")
    if error is e.BotNotFoundError:
        assert raised.value.bot_ids == (5, 6)  # type: ignore[attr-defined]
    if error is e.TokenLimitError:
        assert raised.value.actions == ({"label": "Join", "url": "https://x.test", "variant": "primary"},)  # type: ignore[attr-defined]


@responses.activate
def test_several_messages_warnings_and_side_events(client: Client) -> None:
    responses.add(responses.GET, BASE + "/", body=_page())
    _add_turn(_sse('event: message_start\ndata: {"message_id":"a"}\n\n', 'data: {"delta":"Form sent."}\n\n',
                   'event: status\ndata: {"stage":"thinking"}\n\n', 'event: message_start\ndata: {"message_id":"b"}\n\n',
                   'data: {"delta":"Answer"}\n\n', 'event: citations\ndata: [{"url":"https://x.test"}]\n\n',
                   'event: openai_response_id\ndata: {"id":"resp_1"}\n\n',
                   'event: warning\ndata: {"error":"Web search failed"}\n\n',
                   'event: done\ndata: {"finished":true}\n\n'))
    assert client.ask("Hello") == "Form sent.\n\nAnswer\n\n*Web search failed*"

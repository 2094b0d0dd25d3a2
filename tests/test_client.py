"""Client behaviour with `responses`: request shapes, tokens, retries, errors."""

from __future__ import annotations

import json
import logging
import pathlib
import pickle
import shutil
import threading
from urllib.parse import parse_qsl

import pytest
import requests
import responses

from chatgpt4o import Client
from chatgpt4o import exceptions as e

BASE = "https://chat.example"
AJAX = BASE + "/wp-admin/admin-ajax.php"
NONCE = "abc123def0"


def page(nonce: str = NONCE, post_id: str = "11", extra: str = "") -> str:
    return (
        "<html><head><link href='/wp-content/plugins/gpt3-ai-content-generator/public/css/x.css?ver=1.8.96'></head><body>"
        f'<div class="wpaicg-chat-shortcode" data-nonce="{nonce}" data-post-id="{post_id}" data-url="{BASE}" '
        f'data-bot-id="0" data-type="shortcode" data-openai_stream_nav="0" data-memory-limit = "100" {extra}></div>'
        "</body></html>"
    )


def ok(data: str = "pong") -> dict[str, object]:
    return {"status": "success", "msg": "Something went wrong", "greeting_message": "g", "data": data, "log": False}


class FakeSleep:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sleep() -> FakeSleep:
    return FakeSleep()


@pytest.fixture
def client(sleep: FakeSleep):  # type: ignore[no-untyped-def]
    with Client(BASE, sleep=sleep, timeout=30) as c:
        yield c


def form_of(request: requests.PreparedRequest) -> dict[str, str]:
    body = request.body
    text = body.decode("ascii") if isinstance(body, bytes) else str(body)
    return dict(parse_qsl(text, keep_blank_values=True))


def posts(rsps: responses.RequestsMock) -> list[dict[str, str]]:
    return [form_of(c.request) for c in rsps.calls if c.request.method == "POST"]


def gets(rsps: responses.RequestsMock) -> int:
    return sum(1 for c in rsps.calls if c.request.method == "GET")


@responses.activate
def test_ask_reads_the_page_and_posts_every_field(client: Client) -> None:
    responses.get(BASE + "/", body=page())
    responses.post(AJAX, json=ok("Bonjour"))
    assert client.ask("Say hello") == "Bonjour"
    post = responses.calls[1].request
    form = form_of(post)
    assert form["_wpnonce"] == NONCE and form["post_id"] == "11" and form["url"] == BASE
    assert form["action"] == "wpaicg_chat_shortcode_message"
    assert form["message"] == "Say hello"
    assert form["bot_id"] == "0" and form["chatbot_identity"] == "shortcode"
    assert len(form["wpaicg_chat_client_id"]) == 10 and form["wpaicg_chat_client_id"].isalnum()
    assert json.loads(form["wpaicg_chat_history"]) == [{"id": "", "text": "Human: Say hello"}]
    assert form["chat_id"].isdigit() and 1 <= int(form["chat_id"]) <= 100000
    assert post.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    assert post.headers["Referer"] == BASE + "/"
    assert post.headers["Origin"] == BASE
    assert "Mozilla" in post.headers["User-Agent"]


@responses.activate
def test_messages_are_formatted_into_one_prompt(client: Client) -> None:
    responses.get(BASE + "/", body=page())
    responses.post(AJAX, json=ok())
    client.ask([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}], model="gpt-4o-mini")
    assert posts(responses.mock)[0]["message"] == "System: Be brief.\nUser: Hi\nAssistant:"


@responses.activate
def test_tokens_are_fetched_once_and_the_client_id_is_stable(client: Client) -> None:
    responses.get(BASE + "/", body=page())
    responses.post(AJAX, json=ok())
    for _ in range(3):
        client.ask("x")
    assert gets(responses.mock) == 1
    assert len({p["wpaicg_chat_client_id"] for p in posts(responses.mock)}) == 1


@pytest.mark.parametrize(
    "stale",
    [
        {"status": 403, "body": "The link you followed has expired.", "content_type": "text/html"},
        {"status": 200, "json": {"status": "error", "msg": "Nonce verification failed"}},
    ],
    ids=["403-html", "200-json"],
)
@responses.activate
def test_stale_nonce_refreshes_the_page_once_and_retries(client: Client, sleep: FakeSleep, stale: dict) -> None:  # type: ignore[type-arg]
    responses.get(BASE + "/", body=page("01d0000000"))
    responses.get(BASE + "/", body=page("9e90000000"))
    responses.post(AJAX, **stale)
    responses.post(AJAX, json=ok("fresh"))
    assert client.ask("x") == "fresh"
    assert [p["_wpnonce"] for p in posts(responses.mock)] == ["01d0000000", "9e90000000"]
    assert gets(responses.mock) == 2
    assert sleep.calls == [0.0]


@responses.activate
def test_nonce_still_stale_after_a_refresh_raises(client: Client) -> None:
    responses.get(BASE + "/", body=page())
    responses.post(AJAX, status=403, body="The link you followed has expired.", content_type="text/html")
    with pytest.raises(e.NonceExpiredError):
        client.ask("x")
    assert len(posts(responses.mock)) == 2
    assert gets(responses.mock) == 2


@responses.activate
def test_transient_errors_retry_with_backoff_then_succeed(client: Client, sleep: FakeSleep) -> None:
    responses.get(BASE + "/", body=page())
    responses.post(AJAX, status=503, body="busy")
    responses.post(AJAX, body=requests.ConnectionError("reset"))
    responses.post(AJAX, json=ok("finally"))
    assert client.ask("x") == "finally"
    assert len(sleep.calls) == 2
    assert 0 <= sleep.calls[0] <= 0.5 and 0 <= sleep.calls[1] <= 1.0


@responses.activate
def test_retry_after_is_honoured_up_to_a_cap(client: Client, sleep: FakeSleep) -> None:
    responses.get(BASE + "/", body=page())
    responses.post(AJAX, status=429, headers={"Retry-After": "7"})
    responses.post(AJAX, status=503, headers={"Retry-After": "3600"})
    responses.post(AJAX, json=ok())
    with Client(BASE, sleep=sleep, timeout=100) as c:
        c.ask("x")
    assert sleep.calls == [7.0, 30.0]


@responses.activate
def test_retry_after_past_the_deadline_gives_up_at_once(sleep: FakeSleep) -> None:
    responses.get(BASE + "/", body=page())
    responses.post(AJAX, status=429, headers={"Retry-After": "20"})
    with Client(BASE, sleep=sleep, timeout=5) as c, pytest.raises(e.RateLimitError) as info:
        c.ask("x")
    assert info.value.retry_after == 20.0
    assert sleep.calls == []


@responses.activate
def test_retries_are_bounded_by_max_retries(sleep: FakeSleep) -> None:
    responses.get(BASE + "/", body=page())
    responses.post(AJAX, status=502, body="bad gateway")
    with Client(BASE, sleep=sleep, max_retries=3) as c, pytest.raises(e.ServerError) as info:
        c.ask("x")
    assert info.value.status_code == 502
    assert len(posts(responses.mock)) == 4
    assert len(sleep.calls) == 3


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"status": 403, "body": "<title>Just a moment...</title>", "headers": {"cf-mitigated": "challenge"}}, e.ChallengeError),
        ({"status": 400, "body": "0"}, e.EndpointGoneError),
        ({"status": 404, "body": "nope"}, e.HTTPStatusError),
        ({"json": {"status": "error", "msg": "You are not allowed to access this feature."}}, e.IPBannedError),
        ({"json": {"msg": "You have reached your token limit.", "tokenLimitReached": True}}, e.TokenLimitError),
        ({"json": {"status": "success"}}, e.MalformedResponseError),
    ],
    ids=["challenge", "endpoint-gone", "404", "banned", "token-limit", "no-data"],
)
@responses.activate
def test_non_transient_failures_do_not_retry(client: Client, sleep: FakeSleep, kwargs: dict, error: type) -> None:  # type: ignore[type-arg]
    responses.get(BASE + "/", body=page())
    responses.post(AJAX, **kwargs)
    with pytest.raises(error):
        client.ask("x")
    assert len(posts(responses.mock)) == 1
    assert sleep.calls == []


@responses.activate
def test_challenge_on_the_page_is_typed(client: Client) -> None:
    responses.get(BASE + "/", status=403, body="<title>Just a moment...</title>", headers={"cf-mitigated": "challenge"})
    with pytest.raises(e.ChallengeError):
        client.ask("x")


@responses.activate
def test_page_without_tokens_raises_runtime_error(client: Client) -> None:
    responses.get(BASE + "/", body="<html><body>blog</body></html>")
    with pytest.raises(e.TokensNotFoundError, match="data-post-id or data-nonce") as info:
        client.ask("x")
    assert isinstance(info.value, RuntimeError)
    assert not posts(responses.mock)


@responses.activate
def test_page_redirect_to_another_host_is_refused(client: Client) -> None:
    responses.get(BASE + "/", status=302, headers={"Location": "https://evil.example/"})
    with pytest.raises(e.PageError, match="another site"):
        client.ask("x")


@responses.activate
def test_page_redirect_on_the_same_site_is_followed(client: Client) -> None:
    responses.get(BASE + "/", status=301, headers={"Location": "https://www.chat.example/"})
    responses.get("https://www.chat.example/", body=page())
    responses.post("https://www.chat.example/wp-admin/admin-ajax.php", json=ok("www"))
    assert client.ask("x") == "www"


@responses.activate
def test_ajax_url_on_another_host_is_not_used(client: Client) -> None:
    html = page() + '<script>var wpaicgParams = {"ajax_url":"https:\\/\\/evil.example\\/steal","search_nonce":"x"};</script>'
    responses.get(BASE + "/", body=html)
    responses.post(AJAX, json=ok("safe"))
    assert client.ask("x") == "safe"


@responses.activate
def test_ajax_url_from_wpaicg_params_on_the_same_host(client: Client) -> None:
    html = page() + f'<script>var wpaicgParams = {{"ajax_url":"{BASE}/blog/wp-admin/admin-ajax.php"}};</script>'
    responses.get(BASE + "/", body=html)
    responses.post(BASE + "/blog/wp-admin/admin-ajax.php", json=ok("sub"))
    assert client.ask("x") == "sub"


@responses.activate
def test_oversized_page_is_refused(client: Client) -> None:
    responses.get(BASE + "/", body=b"x" * (9 * 1024 * 1024))
    with pytest.raises(e.ResponseTooLargeError):
        client.ask("x")


BAD_INPUT = [
    ("empty", [], e.InvalidMessagesError),
    ("role", [{"role": "robot", "content": "x"}], e.InvalidMessagesError),
    ("content", [{"role": "user", "content": 5}], e.MessageTypeError),
    ("type", 5, e.MessageTypeError),
]


@pytest.mark.parametrize(("messages", "error"), [b[1:] for b in BAD_INPUT], ids=[b[0] for b in BAD_INPUT])
@responses.activate
def test_bad_input_is_refused_before_any_io(client: Client, messages: object, error: type) -> None:
    with pytest.raises(error):
        client.ask(messages)  # type: ignore[arg-type]
    with pytest.raises(error):
        client.stream(messages)  # type: ignore[arg-type]
    assert len(responses.calls) == 0


@responses.activate
def test_unknown_model_and_keywords_are_refused_before_io(client: Client) -> None:
    with pytest.raises(e.UnknownModelError):
        client.ask("x", model="gpt-99")
    with pytest.raises(TypeError, match="temperature"):
        client.ask("x", temperature=0.2)  # type: ignore[call-arg]
    with pytest.raises(e.InvalidConfigError):
        client.ask("x", timeout=-1)
    assert len(responses.calls) == 0


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"base_url": "file:///etc/passwd"}, e.InvalidConfigError),
        ({"base_url": "ftp://chat.example"}, e.InvalidConfigError),
        ({"base_url": "chat.example"}, e.InvalidConfigError),
        ({"base_url": "https://"}, e.InvalidConfigError),
        ({"base_url": "https://exa mple.org"}, e.InvalidConfigError),
        ({"base_url": "https://chat.example:99999"}, e.InvalidConfigError),
        ({"base_url": 42}, e.MessageTypeError),
        ({"timeout": 0}, e.InvalidConfigError),
        ({"timeout": -3}, e.InvalidConfigError),
        ({"timeout": float("nan")}, e.InvalidConfigError),
        ({"timeout": float("inf")}, e.InvalidConfigError),
        ({"timeout": "10"}, e.MessageTypeError),
        ({"max_retries": -1}, e.InvalidConfigError),
        ({"max_retries": 1.5}, e.MessageTypeError),
        ({"proxy": "not a proxy"}, e.InvalidConfigError),
        ({"proxy": "gopher://p:1"}, e.InvalidConfigError),
        ({"cookies": "a=b"}, e.MessageTypeError),
        ({"headers": ["x"]}, e.MessageTypeError),
        ({"verify": 1.0}, e.MessageTypeError),
        ({"session": object()}, e.MessageTypeError),
        ({"max_concurrency": 0}, e.InvalidConfigError),
    ],
    ids=lambda v: repr(v) if not isinstance(v, type) else v.__name__,
)
@responses.activate
def test_bad_configuration_is_refused_at_construction(kwargs: dict, error: type) -> None:  # type: ignore[type-arg]
    base = kwargs.pop("base_url", BASE)
    with pytest.raises(error):
        Client(base, **kwargs)
    assert len(responses.calls) == 0


def test_environment_variables_are_fallbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATGPT4O_BASE_URL", "https://env.example/chat")
    monkeypatch.setenv("CHATGPT4O_TIMEOUT", "12.5")
    monkeypatch.setenv("CHATGPT4O_MAX_RETRIES", "5")
    monkeypatch.setenv("CHATGPT4O_PROXY", "http://u:secretpw@proxy.example:3128")
    with Client() as c:
        assert (c.base_url, c.timeout, c.max_retries) == ("https://env.example/chat", 12.5, 5)
        assert "secretpw" not in repr(c)
    with Client("https://kw.example", timeout=3, max_retries=0) as c:
        assert (c.base_url, c.timeout, c.max_retries) == ("https://kw.example", 3.0, 0)


def test_bad_environment_value_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATGPT4O_TIMEOUT", "soon")
    with pytest.raises(e.InvalidConfigError, match="CHATGPT4O_TIMEOUT"):
        Client()


def test_defaults() -> None:
    with Client() as c:
        assert c.base_url == "https://chatgpt4o.one"
        assert c.timeout == 120.0
        assert c.max_retries == 2


def test_repr_shows_no_secrets() -> None:
    with Client(BASE, proxy="http://user:hunter22@proxy.example:8080", cookies={"cf_clearance": "s3cretcookie"}) as c:
        text = repr(c)
    assert "hunter22" not in text and "user" not in text and "s3cretcookie" not in text
    assert "proxy.example:8080" in text


@responses.activate
def test_secrets_never_reach_errors_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    responses.get(BASE + "/", body=page())
    responses.post(AJAX, status=500, body=f"debug: nonce={NONCE} cookie=s3cretcookie")
    with Client(BASE, cookies={"cf_clearance": "s3cretcookie"}, sleep=lambda s: None) as c, pytest.raises(e.ServerError) as info:
        c.ask("x")
    everything = str(info.value) + repr(info.value) + info.value.excerpt + caplog.text
    assert NONCE not in everything and "s3cretcookie" not in everything
    assert "***" in info.value.excerpt


@responses.activate
def test_cookies_are_sent_to_the_site_only(client: Client) -> None:
    responses.get(BASE + "/", body=page())
    responses.post(AJAX, json=ok())
    with Client(BASE, cookies={"cf_clearance": "abcd1234"}) as c:
        c.ask("x")
        jar = c._http.session.cookies
        assert [ck.domain for ck in jar] == ["chat.example"]
    assert "cf_clearance=abcd1234" in responses.calls[1].request.headers["Cookie"]


@responses.activate
def test_stream_yields_the_json_answer_as_one_piece(client: Client) -> None:
    responses.get(BASE + "/", body=page())
    responses.post(AJAX, json=ok("whole"))
    assert list(client.stream("x")) == ["whole"]


@responses.activate
def test_stream_yields_sse_pieces_and_ask_collects_them(client: Client) -> None:
    sse = "".join(
        "data: " + json.dumps({"id": "1", "object": "chat.completion.chunk", "choices": [{"delta": {"content": w}}]}) + "\n\n"
        for w in ["Hel", "lo"]
    ) + "data: [DONE]\n\n"
    responses.get(BASE + "/", body=page())
    responses.post(AJAX, body=sse, content_type="text/event-stream")
    responses.post(AJAX, body=sse, content_type="text/event-stream")
    assert list(client.stream("x")) == ["Hel", "lo"]
    assert client.ask("x") == "Hello"


@responses.activate
def test_single_flight_refresh_under_concurrency() -> None:
    state = {"nonce": "01d0000000", "gets": 0}
    lock = threading.Lock()

    def page_cb(request):  # type: ignore[no-untyped-def]
        with lock:
            state["gets"] += 1  # type: ignore[operator]
        return 200, {}, page(str(state["nonce"]))

    def post_cb(request):  # type: ignore[no-untyped-def]
        form = form_of(request)
        if form["_wpnonce"] != state["nonce"]:
            return 403, {"Content-Type": "text/html"}, "The link you followed has expired."
        return 200, {"Content-Type": "application/json"}, json.dumps(ok(form["message"]))

    responses.add_callback(responses.GET, BASE + "/", callback=page_cb)
    responses.add_callback(responses.POST, AJAX, callback=post_cb)
    with Client(BASE, sleep=lambda s: None) as c:
        assert c.ask("warm") == "warm"
        state["nonce"] = "9e90000000"
        results: list[str] = []
        barrier = threading.Barrier(16)

        def worker(i: int) -> None:
            barrier.wait()
            results.append(c.ask(f"q{i}"))

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(results) == sorted(f"q{i}" for i in range(16))
    assert state["gets"] == 2  # the first read, then exactly one refresh


@responses.activate
def test_closed_client_refuses_work() -> None:
    c = Client(BASE)
    c.close()
    c.close()
    with pytest.raises(e.Chatgpt4oError, match="closed"):
        c.ask("x")


def test_injected_session_is_used_and_not_closed() -> None:
    session = requests.Session()
    with responses.RequestsMock() as rsps:
        rsps.get(BASE + "/", body=page())
        rsps.post(AJAX, json=ok("mine"))
        with Client(BASE, session=session) as c:
            assert c.ask("x") == "mine"
    assert session.adapters["https://"].__class__.__name__ == "PooledAdapter"
    session.close()


def test_client_pickles_its_configuration() -> None:
    with Client(BASE, timeout=7, max_retries=1, proxy="http://u:pw12345@p.example:1") as c:
        clone = pickle.loads(pickle.dumps(c))
    try:
        assert (clone.base_url, clone.timeout, clone.max_retries) == (BASE, 7.0, 1)
        assert repr(clone) == repr(c)
    finally:
        clone.close()


def test_environment_proxy_is_read_once_and_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://envuser:envpass99@127.0.0.1:9")
    with Client(BASE) as c:
        assert c._http.per_request["proxies"]["https"] == "http://envuser:envpass99@127.0.0.1:9"
        assert c._redact("x envpass99 y") == "x *** y"
    monkeypatch.setenv("NO_PROXY", "chat.example")
    with Client(BASE) as c:
        assert "proxies" not in c._http.per_request


def test_explicit_proxy_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    with Client(BASE, proxy="http://127.0.0.1:8") as c:
        assert c._http.per_request["proxies"] == {"http": "http://127.0.0.1:8", "https": "http://127.0.0.1:8"}


def test_ca_bundle_from_the_environment_only_when_verify_is_true(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path,
) -> None:
    import certifi

    bundle, mine = tmp_path / "bundle.pem", tmp_path / "mine.pem"
    for path in (bundle, mine):
        shutil.copyfile(certifi.where(), path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    with Client(BASE) as c:
        assert c._http.per_request["verify"] == str(bundle)
    with Client(BASE, verify=False) as c:
        assert c._http.per_request["verify"] is False
    with Client(BASE, verify=str(mine)) as c:
        assert c._http.per_request["verify"] == str(mine)


@responses.activate
def test_page_without_a_charset_is_read_as_utf8(client: Client) -> None:
    html = page(extra='data-ai-name="Grüße 世界"').encode("utf-8")
    responses.get(BASE + "/", body=html, content_type="text/html")
    responses.post(AJAX, json=ok("fine"))
    assert client.ask("x") == "fine"


@responses.activate
def test_page_in_a_declared_charset(client: Client) -> None:
    html = page(extra='data-url="https://chat.example/caf\xe9"').encode("latin-1")
    responses.get(BASE + "/", body=html, content_type="text/html; charset=ISO-8859-1")
    responses.post(AJAX, json=ok("latin"))
    assert client.ask("x") == "latin"
    assert form_of(responses.calls[1].request)["url"] == "https://chat.example/caf\xe9"


@responses.activate
def test_a_plain_permalink_page_is_fetched_with_its_query() -> None:
    from responses import matchers

    responses.get(BASE + "/", body=page(), match=[matchers.query_param_matcher({"page_id": "42"})])
    responses.post(AJAX, json=ok("permalink"))
    with Client(BASE + "/?page_id=42", max_retries=0) as client:
        assert client.ask("hi") == "permalink"
    assert responses.calls[0].request.url == BASE + "/?page_id=42"
    assert responses.calls[1].request.url == AJAX  # the AJAX URL carries no page query

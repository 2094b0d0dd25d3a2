"""The gateway in front of a site behind a TLS bot check: ``create_app(impersonate=...)`` and
``chatgpt4o serve --impersonate``, with the ``openai`` package as the caller, on both generations."""

from __future__ import annotations

import contextlib
import re
import signal
import threading
from collections.abc import Iterator

import openai
import pytest

from chatgpt4o import Client, InvalidConfigError
from chatgpt4o.cli import main
from chatgpt4o.emulator import Emulator
from chatgpt4o.gateway import Gateway, create_app, make_server

from .test_gateway_cli import _stop, serving

pytestmark = pytest.mark.integration

USER = [{"role": "user", "content": "hello there"}]


@pytest.fixture(scope="module", params=["1.8.96", "2.4.71"])
def site(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    with Emulator(era=request.param, tls=True, bot_check="tls", stream=True) as emulator:
        yield emulator


@contextlib.contextmanager
def gateway(app: Gateway) -> Iterator[openai.OpenAI]:
    server = make_server(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield openai.OpenAI(base_url=server.url, api_key="x", max_retries=0, timeout=30)
    finally:
        server.shutdown()
        server.server_close()
        server.wait_idle(5.0)
        thread.join(5.0)
        app.close()


def test_without_impersonation_the_challenge_is_a_502(site: Emulator) -> None:
    before = site.stats["challenged_connections"]
    with gateway(create_app(base_url=site.page_url, verify=site.ca_file, max_retries=0)) as api, \
            pytest.raises(openai.InternalServerError) as caught:
        api.chat.completions.create(model="gpt-4o-mini", messages=USER)  # type: ignore[arg-type]
    assert caught.value.status_code == 502
    assert isinstance(caught.value.body, dict) and caught.value.body["code"] == "challenge"
    assert "ChallengeError" in caught.value.body["message"]
    assert site.stats["challenged_connections"] > before


def test_impersonating_gateway_answers_whole_and_streamed(site: Emulator) -> None:
    app = create_app(base_url=site.page_url, verify=site.ca_file, max_retries=0, impersonate="chrome")
    with gateway(app) as api:
        answer = api.chat.completions.create(model="gpt-4o-mini", messages=USER)  # type: ignore[arg-type]
        assert answer.choices[0].message.content == "echo: hello there"
        pieces = [chunk.choices[0].delta.content or "" for chunk in api.chat.completions.create(
            model="gpt-4o-mini", messages=USER, stream=True)]  # type: ignore[arg-type]
    assert "".join(pieces) == "echo: hello there"
    assert len([p for p in pieces if p]) == 3  # "echo: ", "hello ", "there": streamed, not one block
    assert "Mozilla/5.0" in site.requests[-1]["headers"]["user-agent"]


def test_impersonate_with_a_ready_client_is_refused(site: Emulator) -> None:
    with Client(site.page_url, verify=site.ca_file) as client, \
            pytest.raises(InvalidConfigError, match="either a client or the settings"):
        create_app(client, impersonate="chrome")


def test_unknown_browser_is_refused_before_any_io(site: Emulator) -> None:
    before = site.stats["connections"]
    with pytest.raises(InvalidConfigError, match="netscape"):
        create_app(base_url=site.page_url, impersonate="netscape")
    assert site.stats["connections"] == before


def test_serve_impersonate_on_the_command_line(site: Emulator) -> None:
    # --impersonate after the command (serve's own option) and before it (the shared one)
    for argv in (["serve", "--base-url", site.page_url, "--impersonate", "chrome", "--port", "0"],
                 ["--impersonate", "firefox", "serve", "--base-url", site.page_url, "--port", "0"]):
        with serving(*argv, REQUESTS_CA_BUNDLE=site.ca_file or "") as (proc, url):
            assert re.fullmatch(r"http://127\.0\.0\.1:[0-9]+/v1", url), url
            api = openai.OpenAI(base_url=url, api_key="x", max_retries=0, timeout=30)
            answer = api.chat.completions.create(model="gpt-4o-mini", messages=USER)  # type: ignore[arg-type]
            assert answer.choices[0].message.content == "echo: hello there"
            code, _, err = _stop(proc, signal.SIGTERM)
        assert code == 0, err
        assert "Traceback" not in err


def test_serve_without_impersonate_maps_the_challenge(site: Emulator) -> None:
    with serving("serve", "--base-url", site.page_url, "--port", "0", "--retries", "0",
                 REQUESTS_CA_BUNDLE=site.ca_file or "") as (proc, url):
        api = openai.OpenAI(base_url=url, api_key="x", max_retries=0, timeout=30)
        with pytest.raises(openai.InternalServerError) as caught:
            api.chat.completions.create(model="gpt-4o-mini", messages=USER)  # type: ignore[arg-type]
        assert caught.value.status_code == 502
        code, _, err = _stop(proc, signal.SIGTERM)
    assert code == 0
    assert '"POST /v1/chat/completions" 502' in err


def test_serve_unknown_browser(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--base-url", "https://127.0.0.1:9/", "--impersonate", "netscape", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "netscape" in err

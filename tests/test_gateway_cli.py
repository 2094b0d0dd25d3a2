"""``chatgpt4o serve``: the gateway on the command line, as a real process."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import openai
import pytest

from chatgpt4o.cli import main
from chatgpt4o.emulator import Emulator

from ._loopback import chatgpt4o_command

pytestmark = pytest.mark.integration

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEY = "cli-secret-key-9876543210"
USER = [{"role": "user", "content": "hello"}]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CHATGPT4O_") and k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return env | extra


@contextmanager
def serving(*args: str, **env: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    proc = subprocess.Popen(chatgpt4o_command(*args), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=_env(**env), cwd=ROOT)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)


def _stop(proc: subprocess.Popen[str], signum: int) -> tuple[int, str, str]:
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=30)
    return proc.returncode, out, err


def test_serve_emulator_prints_its_url_answers_and_stops_on_ctrl_c() -> None:
    with serving("serve", "--emulator", "--port", "0") as (proc, url):
        assert re.fullmatch(r"http://127\.0\.0\.1:[0-9]+/v1", url), url
        api = openai.OpenAI(base_url=url, api_key="x", max_retries=0, timeout=30)
        answer = api.chat.completions.create(model="gpt-4o-mini", messages=USER)
        assert answer.choices[0].message.content == "echo: hello"
        code, _, err = _stop(proc, signal.SIGINT)
    assert code == 130
    assert re.search(r'127\.0\.0\.1 "POST /v1/chat/completions" 200 [0-9]+ [0-9.]+s', err), err
    assert "Traceback" not in err and "gateway stopped" in err


def test_serve_takes_its_key_from_the_environment_streams_and_stops_on_sigterm() -> None:
    # The options before the command apply to it too (--emulator --emulator-stream serve).
    with serving("--emulator", "--emulator-stream", "serve", "--port", "0", CHATGPT4O_API_KEY=KEY) as (proc, url):
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=url, api_key="nope", max_retries=0).models.list()
        api = openai.OpenAI(base_url=url, api_key=KEY, max_retries=0, timeout=30)
        pieces = [c.choices[0].delta.content or "" for c in
                  api.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True)]
        assert "".join(pieces) == "echo: hello" and len([p for p in pieces if p]) == 2
        code, out, err = _stop(proc, signal.SIGTERM)
    assert code == 0
    assert "an API key is required" in err
    assert err.count('"GET /v1/models" 401') == 1 and err.count('"POST /v1/chat/completions" 200') == 1
    assert KEY not in out + err


@pytest.mark.parametrize(("argv", "message"), [
    (["serve", "--host", "0.0.0.0"], "refusing to listen on 0.0.0.0 without an API key"),
    (["serve", "--emulator", "--base-url", "http://127.0.0.1:9/"], "exclude each other"),
    (["serve", "--emulator-stream"], "need --emulator"),
    (["serve", "--emulator", "--emulator-era", "9.9"], "bad emulator setting"),
    (["serve", "--port", "70000"], "--port must be within"),
    (["serve", "--port", "x"], "invalid int value"),
], ids=["remote-host", "emulator-and-url", "emulator-option-alone", "bad-era", "port-range", "port-type"])
def test_serve_refuses_bad_settings(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err


def test_serve_says_when_the_port_is_taken(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--base-url", "http://127.0.0.1:9/", "--port", str(port)]) == 2
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


def test_serve_takes_the_connection_options_of_the_other_commands() -> None:
    # --ca-bundle, --cookie and --header reach the site, as for `chatgpt4o ask`.
    with Emulator(tls=True) as site:
        assert site.ca_file is not None
        with serving("serve", "--base-url", site.base_url, "--ca-bundle", site.ca_file, "--port", "0",
                     "--cookie", "cf_clearance=from-the-browser", "--header", "X-Test: 1") as (proc, url):
            api = openai.OpenAI(base_url=url, api_key="x", max_retries=0, timeout=30)
            answer = api.chat.completions.create(model="gpt-4o-mini", messages=USER)
            _stop(proc, signal.SIGTERM)
        assert answer.choices[0].message.content == "echo: hello"
        sent = site.requests[-1]["headers"]
        assert "cf_clearance=from-the-browser" in sent.get("cookie", "") and sent.get("x-test") == "1"

"""The command line, run as a real subprocess (``python -m chatgpt4o``) against the emulator."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from chatgpt4o import exceptions as e
from chatgpt4o.cli import (
    EXIT_CODES,
    _with_command,
    build_parser,
    error_line,
    exit_code_for,
)
from chatgpt4o.emulator import Emulator

from ._loopback import chatgpt4o_command

Make = Callable[..., Emulator]


def run(*args: str, input: str | None = "", timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run the real entry point; stdin is a pipe (``input``), never the test's terminal."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATGPT4O_")}
    return subprocess.run(
        [sys.executable, "-m", "chatgpt4o", *args], input=input, capture_output=True, text=True,
        timeout=timeout, check=False, env=env, encoding="utf-8",
    )


@pytest.fixture
def emu(wpaicg_emulator_factory: Make) -> Emulator:
    return wpaicg_emulator_factory()


def assert_one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ") and " — " in lines[0], stderr
    assert "Traceback" not in stderr
    return lines[0]


# -- one-shot -------------------------------------------------------------------


def test_ask_prints_the_answer(emu: Emulator) -> None:
    result = run("--base-url", emu.base_url, "Hello there")
    assert (result.returncode, result.stdout, result.stderr) == (0, "echo: Hello there\n", "")


def test_ask_joins_words_and_options_after_the_question(emu: Emulator) -> None:
    result = run("Hello", "world", "--base-url", emu.base_url, "-m", "gpt-4o-mini")
    assert (result.returncode, result.stdout) == (0, "echo: Hello world\n")


@pytest.mark.parametrize("args", [(), ("-",), ("ask",)], ids=["no-positional", "dash", "ask-subcommand"])
def test_ask_reads_the_question_from_stdin(emu: Emulator, args: tuple[str, ...]) -> None:
    result = run("--base-url", emu.base_url, *args, input="question from stdin\n")
    assert (result.returncode, result.stdout) == (0, "echo: question from stdin\n")


def test_a_question_named_like_a_command(emu: Emulator) -> None:
    assert run("--base-url", emu.base_url, "ask", "chat").stdout == "echo: chat\n"
    assert run("--base-url", emu.base_url, "--", "chat").stdout == "echo: chat\n"


def test_json_output(emu: Emulator) -> None:
    result = run("--json", "--base-url", emu.base_url, "Hello")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["answer"] == "echo: Hello"
    assert doc["model"] == "gpt-4o-mini-2024-07-18"
    assert doc["base_url"] == emu.base_url
    assert isinstance(doc["seconds"], float)


def test_system_prompt_is_sent_as_a_system_message(emu: Emulator) -> None:
    result = run("--base-url", emu.base_url, "-s", "Answer in French.", "Hello")
    assert result.returncode == 0, result.stderr
    message = emu.requests[-1]["form"]["message"]
    assert message.startswith("System: Answer in French.")
    assert "User: Hello" in message


def test_streaming_output_equals_the_whole_answer(wpaicg_emulator_factory: Make) -> None:
    emu = wpaicg_emulator_factory(stream=True)
    result = run("--base-url", emu.base_url, "one two three four five")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "echo: one two three four five\n"
    assert emu.requests[-1]["status"] == 200


def test_offline_emulator_flag() -> None:
    result = run("--emulator", "--emulator-era", "1.8.96", "Hello")
    assert (result.returncode, result.stdout, result.stderr) == (0, "echo: Hello\n", "")


def test_offline_emulator_streaming_site() -> None:
    result = run("--emulator", "--emulator-stream", "--emulator-era", "1.8.91", "Hi there")
    assert (result.returncode, result.stdout) == (0, "echo: Hi there\n")
    assert run("--emulator", "--emulator-era", "9.9", "Hi").returncode == 2


def test_version_and_help_document_the_exit_codes() -> None:
    assert run("--version").stdout.startswith("chatgpt4o ")
    help_text = run("--help").stdout
    assert "exit codes:" in help_text
    for code, _meaning, _classes in EXIT_CODES:
        assert f"  {code:>3}  " in help_text


# -- errors and exit codes -----------------------------------------------------------


def dead_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_usage_errors_exit_2(emu: Emulator) -> None:
    bad_option = run("--no-such-option", "hi")
    assert bad_option.returncode == 2
    assert "--no-such-option" in assert_one_error_line(bad_option.stderr)
    assert run("chat", "--timeout", "soon").returncode == 2
    result = run("--base-url", emu.base_url, "-m", "no-such-model", "hi")
    assert result.returncode == 2
    assert "no-such-model" in assert_one_error_line(result.stderr)
    assert emu.stats["ajax_posts"] == 0
    assert run("--base-url", "ftp://example.org", "hi").returncode == 2
    assert run("--emulator", "--base-url", emu.base_url, "hi").returncode == 2


def test_connection_refused_exits_3() -> None:
    result = run("--base-url", dead_port(), "--retries", "0", "hi")
    assert result.returncode == 3
    assert result.stdout == ""
    assert_one_error_line(result.stderr)


def test_a_missing_chat_page_is_a_page_error_exit_7(emu: Emulator) -> None:
    result = run("--base-url", emu.base_url + "/missing/", "hi")
    assert result.returncode == 7, result.stderr
    line = assert_one_error_line(result.stderr)
    assert "404" in line and "--base-url" in line and "try later" not in line
    assert emu.stats["ajax_posts"] == 0


def test_timeout_exits_4(wpaicg_emulator_factory: Make) -> None:
    emu = wpaicg_emulator_factory(latency=3)
    result = run("--base-url", emu.base_url, "--timeout", "1", "hi")
    assert result.returncode == 4
    line = assert_one_error_line(result.stderr)
    assert "--timeout" in line and "timeout=" not in line


def test_verbose_shows_logs_and_traceback_but_never_the_nonce(emu: Emulator) -> None:
    ok = run("-v", "--base-url", emu.base_url, "Hello")
    assert ok.returncode == 0
    assert "chatgpt4o" in ok.stderr and "POST" in ok.stderr
    emu.configure(fault="challenge")
    failed = run("--verbose", "--base-url", emu.base_url, "Hello")
    assert failed.returncode == 5
    assert "Traceback" in failed.stderr
    assert failed.stderr.rstrip().splitlines()[-1].startswith("error: ")
    for output in (ok.stderr, ok.stdout, failed.stderr):
        assert emu.current_nonce not in output


# -- habits of other LLM command lines (issue 13, item 7) -------------------------------------


def test_piped_stdin_and_a_question_are_combined(emu: Emulator) -> None:
    result = run("--base-url", emu.base_url, "Summarize:", input="the context\nin two lines\n")
    assert (result.returncode, result.stderr) == (0, "")
    assert emu.requests[-1]["form"]["message"] == "the context\nin two lines\n\nSummarize:"
    assert run("--base-url", emu.base_url, "Only this", input="").stdout == "echo: Only this\n"


def test_cookie_header_and_tls_options_reach_the_site(wpaicg_emulator_factory: Make) -> None:
    emu = wpaicg_emulator_factory(tls=True)
    assert emu.ca_file is not None
    result = run("--base-url", emu.base_url, "--cookie", "cf_clearance=abc123", "--cookie", "other=x=y",
                 "--header", "X-Trace: one two", "--ca-bundle", emu.ca_file, "hi")
    assert (result.returncode, result.stdout) == (0, "echo: hi\n"), result.stderr
    headers = emu.requests[-1]["headers"]
    assert "cf_clearance=abc123" in headers["cookie"] and "other=x=y" in headers["cookie"]
    assert headers["x-trace"] == "one two"
    assert run("--base-url", emu.base_url, "--insecure", "hi").returncode == 0
    refused = run("--base-url", emu.base_url, "--retries", "0", "hi")
    assert refused.returncode == 3
    line = assert_one_error_line(refused.stderr)
    assert "--ca-bundle" in line and "--insecure" in line and "verify=" not in line


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--cookie", "no-equals-sign"), "--cookie"),
        (("--cookie", "=value"), "--cookie"),
        (("--header", "X-No-Colon"), "--header"),
        (("--header", "Bad Name: v"), "header"),
        (("--ca-bundle", "/nonexistent/ca.pem"), "no such file"),
        (("--ca-bundle", __file__, "--insecure"), "--insecure"),
    ],
    ids=["cookie-no-equals", "cookie-no-name", "header-no-colon", "header-bad-name", "ca-missing", "ca-and-insecure"],
)
def test_bad_connection_options_are_usage_errors(emu: Emulator, args: tuple[str, ...], says: str) -> None:
    result = run("--base-url", emu.base_url, *args, "hi")
    assert result.returncode == 2, result.stderr
    assert says in assert_one_error_line(result.stderr)
    assert emu.stats["requests"] == 0


def test_json_failure_is_a_json_error_object_on_stdout(emu: Emulator) -> None:
    emu.configure(token_limit=True)
    result = run("--json", "--base-url", emu.base_url, "hi")
    assert result.returncode == 6
    doc = json.loads(result.stdout)
    assert doc["error"]["type"] == "TokenLimitError" and doc["error"]["exit_code"] == 6
    assert "token limit" in doc["error"]["message"]
    missing = run("--json", "--base-url", emu.base_url + "/missing/", "hi")
    assert missing.returncode == 7 and json.loads(missing.stdout)["error"]["type"] == "PageError"


def test_a_partial_answer_ends_its_line_before_the_interrupt_message(wpaicg_emulator_factory: Make) -> None:
    emu = wpaicg_emulator_factory(stream=True, latency=20, reply="one two three four five six seven eight nine ten")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATGPT4O_")}
    proc = subprocess.Popen(
        chatgpt4o_command("--base-url", emu.base_url, "hi"), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )
    try:
        assert proc.stdout is not None
        first = os.read(proc.stdout.fileno(), 100)  # the first words are out; the rest is coming
        assert first
        proc.send_signal(signal.SIGINT)
        rest, stderr = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130
    assert (first + rest).decode().endswith("\n")
    assert_one_error_line(stderr.decode())


# -- check ----------------------------------------------------------------------


def test_check_succeeds(emu: Emulator) -> None:
    result = run("--base-url", emu.base_url, "check")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "FAIL" not in out
    assert "era 1.8.96" in out
    assert "post id 11" in out
    assert "'ping' -> 'echo: ping' in " in out and " ms" in out
    assert "result: the site works" in out
    assert emu.current_nonce not in out + result.stderr


def test_check_json_and_doctor_alias(wpaicg_emulator_factory: Make) -> None:
    emu = wpaicg_emulator_factory(stream=True, era="1.8.91")
    result = run("doctor", "--json", "--prompt", "are you there", "--base-url", emu.base_url)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["ok"] is True and doc["error"] is None
    assert doc["site"]["era"] == "1.8.91" and doc["site"]["stream"] is True
    assert doc["round_trip"]["answer"] == "echo: are you there"
    assert isinstance(doc["round_trip"]["seconds"], float)
    assert [s["step"] for s in doc["steps"]] == [
        "homepage", "chat tokens", "plugin", "streaming", "memory limit", "round trip",
    ]


@pytest.mark.parametrize(
    ("changes", "code", "failed_step"),
    [
        ({"chatbox": False}, 7, "chat tokens"),
        ({"fault": "challenge"}, 5, "round trip"),
        ({"token_limit": True}, 6, "round trip"),
        ({"fault": "endpoint_gone"}, 7, "round trip"),
    ],
    ids=["no-chatbox", "challenge", "token-limit", "endpoint-gone"],
)
def test_check_failures(emu: Emulator, changes: dict[str, Any], code: int, failed_step: str) -> None:
    emu.configure(**changes)
    result = run("--base-url", emu.base_url, "--retries", "0", "check")
    assert result.returncode == code, result.stdout + result.stderr
    assert f"FAIL  {failed_step}" in result.stdout
    assert_one_error_line(result.stderr)
    as_json = json.loads(run("--base-url", emu.base_url, "--retries", "0", "check", "--json").stdout)
    assert as_json["ok"] is False and as_json["error"]["exit_code"] == code


def test_check_dead_port_exits_3() -> None:
    result = run("check", "--base-url", dead_port(), "--retries", "0")
    assert result.returncode == 3
    assert "FAIL  homepage" in result.stdout
    assert_one_error_line(result.stderr)


def test_check_offline() -> None:
    result = run("--emulator", "--emulator-era", "1.8.96", "check")
    assert result.returncode == 0, result.stderr
    assert "result: the site works" in result.stdout


# -- chat -----------------------------------------------------------------------


def test_chat_through_a_pipe_keeps_the_history(wpaicg_emulator_factory: Make) -> None:
    # {turns} counts the history items the site parsed, the current message included.
    emu = wpaicg_emulator_factory(reply_template="turns={turns} last={message}")
    result = run("--base-url", emu.base_url, "chat", input="My name is Ada.\nWhat is my name?\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["turns=1 last=My name is Ada.", "turns=3 last=What is my name?"]
    history = json.loads(emu.requests[-1]["form"]["wpaicg_chat_history"])
    assert any("My name is Ada." in item["text"] for item in history)


def test_emulator_chat_speaks_the_current_plugin_by_default() -> None:
    result = run("--emulator", "chat", input="one\ntwo\n")
    assert (result.returncode, result.stdout.splitlines()) == (0, ["echo: one", "echo: two"]), result.stderr
    check = run("--emulator", "check", "--json")
    assert check.returncode == 0, check.stderr
    assert json.loads(check.stdout)["site"]["protocol"] == "aipkit"


def test_chat_on_a_2x_site_remembers_through_the_servers_history(aipkit_emulator_factory: Make) -> None:
    # 2.x: {turns} counts the stored messages the server replayed to the model before this one.
    emu = aipkit_emulator_factory(era="2.4.71", reply_template="turns={turns} last={message} history={history}")
    result = run("--base-url", emu.base_url, "chat", input="My name is Ada.\nWhat is my name?\n")
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.splitlines()
    assert first == "turns=0 last=My name is Ada. history=[]"
    assert second.startswith("turns=2 last=What is my name? history=")
    assert json.loads(second.partition("history=")[2])[0] == {"role": "user", "content": "My name is Ada."}
    # Only the new message travels; both turns name the same server-side conversation.
    posts = [r["form"] for r in emu.requests if r["method"] == "POST"]
    streams = [r["form"] for r in emu.requests if r["method"] == "GET"]
    assert [p["message"] for p in posts] == ["My name is Ada.", "What is my name?"]
    assert len({(g["session_id"], g["conversation_uuid"]) for g in streams}) == 1


def test_chat_reset_and_save(wpaicg_emulator_factory: Make, tmp_path: Path) -> None:
    emu = wpaicg_emulator_factory(reply_template="turns={turns} last={message}")
    saved = tmp_path / "chat.json"
    script = f"one\ntwo\n/save {saved}\n/reset\nthree\n/exit\nnever sent\n"
    result = run("--emulator", "chat", "--base-url", emu.base_url, input=script)
    assert result.returncode == 2  # --emulator and --base-url together
    result = run("chat", "--base-url", emu.base_url, input=script)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["turns=1 last=one", "turns=3 last=two", "turns=1 last=three"]
    assert f"(saved 2 turns to {saved})" in result.stderr
    assert "never sent" not in json.dumps(emu.requests)
    doc = json.loads(saved.read_text(encoding="utf-8"))
    assert doc["format"] == "chatgpt4o.conversation/1"
    assert [item["text"] for item in doc["history"]] == [
        "Human: one", "AI: turns=1 last=one", "Human: two", "AI: turns=3 last=two",
    ]


def test_chat_load_continues_a_saved_conversation(wpaicg_emulator_factory: Make, tmp_path: Path) -> None:
    emu = wpaicg_emulator_factory(reply_template="turns={turns} last={message}")
    saved = tmp_path / "chat.json"
    run("chat", "--base-url", emu.base_url, input=f"one\n/save {saved}\n")
    result = run("chat", "--base-url", emu.base_url, input=f"/load {saved}\n/load {tmp_path / 'missing'}\n/nope\ntwo\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["turns=3 last=two"]
    assert "(loaded 1 turn from" in result.stderr
    assert "error: cannot read" in result.stderr and "unknown command /nope" in result.stderr


def test_chat_system_prompt_and_failed_turn(wpaicg_emulator_factory: Make) -> None:
    emu = wpaicg_emulator_factory(reply_template="turns={turns} last={message}", banned_words=("forbidden",))
    result = run("--base-url", emu.base_url, "chat", "-s", "Be brief.", input="a forbidden word\nhello\n")
    # The session goes on after a failed turn; through a pipe the exit code reports it.
    assert result.returncode == 5
    assert_one_error_line(result.stderr)
    assert result.stdout.splitlines() == ["turns=2 last=hello"]  # the system prompt is a history item


def test_chat_ctrl_c_cancels_the_answer_and_stays(wpaicg_emulator_factory: Make) -> None:
    emu = wpaicg_emulator_factory(latency=5)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATGPT4O_")}
    proc = subprocess.Popen(
        chatgpt4o_command("--base-url", emu.base_url, "chat"), stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, encoding="utf-8",
    )
    try:
        assert proc.stdin is not None
        proc.stdin.write("slow question\n")
        proc.stdin.flush()
        wait_for(lambda: emu.stats["ajax_posts"] >= 1)
        emu.configure(latency=0.0)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate("second\n", timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr
    assert "(answer cancelled)" in stderr
    assert stdout.strip().splitlines() == ["echo: second"]
    history = json.loads(emu.requests[-1]["form"]["wpaicg_chat_history"])
    assert not any("slow question" in item["text"] for item in history)


def test_ctrl_c_in_one_shot_exits_130(wpaicg_emulator_factory: Make) -> None:
    emu = wpaicg_emulator_factory(latency=5)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATGPT4O_")}
    proc = subprocess.Popen(
        chatgpt4o_command("--base-url", emu.base_url, "hi"), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, encoding="utf-8",
    )
    try:
        wait_for(lambda: emu.stats["ajax_posts"] >= 1)
        proc.send_signal(signal.SIGINT)
        _stdout, stderr = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130
    assert_one_error_line(stderr)


def wait_for(condition: Callable[[], bool], limit: float = 15.0) -> None:
    end = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < end, "condition not reached"
        time.sleep(0.02)


# -- pure parts, in process -------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["hello"], ["ask", "hello"]),
        ([], ["ask"]),
        (["-"], ["ask", "-"]),
        (["--json", "-m", "gpt-4o-mini", "chat"], ["--json", "-m", "gpt-4o-mini", "chat"]),
        (["--timeout", "5", "check"], ["--timeout", "5", "check"]),
        (["--timeout", "5", "hello"], ["--timeout", "5", "ask", "hello"]),
        (["--system=be brief", "hi"], ["--system=be brief", "ask", "hi"]),
        (["-mgpt-4o-mini", "hi"], ["-mgpt-4o-mini", "ask", "hi"]),
        (["--", "chat"], ["ask", "--", "chat"]),
        (["doctor", "--json"], ["doctor", "--json"]),
    ],
    ids=lambda v: " ".join(v) or "empty",
)
def test_bare_question_maps_to_ask(argv: list[str], expected: list[str]) -> None:
    assert _with_command(argv, build_parser()) == expected


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (e.InvalidConfigError("x"), 2),
        (e.UnknownModelError("x"), 2),
        (e.MessageTypeError("x"), 2),
        (e.APIConnectionError("x"), 3),
        (e.TLSError("x"), 3),
        (e.APITimeoutError("x"), 4),
        (e.ChallengeError("x"), 5),
        (e.IPBannedError("x"), 5),
        (e.MessageFlaggedError("x"), 5),
        (e.TokenLimitError("x"), 6),
        (e.UpstreamError("x"), 6),
        (e.SiteConfigurationError("x"), 6),
        (e.EmptyMessageError("x"), 6),
        (e.TokensNotFoundError("x"), 7),
        (e.PageError("x"), 7),
        (e.EndpointGoneError("x"), 7),
        (e.NonceExpiredError("x"), 7),
        (e.MalformedResponseError("x"), 8),
        (e.ResponseTooLargeError("x"), 8),
        (e.RateLimitError("x", status_code=429), 8),
        (e.ServerError("x", status_code=503), 8),
        (e.Chatgpt4oError("x"), 1),
        (ZeroDivisionError("x"), 1),
        (KeyboardInterrupt(), 130),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
def test_exit_code_per_error_class(error: BaseException, code: int) -> None:
    assert exit_code_for(error) == code


def test_error_line_keeps_the_library_hint_and_adds_one_otherwise() -> None:
    assert error_line(e.PageError("no chat box on x — is this a wpaicg page?")) == (
        "error: no chat box on x — is this a wpaicg page?"
    )
    line = error_line(e.MalformedResponseError("not JSON\nat all"))
    assert line.startswith("error: not JSON at all — ") and line.count("—") == 1
    assert error_line(ZeroDivisionError("boom")).startswith("error: ZeroDivisionError: boom — ")


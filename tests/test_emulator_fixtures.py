"""The emulator against the real plugin's recordings (fixtures/wpaicg-1.8.96/*.http, homepage.html).

Every recorded answer is replayed against the emulator with the request that produced it, and
the status, content type, header names (in order) and body must match; the parts that differ by
nature (Date, chunk ids/timestamps, the referer's port) are normalised first.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import requests

from chatgpt4o.emulator import Emulator


def _fixture_dir() -> Path:
    here = Path(__file__).resolve().parent
    candidates = [
        os.environ.get("CHATGPT4O_FIXTURES", ""),
        str(here / "fixtures" / "wpaicg-1.8.96"),
    ]
    for candidate in candidates:
        if candidate and (Path(candidate) / "homepage.html").is_file():
            return Path(candidate)
    raise RuntimeError(f"wpaicg-1.8.96 fixtures not found in {candidates}; set CHATGPT4O_FIXTURES")


FIXTURES = _fixture_dir()
HTTP_FILES = sorted(p.name for p in FIXTURES.glob("*.http"))


class Recorded(NamedTuple):
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def _read_fixture(name: str) -> Recorded:
    raw = (FIXTURES / name).read_bytes()
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = [(k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lines[1:])]
    return Recorded(status, headers, body)


def _dechunk(body: bytes) -> bytes:
    """curl -i prints chunked bodies already de-chunked; requests gives them de-chunked too."""
    return body


def _fields(emu: Emulator, message: str | None = "Hello there, what is 2+2?", **extra: str) -> dict[str, str]:
    fields = {
        "_wpnonce": emu.current_nonce,
        "post_id": "11",
        "url": emu.base_url,
        "action": "wpaicg_chat_shortcode_message",
        "bot_id": "0",
        "chatbot_identity": "shortcode",
        "wpaicg_chat_client_id": "Ab3dE6gH9j",
        "wpaicg_chat_history": json.dumps([{"id": "", "text": f"Human: {message}"}], ensure_ascii=False),
        "chat_id": "4242",
    }
    if message is not None:
        fields["message"] = message
    fields.update(extra)
    return fields


UNICODE = 'Gr\u00fc\u00dfe, \u4e16\u754c! "quoted" & <b>tags</b>\nsecond line'
OPENAI_ERROR = (
    "Incorrect API key provided: sk-offli*****************. You can find your API key at "
    "https://platform.openai.com/account/api-keys."
)

# fixture -> (scenario, request maker)
Recipe = tuple[dict[str, Any], Callable[[Emulator], requests.Response]]
RECIPES: dict[str, Recipe] = {
    "01-success-urlencoded.http": ({}, lambda e: requests.post(e.ajax_url, data=_fields(e))),
    "03-unicode-message.http": ({}, lambda e: requests.post(e.ajax_url, data=_fields(e, UNICODE))),
    "04-openai-error.http": (
        {"upstream_error": OPENAI_ERROR},
        lambda e: requests.post(e.ajax_url, data=_fields(e)),
    ),
    "05-wrong-nonce.http": ({}, lambda e: requests.post(e.ajax_url, data=_fields(e, _wpnonce="0123456789"))),
    "07-missing-message.http": ({}, lambda e: requests.post(e.ajax_url, data=_fields(e, None))),
    "09-missing-action.http": ({}, lambda e: requests.get(e.ajax_url)),
    "11-get-with-fields.http": ({}, lambda e: requests.get(e.ajax_url, params=_fields(e))),
    "16-stream-success.http": (
        {"stream": True},
        lambda e: requests.post(e.ajax_url, data=_fields(e, "Hello streaming world")),
    ),
    "17-stream-openai-error.http": (
        {"stream": True, "upstream_error": OPENAI_ERROR},
        lambda e: requests.post(e.ajax_url, data=_fields(e)),
    ),
    "18-stream-missing-message.http": (
        {"stream": True},
        lambda e: requests.post(e.ajax_url, data=_fields(e, None)),
    ),
    "21-stale-nonce-with-referer.http": (
        {},
        lambda e: requests.post(e.ajax_url, data=_fields(e, _wpnonce="ffffffffff"), headers={"Referer": e.base_url + "/"}),
    ),
}


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(era="1.8.96") as emu:
        yield emu


def _normalise(body: bytes) -> bytes:
    body = re.sub(rb'"id":"chatcmpl-[^"]*"', b'"id":"ID"', body)
    body = re.sub(rb'"created":\d+', b'"created":0', body)
    body = re.sub(rb'"system_fingerprint":"[^"]*"', b'"system_fingerprint":"FP"', body)
    return re.sub(rb"http://127\.0\.0\.1:\d+", b"http://HOST", body)


_VARIABLE = {"date", "server", "content-length", "connection", "transfer-encoding"}


def test_every_fixture_has_a_recipe() -> None:
    assert HTTP_FILES, "no *.http fixtures found"
    assert set(HTTP_FILES) == set(RECIPES)


@pytest.mark.parametrize("name", HTTP_FILES)
def test_emulator_matches_recorded_answer(emulator: Emulator, name: str) -> None:
    recorded = _read_fixture(name)
    scenario, send = RECIPES[name]
    emulator.configure(**{"stream": False, "upstream_error": None, **scenario})
    got = send(emulator)

    assert got.status_code == recorded.status
    recorded_headers = {k.lower(): v for k, v in recorded.headers}
    assert got.headers["Content-Type"] == recorded_headers["content-type"]
    # same header names in the same order (framing headers aside)
    got_names = [k.lower() for k in got.raw.headers if k.lower() not in _VARIABLE]
    recorded_names = [k.lower() for k, _ in recorded.headers if k.lower() not in _VARIABLE]
    assert got_names == recorded_names
    for name_ in recorded_names:
        if name_ not in ("expires",):
            assert got.headers[name_] == recorded_headers[name_], name_
    if "transfer-encoding" in recorded_headers:
        assert got.headers.get("Transfer-Encoding") == "chunked"
    if recorded_headers.get("connection") == "close":
        assert got.headers.get("Connection") == "close"

    assert _normalise(got.content) == _normalise(_dechunk(recorded.body))
    if recorded_headers["content-type"].startswith("application/json"):
        assert list(got.json()) == list(json.loads(recorded.body))


def _shortcode_attributes(html: str) -> list[str]:
    match = re.search(r'<div class="wpaicg-chat-shortcode"(.*?)>\s*<div', html, re.DOTALL)
    assert match, "no wpaicg-chat-shortcode box"
    return re.findall(r"(data-[\w-]+)\s*=", match.group(1))


def test_page_box_has_every_recorded_attribute(emulator: Emulator) -> None:
    recorded = _shortcode_attributes((FIXTURES / "homepage.html").read_text("utf-8"))
    emulator.configure(stream=False)
    ours = _shortcode_attributes(requests.get(emulator.page_url).text)
    assert set(recorded) <= set(ours)
    assert ours[-1] == "data-type"


def test_page_keeps_the_recorded_spaced_attribute_forms(emulator: Emulator) -> None:
    recorded_html = (FIXTURES / "homepage.html").read_text("utf-8")
    spaced = re.findall(r"(data-[\w-]+) = \"", recorded_html)
    html = requests.get(emulator.page_url).text
    assert "data-memory-limit" in spaced
    for name in spaced:
        assert f'{name} = "' in html, name


def test_page_head_mirrors_recording(emulator: Emulator) -> None:
    html = requests.get(emulator.page_url).text
    recorded_html = (FIXTURES / "homepage.html").read_text("utf-8")
    for marker in (
        "id='wpaicg-init-js-extra'",
        "var wpaicgParams = {\"ajax_url\":",
        '<input type="hidden" id="wpaicg-img-nonce" value="',
        "gpt3-ai-content-generator/public/css/wp-ai-content-generator-public.css?ver=1.8.96",
    ):
        assert marker in recorded_html
        assert marker in html

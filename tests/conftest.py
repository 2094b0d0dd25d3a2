"""Shared test fixtures: a clean environment, the recorded answers of a real site."""

from __future__ import annotations

import os
import pathlib
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, settings

from chatgpt4o._config import ENV_VARS

# CI runs the property tests on a fixed set of examples: a run that lands must be repeatable,
# and a shared machine must not turn generation speed into failures. Locally they explore.
settings.register_profile(
    "ci", derandomize=True, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
if os.environ.get("CI"):
    settings.load_profile("ci")

FIXTURES = pathlib.Path(__file__).resolve().parent.parent.parent / "shared" / "fixtures" / "wpaicg-1.8.96"
if not FIXTURES.is_dir():  # a checkout with shared/ next to it, or a copy inside tests/
    FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures" / "wpaicg-1.8.96"


@dataclass
class Recorded:
    """One recorded HTTP answer (`curl -i` format)."""

    name: str
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")


def load_recorded(name: str) -> Recorded:
    raw = (FIXTURES / name).read_bytes()
    head, _, body = raw.partition(b"\r\n\r\n")
    if not _:
        head, _, body = raw.partition(b"\n\n")
    lines = head.decode("latin-1").splitlines()
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        key, _, value = line.partition(":")
        headers[key.strip()] = value.strip()
    if headers.get("Transfer-Encoding", "").lower() == "chunked" and not body.startswith(b"data") and not body.startswith(b"event"):
        body = _dechunk(body)
    return Recorded(name, status, headers, body)


def _dechunk(body: bytes) -> bytes:
    out, rest = b"", body
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out, rest = out + rest[:size], rest[size + 2 :]
    return out


def recorded_names() -> list[str]:
    return sorted(p.name for p in FIXTURES.glob("*.http"))


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the SDK's environment variables unless it sets them."""
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def homepage_html() -> str:
    return (FIXTURES / "homepage.html").read_text(encoding="utf-8")


#: The plugin eras that still have the legacy chat endpoint, and the two ways a site answers.
ERAS = ["1.8.79", "1.8.91", "1.8.96"]
STREAMS = [pytest.param(False, id="json"), pytest.param(True, id="sse")]


@pytest.fixture(params=ERAS)
def era(request: pytest.FixtureRequest) -> str:
    """Each plugin era with the legacy chat endpoint, in turn."""
    return str(request.param)


@pytest.fixture(params=STREAMS)
def stream(request: pytest.FixtureRequest) -> bool:
    """The site's stream setting off (JSON answers), then on (SSE)."""
    return bool(request.param)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the ``summary`` properties tests recorded (the soak's counts) after the run."""
    lines = [
        str(value)
        for report in terminalreporter.stats.get("passed", []) + terminalreporter.stats.get("failed", [])
        if report.when == "call"
        for name, value in report.user_properties
        if name == "summary"
    ]
    if lines:
        terminalreporter.section("summaries")
        for line in lines:
            terminalreporter.line(line)

"""What ``from chatgpt4o import Client`` loads: the generations' modules and the heavy standard
modules wait for first use (run in a fresh interpreter), and the ids made without ``uuid`` keep
their format."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

from chatgpt4o import Client
from chatgpt4o.emulator import Emulator

# Loaded only once a page arrives (or a turn needs them), never by the import or by Client().
LAZY = (
    "chatgpt4o.protocols.aipkit",
    "chatgpt4o.protocols.aipkit_page",
    "chatgpt4o.protocols.aipkit_requests",
    "chatgpt4o.protocols.aipkit_answers",
    "chatgpt4o.protocols.aipkit_events",
    "chatgpt4o.protocols.wpaicg",
    "chatgpt4o.conversation",
    "chatgpt4o._impersonate",
    "chatgpt4o.page",
    "chatgpt4o._answer",
    "chatgpt4o._batch_run",
    "chatgpt4o._retry",
    "chatgpt4o.sse",
    "concurrent.futures",
    "asyncio",
    "uuid",
    "bs4",
    "tenacity",
)


def _run(code: str) -> tuple[list[str], list[str]]:
    """What ``code`` printed, and the modules loaded after it, in a fresh interpreter."""
    probe = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    *printed, last = done.stdout.strip().splitlines()
    loaded: list[str] = json.loads(last)
    return printed, loaded


def _loaded_after(code: str) -> list[str]:
    return _run(code)[1]


def test_importing_and_building_a_client_leaves_the_generations_and_asyncio_unloaded() -> None:
    loaded = _loaded_after(
        "from chatgpt4o import Client\n"
        "Client('http://127.0.0.1:9/', protocol='aipkit', bot_id=3).close()\n"
        "Client('http://127.0.0.1:9/').close()"
    )
    assert "chatgpt4o.client" in loaded  # the probe did import the client
    assert [name for name in LAZY if name in loaded] == []


def test_the_generation_is_loaded_when_its_page_arrives() -> None:
    with Emulator(era="2.4.71") as emu:
        loaded = _loaded_after(
            "from chatgpt4o import Client\n"
            f"with Client({emu.base_url!r}, timeout=20) as c:\n"
            "    print(c.ask('Hello'))"
        )
    assert "chatgpt4o.protocols.aipkit" in loaded
    assert "chatgpt4o.protocols.aipkit_page" in loaded


def test_chat_loads_conversations_on_first_use() -> None:
    printed, loaded = _run(
        "from chatgpt4o import Client\n"
        "with Client('http://127.0.0.1:9/') as c:\n"
        "    chat = c.chat(system='Be brief.')\n"
        "    print(type(chat).__module__, type(chat).__name__, chat.system)"
    )
    assert printed == ["chatgpt4o.conversation Conversation Be brief."]
    assert "chatgpt4o.conversation" in loaded


def _is_uuid4(text: str) -> bool:
    parsed = uuid.UUID(text)
    return len(text) == 36 and str(parsed) == text and parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_session_and_conversation_ids_are_lowercase_uuid4_and_fresh() -> None:
    clients = [Client("http://127.0.0.1:9/") for _ in range(50)]
    session_ids = [c.session_id for c in clients]
    conversation_ids = [c.chat().conversation_id for c in clients]
    for c in clients:
        c.close()
    assert all(_is_uuid4(value) for value in session_ids + conversation_ids)
    assert len(set(session_ids + conversation_ids)) == 100

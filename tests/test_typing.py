"""The public keywords are checked by a type checker, not only at run time."""

from __future__ import annotations

from pathlib import Path

from mypy import api

SNIPPET = '''
from chatgpt4o import Client

client = Client("https://chat.example")
client.ask("x", bot_id=5, timeout=3.0)
client.ask("x", temperature=0.1)
with client.stream("x") as pieces:
    for piece in pieces:
        piece.upper()
'''


def test_an_unknown_keyword_is_a_type_error(tmp_path: Path) -> None:
    path = tmp_path / "use_client.py"
    path.write_text(SNIPPET, encoding="utf-8")
    out, _err, status = api.run([str(path), "--no-incremental", "--cache-dir", str(tmp_path / ".mypy"),
                                 "--follow-imports", "silent", "--strict"])
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert status == 1
    assert len(errors) == 1, out
    assert ':6: error: Unexpected keyword argument "temperature"' in errors[0]

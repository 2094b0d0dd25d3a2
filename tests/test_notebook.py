"""The example notebook runs headless in a real Jupyter kernel, against the emulator."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parent.parent / "examples" / "chatgpt4o.ipynb"


def cell_text(cell: Any) -> str:
    """What a cell showed: its stdout and the repr of its value."""
    parts: list[str] = []
    for output in cell.get("outputs", []):
        if output["output_type"] == "stream":
            parts.append(output["text"])
        elif output["output_type"] in ("execute_result", "display_data"):
            parts.append(output["data"].get("text/plain", ""))
        elif output["output_type"] == "error":
            parts.append(f"{output['ename']}: {output['evalue']}")
    return "".join(parts)


def test_committed_notebook_has_no_outputs() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.id


def test_notebook_runs_and_shows_the_answers() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("import sys; print(sys.executable)", id="which-python"))
    # The "python3" kernel spec runs the interpreter running the tests (jupyter_client
    # replaces a spec's "python" with sys.executable): no `ipykernel install` needed.
    NotebookClient(nb, timeout=60, kernel_name="python3").execute()
    shown = {cell.id: cell_text(cell) for cell in nb.cells if cell.cell_type == "code"}
    assert not any(cell.get("outputs") and cell.outputs[0]["output_type"] == "error" for cell in nb.cells)
    assert shown["start-emulator"].startswith("'http://127.0.0.1:")
    assert shown["ask"] == "'echo: Hello from Jupyter'"
    assert shown["create-async"] == "'echo: Hello from asyncio'"
    assert shown["conversation"] == "turns=1 last=My name is Ada.\nturns=3 last=What is my name?\n4"
    assert shown["stream"] == "echo: Streaming works piece by piece\n"
    assert shown["cleanup"] == ""
    assert Path(shown["which-python"].strip()) == Path(sys.executable)

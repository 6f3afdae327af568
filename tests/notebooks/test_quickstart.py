"""notebooks/quickstart.ipynb executes top to bottom (against the fake server here)."""

from __future__ import annotations

import socket
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "quickstart.ipynb"
CELL_TIMEOUT_S = 120


def test_quickstart_notebook_runs_top_to_bottom(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:  # a port nobody listens on: the notebook uses the fake
        sock.bind(("127.0.0.1", 0))
        monkeypatch.setenv("OLLAMA_BASE_URL", f"http://127.0.0.1:{sock.getsockname()[1]}")
    monkeypatch.setenv("ORQUESTRA_HOME_ROLE", "none")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    ).execute()
    text = "\n".join(
        str(out.get("text", "")) + str(out.get("data", {}).get("text/plain", ""))
        for cell in notebook.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
    )
    assert "using the fake server" in text
    assert "swapping brain → executor" in text
    assert "Answer: The script ran and printed 55" in text
    assert "'executor', 'brain'" in text

"""Every Python snippet of the README runs as written, on whichever backend `auto` picks.

Each snippet runs in a fresh interpreter in an empty directory, the way a reader pastes
it into a file. Without Ollama that is the embedded models (CI installs them); with
neither backend the snippets cannot run, and the test says so instead of failing.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from orquestra.backends.embedded import llama_available
from orquestra.backends.ollama import server_version
from orquestra.embedded import assets
from orquestra.runtime import OLLAMA_PROBE_TIMEOUT_S
from orquestra.settings import load_settings
from tests.orquestra.server.conftest import free_port

README = Path(__file__).resolve().parents[1] / "README.md"
# What each snippet must print, by a line of its code (each snippet is named by that line).
EXPECTED = {
    "create_smart_commander()": "55",
    "open_checkpointer(": "1048576",
    'await manager.ensure("brain")': "current_role",
    "run_python(extract_code(reply)": "55",
    "router = IntelligentRouter()": "code executor",
}
SNIPPET_TIMEOUT_S = 900


def snippets() -> list[str]:
    """The README's ```python blocks (fences at the start of a line)."""
    found = re.findall(r"^```python\n(.*?)^```$", README.read_text(encoding="utf-8"), re.M | re.S)
    return [str(block) for block in found]


def backend_available() -> bool:
    return server_version(load_settings().ollama_base_url, OLLAMA_PROBE_TIMEOUT_S) is not None or (
        llama_available() and assets.ready(load_settings().cache_dir)
    )


def test_every_snippet_has_an_expected_output() -> None:
    found = snippets()
    assert len(found) == len(EXPECTED)
    for marker in EXPECTED:
        assert sum(marker in code for code in found) == 1, marker


@pytest.mark.skipif(not backend_available(), reason="needs Ollama or the embedded models")
@pytest.mark.parametrize("marker", list(EXPECTED))
def test_the_readme_snippet_runs_as_written(marker: str, tmp_path: Path) -> None:
    [code] = [c for c in snippets() if marker in c]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORQUESTRA_")}
    # As a user runs it: the snippet starts its own `orquestra serve` (on a port of its own,
    # so no other scheduler on this machine answers), which exits soon after.
    env |= {"ORQUESTRA_SERVE_PORT": str(free_port()), "ORQUESTRA_SERVE_IDLE_S": "5"}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=SNIPPET_TIMEOUT_S,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert EXPECTED[marker] in done.stdout, done.stdout[-3000:]

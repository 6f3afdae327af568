"""Helpers of the sandbox tests: hostile runs that must end in time, leave nothing, leak nothing."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest

from tools.isolation import available_tiers
from tools.sandbox import MARKER_VAR, ExecutionResult, run_python, spare_markers

TIMEOUT_S = 2.0
BOUND_S = TIMEOUT_S + 1.5
SECRET = f"s3cr3t-{uuid.uuid4().hex}"
STRONG = [t for t in available_tiers() if t != "process"]


def plant_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """Put the canary secret in the application's environment, where a run must not see it."""
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("OLLAMA_HOST", f"http://{SECRET}:11434")


def leftovers(token: str | None = None) -> list[str]:
    """Processes of any sandbox run still alive (marker in environ, or token in cmdline)."""
    found = []
    spares = [f"{MARKER_VAR}={m}".encode() for m in spare_markers()]
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state == "Z" or any(spare in environ for spare in spares):
            continue
        ours = f"{MARKER_VAR}={os.getpid()}-".encode()  # other test runs may share the host
        if ours in environ or (token and token.encode() in cmdline):
            found.append(f"{entry}: {cmdline!r}")
    return found


def run_hostile(code: str, token: str | None = None, **kwargs: object) -> ExecutionResult:
    start = time.monotonic()
    result = run_python(code, timeout_s=TIMEOUT_S, **kwargs)  # type: ignore[arg-type]
    elapsed = time.monotonic() - start
    assert elapsed < BOUND_S, f"took {elapsed:.2f}s"
    assert leftovers(token) == []
    assert SECRET not in result.stdout + result.stderr
    assert result.error is None
    return result

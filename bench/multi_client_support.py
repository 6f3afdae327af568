"""Processes for bench/multi_client.py: the fake Ollama, `orquestra serve`, client processes.

Every cell gets a fresh fake (its own counters), its own cache directory and, in the
"orquestra serve" mode, its own `python -m orquestra.server` subprocess. Client processes
start, build their manager, print READY and wait for a "go" line on stdin, so interpreter
start-up is not timed; each then reports one RESULT line of JSON with its request
latencies, failures and the monotonic clock (shared by all processes on Linux) at its first
request and after its last.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from _common import ROOT

from tests.fakes.ollama import FakeOllama, FakeOllamaState, canonical, default_models

BRAIN = "qwen2.5-32b-instruct-moe-rtx"
EXECUTOR = "qwen2.5-coder:14b"
# How long one cell's clients may run before they are killed (their requests count failed).
CELL_TIMEOUT_S = 180.0

CLIENT = """
import asyncio, json, sys, time
from orquestra.runtime import get_model_manager

async def main(rounds: int, phase: int) -> None:
    manager = get_model_manager()
    print("READY", flush=True)
    sys.stdin.readline()
    latencies, errors = [], []
    first = time.monotonic()
    for i in range(rounds):
        start = time.monotonic()
        try:
            async with manager.use("brain" if (i + phase) % 2 == 0 else "executor") as chat:
                await chat.ainvoke("oi")
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}"[:300])
        else:
            latencies.append(time.monotonic() - start)
    last = time.monotonic()
    try:
        await manager.aclose()
    except Exception as exc:
        errors.append(f"aclose {type(exc).__name__}: {exc}"[:300])
    result = {"latencies": latencies, "errors": errors, "first": first, "last": last}
    print("RESULT " + json.dumps(result), flush=True)

asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fresh_fake(gen_s: float, load_s: float) -> tuple[FakeOllama, FakeOllamaState]:
    """A new strict fake (16 GiB card, 13 GiB brain, 9 GiB executor) and its state."""
    state = FakeOllamaState(default_models(), vram_total_gb=16.0, load_s=load_s)
    state.gen_s = {canonical(BRAIN): gen_s, canonical(EXECUTOR): gen_s}
    return FakeOllama(state).start(), state


def base_env(fake_url: str, workdir: Path) -> dict[str, str]:
    """The environment of every subprocess: the fake, both models, a private cache."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORQUESTRA_")}
    return env | {
        "PYTHONPATH": str(ROOT),
        "OLLAMA_BASE_URL": fake_url,
        "DEFAULT_MODEL": BRAIN,
        "EXECUTOR_MODEL": EXECUTOR,
        "ORQUESTRA_BACKEND": "ollama",
        "ORQUESTRA_VRAM_BUDGET_GB": "16",
        "ORQUESTRA_HOME_ROLE": "none",
        "ORQUESTRA_CACHE_DIR": str(workdir / "cache"),
        "ORQUESTRA_URL": "none",
    }


@contextmanager
def serve(env: dict[str, str], workdir: Path):  # type: ignore[no-untyped-def]
    """`python -m orquestra.server` on a free port; yields its URL, stops it afterwards."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = workdir / f"serve-{port}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "orquestra.server", "--port", str(port)],
            env=env,
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while not _answers(url):
                if proc.poll() is not None or time.monotonic() > deadline:
                    tail = log_path.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"orquestra serve did not start:\n{tail}")
                time.sleep(0.05)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/orquestra/status", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def status(url: str) -> dict[str, Any]:
    return httpx.get(f"{url}/orquestra/status", timeout=10).json()  # type: ignore[no-any-return]


def run_clients(n: int, rounds: int, env: dict[str, str], workdir: Path) -> list[dict[str, Any]]:
    """Start n client processes, release them together, and collect their RESULT lines.

    Client i starts with the brain when i is even, with the executor when odd (so the
    processes' alternations are out of phase, as independent users' would be).

    A client that dies or outlives CELL_TIMEOUT_S reports all its requests as failed
    (with the tail of its stderr as the error).
    """
    procs = []
    for i in range(n):
        err = (workdir / f"client-{i}.err").open("wb")
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", CLIENT, str(rounds), str(i % 2)],
                env=env,
                cwd=workdir,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
            )
        )
        err.close()
    for proc in procs:  # every manager is built before any request starts
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith(b"READY"):
            proc.kill()
    for proc in procs:
        if proc.poll() is None and proc.stdin is not None:
            proc.stdin.write(b"go\n")
            proc.stdin.flush()
    deadline = time.monotonic() + CELL_TIMEOUT_S
    results = []
    for i, proc in enumerate(procs):
        try:
            out, _ = proc.communicate(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        results.append(_result(out.decode(errors="replace"), rounds, workdir / f"client-{i}.err"))
    return results


def _result(out: str, rounds: int, err_path: Path) -> dict[str, Any]:
    for line in out.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])  # type: ignore[no-any-return]
    tail = err_path.read_text(errors="replace")[-300:] if err_path.exists() else ""
    reason = f"client process gave no result: {tail.strip() or 'killed'}"
    return {"latencies": [], "errors": [reason] * rounds, "first": None, "last": None}

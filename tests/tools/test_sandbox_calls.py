"""Calling the sandbox: async without blocking the loop, sync from anywhere, stdin, tracebacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tools.sandbox_support import plant_secret, run_hostile
from tools.sandbox import arun_python, run_python


@pytest.fixture(autouse=True)
def _secret_in_parent_env(monkeypatch: pytest.MonkeyPatch) -> None:
    plant_secret(monkeypatch)


async def test_async_runs_do_not_block_the_event_loop() -> None:
    import asyncio

    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    results = await asyncio.gather(
        *(arun_python("import time; time.sleep(0.3); print('done')", timeout_s=5) for _ in range(3))
    )
    task.cancel()
    assert [r.stdout for r in results] == ["done\n"] * 3
    assert ticks >= 10


async def test_run_python_works_from_inside_a_running_loop() -> None:
    assert run_python("print('sync inside async')", timeout_s=5).stdout == "sync inside async\n"


def test_stdin_is_fed_to_the_code() -> None:
    result = run_python("print(input()[::-1])", stdin="olá mundo\n", timeout_s=5)
    assert result.stdout == "odnum álo\n"


def test_tracebacks_point_at_the_users_code_only() -> None:
    result = run_hostile("x = 1\n\ndef f():\n    return 1 / 0\n\nf()")
    assert result.exit_code == 1
    assert 'File "main.py", line 4, in f' in result.stderr
    assert "return 1 / 0" in result.stderr and "ZeroDivisionError" in result.stderr
    assert "<string>" not in result.stderr and "exec(" not in result.stderr


def test_cold_start_without_a_spare_behaves_the_same() -> None:
    result = run_hostile("import sys; print(__name__, sys.argv)", warm=False)
    assert result.stdout == "__main__ ['main.py']\n"


def test_workdir_is_fresh_and_removed() -> None:
    first = run_hostile("import os; open('left.txt', 'w').write('x'); print(os.getcwd())")
    second = run_hostile("import os; print(os.getcwd(), os.listdir('.'))")
    assert first.stdout.strip() not in second.stdout
    assert "left.txt" not in second.stdout
    assert not Path(first.stdout.strip()).exists()


@pytest.mark.parametrize("cgroup", [True, False], ids=["cgroup", "watchdog"])
async def test_the_async_path_never_blocks_the_event_loop(
    cgroup: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `langgraph dev` enforces on graph nodes: blockbuster raises on blocking calls."""
    from blockbuster import blockbuster_ctx

    from tools.cgroups import RunCgroup

    if not cgroup:  # an ordinary user's run: the memory watchdog polls /proc
        monkeypatch.setattr(RunCgroup, "create", classmethod(lambda cls, *_: None))
    await arun_python("print(0)", timeout_s=5, warm=False)  # probes and first start: setup
    with blockbuster_ctx():
        done = await arun_python("print('ok')", timeout_s=5, warm=False)
        hung = await arun_python("import time; time.sleep(60)", timeout_s=0.5, warm=False)
    assert done.stdout == "ok\n" and done.error is None
    assert hung.timed_out and hung.exit_code == -9
    if not cgroup:
        assert "memory-watchdog" in done.isolation

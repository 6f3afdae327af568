"""Hostile code in the sandbox: each case returns a result, in bounded time, leaving nothing."""

from __future__ import annotations

import os
import socket
import time
import uuid
from pathlib import Path

import pytest

from tools.bootstrap import remove_tree
from tools.isolation import available_tiers
from tools.sandbox import MARKER_VAR, ExecutionResult, arun_python, run_python, spare_markers

TIMEOUT_S = 2.0
BOUND_S = TIMEOUT_S + 1.5
SECRET = f"s3cr3t-{uuid.uuid4().hex}"
STRONG = [t for t in available_tiers() if t != "process"]


@pytest.fixture(autouse=True)
def _secret_in_parent_env(monkeypatch: pytest.MonkeyPatch) -> None:
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


def test_plain_code_runs_and_reports_isolation() -> None:
    result = run_hostile("print(sum(range(1, 11)))")
    assert result.ok and result.stdout == "55\n" and result.stderr == ""
    assert result.isolation[0] == available_tiers()[0]
    assert "scrubbed-env" in result.isolation


def test_empty_code() -> None:
    result = run_hostile("")
    assert result.exit_code == 0 and result.stdout == ""


def test_syntax_error() -> None:
    result = run_hostile("def broken(:\n    pass")
    assert result.exit_code == 1 and "SyntaxError" in result.stderr


def test_non_zero_exit() -> None:
    result = run_hostile("import sys; print('partial'); sys.exit(3)")
    assert result.exit_code == 3 and result.stdout == "partial\n" and not result.ok


def test_infinite_loop_times_out() -> None:
    result = run_hostile("while True:\n    pass")
    assert result.timed_out and not result.ok


def test_long_sleep_times_out() -> None:
    result = run_hostile("import time; print('before', flush=True); time.sleep(3600)")
    assert result.timed_out and result.stdout == "before\n"


def test_huge_allocation_fails_inside_the_memory_cap() -> None:
    result = run_hostile("x = bytearray(8 * 1024**3)\nprint('allocated')")
    assert result.exit_code != 0 and not result.timed_out
    assert "MemoryError" in result.stderr and "allocated" not in result.stdout


def test_fork_bomb_is_contained() -> None:
    result = run_hostile(
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    )
    assert not result.ok


def test_child_outliving_its_parent_is_killed() -> None:
    token = "987654"
    result = run_hostile(
        f"import subprocess\nsubprocess.Popen(['sleep', '{token}'])\nprint('parent done')",
        token=token,
    )
    assert result.exit_code == 0 and result.stdout == "parent done\n"


def test_child_in_a_new_session_is_killed() -> None:
    token = "987655"
    result = run_hostile(
        f"import subprocess\nsubprocess.Popen(['sleep', '{token}'], start_new_session=True)",
        token=token,
    )
    assert result.exit_code == 0


@pytest.mark.skipif(not STRONG, reason="needs a PID-namespace tier (bwrap or unshare)")
def test_double_forked_daemon_with_scrubbed_env_is_killed() -> None:
    token = "987656"
    code = (
        "import os\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        f"        os.execve('/bin/sleep', ['sleep', '{token}'], {{}})\n"
        "    os._exit(0)\n"
        "print('parent done')\n"
    )
    result = run_hostile(code, token=token)
    assert result.exit_code == 0


def test_stdout_flood_is_capped() -> None:
    result = run_hostile(
        "import sys\nwhile True:\n    sys.stdout.write('x' * 4096)", max_output_bytes=10_000
    )
    assert result.truncated and "output truncated" in result.stdout
    assert len(result.stdout) < 10_200


def test_stderr_flood_is_capped() -> None:
    result = run_hostile(
        "import sys\nfor _ in range(200000):\n    sys.stderr.write('e' * 1000)",
        max_output_bytes=5_000,
    )
    assert result.truncated and "output truncated" in result.stderr
    assert len(result.stderr) < 5_200


def test_binary_output_is_decoded_with_replacement() -> None:
    result = run_hostile("import sys; sys.stdout.buffer.write(bytes(range(256)) + b'\\xff\\xfe')")
    assert result.exit_code == 0 and "\ufffd" in result.stdout and "ABC" in result.stdout


def test_huge_file_write_is_stopped_by_the_file_size_cap() -> None:
    code = (
        "f = open('big.bin', 'wb')\nchunk = b'0' * (1024 * 1024)\n"
        "for _ in range(4096):\n    f.write(chunk)\nprint('wrote 4 GB')"
    )
    result = run_hostile(code, max_file_mb=16)
    assert result.exit_code != 0 and "wrote 4 GB" not in result.stdout


def test_recursion_overflow() -> None:
    result = run_hostile("def f(n):\n    return f(n + 1)\nf(0)")
    assert result.exit_code == 1 and "RecursionError" in result.stderr


def test_unbounded_recursion_limit_still_ends() -> None:
    result = run_hostile(
        "import sys\nsys.setrecursionlimit(10**8)\ndef f(n):\n    return f(n + 1)\nf(0)"
    )
    assert not result.ok


def test_ignored_sigterm_still_ends_in_sigkill() -> None:
    result = run_hostile(
        "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(3600)"
    )
    assert result.timed_out


def test_parent_environment_is_not_inherited() -> None:
    result = run_hostile("import os; print(sorted(os.environ.items()))")
    assert "OPENAI_API_KEY" not in result.stdout and "OLLAMA" not in result.stdout


@pytest.mark.skipif(not STRONG, reason="needs a PID-namespace tier (bwrap or unshare)")
def test_reading_the_parents_proc_environ_finds_no_secret() -> None:
    code = (
        f"import os\nfor pid in ({os.getpid()}, os.getppid(), 1):\n"
        "    try:\n        print(open(f'/proc/{pid}/environ', 'rb').read())\n"
        "    except OSError as e:\n        print('blocked', e)"
    )
    run_hostile(code)


@pytest.mark.skipif(not STRONG, reason="needs a network-namespace tier")
def test_no_network_by_default() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        code = (
            f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), 1)\n"
            "    print('connected')\nexcept OSError as e:\n    print('refused', e)"
        )
        result = run_hostile(code)
    assert "connected" not in result.stdout and "no-network" in result.isolation


@pytest.mark.skipif("bwrap" not in available_tiers(), reason="needs bubblewrap")
def test_bwrap_gives_a_read_only_host_and_hides_home() -> None:
    project_file = Path(__file__).resolve()
    code = (
        f"import os\ntry:\n    open({str(project_file)!r}, 'a').write('x')\n"
        "    print('WROTE')\nexcept OSError as e:\n    print('read-only', e.errno)\n"
        "print('home', os.listdir('/home') if os.path.isdir('/home') else [])"
    )
    result = run_hostile(code, isolation="bwrap")
    assert "WROTE" not in result.stdout and "read-only" in result.stdout
    assert "home []" in result.stdout


@pytest.mark.parametrize("tier", available_tiers())
def test_every_available_tier_runs_code_and_kills_stragglers(tier: str) -> None:
    token = "987657"
    result = run_hostile(
        f"import subprocess\nsubprocess.Popen(['sleep', '{token}'], start_new_session=True)\n"
        "print('ok')",
        token=token,
        isolation=tier,
    )
    assert result.stdout == "ok\n" and result.isolation[0] == tier


def test_an_unknown_tier_is_reported_not_raised() -> None:
    result = run_python("print(1)", isolation="nonsense")  # type: ignore[arg-type]
    assert result.error and "nonsense" in result.error and result.exit_code is None


def test_the_setting_picks_the_tier_for_auto(monkeypatch: pytest.MonkeyPatch) -> None:
    for tier in available_tiers():
        monkeypatch.setenv("ORQUESTRA_SANDBOX", tier)
        result = run_python("print('ok')", timeout_s=10)
        assert result.stdout == "ok\n" and result.isolation[0] == tier
    monkeypatch.setenv("ORQUESTRA_SANDBOX", "auto")
    assert run_python("print(1)", timeout_s=10).isolation[0] == available_tiers()[0]


def test_a_bad_setting_is_an_error_not_a_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORQUESTRA_SANDBOX", "strongest-please")
    result = run_python("print(1)", timeout_s=10)
    assert result.error and "ORQUESTRA_SANDBOX" in result.error and result.stdout == ""


def test_an_unavailable_tier_is_an_error_never_a_weaker_tier(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    missing = [t for t in ("bwrap", "unshare", "process") if t not in available_tiers()]
    if not missing:
        pytest.skip("every tier is available here")
    monkeypatch.setenv("ORQUESTRA_SANDBOX", missing[0])
    result = run_python("print(1)", timeout_s=10)
    assert result.error and missing[0] in result.error
    assert result.exit_code is None and result.isolation == ()


@pytest.mark.parametrize("tier", STRONG)
def test_the_private_tmp_and_dev_shm_have_the_disk_cap(tier: str) -> None:
    code = (
        "import os\nfor d in ('.', '/tmp', '/dev/shm'):\n"
        "    try:\n        with open(f'{d}/fill', 'wb') as f:\n"
        "            for _ in range(40):\n                f.write(b'0' * 1024 * 1024)\n"
        "        print(d, 'WROTE 40 MB')\n"
        "    except OSError as e:\n        print(d, 'full', e.errno)"
    )
    result = run_hostile(code, isolation=tier, max_disk_mb=16, max_file_mb=64)
    assert "WROTE" not in result.stdout and result.stdout.count("full 28") == 3  # ENOSPC


@pytest.mark.parametrize("tier", available_tiers())
def test_network_can_be_allowed(tier: str) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        code = (
            f"import socket\nsocket.create_connection(('127.0.0.1', {port}), 2)\nprint('connected')"
        )
        result = run_hostile(code, isolation=tier, network=True)
    assert result.stdout == "connected\n" and "no-network" not in result.isolation


def test_remove_tree_handles_depth_and_locked_directories(tmp_path: Path) -> None:
    top = tmp_path / "tree"
    top.mkdir()
    fd = os.open(top, os.O_RDONLY)
    for _ in range(3000):  # far deeper than PATH_MAX and the recursion limit
        os.mkdir("d", dir_fd=fd)
        child = os.open("d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = child
    os.close(fd)
    (top / "locked" / "inner").mkdir(parents=True)
    (top / "locked" / "inner" / "f").write_text("x")
    os.chmod(top / "locked" / "inner", 0)
    os.chmod(top / "locked", 0)
    assert remove_tree(str(top)) and not top.exists()


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

"""Hostile code in the sandbox: each case returns a result, in bounded time, leaving nothing."""

from __future__ import annotations

import pytest

from tests.tools.sandbox_support import STRONG, plant_secret, run_hostile
from tools.isolation import available_tiers


@pytest.fixture(autouse=True)
def _secret_in_parent_env(monkeypatch: pytest.MonkeyPatch) -> None:
    plant_secret(monkeypatch)


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

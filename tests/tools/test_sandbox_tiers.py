"""The sandbox's tiers: the environment, network, filesystem and disk each tier gives the code."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from tests.tools.sandbox_support import STRONG, plant_secret, run_hostile
from tools.isolation import available_tiers
from tools.sandbox import run_python


@pytest.fixture(autouse=True)
def _secret_in_parent_env(monkeypatch: pytest.MonkeyPatch) -> None:
    plant_secret(monkeypatch)


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

"""The application killed mid-run, in every tier and identity: no process or work dir is left."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from pathlib import Path

import pytest

from tests.tools.hostile_suite import PAIRS, Suite, _run_app, _wait_gone, sandbox_processes
from tests.tools.hostile_world import IDENTITIES, TIERS

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the hostile suite needs Linux"
)

HANGING = r"""
import os, subprocess, time
subprocess.Popen(["sleep", "3600.@TOKEN@"])
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execve("/bin/sleep", ["sleep", "3601.@TOKEN@"], {})
    os._exit(0)
print("CWD", os.getcwd(), flush=True)
time.sleep(3600)
"""


@pytest.mark.parametrize("who,tier", PAIRS, ids=[f"{w}-{t}" for w, t in PAIRS])
def test_killing_the_application_mid_run_leaves_nothing(suite: Suite, who: str, tier: str) -> None:
    if not suite.available(who, tier):
        pytest.skip(f"the {tier} tier is not available to {who} here")
    world = suite.world(who)
    token = f"{suite.token}9{TIERS.index(tier)}{IDENTITIES.index(who)}"
    spec = {
        "secret": world.secret,
        "secret_file": str(world.app_dir / "secret.txt"),
        "port": suite.server.port,
        "token": token,
        "python": suite.python_for(world, tier),
        "jobs": [{"name": "hang", "code": HANGING, "kwargs": {"isolation": tier, "timeout_s": 99}}],
    }
    app = _run_app(world, spec, None)
    try:
        not_started = _wait_gone(
            lambda: not [p for p in sandbox_processes(app.pid, token) if "3601" in p], 60
        )
        assert not not_started, "the hanging code never started"
        os.kill(app.pid, signal.SIGKILL)
        app.wait()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(app.pid, signal.SIGKILL)
    assert _wait_gone(lambda: sandbox_processes(app.pid, token), 3.0) == []
    assert _wait_gone(lambda: list(Path("/tmp").glob(f"orq-sbx-{app.pid}-*")), 3.0) == []

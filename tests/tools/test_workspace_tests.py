"""A project's own tests, run in the sandbox on a workspace copy: outcomes, limits, hostility."""

from __future__ import annotations

import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.tools.sandbox_support import STRONG
from tests.tools.workspace_support import ADD, CALC_FIXED, MUL, make_project, tree
from tools.project_tests import arun_project_tests, judge_fix
from tools.workspace_copy import WorkspaceCopy, acopy_workspace, adiscard, awrite_files

HOSTILE_TESTS = """
import os, socket

SOURCE = {source!r}
COPY = {copy!r}
CANARY = {canary!r}
HOST_HOME = {home!r}
PWNED = {pwned!r}
PORT = {port}


def test_reads_a_file_in_the_users_home():
    print(open(CANARY).read())


def test_lists_the_users_home():
    assert os.path.basename(CANARY) in os.listdir(HOST_HOME)


def test_reads_root_and_ssh_keys():
    found = os.listdir("/root") + os.listdir(os.path.join(HOST_HOME, ".ssh"))
    assert found


def test_writes_the_source_by_absolute_path():
    with open(os.path.join(SOURCE, "calc.py"), "w") as f:
        f.write("HACKED = True\\n")


def test_writes_the_copy_by_absolute_path():
    with open(os.path.join(COPY, "calc.py"), "w") as f:
        f.write("HACKED = True\\n")


def test_writes_the_users_home():
    with open(PWNED, "w") as f:
        f.write("pwned")


def test_reaches_the_network():
    socket.create_connection(("127.0.0.1", PORT), timeout=2).close()


def test_its_own_directory_is_writable():
    with open("scratch.txt", "w") as f:
        f.write("ok")
    assert open("scratch.txt").read() == "ok"
    assert os.path.expanduser("~") != HOST_HOME
"""
HOSTILE = "tests/test_hostile.py::"
ATTACKS = (
    "test_reads_a_file_in_the_users_home",
    "test_lists_the_users_home",
    "test_reads_root_and_ssh_keys",
    "test_writes_the_source_by_absolute_path",
    "test_writes_the_copy_by_absolute_path",
    "test_writes_the_users_home",
    "test_reaches_the_network",
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "project")


@pytest.fixture
async def copy(project: Path) -> AsyncIterator[WorkspaceCopy]:
    made = await acopy_workspace(project)
    yield made
    await adiscard(made)


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.setblocking(False)
    yield server
    server.close()


async def test_each_tests_outcome_is_reported_and_a_fix_is_judged_by_them(
    copy: WorkspaceCopy,
) -> None:
    before = await arun_project_tests(copy, timeout_s=60)

    assert before.error is None, before.output
    assert before.passed == {MUL} and before.failed == {ADD}
    assert before.exit_code == 1 and not before.ok and not before.timed_out
    assert "assert -1 == 5" in before.output
    assert before.command == ("python", "-m", "pytest", "-q", "-rfE")

    await awrite_files(copy, {"calc.py": CALC_FIXED})
    after = await arun_project_tests(copy, timeout_s=60)

    assert after.passed == {ADD, MUL} and not after.failed
    assert after.exit_code == 0 and after.ok
    verdict = judge_fix(before, after)
    assert verdict.ok and verdict.fixed == {ADD}


@pytest.mark.parametrize("tier", STRONG)
async def test_hostile_tests_reach_neither_the_users_home_nor_the_source_nor_the_network(
    project: Path, tmp_path: Path, listener: socket.socket, tier: str
) -> None:
    secret = f"canary-{uuid.uuid4().hex}"
    home = Path.home()
    pwned = home / f".orq-pwned-{uuid.uuid4().hex}"
    with tempfile.NamedTemporaryFile("w", dir=home, prefix=".orq-canary-") as canary:
        canary.write(secret)
        canary.flush()
        copy = await acopy_workspace(project)
        try:
            hostile = HOSTILE_TESTS.format(
                source=str(project),
                copy=str(copy.root),
                canary=canary.name,
                home=str(home),
                pwned=str(pwned),
                port=listener.getsockname()[1],
            )
            await awrite_files(copy, {"tests/test_hostile.py": hostile})
            source_before, copy_before = tree(project), (copy.root / "calc.py").read_bytes()
            report = await arun_project_tests(copy, timeout_s=60, isolation=tier)  # type: ignore[arg-type]
            assert (copy.root / "calc.py").read_bytes() == copy_before
        finally:
            await adiscard(copy)

    assert report.error is None, report.output
    assert report.failed >= {HOSTILE + attack for attack in ATTACKS}, report.output
    assert HOSTILE + "test_its_own_directory_is_writable" in report.passed
    assert secret not in report.output
    assert tree(project) == source_before
    assert not pwned.exists()
    with pytest.raises(BlockingIOError):
        listener.accept()  # nothing ever connected


async def test_a_hung_test_fails_at_the_deadline_and_the_finished_ones_still_count(
    copy: WorkspaceCopy,
) -> None:
    await awrite_files(
        copy,
        {
            "calc.py": CALC_FIXED,
            "tests/test_zz_hang.py": "import time\n\ndef test_hangs():\n    time.sleep(600)\n",
        },
    )
    report = await arun_project_tests(copy, timeout_s=8)

    assert report.timed_out and not report.ok
    assert "tests/test_zz_hang.py::test_hangs" in report.failed
    assert report.passed == {ADD, MUL}


async def test_a_file_that_cannot_be_collected_fails_and_the_others_still_run(
    copy: WorkspaceCopy,
) -> None:
    await awrite_files(copy, {"tests/test_broken.py": "def test_x(:\n    pass\n"})
    report = await arun_project_tests(copy, timeout_s=60)

    assert report.failed == {"tests/test_broken.py", ADD}
    assert report.passed == {MUL}


async def test_another_command_runs_as_given_with_its_exit_status(copy: WorkspaceCopy) -> None:
    command = ["python", "-c", "import calc, sys; print('add is', calc.add(2, 3)); sys.exit(3)"]
    report = await arun_project_tests(copy, command, timeout_s=60)

    assert report.command == tuple(command)
    assert report.exit_code == 3 and not report.ok
    assert "add is -1" in report.output
    assert report.passed == report.failed == frozenset()

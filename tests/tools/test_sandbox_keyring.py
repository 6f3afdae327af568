"""The kernel keyring as root: a run's uid keeps no key from one run to the next.

Kernel keyrings outlive processes: a key in a uid's user keyring stays until it is
removed, so a run that could add one would hand it to every later run that draws the
same uid. Each test pins the uid the two runs draw (the uid of a real run, drawn once).
The user's side (an ordinary user's own keys, every tier) is in the hostile suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest

from tests.tools.hostile_world import SETPRIV, SYSTEM_PYTHON
from tools.identity import RunIdentity, new_run_identity
from tools.isolation import available_tiers, is_root
from tools.launcher import spawn
from tools.sandbox import ExecutionResult, run_python

# add_key, request_key, keyctl by architecture (the tests know no other).
KEY_SYSCALLS = {"x86_64": (248, 249, 250), "aarch64": (217, 218, 219)}
PYTHON = SYSTEM_PYTHON if os.path.exists(SYSTEM_PYTHON) else sys.executable
TIERS = available_tiers(PYTHON) if is_root() else ()

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux")
    or not is_root()
    or SETPRIV is None
    or os.uname().machine not in KEY_SYSCALLS,
    reason="needs root on Linux (x86_64 or aarch64) with setpriv",
)

PRELUDE = r"""
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
ADD_KEY, REQUEST_KEY, KEYCTL = @NUMBERS@
KEY_SPEC_SESSION_KEYRING, KEY_SPEC_USER_KEYRING = -3, -4
KEYCTL_DESCRIBE, KEYCTL_READ = 6, 11
print("uid", os.getuid())

def call(*args):
    ctypes.set_errno(0)
    wrapped = [a if isinstance(a, (bytes, ctypes.Array)) or a is None else ctypes.c_long(a)
               for a in args]
    return libc.syscall(*wrapped), ctypes.get_errno()
"""

ADD = (
    PRELUDE
    + r"""
for ring in (KEY_SPEC_USER_KEYRING, KEY_SPEC_SESSION_KEYRING):
    print("add_key", *call(ADD_KEY, b"user", b"@NAME@", b"left behind", 11, ring))
"""
)

LOOK = (
    PRELUDE
    + r"""
buf = ctypes.create_string_buffer(4096)
for ring in (KEY_SPEC_USER_KEYRING, KEY_SPEC_SESSION_KEYRING):
    n, _ = call(KEYCTL, KEYCTL_READ, ring, buf, len(buf))
    for i in range(0, max(0, min(n, len(buf))), 4):
        serial = int.from_bytes(buf.raw[i : i + 4], "little")
        name = ctypes.create_string_buffer(512)
        if call(KEYCTL, KEYCTL_DESCRIBE, serial, name, len(name))[0] > 0:
            print("FOUND in keyring", name.value)
serial, _ = call(REQUEST_KEY, b"user", b"@NAME@", None, 0)
if serial > 0:
    print("FOUND by request_key", serial, call(KEYCTL, KEYCTL_READ, serial, buf, len(buf)))
try:
    with open("/proc/keys") as keys:
        print("FOUND in /proc/keys", [line for line in keys if "@NAME@" in line])
except OSError as e:
    print("/proc/keys blocked", e)
"""
)

# Run as the pinned uid after the test: empties its user keyring, should a run have added.
CLEAR_USER_KEYRING = (
    "import ctypes; KEYCTL = {numbers}[2]; "
    "ctypes.CDLL(None).syscall(ctypes.c_long(KEYCTL), ctypes.c_long(7), ctypes.c_long(-4))"
)


def _run(code: str, tier: str, name: str) -> ExecutionResult:
    numbers = repr(KEY_SYSCALLS[os.uname().machine])
    source = code.replace("@NUMBERS@", numbers).replace("@NAME@", name)
    result = run_python(source, isolation=tier, python=PYTHON, warm=False, timeout_s=10)  # type: ignore[arg-type]
    assert result.error is None and result.exit_code == 0, result
    return result


def _clear_user_keyring(uid: int) -> None:
    code = CLEAR_USER_KEYRING.format(numbers=repr(KEY_SYSCALLS[os.uname().machine]))
    as_uid = [SETPRIV or "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
    subprocess.run(
        [*as_uid, PYTHON, "-I", "-c", code],
        check=False,
        timeout=30,
    )


@pytest.mark.parametrize("tier", TIERS)
def test_a_key_a_run_adds_never_reaches_a_later_run_of_the_same_uid(
    tier: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    identity = new_run_identity()
    assert isinstance(identity, RunIdentity)
    monkeypatch.setattr(spawn, "new_run_identity", lambda: identity)
    name = f"orq-left-{uuid.uuid4().hex}"
    first = _run(ADD, tier, name)
    adds = [
        int(line.split()[1]) for line in first.stdout.splitlines() if line.startswith("add_key")
    ]
    try:
        second = _run(LOOK, tier, name)
    finally:
        if any(serial > 0 for serial in adds):
            _clear_user_keyring(identity.uid)  # a failing sandbox let the key through
    assert first.stdout.splitlines()[0] == second.stdout.splitlines()[0] == f"uid {identity.uid}"
    assert name not in second.stdout and "FOUND by" not in second.stdout, second.stdout
    assert len(adds) == 2 and all(serial < 0 for serial in adds), first.stdout

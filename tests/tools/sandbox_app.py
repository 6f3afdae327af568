"""A stand-in application for the hostile sandbox tests: it holds canaries and runs code.

`python tests/tools/sandbox_app.py SPEC.json` starts like Orquestra would (tools from the
checkout, secrets in its environment), then runs each job of the spec through
`run_python` and prints one JSON document: per job, the result, whether `run_python`
raised, how long the call took, and whether the canary in this process's memory is
intact. Job code may use placeholders (@APP_PID@, @CANARY_ADDR@, ...) for what a real
attacker would find out by looking around.

Before the jobs it puts a key holding the secret in its user keyring and one in its
session keyring (`@KEY_SERIALS@`, `@KEY_NAMES@`), and unlinks them after the jobs (they
also expire on their own, should this process die first).

A job with `check` (a request and a candidate) runs the candidate against the request's
checks, as `tools.checks.arun_checked` does, and says whether it was `accepted`.

`{"probe": true}` only reports the tiers available to this process.
"""

from __future__ import annotations

import ctypes
import json
import os
import secrets
import site
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tools.checks import NONCE_BYTES, check_program, check_secret, judge
from tools.isolation import available_tiers
from tools.launcher import POOL
from tools.sandbox import ExecutionResult, run_python
from tools.spec import read_spec

# add_key and keyctl by architecture; the keyrings and keyctl operations the canaries use.
KEY_SYSCALLS = {"x86_64": (248, 250), "aarch64": (217, 219)}
KEY_SPEC_SESSION_KEYRING = -3
KEY_SPEC_USER_KEYRING = -4
KEYCTL_UNLINK = 9
KEYCTL_SET_TIMEOUT = 15
# A canary key expires on its own after this long (longer than a batch may take), whatever
# happens to this process: the app-death tests kill it before it can unlink them.
KEY_LIFETIME_S = 300


def _key_syscall(*args: int | bytes) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    return int(libc.syscall(*(a if isinstance(a, bytes) else ctypes.c_long(a) for a in args)))


def plant_keys(token: str, secret: str) -> dict[str, tuple[int, int]]:
    """Canary keys holding `secret` in this process's user and session keyrings.

    Returns each key's name, and its serial and keyring.
    """
    numbers = KEY_SYSCALLS.get(os.uname().machine) if sys.platform == "linux" else None
    if numbers is None:
        return {}
    add_key, keyctl = numbers
    planted = {}
    for ring, label in ((KEY_SPEC_USER_KEYRING, "user"), (KEY_SPEC_SESSION_KEYRING, "session")):
        name, payload = f"orq-canary-{token}-{label}", f"{secret}-{label}".encode()
        serial = _key_syscall(add_key, b"user", name.encode(), payload, len(payload), ring)
        if serial > 0:
            _key_syscall(keyctl, KEYCTL_SET_TIMEOUT, serial, KEY_LIFETIME_S)
            planted[name] = (serial, ring)
    return planted


def remove_keys(planted: dict[str, tuple[int, int]]) -> None:
    """Unlink the canary keys from their keyrings (the kernel then frees them)."""
    for serial, ring in planted.values():
        _key_syscall(KEY_SYSCALLS[os.uname().machine][1], KEYCTL_UNLINK, serial, ring)


def run_checked(check: dict[str, str], kwargs: dict[str, Any]) -> tuple[ExecutionResult, bool]:
    """The checked run of `check`'s candidate against its request, and whether it passed."""
    spec = read_spec(check["request"])
    nonce = secrets.token_hex(NONCE_BYTES)
    program = check_program(check["candidate"], spec)
    result = run_python(program, stdin=check_secret(spec, nonce), **kwargs)
    checked = judge(result, spec, nonce)
    return checked.result, checked.accepted


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    if spec.get("probe"):
        print(json.dumps({"tiers": list(available_tiers(spec.get("python"))), "pid": os.getpid()}))
        return
    secret = spec["secret"]
    os.environ["OPENAI_API_KEY"] = secret
    os.environ["OLLAMA_HOST"] = f"http://127.0.0.1:{spec['port']}"
    canary = bytearray(b"CANARY-" + secret.encode())
    original = bytes(canary)
    view = (ctypes.c_char * len(canary)).from_buffer(canary)
    secret_fd = os.open(spec["secret_file"], os.O_RDONLY)
    keys = plant_keys(spec["token"], secret)
    values = {
        "@APP_PID@": str(os.getpid()),
        "@CANARY_ADDR@": str(ctypes.addressof(view)),
        "@CANARY_LEN@": str(len(canary)),
        "@SECRET_FD@": str(secret_fd),
        "@APP_DIR@": os.getcwd(),
        "@HOME@": os.environ.get("HOME", "/root"),
        "@SITE_DIRS@": repr(site.getsitepackages()),
        "@PORT@": str(spec["port"]),
        "@TOKEN@": spec["token"],
        "@SLEEPER_PID@": str(spec.get("sleeper_pid", 0)),
        "@CACHE_FILE@": spec.get("cache_file", "/nonexistent"),
        "@MOUNT_TARGET@": spec.get("mount_target", "/nonexistent"),
        "@TTY@": os.ttyname(0) if os.isatty(0) else "/nonexistent",
        "@KEY_SERIALS@": repr(sorted(serial for serial, _ in keys.values())),
        "@KEY_NAMES@": repr(sorted(keys)),
    }
    results = []
    for job in spec["jobs"]:
        if job.get("settle"):
            POOL.wait_idle(10)
        code = job.get("code", "").replace("@SPARE_PIDS@", repr(sorted(POOL.pids())))
        for key, value in values.items():
            code = code.replace(key, value)
        kwargs = dict(job.get("kwargs", {}))
        if spec.get("python"):
            kwargs.setdefault("python", spec["python"])
        start = time.monotonic()
        entry: dict[str, object] = {"name": job["name"]}
        try:
            if "check" in job:
                result, entry["accepted"] = run_checked(job["check"], kwargs)
            else:
                result = run_python(code, **kwargs)
            entry.update(
                stdout=result.stdout,
                stderr=result.stderr,
                exit_code=result.exit_code,
                timed_out=result.timed_out,
                duration_s=result.duration_s,
                error=result.error,
                isolation=list(result.isolation),
                limit_exceeded=result.limit_exceeded,
                raised=None,
            )
        except BaseException as exc:  # the test fails on this: run_python must not raise
            entry["raised"] = repr(exc)
        entry["wall_s"] = time.monotonic() - start
        entry["canary_intact"] = bytes(canary) == original
        results.append(entry)
        print(json.dumps({"done": job["name"]}), file=sys.stderr, flush=True)
    del view
    remove_keys(keys)
    print(json.dumps(results), flush=True)


if __name__ == "__main__":
    main()

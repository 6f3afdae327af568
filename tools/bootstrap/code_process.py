"""The code's process: forked by the supervisor, it drops every privilege, then runs the code.

Part of the sandbox's bootstrap (see `tools.bootstrap`): standard library only. The code
is never run half-confined: any failure to confine ends the process with status 125.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import traceback
from typing import Any

from tools.bootstrap.landlock import SYS_LANDLOCK_RESTRICT_SELF
from tools.bootstrap.native import PR_SET_PDEATHSIG, check, libc, set_process_attribute
from tools.bootstrap.privileges import drop_privileges
from tools.bootstrap.seccomp import install_seccomp


def run_code(source: bytes) -> None:
    """Run `source` as `__main__` from main.py, printing tracebacks without our frames."""
    with open("main.py", "wb") as script:
        script.write(source)
    sys.argv = ["main.py"]
    namespace = {"__name__": "__main__", "__file__": "main.py", "__builtins__": __builtins__}
    try:
        code = compile(source, "main.py", "exec")
    except (SyntaxError, ValueError) as error:
        traceback.print_exception(type(error), error, None)
        sys.exit(1)
    try:
        exec(code, namespace)
    except SystemExit:
        raise
    except BaseException as error:
        tb = error.__traceback__.tb_next if error.__traceback__ else None
        traceback.print_exception(type(error), error, tb)
        sys.exit(1)


def run_confined(
    cfg: dict[str, Any],
    source: bytes,
    ruleset: int,
    seccomp: list[tuple[int, int, int, int]],
    supervisor: int,
) -> None:
    """The forked child: lose every privilege, then run the code (never returns)."""
    try:
        os.close(cfg["status_fd"])
        if sys.platform.startswith("linux"):
            set_process_attribute(PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() != supervisor:
                os._exit(137)
        for signum in {signal.SIGTERM, signal.SIGHUP, signal.SIGINT, cfg["pdeath_signal"]}:
            if signum != signal.SIGKILL:  # the supervisor's handlers are not the code's
                signal.signal(signum, signal.SIG_DFL)
        os.setpgid(0, 0)
        if sys.platform.startswith("linux"):
            drop_privileges(cfg.get("uid"), cfg.get("gid"))
            if ruleset >= 0:
                check(
                    libc().syscall(SYS_LANDLOCK_RESTRICT_SELF, ruleset, 0), "landlock_restrict_self"
                )
                os.close(ruleset)
            install_seccomp(seccomp)
        os.makedirs(cfg["workdir"], mode=0o700, exist_ok=True)
        os.chdir(cfg["workdir"])
    except BaseException as error:  # never run the code half-confined
        os.write(2, f"sandbox: could not confine the code: {error}\n".encode())
        os._exit(125)
    try:
        run_code(source)
        status = 0
    except SystemExit as done:
        status = _exit_status(done.code)
    _finish(status)


def _exit_status(code: object) -> int:
    """The status `sys.exit(code)` gives, as the interpreter computes it."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def _finish(status: int) -> None:
    """End the code's process as the interpreter would, without tearing every module down.

    Like interpreter shutdown it waits for the code's non-daemon threads, runs its atexit
    handlers and flushes the standard streams; then it exits at once (a full finalization
    costs more than a small script's whole run).
    """
    threading_module = sys.modules.get("threading")
    if threading_module is not None:
        with contextlib.suppress(Exception):
            threading_module._shutdown()
    import atexit

    with contextlib.suppress(Exception):
        atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(status)

"""One set-up phase of `make demo` / `make test`, never silent: `python3 phases.py TITLE -- CMD`.

Runs CMD with its output in a log (`.venv/setup.log`), prints the phase's title with what
it is doing and about how long that takes, then a line with the elapsed time and the
command's latest line of output every `TICK_S` seconds, and at the end the phase's time (or
the log's last lines when it failed). Standard library only: it runs before the virtual
environment exists, as a file (`python3 orquestra/app/phases.py`), not as a module.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

# Seconds between two progress lines while a phase runs.
TICK_S = 15.0
# Lines of the log shown when a phase fails.
FAILURE_TAIL = 30
LOG = Path(".venv") / "setup.log"


def _elapsed(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest:02d} s" if minutes else f"{rest} s"


def _latest(path: Path) -> str:
    try:
        with path.open("rb") as log:
            log.seek(0, 2)
            log.seek(max(log.tell() - 4096, 0))
            lines = [x.strip() for x in log.read().decode(errors="replace").splitlines()]
    except OSError:
        return ""
    last = next((line for line in reversed(lines) if line), "")
    return last if len(last) <= 90 else last[:87] + "..."


def run_phase(title: str, command: list[str], log_path: Path = LOG) -> int:
    """Run `command` as one phase; return its exit status."""
    start = time.monotonic()
    print(f"==> {title}", flush=True)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        log.write(f"\n==> {title}\n$ {' '.join(command)}\n".encode())
        log.flush()
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        done = threading.Event()

        def tick() -> None:
            while not done.wait(TICK_S):
                latest = _latest(log_path)
                print(f"    ... {_elapsed(time.monotonic() - start)}: {latest}", flush=True)

        ticker = threading.Thread(target=tick, daemon=True)
        ticker.start()
        status = process.wait()
        done.set()
        ticker.join()
    took = _elapsed(time.monotonic() - start)
    if status == 0:
        print(f"    done in {took}", flush=True)
        return 0
    print(f"    FAILED after {took} (exit {status}); the end of {log_path}:", flush=True)
    tail = log_path.read_text(errors="replace").splitlines()[-FAILURE_TAIL:]
    print("\n".join(f"    | {line}" for line in tail), flush=True)
    return status


def main(argv: list[str]) -> int:
    """`phases.py TITLE -- CMD ARGS...`."""
    if "--" not in argv or argv.index("--") != 1 or len(argv) < 3:
        print("usage: phases.py TITLE -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    return run_phase(argv[0], argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

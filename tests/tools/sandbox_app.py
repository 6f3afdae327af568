"""A stand-in application for the hostile sandbox tests: it holds canaries and runs code.

`python tests/tools/sandbox_app.py SPEC.json` starts like Orquestra would (tools from the
checkout, secrets in its environment), then runs each job of the spec through
`run_python` and prints one JSON document: per job, the result, whether `run_python`
raised, how long the call took, and whether the canary in this process's memory is
intact. Job code may use placeholders (@APP_PID@, @CANARY_ADDR@, ...) for what a real
attacker would find out by looking around.

`{"probe": true}` only reports the tiers available to this process.
"""

from __future__ import annotations

import ctypes
import json
import os
import site
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tools.isolation import available_tiers
from tools.launcher import POOL
from tools.sandbox import run_python


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
    }
    results = []
    for job in spec["jobs"]:
        if job.get("settle"):
            POOL.wait_idle(10)
        code = job["code"].replace("@SPARE_PIDS@", repr(sorted(POOL.pids())))
        for key, value in values.items():
            code = code.replace(key, value)
        kwargs = dict(job.get("kwargs", {}))
        if spec.get("python"):
            kwargs.setdefault("python", spec["python"])
        start = time.monotonic()
        entry: dict[str, object] = {"name": job["name"]}
        try:
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
    print(json.dumps(results), flush=True)


if __name__ == "__main__":
    main()

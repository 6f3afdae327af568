"""The hostile attacks on resources and on other runs, and the batch one application runs."""

from __future__ import annotations

from typing import Any

from tests.tools.hostile_attacks import (
    APP_FDS,
    APP_MEMORY,
    ENVIRON,
    HOST_WRITES,
    KERNEL_AND_MOUNTS,
    KEYRING,
    KILL_OTHERS,
    LINKS,
    NETWORK,
    PRIVILEGES,
    SECRETS_ON_DISK,
    TIOCSTI,
)
from tests.tools.hostile_candidates import ADD_REQUEST, FORGERS, HONEST_ADD
from tests.tools.hostile_world import SHORT_TIMEOUT_S

SEGFAULT = "import ctypes\nprint('before', flush=True)\nctypes.string_at(0)"

FORK_BOMB = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"

DEEP_AND_LOCKED = r"""
import os
top = os.getcwd()
print("CWD", top, flush=True)
for _ in range(3000):
    os.mkdir("d")
    os.chdir("d")
os.chdir(top)
os.makedirs("locked/inner")
open("locked/inner/f", "w").write("x")
os.chmod("locked/inner", 0)
os.chmod("locked", 0)
os.chmod(".", 0o500)
print("built")
"""

HARD_LINK_FLOOD = r"""
import os
print("CWD", os.getcwd(), flush=True)
os.mkdir("d")
src, n = "f0", 0
open(src, "w").close()
while True:
    try:
        os.link(src, f"d/{n}")
        n += 1
    except OSError:
        src = f"f{n}"
        open(src, "w").close()
"""

# Eight processes of 200 MB each, all alive at once, is 1.6 GB: far over 512 MB in total.
MEMORY_TOTAL = r"""
import os, time
r, w = os.pipe()
for _ in range(8):
    if os.fork() == 0:
        block = b"\x01" * (200 * 1024 * 1024)
        os.write(w, b"1")
        time.sleep(60)
        os._exit(0)
held = 0
while held < 8:
    held += len(os.read(r, 8))
print("ALL HELD", flush=True)
time.sleep(60)
"""

# tmpfs is memory: 300 MB in /dev/shm must count toward a 200 MB cap.
TMPFS_MEMORY = r"""
import time
try:
    with open("/dev/shm/orq-residue-big-@TOKEN@", "wb") as f:
        for _ in range(300):
            f.write(b"0" * 1024 * 1024)
    print("WROTE 300 MB", flush=True)
except OSError as e:
    print("blocked", e, flush=True)
time.sleep(3)
"""

RESIDUE = r"""
import os
for d in ("/dev/shm", "/tmp", "/var/tmp"):
    try:
        with open(f"{d}/orq-residue-@TOKEN@", "w") as f:
            f.write("x")
        print("WROTE", d)
    except OSError as e:
        print("blocked", d, e)
"""

# Targets: the application and every sandbox process of it the code can find (never all
# the machine's pipes: a failing sandbox must not scribble over unrelated programs).
SPARE_INJECTION = r"""
import glob, os
payload = b"RUN\nprint('INJECTED-@TOKEN@')\n#"
marker = b"ORQUESTRA_SANDBOX_RUN=@APP_PID@-"
pids = set(@SPARE_PIDS@) | {@APP_PID@}
for entry in glob.glob("/proc/[0-9]*/environ"):
    try:
        if marker in open(entry, "rb").read():
            pids.add(int(entry.split("/")[2]))
    except OSError:
        pass
hits = 0
for pid in pids - {os.getpid()}:
    for fd in glob.glob(f"/proc/{pid}/fd/*"):
        try:
            if not os.readlink(fd).startswith("pipe:"):
                continue
            w = os.open(fd, os.O_WRONLY | os.O_NONBLOCK)
            os.write(w, payload)
            os.close(w)
            hits += 1
        except OSError:
            pass
print("targets", len(pids), "hits", hits)
"""

# Candidates run against the checks (`"check"` jobs): the verdict must be the checks' own.
CHECKED = (
    ("honest", HONEST_ADD),
    ("forged_tally", FORGERS["tally_then_os_exit"]),
    ("memory", FORGERS["expected_read_from_process_memory"]),
)

VICTIM_MEMORY_MB = 700
ATTACKER_MEMORY_MB = 600


def jobs(tier: str) -> list[dict[str, Any]]:
    """The batch one application runs: attacks, each in its own run of `tier`."""
    base: dict[str, Any] = {"isolation": tier, "timeout_s": 5}
    short = {**base, "timeout_s": SHORT_TIMEOUT_S}
    victim = {**base, "memory_mb": VICTIM_MEMORY_MB}
    return [
        {"name": "network", "code": NETWORK, "kwargs": base},
        {"name": "environ", "code": ENVIRON, "kwargs": base},
        {"name": "app_memory", "code": APP_MEMORY, "kwargs": base},
        {"name": "app_fds", "code": APP_FDS, "kwargs": base},
        {"name": "tiocsti", "code": TIOCSTI, "kwargs": base},
        {"name": "host_writes", "code": HOST_WRITES, "kwargs": base},
        {"name": "links", "code": LINKS, "kwargs": base},
        {"name": "secrets_on_disk", "code": SECRETS_ON_DISK, "kwargs": base},
        {"name": "kernel_and_mounts", "code": KERNEL_AND_MOUNTS, "kwargs": base},
        {"name": "segfault", "code": SEGFAULT, "kwargs": base},
        {"name": "privileges", "code": PRIVILEGES, "kwargs": base},
        {"name": "keyring", "code": KEYRING, "kwargs": base},
        *(
            {
                "name": f"checks_{name}",
                "check": {"request": ADD_REQUEST, "candidate": code},
                "kwargs": base,
            }
            for name, code in CHECKED
        ),
        {"name": "residue", "code": RESIDUE, "kwargs": base},
        {"name": "prime_victim", "code": "print(0)", "kwargs": victim},
        {
            "name": "spare_injection",
            "code": SPARE_INJECTION,
            "kwargs": {**base, "memory_mb": ATTACKER_MEMORY_MB},
            "settle": True,
        },
        {"name": "victim", "code": "print('benign output')", "kwargs": victim},
        {"name": "deep_and_locked", "code": DEEP_AND_LOCKED, "kwargs": {**base, "timeout_s": 10}},
        {"name": "hard_link_flood", "code": HARD_LINK_FLOOD, "kwargs": short},
        {"name": "memory_total", "code": MEMORY_TOTAL, "kwargs": {**base, "memory_mb": 512}},
        {
            "name": "tmpfs_memory",
            "code": TMPFS_MEMORY,
            "kwargs": {**base, "memory_mb": 200, "max_file_mb": 512, "max_disk_mb": 512},
        },
        {"name": "fork_bomb", "code": FORK_BOMB, "kwargs": short},
        {"name": "kill_others", "code": KILL_OTHERS, "kwargs": base},
        {"name": "still_standing", "code": "print('still here')", "kwargs": base},
    ]

"""Wrong candidates that try to forge the checks' verdict, and the request they answer.

Each candidate's `add` never adds; instead it tries to be accepted anyway: a tally line
of its own and an exit before the checks, hooks that run after them, patched modules and
builtins, a value equal to everything, the expected values looked up in the harness's
frames, its objects, its program or its memory.
"""

from __future__ import annotations

from tools.checks import REPORT_MARKER

ADD_REQUEST = '''Complete the following Python function:
```python
def add(a: int, b: int) -> int:
    """The sum of a and b.
    >>> add(1, 2)
    3
    >>> add(20, 22)
    42
    """
```'''

HONEST_ADD = "def add(a, b):\n    return a + b\n"

FORGED = f"{REPORT_MARKER} " + '{"passed": 2, "total": 2, "missing": []}'

FORGERS = {
    "tally_then_os_exit": f"""
import os, sys
def add(a, b):
    return 0
print("2 of 2 checks from the request passed")
print({FORGED!r}, file=sys.stderr, flush=True)
os._exit(0)
""",
    "tally_then_sys_exit": f"""
import sys
def add(a, b):
    return 0
print({FORGED!r}, file=sys.stderr, flush=True)
sys.exit(0)
""",
    "tally_from_atexit_after_the_checks": f"""
import atexit, os, sys
def add(a, b):
    return 0
def forge():
    print({FORGED!r}, file=sys.stderr, flush=True)
    os._exit(0)
atexit.register(forge)
""",
    "patched_sys_exit": f"""
import os, sys
def add(a, b):
    return 0
def exit(status=None):
    print({FORGED!r}, file=sys.stderr, flush=True)
    os._exit(0)
sys.exit = exit
""",
    "value_equal_to_everything": """
class Anything:
    def __eq__(self, other):
        return True
    __hash__ = object.__hash__
def add(a, b):
    return Anything()
""",
    "patched_builtin_bool": """
import builtins
builtins.bool = lambda *args: True
def add(a, b):
    return 0
""",
    "patched_literal_eval": """
import ast
ast.literal_eval = lambda text: 0
def add(a, b):
    return 0
""",
    "expected_read_from_the_harness_frames": """
import ast, sys
def add(a, b):
    frame = sys._getframe()
    while frame is not None:
        for scope in (frame.f_locals, frame.f_globals):
            if isinstance(scope.get("_expected"), str):
                return ast.literal_eval(scope["_expected"])
        frame = frame.f_back
    return 0
""",
    "expected_found_by_the_garbage_collector": """
import ast, gc
def add(a, b):
    call = f"add({a}, {b})"
    for holder in gc.get_objects():
        if isinstance(holder, tuple) and call in holder[:-1]:
            try:
                return ast.literal_eval(holder[holder.index(call) + 1])
            except (ValueError, SyntaxError):
                continue
    return 0
""",
    "expected_read_from_process_memory": r"""
import ctypes, os, re
ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE: its own /proc files readable again
def _memory(pid):
    try:
        maps = open(f"/proc/{pid}/maps").read().splitlines()
        mem = open(f"/proc/{pid}/mem", "rb", 0)
    except OSError:
        return []
    blobs = []
    with mem:
        for line in maps:
            fields = line.split()
            if "r" not in fields[1] or fields[-1].startswith("[v"):
                continue
            start, end = (int(x, 16) for x in fields[0].split("-"))
            try:
                mem.seek(start)
                blobs.append(mem.read(min(end - start, 1 << 28)))
            except (OSError, OverflowError, ValueError):
                continue
    return blobs
BLOBS = _memory("self") + _memory(os.getppid())
def add(a, b):
    for blob in BLOBS:
        case = re.search(rb"'add\(%d, %d\)', '(-?\d+)'" % (a, b), blob)
        if case:
            return int(case.group(1))
        secret = re.search(rb'"expected": \["(-?\d+)", "(-?\d+)"\]', blob)
        if secret:
            return int(secret.group(1 if (a, b) == (1, 2) else 2))
    return 0
""",
    "expected_read_from_the_program": """
import re
def add(a, b):
    try:
        program = open("main.py").read()
    except OSError:
        return 0
    found = re.search(rf"'add\\({a}, {b}\\)', '(-?\\d+)'", program)
    return int(found.group(1)) if found else 0
""",
}

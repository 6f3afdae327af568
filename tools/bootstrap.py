"""The first process of every sandbox: it confines itself, waits for the code, runs it, reports.

The application hands this file's source to `python -I -c` (see `tools.launcher`), so it
imports only the standard library and runs without the project on its path. As a spare it
prepares everything it can before the code exists; once the code arrives it forks the
process that runs it, and stays behind as the run's supervisor:

- it dies with the application (`PR_SET_PDEATHSIG`) and cannot be inspected through
  /proc by the code (`PR_SET_DUMPABLE` 0), so nothing can write into its pipes;
- in the `unshare` tier it builds the view of the host while it still holds the user
  namespace's capabilities: everything read-only, secret directories hidden, private
  tmpfs /tmp and /dev/shm with a size;
- the code's process drops every privilege for good: a per-run uid when the application
  is root, no capabilities (bounding set included), `no_new_privs`, its own process
  group, a seccomp filter (no user namespaces, no TIOCSTI, no io_uring, and in the
  process tier without `network` no socket but AF_UNIX), and a Landlock domain (when the
  kernel has Landlock) that allows only the listed paths, no TCP without `network`, and
  no signals to processes outside the run;
- in the `process` tier (no PID namespace) it is a subreaper: every orphan of the code
  becomes its child, so it can kill all of them, by pid of its own unreaped children;
- it reports the code's exit status on a pipe (a negative number is the signal), so the
  result never depends on how bwrap or unshare encode a signal.

The application also uses `remove_tree` and `kill_uid` from here.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import signal
import stat
import sys
import time
import traceback
from typing import Any

# prctl(2) options.
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
PR_SET_SECUREBITS = 28
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
# Securebits: uid 0 gets no capabilities on exec, uid changes never fix capabilities up,
# capabilities are never kept or raised into the ambient set; every bit locked.
SECUREBITS_NO_ROOT = 0xEF
LINUX_CAPABILITY_VERSION_3 = 0x20080522

# mount(2) flags and mount_setattr(2) (one number on every architecture).
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
SYS_MOUNT_SETATTR = 442
AT_RECURSIVE = 0x8000
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
# Size of the tmpfs laid over a hidden directory (it only holds mount points).
HIDE_TMPFS_OPTIONS = "size=64k,mode=755"

# Landlock (one syscall number on every architecture).
SYS_LANDLOCK_CREATE_RULESET = 444
SYS_LANDLOCK_ADD_RULE = 445
SYS_LANDLOCK_RESTRICT_SELF = 446
LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_RULE_PATH_BENEATH = 1
FS_EXECUTE = 1 << 0
FS_WRITE_FILE = 1 << 1
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
FS_ALL_V1 = (1 << 13) - 1
FS_REFER = 1 << 13  # ABI 2
FS_TRUNCATE = 1 << 14  # ABI 3
FS_IOCTL_DEV = 1 << 15  # ABI 5
NET_BIND_TCP = 1 << 0  # ABI 4
NET_CONNECT_TCP = 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
SCOPE_SIGNAL = 1 << 1
FS_READ = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR
FS_FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV

# Run as `python -c SOURCE --remove PATH`: only remove PATH (see `tools.workdirs`).
REMOVE_FLAG = "--remove"
# How long the supervisor keeps killing the code's leftovers (process tier) at most.
REAP_BUDGET_S = 1.0
REAP_PAUSE_S = 0.002

_libc: Any = None


def libc() -> Any:
    """The C library, loaded once (Linux only)."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.syscall.restype = ctypes.c_long
    return _libc


def _check(result: int, what: str) -> int:
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")
    return result


def set_process_attribute(option: int, arg: int = 0) -> None:
    """Set one attribute of the calling process (prctl), raising OSError on failure."""
    _check(libc().prctl(option, ctypes.c_ulong(arg), 0, 0, 0), f"prctl({option})")


# --- Landlock ------------------------------------------------------------------------------


class _RulesetAttr(ctypes.Structure):
    _fields_ = (
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    )


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = (("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32))


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 where there is none."""
    if not sys.platform.startswith("linux"):
        return 0
    version = libc().syscall(
        SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0), LANDLOCK_CREATE_RULESET_VERSION
    )
    return max(int(version), 0)


def _fs_rights(abi: int) -> int:
    rights = FS_ALL_V1
    if abi >= 2:
        rights |= FS_REFER
    if abi >= 3:
        rights |= FS_TRUNCATE
    if abi >= 5:
        rights |= FS_IOCTL_DEV
    return rights


def landlock_ruleset(
    read: list[str], write: list[str], devices: list[str], network: bool
) -> tuple[int, list[str]]:
    """A Landlock ruleset allowing only these paths (and no TCP, no outside signals).

    Returns the ruleset's fd (-1 where the kernel has no Landlock) and what it enforces.
    """
    abi = landlock_abi()
    if abi < 1:
        return -1, []
    handled = _fs_rights(abi)
    attr = _RulesetAttr(handled, 0, 0)
    size = 8
    applied = ["landlock-fs"]
    if abi >= 4 and not network:
        attr.handled_access_net = NET_BIND_TCP | NET_CONNECT_TCP
        size = 16
        applied.append("landlock-no-tcp")
    if abi >= 6:
        attr.scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
        size = 24
        applied.append("landlock-no-outside-signals")
    fd = _check(
        libc().syscall(SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), 0),
        "landlock_create_ruleset",
    )
    everything_but_devices = handled & ~FS_IOCTL_DEV
    for paths, rights in (
        (read, FS_READ),
        (write, everything_but_devices),
        (devices, FS_READ_FILE | FS_WRITE_FILE),
    ):
        for path in paths:
            _allow(fd, path, rights & handled)
    return fd, applied


def _allow(ruleset: int, path: str, rights: int) -> None:
    try:
        target = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # absent, or not reachable by this identity: nothing to allow
    try:
        if not stat.S_ISDIR(os.fstat(target).st_mode):
            rights &= FS_FILE_RIGHTS
        rule = _PathBeneath(rights, target)
        _check(
            libc().syscall(
                SYS_LANDLOCK_ADD_RULE, ruleset, LANDLOCK_RULE_PATH_BENEATH, ctypes.byref(rule), 0
            ),
            f"landlock_add_rule({path})",
        )
    finally:
        os.close(target)


# --- seccomp -------------------------------------------------------------------------------

PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
BPF_LD_W_ABS = 0x20
BPF_JEQ_K = 0x15
BPF_JGE_K = 0x35
BPF_JSET_K = 0x45
BPF_RET_K = 0x06
CLONE_NEWUSER = 0x10000000
TIOCSTI = 0x5412
AF_UNIX = 1
X32_SYSCALL_BIT = 0x40000000
# seccomp_data: nr at 0, arch at 4, args from 16 (8 bytes each, low half first).
ARG_OFFSET = 16
# Per architecture: its audit id and the syscall numbers the filter looks at.
SYSCALLS = {
    "x86_64": {
        "arch": 0xC000003E,
        "socket": 41,
        "clone": 56,
        "unshare": 272,
        "ioctl": 16,
        "clone3": 435,
        "io_uring_setup": 425,
        "io_uring_enter": 426,
        "io_uring_register": 427,
    },
    "aarch64": {
        "arch": 0xC00000B7,
        "socket": 198,
        "clone": 220,
        "unshare": 97,
        "ioctl": 29,
        "clone3": 435,
        "io_uring_setup": 425,
        "io_uring_enter": 426,
        "io_uring_register": 427,
    },
}


class _SockFilter(ctypes.Structure):
    _fields_ = (
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    )


class _SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter)))


def _deny_if(arg: int, test: int, value: int, err: int) -> list[tuple[int, int, int, int]]:
    """Load argument `arg`; deny with `err` when `test` (JEQ or JSET) matches `value`."""
    return [
        (BPF_LD_W_ABS, 0, 0, ARG_OFFSET + 8 * arg),
        (test, 0, 1, value),
        (BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | err),
        (BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW),
    ]


def seccomp_program(machine: str, inet: bool) -> tuple[list[tuple[int, int, int, int]], list[str]]:
    """The filter for this architecture: no new user namespaces, no TIOCSTI, no io_uring.

    Without `inet` (no network and no network namespace) only AF_UNIX sockets may be made.
    Returns the BPF program (empty where the architecture is not known) and its tags.
    """
    nr = SYSCALLS.get(machine)
    if nr is None:
        return [], []
    deny_enosys = (BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | errno.ENOSYS)
    program = [(BPF_LD_W_ABS, 0, 0, 4), (BPF_JEQ_K, 1, 0, nr["arch"]), deny_enosys]
    program.append((BPF_LD_W_ABS, 0, 0, 0))
    if machine == "x86_64":  # the x32 ABI is another door to the same calls
        program += [(BPF_JGE_K, 0, 1, X32_SYSCALL_BIT), deny_enosys]
    rules = [
        # clone3 hides its flags in memory the filter cannot read; glibc falls back to clone.
        (nr["clone3"], [deny_enosys]),
        (nr["clone"], _deny_if(0, BPF_JSET_K, CLONE_NEWUSER, errno.EPERM)),
        (nr["unshare"], _deny_if(0, BPF_JSET_K, CLONE_NEWUSER, errno.EPERM)),
        (nr["ioctl"], _deny_if(1, BPF_JEQ_K, TIOCSTI, errno.EPERM)),
        (nr["io_uring_setup"], [(BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | errno.EPERM)]),
        (nr["io_uring_enter"], [(BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | errno.EPERM)]),
        (nr["io_uring_register"], [(BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | errno.EPERM)]),
    ]
    tags = ["seccomp-no-userns", "seccomp-no-tiocsti", "seccomp-no-io-uring"]
    if not inet:
        unix_only = [
            (BPF_LD_W_ABS, 0, 0, ARG_OFFSET),
            (BPF_JEQ_K, 1, 0, AF_UNIX),
            (BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | errno.EACCES),
            (BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW),
        ]
        rules.append((nr["socket"], unix_only))
        tags.append("seccomp-unix-sockets-only")
    for number, body in rules:
        program.append((BPF_JEQ_K, 0, len(body), number))
        program += body
    program.append((BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW))
    return program, tags


def install_seccomp(program: list[tuple[int, int, int, int]]) -> None:
    """Load the filter into this process (needs no_new_privs); inherited by every child."""
    if not program:
        return
    filters = (_SockFilter * len(program))(*(_SockFilter(*op) for op in program))
    prog = _SockFprog(len(program), filters)
    _check(
        libc().prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0),
        "seccomp",
    )


# --- privileges ----------------------------------------------------------------------------


class _CapHeader(ctypes.Structure):
    _fields_ = (("version", ctypes.c_uint32), ("pid", ctypes.c_int))


class _CapData(ctypes.Structure):
    _fields_ = (
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    )


def _status_caps() -> dict[str, int]:
    caps = {}
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("Cap"):
                name, value = line.split(":")
                caps[name] = int(value, 16)
    return caps


def _drop_bounding_set() -> None:
    with open("/proc/sys/kernel/cap_last_cap") as last:
        last_cap = int(last.read())
    for cap in range(last_cap + 1):
        with contextlib.suppress(OSError):  # EPERM without CAP_SETPCAP: nothing left to drop
            set_process_attribute(PR_CAPBSET_DROP, cap)


def drop_privileges(uid: int | None, gid: int | None) -> None:
    """Become `uid`/`gid` (when given) with no capabilities at all, for good.

    Raises:
        OSError: A capability is still held afterwards (the code must not run then).
    """
    caps = _status_caps()
    if caps.get("CapEff", 0):
        with contextlib.suppress(OSError):  # only a user namespace's root gets this far
            set_process_attribute(PR_SET_SECUREBITS, SECUREBITS_NO_ROOT)
        _drop_bounding_set()
        with contextlib.suppress(OSError):
            set_process_attribute(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    if uid is not None and gid is not None:
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
    header = _CapHeader(LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    _check(libc().capset(ctypes.byref(header), data), "capset")
    set_process_attribute(PR_SET_NO_NEW_PRIVS, 1)
    left = _status_caps()
    if left.get("CapEff") or left.get("CapPrm") or left.get("CapAmb"):
        raise OSError(errno.EPERM, f"capabilities still held: {left}")


def kill_uid(uid: int) -> None:
    """SIGKILL every process of `uid` (root only): a child becomes `uid` and kills -1.

    kill(-1) reaches every process the sender may signal, and a process running as
    `uid` may signal exactly the processes of `uid`; no pid is ever looked up.
    """
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            os.kill(-1, signal.SIGKILL)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


# --- filesystem ----------------------------------------------------------------------------


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    _check(
        libc().mount(
            source.encode() if source else None,
            target.encode(),
            fstype.encode() if fstype else None,
            ctypes.c_ulong(flags),
            data.encode() if data else None,
        ),
        f"mount {target}",
    )


class _MountAttr(ctypes.Structure):
    _fields_ = (
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    )


def build_unshare_view(plan: dict[str, Any]) -> list[str]:
    """In a private mount namespace: hide, re-expose, make all read-only, add tmpfs.

    Returns what it achieved, for `ExecutionResult.isolation`.
    """
    done = []
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    keep = {}
    for path in plan["rebind"]:
        with contextlib.suppress(OSError):
            keep[path] = os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    tmpfs_targets = tuple(target for target, _ in plan["tmpfs"])
    for hidden in plan["hide"]:
        _mount("tmpfs", hidden, "tmpfs", MS_NOSUID | MS_NODEV, HIDE_TMPFS_OPTIONS)
    later = {p: fd for p, fd in keep.items() if _within(p, tmpfs_targets)}
    for path, fd in keep.items():
        if path not in later:
            _rebind(fd, path)
    for secret in plan["mask"]:
        with contextlib.suppress(OSError):
            _mount("/dev/null", secret, None, MS_BIND)
    if plan["hide"]:
        done.append("hidden-home")
    if _read_only("/", recursive=True):
        done.append("read-only-host")
    for target, size in plan["tmpfs"]:
        _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},mode=1777")
    done.append("private-tmp")
    for path, fd in later.items():  # an interpreter under /tmp: back, read-only, on top
        _rebind(fd, path)
        _read_only(path, recursive=True)
    return done


def _within(path: str, roots: tuple[str, ...]) -> bool:
    return any(path == root or path.startswith(root + "/") for root in roots)


def _rebind(fd: int, path: str) -> None:
    os.makedirs(path, exist_ok=True)
    _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
    os.close(fd)


def _read_only(path: str, *, recursive: bool) -> bool:
    attr = _MountAttr(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, 0, 0, 0)
    flags = AT_RECURSIVE if recursive else 0
    result = libc().syscall(
        SYS_MOUNT_SETATTR, -100, path.encode(), flags, ctypes.byref(attr), ctypes.sizeof(attr)
    )
    return bool(result == 0)


def remove_tree(path: str, deadline: float | None = None) -> bool:
    """Remove a directory tree of any depth, fixing permissions on the way; never raises.

    Iterative and relative to one open directory at a time, so 3,000 nested directories
    (deeper than PATH_MAX, deeper than Python's recursion limit) and mode-000 directories
    go too. Returns False if it stopped at `deadline` (time.monotonic) or could not finish.
    """
    try:
        top = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return True
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(path)  # a file or a symlink, not a directory
            return True
        with contextlib.suppress(OSError):
            os.chmod(path, 0o700)
            top = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
            return _remove_from(top, path, deadline)
        return False
    return _remove_from(top, path, deadline)


def _remove_from(top: int, path: str, deadline: float | None) -> bool:
    fd = top
    # One entry per directory below `path` we are in: (its name, subdirectories left).
    stack: list[tuple[str, list[str]]] = []
    pending: list[str] = []
    finished = False
    try:
        while True:
            if deadline is not None and time.monotonic() > deadline:
                return False
            if not pending:
                pending = _empty_files(fd)
            if pending:
                name = pending.pop()
                with contextlib.suppress(OSError):
                    os.chmod(name, 0o700, dir_fd=fd, follow_symlinks=False)
                try:
                    child = os.open(
                        name,
                        os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                        dir_fd=fd,
                    )
                except OSError:
                    with contextlib.suppress(OSError):
                        os.unlink(name, dir_fd=fd)
                    continue
                stack.append((name, pending))
                os.close(fd)
                fd, pending = child, []
                continue
            if not stack:
                finished = True
                break
            name, pending = stack.pop()
            parent = os.open("..", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=fd)
            os.close(fd)
            fd = parent
            with contextlib.suppress(OSError):
                os.rmdir(name, dir_fd=fd)
    except OSError:
        return False
    finally:
        with contextlib.suppress(OSError):
            os.close(fd)
    if finished:
        try:
            os.rmdir(path)
        except FileNotFoundError:
            pass
        except OSError:
            return False
    return finished


def _empty_files(fd: int) -> list[str]:
    """Unlink every non-directory in `fd`; return the names of its subdirectories."""
    subdirs = []
    with contextlib.suppress(OSError):
        os.chmod(fd, 0o700)
    with os.scandir(fd) as entries:
        for entry in entries:
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_dir = False
            if is_dir:
                subdirs.append(entry.name)
            else:
                with contextlib.suppress(OSError):
                    os.unlink(entry.name, dir_fd=fd)
    return subdirs


# --- the supervisor ------------------------------------------------------------------------


def _children() -> list[int]:
    found = []
    with contextlib.suppress(OSError), os.scandir("/proc/self/task") as tasks:
        for task in tasks:
            with contextlib.suppress(OSError), open(f"{task.path}/children") as children:
                found += [int(pid) for pid in children.read().split()]
    return found


def reap_descendants(code_pgid: int, uid: int | None) -> None:
    """Kill and reap every descendant (process tier, where this process is the subreaper).

    The pids signalled are this process's own unreaped children, which no other process
    can take over; orphans of killed ones become its children in turn.
    """
    if uid is not None:
        kill_uid(uid)
    with contextlib.suppress(OSError):
        os.killpg(code_pgid, signal.SIGKILL)
    deadline = time.monotonic() + REAP_BUDGET_S
    while time.monotonic() < deadline:
        for pid in _children():
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        reaped = False
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                break
            reaped = True
        if not reaped:
            time.sleep(REAP_PAUSE_S)


def _run_code(source: bytes) -> None:
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


def _code_process(
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
                _check(
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
        _run_code(source)
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


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


def _report(fd: int, line: str) -> None:
    with contextlib.suppress(OSError):
        os.write(fd, line.encode() + b"\n")


def main(cfg: dict[str, Any]) -> None:
    """Prepare, signal readiness, wait for the code, run it in a child, report, clean up."""
    linux = sys.platform.startswith("linux")
    status_fd: int = cfg["status_fd"]
    uid: int | None = cfg.get("uid")
    state = {"code_pgid": 0}
    applied: list[str] = []

    def stop(signum: int, frame: object) -> None:
        # The application stops the run (SIGTERM), or is going away (its death signal:
        # the spawning thread ended, so nobody will remove the work dir but us).
        if state["code_pgid"] or uid is not None:
            reap_descendants(state["code_pgid"], uid)
        if signum == cfg["pdeath_signal"] and cfg.get("host_workdir"):
            remove_tree(cfg["workdir"])
        _report(status_fd, "stopped")
        os._exit(0)

    if linux:
        if cfg["tier"] == "process":
            signal.signal(signal.SIGTERM, stop)
            signal.signal(cfg["pdeath_signal"], stop)
            set_process_attribute(PR_SET_CHILD_SUBREAPER, 1)
        set_process_attribute(PR_SET_PDEATHSIG, cfg["pdeath_signal"])
        set_process_attribute(PR_SET_DUMPABLE, 0)
        if cfg.get("unshare_view"):
            applied += build_unshare_view(cfg["unshare_view"])
    ruleset = -1
    if linux and cfg.get("landlock"):
        ruleset, enforced = landlock_ruleset(
            cfg["landlock"]["read"],
            cfg["landlock"]["write"],
            cfg["landlock"]["devices"],
            cfg["network"],
        )
        applied += enforced
    seccomp: list[tuple[int, int, int, int]] = []
    if linux:
        inet = cfg["network"] or cfg["tier"] != "process"
        seccomp, tags = seccomp_program(os.uname().machine, inet)
        applied += tags
    os.write(cfg["ready_fd"], b"R" + json.dumps(applied).encode())
    os.close(cfg["ready_fd"])
    source = _read_all(cfg["code_fd"])
    if not source.startswith(b"RUN\n"):
        return  # a spare discarded unused
    source = source[4:]
    if not hasattr(os, "fork"):  # Windows: no supervisor, the code runs here
        os.close(status_fd)
        os.chdir(cfg["workdir"])
        _run_code(source)
        return
    supervisor = os.getpid()
    pid = os.fork()
    if pid == 0:
        _code_process(cfg, source, ruleset, seccomp, supervisor)
    if ruleset >= 0:
        os.close(ruleset)
    state["code_pgid"] = pid
    _report(status_fd, f"pgid {pid}")
    _, status = os.waitpid(pid, 0)
    exit_code = os.waitstatus_to_exitcode(status)
    if cfg["tier"] == "process":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        reap_descendants(pid, uid)
    _report(status_fd, f"exit {exit_code}")
    os._exit(0)


def _entry() -> None:
    if sys.argv[1] == REMOVE_FLAG:  # the application's detached remover of a work dir
        remove_tree(sys.argv[2])
        return
    cfg = json.loads(sys.argv[1])
    try:
        main(cfg)
    except Exception as error:  # the application reports this as a sandbox error
        os.write(2, f"sandbox: bootstrap failed: {error!r}\n".encode())
        os._exit(126)


if __name__ == "__main__":
    _entry()

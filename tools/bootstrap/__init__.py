"""The first process of every sandbox: it confines itself, waits for the code, runs it, reports.

The application hands the bootstrap's source to `python -I -c` (see `tools.launcher`), so
it imports only the standard library and runs without the project on its path: its
modules are joined into that one script by `tools.bootstrap.script`. As a spare it
prepares everything it can before the code exists; once the code arrives it forks the
process that runs it, and stays behind as the run's supervisor (`supervisor`):

- it dies with the application (`PR_SET_PDEATHSIG`) and cannot be inspected through
  /proc by the code (`PR_SET_DUMPABLE` 0), so nothing can write into its pipes;
- in the `unshare` tier it builds the view of the host while it still holds the user
  namespace's capabilities: everything read-only, secret directories hidden, private
  tmpfs /tmp and /dev/shm with a size (`mounts`);
- the code's process (`code_process`) drops every privilege for good: a per-run uid when
  the application is root, no capabilities (bounding set included), `no_new_privs`, its
  own process group, a new empty session keyring (`privileges`), a seccomp filter (no
  user namespaces, no TIOCSTI, no io_uring, no kernel keyring, and in the process tier
  without `network` no socket but AF_UNIX; `seccomp`),
  and a Landlock domain (when the kernel has Landlock) that allows only the listed paths,
  no TCP without `network`, and no signals to processes outside the run (`landlock`);
- in the `process` tier (no PID namespace) it is a subreaper: every orphan of the code
  becomes its child, so it can kill all of them, by pid of its own unreaped children;
- it reports the code's exit status on a pipe (a negative number is the signal), so the
  result never depends on how bwrap or unshare encode a signal.

The application also uses `remove_tree` (`removal`), `kill_uid`, and the prctl helpers
(`native`) from here.
"""

from __future__ import annotations

from tools.bootstrap.landlock import landlock_abi, landlock_ruleset
from tools.bootstrap.mounts import build_unshare_view
from tools.bootstrap.native import (
    PR_SET_CHILD_SUBREAPER,
    PR_SET_DUMPABLE,
    PR_SET_NO_NEW_PRIVS,
    PR_SET_PDEATHSIG,
    libc,
    set_process_attribute,
)
from tools.bootstrap.privileges import drop_privileges, kill_uid
from tools.bootstrap.removal import REMOVE_FLAG, remove_tree
from tools.bootstrap.script import script_source
from tools.bootstrap.seccomp import install_seccomp, seccomp_program
from tools.bootstrap.supervisor import main, reap_descendants

__all__ = [
    "PR_SET_CHILD_SUBREAPER",
    "PR_SET_DUMPABLE",
    "PR_SET_NO_NEW_PRIVS",
    "PR_SET_PDEATHSIG",
    "REMOVE_FLAG",
    "build_unshare_view",
    "drop_privileges",
    "install_seccomp",
    "kill_uid",
    "landlock_abi",
    "landlock_ruleset",
    "libc",
    "main",
    "reap_descendants",
    "remove_tree",
    "script_source",
    "seccomp_program",
    "set_process_attribute",
]

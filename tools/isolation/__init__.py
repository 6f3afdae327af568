"""What isolation this machine offers the sandbox, and the command line that applies it.

Tiers, strongest first, detected at run time (`ORQUESTRA_SANDBOX=bwrap|unshare|process|auto`
picks one; `auto` is the strongest available, and a tier that is asked for but missing is
an error, never a silent fallback):

- `bwrap` (bubblewrap): new PID, network, IPC, UTS and mount namespaces over a filesystem
  *built* from read-only binds of the system directories and the interpreter, plus
  private, size-capped tmpfs for /tmp (the work dir lives there) and /dev/shm.
- `unshare` (util-linux): the same namespaces; the bootstrap makes the whole host
  read-only, lays tmpfs over /root, /home, /run, the application's directory and other
  places secrets live, and mounts private, size-capped /tmp and /dev/shm.
- `process`: no namespaces; the code runs in its own session under rlimits, Landlock and
  seccomp where the kernel has them. On Windows and macOS this is all there is.

In every tier the code itself runs without privileges (see `tools.bootstrap`): as root
the application gives each run its own unprivileged uid (`tools.identity`); the
namespace tools then run as root and hand the code that uid. As an ordinary user the
namespace tiers need unprivileged user namespaces.

The parts: `host` (the host's paths), `tiers` (what is available, what a run gets),
`commands` (the command line and plans that apply a tier).
"""

from __future__ import annotations

from tools.isolation.commands import (
    ROOT_BOOTSTRAP_CAPS,
    bwrap_command,
    describe,
    landlock_paths,
    unshare_command,
    unshare_view,
)
from tools.isolation.host import (
    DEVICES,
    HIDDEN_DIRS,
    KEYRING_FILES,
    READABLE,
    SECRET_FILES,
    SYSTEM_DIRS,
    interpreter_dirs,
    interpreter_readable,
    is_root,
)
from tools.isolation.tiers import (
    PROBE_TIMEOUT_S,
    SETTING,
    TIERS,
    IsolationRequest,
    Tier,
    available_tiers,
    choose_tier,
    requested_tier,
)

__all__ = [
    "DEVICES",
    "HIDDEN_DIRS",
    "KEYRING_FILES",
    "PROBE_TIMEOUT_S",
    "READABLE",
    "ROOT_BOOTSTRAP_CAPS",
    "SECRET_FILES",
    "SETTING",
    "SYSTEM_DIRS",
    "TIERS",
    "IsolationRequest",
    "Tier",
    "available_tiers",
    "bwrap_command",
    "choose_tier",
    "describe",
    "interpreter_dirs",
    "interpreter_readable",
    "is_root",
    "landlock_paths",
    "requested_tier",
    "unshare_command",
    "unshare_view",
]

"""The bootstrap's entry point: `python -I -c SCRIPT CONFIG_JSON` (or `--remove PATH`).

The application runs the joined script (`tools.bootstrap.script`), whose last part is
this module; `python -m tools.bootstrap` runs the same entry with the project on the path.
"""

from __future__ import annotations

import json
import os
import sys

from tools.bootstrap.removal import REMOVE_FLAG, remove_tree
from tools.bootstrap.supervisor import main


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

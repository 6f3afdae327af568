"""`python -m orquestra.server`: run the scheduler (what `orquestra serve` and autostart run)."""

from __future__ import annotations

import argparse

from orquestra.server.app import serve
from orquestra.settings import load_settings


def main() -> None:
    """Parse the command line and serve until stopped (or idle, with --idle-exit)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--idle-exit", type=float, default=None)
    parser.add_argument("--no-auth", action="store_true")
    parser.add_argument("--gpu", type=int, default=None)
    parser.add_argument("--node", action="append", default=[])
    args = parser.parse_args()
    serve(
        load_settings(**({"gpu_index": args.gpu} if args.gpu is not None else {})),
        host=args.host,
        port=args.port,
        idle_exit_s=args.idle_exit,
        open_access=args.no_auth,
        nodes=args.node,
    )


if __name__ == "__main__":
    main()

"""A throwaway PostgreSQL cluster for the tests: `initdb` and `pg_ctl` in a temporary directory.

The cluster listens on loopback on a free port, trusts local connections, runs with fsync
off, and is removed with its directory when the session ends. PostgreSQL refuses to run
as root, so as root the cluster belongs to the `postgres` user (Debian's packages create
it) and each command runs as that user through `setpriv`. Without the binaries the tests
that need a server skip, saying how to get them.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

# Where Debian's postgresql-NN packages put the server's programs (newest version first).
DEBIAN_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
CLUSTER_USER = "orquestra"
# Upper bound on initdb and on the server's start and stop (a hang fails the session).
PG_COMMAND_TIMEOUT_S = 120
MISSING = (
    "needs PostgreSQL's initdb and pg_ctl (Debian: apt-get install postgresql; .ci/run installs it)"
)


def server_bin_dir() -> Path | None:
    """The directory holding `initdb` and `pg_ctl`, or None when PostgreSQL is not installed."""
    for directory in DEBIAN_BIN_DIRS:
        if (directory / "initdb").exists() and (directory / "pg_ctl").exists():
            return directory
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).parent
    return None


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Cluster:
    """A running throwaway cluster; `url` names its `postgres` database."""

    bin_dir: Path
    root: Path
    port: int
    owner: pwd.struct_passwd | None
    """The user the server runs as when the tests run as root."""

    @property
    def url(self) -> str:
        return self.database_url("postgres")

    def database_url(self, name: str) -> str:
        return f"postgresql://{CLUSTER_USER}@127.0.0.1:{self.port}/{name}"

    def run(self, *args: str) -> None:
        prefix: list[str] = []
        if self.owner is not None:
            prefix = [
                "setpriv",
                f"--reuid={self.owner.pw_uid}",
                f"--regid={self.owner.pw_gid}",
                "--clear-groups",
                "--",
            ]
        subprocess.run(
            [*prefix, str(self.bin_dir / args[0]), *args[1:]],
            check=True,
            capture_output=True,
            timeout=PG_COMMAND_TIMEOUT_S,
            cwd=self.root,
        )

    def start(self) -> None:
        data, sockets = self.root / "data", self.root / "sockets"
        sockets.mkdir()
        if self.owner is not None:
            os.chown(sockets, self.owner.pw_uid, self.owner.pw_gid)
        self.run(
            "initdb",
            "-D",
            str(data),
            "-U",
            CLUSTER_USER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        options = f"-p {self.port} -k {sockets} -c listen_addresses=127.0.0.1 -F"
        log = self.root / "server.log"
        self.run("pg_ctl", "-D", str(data), "-o", options, "-l", str(log), "-w", "start")

    def stop(self) -> None:
        try:
            self.run("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def create_database(self, encoding: str = "UTF8") -> str:
        """A fresh, empty database in `encoding`; its URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE \"{name}\" ENCODING '{encoding}' TEMPLATE template0")
        return self.database_url(name)


def unavailable() -> str | None:
    """Why no cluster can be started here, or None when one can."""
    try:
        import langgraph.checkpoint.postgres.aio  # noqa: F401
    except ImportError:
        return "needs the postgres extra: pip install -e '.[postgres]'"
    if server_bin_dir() is None:
        return MISSING
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "runs as root, and there is no `postgres` user to own the cluster"
    return None


def start_cluster(bin_dir: Path) -> Cluster:
    """Start a cluster in a new temporary directory (owned by `postgres` when run as root)."""
    root = Path(tempfile.mkdtemp(prefix="orquestra-pg-"))
    owner = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
    if owner is not None:
        os.chown(root, owner.pw_uid, owner.pw_gid)
    cluster = Cluster(bin_dir, root, unused_port(), owner)
    try:
        cluster.start()
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return cluster

"""Where runs' checkpoints are kept: `ORQUESTRA_DB_URL`, opened as a LangGraph checkpointer.

    async with open_checkpointer() as saver:        # the setting's store
        graph = build_graph(saver)
        await graph.ainvoke(request, {"configurable": {"thread_id": "run-1"}})
        ...                                         # on any machine, later:
        await graph.ainvoke(None, {"configurable": {"thread_id": "run-1"}})  # resumes

`postgresql://user:password@host:5432/dbname` keeps them in PostgreSQL (the `postgres`
extra: langgraph-checkpoint-postgres over psycopg 3), so a run interrupted on one machine
resumes on another; its tables are created or migrated on first use, one process at a
time. `sqlite:///path/threads.db` keeps them in a file on this machine; empty keeps them
in this process's memory. Reading the URL (`checkpoint_store`) is pure; opening it is the
only effect, and every failure a user can meet (a bad URL, a server that does not answer,
a missing database, the extra not installed) is one `OrquestraError` naming the fix.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver

from orquestra.errors import CheckpointStoreError, SettingsError
from orquestra.lineup import redact_text
from orquestra.settings import load_settings

if TYPE_CHECKING:  # the `postgres` extra, imported when a PostgreSQL URL is opened
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    from psycopg import AsyncConnection

StoreKind = Literal["memory", "sqlite", "postgres"]

# The variable that names the store, as messages name it.
SETTING = "ORQUESTRA_DB_URL"
# libpq waits for an unanswering host as long as the network lets it: bound it, unless
# the URL sets its own `connect_timeout`.
DB_CONNECT_TIMEOUT_S = 10
# Session-level advisory lock taken around the saver's migrations, so processes starting
# together on a fresh database do not create the same tables at once; how long one waits
# for another's migrations, and how often it tries the lock meanwhile.
SETUP_LOCK_KEY = 0x6F72715F6462  # "orq_db"
SETUP_LOCK_WAIT_S = 120.0
SETUP_LOCK_POLL_S = 0.1
# libpq's defaults, for messages naming where it tried.
DEFAULT_PG_HOST = "localhost"
DEFAULT_PG_PORT = "5432"
# SQLSTATEs a connection attempt can end with: no such database, authentication refused.
NO_DATABASE = "3D000"
AUTH_FAILED = ("28P01", "28000")

# `postgres://`, `postgresql://` and SQLAlchemy's `postgresql+driver://` all name PostgreSQL.
_POSTGRES = re.compile(r"^postgres(?:ql)?(?:\+\w+)?://", re.IGNORECASE)
_SQLITE = "sqlite:///"
EXAMPLES = (
    "postgresql://user:password@host:5432/dbname (PostgreSQL, shared by machines), "
    "sqlite:///path/to/threads.db (SQLite, this machine), or nothing (this process's memory)"
)
MISSING_EXTRA = (
    "{setting}={shown} names PostgreSQL, but its checkpointer is not installed ({reason}): "
    "pip install 'orquestra-agent[postgres]' (langgraph-checkpoint-postgres and psycopg), "
    "or unset {setting} to keep runs in memory."
)


@dataclass(frozen=True)
class CheckpointStore:
    """One place to keep checkpoints, read from a URL."""

    kind: StoreKind
    target: str
    """What the saver opens: the PostgreSQL URL, or the SQLite file's path; empty in memory."""
    shown: str
    """The URL as messages show it (its password replaced by `***`)."""

    @property
    def persistent(self) -> bool:
        """Whether a run kept here outlives this process (and so can be resumed)."""
        return self.kind != "memory"


def checkpoint_store(url: str) -> CheckpointStore:
    """The store `url` names (no I/O); a URL Orquestra cannot use is a `SettingsError`."""
    url = url.strip()
    shown = redact_text(url)
    if not url:
        return CheckpointStore("memory", "", "memory")
    if _POSTGRES.match(url):
        return CheckpointStore("postgres", _POSTGRES.sub("postgresql://", url, count=1), shown)
    if url.lower().startswith(_SQLITE) and url[len(_SQLITE) :].strip():
        return CheckpointStore("sqlite", url[len(_SQLITE) :], shown)
    raise SettingsError(
        f"{SETTING}={shown} is not a store Orquestra can keep runs in: give {EXAMPLES}."
    )


@asynccontextmanager
async def open_checkpointer(url: str | None = None) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    """The checkpointer for `url`, or for `ORQUESTRA_DB_URL` when `url` is None; closed after.

    PostgreSQL gives an `AsyncPostgresSaver` (its tables set up first), SQLite an
    `AsyncSqliteSaver`, nothing an `InMemorySaver`.

    Raises:
        SettingsError: The URL names no store Orquestra can use.
        CheckpointStoreError: The store cannot be opened (the message names the fix).
    """
    if url is None:
        url = (await asyncio.to_thread(load_settings)).db_url.get_secret_value()
    async with open_store(checkpoint_store(url)) as saver:
        yield saver


@asynccontextmanager
async def open_store(store: CheckpointStore) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    """The checkpointer of `store`, open for the block (see `open_checkpointer`)."""
    if store.kind == "memory":
        yield InMemorySaver()
        return
    async with AsyncExitStack() as stack:
        if store.kind == "sqlite":
            saver = await _enter_sqlite(stack, store)
        else:
            saver = await _enter_postgres(stack, store)
        yield saver


async def _enter_sqlite(stack: AsyncExitStack, store: CheckpointStore) -> BaseCheckpointSaver[Any]:
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    parent = Path(store.target).parent
    if not await asyncio.to_thread(parent.is_dir):
        raise CheckpointStoreError(
            f"{SETTING}={store.shown}: the directory {parent} does not exist; create it, "
            "or give a path in an existing one."
        )
    try:
        saver = await stack.enter_async_context(AsyncSqliteSaver.from_conn_string(store.target))
        await saver.setup()
    except sqlite3.Error as exc:
        raise CheckpointStoreError(
            f"{SETTING}={store.shown}: SQLite cannot open {store.target} ({exc}); check that "
            "the file is a database you may write, or give another path."
        ) from None
    return saver


async def _enter_postgres(
    stack: AsyncExitStack, store: CheckpointStore
) -> BaseCheckpointSaver[Any]:
    try:
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
        from psycopg import AsyncConnection
        from psycopg import Error as PostgresError
        from psycopg.conninfo import conninfo_to_dict
        from psycopg.rows import dict_row
    except ImportError as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointStoreError(
            MISSING_EXTRA.format(setting=SETTING, shown=store.shown, reason=reason)
        ) from None
    try:
        params = conninfo_to_dict(store.target)
    except PostgresError as exc:
        raise SettingsError(_bad_url(store, _first_line(exc))) from None
    ports = str(params.get("port", DEFAULT_PG_PORT)).split(",")
    if not all(port.strip().isdigit() for port in ports):
        raise SettingsError(_bad_url(store, f"port {params.get('port')!r} is not a number"))
    # What the URL leaves unset: a bounded wait, and text as text (a SQL_ASCII database
    # would hand back thread ids as bytes, and a resumed run would not find its thread).
    defaults = {"connect_timeout": DB_CONNECT_TIMEOUT_S, "client_encoding": "UTF8"}
    options: dict[str, Any] = {k: v for k, v in defaults.items() if k not in params}
    try:
        conn = await AsyncConnection.connect(
            store.target, autocommit=True, prepare_threshold=0, row_factory=dict_row, **options
        )
    except PostgresError as exc:
        raise CheckpointStoreError(connect_failure(store, params, exc)) from None
    await stack.enter_async_context(conn)
    saver = AsyncPostgresSaver(conn)
    try:
        await _set_up_alone(conn, saver, store)
    except PostgresError as exc:
        raise CheckpointStoreError(
            f"PostgreSQL at {_where(params)} would not set up the checkpoint tables "
            f"({_first_line(exc)}): give the user of {SETTING} the right to create tables in "
            f"database {params.get('dbname', '')!r}, or name another database."
        ) from None
    return saver


async def _set_up_alone(
    conn: AsyncConnection[dict[str, Any]], saver: AsyncPostgresSaver, store: CheckpointStore
) -> None:
    """`saver.setup()` while no other process runs it.

    The lock is tried, not waited for: a session blocked on it would sit in a statement,
    and the migrations' `CREATE INDEX CONCURRENTLY` waits for every open statement to end.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETUP_LOCK_WAIT_S
    while not await _try_setup_lock(conn):
        if loop.time() > deadline:
            raise CheckpointStoreError(
                f"Another process has been setting up the checkpoint tables at {store.shown} "
                f"for {SETUP_LOCK_WAIT_S:.0f} s: let it finish (or end it) and start again."
            )
        await asyncio.sleep(SETUP_LOCK_POLL_S)
    try:
        await saver.setup()
    finally:
        await conn.execute("SELECT pg_advisory_unlock(%s)", (SETUP_LOCK_KEY,))


async def _try_setup_lock(conn: AsyncConnection[dict[str, Any]]) -> bool:
    cursor = await conn.execute("SELECT pg_try_advisory_lock(%s) AS got", (SETUP_LOCK_KEY,))
    row = await cursor.fetchone()
    return bool(row and row["got"])


def connect_failure(store: CheckpointStore, params: Mapping[str, Any], exc: Exception) -> str:
    """One line for a failed connection: where, why, and the fix."""
    reason = redact_text(_first_line(exc))
    password = params.get("password")
    if password:
        reason = reason.replace(str(password), "***")
    where = _where(params)
    state = getattr(exc, "sqlstate", None)
    if state == NO_DATABASE or ("database" in reason and "does not exist" in reason):
        name = params.get("dbname", "")
        return (
            f"PostgreSQL at {where} has no database {name!r}: create it (createdb {name}, "
            f"or CREATE DATABASE), or name an existing one in {SETTING}."
        )
    if state in AUTH_FAILED or "authentication failed" in reason:
        return (
            f"PostgreSQL at {where} refused the login ({reason}): fix the user or password "
            f"in {SETTING}, or let that user in (the server's pg_hba.conf)."
        )
    return (
        f"Cannot reach PostgreSQL at {where} ({reason}): start the server, or fix the host "
        f"and port in {SETTING}={store.shown}."
    )


def _bad_url(store: CheckpointStore, reason: str) -> str:
    reason = redact_text(reason)
    return f"{SETTING}={store.shown} is not a valid PostgreSQL URL ({reason}): give {EXAMPLES}."


def _where(params: Mapping[str, Any]) -> str:
    host = params.get("host") or params.get("hostaddr") or DEFAULT_PG_HOST
    return f"{host}:{params.get('port') or DEFAULT_PG_PORT}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__

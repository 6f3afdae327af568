"""ORQUESTRA_DB_URL: which store a URL names, and one clear error for each way it fails."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest

from orquestra import open_checkpointer
from orquestra.checkpoints import checkpoint_store
from orquestra.errors import CheckpointStoreError, SettingsError
from tests.postgres import unused_port

FORMS = "postgresql://user:password@host:5432/dbname"
# The code a second interpreter runs to read a thread back from a store.
READ_THREAD = """
import asyncio, sys
from orquestra import open_checkpointer

async def main() -> None:
    async with open_checkpointer(sys.argv[1]) as saver:
        found = await saver.aget_tuple({"configurable": {"thread_id": "t-1", "checkpoint_ns": ""}})
        print(found.checkpoint["channel_values"]["note"] if found else "no thread")

asyncio.run(main())
"""


@pytest.mark.parametrize(
    ("url", "kind", "target", "shown"),
    [
        ("", "memory", "", "memory"),
        ("  ", "memory", "", "memory"),
        (
            "postgresql://orq:s3cret@db:5432/runs",
            "postgres",
            "postgresql://orq:s3cret@db:5432/runs",
            "postgresql://orq:***@db:5432/runs",
        ),
        ("postgres://db/runs", "postgres", "postgresql://db/runs", "postgres://db/runs"),
        (
            "postgresql+asyncpg://orq:pw@db/runs",
            "postgres",
            "postgresql://orq:pw@db/runs",
            "postgresql+asyncpg://orq:***@db/runs",
        ),
        ("sqlite:///threads.db", "sqlite", "threads.db", "sqlite:///threads.db"),
        ("sqlite:////var/lib/orq/threads.db", "sqlite", "/var/lib/orq/threads.db", None),
    ],
)
def test_a_url_names_its_store_and_messages_never_show_its_password(
    url: str, kind: str, target: str, shown: str | None
) -> None:
    store = checkpoint_store(url)
    assert (store.kind, store.target) == (kind, target)
    assert store.shown == (shown or url)
    assert store.persistent == (kind != "memory")


@pytest.mark.parametrize(
    "url", ["mysql://orq:s3cret@db/runs", "sqlite://threads.db", "sqlite:///", "threads.db"]
)
def test_a_url_naming_no_usable_store_is_a_settings_error_listing_the_forms(url: str) -> None:
    with pytest.raises(SettingsError) as caught:
        checkpoint_store(url)
    message = str(caught.value)
    assert message.startswith("ORQUESTRA_DB_URL=") and FORMS in message
    assert "s3cret" not in message and "\n" not in message


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("postgresql://orq:s3cret@db:abc/runs", "port 'abc' is not a number"),
        ("postgresql://orq:s3cret@db/runs?colour=blue", 'invalid URI query parameter: "colour"'),
    ],
)
async def test_a_postgres_url_libpq_cannot_read_is_a_settings_error(url: str, why: str) -> None:
    pytest.importorskip("psycopg", reason="needs the postgres extra")
    with pytest.raises(SettingsError) as caught:
        async with open_checkpointer(url):
            pass
    assert why in str(caught.value) and FORMS in str(caught.value)
    assert "s3cret" not in str(caught.value)


async def test_a_server_that_does_not_answer_is_one_error_naming_where_and_the_fix() -> None:
    pytest.importorskip("psycopg", reason="needs the postgres extra")
    port = unused_port()
    with pytest.raises(CheckpointStoreError) as caught:
        async with open_checkpointer(f"postgresql://orq:s3cret@127.0.0.1:{port}/runs"):
            pass
    message = str(caught.value)
    assert message.startswith(f"Cannot reach PostgreSQL at 127.0.0.1:{port}")
    assert "start the server" in message and "ORQUESTRA_DB_URL" in message
    assert "s3cret" not in message and "\n" not in message


async def test_a_database_that_does_not_exist_is_named_with_createdb(pg_url: str) -> None:
    missing = pg_url.rsplit("/", 1)[0] + "/nowhere"
    with pytest.raises(CheckpointStoreError, match=r"has no database 'nowhere'.*createdb nowhere"):
        async with open_checkpointer(missing):
            pass


async def test_without_the_extra_the_error_names_the_pip_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "langgraph.checkpoint.postgres.aio", None)
    with pytest.raises(CheckpointStoreError) as caught:
        async with open_checkpointer("postgresql://orq:s3cret@db/runs"):
            pass
    assert "pip install 'orquestra-agent[postgres]'" in str(caught.value)
    assert "s3cret" not in str(caught.value)


async def test_the_setting_names_the_store_when_no_url_is_given(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    async with open_checkpointer() as saver:
        assert isinstance(saver, InMemorySaver)
    monkeypatch.setenv("ORQUESTRA_DB_URL", f"sqlite:///{tmp_path}/threads.db")
    async with open_checkpointer() as saver:
        assert isinstance(saver, AsyncSqliteSaver)
    assert (tmp_path / "threads.db").exists()
    monkeypatch.setenv("ORQUESTRA_DB_URL", f"sqlite:///{tmp_path}/missing/threads.db")
    with pytest.raises(CheckpointStoreError, match="does not exist"):
        async with open_checkpointer():
            pass


async def _write_and_read_back(url: str, cwd: Path) -> str:
    from langgraph.checkpoint.base import empty_checkpoint

    async with open_checkpointer(url) as saver:
        checkpoint = empty_checkpoint()
        checkpoint["channel_values"] = {"note": "kept"}
        config = {"configurable": {"thread_id": "t-1", "checkpoint_ns": ""}}
        await saver.aput(config, checkpoint, {"source": "input", "step": -1}, {})
    reader = await asyncio.create_subprocess_exec(
        sys.executable, "-c", READ_THREAD, url, cwd=cwd, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(reader.communicate(), timeout=120)
    assert reader.returncode == 0
    return out.decode().strip()


async def test_a_thread_in_postgres_is_read_by_another_process(pg_url: str, tmp_path: Path) -> None:
    assert await _write_and_read_back(pg_url, tmp_path) == "kept"


async def test_processes_starting_together_on_a_fresh_database_all_set_it_up(
    pg_url: str,
) -> None:
    import psycopg

    async def open_one() -> str:
        async with open_checkpointer(pg_url) as saver:
            return type(saver).__name__

    assert await asyncio.gather(*(open_one() for _ in range(4))) == ["AsyncPostgresSaver"] * 4
    from langgraph.checkpoint.postgres.base import BasePostgresSaver

    async with await psycopg.AsyncConnection.connect(pg_url) as conn:
        rows = await (await conn.execute("SELECT v FROM checkpoint_migrations")).fetchall()
    assert sorted(v for (v,) in rows) == list(range(len(BasePostgresSaver.MIGRATIONS)))


async def test_a_sql_ascii_database_still_gives_thread_ids_back_as_text(
    postgres_cluster: Any,
) -> None:
    """Without UTF-8 asked for, psycopg returns SQL_ASCII text as bytes: no run would resume."""
    from langgraph.checkpoint.base import empty_checkpoint

    url = postgres_cluster.create_database(encoding="SQL_ASCII")
    config: Any = {"configurable": {"thread_id": "t-1", "checkpoint_ns": ""}}
    async with open_checkpointer(url) as saver:
        await saver.aput(config, empty_checkpoint(), {"source": "input", "step": -1}, {})
        found = await saver.aget_tuple(config)
    assert found is not None and found.config["configurable"]["thread_id"] == "t-1"


async def test_a_thread_in_sqlite_is_read_by_another_process(tmp_path: Path) -> None:
    assert await _write_and_read_back(f"sqlite:///{tmp_path}/threads.db", tmp_path) == "kept"

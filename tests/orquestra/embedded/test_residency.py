"""Releasing and repopulating a read-only file mapping: memory given back, contents kept."""

from __future__ import annotations

import mmap
import sys
from pathlib import Path

import pytest

from orquestra.backends.embedded import resident_bytes
from orquestra.embedded import residency

MIB = 1024 * 1024
SIZE = 64 * MIB

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="madvise on Linux")


def test_parse_maps_reads_ranges_of_one_file_and_refuses_writable_ones() -> None:
    text = (
        "7f0000000000-7f0000400000 r--s 00000000 fd:01 42   /models/brain.gguf\n"
        "7f0000400000-7f0000401000 rw-p 00000000 00:00 0 \n"
        "7f0000500000-7f0000600000 r--s 00500000 fd:01 42   /models/brain.gguf\n"
        "7f0000700000-7f0000800000 r--s 00000000 fd:01 43   /models/executor.gguf\n"
    )
    assert residency.parse_maps(text, "/models/brain.gguf") == (
        (0x7F0000000000, 0x400000),
        (0x7F0000500000, 0x100000),
    )
    assert residency.parse_maps(text, "/models/none.gguf") == ()
    private = text + "7f0000900000-7f0000a00000 rw-p 00000000 fd:01 42   /models/brain.gguf\n"
    assert residency.parse_maps(private, "/models/brain.gguf") is None


def test_a_path_with_spaces_is_matched_whole() -> None:
    line = "7f0000000000-7f0000001000 r--s 00000000 fd:01 42   /home/me/my models/a.gguf\n"
    assert residency.parse_maps(line, "/home/me/my models/a.gguf") == ((0x7F0000000000, 0x1000),)
    assert residency.parse_maps(line, "/home/me/my") == ()


def test_an_unmapped_file_has_no_mapping(tmp_path: Path) -> None:
    path = tmp_path / "weights.bin"
    path.write_bytes(b"x" * 4096)
    assert residency.find_mapping(path) is None


@linux_only
def test_release_gives_the_pages_back_and_populate_maps_them_again(tmp_path: Path) -> None:
    path = tmp_path / "weights.bin"
    pattern = bytes(range(256)) * (SIZE // 256)
    path.write_bytes(pattern)
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as view:
        before = resident_bytes()
        assert view[:] == pattern  # touches every page
        touched = resident_bytes()
        assert touched - before > 0.8 * SIZE

        mapping = residency.find_mapping(path)
        assert mapping is not None and mapping.size == SIZE
        assert residency.release(mapping)
        assert touched - resident_bytes() > 0.8 * SIZE  # really given back

        residency.populate(mapping)
        assert resident_bytes() - before > 0.8 * SIZE
        assert view[SIZE // 2 : SIZE // 2 + 256] == bytes(range(256))  # contents intact


@linux_only
def test_a_writable_mapping_is_never_released(tmp_path: Path) -> None:
    path = tmp_path / "scratch.bin"
    path.write_bytes(b"\0" * MIB)
    with path.open("r+b") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_COPY) as view:
        view[0] = 1  # a private change that releasing would lose
        assert residency.find_mapping(path) is None
        assert view[0] == 1

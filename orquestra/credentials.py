"""What proves an `orquestra serve` is the user's own, and what it asks of its clients.

Two secrets, each with one job:

- **The user's key**: a random key in a file only the user can read
  (`ORQUESTRA_SERVE_KEY_FILE`, by default in the user's configuration directory), made by
  whichever of the user's processes needs it first. A scheduler answers a client's
  challenge (a fresh nonce in `x-orquestra-challenge`) with an HMAC of it under this key
  and its own port (`x-orquestra-proof`); only a process of the same user can read the key,
  so another user who took the port first cannot answer, and a listener on another port
  cannot relay the real scheduler's answer. Nothing secret crosses the wire: the key is
  never sent.
- **The API key** (`ORQUESTRA_API_KEY`): what network peers send as
  `Authorization: Bearer …` (as OpenAI and Ollama clients can), and what proves a
  scheduler on another machine: its proof is an HMAC of the nonce under the API key.

The proofs are pure functions here; reading and making the key file are the effects.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path

from orquestra.errors import SettingsError

# The file's content: this many random bytes, hex-encoded.
KEY_BYTES = 32
# A nonce's random bytes (hex-encoded in the challenge header).
NONCE_BYTES = 16
# The setting that places the key file, named in its errors.
KEY_FILE_SETTING = "ORQUESTRA_SERVE_KEY_FILE"
# Mode bits a private file or directory must not have (group and others).
NOT_PRIVATE = stat.S_IRWXG | stat.S_IRWXO
# The file mode the key is written with, and its directory's.
KEY_FILE_MODE = 0o600
KEY_DIR_MODE = 0o700


def new_nonce() -> str:
    """A fresh challenge."""
    return secrets.token_hex(NONCE_BYTES)


def user_proof(key: bytes, nonce: str, port: int) -> str:
    """The answer to `nonce` under the user's key, bound to the port the scheduler listens on."""
    return hmac.new(key, f"{nonce}|{port}".encode(), hashlib.sha256).hexdigest()


def api_proof(api_key: str, nonce: str) -> str:
    """The answer to `nonce` under the API key (a proxy in front may change the port)."""
    return hmac.new(api_key.encode(), nonce.encode(), hashlib.sha256).hexdigest()


def proofs_header(proofs: list[str]) -> str:
    """The `x-orquestra-proof` value: every proof the scheduler can give."""
    return ", ".join(proofs)


def proven(header: str | None, expected: list[str]) -> bool:
    """Whether the proof header holds one of the proofs this client can check."""
    given = [p.strip() for p in (header or "").split(",") if p.strip()]
    return any(hmac.compare_digest(g, e) for g in given for e in expected)


def bearer_matches(authorization: str | None, api_key: str) -> bool:
    """Whether an `Authorization` header carries `api_key` as its bearer token."""
    if not api_key or not authorization:
        return False
    scheme, _, token = authorization.strip().partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip(), api_key)


def private_problem(mode: int, owner: int | None, own_uid: int | None, what: str) -> str | None:
    """Why a file or directory with this mode and owner cannot hold the key, or None."""
    if own_uid is not None and owner is not None and owner != own_uid:
        return f"{what} belongs to uid {owner}, not to this user (uid {own_uid})"
    if mode & NOT_PRIVATE:
        return f"{what} can be read or written by others (mode {stat.S_IMODE(mode):o})"
    return None


def load_user_key(path: Path) -> bytes:
    """The user's key from `path`, made there (private) when there is none yet.

    Raises:
        SettingsError: The file or its directory is not private to this user, or not a
            key; the message names the file and the fix.
    """
    own_uid = os.geteuid() if hasattr(os, "geteuid") else None
    try:
        path.parent.mkdir(mode=KEY_DIR_MODE, parents=True, exist_ok=True)
        folder = path.parent.stat()
    except OSError as exc:
        raise _unusable(path, f"its directory cannot be made ({exc.strerror})") from None
    owner = folder.st_uid if own_uid is not None else None
    if own_uid is not None and owner != own_uid:
        raise _unusable(path, f"its directory belongs to uid {owner}, not to this user")
    if own_uid is not None and folder.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise _unusable(path, "others can write to its directory")
    for _ in range(2):  # a second try when another process made it at the same instant
        with contextlib.suppress(FileNotFoundError):
            return _read_key(path, own_uid)
        with contextlib.suppress(FileExistsError):
            return _write_key(path)
    return _read_key(path, own_uid)


def _read_key(path: Path, own_uid: int | None) -> bytes:
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise _unusable(path, f"it cannot be read ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise _unusable(path, "it is not a regular file")
        problem = private_problem(info.st_mode, info.st_uid, own_uid, "it")
        if own_uid is not None and problem:
            raise _unusable(path, problem)
        text = file.read(4 * KEY_BYTES).strip()
    if len(text) != 2 * KEY_BYTES or not all(c in b"0123456789abcdef" for c in text):
        raise _unusable(path, "it does not hold a key")
    return text


def _write_key(path: Path) -> bytes:
    key = secrets.token_hex(KEY_BYTES).encode()
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, KEY_FILE_MODE)
    with os.fdopen(fd, "wb") as file:
        file.write(key + b"\n")
    return key


def _unusable(path: Path, why: str) -> SettingsError:
    return SettingsError(
        f"The orquestra serve key file {path} cannot be used: {why}. Remove it (a new one is "
        f"made, readable only by you), or point {KEY_FILE_SETTING} at a file in a private "
        "directory."
    )

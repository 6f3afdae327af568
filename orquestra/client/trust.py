"""A client's side of `orquestra.credentials`: send a challenge, trust only a proven answer.

Every request an Orquestra client sends to its scheduler carries a fresh challenge, and
the API key when one is set; every answer must carry the scheduler's proof, checked before
the answer is read. So the first request to whatever took the scheduler's port (another
user's listener, before the user's own scheduler started or after it exited when idle)
stops with one line saying what answered and the fix, and no answer of an impostor ever
reaches the user or the graph. A scheduler on another machine proves itself with the API
key; with none set there, nothing can prove it, and it is used as given (the user named it
in `ORQUESTRA_URL`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from orquestra.client.wire import CHALLENGE_HEADER, PROOF_HEADER
from orquestra.credentials import api_proof, load_user_key, new_nonce, proven, user_proof
from orquestra.errors import UntrustedServerError
from orquestra.lineup import redact_text
from orquestra.policy.access import listens_on_loopback
from orquestra.policy.auth import API_KEY_SETTING
from orquestra.settings import Settings

# How much of an impostor's answer a refusal quotes.
QUOTED_CHARS = 160
# ...read from at most this many bytes of it.
QUOTED_BYTES = 4096
HTTP_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Trust:
    """How a client proves its scheduler and what it sends it."""

    url: str
    port: int
    user_key: bytes | None
    """The user's key, for a scheduler on this machine."""
    api_key: str

    @classmethod
    def of(cls, url: str, settings: Settings) -> Trust:
        """The trust for the scheduler at `url`.

        Raises:
            SettingsError: The user's key file is not private (the message names the fix).
        """
        parts = urlsplit(url)
        port = parts.port or HTTP_DEFAULT_PORTS.get(parts.scheme, 80)
        local = listens_on_loopback(parts.hostname or "")
        user_key = load_user_key(settings.serve_key_file) if local else None
        return cls(url.rstrip("/"), port, user_key, settings.api_key.get_secret_value())

    @property
    def checks(self) -> bool:
        """Whether this scheduler can prove itself (it is local, or an API key is set)."""
        return self.user_key is not None or bool(self.api_key)

    def headers(self) -> dict[str, str]:
        """What every request carries besides its challenge (the API key, when set)."""
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def challenge(self, request: httpx.Request) -> None:
        """Add a fresh challenge (and the API key) to `request`."""
        request.headers.update(self.headers())
        if self.checks:
            request.headers[CHALLENGE_HEADER] = new_nonce()

    def proves(self, response: httpx.Response) -> bool:
        """Whether `response` carries the proof its request's challenge asked for."""
        nonce = response.request.headers.get(CHALLENGE_HEADER)
        if not nonce:
            return True
        expected = [user_proof(self.user_key, nonce, self.port)] if self.user_key else []
        if self.api_key:
            expected.append(api_proof(self.api_key, nonce))
        return proven(response.headers.get(PROOF_HEADER), expected)

    def check(self, response: httpx.Response) -> None:
        """Return if `response` comes from the user's scheduler; raise otherwise.

        Raises:
            UntrustedServerError: The answer carries no valid proof (the message says what
                answered and the fix).
        """
        if not self.proves(response):
            said = b""
            for chunk in response.iter_bytes():
                said += chunk
                if len(said) >= QUOTED_BYTES:
                    break
            raise UntrustedServerError(self.refusal(response, said))

    async def acheck(self, response: httpx.Response) -> None:
        """`check` for an `httpx.AsyncClient`'s answer."""
        if not self.proves(response):
            said = b""
            async for chunk in response.aiter_bytes():
                said += chunk
                if len(said) >= QUOTED_BYTES:
                    break
            raise UntrustedServerError(self.refusal(response, said))

    def refusal(self, response: httpx.Response, said: bytes = b"") -> str:
        """One line: what answered at the scheduler's address, and the fix."""
        what = f"HTTP {response.status_code}"
        if server := response.headers.get("server"):
            what += f" from {server!r}"
        if quoted := _quoted(said):
            what += f": {quoted}"
        if response.status_code in (401, 403):
            fix = (
                f"send the right {API_KEY_SETTING}, or use your own scheduler: set "
                "ORQUESTRA_SERVE_PORT to a free port (it starts there by itself)"
            )
        else:
            fix = (
                "another user's program may hold the port: see whose with "
                f"`ss -ltnp 'sport = :{self.port}'`, or set ORQUESTRA_SERVE_PORT to a free port "
                "(your scheduler starts there by itself); a scheduler on another machine "
                f"proves itself with {API_KEY_SETTING}, set on both sides"
            )
        return (
            f"Refusing {redact_text(self.url)}: it is not proven to be your orquestra serve "
            f"(it answered {what}), so its answer is not used. Fix: {fix}."
        )

    def event_hooks(self) -> dict[str, list[Any]]:
        """Hooks for a blocking `httpx.Client`: challenge each request, check each answer."""
        return {"request": [self.challenge], "response": [self.check]}

    def async_event_hooks(self) -> dict[str, list[Any]]:
        """The same hooks for an `httpx.AsyncClient`."""

        async def challenge(request: httpx.Request) -> None:
            self.challenge(request)

        return {"request": [challenge], "response": [self.acheck]}


def _quoted(said: bytes) -> str:
    """The start of what an answer said (its error, if JSON), on one line."""
    text = said[:QUOTED_BYTES].decode(errors="replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        text = data["error"]
    text = " ".join(text.split())
    return text[:QUOTED_CHARS] + ("…" if len(text) > QUOTED_CHARS else "")

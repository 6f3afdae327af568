"""Who gets into `orquestra serve`, and how it proves to its clients that it is theirs.

An ASGI middleware after the browser checks: each request is admitted by
`orquestra.policy.auth` (the user who opened a local connection, or the API key) or
answered 401/403 naming the fix, before any route runs. An admitted request that carries
a challenge gets the scheduler's proofs in its answer's headers
(`orquestra.credentials`), which Orquestra's clients check before they trust it. The
client each request counts as (for per-client bounds) is left in the scope's state.
"""

from __future__ import annotations

import ipaddress
import json
import os
from collections.abc import Callable

from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orquestra.client.wire import CHALLENGE_HEADER, PROOF_HEADER
from orquestra.credentials import (
    api_proof,
    bearer_matches,
    load_user_key,
    proofs_header,
    user_proof,
)
from orquestra.policy.access import allowed_origins
from orquestra.policy.auth import Admission, AuthRules, Peer, admit
from orquestra.server.guard import BodyLimit, BrowserGuard
from orquestra.server.peers import can_tell_peers, peer_uid
from orquestra.settings import Settings

# Where a route finds who the request counts as (`request.state.client`).
CLIENT_STATE = "client"


def _loopback(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


class ClientAuth:
    """Admit each request by `AuthRules`; answer challenges from admitted clients."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        rules: AuthRules,
        api_key: str,
        user_key: bytes,
        lookup: Callable[[tuple[str, int], tuple[str, int]], int | None] = peer_uid,
    ) -> None:
        self.app, self.rules, self.api_key, self.user_key = app, rules, api_key, user_key
        self.lookup = lookup

    def admission(self, scope: Scope, authorization: str | None) -> Admission:
        """The decision for this request's peer and credentials."""
        client = tuple(scope.get("client") or ("", 0))
        server = tuple(scope.get("server") or ("", 0))
        loopback = _loopback(str(client[0]))
        has_key = bearer_matches(authorization, self.api_key)
        uid = None
        if loopback and self.rules.tells_peers:
            uid = self.lookup((str(client[0]), int(client[1])), (str(server[0]), int(server[1])))
        peer = Peer(address=str(client[0]), loopback=loopback, uid=uid)
        return admit(peer, has_api_key=has_key, rules=self.rules)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve an admitted request (with proofs when challenged); refuse the others."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        decision = self.admission(scope, headers.get("authorization"))
        if not decision.allowed:
            body = json.dumps({"error": decision.message}).encode()
            start: Message = {
                "type": "http.response.start",
                "status": decision.status,
                "headers": [
                    (b"content-type", b"application/json; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                    *([(b"www-authenticate", b"Bearer")] if decision.status == 401 else []),
                ],
            }
            await send(start)
            await send({"type": "http.response.body", "body": body})
            return
        scope.setdefault("state", {})[CLIENT_STATE] = decision.client
        nonce = headers.get(CHALLENGE_HEADER)
        if not nonce:
            await self.app(scope, receive, send)
            return
        port = int((scope.get("server") or ("", 0))[1])
        proofs = [user_proof(self.user_key, nonce, port)]
        if self.api_key:
            proofs.append(api_proof(self.api_key, nonce))
        proof = (PROOF_HEADER.encode(), proofs_header(proofs).encode())

        async def proving(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), proof]}
            await send(message)

        await self.app(scope, receive, proving)


def front_door(settings: Settings, *, bind_host: str, open_access: bool) -> list[Middleware]:
    """What every request passes before a route: Host and Origin, who it is, its size.

    Raises:
        SettingsError: The user's key file cannot be used (the message names the fix).
    """
    api_key = settings.api_key.get_secret_value()
    rules = AuthRules(
        own_uid=os.geteuid() if hasattr(os, "geteuid") else None,
        tells_peers=can_tell_peers(),
        api_key_set=bool(api_key),
        open_access=open_access,
    )
    return [
        Middleware(BrowserGuard, bind_host=bind_host, origins=allowed_origins(settings.origins)),
        Middleware(
            ClientAuth,
            rules=rules,
            api_key=api_key,
            user_key=load_user_key(settings.serve_key_file),
        ),
        Middleware(BodyLimit, max_bytes=int(settings.serve_max_body_mb * 2**20)),
    ]

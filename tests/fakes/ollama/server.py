"""The fake server's HTTP side: Ollama's wire protocol over loopback, on a thread.

The handler parses requests, answers the endpoints the runtime uses (`/`, `/api/version`,
`/api/ps`, `/api/tags`, `/api/show`, `/api/pull`, `/api/create`, `/api/generate`,
`/api/chat`) with Ollama's status codes and bodies, and leaves every decision about loading
and VRAM to `FakeOllamaState`. A state marked `down` drops connections unanswered; one
with `answers_to_break` sends the next chat, generate or pull answers only in part (a
stream's first line, half of a whole body) and then closes the connection, as an Ollama
that dies mid-answer does.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.fakes.ollama.models import FakeModel, canonical, details, parse_keep_alive, timestamp
from tests.fakes.ollama.replies import done_reply, generation_reply
from tests.fakes.ollama.state import FakeOllamaState


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; without TCP_NODELAY, Nagle's algorithm and
    # delayed ACKs add 40 ms to every answer.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _send(self, status: int, body: Any, ndjson: bool = False, broken: bool = False) -> None:
        if status == 500:
            with self.server.state.lock:
                self.server.state.errors_500 += 1
        if ndjson:
            data = "".join(json.dumps(b) + "\n" for b in body).encode()
            ctype = "application/x-ndjson"
        elif isinstance(body, str):
            data, ctype = body.encode(), "text/plain; charset=utf-8"
        else:
            data, ctype = json.dumps(body).encode(), "application/json; charset=utf-8"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if broken:  # the length promised, then the first line (or half the body) and no more
            self.wfile.write(data[: data.find(b"\n") + 1 or len(data) // 2])
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(data)

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}") if length else {}

    def do_HEAD(self) -> None:
        self._send(200, "Ollama is running")

    def do_GET(self) -> None:
        state = self.server.state
        if self._down():
            return
        if self.path == "/":
            self._send(200, "Ollama is running")
        elif self.path == "/api/version":
            self._send(200, {"version": state.version})
        elif self.path == "/api/ps":
            self._send(200, state.ps())
        elif self.path == "/api/tags":
            self._send(
                200,
                {
                    "models": [
                        {
                            "name": m.name,
                            "model": m.name,
                            "modified_at": timestamp(),
                            "size": m.weights,
                            "digest": "e" * 64,
                            "details": details(),
                        }
                        for m in state.models.values()
                    ]
                },
            )
        else:
            self._send(404, "404 page not found")

    def _down(self) -> bool:
        """A dead backend: drop the connection without an answer."""
        if not self.server.state.down:
            return False
        self.close_connection = True
        self.connection.shutdown(2)
        return True

    def do_POST(self) -> None:
        state = self.server.state
        body = self._body()
        if self._down():
            return
        with state.lock:
            state.requests.append((self.path, body))
        if self.path in ("/api/generate", "/api/chat"):
            self._generate_or_chat(body, chat=self.path == "/api/chat")
        elif self.path == "/api/pull":
            self._pull(str(body.get("model") or body.get("name") or ""))
        elif self.path == "/api/create":
            self._create(body)
        elif self.path == "/api/show":
            self._show(body)
        else:
            self._send(404, "404 page not found")

    def _show(self, body: dict[str, Any]) -> None:
        name = canonical(str(body.get("model") or body.get("name") or ""))
        spec = self.server.state.models.get(name)
        if not body.get("model") and not body.get("name"):
            self._send(400, {"error": "model is required"})
        elif spec is None:
            self._send(404, {"error": f"model '{name}' not found"})
        else:
            self._send(
                200,
                {
                    "modelfile": f"FROM {spec.blob or '/fake/blobs/sha256-' + 'e' * 64}\n",
                    "parameters": "",
                    "template": "{{ .Prompt }}",
                    "details": details(),
                    "model_info": spec.model_info(),
                    "capabilities": list(spec.capabilities),
                    "modified_at": timestamp(),
                },
            )

    def _pull(self, name: str) -> None:
        state = self.server.state
        spec = state.registry.get(canonical(name))
        lines: list[dict[str, Any]] = [{"status": "pulling manifest"}]
        if spec is None:
            lines.append({"error": "pull model manifest: file does not exist"})
        else:
            digest = "sha256:" + "a" * 64
            for done in (0, spec.weights // 2, spec.weights):
                lines.append(
                    {
                        "status": f"pulling {'a' * 12}",
                        "digest": digest,
                        "total": spec.weights,
                        "completed": done,
                    }
                )
            lines += [
                {"status": "verifying sha256 digest"},
                {"status": "writing manifest"},
                {"status": "success"},
            ]
            with state.lock:
                state.models[spec.name] = spec
        self._send(200, lines, ndjson=True, broken=state.break_answer())

    def _create(self, body: dict[str, Any]) -> None:
        state = self.server.state
        name, source = canonical(str(body.get("model", ""))), str(body.get("from", ""))
        base = state.models.get(canonical(source))
        if base is None:
            self._send(404, {"error": f"model '{source}' not found"})
            return
        with state.lock:
            state.models[name] = FakeModel(**{**base.__dict__, "name": name})
            state.created[name] = dict(body)
        self._send(
            200,
            [
                {"status": "using existing layer sha256:" + "b" * 64},
                {"status": "writing manifest"},
                {"status": "success"},
            ],
            ndjson=True,
        )

    def _generate_or_chat(self, body: dict[str, Any], chat: bool) -> None:
        state = self.server.state
        model = str(body.get("model") or "")
        if not model:
            self._send(400, {"error": "model is required"})
            return
        try:
            keep_alive = parse_keep_alive(body.get("keep_alive"))
        except ValueError as exc:
            self._send(400, {"error": str(exc)})
            return
        empty = not (body.get("messages") if chat else body.get("prompt"))
        if empty and keep_alive == 0:
            status, error = state.unload(model)
            if error:
                self._send(status, error)
            else:
                self._send(200, done_reply(model, chat=chat, reason="unload"))
            return
        spec = state.models.get(canonical(model))
        if chat and body.get("tools") and spec and "tools" not in spec.capabilities:
            self._send(
                400,
                {"error": f"registry.ollama.ai/library/{canonical(model)} does not support tools"},
            )
            return
        status, error, load_s = state.ensure_loaded(
            model, body.get("options"), body.get("keep_alive"), implicit=not empty
        )
        if error:
            self._send(status, error)
            return
        try:
            if empty:
                self._send(200, done_reply(model, chat=chat, reason="load"))
                return
            if state.gen_s.get(canonical(model)):
                with state.generation_slot(model):
                    time.sleep(state.gen_s[canonical(model)])
            message = state.next_reply(body)
            stream = bool(body.get("stream", True))
            reply = generation_reply(model, message, load_s, chat=chat, stream=stream)
            self._send(200, reply, ndjson=stream, broken=state.break_answer())
        finally:
            state.finish(model)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: FakeOllamaState


class FakeOllama:
    """The fake server running in a background thread on 127.0.0.1."""

    def __init__(self, state: FakeOllamaState, port: int = 0) -> None:
        self.state = state
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.state = state
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeOllama:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def running(state: FakeOllamaState) -> Iterator[FakeOllama]:
    server = FakeOllama(state).start()
    try:
        yield server
    finally:
        server.stop()

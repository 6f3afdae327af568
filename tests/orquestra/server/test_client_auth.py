"""Only the user's own clients get in; a client trusts only the user's own scheduler.

Another user of the machine is played by `nobody` (through setpriv, when the tests run as
root); a network peer by a connection to this machine's own non-loopback address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import ollama
import openai
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from typer.testing import CliRunner

from orquestra.app.cli import app as cli_app
from orquestra.backends.ollama import OllamaBackend
from orquestra.client.autostart import find_or_start
from orquestra.client.wire import CHALLENGE_HEADER, PROOF_HEADER
from orquestra.errors import UntrustedServerError
from orquestra.ledger import LEDGER_FILENAME, FootprintLedger
from orquestra.manager import ModelManager
from orquestra.runtime import choose_backend, requested_lineup
from orquestra.server.app import create_app
from orquestra.server.guard import local_addresses
from orquestra.settings import load_settings
from tests.fakes.ollama import FakeNvml, FakeOllama, FakeOllamaState
from tests.graph_support import EXECUTOR
from tests.orquestra.server.conftest import Scheduler, connect, free_port, serving

AS_NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
other_user = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="needs root and setpriv to act as another user",
)
CHAT = {"model": EXECUTOR, "messages": [{"role": "user", "content": "hi"}], "stream": False}
API_KEY = "k3y-for-the-tests-0123456789abcdef"


def as_nobody(code: str, *args: str, **popen: Any) -> list[str]:
    """The command line running Python `code` as another user (`nobody`)."""
    return [*AS_NOBODY, sys.executable, "-c", code, *args]


# Another user's answers to each kind of route, printed as JSON lines.
OTHER_USER_CLIENT = r"""
import json, sys, httpx
url = sys.argv[1]
chat = json.loads(sys.argv[2])
for method, path, body in [
    ("GET", "/orquestra/status", None),
    ("POST", "/api/chat", chat),
    ("POST", "/orquestra/lease", {"role": "brain"}),
    ("GET", "/api/tags", None),
    ("POST", "/v1/chat/completions", chat),
]:
    answer = httpx.request(method, url + path, json=body, timeout=10)
    print(json.dumps({"path": path, "status": answer.status_code, "body": answer.text}))
"""


@other_user
def test_another_local_user_is_refused_on_every_route_and_the_owner_is_served(
    scheduler: Scheduler, state: FakeOllamaState
) -> None:
    done = subprocess.run(
        as_nobody(OTHER_USER_CLIENT, scheduler.url, json.dumps(CHAT)),
        capture_output=True,
        text=True,
        timeout=120,
        cwd="/",
    )
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(answers) == 5, done.stderr
    for answer in answers:
        assert answer["status"] == 403, answer
        error = json.loads(answer["body"])["error"]
        assert "another user" in error and "ORQUESTRA_SERVE_PORT" in error
    assert state.loads == {}  # refused before anything reached a model
    assert httpx.get(scheduler.url + "/orquestra/status", timeout=10).status_code == 200


# A listener that answers everything like a scheduler would (as another user, when it can).
IMPOSTOR = r"""
import http.server, sys
status = sys.argv[2].encode()

class Answer(http.server.BaseHTTPRequestHandler):
    def answer(self):
        size = int(self.headers.get("content-length") or 0)
        self.rfile.read(size)
        print(self.command, self.path, size, flush=True)
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(status)))
        self.end_headers()
        self.wfile.write(status)

    do_GET = do_POST = answer

    def log_message(self, *args):
        pass

server = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Answer)
print("listening", flush=True)
server.serve_forever()
"""


@pytest.fixture
def impostor(
    server: FakeOllama, monkeypatch: pytest.MonkeyPatch
) -> Iterator[subprocess.Popen[str]]:
    """Another user's listener on the scheduler's default port, set up for this user."""
    port = free_port()
    monkeypatch.setenv("ORQUESTRA_URL", "")  # the default address, autostart on
    monkeypatch.setenv("ORQUESTRA_SERVE_PORT", str(port))
    monkeypatch.setenv("OLLAMA_BASE_URL", server.url)
    monkeypatch.setenv("ORQUESTRA_BACKEND", "ollama")
    settings = load_settings()
    lineup = requested_lineup(settings, choose_backend(settings))
    status = {"upstream_server": lineup.upstream.as_dict(), "serve": {"autostarted": True}}
    code = [sys.executable, "-c", IMPOSTOR, str(port), json.dumps(status)]
    command = [*AS_NOBODY, *code] if os.geteuid() == 0 and shutil.which("setpriv") else code
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd="/")
    assert process.stdout is not None and process.stdout.readline().strip() == "listening"
    yield process
    process.kill()
    process.wait(timeout=10)


def heard(process: subprocess.Popen[str]) -> list[str]:
    """What the impostor received, one line per request."""
    process.kill()
    out, _ = process.communicate(timeout=10)
    return out.split("\n")[1:-1] if out.startswith("listening") else out.splitlines()


def test_a_client_refuses_an_impostor_on_the_default_port_and_sends_it_nothing(
    impostor: subprocess.Popen[str],
) -> None:
    settings = load_settings()
    lineup = requested_lineup(settings, choose_backend(settings))
    with pytest.raises(UntrustedServerError) as refused:
        find_or_start(settings, lineup)
    message = str(refused.value)
    assert "\n" not in message
    assert f"127.0.0.1:{settings.serve_port}" in message and "not proven" in message
    assert "HTTP 200" in message and "ORQUESTRA_SERVE_PORT" in message
    assert [line.split()[:2] for line in heard(impostor)] == [["GET", "/orquestra/status"]]


def test_orquestra_run_stops_at_an_impostor_with_one_line(impostor: subprocess.Popen[str]) -> None:
    result = CliRunner().invoke(cli_app, ["run", "Write a haiku about the sea"])
    said = " ".join(result.output.split())  # as one line, however the terminal wrapped it
    assert result.exit_code != 0
    assert said.startswith("Error: Refusing") and "not proven to be your orquestra serve" in said
    assert "Traceback" not in said
    assert all(line.startswith("GET /orquestra/status") for line in heard(impostor))


def _relay(target: str) -> Starlette:
    """A listener on another port passing everything to the real scheduler and back."""

    async def forward(request: Request) -> Response:
        headers = {
            k: v for k, v in request.headers.items() if k in ("content-type", CHALLENGE_HEADER)
        }
        async with httpx.AsyncClient(timeout=30) as upstream:
            answer = await upstream.request(
                request.method,
                target + request.url.path,
                headers=headers,
                content=await request.body(),
            )
        kept = {k: v for k, v in answer.headers.items() if k in ("content-type", PROOF_HEADER)}
        return Response(answer.content, answer.status_code, headers=kept)

    return Starlette(routes=[Route("/{path:path}", forward, methods=["GET", "POST"])])


def test_a_relay_on_another_port_cannot_pass_off_the_real_scheduler_s_proof(
    scheduler: Scheduler,
) -> None:
    direct = connect(scheduler.url, ollama_base_url=scheduler.upstream_url)
    assert direct.model_for("executor") == EXECUTOR  # the real one proves itself
    with serving(_relay(scheduler.url)) as relay_url:
        relayed = httpx.get(relay_url + "/orquestra/status", headers={CHALLENGE_HEADER: "n"})
        assert relayed.headers.get(PROOF_HEADER)  # the real scheduler's proof passes through
        with pytest.raises(UntrustedServerError, match="not proven"):
            connect(relay_url, ollama_base_url=scheduler.upstream_url)


def test_a_chat_answer_without_the_proof_is_never_used(
    scheduler: Scheduler, state: FakeOllamaState
) -> None:
    """The scheduler is swapped for a listener on the same port after the client connected."""
    remote = connect(scheduler.url, ollama_base_url=scheduler.upstream_url)
    scheduler.stop()
    state.script(EXECUTOR, "trusted answer")
    status = {"upstream_server": remote.lineup.upstream.as_dict()}
    code = [sys.executable, "-c", IMPOSTOR, str(scheduler.port), json.dumps(status)]
    command = [*AS_NOBODY, *code] if os.geteuid() == 0 and shutil.which("setpriv") else code
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd="/")
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "listening"

        async def ask() -> None:
            async with remote.use("executor") as chat:
                await chat.ainvoke("hi")

        with pytest.raises(UntrustedServerError, match="not proven"):
            asyncio.run(ask())
    finally:
        process.kill()
        process.wait(timeout=10)


def _network_address() -> str:
    for address in sorted(local_addresses()):
        ip = ipaddress.ip_address(address)
        if ip.version == 4 and not ip.is_loopback and not ip.is_link_local:
            return address
    pytest.skip("this machine has no non-loopback IPv4 address")


@pytest.fixture
def keyed_scheduler(server: FakeOllama, state: FakeOllamaState) -> Iterator[str]:
    """A scheduler listening on every address with an API key; yields its network URL."""
    address = _network_address()
    settings = load_settings(
        ollama_base_url=server.url,
        vram_budget_gb=16.0,
        home_role="none",
        orquestra_url="none",
        api_key=API_KEY,
    )
    manager = ModelManager(
        settings,
        OllamaBackend(settings.ollama_base_url),
        probe=FakeNvml(state),
        ledger=FootprintLedger(settings.cache_dir / LEDGER_FILENAME),
    )
    app = create_app(manager, max_queue=8, bind_host="0.0.0.0")
    with serving(app, host="0.0.0.0") as url:
        yield url.replace("127.0.0.1", address)


def test_a_network_peer_needs_the_api_key_and_every_kind_of_client_can_send_it(
    keyed_scheduler: str, state: FakeOllamaState, server: FakeOllama
) -> None:
    url = keyed_scheduler
    refused = httpx.post(url + "/api/chat", json=CHAT, timeout=10)
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
    assert "ORQUESTRA_API_KEY" in refused.json()["error"]
    wrong = httpx.get(url + "/api/tags", headers={"Authorization": "Bearer guess"}, timeout=10)
    assert wrong.status_code == 401
    assert state.loads == {}

    state.script(EXECUTOR, "olá")
    native = ollama.Client(host=url, headers={"Authorization": f"Bearer {API_KEY}"})
    assert (
        native.chat(model=EXECUTOR, messages=[{"role": "user", "content": "hi"}]).message.content
        == "olá"
    )
    state.script(EXECUTOR, "hello")
    sdk = openai.OpenAI(base_url=url + "/v1", api_key=API_KEY)
    reply = sdk.chat.completions.create(
        model=EXECUTOR, messages=[{"role": "user", "content": "hi"}]
    )
    assert reply.choices[0].message.content == "hello"

    # Orquestra's own client sends the key and checks the scheduler's proof made with it.
    remote = connect(url, ollama_base_url=server.url, api_key=API_KEY)
    assert remote.model_for("executor") == EXECUTOR
    with pytest.raises(UntrustedServerError, match=r"HTTP 401.*ORQUESTRA_API_KEY"):
        connect(url, ollama_base_url=server.url, api_key="not-the-key-at-all")


def test_serve_refuses_to_listen_beyond_loopback_without_a_key(server: FakeOllama) -> None:
    env = {**os.environ, "OLLAMA_BASE_URL": server.url, "ORQUESTRA_SERVE_PORT": str(free_port())}
    done = subprocess.run(
        [sys.executable, "-m", "orquestra.app.entry", "serve", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode != 0
    said = (done.stdout + done.stderr).strip()
    assert "ORQUESTRA_API_KEY" in said and "--no-auth" in said and "Traceback" not in said


def test_no_auth_serves_beyond_loopback_with_a_warning(server: FakeOllama) -> None:
    address = _network_address()
    port = free_port()
    env = {**os.environ, "OLLAMA_BASE_URL": server.url}
    command = [sys.executable, "-m", "orquestra.server", "--host", "0.0.0.0", "--port", str(port)]
    process = subprocess.Popen([*command, "--no-auth"], stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = httpx.get(f"http://{address}:{port}/api/tags", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and process.poll() is None
                time.sleep(0.2)
        assert answer.status_code == 200
    finally:
        process.terminate()
        _, log = process.communicate(timeout=30)
    assert "--no-auth" in log and "anyone who reaches" in log

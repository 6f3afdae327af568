"""A stateful fake Ollama server speaking the real wire protocol over loopback.

Run standalone: `python -m tests.fakes.ollama --port 11434` (for benchmarks, notebooks),
with the founding pair of models and the demo replies.
"""

from __future__ import annotations

import argparse

from tests.fakes.ollama.models import default_models
from tests.fakes.ollama.replies import demo_reply
from tests.fakes.ollama.server import FakeOllama
from tests.fakes.ollama.state import FakeOllamaState


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--port", type=int, default=11434)
    parser.add_argument("--vram-gb", type=float, default=16.0)
    args = parser.parse_args()
    state = FakeOllamaState(default_models(), vram_total_gb=args.vram_gb)
    state.default_reply = demo_reply
    server = FakeOllama(state, args.port)
    print(f"fake Ollama on {server.url}", flush=True)
    server._server.serve_forever()


if __name__ == "__main__":
    main()

"""`orquestra serve`: one scheduler per GPU for every client, speaking Ollama's API.

Clients (Orquestra processes, Open WebUI, Continue, a plain `ollama` client) send their
requests here instead of to Ollama; every request holds a lease on its model for its
whole duration, the one `ModelManager` makes the model resident first, and the request is
forwarded upstream with the model's pinned options and keep_alive. Orquestra's own
processes hold leases across a node's model calls through `client.RemoteManager`.
"""

"""The client side of `orquestra serve`: finding or starting it, and leasing through it.

`remote.RemoteManager` offers the `ModelService` protocol over HTTP; `autostart` finds
the one scheduler for this GPU, replaces an idle autostarted one that drives another
upstream, or refuses with the fix; `wire` holds what both sides agree on beyond Ollama's
API. The server (`orquestra.server`) imports from here, never the other way round.
"""

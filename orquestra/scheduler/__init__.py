"""The scheduler's effects: everything that waits, times, talks to a backend or reads memory.

- `leases`: the queue of requests and the leases held; it grants what the admission
  policy admits and reports the swap the oldest waiter needs, never calling back;
- `swapper`: carries out each action of a swap plan literally, timing every stage;
- `prefetcher`: reads the weights of the model that is out into the page cache;
- `sizing`: the budget and the footprints as the manager and the doctor both read them;
- `status`: the one status record.

`orquestra.manager.ModelManager` is the facade over them; the decisions are
`orquestra.policy`'s.
"""

"""The scheduler's decisions, pure: no asyncio, no I/O, no clock.

- `decision`: which models to unload and load so a role can run (eviction, fit, refusals);
- `admission`: which queued requests run now (batching without starvation) and when the
  home model is due;
- `budget`: the VRAM budget from the setting or the card;
- `footprint`: what a model will take before it has ever been loaded.

The effects that carry these decisions out live in `orquestra.scheduler`.
"""

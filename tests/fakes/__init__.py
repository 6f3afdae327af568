"""Stateful fakes of the services the runtime talks to (tests, benchmarks, notebooks)."""

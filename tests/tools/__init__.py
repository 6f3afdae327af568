"""Tests of the `tools` package (the sandbox, code extraction, specs and checks)."""

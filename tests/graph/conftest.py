"""Fixtures of the workflow's tests: a freshly compiled graph for each test."""

from __future__ import annotations

import pytest

from graph import build_graph


@pytest.fixture
def graph():  # type: ignore[no-untyped-def]
    return build_graph()

"""Fixtures of the hostile sandbox suite: one suite per package, a batch per identity and tier."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.tools.hostile_suite import CASES, Batch, Suite
from tests.tools.hostile_world import StandInOllama, World


@pytest.fixture(scope="package")
def suite() -> Iterator[Suite]:
    server = StandInOllama()
    suite = Suite(server)
    try:
        yield suite
    finally:
        suite.close()
        server.close()


@pytest.fixture(params=CASES)
def batch(request: pytest.FixtureRequest, suite: Suite) -> Batch:
    who, tier = request.param
    return suite.batch(who, tier)


@pytest.fixture
def world(request: pytest.FixtureRequest, suite: Suite, batch: Batch) -> World:
    who = request.node.callspec.params["batch"][0]
    return suite.world(who)

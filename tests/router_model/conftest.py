"""A network (controller + one router) for the router model's tests."""

from __future__ import annotations

import pytest

from ziti_aio.testing.network import open_network


@pytest.fixture
async def net(tmp_path):
    async with open_network(tmp_path, routers=1) as running:
        yield running

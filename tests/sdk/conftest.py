"""A network (controller + one router) for SDK tests, and a helper for Dial/Bind pairs."""

from __future__ import annotations

import pytest

from ziti_aio.testing.network import open_network


@pytest.fixture
async def net(tmp_path):
    async with open_network(tmp_path, routers=1) as running:
        yield running


async def host_and_dialer(net, service: str, *, encrypted: bool):
    """Identities ``host`` (Bind) and ``dialer`` (Dial) for a new ``service``; returns their files."""
    await net.create_service(service, encryption_required=encrypted)
    host, dialer = await net.create_identity("host"), await net.create_identity("dialer")
    await net.allow("host", service, "Bind")
    await net.allow("dialer", service, "Dial")
    return host.path, dialer.path

"""A router enrolls with its erott JWT, connects its control channel and shows as online."""

from __future__ import annotations

import json

from ziti_aio.testing.network import open_network


async def test_router_enrolls_and_comes_online(tmp_path):
    async with open_network(tmp_path, routers=1) as net:
        router = net.routers[0]
        home = tmp_path / "routers" / "er1"
        assert json.loads((home / "router.json").read_text())["id"] == router.id
        detail = await net.get(f"edge-routers/{router.id}")
        assert detail["isOnline"] is True
        assert detail["isVerified"] is True
        assert detail["supportedProtocols"] == {"tls": router.info.edge_address}

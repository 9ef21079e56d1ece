"""One port, several protocols told apart by ALPN: the controller's API and control channel, a
router's SDK (edge) and link listeners (docs/ports.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from ziti_aio.common.api_paths import CLIENT
from ziti_aio.router.ctrl import parse_address
from ziti_aio.testing import wait_until
from ziti_aio.testing.network import open_network
from ziti_aio.transport import alpn
from ziti_aio.transport.tls import client_context, open_tls

if TYPE_CHECKING:
    from pathlib import Path

    from ziti_aio.testing.network import RunningNetwork


async def negotiated(net: RunningNetwork, port: int, offer: list[str], *, router: str = "er1") -> str | None:
    """The protocol a client presenting router ``router``'s certificate and offering ``offer`` gets."""
    home = net.home / "routers" / router
    ctx = client_context(ca=str(home / "ca.pem"), cert_chain=str(home / "cert.pem"), key=str(home / "key.pem"),
                         alpn=offer)
    ctx.check_hostname = False
    stream = await open_tls("127.0.0.1", port, ctx)
    try:
        return stream.selected_alpn_protocol()
    finally:
        await stream.aclose()


async def online(net: RunningNetwork) -> bool:
    return all(r["isOnline"] for r in await net.get("edge-routers"))


async def test_the_api_port_serves_http_and_the_router_control_channel(tmp_path: Path) -> None:
    async with open_network(tmp_path, routers=1) as net:
        info = net.controller.info
        assert info.ctrl_port == info.port and parse_address(info.ctrl_address) == ("127.0.0.1", info.port)
        # the router reached the controller through the API port
        assert await wait_until(lambda: online(net), 10, what="er1 online")
        async with httpx.AsyncClient(verify=client_context(ca=str(info.ca_bundle_path))) as http:
            resp = await http.get(f"{info.url}{CLIENT}/version")
        assert resp.status_code == 200 and resp.json()["data"]["version"]
        assert await negotiated(net, info.port, [alpn.CTRL]) == alpn.CTRL
        assert await negotiated(net, info.port, ["h2", alpn.HTTP]) == alpn.HTTP
        assert await negotiated(net, info.port, []) is None


async def test_the_control_channel_can_have_a_port_of_its_own(tmp_path: Path) -> None:
    async with open_network(tmp_path, routers=1, ctrl_port=0) as net:
        info = net.controller.info
        assert info.ctrl_port not in (0, info.port)
        assert await wait_until(lambda: online(net), 10, what="er1 online")
        assert await negotiated(net, info.ctrl_port, [alpn.CTRL]) == alpn.CTRL
        # the API port no longer offers the control channel
        assert await negotiated(net, info.port, [alpn.CTRL]) is None


async def test_sdks_and_links_share_the_router_port(tmp_path: Path) -> None:
    async with open_network(tmp_path, routers=2) as net:
        for router in net.routers:
            assert parse_address(router.info.link_address) == ("127.0.0.1", router.info.edge_port)

        async def linked() -> bool:
            return len(await net.get("links")) == 1

        assert await wait_until(linked, 15, what="the link between er1 and er2")
        port = net.routers[0].info.edge_port
        assert await negotiated(net, port, [alpn.LINK], router="er2") == alpn.LINK
        assert await negotiated(net, port, [alpn.EDGE]) == alpn.EDGE
        assert await negotiated(net, port, []) is None  # libziti 0.29.3: the edge listener's

"""Routers link up as a mesh over mTLS; the controller knows every link; links die and come back."""

from __future__ import annotations

from mesh_net import wait_links

from ziti_aio.testing import wait_until
from ziti_aio.testing.network import open_network


async def test_three_routers_link_as_a_full_mesh(tmp_path):
    async with open_network(tmp_path, routers=3) as net:
        found = await wait_links(net, 3)
        ids = {r.id: r.name for r in net.routers}
        pairs = set()
        for link in found:
            src, dst = link["sourceRouter"], link["destRouter"]
            assert ids[src["id"]] == src["name"] and ids[dst["id"]] == dst["name"]
            assert link["state"] == "Connected" and link["down"] is False
            assert link["staticCost"] == 1 and link["cost"] >= 1
            pairs.add(frozenset((src["id"], dst["id"])))
        assert len(pairs) == 3
        # one link per pair on the routers too
        for r in net.routers:
            links = r.router.parts.links
            assert sorted(links.by_peer) == sorted(set(ids) - {r.id})
        # latency gets measured and reported

        async def measured() -> bool:
            return all(link["sourceLatency"] is not None or link["destLatency"] is not None
                       for link in await net.get("links"))

        await wait_until(measured, 10, what="every link's latency")


async def test_router_without_link_listener_dials_the_others(tmp_path):
    async with open_network(tmp_path, routers=1) as net:
        await net.add_router("er2", link=False)
        [link] = await wait_links(net, 1)
        assert link["sourceRouter"]["name"] == "er2" and link["destRouter"]["name"] == "er1"


async def test_a_stopped_router_takes_its_links_away_and_a_new_one_joins(tmp_path):
    async with open_network(tmp_path, routers=3) as net:
        await wait_links(net, 3)
        net.routers[2].stop()
        left = await wait_links(net, 1)
        assert {left[0]["sourceRouter"]["name"], left[0]["destRouter"]["name"]} == {"er1", "er2"}
        await net.add_router("er4")
        await wait_links(net, 3)

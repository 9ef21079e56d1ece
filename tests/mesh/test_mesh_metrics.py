"""Metrics of multi-hop circuits: a set-up through a transit router counts as created once it is answered."""

from __future__ import annotations

import trio
from mesh_net import accept_one, three_routers
from prometheus_client.parser import text_string_to_metric_families

from ziti_aio.testing import wait_until


async def gauges(net) -> dict[str, float]:
    """The unlabelled samples of a scrape, by name."""
    resp = await net.admin.get("/metrics")
    assert resp.status_code == 200, resp.text
    return {s.name: s.value for family in text_string_to_metric_families(resp.text) for s in family.samples
            if not s.labels}


async def test_link_latency_per_link_and_end(tmp_path):
    async with three_routers(tmp_path) as net:
        links = {lk["id"] for lk in await net.get("links")}

        async def measured():
            resp = await net.admin.get("/metrics")
            families = text_string_to_metric_families(resp.text)
            found = {(s.labels["link"], s.labels["end"]): s.value
                     for family in families if family.name == "ziti_link_latency_seconds" for s in family.samples}
            return found if {link for link, _ in found} == links else None

        found = await wait_until(measured, 15)
        assert all(0 <= value < 1 for value in found.values())


async def test_multi_hop_circuit_is_counted_when_set_up(tmp_path):
    async with three_routers(tmp_path) as net, net.context("host") as host, net.context("dialer") as dialer:
        before = await gauges(net)
        assert before["ziti_links"] == 3 and before["ziti_routers_online"] == 3
        listener = await host.bind("svc")
        async with trio.open_nursery() as nursery:
            await nursery.start(accept_one, listener)
            stream = await dialer.dial("svc")
        during = await gauges(net)
        assert during["ziti_circuits_active"] == 1
        assert during["ziti_circuits_created_total"] == before["ziti_circuits_created_total"] + 1
        assert during["ziti_circuit_setup_duration_seconds_count"] == \
            before["ziti_circuit_setup_duration_seconds_count"] + 1
        await stream.aclose()

        async def closed():
            return (await gauges(net))["ziti_circuits_active"] == 0

        await wait_until(closed, 10)

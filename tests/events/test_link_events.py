"""``link`` events and link latency through both sinks with two routers: a link reported by both its
routers (``routerLinkNew`` then ``routerLinkKnown``), its heartbeat latency as OpenZiti's ``link.latency``
``metrics`` event and a ``/metrics`` gauge, and its end (``fault``) while both routers stay online
(docs/events.md)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import trio
from prometheus_client.parser import text_string_to_metric_families
from trio_websocket import open_websocket_url

from ziti_aio.common import api_paths
from ziti_aio.common.events_config import EventFileConfig
from ziti_aio.router.ctrl import parse_address
from ziti_aio.testing import wait_until
from ziti_aio.testing.network import open_network
from ziti_aio.transport import alpn
from ziti_aio.transport.channel import connect_channel
from ziti_aio.transport.tls import client_context, open_tls
from ziti_aio.wire import ctrl
from ziti_aio.wire.ctrl import CtrlType

if TYPE_CHECKING:
    from collections.abc import Callable

    from ziti_aio.wire.frame import Message

HISTOGRAM_FIELDS = {"count", "min", "max", "mean", "std_dev", "variance", "p50", "p75", "p95", "p99", "p999",
                    "p9999"}


def file_events(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


async def stream_events(ws, into: list[dict]) -> None:
    while True:
        into.extend(json.loads(line) for line in (await ws.get_message()).splitlines())


def of(events: list[dict], namespace: str, **fields) -> list[dict]:
    return [e for e in events if e["namespace"] == namespace and all(e.get(k) == v for k, v in fields.items())]


def check_latency(event: dict, link: dict, routers: set[str]) -> None:
    assert event["metric_type"] == "histogram" and event["version"] == 3 and event["source_event_id"]
    assert event["source_id"] in routers and event["event_src_id"] and event["timestamp"].endswith("Z")
    assert event["tags"] == {"sourceRouterId": link["src_router_id"], "targetRouterId": link["dst_router_id"]}
    values = event["metrics"]
    assert set(values) == HISTOGRAM_FIELDS and values["count"] >= 1
    assert 0 <= values["min"] <= values["p50"] <= values["p9999"] <= values["max"] < 10**10  # ns, under 10 s
    assert values["min"] <= values["mean"] <= values["max"] and values["variance"] >= 0


async def link_reported(events: Callable[[], list[dict]], routers: set[str]) -> dict:
    """The link between ``routers`` as ``events()`` tell it: new, then known, then measured by both ends."""
    [new] = await wait_until(lambda: of(events(), "link", event_type="routerLinkNew"), 15, what="routerLinkNew")
    assert {new["src_router_id"], new["dst_router_id"]} == routers and new["protocol"] == "tls"
    assert new["dial_address"].startswith("tls:") and new["link_id"]
    # the link's other router reports it too: known
    await wait_until(lambda: of(events(), "link", event_type="routerLinkKnown", link_id=new["link_id"]), 10,
                     what="routerLinkKnown")

    def measured() -> list[dict] | None:
        found = of(events(), "metrics", metric="link.latency", source_entity_id=new["link_id"])
        return found if {e["source_id"] for e in found} == routers else None

    for event in await wait_until(measured, 10, what="both ends' link.latency"):
        check_latency(event, new, routers)
    return new


async def link_gauges(net) -> dict[tuple[str, str], float]:
    resp = await net.admin.get("/metrics")
    assert resp.status_code == 200, resp.text
    return {(s.labels["link"], s.labels["end"]): s.value for family in text_string_to_metric_families(resp.text)
            if family.name == "ziti_link_latency_seconds" for s in family.samples}


async def test_link_lifecycle_and_latency_through_file_and_websocket(tmp_path):
    log = tmp_path / "events" / "links.log"
    sink = EventFileConfig(types=("link", "metrics"), file=log)
    async with open_network(tmp_path / "net", routers=1, events=(sink,), report_interval_s=0.3) as net:
        url = net.controller.url.replace("https://", "wss://") + api_paths.EVENTS + "?types=link,metrics"
        headers = [(b"zt-session", net.admin.headers["zt-session"].encode())]
        streamed: list[dict] = []
        async with open_websocket_url(url, net.controller.ssl_context(), extra_headers=headers,
                                      message_queue_size=1000) as ws, trio.open_nursery() as nursery:
            nursery.start_soon(stream_events, ws, streamed)
            er2 = await net.add_router("er2")
            routers = {net.routers[0].id, er2.id}
            new = await link_reported(lambda: file_events(log), routers)
            assert await link_reported(lambda: streamed, routers) == new

            # and /metrics shows the latency each end measured
            async def both_ends() -> dict[tuple[str, str], float] | None:
                gauges = await link_gauges(net)
                ends = {end for link_id, end in gauges if link_id == new["link_id"]}
                return gauges if ends == {"source", "dest"} else None

            gauges = await wait_until(both_ends, 10)
            assert all(0 <= gauges[new["link_id"], end] < 10 for end in ("source", "dest"))

            # an administrator deletes the link: it goes down (fault) while both routers stay online
            resp = await net.admin.delete(f"/edge/management/v1/links/{new['link_id']}")
            assert resp.status_code == 200, resp.text
            for events in (lambda: file_events(log), lambda: streamed):
                [fault] = await wait_until(lambda ev=events: of(ev(), "link", event_type="fault",
                                                                link_id=new["link_id"]), 10, what="link fault")
                assert (fault["src_router_id"], fault["dst_router_id"]) == (new["src_router_id"],
                                                                             new["dst_router_id"])
            # they link again
            await wait_until(lambda: [e for e in of(streamed, "link", event_type="routerLinkNew")
                                      if e["link_id"] != new["link_id"]], 15, what="a new link")
            nursery.cancel_scope.cancel()


async def test_a_link_to_an_offline_router_and_a_bad_latency_report(tmp_path, caplog):
    log = tmp_path / "events" / "links.log"
    sink = EventFileConfig(types=("link", "metrics"), file=log)
    async with open_network(tmp_path / "net", routers=1, events=(sink,)) as net:
        er1, er2 = net.routers[0], await net.add_router("er2", link=False)
        er1.stop()
        er2.stop()
        online = net.controller.controller.network.routers
        await wait_until(lambda: online.get(er1.id) is None and online.get(er2.id) is None, 10, what="both offline")
        # er1's certificate on a control channel (er1 is stopped): a link to er2, which is offline
        home = net.home / "routers" / "er1"
        ctx = client_context(ca=str(home / "ca.pem"), cert_chain=str(home / "cert.pem"), key=str(home / "key.pem"),
                             alpn=[alpn.CTRL])
        ctx.check_hostname = False
        stream = await open_tls(*parse_address(er1.router.parts.ctrl.home.ctrl_address), ctx)
        channel, _ = await connect_channel(stream, ctrl.hello(edgeAddress="", linkAddress=""), timeout_s=10)
        await channel.send(ctrl.message(CtrlType.LINK_UP, id="to-offline", src=er1.id, dst=er2.id))
        [event] = await wait_until(lambda: of(file_events(log), "link", event_type="routerLinkDisconnectedDest"),
                                   10, what="routerLinkDisconnectedDest")
        assert (event["link_id"], event["src_router_id"], event["dst_router_id"]) == ("to-offline", er1.id, er2.id)
        assert all(link["id"] != "to-offline" for link in await net.get("links"))
        # a latency summary that is not numbers: the control channel is closed, nothing published
        await channel.send(ctrl.message(CtrlType.METRICS, intervalStartUtc=0, intervalLength=1, circuits=[],
                                        links=[], linkLatency=[{"id": "to-offline", "count": "many"}]))
        with trio.fail_after(10):
            await channel.run(_ignore)
        assert any("link latency count is not a number" in r.getMessage() for r in caplog.records)
        assert not of(file_events(log), "metrics")


async def _ignore(msg: Message) -> None:
    pass

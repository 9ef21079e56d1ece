"""usage, service and alert events and the entityChange ``committed`` event, through the file sink and the
websocket stream at once; routers' byte counts in /metrics (docs/events.md)."""

from __future__ import annotations

import json

import pytest
import trio
from event_flows import dial_once, echo
from prometheus_client.parser import text_string_to_metric_families
from test_stream import stream

from ziti_aio.common.errors import ZitiError
from ziti_aio.common.events_config import EventFileConfig
from ziti_aio.controller.events.alerts import Alerts
from ziti_aio.controller.events.bus import EventBus
from ziti_aio.sdk import open_context
from ziti_aio.testing import wait_until
from ziti_aio.testing.controller import create
from ziti_aio.testing.network import open_network

TYPES = ("usage", "service", "alert", "entityChange")


async def collect(ws, into: list[dict]) -> None:
    while True:
        into.extend(json.loads(line) for line in (await ws.get_message()).splitlines())


def of(events: list[dict], namespace: str, **fields) -> list[dict]:
    return [e for e in events if e["namespace"] == namespace and all(e.get(k) == v for k, v in fields.items())]


async def test_usage_service_alert_and_committed_events_reach_both_sinks(tmp_path):
    log = tmp_path / "ops.log"
    sink = EventFileConfig(types=TYPES, file=log)
    # a short interval so usage and service events come quickly; every router certificate "expires soon"
    async with open_network(tmp_path / "net", routers=1, events=(sink,), report_interval_s=0.2,
                            alert_cert_days=100_000) as net, stream(net, ",".join(TYPES)) as ws, \
            trio.open_nursery() as nursery:
        streamed: list[dict] = []
        nursery.start_soon(collect, ws, streamed)
        router = net.routers[0]

        # a router's certificate alert (checked when it connects and every interval, repeated hourly)
        er2 = await net.add_router("er2")

        def cert_alerts(events):
            return of(events, "alert", alert_source_type="router", alert_source_id=er2.id)

        for events in (lambda: read(log), lambda: streamed):
            [alert] = (await wait_until(lambda e=events: cert_alerts(e()), 10, what="certificate alert"))[:1]
            assert alert["severity"] == "warning" and alert["related_entities"] == {"router": er2.id}
            assert "expires in" in alert["message"] and any(d.startswith("notAfter=") for d in alert["details"])

        # one transaction: its changes and then `committed`, all with one eventId
        alice = await net.create_identity("alice")
        for events in (lambda: read(log), lambda: streamed):
            [created] = await wait_until(lambda e=events: [c for c in of(e(), "entityChange", eventType="created")
                                                           if c["finalState"]["id"] == alice.id], 10)
            committed = await wait_until(lambda e=events, c=created: of(e(), "entityChange", eventType="committed",
                                                                        eventId=c["eventId"]), 10)
            assert set(committed[0]) == {"namespace", "event_src_id", "timestamp", "eventId", "eventType"}
            changes = [e for e in of(events(), "entityChange", eventId=created["eventId"])]
            assert changes[-1]["eventType"] == "committed"

        # a dial moving bytes: usage per circuit and a service dial success
        er2.stop()
        await wait_until(lambda: net.controller.controller.network.routers.get(er2.id) is None, 10)
        await dial_once(net, "alice", "echo")
        service_id = (await net.get('services?filter=name="echo"'))[0]["id"]
        for events in (lambda: read(log), lambda: streamed):
            usage = await wait_until(lambda e=events: of(e(), "usage", source_id=router.id), 10, what="usage")
            totals: dict[str, int] = {}
            for event in usage:
                assert event["version"] == 3 and event["interval_length"] >= 1 and event["interval_start_utc"] > 0
                assert event["tags"]["clientId"] == alice.id and event["tags"]["serviceId"] == service_id
                assert event["tags"]["hostId"]
                for key, count in event["usage"].items():
                    totals[key] = totals.get(key, 0) + count
            # "ping" both ways (sealed end to end, so more than 4 bytes each way); both SDKs on one router
            assert set(totals) == {"ingress.rx", "ingress.tx", "egress.rx", "egress.tx"}
            assert totals["ingress.rx"] == totals["egress.tx"] > 4 and totals["egress.rx"] == totals["ingress.tx"] > 4
            [success] = await wait_until(lambda e=events: of(e(), "service", event_type="service.dial.success",
                                                             service_id=service_id), 10, what="dial success")
            assert success["count"] == 1 and success["terminator_id"] and success["version"] == 2

        # a dial of a service nobody hosts: service fail + error_other, and an alert naming the service
        dark = await net.create_service("dark")
        await net.allow("alice", "dark", "Dial")
        async with open_context(alice.path) as dialer:
            for _ in range(2):
                with pytest.raises(ZitiError):
                    await dialer.dial("dark")
        for events in (lambda: read(log), lambda: streamed):
            fails = await wait_until(lambda e=events: of(e(), "service", event_type="service.dial.fail",
                                                         service_id=dark), 10, what="dial fail")
            assert sum(f["count"] for f in fails) == 2 and fails[0]["terminator_id"] == ""
            assert sum(f["count"] for f in of(events(), "service", event_type="service.dial.error_other",
                                              service_id=dark)) == 2
            [alert] = of(events(), "alert", alert_source_type="service")  # once, not once per dial
            assert alert["alert_source_id"] == dark and alert["severity"] == "error"
            assert alert["related_entities"] == {"service": dark, "identity": alice.id}

        # routers' byte counts in /metrics, by router and by service (ids, never names)
        text = (await net.admin.get("/metrics")).text
        values = {(s.name, tuple(sorted(s.labels.items()))): s.value
                  for f in text_string_to_metric_families(text) for s in f.samples}
        assert values[("ziti_router_bytes_total", (("router", router.id), ("type", "ingress.rx")))] > 4
        assert values[("ziti_service_bytes_total", (("service", service_id), ("type", "egress.tx")))] > 4
        assert "echo" not in text and "alice" not in text
        nursery.cancel_scope.cancel()


def read(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


async def test_a_flapping_link_raises_one_alert():
    bus = EventBus("ctrl")
    sub = bus.subscribe("test", ["alert"])
    alerts = Alerts(bus, flap_faults=3, flap_window_s=60)
    alerts.link_fault("l1", "a", "b")
    alerts.link_fault("l2", "b", "a")  # the same pair, whichever end dialled
    with pytest.raises(trio.WouldBlock):
        sub.receive_nowait()
    alerts.link_fault("l3", "a", "b")
    alerts.link_fault("l4", "a", "b")  # still flapping: not repeated within the hour
    alert = sub.receive_nowait().to_json()
    assert alert["alert_source_type"] == "link" and alert["alert_source_id"] == "l3"
    assert alert["related_entities"] == {"link": "l3", "srcRouter": "a", "dstRouter": "b"}
    assert "went down 3 times" in alert["message"]
    with pytest.raises(trio.WouldBlock):
        sub.receive_nowait()
    alerts.link_fault("x", "c", "d")  # another pair counts on its own
    with pytest.raises(trio.WouldBlock):
        sub.receive_nowait()


async def test_a_router_certificate_far_from_expiry_raises_no_alert(tmp_path):
    async with open_network(tmp_path, routers=1, report_interval_s=0.1) as net:
        sub = net.controller.controller.events.subscribe("test", ["alert"])
        await trio.sleep(0.5)  # several interval checks
        with pytest.raises(trio.WouldBlock):
            sub.receive_nowait()


async def test_usage_of_a_circuit_across_a_link(tmp_path):
    async with open_network(tmp_path, routers=0, report_interval_s=0.2) as net:
        er1 = await net.add_router("er1", attributes=("ingress",))
        er2 = await net.add_router("er2", attributes=("egress",))
        await create(net.admin, "edge-router-policies", {"name": "dialers", "identityRoles": ["#dialers"],
                                                         "edgeRouterRoles": ["#ingress"]})
        await create(net.admin, "edge-router-policies", {"name": "hosts", "identityRoles": ["#hosts"],
                                                         "edgeRouterRoles": ["#egress"]})
        await net.create_service("far", encryption_required=False)
        await net.create_identity("host", attributes=("hosts",))
        await net.create_identity("dialer", attributes=("dialers",))
        await net.allow("host", "far", "Bind")
        await net.allow("dialer", "far", "Dial")
        [link] = await wait_until(lambda: net.get("links"), 15)
        sub = net.controller.controller.events.subscribe("test", ["usage"])
        data = b"x" * 100_000
        async with net.context("host") as host, net.context("dialer") as dialer, trio.open_nursery() as nursery:
            listener = await host.bind("far")
            nursery.start_soon(echo, listener)
            async with await dialer.dial("far") as conn:
                await conn.send_all(data)
                got = 0
                while got < len(data):
                    got += len(await conn.receive_some())
            nursery.cancel_scope.cancel()
        totals: dict[tuple[str, str], int] = {}

        def summed():
            while True:
                try:
                    event = sub.receive_nowait().to_json()
                except trio.WouldBlock:
                    break
                for key, count in event["usage"].items():
                    totals[event["source_id"], key] = totals.get((event["source_id"], key), 0) + count
            return min(totals.get((er2.id, "egress.rx"), 0), totals.get((er1.id, "ingress.tx"), 0)) >= len(data)

        await wait_until(summed, 15, what="usage of both routers")
        assert totals[er1.id, "ingress.rx"] == totals[er2.id, "egress.tx"] == len(data)
        assert totals[er1.id, "fabric.tx"] >= len(data) and totals[er2.id, "fabric.rx"] >= len(data)
        assert (er1.id, "egress.rx") not in totals and (er2.id, "ingress.rx") not in totals
        text = (await net.admin.get("/metrics")).text
        link_bytes = {(s.labels["router"], s.labels["direction"]): s.value for f in text_string_to_metric_families(text)
                      if f.name == "ziti_link_bytes" for s in f.samples if s.labels["link"] == link["id"]}
        assert link_bytes[er1.id, "tx"] >= len(data) and link_bytes[er2.id, "rx"] >= len(data)

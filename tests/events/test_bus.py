"""The event bus never blocks a publisher; a full subscriber loses events, counts them and is told."""

from __future__ import annotations

import json

import pytest
import trio

from ziti_aio.controller.events.bus import EventBus
from ziti_aio.controller.events.file_sink import JsonLinesFile, run_file_sink
from ziti_aio.controller.events.types import RouterEvent
from ziti_aio.testing import wait_until


def router_event(n: int) -> RouterEvent:
    return RouterEvent(router_id=f"r{n}", online=True)


async def test_a_slow_subscriber_loses_events_and_gets_an_alert():
    bus = EventBus("ctrl-1")
    slow = bus.subscribe("slow", ["router", "alert"], size=4)
    fast = bus.subscribe("fast", ["router"], size=1000)
    for n in range(100):  # publish is synchronous: it cannot wait for a reader
        bus.publish(router_event(n))
    assert slow.dropped == 96 and slow.delivered == 4
    assert fast.dropped == 0 and fast.queued == 100
    got = [slow.receive_nowait() for _ in range(4)]
    assert [e.to_json()["router_id"] for e in got] == ["r0", "r1", "r2", "r3"]
    bus.publish(router_event(100))
    alert, after = slow.receive_nowait().to_json(), slow.receive_nowait().to_json()
    assert alert["namespace"] == "alert" and alert["details"] == ["dropped=96", "droppedTotal=96"]
    assert alert["alert_source_id"] == "slow" and alert["event_src_id"] == "ctrl-1"
    assert after["router_id"] == "r100"


async def test_subscribers_get_only_their_types():
    bus = EventBus()
    sub = bus.subscribe("links", ["link"])
    bus.publish(router_event(1))
    assert sub.queued == 0 and not bus.wants("router") and bus.wants("link")
    sub.close()
    assert not bus.wants("link")


def test_an_unknown_type_is_refused():
    with pytest.raises(ValueError, match="'circuits'"):
        EventBus().subscribe("x", ["circuits"])


async def test_the_file_sink_rotates_and_bounds_disk_use(tmp_path):
    bus = EventBus("c")
    sub = bus.subscribe("file", ["router"])
    path = tmp_path / "ev.log"
    sink = JsonLinesFile(path, max_bytes=1000, keep=2)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_file_sink, sub, sink)
        for n in range(200):
            bus.publish(router_event(n))
            if n % 20 == 0:
                await trio.sleep(0.01)
        await wait_until(lambda: path.exists() and '"r199"' in path.read_text(), 10, what="the last event written")
        nursery.cancel_scope.cancel()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["ev.log", "ev.log.1", "ev.log.2"]
    assert all((tmp_path / f).stat().st_size <= 1000 for f in files)
    last = [json.loads(line) for line in path.read_text().splitlines()]
    assert last[-1]["router_id"] == "r199" and last[-1]["namespace"] == "router"
    older = [json.loads(line)["router_id"] for line in (tmp_path / "ev.log.1").read_text().splitlines()]
    assert int(older[-1][1:]) + 1 == int(last[0]["router_id"][1:])

"""``cluster`` events and Raft metrics: a leadership transfer is seen by the old leader (lost, read-only)
and the new one (gained, read-write), with OpenZiti's namespace and field names; every member reports
its Raft state to Prometheus."""

from __future__ import annotations

import trio
from prometheus_client.parser import text_string_to_metric_families

from ziti_aio.common.errors import ClusterUnavailable
from ziti_aio.controller.cluster.membership import transfer_leadership
from ziti_aio.controller.events.bus import EventBus
from ziti_aio.controller.events.cluster_watch import ClusterWatch
from ziti_aio.testing import wait_until
from ziti_aio.testing.cluster import leading, local_members, open_controller_cluster, writable_leader
from ziti_aio.testing.waiting import WaitTimeout


async def _types(sub, wanted: set[str]) -> list[dict]:  # type: ignore[no-untyped-def]
    seen: list[dict] = []
    with trio.fail_after(30):
        async for event in sub:
            seen.append(event.to_json())
            if wanted <= {e["eventType"] for e in seen}:
                return seen
    return seen


async def test_a_leadership_transfer_is_a_cluster_event_on_both_members(tmp_path):
    async with open_controller_cluster(tmp_path, 3) as running:
        old = leading(running)
        assert old is not None
        subs = {r.controller.api.cluster.node_id: r.controller.events.subscribe("test", ["cluster"])
                for r in running}

        async def moved():  # type: ignore[no-untyped-def]
            """Another member leading after a transfer (a loaded machine may refuse one or elect the old
            leader again: then try again)."""
            try:
                await transfer_leadership(old.controller.api.cluster, None)
            except ClusterUnavailable:
                return None
            try:
                return await wait_until(lambda: (lead := leading(running)) is not old and lead, 5)
            except WaitTimeout:
                return None

        new = await wait_until(moved, 90, what="another member leading")
        lost = await _types(subs[old.controller.api.cluster.node_id], {"leadership.lost", "state.ro"})
        gained = await _types(subs[new.controller.api.cluster.node_id], {"leadership.gained", "state.rw"})
    for event in lost + gained:
        assert event["namespace"] == "fabric.cluster" and event["timestamp"].endswith("Z")
        assert set(event) <= {"namespace", "event_src_id", "timestamp", "eventType", "index", "peers"}
    assert {e["event_src_id"] for e in lost} == {old.controller.api.cluster.node_id}
    assert {e["event_src_id"] for e in gained} == {new.controller.api.cluster.node_id}


async def test_a_member_that_stops_and_returns_is_a_peer_event_at_the_leader(tmp_path):
    members = local_members(tmp_path, 3)
    async with trio.open_nursery() as nursery:
        for member in members:
            await member.start(nursery)
        leader = await wait_until(lambda: writable_leader(members), 30, what="a leader")
        events = EventBus(leader.node_id)
        sub = events.subscribe("test", ["cluster"])
        watch = ClusterWatch(leader.replica, events)
        nursery.start_soon(watch.run, 0.02)
        await wait_until(lambda: all(m["connected"] for m in leader.replica.members()), 30,
                         what="every member connected")
        follower = next(m for m in members if m is not leader)
        await trio.sleep(0.1)  # the watch has seen them all
        await follower.stop()
        down = await _types(sub, {"peer.disconnected"})
        await follower.start(nursery)
        up = await _types(sub, {"peer.connected"})
        for member in members:
            await member.stop()
        nursery.cancel_scope.cancel()
    [gone] = [e for e in down if e["eventType"] == "peer.disconnected"]
    [back] = [e for e in up if e["eventType"] == "peer.connected"]
    for event in (gone, back):
        assert [p["id"] for p in event["peers"]] == [follower.node_id]
        assert event["peers"][0]["addr"] == follower.address
        assert event["event_src_id"] == leader.node_id


async def test_every_member_reports_its_raft_state_to_prometheus(tmp_path):
    async with open_controller_cluster(tmp_path, 3) as running:
        leader = leading(running)
        assert leader is not None
        admin = await leader.login()
        token = admin.headers["zt-session"]
        await admin.aclose()

        async def raft_states():  # type: ignore[no-untyped-def]
            states = []
            for member in running:
                async with member.client(token=token) as http:
                    resp = await http.get("/metrics")
                if resp.status_code == 401:  # the login has not reached this member's log yet
                    return None
                assert resp.status_code == 200, resp.text
                samples = {s.name: s.value for family in text_string_to_metric_families(resp.text)
                           for s in family.samples if s.name.startswith("ziti_raft_")}
                states.append(samples)
            connected = all(s["ziti_raft_members_connected"] >= 1 for s in states)
            return states if connected and sum(s["ziti_raft_is_leader"] for s in states) == 1 else None

        states = await wait_until(raft_states, 30, what="one leader, every member connected")
    assert {s["ziti_raft_members"] for s in states} == {3}
    assert len({s["ziti_raft_term"] for s in states}) == 1
    assert all(s["ziti_raft_applied_index"] >= 1 for s in states)
    assert sum(s["ziti_raft_writable"] for s in states) == 1

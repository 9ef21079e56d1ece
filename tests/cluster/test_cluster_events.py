"""``cluster`` events and Raft metrics: a leadership transfer is seen by the old leader (lost, read-only)
and the new one (gained, read-write) in a JSON-lines file and a websocket stream, with OpenZiti's
namespace and field names; every member reports its Raft state to Prometheus."""

from __future__ import annotations

import json

import trio
from prometheus_client.parser import text_string_to_metric_families
from trio_websocket import ConnectionRejected, open_websocket_url

from ziti_aio.common import api_paths
from ziti_aio.common.errors import ClusterUnavailable
from ziti_aio.controller.cluster.membership import transfer_leadership
from ziti_aio.controller.events.bus import EventBus
from ziti_aio.controller.events.cluster_watch import ClusterWatch
from ziti_aio.controller.events.file_sink import JsonLinesFile, run_file_sink
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


async def _follow(member, token: str, into: list[dict]) -> None:  # type: ignore[no-untyped-def]
    """``member``'s websocket stream of ``cluster`` events into ``into``, after a first ``{}``: open."""
    url = member.url.replace("https://", "wss://") + api_paths.EVENTS + "?types=cluster"
    while True:
        try:
            async with open_websocket_url(url, member.ssl_context(),
                                          extra_headers=[(b"zt-session", token.encode())]) as ws:
                into.append({})
                while True:
                    into.extend(json.loads(line) for line in (await ws.get_message()).splitlines())
        except ConnectionRejected:  # a follower knows the admin's API session once the login reaches its log
            await trio.sleep(0.1)


def _read(path) -> list[dict]:  # type: ignore[no-untyped-def]
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


async def test_a_leadership_transfer_is_a_cluster_event_through_both_sinks_of_both_members(tmp_path):
    async with open_controller_cluster(tmp_path, 3) as running, trio.open_nursery() as nursery:
        old = leading(running)
        assert old is not None
        admin = await old.login()
        token = admin.headers["zt-session"]
        await admin.aclose()
        files, streamed = {}, {}
        for member in running:
            node = member.controller.api.cluster.node_id
            # a JSON-lines file sink on the member's bus, as [[controller.events]] starts one
            sink = JsonLinesFile(tmp_path / f"{node}.log", max_bytes=1 << 20, keep=1)
            nursery.start_soon(run_file_sink, member.controller.events.subscribe("file", ["cluster"]), sink)
            files[node], streamed[node] = sink.path, []
            nursery.start_soon(_follow, member, token, streamed[node])
        await wait_until(lambda: all(streamed.values()), 60, what="every member's stream open")

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
        for member, wanted in ((old, {"leadership.lost", "state.ro"}), (new, {"leadership.gained", "state.rw"})):
            node = member.controller.api.cluster.node_id
            for name, events in (("file", lambda n=node: _read(files[n])), ("stream", lambda n=node: streamed[n][1:])):
                seen = await wait_until(lambda e=events, w=wanted: w <= {x["eventType"] for x in e()} and e(), 30,
                                        what=f"{wanted} in the {name} of {node}")
                for event in seen:
                    assert event["namespace"] == "fabric.cluster" and event["timestamp"].endswith("Z")
                    assert set(event) <= {"namespace", "event_src_id", "timestamp", "eventType", "index", "peers"}
                    assert event["event_src_id"] == node
        nursery.cancel_scope.cancel()


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

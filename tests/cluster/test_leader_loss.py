"""A leader whose process goes is noticed at once, and a write sent meanwhile waits for the next leader
(docs/ha.md, "Failover")."""

from __future__ import annotations

import logging

import trio

from ziti_aio.testing.cluster import leading, local_members, open_controller_cluster, writable_leader
from ziti_aio.testing.waiting import wait_until


async def test_the_survivors_of_a_stopped_leader_call_an_election_without_waiting_out_its_timeout(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="ziti_aio.controller.cluster.replica")
    members = local_members(tmp_path, 3)
    async with trio.open_nursery() as nursery:
        for m in members:
            await m.start(nursery)
        leader = await wait_until(lambda: writable_leader(members), 20, what="a leader")
        await leader.stop()  # its sockets close: the others read the end and are refused on redialing
        new = await wait_until(lambda: writable_leader(members), 20, what="a new leader")
        assert new is not leader
        gone = [r for r in caplog.records if f"the leader {leader.node_id} is gone" in r.getMessage()]
        assert gone, "no survivor noticed the leader's end before its election timeout"
        nursery.cancel_scope.cancel()


async def test_a_write_reaching_a_follower_while_the_leader_is_gone_waits_for_the_next_leader(tmp_path):
    async with open_controller_cluster(tmp_path) as cluster:
        leader = await wait_until(lambda: leading(cluster), 20, what="a leader")
        admin = await leader.login()
        token = admin.headers["zt-session"]
        await admin.aclose()
        follower = next(r for r in cluster if r is not leader)
        async with follower.client(token=token) as http:
            leader.stop()
            created = await http.post("/edge/management/v1/config-types", json={"name": "meanwhile", "schema": {}})
        assert created.status_code == 201, created.text  # not 503: held until a survivor led
        assert leading(cluster) is not leader

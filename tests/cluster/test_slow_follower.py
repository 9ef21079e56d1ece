"""A follower the leader cut for not keeping up (its send queue full) is redialed and catches up."""

from __future__ import annotations

import trio

from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.store.commands import Command, Put
from ziti_aio.testing.cluster import local_members, writable_leader
from ziti_aio.testing.waiting import wait_until


async def test_a_follower_cut_for_a_full_send_queue_is_reconnected_and_catches_up(tmp_path):
    members = local_members(tmp_path, 3)
    async with trio.open_nursery() as nursery:
        for m in members:
            await m.start(nursery)
        leader = await wait_until(lambda: writable_leader(members), 20, what="a leader")
        follower = next(m for m in members if m is not leader)
        transport = leader.replica.transport
        peer = transport.peers[follower.node_id]
        while True:  # the queue towards the follower fills up (no checkpoint: its sender cannot drain it)
            try:
                peer.send_channel.send_nowait(b"")
            except trio.WouldBlock:
                break
        node = next(n for n in leader.replica.raft.otherNodes if n.id == follower.node_id)
        assert not transport.send(node, {"type": "response_vote", "term": leader.replica.term})
        late = Command("t", "t", (Put(Kind.CONFIG_TYPES, {"id": "late", "name": "late"}),))
        await leader.model.transact(lambda: late)
        await wait_until(lambda: "late" in follower.model.entities[Kind.CONFIG_TYPES], 10,
                         what="the entry on the follower that was cut")
        nursery.cancel_scope.cancel()

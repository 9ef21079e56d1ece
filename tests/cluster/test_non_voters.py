"""Non-voting members (docs/ha.md "Non-voting members"), on bare replicas over real mTLS sockets: they
receive the log but neither vote nor count toward the majority; promotion, demotion, removal, and
what a non-voter may send."""

from __future__ import annotations

import struct
from dataclasses import replace
from functools import partial

import pytest
import trio
import trio.lowlevel

from ziti_aio.common.errors import ClusterUnavailable, ConflictError, NotFoundError, ValidationError
from ziti_aio.controller.cluster import membership
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.store.commands import Command, Put
from ziti_aio.testing.cluster import FAST, free_port, local_members, member_pki, writable_leader
from ziti_aio.testing.waiting import wait_until
from ziti_aio.transport.serve import serve_tls
from ziti_aio.transport.tls import open_tls


def config_type(name: str) -> Command:
    return Command("test", "create", (Put(Kind.CONFIG_TYPES, {"id": name, "name": name, "schema": {}}),))


def has(member, name: str) -> bool:
    return name in member.model.entities[Kind.CONFIG_TYPES]


async def hang_up(stream) -> None:
    await stream.aclose()


def row(member, ident: str) -> dict | None:
    return next((m for m in member.replica.members() if m["id"] == ident), None)


async def two_voters_and_a_newcomer(tmp_path, nursery, *, timing=FAST):
    """ctrl-1 and ctrl-2 form the cluster; ctrl-3 runs knowing them but is no member yet."""
    members = local_members(tmp_path, 3, timing=timing)
    one, two, three = members
    one.peers = tuple(p for p in one.peers if p[0] == "ctrl-2")
    two.peers = tuple(p for p in two.peers if p[0] == "ctrl-1")
    await one.start(nursery)
    await two.start(nursery)
    leader = await wait_until(lambda: writable_leader([one, two]), 20, what="a leader of ctrl-1 and ctrl-2")
    await three.start(nursery)
    return members, leader


async def add_non_voter(tmp_path, nursery, **kwargs):
    members, leader = await two_voters_and_a_newcomer(tmp_path, nursery, **kwargs)
    three = members[2]
    assert await membership.add_member(leader.replica, f"tls:{three.address}", voter=False) == "ctrl-3"
    await wait_until(lambda: not three.replica.voter, 10, what="ctrl-3 knowing it does not vote")
    return members, leader


async def test_a_non_voter_gets_the_log_but_does_not_count_toward_the_majority(tmp_path):
    async with trio.open_nursery() as nursery:
        members, leader = await two_voters_and_a_newcomer(tmp_path, nursery)
        three = members[2]
        # unanswered, it runs elections of its own: a term above the cluster's must not stop it following
        await wait_until(lambda: three.replica.term > leader.replica.term, 10, what="ctrl-3 ahead in terms")
        await leader.model.transact(lambda: config_type("before"))
        await membership.add_member(leader.replica, f"tls:{three.address}", voter=False)
        await wait_until(lambda: has(three, "before"), 10, what="ctrl-3 caught up")
        await leader.model.transact(lambda: config_type("after"))
        await wait_until(lambda: has(three, "after"), 10, what="ctrl-3 following")
        assert row(leader, "ctrl-3") == {"id": "ctrl-3", "address": three.address, "voter": False,
                                         "leader": False, "connected": True}
        assert row(three, "ctrl-3")["voter"] is False and three.replica.leader_id == leader.node_id
        assert all(row(three, m.node_id)["voter"] for m in members[:2])
        with pytest.raises(ValidationError, match="not a voting member"):
            await membership.transfer_leadership(leader.replica, "ctrl-3")

        other = next(m for m in members[:2] if m is not leader)
        await other.stop()
        # one voter of two is no majority, whatever the non-voter says
        leader.model.commit_timeout_s = 3
        with pytest.raises(ClusterUnavailable):
            await leader.model.transact(lambda: config_type("without-a-majority"))
        await trio.sleep(2 * FAST.election_max)
        assert not three.replica.is_leader and writable_leader(members) is None
        assert not any(has(m, "without-a-majority") for m in (leader, three))

        await other.start(nursery)
        back = await wait_until(lambda: writable_leader(members), 20, what="a leader again")
        assert back is not three
        await back.model.transact(lambda: config_type("again"))
        await wait_until(lambda: has(three, "again"), 10, what="ctrl-3 following the new leader")
        nursery.cancel_scope.cancel()


async def test_a_non_voter_is_promoted_takes_the_lead_and_is_demoted_again(tmp_path):
    async with trio.open_nursery() as nursery:
        members, leader = await add_non_voter(tmp_path, nursery)
        three = members[2]
        with pytest.raises(ConflictError, match="already a non-voting member"):
            await membership.add_member(leader.replica, f"tls:{three.address}", voter=False)
        await membership.add_member(leader.replica, f"tls:{three.address}", voter=True)  # --voter=true: promoted
        await wait_until(lambda: three.replica.voter, 10, what="ctrl-3 knowing it votes")
        assert row(leader, "ctrl-3")["voter"] is True and not leader.replica.is_non_voter("ctrl-3")
        await membership.transfer_leadership(leader.replica, "ctrl-3")
        await wait_until(lambda: writable_leader(members) is three, 10, what="ctrl-3 leading")
        await three.model.transact(lambda: config_type("by-ctrl-3"))
        for m in members[:2]:
            await wait_until(lambda m=m: has(m, "by-ctrl-3"), 10, what=f"{m.node_id} following ctrl-3")

        # demoted back (by ctrl-3, the leader now); the leader cannot demote itself
        with pytest.raises(ConflictError, match="is this member"):
            await membership.add_member(three.replica, f"tls:{three.address}", voter=False)
        demoted = leader
        await membership.add_member(three.replica, f"tls:{demoted.address}", voter=False)
        await wait_until(lambda: not demoted.replica.voter, 10, what=f"{demoted.node_id} knowing it does not vote")
        assert {m["id"]: m["voter"] for m in three.replica.members()} == {
            "ctrl-3": True, demoted.node_id: False, next(m.node_id for m in members[:2] if m is not demoted): True}
        await three.model.transact(lambda: config_type("after-demotion"))
        await wait_until(lambda: has(demoted, "after-demotion"), 10, what="the demoted member following")
        nursery.cancel_scope.cancel()


async def test_removing_members_and_refusals_leave_membership_as_it_was(tmp_path):
    async with trio.open_nursery() as nursery:
        members, leader = await add_non_voter(tmp_path, nursery)
        three = members[2]
        other = next(m for m in members[:2] if m is not leader)
        before = leader.replica.members()
        with pytest.raises(ValidationError, match="cannot reach"):
            await membership.add_member(leader.replica, f"tls:127.0.0.1:{free_port()}", voter=False)
        stranger = member_pki(tmp_path / "other", ["ctrl-9"])["ctrl-9"]  # another CA
        _, port = await nursery.start(partial(serve_tls, hang_up, stranger.server, host="127.0.0.1", port=0,
                                              name="stranger"))
        with pytest.raises(ValidationError, match="certificate verify failed"):
            await membership.add_member(leader.replica, f"tls:127.0.0.1:{port}", voter=False)
        with pytest.raises(ConflictError, match="last voting member"):
            await membership.remove_member(leader.replica, leader.node_id)
        with pytest.raises(NotFoundError):
            await membership.remove_member(leader.replica, "ctrl-9")
        with pytest.raises(ClusterUnavailable, match="not the leader"):
            await membership.add_member(three.replica, f"tls:{other.address}", voter=False)
        assert leader.replica.members() == before

        stream = await open_tls("127.0.0.1", leader.port, three.tls.client)  # opened while ctrl-3 is a member
        await membership.remove_member(leader.replica, "ctrl-3")
        await stream.send_all(frame(b'{"type":"next_node_idx","next_node_idx":1,"reset":false,"success":false}'))
        with trio.fail_after(10):  # closed at its next message
            while await stream.receive_some():
                pass
        assert [m["id"] for m in leader.replica.members()] == sorted([leader.node_id, other.node_id],
                                                                     key=lambda i: i != leader.node_id)
        await wait_until(lambda: row(other, "ctrl-3") is None, 10, what="ctrl-3 gone on the other voter")
        await leader.model.transact(lambda: config_type("after-removal"))
        await wait_until(lambda: has(other, "after-removal"), 10)
        await trio.sleep(0.5)
        assert not has(three, "after-removal")

        # with the other voter removed too, the leader is the last voter: it cannot go
        await membership.remove_member(leader.replica, other.node_id)
        with pytest.raises(ConflictError, match="last voting member"):
            await membership.remove_member(leader.replica, leader.node_id)
        await leader.model.transact(lambda: config_type("alone"))  # a cluster of one commits alone
        nursery.cancel_scope.cancel()


async def test_non_voters_survive_restarts_and_log_compaction(tmp_path):
    timing = replace(FAST, compaction_min_entries=20)
    async with trio.open_nursery() as nursery:
        members, leader = await add_non_voter(tmp_path, nursery, timing=timing)
        three = members[2]
        for i in range(60):  # the entry that added ctrl-3 is compacted into a snapshot
            await leader.model.transact(lambda i=i: config_type(f"ct-{i}"))
        await wait_until(lambda: (leader.home / "raft" / "raft.snapshot").exists(), 10, what="a snapshot")
        await wait_until(lambda: has(three, "ct-59"), 10)
        for m in members:
            await m.stop()
        for m in members:
            await m.start(nursery)
        back = await wait_until(lambda: writable_leader(members), 20, what="a leader after the restart")
        assert back is not three and not three.replica.voter
        for m in members:
            await wait_until(lambda m=m: row(m, "ctrl-3") is not None and row(m, "ctrl-3")["voter"] is False, 10,
                             what=f"{m.node_id} listing ctrl-3 as a non-voter")
        await back.model.transact(lambda: config_type("after-restart"))
        await wait_until(lambda: has(three, "after-restart"), 10)
        nursery.cancel_scope.cancel()


def frame(body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + body


async def test_a_non_voter_may_only_answer_appends(tmp_path):
    async with trio.open_nursery() as nursery:
        members, leader = await add_non_voter(tmp_path, nursery)
        three = members[2]
        term = leader.replica.term
        # with the non-voter's own certificate: a vote request and a vote are dropped, not counted
        stream = await open_tls("127.0.0.1", leader.port, three.tls.client)
        await stream.send_all(frame(b'{"type":"request_vote","term":%d,"last_log_index":999,"last_log_term":%d}'
                                    % (term + 50, term + 50)))
        await stream.send_all(frame(b'{"type":"response_vote","term":%d}' % term))
        await leader.model.transact(lambda: config_type("still-leading"))
        assert leader.replica.term == term and leader.replica.is_leader
        # a non-voter change of a shape the codec does not know closes the connection
        await stream.send_all(frame(b'{"type":"append_entries","term":1,"commit_index":0,"prevLogIdx":1,'
                                    b'"prevLogTerm":0,"entries":[[[11,"promote","ctrl-3","x:1"],2,1]]}'))
        with trio.fail_after(10):
            while await stream.receive_some():
                pass
        assert row(leader, "ctrl-3")["voter"] is False and leader.replica.term == term

        # nor does the non-voter vote, even when asked by a member that takes it for a voter
        three_term = three.replica.term
        terms_seen = set()

        async def watch_terms() -> None:  # every term ctrl-3 goes through, between any two of its steps
            while True:
                terms_seen.add(three.replica.term)
                await trio.lowlevel.checkpoint()

        async with trio.open_nursery() as watching:
            watching.start_soon(watch_terms)
            to_three = await open_tls("127.0.0.1", three.port, leader.tls.client)
            await to_three.send_all(frame(b'{"type":"request_vote","term":%d,"last_log_index":999,'
                                          b'"last_log_term":%d}' % (three_term + 50, three_term + 50)))
            await leader.model.transact(lambda: config_type("still-followed"))
            await wait_until(lambda: has(three, "still-followed"), 10)
            watching.cancel_scope.cancel()
        assert three_term + 50 not in terms_seen
        nursery.cancel_scope.cancel()


async def test_a_non_voter_gets_a_read_index_from_the_leader_and_applies_up_to_it(tmp_path):
    async with trio.open_nursery() as nursery:
        (_, _, three), leader = await add_non_voter(tmp_path, nursery)
        await leader.model.transact(lambda: config_type("before-the-read"))
        with trio.fail_after(10):
            await three.replica.read_barrier(trio.current_time() + 5)
        assert has(three, "before-the-read")  # applied at least as far as the leader had committed
        nursery.cancel_scope.cancel()

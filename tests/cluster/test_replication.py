"""Three replicated models in one process over real mTLS sockets: commits, failover, catch-up."""

from __future__ import annotations

from dataclasses import replace

import pytest
import trio

from ziti_aio.common.errors import ClusterUnavailable
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.store.commands import Command, Delete, Put
from ziti_aio.controller.store.sqlite_store import SqliteStore
from ziti_aio.testing.cluster import FAST, local_members, writable_leader
from ziti_aio.testing.waiting import wait_until


def config_type(name: str) -> Command:
    return Command("test", "create", (Put(Kind.CONFIG_TYPES, {"id": name, "name": name, "schema": {}}),))


def stored_ids(member) -> set[str]:
    member.model.flush_committed()
    store = SqliteStore(member.home / "ctrl.db")
    try:
        return set(store.load_all().get(Kind.CONFIG_TYPES, {}))
    finally:
        store.close()


def memory_ids(member) -> set[str]:
    return set(member.model.entities[Kind.CONFIG_TYPES])


async def start_all(members, nursery):
    for m in members:
        await m.start(nursery)
    return await wait_until(lambda: writable_leader(members), 20, what="a leader")


async def test_commands_commit_on_every_member_in_order(tmp_path):
    members = local_members(tmp_path, 3)
    async with trio.open_nursery() as nursery:
        leader = await start_all(members, nursery)
        acked: set[str] = set()

        async def write(i: int) -> None:
            await leader.model.transact(lambda: config_type(f"ct-{i}"))
            acked.add(f"ct-{i}")

        async with trio.open_nursery() as writers:  # many in flight at once
            for i in range(50):
                writers.start_soon(write, i)
        await leader.model.transact(lambda: Command("test", "delete", (Delete(Kind.CONFIG_TYPES, "ct-7"),)))
        acked.discard("ct-7")
        assert len(acked) == 49
        for m in members:
            await wait_until(lambda m=m: memory_ids(m) == acked, 10, what=f"{m.node_id} applied everything")
            assert stored_ids(m) == acked
        nursery.cancel_scope.cancel()


async def test_a_follower_refuses_writes_with_a_503(tmp_path):
    members = local_members(tmp_path, 3)
    async with trio.open_nursery() as nursery:
        leader = await start_all(members, nursery)
        follower = next(m for m in members if m is not leader)
        with pytest.raises(ClusterUnavailable) as refused:
            await follower.model.transact(lambda: config_type("nope"))
        assert refused.value.http_status == 503 and leader.node_id in refused.value.message
        assert "nope" not in memory_ids(follower)
        nursery.cancel_scope.cancel()


async def test_leader_loss_elects_another_and_loses_no_acknowledged_write(tmp_path):
    members = local_members(tmp_path, 3)
    async with trio.open_nursery() as nursery:
        leader = await start_all(members, nursery)
        for i in range(20):
            await leader.model.transact(lambda i=i: config_type(f"before-{i}"))
        await leader.stop()
        new_leader = await wait_until(lambda: writable_leader(members), 20, what="a new leader")
        assert new_leader is not leader
        for i in range(20):
            await new_leader.model.transact(lambda i=i: config_type(f"after-{i}"))
        await leader.start(nursery)  # the old leader comes back on its own files and catches up
        expected = {f"before-{i}" for i in range(20)} | {f"after-{i}" for i in range(20)}
        for m in members:
            await wait_until(lambda m=m: memory_ids(m) == expected, 20, what=f"{m.node_id} caught up")
        nursery.cancel_scope.cancel()


async def test_no_quorum_answers_503_within_the_commit_timeout(tmp_path):
    members = local_members(tmp_path, 3)
    async with trio.open_nursery() as nursery:
        leader = await start_all(members, nursery)
        leader.model.commit_timeout_s = 1.0
        for m in members:
            if m is not leader:
                await m.stop()
        with pytest.raises(ClusterUnavailable):
            await leader.model.transact(lambda: config_type("lonely"))
        # once it stepped down, memory is the committed state again: the unacknowledged change is gone
        await wait_until(lambda: "lonely" not in memory_ids(leader), 10, what="the old leader re-read its store")
        nursery.cancel_scope.cancel()


async def test_a_member_that_lost_its_disk_catches_up_from_a_snapshot(tmp_path):
    members = local_members(tmp_path, 3, timing=replace(FAST, compaction_min_entries=20, compaction_min_s=0.5))
    async with trio.open_nursery() as nursery:
        leader = await start_all(members, nursery)
        lost = next(m for m in members if m is not leader)
        for i in range(60):
            await leader.model.transact(lambda i=i: config_type(f"ct-{i}"))
        await lost.stop(wipe=True)
        for i in range(60, 80):
            await leader.model.transact(lambda i=i: config_type(f"ct-{i}"))
        await trio.sleep(1.5)  # past the compaction interval: the leader's log no longer starts at 1
        await leader.model.transact(lambda: config_type("ct-80"))
        status = leader.replica.raft.getStatus()
        assert status["log_len"] < status["commit_idx"]  # compacted: the log alone cannot rebuild the state
        await lost.start(nursery)
        expected = {f"ct-{i}" for i in range(81)}
        await wait_until(lambda: memory_ids(lost) == expected, 20, what="the wiped member caught up")
        assert stored_ids(lost) == expected
        nursery.cancel_scope.cancel()

"""How members answer reads (docs/ha.md "Linearizable reads"): with ``reads = "local"`` (the default, as
OpenZiti) a member answers from its own memory, even without a leader; with ``reads = "linearizable"`` a
read on any member sees every write acknowledged before it began, and a member without a quorum
answers 503 within a bounded time."""

from __future__ import annotations

import trio

from ziti_aio.controller.cluster.replica import LINEARIZABLE_READS, LOCAL_READS
from ziti_aio.testing.cluster import leading, local_members, open_controller_cluster, writable_leader
from ziti_aio.testing.waiting import wait_until

CONFIG_TYPES = "/edge/management/v1/config-types"


async def _alone(cluster, token):
    """Stop the leader and one follower; the client of the member left, which has no quorum."""
    leader = await wait_until(lambda: leading(cluster), 20, what="a leader")
    left = next(r for r in cluster if r is not leader)
    for r in cluster:
        if r is not left:
            r.stop()
    await trio.sleep(0.1)  # its connections to the others end
    return left.client(token=token)


async def test_a_member_with_local_reads_answers_without_a_leader(tmp_path):
    async with open_controller_cluster(tmp_path, reads=LOCAL_READS) as cluster:
        leader = await wait_until(lambda: leading(cluster), 20, what="a leader")
        async with await leader.login() as admin:
            created = await admin.post(CONFIG_TYPES, json={"name": "kept", "schema": {}})
            assert created.status_code == 201, created.text
            token = admin.headers["zt-session"]
        path = f"{CONFIG_TYPES}/{created.json()['data']['id']}"

        async def everywhere() -> bool:  # local reads may lag: wait until every member applied it
            for r in cluster:
                async with r.client(token=token) as http:
                    if (await http.get(path)).status_code != 200:
                        return False
            return True

        await wait_until(everywhere, 10, what="the write applied on every member")
        async with await _alone(cluster, token) as http:
            got = await http.get(path)
        assert got.status_code == 200, got.text
        assert got.json()["data"]["name"] == "kept"


async def test_linearizable_reads_on_every_member_see_the_last_acknowledged_write(tmp_path):
    async with open_controller_cluster(tmp_path, reads=LINEARIZABLE_READS) as cluster:
        leader = await wait_until(lambda: leading(cluster), 20, what="a leader")
        async with await leader.login() as admin:
            token = admin.headers["zt-session"]
            created = await admin.post(CONFIG_TYPES, json={"name": "register", "schema": {}, "tags": {"n": 0}})
            path = f"{CONFIG_TYPES}/{created.json()['data']['id']}"
            clients = [r.client(token=token) for r in cluster]
            try:
                # Written through one member, read at once on the next: it must see the write.
                for n in range(1, 31):
                    writer, reader = clients[n % 3], clients[(n + 1) % 3]
                    patched = await writer.patch(path, json={"tags": {"n": n}})
                    assert patched.status_code == 200, patched.text
                    got = await reader.get(path)
                    assert got.status_code == 200, got.text
                    assert got.json()["data"]["tags"]["n"] == n
                async with await _alone(cluster, token) as http:
                    with trio.fail_after(10):  # the member gives up after two election timeouts (2.4 s)
                        refused = await http.get(path)
            finally:
                for c in clients:
                    await c.aclose()
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "CLUSTER_HAS_NO_LEADER"


async def test_reads_arriving_together_share_rounds_and_questions_and_a_member_alone_needs_none(tmp_path):
    members = local_members(tmp_path / "three", 3)
    alone = local_members(tmp_path / "one", 1)
    async with trio.open_nursery() as nursery:
        for m in [*members, *alone]:
            await m.start(nursery)
        leader = await wait_until(lambda: writable_leader(members), 20, what="a leader")
        await wait_until(lambda: writable_leader(alone), 20, what="the member alone leading")
        follower = next(m for m in members if m is not leader)
        before = leader.replica.raft.reads._round
        asked_before = follower.replica.raft.reads.questions
        deadline = trio.current_time() + 10
        async with trio.open_nursery() as reads:
            for m in (leader, follower):
                for _ in range(25):
                    reads.start_soon(m.replica.read_barrier, deadline)
        rounds = leader.replica.raft.reads._round - before
        assert 1 <= rounds < 50, f"{rounds} rounds for 50 reads"
        questions = follower.replica.raft.reads.questions - asked_before
        assert 1 <= questions < 25, f"the follower asked {questions} questions for 25 reads"
        await alone[0].replica.read_barrier(deadline)
        assert alone[0].replica.raft.reads._round == 0
        nursery.cancel_scope.cancel()

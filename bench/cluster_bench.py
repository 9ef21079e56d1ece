"""HA controllers (issue 16): acknowledged writes of a 3-member cluster, and failover.

``cluster_writes_per_s`` drives :meth:`Model.transact` on the leader of three replicated models (one
process, real mTLS sockets on loopback) from :data:`~bench.common.CONCURRENCY` writers, each write a
session-sized record acknowledged once a majority committed it, against one controller's model with
group commit (the ``writes_per_s`` figure), alternating in the same run. ``cluster_one_writes_per_s`` is
the same with a cluster of one member, against the same baseline: the price of one code path.
``failover_s`` stops the leader while writers run and measures until the first write acknowledged by a
new leader. The process-based fault tests (``tests/cluster/test_faults.py``) use ``kill -9``.

``python bench/cluster_bench.py [--quick]`` runs it on its own.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import trio

from bench.common import CONCURRENCY, FULL, QUICK, Context, Goal, Metric, Suite, median, run_suites
from bench.store_bench import _rate, _session_write
from ziti_aio.common.errors import ClusterUnavailable
from ziti_aio.controller.model.model import MAX_BATCH_COMMANDS
from ziti_aio.testing.cluster import LocalMember, local_members, writable_leader
from ziti_aio.testing.waiting import wait_until

WRITES = Metric("cluster_writes_per_s", None, "writes/s", "one controller, group commit, same disk",
                goal=Goal(">=", 0.5))
ONE = Metric("cluster_one_writes_per_s", None, "writes/s", "one controller, group commit, same disk")
FAILOVER = Metric("failover_s", None, "s", "goal: 1 s on loopback", goal=Goal("<=", 1.0, on="value", unit="s"))


async def _cluster_rate(workdir: Path, count: int, window_s: float) -> tuple[float, float | None]:
    """Acknowledged writes/s on the leader of ``count`` members; with more than one, also the
    failover time (leader stopped under load → first write acknowledged by a new leader)."""
    members = local_members(workdir, count)
    async with trio.open_nursery() as nursery:
        for m in members:
            await m.start(nursery)
        leader: LocalMember = await wait_until(lambda: writable_leader(members), 30, what="a leader")
        assert leader.model is not None
        done = 0

        async def writer() -> None:
            nonlocal done
            assert leader.model is not None
            while True:
                await leader.model.transact(_session_write)
                done += 1

        start = trio.current_time()
        with trio.move_on_after(window_s):
            async with trio.open_nursery() as writers:
                for _ in range(CONCURRENCY):
                    writers.start_soon(writer)
        rate = done / (trio.current_time() - start)
        failover = await _failover(members, leader) if count > 1 else None
        nursery.cancel_scope.cancel()
    return rate, failover


async def _failover(members: list[LocalMember], leader: LocalMember) -> float:
    stopped = trio.current_time()
    await leader.stop()
    while True:
        new = writable_leader(members)
        if new is not None and new.model is not None:
            try:
                await new.model.transact(_session_write)
                return trio.current_time() - stopped
            except ClusterUnavailable:
                pass
        await trio.sleep(0.005)


async def cluster_suite(ctx: Context) -> list[Metric]:
    three: list[float] = []
    one: list[float] = []
    single: list[float] = []
    failovers: list[float] = []
    for n in range(ctx.budget.rounds):
        rate, failover = await _cluster_rate(ctx.workdir / f"three-{n}", 3, ctx.budget.duration_s)
        three.append(rate)
        assert failover is not None
        failovers.append(failover)
        one.append((await _cluster_rate(ctx.workdir / f"one-{n}", 1, ctx.budget.duration_s))[0])
        single.append(await _rate(ctx.workdir / f"single-{n}.db", ctx.budget.duration_s, MAX_BATCH_COMMANDS))
    return [Metric(WRITES.metric, median(three), WRITES.unit, WRITES.baseline, baseline_value=median(single),
                   goal=WRITES.goal),
            Metric(ONE.metric, median(one), ONE.unit, ONE.baseline, baseline_value=median(single)),
            Metric(FAILOVER.metric, median(failovers), FAILOVER.unit, FAILOVER.baseline, goal=FAILOVER.goal)]


CLUSTER_SUITE = Suite((WRITES, ONE, FAILOVER), cluster_suite)


def main() -> None:
    parser = argparse.ArgumentParser(description="HA cluster writes and failover against a same-run baseline")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    trio.run(lambda: run_suites([CLUSTER_SUITE], QUICK if args.quick else FULL, json_only=False))


if __name__ == "__main__":
    main()

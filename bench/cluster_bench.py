"""HA controllers (issue 16): acknowledged writes of a 3-member cluster, and failover.

``cluster_writes_per_s`` drives :meth:`Model.transact` on the leader of three replicated models (one
process, real mTLS sockets on loopback) from :data:`~bench.common.CONCURRENCY` writers, each write a
session-sized record acknowledged once a majority committed it, against one controller's model with
group commit (the ``writes_per_s`` figure), alternating in the same run. ``cluster_one_writes_per_s`` is
the same with a cluster of one member, against the same baseline: the price of one code path.
``failover_s`` stops the leader while writers run and measures until the first write acknowledged by a
new leader (test timings, 0.3-0.6 s elections).

With separate processes (what a user runs: ``ziti_aio/testing/cluster_processes.py``), three ``ziti-aio run
--config`` controllers and an HTTP client writing through the management API from
:data:`~bench.common.CONCURRENCY` connections: ``cluster_process_writes_per_s`` against one
controller process with the same client, and ``failover_process_s``, ``kill -9`` of the leader → the
first write sent after it that a new leader acknowledged, product timings, the median and the worst
of several kills (the victim restarts between them). ``--controllers-from DIR`` runs those processes
from another source tree (e.g. ``git archive main``) for a before/after in the same run.

``cluster_member_process_writes_per_s``: the first figure with each member in a process of its own
(``bench/cluster_member.py``; the writers in the leader's process), against the same baseline.

``failover_circuit_gap_s``: a circuit through a router of a three-controller network (one process)
echoing data as fast as it can while the leader stops: the longest pause between received bytes
after the stop, against the longest before it; ``failover_circuit_lost_bytes`` what did not come back.

``follower_read_ms``: a follower's ``GET`` of one entity through the management API, one request at a
time, with ``reads = "linearizable"`` (Raft's read-index: a round trip to the leader and its heartbeat
round) against ``reads = "local"``: the median latency, each in a three-controller cluster of its own
(one process, test timings), alternating in the same run.

``python bench/cluster_bench.py [--quick] [--controllers-from DIR] [--only SUITE]`` runs it on its own.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import trio

from bench.common import (
    CHILD_START_TIMEOUT_S,
    CHILD_STOP_TIMEOUT_S,
    CONCURRENCY,
    FULL,
    QUICK,
    REPO,
    Context,
    Goal,
    Metric,
    Suite,
    median,
    progress,
    run_suites,
)
from bench.http_writers import HttpWriters
from bench.store_bench import _rate, _session_write
from ziti_aio.appliance.ports import free_port
from ziti_aio.common.errors import ClusterUnavailable, ZitiError
from ziti_aio.controller.cluster.replica import LINEARIZABLE_READS, LOCAL_READS
from ziti_aio.controller.model.model import MAX_BATCH_COMMANDS
from ziti_aio.sdk import open_context
from ziti_aio.testing import open_network
from ziti_aio.testing.cluster import (
    FAST,
    LocalMember,
    leading,
    local_members,
    member_pki,
    open_controller_cluster,
    writable_leader,
)
from ziti_aio.testing.cluster_processes import controller_processes
from ziti_aio.testing.waiting import wait_until

WRITES = Metric("cluster_writes_per_s", None, "writes/s", "one controller, group commit, same disk",
                goal=Goal(">=", 0.5))
ONE = Metric("cluster_one_writes_per_s", None, "writes/s", "one controller, group commit, same disk")
FAILOVER = Metric("failover_s", None, "s", "goal: 1 s on loopback", goal=Goal("<=", 1.0, on="value", unit="s"))
PROCESS_WRITES = Metric("cluster_process_writes_per_s", None, "writes/s",
                        "one controller process, same HTTP client", goal=Goal(">=", 0.5))
MEMBER_PROCESS_WRITES = Metric("cluster_member_process_writes_per_s", None, "writes/s",
                               "one controller, group commit, same disk", goal=Goal(">=", 0.5))
PROCESS_FAILOVER = Metric("failover_process_s", None, "s", "median of kills; goal: 1 s on loopback",
                          goal=Goal("<=", 1.0, on="value", unit="s"))
PROCESS_FAILOVER_WORST = Metric("failover_process_worst_s", None, "s", "worst of the same kills")
CIRCUIT_GAP = Metric("failover_circuit_gap_s", None, "s", "longest pause before the leader stopped",
                     goal=Goal("<=", 1.0, on="value", unit="s"))
CIRCUIT_LOST = Metric("failover_circuit_lost_bytes", None, "bytes", "bytes sent through the circuit",
                      goal=Goal("<=", 0.0, on="value", unit="bytes"))
FOLLOWER_READ = Metric("follower_read_ms", None, "ms", "a follower's GET with reads = local, same run")
CHUNK = 64 * 1024
CIRCUIT_S = 1.5  # streaming before and after the leader stops
PROCESS_WARMUP_S = 3.0  # a freshly started controller process is slower for its first seconds
_CODE: Path | None = None  # --controllers-from


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


def _window_rate(writers: HttpWriters, start: float, end: float) -> float:
    return sum(1 for _, acked in writers.acks if start <= acked < end) / (end - start)


async def _process_rate(workdir: Path, count: int, ctx: Context, kills: int) -> tuple[float, list[float]]:
    """HTTP writes/s through ``count`` controller processes; with ``kills``, also that many failovers."""
    failovers = []
    async with controller_processes(workdir, count, code=_CODE) as members:
        writers = HttpWriters(members, CONCURRENCY)
        try:
            await writers.login()
            writers.target = members.index(await writers.leader())
            async with trio.open_nursery() as nursery:
                nursery.start_soon(writers.run)
                await trio.sleep(PROCESS_WARMUP_S)
                start = time.monotonic()
                await trio.sleep(ctx.budget.duration_s)
                rate = _window_rate(writers, start, time.monotonic())
                for n in range(kills):
                    leader = await writers.leader()
                    writers.target = members.index(leader)
                    await trio.sleep(0.5)  # writes flowing to it
                    killed = time.monotonic()
                    leader.kill()
                    acked = await wait_until(lambda k=killed: writers.first_ack_sent_after(k), 30,
                                             what="a write acknowledged after the kill")
                    failovers.append(acked - killed)
                    progress(f"kill {n + 1}/{kills}: first acknowledged write {acked - killed:.3f} s later")
                    await leader.start()
                    await trio.sleep(1.0)
                nursery.cancel_scope.cancel()
        finally:
            await writers.aclose()
    return rate, failovers


async def process_suite(ctx: Context) -> list[Metric]:
    three, failovers = await _process_rate(ctx.workdir / "three", 3, ctx, 2 * ctx.budget.process_runs)
    one, _ = await _process_rate(ctx.workdir / "one", 1, ctx, 0)
    progress("failovers (s): " + ", ".join(f"{f:.3f}" for f in sorted(failovers)))
    return [Metric(PROCESS_WRITES.metric, three, PROCESS_WRITES.unit, PROCESS_WRITES.baseline, baseline_value=one,
                   goal=PROCESS_WRITES.goal),
            Metric(PROCESS_FAILOVER.metric, median(failovers), PROCESS_FAILOVER.unit, PROCESS_FAILOVER.baseline,
                   goal=PROCESS_FAILOVER.goal),
            Metric(PROCESS_FAILOVER_WORST.metric, max(failovers), PROCESS_FAILOVER_WORST.unit,
                   PROCESS_FAILOVER_WORST.baseline)]


def _rate_line(proc: subprocess.Popen[str]) -> float | None:
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("rate "):
            return float(line.split()[1])
    return None


async def _member_process_rate(workdir: Path, ctx: Context) -> float:
    """Writes/s on the leader of three replicated models, each in a process of its own (``cluster_member.py``)."""
    ids = [f"ctrl-{i + 1}" for i in range(3)]
    await trio.to_thread.run_sync(member_pki, workdir / "pki", ids)
    spec = {"pki": str(workdir / "pki"),
            "members": [{"id": i, "home": str(workdir / i), "port": free_port()} for i in ids]}
    spec_file = workdir / "spec.json"
    spec_file.write_text(json.dumps(spec))
    procs = [subprocess.Popen([sys.executable, "-m", "bench.cluster_member", str(spec_file), i,
                               str(ctx.budget.warmup_s), str(ctx.budget.duration_s)],
                              cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for i in ids]
    rates: list[float] = []
    try:
        with trio.fail_after(CHILD_START_TIMEOUT_S + ctx.budget.warmup_s + ctx.budget.duration_s):
            async with trio.open_nursery() as nursery:
                async def read(proc: subprocess.Popen[str]) -> None:
                    rate = await trio.to_thread.run_sync(_rate_line, proc, abandon_on_cancel=True)
                    if rate is not None:
                        rates.append(rate)
                        nursery.cancel_scope.cancel()

                for proc in procs:
                    nursery.start_soon(read, proc)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=CHILD_STOP_TIMEOUT_S)
    if not rates:
        raise RuntimeError("no member led and wrote")
    return rates[0]


async def member_process_suite(ctx: Context) -> list[Metric]:
    three: list[float] = []
    single: list[float] = []
    for n in range(ctx.budget.rounds):
        (ctx.workdir / f"members-{n}").mkdir()
        three.append(await _member_process_rate(ctx.workdir / f"members-{n}", ctx))
        single.append(await _rate(ctx.workdir / f"single-{n}.db", ctx.budget.duration_s, MAX_BATCH_COMMANDS))
    return [Metric(MEMBER_PROCESS_WRITES.metric, median(three), MEMBER_PROCESS_WRITES.unit,
                   MEMBER_PROCESS_WRITES.baseline, baseline_value=median(single), goal=MEMBER_PROCESS_WRITES.goal)]


MEMBER_PROCESS_SUITE = Suite((MEMBER_PROCESS_WRITES,), member_process_suite)


PROCESS_SUITE = Suite((PROCESS_WRITES, PROCESS_FAILOVER, PROCESS_FAILOVER_WORST), process_suite)


async def circuit_suite(ctx: Context) -> list[Metric]:
    async with open_network(ctx.workdir / "net", controllers=3, routers=1) as net:
        await net.create_service("bulk")
        host, dialer = await net.create_identity("host"), await net.create_identity("dialer")
        await net.allow("host", "bulk", "Bind")
        await net.allow("dialer", "bulk", "Dial")
        async with open_context(host.path) as hosting, open_context(dialer.path) as dialing, \
                trio.open_nursery() as nursery:
            listener = await hosting.bind("bulk")

            async def echo() -> None:
                async with await listener.accept() as conn:
                    while data := await conn.receive_some():
                        await conn.send_all(data)

            nursery.start_soon(echo)
            sent, received = hashlib.sha256(), hashlib.sha256()
            sent_bytes = received_bytes = 0
            arrivals: list[float] = []
            stopped_at = 0.0
            async with await wait_until(lambda: _dial(dialing), 60, what="a circuit") as stream:
                async def send() -> None:
                    nonlocal sent_bytes, stopped_at
                    started = time.monotonic()
                    while time.monotonic() - started < 2 * CIRCUIT_S:
                        if not stopped_at and time.monotonic() - started >= CIRCUIT_S:
                            net.controller.stop()  # the leader
                            stopped_at = time.monotonic()
                        chunk = os.urandom(CHUNK)
                        sent.update(chunk)
                        sent_bytes += len(chunk)
                        await stream.send_all(chunk)

                async with trio.open_nursery() as transfer:
                    transfer.start_soon(send)
                    with trio.move_on_after(30):
                        while not stopped_at or received_bytes < sent_bytes or transfer.child_tasks:
                            data = await stream.receive_some()
                            if not data:
                                break
                            received.update(data)
                            received_bytes += len(data)
                            arrivals.append(time.monotonic())
            nursery.cancel_scope.cancel()
    before = [b - a for a, b in itertools.pairwise(arrivals) if b <= stopped_at]
    after = [b - a for a, b in itertools.pairwise(arrivals) if b > stopped_at]
    if received_bytes == sent_bytes and received.digest() != sent.digest():
        raise RuntimeError("the circuit returned every byte but not the same bytes")
    lost = sent_bytes - received_bytes
    return [Metric(CIRCUIT_GAP.metric, max(after, default=0.0), CIRCUIT_GAP.unit, CIRCUIT_GAP.baseline,
                   baseline_value=max(before, default=0.0), goal=CIRCUIT_GAP.goal),
            Metric(CIRCUIT_LOST.metric, float(lost), CIRCUIT_LOST.unit, CIRCUIT_LOST.baseline,
                   baseline_value=float(sent_bytes), goal=CIRCUIT_LOST.goal)]


async def _dial(dialing: object) -> object:
    try:
        return await dialing.dial("bulk")  # type: ignore[attr-defined]
    except ZitiError:
        return None


CIRCUIT_SUITE = Suite((CIRCUIT_GAP, CIRCUIT_LOST), circuit_suite)


async def _follower_reads(workdir: Path, reads: str, window_s: float) -> list[float]:
    """Latencies (ms) of a follower's GETs, one at a time for ``window_s``, members set to ``reads``."""
    async with open_controller_cluster(workdir, reads=reads, timing=FAST) as cluster:
        leader = await wait_until(lambda: leading(cluster), 30, what="a leader")
        async with await leader.login() as admin:
            created = await admin.post("/edge/management/v1/config-types", json={"name": "read", "schema": {}})
            path = f"/edge/management/v1/config-types/{created.json()['data']['id']}"
            token = admin.headers["zt-session"]
        follower = next(r for r in cluster if r is not leader)
        latencies = []
        async with follower.client(token=token) as http:
            async def found() -> bool:  # (a local read may not see the create yet)
                return (await http.get(path)).status_code == 200

            for _ in range(20):  # warm-up: connection, caches
                await wait_until(found, 10, what="the entity on the follower")
            end = time.perf_counter() + window_s
            while time.perf_counter() < end:
                start = time.perf_counter()
                (await http.get(path)).raise_for_status()
                latencies.append((time.perf_counter() - start) * 1000)
    return latencies


async def reads_suite(ctx: Context) -> list[Metric]:
    local: list[float] = []
    linearizable: list[float] = []
    for n in range(ctx.budget.rounds):
        local.append(median(await _follower_reads(ctx.workdir / f"local-{n}", LOCAL_READS, ctx.budget.duration_s)))
        linearizable.append(median(await _follower_reads(ctx.workdir / f"linearizable-{n}", LINEARIZABLE_READS,
                                                         ctx.budget.duration_s)))
    return [Metric(FOLLOWER_READ.metric, median(linearizable), FOLLOWER_READ.unit, FOLLOWER_READ.baseline,
                   baseline_value=median(local))]


READS_SUITE = Suite((FOLLOWER_READ,), reads_suite)


def main() -> None:
    parser = argparse.ArgumentParser(description="HA cluster writes and failover against a same-run baseline")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--controllers-from", type=Path, metavar="DIR",
                        help="run the controller processes from this source tree (a before/after in one run)")
    parser.add_argument("--only", choices=["inprocess", "members", "processes", "circuit", "reads"], action="append")
    args = parser.parse_args()
    global _CODE
    _CODE = args.controllers_from
    chosen = {"inprocess": CLUSTER_SUITE, "members": MEMBER_PROCESS_SUITE, "processes": PROCESS_SUITE,
              "circuit": CIRCUIT_SUITE, "reads": READS_SUITE}
    suites = [chosen[o] for o in args.only] if args.only else list(chosen.values())
    trio.run(lambda: run_suites(suites, QUICK if args.quick else FULL, json_only=False))


if __name__ == "__main__":
    main()

"""Router mesh metrics (issue 5), measured in-process: a controller and three routers over real mTLS
on 127.0.0.1 (:func:`ziti_aio.testing.network.open_network`), a trio SDK dialer that may only use
er1 and a host that may only use er3, an unencrypted service so the hops, not the crypto, count.

- ``two_hop_vs_one``: MB/s of one transfer through er1 -> er2 -> er3 (the direct link marked down)
  against the same transfer over the direct er1 -> er3 link, alternating.
- ``reroute_gap_s``: the direct link in use is closed mid-transfer; the time from that moment to
  the end of the host's longest receive stall after it (the first bytes on the new path). The
  baseline is the longest stall of the same transfer with no failure.
- ``parallel8_multihop_vs_1``: aggregate MB/s of 8 two-hop circuits at once against one.
- ``path_compute_100_vs_10``: graph build plus shortest path in a full mesh of 100 routers (4,950
  links) against 10 (45): what a topology or cost change costs the controller; dials between
  changes reuse the cached graph and its searches.
"""

from __future__ import annotations

import itertools
import os
import random
import time
from collections import deque
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import trio
import trio.lowlevel

from bench.common import Context, Goal, Metric, Suite, median
from ziti_aio.controller.network.paths import Graph, LinkEdge, RouterNode
from ziti_aio.sdk import open_context
from ziti_aio.testing import wait_until
from ziti_aio.testing.controller import MANAGEMENT, create
from ziti_aio.testing.network import RunningNetwork, open_network

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

TWO_HOP = Metric("two_hop_vs_one", None, "MB/s", "one-hop circuit (er1 -> er3)", goal=Goal(">=", 0.8))
REROUTE = Metric("reroute_gap_s", None, "s", "longest receive stall without a failure",
                 goal=Goal("<=", 1.0, on="value", unit="s"))
PARALLEL = Metric("parallel8_multihop_vs_1", None, "MB/s", "one two-hop circuit", goal=Goal(">=", 1.3))
PATHS = Metric("path_compute_100_vs_10", None, "µs/path", "same at 10 routers")

MIB = 1024 * 1024
CHUNK = 64 * 1024
PARALLEL_CIRCUITS = 8
LINKS_TIMEOUT_S = 30.0
TRANSFER_TIMEOUT_S = 300.0
MAX_ARRIVALS = 200_000


@dataclass
class Mesh:
    """The running network, the SDK contexts and the host's arrival times (while recording)."""

    net: RunningNetwork
    dialer: Any
    payload: bytes
    arrivals: deque[float] = field(default_factory=lambda: deque(maxlen=MAX_ARRIVALS))
    recording: bool = False

    async def links(self) -> dict[frozenset[str], str]:
        """Wait for the full mesh (3 links); link ids by router-name pair."""
        names = {r.id: r.name for r in self.net.routers}

        async def full_mesh() -> list[dict[str, Any]] | None:
            found = await self.net.get("links")
            return found if len(found) == 3 else None

        found = await wait_until(full_mesh, LINKS_TIMEOUT_S, what="the full mesh (3 links)")
        return {frozenset((names[lk["sourceRouter"]["id"]], names[lk["destRouter"]["id"]])): lk["id"]
                for lk in found}

    async def direct(self, *, down: bool) -> str:
        """Mark the er1-er3 link down (two hops) or up (one hop); returns its id."""
        link_id = (await self.links())[frozenset(("er1", "er3"))]
        resp = await self.net.admin.patch(f"{MANAGEMENT}/links/{link_id}", json={"down": down})
        resp.raise_for_status()
        return link_id

    async def transfer(self, size: int, *, during: Any = None) -> float:
        """Send ``size`` bytes to the host and wait for its answer; seconds taken. ``during`` (an
        async callable) runs once a third of the bytes are sent."""
        view = memoryview(self.payload)
        start = time.perf_counter()
        with trio.fail_after(TRANSFER_TIMEOUT_S):
            async with await self.dialer.dial("svc") as stream:
                sent = 0
                while sent < size:
                    n = min(CHUNK, size - sent)
                    await stream.send_all(view[sent % len(view):][:n])
                    sent += n
                    if during is not None and sent >= size // 3:
                        await during()
                        during = None
                await stream.send_eof()
                while await stream.receive_some():
                    pass
        return time.perf_counter() - start


async def _sink(mesh: Mesh, stream: Any) -> None:
    async with stream:
        while data := await stream.receive_some():
            if mesh.recording:
                mesh.arrivals.append(time.perf_counter())
            del data
        await stream.send_all(b"k")
        await stream.send_eof()


async def _serve(mesh: Mesh, listener: Any) -> None:
    async with trio.open_nursery() as nursery:
        while True:
            nursery.start_soon(_sink, mesh, await listener.accept())


@asynccontextmanager
async def open_mesh(workdir: Path, size: int) -> AsyncIterator[Mesh]:
    async with open_network(workdir, routers=0) as net:
        await net.add_router("er1", attributes=("ingress",))
        await net.add_router("er2", attributes=())
        await net.add_router("er3", attributes=("egress",))
        for name, role, routers in (("dialers", "dialers", "ingress"), ("hosts", "hosts", "egress")):
            await create(net.admin, "edge-router-policies", {"name": name, "identityRoles": ["#" + role],
                                                             "edgeRouterRoles": ["#" + routers]})
        await net.create_service("svc", encryption_required=False)
        await net.create_identity("host", attributes=("hosts",))
        await net.create_identity("dialer", attributes=("dialers",))
        await net.allow("host", "svc", "Bind")
        await net.allow("dialer", "svc", "Dial")
        async with open_context(net.identities["host"].path) as host, \
                open_context(net.identities["dialer"].path) as dialer, trio.open_nursery() as nursery:
            mesh = Mesh(net, dialer, os.urandom(min(size, 16 * MIB)))
            nursery.start_soon(_serve, mesh, await host.bind("svc"))
            await mesh.links()
            await mesh.transfer(MIB)  # warm-up: terminator, sessions, first circuit
            yield mesh
            nursery.cancel_scope.cancel()


def _resume_after(arrivals: list[float], t0: float) -> float:
    """Seconds from ``t0`` to the end of the longest receive stall that follows it."""
    previous, best, resume = t0, -1.0, t0
    for t in (a for a in arrivals if a > t0):
        if t - previous > best:
            best, resume = t - previous, t
        previous = t
    return resume - t0


def _longest_stall(arrivals: list[float]) -> float:
    return max((b - a for a, b in itertools.pairwise(arrivals)), default=0.0)


async def _reroute_round(mesh: Mesh, size: int) -> tuple[float, float]:
    """(gap after closing the link in use, longest stall of an undisturbed two-hop transfer)."""
    er1 = mesh.net.routers[0].router.parts.links
    link_id = await mesh.direct(down=False)
    t0 = 0.0

    async def kill() -> None:
        nonlocal t0
        t0 = time.perf_counter()
        await er1.get(link_id).aclose()

    mesh.arrivals.clear()
    mesh.recording = True
    await mesh.transfer(size, during=kill)
    gap = _resume_after(list(mesh.arrivals), t0)
    await mesh.links()
    await mesh.direct(down=True)
    mesh.arrivals.clear()
    await mesh.transfer(size)
    mesh.recording = False
    return gap, _longest_stall(list(mesh.arrivals))


async def mesh_suite(ctx: Context) -> list[Metric]:
    size = max(8, int(ctx.budget.duration_s * 8)) * MIB
    one, two, gaps, stalls, many, single = [], [], [], [], [], []
    async with open_mesh(ctx.workdir, size) as mesh:
        for _ in range(ctx.budget.rounds):
            await mesh.direct(down=False)
            one.append(size / await mesh.transfer(size) / 1e6)
            await mesh.direct(down=True)
            two.append(size / await mesh.transfer(size) / 1e6)

            each = size // 2
            single.append(each / await mesh.transfer(each) / 1e6)
            start = time.perf_counter()
            async with trio.open_nursery() as nursery:
                for _ in range(PARALLEL_CIRCUITS):
                    nursery.start_soon(mesh.transfer, each)
            many.append(PARALLEL_CIRCUITS * each / (time.perf_counter() - start) / 1e6)

            gap, stall = await _reroute_round(mesh, size)
            gaps.append(gap)
            stalls.append(stall)
    return [
        Metric(TWO_HOP.metric, median(two), TWO_HOP.unit, TWO_HOP.baseline, median(one), TWO_HOP.goal),
        Metric(REROUTE.metric, median(gaps), REROUTE.unit, REROUTE.baseline, median(stalls), REROUTE.goal),
        Metric(PARALLEL.metric, median(many), PARALLEL.unit, PARALLEL.baseline, median(single), PARALLEL.goal),
    ]


def _full_mesh(n: int, rng: random.Random) -> tuple[list[RouterNode], list[LinkEdge]]:
    routers = [RouterNode(f"r{i:03d}", rng.randrange(0, 10)) for i in range(n)]
    links = [LinkEdge(f"l{i:03d}-{j:03d}", routers[i].id, routers[j].id, rng.randrange(1, 100))
             for i in range(n) for j in range(i + 1, n)]
    return routers, links


def _path_us(n: int, duration_s: float) -> float:
    """Mean µs for a graph build plus one shortest path, end to end, in a full mesh of ``n``."""
    routers, links = _full_mesh(n, random.Random(n))
    calls, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < duration_s or calls < 3:
        graph = Graph(routers, links)
        assert graph.shortest_path(routers[0].id, routers[-1].id) is not None
        calls += 1
    return elapsed / calls * 1e6


async def paths_suite(ctx: Context) -> list[Metric]:
    small, large = [], []
    for _ in range(ctx.budget.rounds):
        small.append(_path_us(10, ctx.budget.duration_s / 2))
        large.append(_path_us(100, ctx.budget.duration_s / 2))
        await trio.lowlevel.checkpoint()
    return [Metric(PATHS.metric, median(large), PATHS.unit, PATHS.baseline, median(small), PATHS.goal)]


MESH = Suite((TWO_HOP, REROUTE, PARALLEL), mesh_suite)
PATH_COMPUTE = Suite((PATHS,), paths_suite)

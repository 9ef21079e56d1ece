"""Soak: many circuits with churn for minutes; memory and open fds must stay flat (not in CI).

    python bench/soak.py [--circuits 1000] [--minutes 10] [--churn 20] [--ping-s 5]
                         [--sample-s 60] [--warmup-minutes 1] [--max-growth-mib 32] [--max-fd-growth 16]

One process holds a controller and an edge router (``ziti_aio.testing.open_network``, real mTLS on
127.0.0.1), an SDK host echoing service ``soak`` and an SDK dialer. The dialer keeps ``--circuits``
circuits open; each sends a small random payload about every ``--ping-s`` seconds and checks the
echo. Every second ``--churn`` random circuits are closed and replaced by new ones. Every
``--sample-s`` seconds a line gives the process's RSS, its open fds, the circuits the router holds
and the echoes and replacements since the last line. Exit status 1 when, after the warm-up, RSS grew
by more than ``--max-growth-mib`` or fds by more than ``--max-fd-growth``, or when an echo was wrong or
a circuit broke.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import trio

from ziti_aio.common.errors import ZitiError
from ziti_aio.sdk import open_context
from ziti_aio.testing.controller import MANAGEMENT
from ziti_aio.testing.network import RunningNetwork, open_network

if TYPE_CHECKING:
    from ziti_aio.sdk.context import ZitiContext
    from ziti_aio.sdk.listener import ZitiListener

PAYLOAD_BYTES = 256
DIAL_TIMEOUT_S = 30.0
ECHO_TIMEOUT_S = 30.0
MAX_SHOWN_FAILURES = 3


@dataclass
class Stats:
    echoes: int = 0
    replaced: int = 0
    failures: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Sample:
    minute: float
    rss_mib: float
    fds: int


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def echo_host(listener: ZitiListener) -> None:
    async def echo(stream) -> None:  # type: ignore[no-untyped-def]
        try:
            async with stream:
                while data := await stream.receive_some():
                    await stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError, ZitiError):
            pass

    async with trio.open_nursery() as nursery:
        while True:
            nursery.start_soon(echo, await listener.accept())


async def circuit(ctx: ZitiContext, stats: Stats, ping_s: float, *,
                  task_status: trio.TaskStatus[trio.CancelScope] = trio.TASK_STATUS_IGNORED) -> None:
    """One circuit pinging until its scope is cancelled (then it closes its stream)."""
    with trio.fail_after(DIAL_TIMEOUT_S):
        stream = await ctx.dial("soak")
    with trio.CancelScope() as scope:
        task_status.started(scope)
        try:
            async with stream:
                await trio.sleep(random.uniform(0, ping_s))
                while True:
                    payload = os.urandom(PAYLOAD_BYTES)
                    await stream.send_all(payload)
                    echoed = bytearray()
                    with trio.fail_after(ECHO_TIMEOUT_S):
                        while len(echoed) < len(payload):
                            data = await stream.receive_some(len(payload) - len(echoed))
                            if not data:
                                raise trio.BrokenResourceError("the circuit ended")
                            echoed += data
                    if echoed != payload:
                        stats.failures.append("an echo differs from what was sent")
                    stats.echoes += 1
                    await trio.sleep(ping_s * random.uniform(0.5, 1.5))
        except (trio.BrokenResourceError, trio.ClosedResourceError, trio.TooSlowError, ZitiError) as exc:
            stats.failures.append(f"a circuit broke: {exc!r}")


async def churn(ctx: ZitiContext, stats: Stats, scopes: list[trio.CancelScope], per_s: int, ping_s: float,
                nursery: trio.Nursery) -> None:
    while True:
        await trio.sleep(1)
        for index in random.sample(range(len(scopes)), min(per_s, len(scopes))):
            scopes[index].cancel()
            try:
                scopes[index] = await nursery.start(circuit, ctx, stats, ping_s)
            except (trio.TooSlowError, ZitiError) as exc:
                stats.failures.append(f"a dial failed: {exc!r}")
                continue
            stats.replaced += 1


async def report(net: RunningNetwork, stats: Stats, samples: list[Sample], sample_s: float) -> None:
    started = trio.current_time()
    last_echoes = last_replaced = 0
    while True:
        await trio.sleep(sample_s)
        sample = Sample((trio.current_time() - started) / 60, rss_mib(), open_fds())
        samples.append(sample)
        listed = await net.admin.get(f"{MANAGEMENT}/circuits", params={"limit": 1})
        circuits = listed.json()["meta"]["pagination"]["totalCount"]
        print(f"{sample.minute:6.1f} min  rss {sample.rss_mib:8.1f} MiB  fds {sample.fds:5d}  circuits {circuits:5d}"
              f"  echoes {stats.echoes - last_echoes:7d}  replaced {stats.replaced - last_replaced:6d}", flush=True)
        last_echoes, last_replaced = stats.echoes, stats.replaced


async def soak(args: argparse.Namespace, home: Path) -> tuple[Stats, list[Sample]]:
    stats, samples = Stats(), []
    async with open_network(home, routers=1) as net:
        await net.create_service("soak")
        host = await net.create_identity("host")
        dialer = await net.create_identity("dialer")
        await net.allow("host", "soak", "Bind")
        await net.allow("dialer", "soak", "Dial")
        async with open_context(host.path) as host_ctx, open_context(dialer.path) as dialer_ctx, \
                trio.open_nursery() as nursery:
            nursery.start_soon(echo_host, await host_ctx.bind("soak"))
            async with trio.open_nursery() as circuits:
                print(f"opening {args.circuits} circuits", file=sys.stderr, flush=True)
                scopes = [await circuits.start(circuit, dialer_ctx, stats, args.ping_s)
                          for _ in range(args.circuits)]
                print(f"{args.circuits} circuits open; soaking for {args.minutes} min", file=sys.stderr, flush=True)
                with trio.move_on_after(args.minutes * 60):
                    async with trio.open_nursery() as running:
                        running.start_soon(churn, dialer_ctx, stats, scopes, args.churn, args.ping_s, circuits)
                        running.start_soon(report, net, stats, samples, args.sample_s)
                circuits.cancel_scope.cancel()
            nursery.cancel_scope.cancel()
    return stats, samples


def verdict(args: argparse.Namespace, stats: Stats, samples: list[Sample]) -> list[str]:
    """What went wrong (empty when the soak passed)."""
    distinct = sorted(set(stats.failures))
    problems = [f"{len(stats.failures)} circuit failures, e.g. {'; '.join(distinct[:MAX_SHOWN_FAILURES])}"] \
        if distinct else []
    steady = [s for s in samples if s.minute >= args.warmup_minutes]
    if len(steady) < 2:
        return [*problems, f"fewer than two samples after the {args.warmup_minutes} min warm-up"]
    first, last = steady[0], steady[-1]
    if last.rss_mib - first.rss_mib > args.max_growth_mib:
        problems.append(f"RSS grew {last.rss_mib - first.rss_mib:.1f} MiB after the warm-up "
                        f"({first.rss_mib:.1f} -> {last.rss_mib:.1f}; limit {args.max_growth_mib} MiB)")
    if last.fds - first.fds > args.max_fd_growth:
        problems.append(f"open fds grew by {last.fds - first.fds} after the warm-up "
                        f"({first.fds} -> {last.fds}; limit {args.max_fd_growth})")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--circuits", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--churn", type=int, default=20, help="circuits replaced per second")
    parser.add_argument("--ping-s", type=float, default=5.0, help="mean seconds between a circuit's echoes")
    parser.add_argument("--sample-s", type=float, default=60.0, help="seconds between report lines")
    parser.add_argument("--warmup-minutes", type=float, default=1.0)
    parser.add_argument("--max-growth-mib", type=float, default=32.0)
    parser.add_argument("--max-fd-growth", type=int, default=16)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ziti-aio-soak-") as tmp:
        stats, samples = trio.run(soak, args, Path(tmp))
    problems = verdict(args, stats, samples)
    print(f"{stats.echoes} echoes, {stats.replaced} circuits replaced", flush=True)
    for problem in problems:
        print(f"FAIL: {problem}", flush=True)
    if not problems:
        print("ok: RSS and open fds stayed flat", flush=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

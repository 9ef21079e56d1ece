"""Data-plane suites (issue 7): circuits through a ziti-aio router against ``ssh -L``, same run.

What runs where: the controller and the edge router are one child process
(``serve_network.py``), the echo servers another (``echo.py``: plain TCP for ssh, the ziti-aio
SDK host for the overlay), ``sshd`` and ``ssh -L`` are OpenSSH processes, the tunnel proxy is a
``ziti-aio tunnel proxy`` process, and the C SDK ends are ``openziti`` child processes. The
ziti-aio SDK dialer and the TCP client of every baseline run in this (bench) process.

Every transfer pushes ``budget.transfer_mib`` MiB through one connection while reading the echo
back; MB/s is those bytes (1 MB = 10^6 bytes) over the time until the last echoed byte arrived.

Baselines (issue 19): the peer a user would pick to reach a service behind a relay, encrypted end to
end, is a bastion, ``ssh -J jump -L``; that is the baseline of ``circuit_mb_s`` and
``tunnel_proxy_mb_s``, with ``ssh -L`` (one hop, one cipher) beside it as ``*_vs_ssh_l``.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import trio

from bench.common import (
    CHILD_START_TIMEOUT_S,
    Context,
    Goal,
    Metric,
    Suite,
    median,
    open_child,
    process_cpu_s,
    progress,
    rss_kib,
)
from bench.floor import GB, floor_s_per_gb, secretstream_s_per_gb, tls_s_per_gb, user_sys
from bench.serve_network import serve_argv
from bench.ssh_tunnel import SshForward, open_ssh_forward
from ziti_aio.sdk import ZitiContext, open_context
from ziti_aio.testing.csdk import csdk_run

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable
    from pathlib import Path

MIB = 1 << 20
MB = 1e6
CHUNK_BYTES = 1 << 16
READ_BYTES = 1 << 18
PARALLEL = 8
DIALS = 200
DIAL_WARMUP = 10
IDLE_WARMUP = 50
CSDK_TIMEOUT_S = 300.0
SERVICE = "bench-echo"
CSDK_SERVICE = "bench-echo-csdk"
SSH = "ssh -L to the same echo server"
SSH_J = "ssh -J (bastion; jump and target one sshd) to the same echo server"
PROXY_LINE = re.compile(rb"on 127\.0\.0\.1:(\d+)")

CIRCUIT = Metric("circuit_mb_s", None, "MB/s", SSH_J, goal=Goal(">=", 1.3))
# ssh -L is one hop and one cipher against our three layers: the one-hop reference, stretch goal (issue 19).
CIRCUIT_L = Metric("circuit_vs_ssh_l", None, "MB/s", SSH, goal=Goal(">=", 0.7))
# Whole-path CPU (dialer + router + host) per GB over the crypto floor (bench/floor.py), same transfer.
FLOOR = Metric("crypto_floor_ratio", None, "CPU s/GB", "crypto floor: 2 secretstream + 4 TLS passes + kernel",
               goal=Goal("<=", 1.3))
ROUTER_CPU = Metric("router_cpu_s_per_gb", None, "CPU s/GB", "ssh + sshd CPU s/GB", goal=Goal("<=", 1.0))
# 8 circuits on 2 busy cores can only share them (issue 19): no collapse, no starvation.
PARALLEL8 = Metric("parallel8_aggregate", None, "MB/s", "one circuit alone, same window", goal=Goal(">=", 0.95))
FAIRNESS = Metric("parallel8_slowest_share", None, "x equal share", "none (the slowest of 8 / their mean)",
                  goal=Goal(">=", 0.8, on="value", unit="x"))
# CPU per GB of each whole path (client, relays, echo end), which a loaded machine disturbs less than MB/s.
PATH_CPU = Metric("circuit_cpu_s_per_gb", None, "CPU s/GB", "ssh -J whole path (ssh, sshd, TCP client, echo server)")
TUNNEL_PROXY = Metric("tunnel_proxy_mb_s", None, "MB/s", SSH_J, goal=Goal(">=", 1.3))
TUNNEL_PROXY_L = Metric("tunnel_proxy_vs_ssh_l", None, "MB/s", SSH, goal=Goal(">=", 0.7))
CSDK = Metric("csdk_mb_s", None, "MB/s", SSH)
DIAL_P50 = Metric("dial_p50_ms", None, "ms", "ssh -L new-connection setup p50", goal=Goal("<=", 2.0))
DIAL_P99 = Metric("dial_p99_ms", None, "ms", "ssh -L new-connection setup p99", goal=Goal("<=", 2.5))
DIAL_J_P50 = Metric("dial_p50_vs_ssh_j", None, "ms", "ssh -J new-connection setup p50")
DIAL_J_P99 = Metric("dial_p99_vs_ssh_j", None, "ms", "ssh -J new-connection setup p99")
IDLE = Metric("idle_circuit_kib", None, "KiB", "none", goal=Goal("<=", 16, on="value", unit="KiB"))

_BLOCK = os.urandom(CHUNK_BYTES)


async def push_echo(stream: trio.abc.HalfCloseableStream, size: int) -> float:
    """Send ``size`` bytes and half-close while reading the echo; seconds until the last byte is back."""
    began = time.perf_counter()

    async def send() -> None:
        block = memoryview(_BLOCK)
        for offset in range(0, size, CHUNK_BYTES):
            await stream.send_all(block[:min(CHUNK_BYTES, size - offset)])
        await stream.send_eof()

    async with stream, trio.open_nursery() as nursery:
        nursery.start_soon(send)
        got = 0
        while got < size:
            data = await stream.receive_some(READ_BYTES)
            if not data:
                raise RuntimeError(f"the echo ended after {got} of {size} bytes")
            got += len(data)
    return time.perf_counter() - began


async def echo_for(stream: trio.abc.HalfCloseableStream, seconds: float) -> int:
    """Push and read the echo for ``seconds``; the bytes echoed back in that time (the stream is then closed)."""
    got = 0

    async def send() -> None:
        block = memoryview(_BLOCK)
        while True:
            await stream.send_all(block)

    with trio.move_on_after(seconds):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(send)
            while data := await stream.receive_some(READ_BYTES):
                got += len(data)
    await trio.aclose_forcefully(stream)
    return got


async def first_echo_s(connect: Callable[[], Awaitable[trio.abc.HalfCloseableStream]]) -> float:
    """Seconds from starting a new connection to the first echoed byte."""
    began = time.perf_counter()
    stream = await connect()
    async with stream:
        await stream.send_all(b"x")
        if await stream.receive_some(1) != b"x":
            raise RuntimeError("no echo on a new connection")
        return time.perf_counter() - began


@dataclass
class Bench:
    """A running bench network: the router process, the echo servers, the ssh forward, the SDK dialer."""

    network: dict[str, Any]
    echo: dict[str, Any]
    ssh: SshForward
    ssh_j: SshForward
    ziti: ZitiContext

    @property
    def router_pid(self) -> int:
        return int(self.network["pid"])

    @property
    def echo_pid(self) -> int:
        return int(self.echo["pid"])

    async def dial(self) -> trio.abc.HalfCloseableStream:
        return await self.ziti.dial(SERVICE)

    async def tcp(self, port: int | None = None) -> trio.abc.HalfCloseableStream:
        return await trio.open_tcp_stream("127.0.0.1", self.ssh.port if port is None else port)


@asynccontextmanager
async def open_bench(ctx: Context, *, ziti_host: bool = True) -> AsyncIterator[Bench]:
    """Network child, echo child (with the SDK host unless ``ziti_host`` is false), ssh -L, SDK dialer."""
    async with open_child(serve_argv(ctx.workdir / "net"), ctx.workdir / "network.log") as network:
        echo_argv = [sys.executable, "-m", "bench.echo"] + ([network["host"], SERVICE] if ziti_host else [])
        async with open_child(echo_argv, ctx.workdir / "echo.log") as echo, \
                open_ssh_forward(ctx.workdir / "ssh", echo["port"]) as ssh, \
                open_context(network["dialer"]) as ziti:
            yield Bench(network, echo, ssh.direct, ssh.jump, ziti)


@asynccontextmanager
async def open_tunnel_proxy(identity: str, log_path: Path) -> AsyncIterator[int]:
    """``ziti-aio tunnel proxy bench-echo:0 -i IDENTITY`` in a child; yields its local port."""
    with open(log_path, "wb") as log:
        proc = await trio.lowlevel.open_process(
            [sys.executable, "-m", "ziti_aio", "tunnel", "proxy", f"{SERVICE}:0", "-i", identity],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log)
    try:
        out = b""
        with trio.fail_after(CHILD_START_TIMEOUT_S):
            while b"ready\n" not in out:
                chunk = await proc.stdout.receive_some(4096)
                if not chunk:
                    raise RuntimeError(f"tunnel proxy did not start: {log_path.read_text()[-2000:]}")
                out += chunk
        found = PROXY_LINE.search(out)
        if found is None:
            raise RuntimeError(f"tunnel proxy printed no port: {out!r}")
        yield int(found[1])
    finally:
        with trio.CancelScope(shield=True):
            proc.terminate()
            await proc.wait()
            await proc.stdout.aclose()


def mb_s(size: int, seconds: float) -> float:
    return size / seconds / MB


def _path_cpu(bench: Bench) -> tuple[float, float]:
    """User + system and system-only CPU seconds of the circuit's three processes (router, host, dialer)."""
    parts = [user_sys(bench.router_pid), user_sys(bench.echo_pid), tuple(os.times()[:2])]
    return sum(u + k for u, k in parts), sum(k for _, k in parts)


def _ssh_path_cpu(bench: Bench, ssh: SshForward) -> float:
    """CPU seconds of an ssh path: ssh (and its -J helper), sshd, this process (the TCP client), the echo server."""
    return ssh.cpu_s() + sum(user_sys(bench.echo_pid)) + sum(os.times()[:2])


async def measure_throughput(ctx: Context) -> list[Metric]:
    size = ctx.budget.transfer_mib * MIB
    ziti_mb_s, ssh_mb_s, ssh_j_mb_s, ziti_cpu, ssh_cpu, proxy_mb_s, proxy_ssh_mb_s, proxy_ssh_j_mb_s = (
        [], [], [], [], [], [], [], [])
    path_cpu, kernel_cpu, ssh_j_path_cpu = [], [], []
    alone_mb_s, par_mb_s, slowest_share = [], [], []
    window_s = ctx.budget.duration_s
    async with open_bench(ctx) as bench, \
            open_tunnel_proxy(bench.network["dialer"], ctx.workdir / "proxy.log") as proxy_port:
        for n in range(ctx.budget.rounds):
            progress(f"data plane round {n + 1}: one circuit, ssh -J, ssh -L, 8 circuits, tunnel proxy")
            stream = await bench.dial()
            cpu, (path, kernel) = process_cpu_s(bench.router_pid), _path_cpu(bench)
            ziti_mb_s.append(mb_s(size, await push_echo(stream, size)))
            ziti_cpu.append((process_cpu_s(bench.router_pid) - cpu) / (2 * size / GB))
            path_after, kernel_after = _path_cpu(bench)
            path_cpu.append((path_after - path) / (size / GB))
            kernel_cpu.append((kernel_after - kernel) / (size / GB))
            stream = await bench.tcp(bench.ssh_j.port)
            cpu_j = _ssh_path_cpu(bench, bench.ssh_j)
            ssh_j_mb_s.append(mb_s(size, await push_echo(stream, size)))
            ssh_j_path_cpu.append((_ssh_path_cpu(bench, bench.ssh_j) - cpu_j) / (size / GB))
            stream = await bench.tcp()
            cpu = bench.ssh.cpu_s()
            ssh_mb_s.append(mb_s(size, await push_echo(stream, size)))
            ssh_cpu.append((bench.ssh.cpu_s() - cpu) / (2 * size / GB))
            alone_mb_s.append(mb_s(await echo_for(await bench.dial(), window_s), window_s))
            streams = [await bench.dial() for _ in range(PARALLEL)]
            echoed = [0] * PARALLEL

            async def one(n: int, stream: trio.abc.HalfCloseableStream, echoed: list[int]) -> None:
                echoed[n] = await echo_for(stream, window_s)

            async with trio.open_nursery() as nursery:
                for n, stream in enumerate(streams):
                    nursery.start_soon(one, n, stream, echoed)
            par_mb_s.append(mb_s(sum(echoed), window_s))
            slowest_share.append(min(echoed) / (sum(echoed) / PARALLEL))
            proxy_mb_s.append(mb_s(size, await push_echo(await bench.tcp(proxy_port), size)))
            proxy_ssh_j_mb_s.append(mb_s(size, await push_echo(await bench.tcp(bench.ssh_j.port), size)))
            proxy_ssh_mb_s.append(mb_s(size, await push_echo(await bench.tcp(), size)))
    progress("crypto floor: secretstream and TLS passes")
    floor = floor_s_per_gb(secretstream_s_per_gb(), tls_s_per_gb(ctx.workdir), median(kernel_cpu))
    one, proxy = median(ziti_mb_s), median(proxy_mb_s)
    return [
        Metric(CIRCUIT.metric, one, CIRCUIT.unit, CIRCUIT.baseline, median(ssh_j_mb_s), CIRCUIT.goal),
        Metric(CIRCUIT_L.metric, one, CIRCUIT_L.unit, CIRCUIT_L.baseline, median(ssh_mb_s), CIRCUIT_L.goal),
        Metric(FLOOR.metric, median(path_cpu), FLOOR.unit, FLOOR.baseline, floor, FLOOR.goal),
        Metric(PATH_CPU.metric, median(path_cpu), PATH_CPU.unit, PATH_CPU.baseline, median(ssh_j_path_cpu)),
        Metric(ROUTER_CPU.metric, median(ziti_cpu), ROUTER_CPU.unit, ROUTER_CPU.baseline, median(ssh_cpu),
               ROUTER_CPU.goal),
        Metric(PARALLEL8.metric, median(par_mb_s), PARALLEL8.unit, PARALLEL8.baseline, median(alone_mb_s),
               PARALLEL8.goal),
        Metric(FAIRNESS.metric, median(slowest_share), FAIRNESS.unit, FAIRNESS.baseline, goal=FAIRNESS.goal),
        Metric(TUNNEL_PROXY.metric, proxy, TUNNEL_PROXY.unit, TUNNEL_PROXY.baseline, median(proxy_ssh_j_mb_s),
               TUNNEL_PROXY.goal),
        Metric(TUNNEL_PROXY_L.metric, proxy, TUNNEL_PROXY_L.unit, TUNNEL_PROXY_L.baseline, median(proxy_ssh_mb_s),
               TUNNEL_PROXY_L.goal),
    ]


CSDK_HOST = """
    ctx = load()
    srv = ctx.bind(os.environ["SERVICE"])
    srv.listen(4)
    for _ in range(int(os.environ["ACCEPT"])):
        conn, _ = srv.accept()
        while data := conn.recv(1 << 18):
            conn.sendall(data)
        conn.shutdown(socket.SHUT_WR)  # zitilib sends nothing on a bare close()
        conn.close()
    while not os.path.exists(os.environ["DONE_FILE"]):
        time.sleep(0.05)
"""

CSDK_DIAL = """
    ctx = load()
    size = int(os.environ["SIZE"])
    deadline = time.monotonic() + 30
    while True:  # the host is another process: its terminator appears when it has bound
        try:
            sock = dial(ctx, os.environ["SERVICE"])
            break
        except ZitiCallError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    block = os.urandom(1 << 16)
    began = time.perf_counter()
    def send():
        for offset in range(0, size, 1 << 16):
            sock.sendall(block[:min(1 << 16, size - offset)])
    sender = threading.Thread(target=send)
    sender.start()
    got = 0
    while got < size:
        data = sock.recv(1 << 18)
        if not data:
            break
        got += len(data)
    elapsed = time.perf_counter() - began
    sender.join()
    sock.shutdown(socket.SHUT_WR)
    sock.close()
    report(bytes=got, seconds=elapsed)
"""


async def measure_csdk(ctx: Context) -> list[Metric]:
    size = ctx.budget.transfer_mib * MIB
    done = ctx.workdir / "csdk.done"
    csdk_mb_s, ssh_mb_s, host = [], [], {}
    async with open_bench(ctx, ziti_host=False) as bench, trio.open_nursery() as nursery:
        async def run_host() -> None:
            host["result"] = await csdk_run(bench.network["host"], CSDK_HOST, log_level=2, timeout_s=CSDK_TIMEOUT_S,
                                            env={"SERVICE": CSDK_SERVICE, "ACCEPT": str(ctx.budget.rounds),
                                                 "DONE_FILE": str(done)})

        nursery.start_soon(run_host)
        try:
            for n in range(ctx.budget.rounds):
                progress(f"C SDK round {n + 1}")
                dialer = await csdk_run(bench.network["dialer"], CSDK_DIAL, log_level=2, timeout_s=CSDK_TIMEOUT_S,
                                        env={"SERVICE": CSDK_SERVICE, "SIZE": str(size)})
                if not dialer.ok or not dialer.reports or dialer.reports[0]["bytes"] != size:
                    raise RuntimeError(f"C SDK dialer: {dialer.describe()[-1500:]}")
                csdk_mb_s.append(mb_s(size, dialer.reports[0]["seconds"]))
                ssh_mb_s.append(mb_s(size, await push_echo(await bench.tcp(), size)))
        finally:
            done.touch()
    return [Metric(CSDK.metric, median(csdk_mb_s), CSDK.unit, CSDK.baseline, median(ssh_mb_s))]


def percentile(samples: list[float], fraction: float) -> float:
    """The ``fraction`` quantile (inclusive method) of ``samples``."""
    return statistics.quantiles(samples, n=100, method="inclusive")[round(fraction * 100) - 1]


async def measure_dial(ctx: Context) -> list[Metric]:
    ziti_s, ssh_s, ssh_j_s = [], [], []
    async with open_bench(ctx) as bench:
        async def jump() -> trio.abc.HalfCloseableStream:
            return await bench.tcp(bench.ssh_j.port)

        for _ in range(DIAL_WARMUP):
            await first_echo_s(bench.dial)
            await first_echo_s(bench.tcp)
            await first_echo_s(jump)
        progress(f"{DIALS} dials each, alternating with ssh -L and ssh -J")
        kinds: list[tuple[Callable[[], Awaitable[trio.abc.HalfCloseableStream]], list[float]]] = [
            (bench.dial, ziti_s), (bench.tcp, ssh_s), (jump, ssh_j_s)]
        for n in range(DIALS):
            # Each kind goes first, second and third in turn: the one after a circuit's close shares the
            # echo process with that circuit's teardown.
            for connect, samples in kinds[n % 3:] + kinds[:n % 3]:
                samples.append(await first_echo_s(connect))
    return [
        Metric(spec.metric, percentile(ziti_s, q) * 1000, spec.unit, spec.baseline, percentile(base, q) * 1000,
               spec.goal)
        for spec, q, base in ((DIAL_P50, 0.5, ssh_s), (DIAL_P99, 0.99, ssh_s),
                              (DIAL_J_P50, 0.5, ssh_j_s), (DIAL_J_P99, 0.99, ssh_j_s))
    ]


async def measure_idle(ctx: Context) -> list[Metric]:
    count = ctx.budget.idle_circuits
    async with open_bench(ctx) as bench:
        for _ in range(IDLE_WARMUP):
            await first_echo_s(bench.dial)
        before = rss_kib(bench.router_pid)
        progress(f"{count} idle circuits")
        streams = []
        try:
            for _ in range(count):
                stream = await bench.dial()
                streams.append(stream)
                await stream.send_all(b"x")
                await stream.receive_some(1)
            after = rss_kib(bench.router_pid)
        finally:
            for stream in streams:
                await stream.aclose()
    baseline = f"router process RSS growth over {before / 1024:.0f} MiB, {count} circuits"
    return [Metric(IDLE.metric, (after - before) / count, IDLE.unit, baseline, None, IDLE.goal)]


THROUGHPUT = Suite((CIRCUIT, CIRCUIT_L, FLOOR, PATH_CPU, ROUTER_CPU, PARALLEL8, FAIRNESS, TUNNEL_PROXY, TUNNEL_PROXY_L),
                   measure_throughput)
CSDK_SUITE = Suite((CSDK,), measure_csdk)
DIAL = Suite((DIAL_P50, DIAL_P99, DIAL_J_P50, DIAL_J_P99), measure_dial)
IDLE_SUITE = Suite((IDLE,), measure_idle)
SUITES = (THROUGHPUT, CSDK_SUITE, DIAL, IDLE_SUITE)
